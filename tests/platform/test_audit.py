"""The audit log: appended in the same transaction, hash-chained, tampering detected and named."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from smartcity.cli import app as cli
from smartcity.platform.audit import service as audit
from smartcity.platform.audit.models import AuditEntry
from smartcity.platform.permissions import Role
from tests.factories import make_department, make_user


def write_entries(db: Session, n: int) -> None:
    actor = audit.Actor(label="tester", user_id=None, department_id=None, ip="10.0.0.1")
    for i in range(n):
        audit.record(
            db,
            actor=actor,
            action="data.read",
            target_type="catalog_entry",
            target_id=f"E{i}",
            detail={"rows": i, "purpose": "核查"},
        )


def disable_append_only(db: Session, dialect: str) -> None:
    """What an intruder with database rights does first (undone by the test's rollback)."""
    if dialect == "postgresql":
        db.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
    else:
        db.execute(text("DROP TRIGGER audit_entry_no_update"))
        db.execute(text("DROP TRIGGER audit_entry_no_delete"))


def test_chain_verifies_when_untouched(db: Session) -> None:
    write_entries(db, 5)
    result = audit.verify(db)
    assert result.ok and result.checked >= 5


def test_database_refuses_updates_and_deletes(db: Session) -> None:
    write_entries(db, 1)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE audit_entry SET actor = 'x'"))
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM audit_entry"))


def test_altered_row_is_named(db: Session, dialect: str) -> None:
    write_entries(db, 6)
    target = db.scalar(select(func.min(AuditEntry.seq))) + 3
    disable_append_only(db, dialect)
    db.execute(text("UPDATE audit_entry SET target_id = 'forged' WHERE seq = :s"), {"s": target})
    db.expire_all()
    result = audit.verify(db)
    assert (result.ok, result.first_broken_seq) == (False, target)
    assert "altered" in (result.reason or "")


def test_deleted_row_is_named(db: Session, dialect: str) -> None:
    write_entries(db, 6)
    target = db.scalar(select(func.min(AuditEntry.seq))) + 2
    disable_append_only(db, dialect)
    db.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": target})
    db.expire_all()
    result = audit.verify(db)
    assert (result.ok, result.first_broken_seq) == (False, target)
    assert "missing" in (result.reason or "")


def test_deleted_tail_is_detected(db: Session, dialect: str) -> None:
    write_entries(db, 4)
    last = db.scalar(select(func.max(AuditEntry.seq)))
    disable_append_only(db, dialect)
    db.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": last})
    db.expire_all()
    result = audit.verify(db)
    assert (result.ok, result.first_broken_seq) == (False, last)


def test_rewritten_hash_breaks_the_next_link(db: Session, dialect: str) -> None:
    write_entries(db, 5)
    first = db.scalar(select(func.min(AuditEntry.seq)))
    disable_append_only(db, dialect)
    # Forge content AND recompute its own hash: the next entry's link still exposes it.
    entry = db.get(AuditEntry, first + 1)
    assert entry is not None
    forged_hash = audit.entry_digest(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor="someone-else",
        actor_user_id=entry.actor_user_id,
        department_id=entry.department_id,
        action=entry.action,
        outcome=entry.outcome,
        target_type=entry.target_type,
        target_id=entry.target_id,
        ip=entry.ip,
        detail=entry.detail,
        prev_hash=entry.prev_hash,
    )
    db.execute(
        text("UPDATE audit_entry SET actor = 'someone-else', hash = :h WHERE seq = :s"),
        {"h": forged_hash, "s": first + 1},
    )
    db.expire_all()
    result = audit.verify(db)
    assert (result.ok, result.first_broken_seq) == (False, first + 2)


def test_cli_verify_names_the_broken_entry(db: Session, dialect: str) -> None:
    write_entries(db, 3)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    target = db.scalar(select(func.max(AuditEntry.seq))) - 1
    disable_append_only(db, dialect)
    db.execute(text("UPDATE audit_entry SET outcome = 'denied' WHERE seq = :s"), {"s": target})
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"BROKEN at entry {target}" in broken.output


def test_a_rolled_back_change_leaves_no_audit_row(db: Session) -> None:
    make_department(db)
    before = db.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(RuntimeError), db.begin_nested():
        make_user(db, "short_lived", Role.DEPT_STAFF, "GAJ")
        raise RuntimeError("the request failed after the change")
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert audit.verify(db).ok
