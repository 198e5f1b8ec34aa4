"""Sharing requests and grants (共享申请与授权), following the entry's sharing type.

- 无条件共享 (unconditional): a request for masked values is granted at once; one for plain values waits for the
  providing department, like every request for a 有条件共享 (conditional) entry, which also needs a legal basis.
- 不予共享 (none): cannot be requested.

A grant is scoped to fields, runs from its approval to the end of a day in the city's time, may be plain or masked,
and the providing department (or the platform) may revoke it at any time. Both departments see their requests and
grants; someone on neither side is told the request does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import EntryRead
from smartcity.catalog.vocab import SharingType
from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.exchange.models import Grant, ShareRequest
from smartcity.exchange.permissions import EXCHANGE_DECIDE, EXCHANGE_OVERSEE, EXCHANGE_READ, EXCHANGE_REQUEST
from smartcity.exchange.schemas import DecisionIn, GrantRead, RequestIn, RequestRead, RevokeIn
from smartcity.exchange.vocab import GrantState, RequestStatus, Side
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, fetch_page

M = TypeVar("M", ShareRequest, Grant)
MAX_DAYS = 366
REQUEST_PREFIX, GRANT_PREFIX = "SQ", "GX"
UNCONDITIONAL_GRANTOR = "system:无条件共享"


def _department_of(by: Principal) -> int:
    if by.department_id is None:
        raise PermissionDenied(N_("Only a department can ask for or decide on shared data."))
    return by.department_id


def end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of `day` in the city's time, as an aware datetime."""
    start = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(get_settings().timezone))
    return (start - dt.timedelta(microseconds=1)).astimezone(dt.UTC)


def _today() -> dt.date:
    return utcnow().astimezone(ZoneInfo(get_settings().timezone)).date()


def _next_number(session: Session, column: InstrumentedAttribute[str], prefix: str) -> str:
    year = f"{prefix}{_today().year}"
    last = session.scalar(select(func.max(column)).where(column.like(f"{year}%")))
    return f"{year}{(int(last[len(year) :]) + 1) if last else 1:06d}"


def grant_state(grant: Grant, now: dt.datetime | None = None) -> GrantState:
    """Whether a grant is in force now."""
    now = now or utcnow()
    if grant.revoked_at is not None:
        return GrantState.REVOKED
    if now < grant.valid_from:
        return GrantState.NOT_YET
    if now > grant.valid_until:
        return GrantState.EXPIRED
    return GrantState.ACTIVE


# --- reading ----------------------------------------------------------------------------------------------------


@dataclass
class _Names:
    entries: dict[str, EntryRead]
    departments: dict[int, str]


def _names(session: Session, by: Principal, codes: set[str], departments: set[int]) -> _Names:
    entries = {code: catalog.entry_and_version(session, by=by, code=code)[0] for code in codes}
    names = {i: d.name for i, d in identity.departments_by_id(session, departments).items()}
    return _Names(entries, names)


def _request_reads(session: Session, by: Principal, requests: list[ShareRequest]) -> list[RequestRead]:
    names = _names(
        session,
        by,
        {r.entry_code for r in requests},
        {d for r in requests for d in (r.provider_department_id, r.consumer_department_id)},
    )
    grants = {
        a: b
        for a, b in session.execute(
            select(Grant.request_id, Grant.number).where(Grant.request_id.in_([r.id for r in requests]))
        )
    }
    return [
        RequestRead(
            number=r.number,
            entry_code=r.entry_code,
            entry_name=names.entries[r.entry_code].name,
            sharing_type=names.entries[r.entry_code].sharing_type.value,
            provider=names.departments.get(r.provider_department_id, ""),
            consumer=names.departments.get(r.consumer_department_id, ""),
            requested_by=r.requested_by,
            purpose=r.purpose,
            legal_basis=r.legal_basis,
            fields=list(r.fields),
            plain=r.plain,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            status=RequestStatus(r.status),
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            decision_note=r.decision_note,
            created_at=r.created_at,
            grant=grants.get(r.id),
        )
        for r in requests
    ]


def grant_reads(session: Session, by: Principal, grants: list[Grant]) -> list[GrantRead]:
    """Grants as both departments see them."""
    names = _names(
        session,
        by,
        {g.entry_code for g in grants},
        {d for g in grants for d in (g.provider_department_id, g.consumer_department_id)},
    )
    requests = {
        a: b
        for a, b in session.execute(
            select(ShareRequest.id, ShareRequest.number).where(ShareRequest.id.in_([g.request_id for g in grants]))
        )
    }
    now = utcnow()
    return [
        GrantRead(
            number=g.number,
            request=requests.get(g.request_id, ""),
            entry_code=g.entry_code,
            entry_name=names.entries[g.entry_code].name,
            provider=names.departments.get(g.provider_department_id, ""),
            consumer=names.departments.get(g.consumer_department_id, ""),
            purpose=g.purpose,
            fields=list(g.fields),
            plain=g.plain,
            valid_from=g.valid_from,
            valid_until=g.valid_until,
            state=grant_state(g, now),
            granted_by=g.granted_by,
            created_at=g.created_at,
            revoked_at=g.revoked_at,
            revoked_by=g.revoked_by,
            revoke_reason=g.revoke_reason,
        )
        for g in grants
    ]


def _visible(by: Principal, model: type[M], side: Side | None) -> Select[M]:
    stmt = select(model)
    if by.can(EXCHANGE_OVERSEE) and by.department_id is None:
        return stmt
    department = by.department_id if by.department_id is not None else -1
    if side is Side.RECEIVED:
        return stmt.where(model.consumer_department_id == department)
    if side is Side.PROVIDED:
        return stmt.where(model.provider_department_id == department)
    return stmt.where(or_(model.consumer_department_id == department, model.provider_department_id == department))


def list_requests(
    session: Session, *, by: Principal, side: Side | None, status: RequestStatus | None, params: PageParams
) -> tuple[list[RequestRead], int]:
    """The requests the caller's department sent or received (every request for the platform), newest first."""
    by.require(EXCHANGE_READ)
    stmt = _visible(by, ShareRequest, side)
    if status is not None:
        stmt = stmt.where(ShareRequest.status == status)
    found, total = fetch_page(session, stmt.order_by(ShareRequest.id.desc()), params)
    return _request_reads(session, by, found), total


def list_grants(
    session: Session, *, by: Principal, side: Side | None, state: GrantState | None, params: PageParams
) -> tuple[list[GrantRead], int]:
    """The grants the caller's department holds or gave (every grant for the platform), newest first."""
    by.require(EXCHANGE_READ)
    stmt = _visible(by, Grant, side)
    now = utcnow()
    if state is GrantState.ACTIVE:
        stmt = stmt.where(Grant.revoked_at.is_(None), Grant.valid_from <= now, Grant.valid_until >= now)
    elif state is GrantState.REVOKED:
        stmt = stmt.where(Grant.revoked_at.is_not(None))
    elif state is GrantState.EXPIRED:
        stmt = stmt.where(Grant.revoked_at.is_(None), Grant.valid_until < now)
    elif state is GrantState.NOT_YET:
        stmt = stmt.where(Grant.revoked_at.is_(None), Grant.valid_from > now)
    found, total = fetch_page(session, stmt.order_by(Grant.id.desc()), params)
    return grant_reads(session, by, found), total


def _request(session: Session, by: Principal, number: str) -> ShareRequest:
    found = session.scalars(_visible(by, ShareRequest, None).where(ShareRequest.number == number)).one_or_none()
    if found is None:
        raise NotFound(N_("No sharing request {number}."), number=number)
    return found


def _grant(session: Session, by: Principal, number: str) -> Grant:
    found = session.scalars(_visible(by, Grant, None).where(Grant.number == number)).one_or_none()
    if found is None:
        raise NotFound(N_("No grant {number}."), number=number)
    return found


def get_request(session: Session, *, by: Principal, number: str) -> RequestRead:
    """One request, if the caller's department is on one of its sides."""
    by.require(EXCHANGE_READ)
    return _request_reads(session, by, [_request(session, by, number)])[0]


def get_grant(session: Session, *, by: Principal, number: str) -> GrantRead:
    """One grant, if the caller's department is on one of its sides."""
    by.require(EXCHANGE_READ)
    return grant_reads(session, by, [_grant(session, by, number)])[0]


# --- changing ---------------------------------------------------------------------------------------------------


def _check_fields(entry: EntryRead, fields: list[str], path: str) -> list[str]:
    known = {f.name for f in entry.fields}
    for i, name in enumerate(fields):
        if name not in known:
            raise InvalidInput(
                N_("Entry {code} has no field '{name}'."), field=f"{path}.{i}", code=entry.code, name=name
            )
    if len(set(fields)) != len(fields):
        raise InvalidInput(N_("A field is named twice."), field=path)
    return [f.name for f in entry.fields if f.name in set(fields)]  # in the entry's order


def _check_until(until: dt.date, path: str, latest: dt.date | None = None) -> dt.datetime:
    today = _today()
    latest = latest or today + dt.timedelta(days=MAX_DAYS)
    if until < today:
        raise InvalidInput(N_("The period cannot end before today ({today})."), field=path, today=today.isoformat())
    if until > latest:
        raise InvalidInput(
            N_("The period can run until {latest} at the latest."), field=path, latest=latest.isoformat()
        )
    return end_of_day(until)


def _make_grant(session: Session, request: ShareRequest, *, granted_by: str, now: dt.datetime) -> Grant:
    grant = Grant(
        number=_next_number(session, Grant.number, GRANT_PREFIX),
        request_id=request.id,
        entry_code=request.entry_code,
        provider_department_id=request.provider_department_id,
        consumer_department_id=request.consumer_department_id,
        purpose=request.purpose,
        fields=list(request.fields),
        plain=request.plain,
        valid_from=now,
        valid_until=request.valid_until,
        granted_by=granted_by,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    return grant


def create_request(session: Session, *, by: Principal, data: RequestIn) -> RequestRead:
    """Ask for an entry: granted at once for masked 无条件共享 data, else waiting for the providing department."""
    by.require(EXCHANGE_REQUEST)
    consumer = _department_of(by)
    entry, _ = catalog.entry_and_version(session, by=by, code=data.entry_code)
    provider = identity.department_by_code(session, entry.department.code).id
    if entry.sharing_type is SharingType.NONE:
        raise Conflict(
            N_("Entry {code} is not shared (不予共享); it cannot be requested."), field="entry_code", code=entry.code
        )
    if provider == consumer:
        raise Conflict(
            N_("Your department provides entry {code}; it needs no request."), field="entry_code", code=entry.code
        )
    fields = _check_fields(entry, data.fields, "fields")
    until = _check_until(data.valid_until, "valid_until")
    if (entry.sharing_type is SharingType.CONDITIONAL or data.plain) and len(data.legal_basis.strip()) < 4:
        raise InvalidInput(
            N_("Name the law or duty that needs this data: it is required for conditional sharing and plain values."),
            field="legal_basis",
        )
    pending = session.scalar(
        select(ShareRequest.number).where(
            ShareRequest.entry_code == entry.code,
            ShareRequest.consumer_department_id == consumer,
            ShareRequest.status == RequestStatus.PENDING,
        )
    )
    if pending:
        raise Conflict(N_("Request {number} for this entry is still waiting for a decision."), number=pending)
    now = utcnow()
    request = ShareRequest(
        number=_next_number(session, ShareRequest.number, REQUEST_PREFIX),
        entry_code=entry.code,
        provider_department_id=provider,
        consumer_department_id=consumer,
        requested_by=by.actor().label,
        purpose=data.purpose.strip(),
        legal_basis=data.legal_basis.strip(),
        fields=fields,
        plain=data.plain,
        valid_from=now,
        valid_until=until,
        status=RequestStatus.PENDING,
        created_at=now,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.request.create",
        target_type="exchange_request",
        target_id=request.number,
        detail={"entry": entry.code, "fields": fields, "plain": data.plain, "until": until.isoformat()},
    )
    if entry.sharing_type is SharingType.UNCONDITIONAL and not data.plain:
        request.status = RequestStatus.APPROVED
        request.decided_by, request.decided_at = UNCONDITIONAL_GRANTOR, now
        grant = _make_grant(session, request, granted_by=UNCONDITIONAL_GRANTOR, now=now)
        _audit_grant(session, by, grant)
    return _request_reads(session, by, [request])[0]


def _audit_grant(session: Session, by: Principal, grant: Grant) -> None:
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.grant.create",
        target_type="exchange_grant",
        target_id=grant.number,
        detail={
            "entry": grant.entry_code,
            "fields": grant.fields,
            "plain": grant.plain,
            "until": grant.valid_until.isoformat(),
        },
    )


def decide_request(session: Session, *, by: Principal, number: str, data: DecisionIn) -> RequestRead:
    """The providing department approves (possibly narrowing fields, period or plain access) or rejects."""
    by.require(EXCHANGE_DECIDE)
    request = _request(session, by, number)
    if request.provider_department_id != by.department_id:
        raise PermissionDenied(N_("Only the providing department decides on request {number}."), number=number)
    if request.status != RequestStatus.PENDING:
        raise Conflict(N_("Request {number} was already decided ({status})."), number=number, status=request.status)
    now = utcnow()
    if not data.approve:
        if len(data.note.strip()) < 2:
            raise InvalidInput(N_("Say why the request is rejected."), field="note")
        request.status = RequestStatus.REJECTED
    else:
        entry, _ = catalog.entry_and_version(session, by=by, code=request.entry_code)
        if data.fields is not None:
            narrowed = _check_fields(entry, data.fields, "fields")
            extra = [f for f in narrowed if f not in request.fields]
            if extra:
                raise InvalidInput(N_("Field '{name}' was not asked for."), field="fields", name=extra[0])
            request.fields = narrowed
        if data.valid_until is not None:
            asked = request.valid_until.astimezone(ZoneInfo(get_settings().timezone)).date()
            request.valid_until = _check_until(data.valid_until, "valid_until", latest=asked)
        if data.plain is not None:
            if data.plain and not request.plain:
                raise InvalidInput(N_("Plain values were not asked for."), field="plain")
            request.plain = data.plain
        request.status = RequestStatus.APPROVED
    request.decided_by, request.decided_at, request.decision_note = by.actor().label, now, data.note.strip()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.request.approve" if data.approve else "exchange.request.reject",
        target_type="exchange_request",
        target_id=request.number,
        detail={"fields": request.fields, "plain": request.plain, "note": request.decision_note},
    )
    if data.approve:
        _audit_grant(session, by, _make_grant(session, request, granted_by=by.actor().label, now=now))
    return _request_reads(session, by, [request])[0]


def withdraw_request(session: Session, *, by: Principal, number: str) -> RequestRead:
    """The requesting department takes back a request that waits for a decision."""
    by.require(EXCHANGE_REQUEST)
    request = _request(session, by, number)
    if request.consumer_department_id != by.department_id:
        raise PermissionDenied(N_("Only the requesting department may withdraw request {number}."), number=number)
    if request.status != RequestStatus.PENDING:
        raise Conflict(N_("Request {number} was already decided ({status})."), number=number, status=request.status)
    request.status = RequestStatus.WITHDRAWN
    request.decided_by, request.decided_at = by.actor().label, utcnow()
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.request.withdraw",
        target_type="exchange_request",
        target_id=number,
        detail={},
    )
    return _request_reads(session, by, [request])[0]


def revoke_grant(session: Session, *, by: Principal, number: str, data: RevokeIn) -> GrantRead:
    """End a grant now (the providing department, or the platform); its data service and pushes stop at once."""
    grant = _grant(session, by, number)
    if not (by.can(EXCHANGE_OVERSEE) or (by.can(EXCHANGE_DECIDE) and grant.provider_department_id == by.department_id)):
        raise PermissionDenied(N_("Only the providing department may revoke grant {number}."), number=number)
    if grant.revoked_at is not None:
        raise Conflict(N_("Grant {number} was already revoked."), number=number)
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = utcnow(), by.actor().label, data.reason.strip()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.grant.revoke",
        target_type="exchange_grant",
        target_id=number,
        detail={"reason": grant.revoke_reason},
    )
    return grant_reads(session, by, [grant])[0]


@dataclass(frozen=True)
class GrantTerms:
    """What a grant in force lets its holder read (the data service's view of it)."""

    id: int
    number: str
    purpose: str
    fields: tuple[str, ...]
    plain: bool


_GRANTS = Grant.__table__
_USABLE = (
    select(_GRANTS.c.id, _GRANTS.c.number, _GRANTS.c.purpose, _GRANTS.c.fields, _GRANTS.c.plain)
    .where(
        _GRANTS.c.consumer_department_id == bindparam("department_id"),
        _GRANTS.c.entry_code == bindparam("entry_code"),
        _GRANTS.c.revoked_at.is_(None),
        _GRANTS.c.valid_from <= bindparam("now"),
        _GRANTS.c.valid_until >= bindparam("now"),
        or_(bindparam("number", type_=_GRANTS.c.number.type).is_(None), _GRANTS.c.number == bindparam("number")),
    )
    .order_by(_GRANTS.c.id.desc())
    .limit(1)
)


def usable_grant(
    session: Session, *, department_id: int, entry_code: str, number: str | None = None
) -> GrantTerms | None:
    """The grant under which `department_id` reads `entry_code` now: the one named, or its newest one in force.
    (A plain statement on the session's connection: the data service asks this on every call.)"""
    row = (
        session.connection()
        .execute(_USABLE, {"department_id": department_id, "entry_code": entry_code, "now": utcnow(), "number": number})
        .first()
    )
    if row is None:
        return None
    return GrantTerms(id=row.id, number=row.number, purpose=row.purpose, fields=tuple(row.fields), plain=row.plain)
