"""Writing to and verifying the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from smartcity.db import utcnow, write_beside, writes_in_place
from smartcity.platform.audit.models import AuditEntry, AuditHead
from smartcity.platform.errors import InvalidInput
from smartcity.platform.i18n import N_
from smartcity.platform.paging import PageParams, fetch_page

GENESIS_HASH = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who did it, as the audit log records them."""

    label: str
    user_id: int | None = None
    department_id: int | None = None
    ip: str | None = None


SYSTEM = Actor(label="system")


def entry_digest(
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    actor_user_id: int | None,
    department_id: int | None,
    action: str,
    outcome: str,
    target_type: str | None,
    target_id: str | None,
    ip: str | None,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of an entry's content and the previous hash."""
    content = {
        "seq": seq,
        "occurred_at": occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "actor_user_id": actor_user_id,
        "department_id": department_id,
        "action": action,
        "outcome": outcome,
        "target_type": target_type,
        "target_id": target_id,
        "ip": ip,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _digest_of(entry: AuditEntry) -> str:
    return entry_digest(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
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


_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
_INSERT_ENTRY = insert(AuditEntry)
_INSERT_HEAD = insert(AuditHead)
_MOVE_HEAD = update(AuditHead).where(AuditHead.id == HEAD_ID)


def _content(
    *,
    actor: Actor,
    action: str,
    target_type: str | None,
    target_id: str | int | None,
    outcome: str,
    detail: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An entry's content before its place in the chain (seq, time, previous hash) is known."""
    return {
        "actor": actor.label,
        "actor_user_id": actor.user_id,
        "department_id": actor.department_id,
        "action": action,
        "outcome": outcome,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "ip": actor.ip,
        # Round-trip through JSON so the stored detail hashes the same when read back.
        "detail": json.loads(json.dumps(dict(detail or {}), ensure_ascii=False, default=str)),
    }


def _append(session: Session, contents: list[dict[str, Any]]) -> None:
    """Chain `contents` after the head in the session's transaction: the head is read locked and moved once.

    The entries and the head are written as plain statements on the session's connection (no objects, no flush of
    their own): every audited read writes one, so this is on the data service's hot path."""
    session.flush()  # the change they record is written first, as the session would before any query
    connection = session.connection()
    head = connection.execute(_HEAD).first()
    seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    now = utcnow()
    rows = []
    for content in contents:
        seq += 1
        chained = {**content, "seq": seq, "occurred_at": now, "prev_hash": prev_hash}
        prev_hash = entry_digest(**chained)
        rows.append({**chained, "hash": prev_hash})
    connection.execute(_INSERT_ENTRY, rows)
    if head is None:
        connection.execute(_INSERT_HEAD, {"id": HEAD_ID, "seq": seq, "hash": prev_hash})
    else:
        connection.execute(_MOVE_HEAD, {"seq": seq, "hash": prev_hash})


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    outcome: str = "success",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction; it commits or rolls back with the change it records."""
    content = _content(
        actor=actor, action=action, target_type=target_type, target_id=target_id, outcome=outcome, detail=detail
    )
    _append(session, [content])


class AuditWriteFailed(RuntimeError):
    """The group commit that carried a read's entry failed, so the read is refused."""


@dataclass
class _Owed:
    content: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


class _ReadJournal:
    """Group commit of the entries reads owe.

    Each read waits until its entry is committed before it answers. The entries of reads that arrive while one
    commit is under way queue up, and the first of them, once that commit ends, writes them all in one
    transaction: one lock of the chain's head, one insert, one move of the head and one commit for many reads,
    where each read alone would take the head lock (the lock every audited write queues on) for all of them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._queue: list[_Owed] = []
        self._writing = False

    def append(self, session: Session, owed: _Owed) -> None:
        with self._changed:
            self._queue.append(owed)
            while self._writing and not owed.done:
                self._changed.wait()
            if owed.done:  # another read's commit carried it
                if owed.error is not None:
                    raise AuditWriteFailed("the audit entry of this read could not be written") from owed.error
                return
            batch, self._queue = self._queue, []
            self._writing = True
        error: BaseException | None = None
        try:
            write_beside(session, lambda writer: _append(writer, [item.content for item in batch]))
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._changed:
                for item in batch:
                    item.done, item.error = True, error
                self._writing = False
                self._changed.notify_all()


_READS = _ReadJournal()


def record_read(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append the entry a read owes and return once it is committed, beside the reading session
    (db.write_beside) so the read holds no lock on the audit chain while it builds its answer. Concurrent reads of
    one process share one commit (_ReadJournal). A session that writes anyway records it in its own transaction."""
    content = _content(
        actor=actor, action=action, target_type=target_type, target_id=target_id, outcome="success", detail=detail
    )
    if writes_in_place(session):
        _append(session, [content])
        return
    _READS.append(session, _Owed(content))


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch_size: int = 5000) -> Verification:
    """Walk the whole chain; report the first entry whose content, link or position is wrong."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    for entry in session.scalars(stmt):
        if entry.seq != expected_seq:
            return Verification(False, checked, expected_seq, f"entry {expected_seq} is missing (deleted)")
        if entry.prev_hash != prev_hash:
            return Verification(False, checked, entry.seq, "link to the previous entry does not match")
        if _digest_of(entry) != entry.hash:
            return Verification(False, checked, entry.seq, "content does not match its hash (altered)")
        prev_hash = entry.hash
        expected_seq += 1
        checked += 1
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).first()
    head_seq = head.seq if head else 0
    if head_seq != checked or (head is not None and head.hash != prev_hash):
        if head_seq > checked:
            return Verification(False, checked, checked + 1, f"entries {checked + 1}..{head_seq} are missing")
        return Verification(False, checked, head_seq or None, "chain head does not match the last entry")
    return Verification(True, checked)


@dataclass(frozen=True)
class AuditFilter:
    """Which entries a reader wants."""

    action: str | None = None
    actor: str | None = None
    department_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _filtered(flt: AuditFilter) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if flt.action:
        stmt = stmt.where(AuditEntry.action.startswith(flt.action, autoescape=True))
    if flt.actor:
        stmt = stmt.where(AuditEntry.actor == flt.actor)
    if flt.department_id is not None:
        stmt = stmt.where(AuditEntry.department_id == flt.department_id)
    if flt.since and flt.until and flt.since > flt.until:
        raise InvalidInput(N_("'since' must not be later than 'until'"), field="since")
    if flt.since:
        stmt = stmt.where(AuditEntry.occurred_at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEntry.occurred_at <= flt.until)
    return stmt.order_by(AuditEntry.seq.desc())


def list_entries(session: Session, *, flt: AuditFilter, params: PageParams) -> tuple[list[AuditEntry], int]:
    """A page of entries, newest first."""
    return fetch_page(session, _filtered(flt), params)
