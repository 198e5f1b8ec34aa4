"""The quality dashboard: per department, records held, problem rate and open feedback, and the trend by day."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.ingest import service as batches
from smartcity.ingest.models import Batch, EntryTable, FeedbackItem
from smartcity.ingest.schemas import DepartmentQuality, QualityOverview, QualitySeries
from smartcity.ingest.vocab import ACTIVE_FEEDBACK, BatchStatus, FeedbackStatus
from smartcity.platform.errors import InvalidInput
from smartcity.platform.i18n import N_
from smartcity.platform.identity.principal import Principal

MAX_DAYS = 366


def overview(session: Session, *, by: Principal, days: int = 90, today: dt.date | None = None) -> QualityOverview:
    """Each visible department's figures over the last `days` days, and the daily series."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(N_("'days' must be between 1 and {max}."), field="days", max=MAX_DAYS)
    zone = ZoneInfo(get_settings().timezone)
    today = today or utcnow().astimezone(zone).date()
    since_day = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(since_day, dt.time.min, tzinfo=zone)
    held = {
        dept: (n, held_rows or 0)
        for dept, n, held_rows in session.execute(
            batches.visible(
                by,
                select(EntryTable.department_id, func.count(EntryTable.id), func.sum(EntryTable.row_count)).group_by(
                    EntryTable.department_id
                ),
                EntryTable.department_id,
            )
        ).all()
    }
    totals = {
        dept: (n, received or 0, rejected or 0, warned or 0)
        for dept, n, received, rejected, warned in session.execute(
            batches.visible(
                by,
                select(
                    Batch.department_id,
                    func.count(Batch.id),
                    func.sum(Batch.rows_total),
                    func.sum(Batch.rows_rejected),
                    func.sum(Batch.rows_warned),
                )
                .where(Batch.status == BatchStatus.COMMITTED.value, Batch.received_at >= since)
                .group_by(Batch.department_id),
                Batch.department_id,
            )
        ).all()
    }
    feedback_counts: dict[tuple[int, str], int] = {
        (dept, status): n
        for dept, status, n in session.execute(
            batches.visible(
                by,
                select(FeedbackItem.department_id, FeedbackItem.status, func.count(FeedbackItem.id))
                .where(FeedbackItem.status.in_([s.value for s in ACTIVE_FEEDBACK]))
                .group_by(FeedbackItem.department_id, FeedbackItem.status),
                FeedbackItem.department_id,
            )
        ).all()
    }
    department_ids = set(held) | set(totals) | {d for d, _ in feedback_counts}
    refs = catalog.department_refs(session, department_ids)
    rows = []
    for dept in department_ids:
        n, received, rejected, warned = totals.get(dept, (0, 0, 0, 0))
        entries, records = held.get(dept, (0, 0))
        rows.append(
            DepartmentQuality(
                department=refs[dept],
                entries=int(entries),
                records=int(records),
                batches=int(n),
                rows_received=int(received),
                rows_rejected=int(rejected),
                rows_warned=int(warned),
                problem_rate=round((rejected + warned) / received, 4) if received else None,
                open_feedback=feedback_counts.get((dept, FeedbackStatus.OPEN.value), 0),
                disputed_feedback=feedback_counts.get((dept, FeedbackStatus.DISPUTED.value), 0),
            )
        )
    rows.sort(key=lambda r: (-(r.problem_rate or 0), r.department.code))
    return QualityOverview(
        since=since_day, departments=rows, series=_series(session, by, since, since_day, today, zone)
    )


def _series(
    session: Session, by: Principal, since: dt.datetime, first: dt.date, last: dt.date, zone: ZoneInfo
) -> QualitySeries:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    received: Counter[dt.date] = Counter()
    rejected: Counter[dt.date] = Counter()
    stmt = select(Batch.received_at, Batch.rows_total, Batch.rows_rejected + Batch.rows_warned).where(
        Batch.status == BatchStatus.COMMITTED.value, Batch.received_at >= since
    )
    stmt = batches.visible(by, stmt, Batch.department_id)
    for received_at, total, bad in session.execute(stmt):
        day = received_at.astimezone(zone).date()
        received[day] += total
        rejected[day] += bad
    opened: Counter[dt.date] = Counter()
    closed: Counter[dt.date] = Counter()
    stmt2 = select(FeedbackItem.created_at, FeedbackItem.closed_at).where(
        (FeedbackItem.created_at >= since) | (FeedbackItem.closed_at >= since)
    )
    stmt2 = batches.visible(by, stmt2, FeedbackItem.department_id)
    for created, done in session.execute(stmt2):
        if created >= since:
            opened[created.astimezone(zone).date()] += 1
        if done is not None and done >= since:
            closed[done.astimezone(zone).date()] += 1
    return QualitySeries(
        days=days,
        received=[received[d] for d in days],
        rejected=[rejected[d] for d in days],
        feedback_opened=[opened[d] for d in days],
        feedback_closed=[closed[d] for d in days],
    )
