"""Data collection: batches, quarantine, feedback, rules, mappings, entry tables, pulls, code tables;
the job queue; retirement of catalogue schema versions.

Revision ID: 20261123_0003
Revises: 20261123_0002
Create Date: 2026-11-23 13:13:33.518868
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smartcity.db


revision = "20261123_0003"
down_revision = "20261123_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_code_table",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_code_table")),
        sa.UniqueConstraint("name", name=op.f("uq_ingest_code_table_name")),
    )
    op.create_table(
        "ingest_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_code", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rule")),
    )
    with op.batch_alter_table("ingest_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_rule_entry_code"), ["entry_code"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_dedupe_key"), ["dedupe_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_run_after"), ["run_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_status"), ["status"], unique=False)

    op.create_table(
        "ingest_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("pull_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_path", sa.String(length=500), nullable=False),
        sa.Column("file_format", sa.String(length=16), nullable=True),
        sa.Column("encoding", sa.String(length=16), nullable=True),
        sa.Column("separator", sa.String(length=1), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_warned", sa.Integer(), nullable=False),
        sa.Column("rows_inserted", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("heartbeat_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_ingest_batch_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batch")),
    )
    with op.batch_alter_table("ingest_batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_batch_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_entry_code"), ["entry_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_file_hash"), ["file_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_finished_at"), ["finished_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_idempotency_key"), ["idempotency_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_pull_id"), ["pull_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_batch_status"), ["status"], unique=False)

    op.create_table(
        "ingest_entry_table",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("row_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_ingest_entry_table_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_entry_table")),
        sa.UniqueConstraint("entry_code", "version", name=op.f("uq_ingest_entry_table_entry_code")),
        sa.UniqueConstraint("table_name", name=op.f("uq_ingest_entry_table_table_name")),
    )
    with op.batch_alter_table("ingest_entry_table", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_entry_table_department_id"), ["department_id"], unique=False)

    op.create_table(
        "ingest_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("entry_code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_ingest_mapping_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_mapping")),
        sa.UniqueConstraint("department_id", "entry_code", "version", name=op.f("uq_ingest_mapping_department_id")),
    )
    op.create_table(
        "ingest_pull",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("entry_code", sa.String(length=40), nullable=False),
        sa.Column("url_sealed", sa.Text(), nullable=False),
        sa.Column("url_display", sa.String(length=300), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("every_minutes", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_batch_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_ingest_pull_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_pull")),
        sa.UniqueConstraint("name", name=op.f("uq_ingest_pull_name")),
    )
    with op.batch_alter_table("ingest_pull", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_pull_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_pull_entry_code"), ["entry_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_pull_next_run_at"), ["next_run_at"], unique=False)

    op.create_table(
        "ingest_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("record_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_batch_id", sa.Integer(), nullable=False),
        sa.Column("last_batch_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("dispute_reason", sa.Text(), nullable=False),
        sa.Column("resolution_note", sa.Text(), nullable=False),
        sa.Column("corrected_batch_id", sa.Integer(), nullable=True),
        sa.Column("handled_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smartcity.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", smartcity.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_ingest_feedback_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["first_batch_id"], ["ingest_batch.id"], name=op.f("fk_ingest_feedback_first_batch_id_ingest_batch")
        ),
        sa.ForeignKeyConstraint(
            ["last_batch_id"], ["ingest_batch.id"], name=op.f("fk_ingest_feedback_last_batch_id_ingest_batch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_feedback")),
    )
    with op.batch_alter_table("ingest_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_feedback_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_feedback_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_feedback_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_feedback_entry_code"), ["entry_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_feedback_last_batch_id"), ["last_batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_feedback_record_key"), ["record_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_feedback_status"), ["status"], unique=False)

    op.create_table(
        "ingest_rejected_row",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("record_key", sa.String(length=300), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name=op.f("fk_ingest_rejected_row_batch_id_ingest_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejected_row")),
    )
    with op.batch_alter_table("ingest_rejected_row", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_rejected_row_batch_id"), ["batch_id"], unique=False)

    with op.batch_alter_table("catalog_entry_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", smartcity.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retired_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("retire_note", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # The entries' data tables were created by batches, not by this migration; they go with it.
    for (name,) in op.get_bind().execute(sa.text("SELECT table_name FROM ingest_entry_table")).all():
        op.execute(f'DROP TABLE IF EXISTS "{name}"')
    with op.batch_alter_table("catalog_entry_version", schema=None) as batch_op:
        batch_op.drop_column("retire_note")
        batch_op.drop_column("retired_by")
        batch_op.drop_column("retired_at")

    with op.batch_alter_table("ingest_rejected_row", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_rejected_row_batch_id"))

    op.drop_table("ingest_rejected_row")
    with op.batch_alter_table("ingest_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_status"))
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_record_key"))
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_last_batch_id"))
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_entry_code"))
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_department_id"))
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_created_at"))
        batch_op.drop_index(batch_op.f("ix_ingest_feedback_closed_at"))

    op.drop_table("ingest_feedback")
    with op.batch_alter_table("ingest_pull", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_pull_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_ingest_pull_entry_code"))
        batch_op.drop_index(batch_op.f("ix_ingest_pull_department_id"))

    op.drop_table("ingest_pull")
    op.drop_table("ingest_mapping")
    with op.batch_alter_table("ingest_entry_table", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_entry_table_department_id"))

    op.drop_table("ingest_entry_table")
    with op.batch_alter_table("ingest_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_batch_status"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_received_at"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_pull_id"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_idempotency_key"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_finished_at"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_file_hash"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_entry_code"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_department_id"))
        batch_op.drop_index(batch_op.f("ix_ingest_batch_created_at"))

    op.drop_table("ingest_batch")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_status"))
        batch_op.drop_index(batch_op.f("ix_job_run_after"))
        batch_op.drop_index(batch_op.f("ix_job_kind"))
        batch_op.drop_index(batch_op.f("ix_job_dedupe_key"))

    op.drop_table("job")
    with op.batch_alter_table("ingest_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_rule_entry_code"))

    op.drop_table("ingest_rule")
    op.drop_table("ingest_code_table")
