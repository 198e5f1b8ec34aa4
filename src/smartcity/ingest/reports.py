"""Reading what batches produced: quality reports, quarantined rows (also as CSV for correction), mappings."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.ingest import mapping as mapper
from smartcity.ingest import ruleset
from smartcity.ingest import service as batches
from smartcity.ingest.feedback import batch_context, problems_read
from smartcity.ingest.files import data_root
from smartcity.ingest.formats.detect import FileProblem
from smartcity.ingest.formats.read import preview
from smartcity.ingest.messages import detail_label
from smartcity.ingest.models import Batch, FeedbackItem, RejectedRow
from smartcity.ingest.schemas import (
    FieldCount,
    MappingRead,
    ProblemRowRead,
    QualityReport,
    RuleCount,
    RuleIn,
)
from smartcity.ingest.vocab import BatchStatus, Severity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, fetch_page


def field_titles(batch: Batch) -> dict[str, str]:
    """The titles of the fields as they were when the batch was checked."""
    return dict((batch.report or {}).get("titles", {}))


def quality_report(session: Session, *, by: Principal, batch_id: int, locale: str) -> QualityReport:
    """A batch's quality report in the reader's language."""
    batch = batches.get_batch(session, by=by, batch_id=batch_id)
    report = batch.report or {}
    titles = field_titles(batch)
    context = batch_context(session, batch)
    return QualityReport(
        batch_id=batch.id,
        entry_code=batch.entry_code,
        version=batch.version,
        status=BatchStatus(batch.status),
        score=batch.score,
        rows=batches.row_counts(batch),
        by_rule=[
            RuleCount(
                field=c["field"],
                title=titles.get(c["field"], c["field"]),
                kind=c["kind"],
                detail=c["detail"],
                label=detail_label(c["kind"], c["detail"], locale),
                severity=Severity(c["severity"]),
                rule_id=c.get("rule_id"),
                rows=c["rows"],
            )
            for c in report.get("counts", [])
        ],
        by_field=[
            FieldCount(field=f["field"], title=titles.get(f["field"], f["field"]), rows=f["rows"])
            for f in report.get("by_field", [])
        ],
        sample=[
            ProblemRowRead(
                row=s["row"], key=s["key"], values=s["values"], problems=problems_read(s["problems"], context, locale)
            )
            for s in report.get("sample", [])
        ],
        skipped_rules=report.get("skipped_rules", []),
        comparisons=report.get("comparisons", []),
        titles=titles,
    )


def rejected_rows(
    session: Session, *, by: Principal, batch_id: int, params: PageParams, locale: str
) -> tuple[list[ProblemRowRead], int]:
    """A page of the batch's quarantined rows, in file order."""
    batch = batches.get_batch(session, by=by, batch_id=batch_id)
    rows, total = fetch_page(
        session, select(RejectedRow).where(RejectedRow.batch_id == batch.id).order_by(RejectedRow.row_number), params
    )
    context = batch_context(session, batch)
    return [
        ProblemRowRead(
            row=r.row_number, key=r.record_key, values=r.values, problems=problems_read(r.problems, context, locale)
        )
        for r in rows
    ], total


def rejected_csv(session: Session, *, by: Principal, batch_id: int, locale: str) -> tuple[str, Iterator[str]]:
    """The quarantined rows with the file's own headers, their row numbers and problems (re-uploadable)."""
    batch = batches.get_batch(session, by=by, batch_id=batch_id)
    mapped = [(h, f) for h, f in (batch.mapping or {}).items() if f is not None]
    context = batch_context(session, batch)
    rows = list(
        session.scalars(select(RejectedRow).where(RejectedRow.batch_id == batch.id).order_by(RejectedRow.row_number))
    )
    items = dict(
        session.execute(
            select(FeedbackItem.row_number, FeedbackItem.id).where(FeedbackItem.last_batch_id == batch.id)
        ).all()
    )

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow([h for h, _ in mapped] + [mapper.ROW_COLUMN, mapper.FEEDBACK_COLUMN, mapper.PROBLEMS_COLUMN])
        for row in rows:
            problems = "；".join(p.message for p in problems_read(row.problems, context, locale))
            answered = items.get(row.row_number, "")
            writer.writerow([row.values.get(f) or "" for _, f in mapped] + [row.row_number, answered, problems])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stem = batch.filename.rsplit(".", 1)[0]
    return f"rejected-{batch.id}-{stem}.csv", lines()


def mapping_read(session: Session, *, by: Principal, batch_id: int) -> MappingRead:
    """The mapping step of a batch, with the first values of each column to choose by."""
    batch = batches.get_batch(session, by=by, batch_id=batch_id)
    ev = batches.entry_version(session, by=by, code=batch.entry_code, version=batch.version)
    samples: dict[str, list[str | None]] = {}
    path = data_root() / batch.file_path
    if path.exists():
        try:
            head = preview(path, batches.detected_of(batch), batch.filename)
            samples = {h: head.frame.get_column(h).to_list() for h in head.headers}
        except FileProblem:
            samples = {}
    return batches.mapping_view(session, batch, ev, samples)


def saved_mapping(session: Session, *, by: Principal, code: str) -> dict[str, str | None]:
    """The mapping saved for the entry's current version by its providing department."""
    ev = batches.entry_version(session, by=by, code=code)
    return batches.saved_mapping(session, ev.department_id, ev.code, ev.version) or {}


def put_saved_mapping(
    session: Session, *, by: Principal, code: str, columns: dict[str, str | None]
) -> dict[str, str | None]:
    """Save header → field choices for the entry's current version (fields must exist)."""
    ev = batches.entry_version(session, by=by, code=code)
    batches.require_rules(by, ev)
    batches.check_targets(columns, ev, field="columns.{header}")
    return batches.save_mapping(
        session, by=by, department_id=ev.department_id, code=ev.code, version=ev.version, columns=columns
    )


def suggestions(session: Session, *, by: Principal, code: str) -> list[RuleIn]:
    """Rules the entry's schema calls for that it does not have yet."""
    ev = batches.entry_version(session, by=by, code=code)
    return ruleset.suggest_rules(ev.fields, ruleset.entry_rules(session, code))
