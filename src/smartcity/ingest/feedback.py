"""Problem records fed back to the providing department (问题数据反馈), until corrected, verified or dismissed.

Each problem record of a batch becomes (or refreshes) one feedback item per record, identified by the entry
version and the record's business key. A later batch of the same entry that carries the record without any
problem closes the item as corrected; the hub then verifies corrections. A department that holds its record
to be right disputes the item with a reason; the hub upholds the dispute (dismissed) or reopens the item.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Select, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.db import utcnow
from smartcity.ingest import service as batches
from smartcity.ingest.messages import problem_message
from smartcity.ingest.models import Batch, FeedbackItem
from smartcity.ingest.permissions import INGEST_RESPOND, INGEST_REVIEW
from smartcity.ingest.ruleset import code_table_titles
from smartcity.ingest.schemas import FeedbackDispute, FeedbackRead, FeedbackReview, ProblemRead
from smartcity.ingest.validate import Evaluation
from smartcity.ingest.vocab import ACTIVE_FEEDBACK, LABELS, FeedbackStatus, Severity
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, NotFound, PermissionDenied
from smartcity.platform.i18n import N_, Message
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, fetch_page

CHUNK = 2000
ACTIVE = tuple(s.value for s in ACTIVE_FEEDBACK)


def _set(session: Session, ids: Sequence[int], **values: object) -> None:
    """Set `values` on the items `ids`, a chunk of ids per statement."""
    for offset in range(0, len(ids), CHUNK):
        session.execute(
            update(FeedbackItem)
            .where(FeedbackItem.id.in_(ids[offset : offset + CHUNK]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def apply_batch(
    session: Session,
    *,
    batch_id: int,
    code: str,
    version: int,
    department_id: int,
    evaluation: Evaluation,
    received: dt.datetime,
    now: dt.datetime,
) -> dict[str, int]:
    """Open or refresh an item per problem record, and close as corrected the items whose record is now clean.

    An item opens, and a correction closes it, on the day the batch's data was received.
    """
    active = {
        key: item_id
        for item_id, key in session.execute(
            select(FeedbackItem.id, FeedbackItem.record_key).where(
                FeedbackItem.entry_code == code,
                FeedbackItem.version == version,
                FeedbackItem.status.in_(ACTIVE),
                FeedbackItem.record_key.is_not(None),
            )
        )
    }
    corrected_ids: list[int] = []
    if active:
        open_keys = pl.Series("k", list(active), dtype=pl.String)
        now_clean = open_keys.filter(open_keys.is_in(evaluation.clean_keys.implode()))
        corrected_ids = [active[k] for k in now_clean.to_list()]
    if evaluation.clean_answers:
        # Rows of a corrected download name the item they answer; the key itself may have been the error.
        answered = session.scalars(
            select(FeedbackItem.id).where(
                FeedbackItem.id.in_(evaluation.clean_answers),
                FeedbackItem.entry_code == code,
                FeedbackItem.version == version,
                FeedbackItem.status.in_(ACTIVE),
            )
        ).all()
        corrected_ids = sorted(set(corrected_ids) | set(answered))
    _set(
        session,
        corrected_ids,
        status=FeedbackStatus.CORRECTED.value,
        corrected_batch_id=batch_id,
        closed_at=received,
        updated_at=now,
        handled_by=f"batch #{batch_id}",
    )
    refreshed: list[dict[str, Any]] = []
    created: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in evaluation.problem_rows:
        if row.key is not None and row.key in active and row.key not in seen:
            seen.add(row.key)
            refreshed.append(
                {
                    "item_id": active[row.key],
                    "new_batch": batch_id,
                    "new_row": row.row,
                    "new_values": row.values,
                    "new_problems": row.problems,
                    "new_time": now,
                }
            )
            continue
        created.append(
            {
                "entry_code": code,
                "version": version,
                "department_id": department_id,
                "record_key": row.key,
                "status": FeedbackStatus.OPEN.value,
                "first_batch_id": batch_id,
                "last_batch_id": batch_id,
                "row_number": row.row,
                "values": row.values,
                "problems": row.problems,
                "dispute_reason": "",
                "resolution_note": "",
                "created_at": received,
                "updated_at": now,
            }
        )
    if refreshed:
        table = FeedbackItem.__table__
        assert isinstance(table, Table)
        statement = (
            update(table)
            .where(table.c.id == bindparam("item_id"))
            .values(
                last_batch_id=bindparam("new_batch"),
                row_number=bindparam("new_row"),
                values=bindparam("new_values"),
                problems=bindparam("new_problems"),
                updated_at=bindparam("new_time"),
            )
        )
        for offset in range(0, len(refreshed), CHUNK):
            session.execute(statement, refreshed[offset : offset + CHUNK])
    for offset in range(0, len(created), CHUNK):
        session.execute(insert(FeedbackItem), created[offset : offset + CHUNK])
    return {"opened": len(created), "refreshed": len(refreshed), "corrected": len(corrected_ids)}


# --- reading -------------------------------------------------------------------------------------------------


def readable(principal: Principal) -> Select[FeedbackItem]:
    """Items the caller may see."""
    return batches.visible(principal, select(FeedbackItem), FeedbackItem.department_id)


@dataclass(frozen=True)
class FeedbackFilter:
    status: FeedbackStatus | None = None
    active_only: bool = False
    entry_code: str | None = None
    department: str | None = None
    batch_id: int | None = None


def list_items(
    session: Session, *, by: Principal, flt: FeedbackFilter, params: PageParams
) -> tuple[list[FeedbackItem], int]:
    """A page of feedback items, oldest open first."""
    stmt = readable(by)
    if flt.status:
        stmt = stmt.where(FeedbackItem.status == flt.status.value)
    elif flt.active_only:
        stmt = stmt.where(FeedbackItem.status.in_(ACTIVE))
    if flt.entry_code:
        stmt = stmt.where(FeedbackItem.entry_code == flt.entry_code)
    if flt.department:
        stmt = stmt.where(FeedbackItem.department_id == identity.department_by_code(session, flt.department).id)
    if flt.batch_id:
        stmt = stmt.where(FeedbackItem.last_batch_id == flt.batch_id)
    return fetch_page(session, stmt.order_by(FeedbackItem.created_at, FeedbackItem.id), params)


def get_item(session: Session, *, by: Principal, item_id: int) -> FeedbackItem:
    """One item the caller may see, or NotFound."""
    item = session.scalars(readable(by).where(FeedbackItem.id == item_id)).one_or_none()
    if item is None:
        raise NotFound(N_("No feedback item {id}."), id=item_id)
    return item


@dataclass
class MessageContext:
    """What turning a batch's problem codes into sentences needs (from the batch's report snapshot)."""

    titles: dict[str, str]
    rules: dict[int, dict[str, Any]]
    keys: list[str]
    code_table_titles: dict[str, str]


def _context(report: dict[str, Any] | None, table_titles: dict[str, str]) -> MessageContext:
    report = report or {}
    return MessageContext(
        titles=dict(report.get("titles", {})),
        rules={int(k): v for k, v in report.get("rules", {}).items()},
        keys=list(report.get("keys", [])),
        code_table_titles=table_titles,
    )


def message_context(session: Session, batch_ids: Sequence[int]) -> dict[int, MessageContext]:
    """The message context of each batch in `batch_ids`."""
    titles = code_table_titles(session)
    stmt = select(Batch.id, Batch.report).where(Batch.id.in_(set(batch_ids)))
    return {batch_id: _context(report, titles) for batch_id, report in session.execute(stmt)}


def batch_context(session: Session, batch: Batch) -> MessageContext:
    """The message context of a batch already at hand."""
    return _context(batch.report, code_table_titles(session))


def problems_read(problems: Sequence[dict[str, Any]], context: MessageContext | None, locale: str) -> list[ProblemRead]:
    """Stored problem codes as sentences."""
    ctx = context or MessageContext({}, {}, [], {})
    return [
        ProblemRead(
            field=p["field"],
            kind=p["kind"],
            detail=p["detail"],
            severity=Severity(p["severity"]),
            rule_id=p.get("rule_id"),
            message=problem_message(
                p,
                titles=ctx.titles,
                rules=ctx.rules,
                keys=ctx.keys,
                code_table_titles=ctx.code_table_titles,
                locale=locale,
            ),
        )
        for p in problems
    ]


def item_reads(session: Session, items: Sequence[FeedbackItem], locale: str) -> list[FeedbackRead]:
    """The API view of items."""
    contexts = message_context(session, [i.last_batch_id for i in items])
    departments = catalog.department_refs(session, {i.department_id for i in items})
    return [
        FeedbackRead(
            id=i.id,
            entry_code=i.entry_code,
            version=i.version,
            department=departments[i.department_id],
            record_key=i.record_key,
            status=FeedbackStatus(i.status),
            row=i.row_number,
            values=dict(i.values),
            problems=problems_read(i.problems, contexts.get(i.last_batch_id), locale),
            first_batch_id=i.first_batch_id,
            last_batch_id=i.last_batch_id,
            corrected_batch_id=i.corrected_batch_id,
            dispute_reason=i.dispute_reason,
            resolution_note=i.resolution_note,
            handled_by=i.handled_by,
            created_at=i.created_at,
            updated_at=i.updated_at,
            closed_at=i.closed_at,
        )
        for i in items
    ]


def counts(session: Session, *, by: Principal) -> dict[str, int]:
    """Items per status that the caller can see."""
    stmt = readable(by).with_only_columns(FeedbackItem.status, func.count()).group_by(FeedbackItem.status)
    return {status: n for status, n in session.execute(stmt).all()}


# --- transitions ---------------------------------------------------------------------------------------------


def _transition(
    session: Session,
    *,
    by: Principal,
    item: FeedbackItem,
    allowed_from: tuple[FeedbackStatus, ...],
    to: FeedbackStatus,
    action: str,
    note: str = "",
) -> FeedbackItem:
    if FeedbackStatus(item.status) not in allowed_from:
        raise Conflict(
            N_("Feedback item {id} is {status}; this step needs it to be {allowed}."),
            field="status",
            id=item.id,
            status=Message(LABELS["feedback"][FeedbackStatus(item.status)]),
            allowed=Message(LABELS["feedback"][allowed_from[0]]),
        )
    now = utcnow()
    previous = item.status
    item.status = to.value
    item.updated_at = now
    item.handled_by = by.username
    item.closed_at = now if to in (FeedbackStatus.VERIFIED, FeedbackStatus.DISMISSED) else None
    if to is FeedbackStatus.DISPUTED:
        item.dispute_reason = note
    elif note:
        item.resolution_note = note
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action=action,
        target_type="ingest_feedback",
        target_id=item.id,
        detail={"entry": item.entry_code, "key": item.record_key, "from": previous, "to": to.value, "note": note},
    )
    return item


def dispute(session: Session, *, by: Principal, item_id: int, data: FeedbackDispute) -> FeedbackItem:
    """The providing department holds the record to be right, and says why."""
    by.require(INGEST_RESPOND)
    item = get_item(session, by=by, item_id=item_id)
    if not batches.owns(by, item.department_id):
        raise PermissionDenied(N_("Only the providing department can dispute its feedback items."))
    return _transition(
        session,
        by=by,
        item=item,
        allowed_from=(FeedbackStatus.OPEN,),
        to=FeedbackStatus.DISPUTED,
        action="ingest.feedback.dispute",
        note=data.reason,
    )


class Decision(enum.StrEnum):
    """The hub's review of an item: verify a correction, uphold a dispute (dismiss), reject it (reopen)."""

    VERIFY = "verify"
    DISMISS = "dismiss"
    REOPEN = "reopen"


# decision → (the status it applies to, the status it leads to)
DECISIONS = {
    Decision.VERIFY: (FeedbackStatus.CORRECTED, FeedbackStatus.VERIFIED),
    Decision.DISMISS: (FeedbackStatus.DISPUTED, FeedbackStatus.DISMISSED),
    Decision.REOPEN: (FeedbackStatus.DISPUTED, FeedbackStatus.OPEN),
}


def review(session: Session, *, by: Principal, item_id: int, decision: Decision, data: FeedbackReview) -> FeedbackItem:
    """The hub's decision on an item, with its note."""
    by.require(INGEST_REVIEW)
    allowed, to = DECISIONS[decision]
    return _transition(
        session,
        by=by,
        item=get_item(session, by=by, item_id=item_id),
        allowed_from=(allowed,),
        to=to,
        action=f"ingest.feedback.{decision.value}",
        note=data.note,
    )


def verify_all_corrected(session: Session, *, by: Principal, department: str | None = None) -> int:
    """Verify every corrected item the caller can see (optionally of one department)."""
    by.require(INGEST_REVIEW)
    stmt = readable(by).where(FeedbackItem.status == FeedbackStatus.CORRECTED.value)
    if department:
        stmt = stmt.where(FeedbackItem.department_id == identity.department_by_code(session, department).id)
    ids = list(session.scalars(stmt.with_only_columns(FeedbackItem.id)))
    now = utcnow()
    _set(session, ids, status=FeedbackStatus.VERIFIED.value, closed_at=now, updated_at=now, handled_by=by.username)
    if ids:
        audit.record(
            session,
            actor=by.actor(),
            action="ingest.feedback.verify_all",
            target_type="ingest_feedback",
            detail={"items": len(ids), "department": department},
        )
    return len(ids)
