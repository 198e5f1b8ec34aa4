"""What the open-data portal publishes: the catalogue entries open to the public, their public fields and rows.

An entry is on the portal when its open type is 无条件开放 or 有条件开放. Only its fields that the catalogue does
not mark sensitive are published: personal fields never leave the platform this way, whatever the grant or
agreement. The rows of a 有条件开放 entry are read only by a portal account that accepted its conditions (as they
read now); those reads are audited. The portal pages, the CKAN Action API and the DCAT catalogue are all built from
the functions here, so they always agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import EntryRead, FieldSpec
from smartcity.catalog.vocab import FieldType, OpenType
from smartcity.db import session_factory
from smartcity.exchange.models import PortalAccount
from smartcity.exchange.opendata import accounts
from smartcity.ingest import service as hub
from smartcity.ingest.service import StoredTable
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal

ID = "_id"
EXPORT_CHUNK = 5_000


class AgreementRequired(PermissionDenied):
    """Conditional open data read without a portal account that accepted the entry's conditions."""

    slug = "agreement-required"
    title = N_("Conditions not accepted")


def reader() -> Principal:
    """The portal reads the catalogue and the hub as the platform; its own rules decide what is shown."""
    return identity.system_principal("open-data")


def datasets(session: Session) -> list[EntryRead]:
    """Every entry on the portal, by code."""
    return catalog.open_entries(session, by=reader())


def dataset(session: Session, name: str) -> EntryRead:
    """An entry on the portal by its code (any case) or NotFound; entries not open are not found either."""
    code = name.strip().upper()
    for entry in datasets(session):
        if entry.code == code:
            return entry
    raise NotFound(N_("No open dataset '{name}'."), name=name)


@dataclass
class Search:
    """A portal search: words in the name, description, tags, department or code; department; tag; open type."""

    q: str = ""
    department: str | None = None
    tag: str | None = None
    open_type: OpenType | None = None


def matches(entry: EntryRead, search: Search) -> bool:
    """Whether `entry` answers `search` (every word must occur)."""
    text = " ".join([entry.code, entry.name, entry.description, entry.department.name, *entry.tags]).lower()
    if any(word not in text for word in search.q.lower().split()):
        return False
    if search.department and entry.department.code.lower() != search.department.lower():
        return False
    if search.tag and search.tag not in entry.tags:
        return False
    return search.open_type is None or entry.open_type is search.open_type


def loaded(session: Session, entries: Sequence[EntryRead]) -> dict[str, dt.datetime]:
    """When data last reached each of `entries` (entries without data are absent)."""
    return hub.last_loads(session, [e.code for e in entries])


def public_fields(entry: EntryRead) -> list[FieldSpec]:
    """The fields the portal publishes: all but the sensitive ones."""
    return [f for f in entry.fields if not f.sensitive]


def stored(session: Session, entry: EntryRead) -> StoredTable | None:
    """Where the entry's rows are (None while no data has arrived)."""
    return hub.stored_table(session, by=reader(), code=entry.code)


def row_count(session: Session, entry: EntryRead) -> int:
    table = stored(session, entry)
    return int(session.scalar(select(func.count()).select_from(table.table)) or 0) if table else 0


def may_read(session: Session, entry: EntryRead, account: PortalAccount | None) -> bool:
    """Whether `account` (None: anonymous) may read the rows of `entry`."""
    return entry.open_type is OpenType.UNCONDITIONAL or accounts.has_agreement(session, account, entry)


def check_read(session: Session, entry: EntryRead, account: PortalAccount | None) -> None:
    """Raise AgreementRequired unless `account` may read the rows of `entry`."""
    if may_read(session, entry, account):
        return
    if account is None:
        raise AgreementRequired(
            N_("Dataset {code} is open on conditions: sign in to the portal and accept them to read its rows."),
            code=entry.code,
        )
    raise AgreementRequired(
        N_("Dataset {code} is open on conditions that your account has not accepted (as they read now)."),
        code=entry.code,
    )


@dataclass
class RowQuery:
    """Which rows: filters (field → allowed values), text search, fields, order, page."""

    filters: dict[str, list[Any]] = field(default_factory=dict)
    q: str | dict[str, str] | None = None
    fields: list[str] | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int = 100
    offset: int = 0
    total: bool = True


def typed(spec: FieldSpec, value: Any) -> Any:
    """A filter value as its field's type (ValueError when it is not one)."""
    if value is None:
        return None
    text = str(value).strip()
    if spec.type is FieldType.INTEGER:
        return int(text)
    if spec.type is FieldType.DECIMAL:
        return Decimal(text)
    if spec.type is FieldType.BOOLEAN:
        if text.lower() not in {"true", "false", "1", "0"}:
            raise ValueError(text)
        return text.lower() in {"true", "1"}
    if spec.type is FieldType.DATE:
        return dt.date.fromisoformat(text[:10])
    if spec.type is FieldType.DATETIME:
        return dt.datetime.fromisoformat(text)
    return text


def _check_names(names: Sequence[str], public: dict[str, FieldSpec], path: str) -> None:
    for name in names:
        if name != ID and name not in public:
            raise InvalidInput(N_("The dataset has no field '{name}'."), field=path, name=name)


def rows(
    session: Session, entry: EntryRead, query: RowQuery, *, account: PortalAccount | None
) -> tuple[list[str], list[dict[str, Any]], int | None]:
    """The chosen public fields (with `_id` first), a page of rows as plain values, and the total (if asked)."""
    check_read(session, entry, account)
    public = {f.name: f for f in public_fields(entry)}
    names = query.fields if query.fields is not None else [ID, *public]
    _check_names(names, public, "fields")
    _check_names(list(query.filters), public, "filters")
    _check_names([name for name, _ in query.sort], public, "sort")
    if names[:1] != [ID]:
        names = [ID, *[n for n in names if n != ID]]
    conditions: list[ColumnElement[bool]] = []
    table_info = stored(session, entry)
    if table_info is None:
        return names, [], 0 if query.total else None
    table = table_info.table
    for name, values in query.filters.items():
        if name == ID:
            column, spec_values = table.c[ID], [int(v) for v in values]
        else:
            try:
                spec_values = [typed(public[name], v) for v in values]
            except (ValueError, ArithmeticError):
                raise InvalidInput(
                    N_("A value of filter '{name}' is not of the field's type."), field="filters", name=name
                ) from None
            column = table.c[name]
        conditions.append(column.in_(spec_values) if len(spec_values) != 1 else column == spec_values[0])
    texts = [n for n, f in public.items() if f.type is FieldType.STRING]
    if isinstance(query.q, str) and query.q.strip():
        words = query.q.split()
        conditions += [or_(*(table.c[n].contains(w, autoescape=True) for n in texts)) for w in words] if texts else []
    elif isinstance(query.q, dict):
        _check_names(list(query.q), public, "q")
        conditions += [table.c[n].contains(str(v), autoescape=True) for n, v in query.q.items()]
    where = and_(*conditions) if conditions else None
    stmt = select(*(table.c[n] for n in names))
    if where is not None:
        stmt = stmt.where(where)
    order = [table.c[n].desc() if desc else table.c[n].asc() for n, desc in query.sort] or [table.c[ID].asc()]
    found = session.execute(stmt.order_by(*order).limit(query.limit).offset(query.offset)).all()
    total = None
    if query.total:
        count = select(func.count()).select_from(table)
        total = int(session.scalar(count.where(where) if where is not None else count) or 0)
    records = [{n: plain(r._mapping[n]) for n in names} for r in found]
    if entry.open_type is OpenType.CONDITIONAL:
        _audit(session, account, entry, len(records))
    return names, records, total


def plain(value: Any) -> Any:
    """A stored value as JSON carries it (decimals as numbers, dates as ISO text)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def start_export(session: Session, entry: EntryRead, *, account: PortalAccount | None) -> list[str]:
    """Check that `account` may download `entry` (and audit it if the entry is conditional); the field names."""
    check_read(session, entry, account)
    if entry.open_type is OpenType.CONDITIONAL:
        _audit(session, account, entry, -1)
    return [f.name for f in public_fields(entry)]


def export_chunks(entry: EntryRead, names: list[str]) -> Iterator[list[dict[str, Any]]]:
    """Every row of `names`, in chunks in `_id` order, each chunk read in a short transaction of its own (a
    download streams after its request's transaction has ended)."""
    last = 0
    while True:
        with session_factory()() as session:  # read only: no write lock
            table_info = stored(session, entry)
            if table_info is None:
                return
            table = table_info.table
            chunk = session.execute(
                select(table.c[ID], *(table.c[n] for n in names))
                .where(table.c[ID] > last)
                .order_by(table.c[ID])
                .limit(EXPORT_CHUNK)
            ).all()
        if not chunk:
            return
        last = int(chunk[-1]._mapping[ID])
        yield [{n: plain(r._mapping[n]) for n in names} for r in chunk]


def _audit(session: Session, account: PortalAccount | None, entry: EntryRead, count: int) -> None:
    audit.record_read(
        session,
        actor=accounts.actor(account),
        action="open.data.read" if count >= 0 else "open.data.download",
        target_type="catalog_entry",
        target_id=entry.code,
        detail={"rows": count} if count >= 0 else {},
    )
