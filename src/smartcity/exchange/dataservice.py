"""The data service (数据服务): a department reads another department's entry within what its grant covers.

Only the fields of the grant can be read or filtered on; personal fields come masked unless the grant is plain;
pages are read in `_id` order after a signed cursor (keyset pagination, so a page costs the same however deep);
every call, by the providing department too, writes an audit entry with the grant, purpose, query and row count.

Filters are query parameters `f.<field>=<value>` (equal) or `f.<field>.<op>=<value>` with op one of eq, ne, lt, le,
gt, ge, in (comma-separated values) and prefix (text fields). Values are typed by the field and always bound as
parameters; a text value that reads like SQL is refused rather than compared, so a probe learns nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import EntryRead, FieldSpec
from smartcity.catalog.vocab import FieldType
from smartcity.config import get_settings
from smartcity.exchange import masks, sharing
from smartcity.exchange.models import Grant
from smartcity.exchange.permissions import EXCHANGE_DATA
from smartcity.exchange.schemas import DataPage, DataRecord
from smartcity.exchange.vocab import GrantState
from smartcity.ingest import service as hub
from smartcity.ingest.rules.compile import KEY_SEPARATOR
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "prefix")
MAX_IN = 100
MAX_VALUE = 200
ID = "_id"
UPDATED = "_updated_at"
_SQLISH = re.compile(
    r"""(['"`]\s*(or|and|union|select|;|--|#))|(;\s*(drop|delete|update|insert|select|alter|create)\b)|(--)|(/\*)"""
    r"""|(\bunion\b\s+(all\s+)?select\b)|(\b(or|and)\b\s+['"]?\w+['"]?\s*=\s*['"]?\w+)""",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    raw: str
    path: str  # the query parameter, for error messages


@dataclass
class DataQuery:
    """What the caller asks for: fields (default: all it may read), filters, page size, cursor, grant."""

    fields: list[str] | None = None
    filters: list[Filter] = field(default_factory=list)
    limit: int = 100
    after: str | None = None
    grant: str | None = None


def parse_query(params: Sequence[tuple[str, str]]) -> DataQuery:
    """The data query of a request's query parameters; an unknown parameter is an error naming it."""
    query = DataQuery()
    for key, value in params:
        if key == "fields":
            query.fields = [f.strip() for f in value.split(",") if f.strip()]
        elif key == "limit":
            if not value.isdigit() or int(value) < 1:
                raise InvalidInput(N_("'limit' must be a whole number from 1."), field="limit")
            query.limit = int(value)
        elif key == "after":
            query.after = value
        elif key == "grant":
            query.grant = value[:24]
        elif key.startswith("f."):
            name, _, op = key[2:].partition(".")
            query.filters.append(Filter(field=name, op=op or "eq", raw=value, path=key))
        else:
            raise InvalidInput(
                N_("Unknown parameter '{name}'; use fields, limit, after, grant or f.<field>[.<op>]."),
                field=key,
                name=key,
            )
    return query


@dataclass
class Access:
    """Under what the caller reads an entry: the grant (None for the providing department), fields, masks."""

    entry: EntryRead
    grant: sharing.GrantTerms | None
    fields: list[str]
    masks: dict[str, Callable[[str | None], str | None]]
    stored: hub.StoredTable | None  # None while no data has arrived


@dataclass(frozen=True)
class _Entry:
    """What the service knows of an entry between requests: its metadata, provider and table."""

    stamp: tuple[int, dt.datetime]
    entry: EntryRead
    provider_id: int
    stored: hub.StoredTable | None


_ENTRIES: dict[str, _Entry] = {}


def _entry(session: Session, by: Principal, code: str) -> _Entry:
    """The entry's metadata, provider and table, read again only when the catalogue changed it (one small query a
    request instead of reading the entry, its versions and departments twice) or while it has no data yet."""
    stamp = catalog.entry_stamp(session, code=code)
    cached = _ENTRIES.get(code)
    if stamp is not None and cached is not None and cached.stamp == stamp and cached.stored is not None:
        return cached
    entry, _ = catalog.entry_and_version(session, by=by, code=code)  # NotFound for an unknown code
    provider = identity.department_by_code(session, entry.department.code).id
    found = _Entry(
        stamp=stamp or (entry.version, entry.updated_at),
        entry=entry,
        provider_id=provider,
        stored=hub.stored_table(session, by=by, code=entry.code),
    )
    _ENTRIES[code] = found
    return found


def _access(session: Session, by: Principal, code: str, grant_number: str | None) -> Access:
    by.require(EXCHANGE_DATA)
    if by.department_id is None:
        raise PermissionDenied(N_("The data service is read with a department's credentials."))
    known = _entry(session, by, code)
    entry = known.entry
    if known.provider_id == by.department_id:
        return Access(entry=entry, grant=None, fields=[f.name for f in entry.fields], masks={}, stored=known.stored)
    grant = sharing.usable_grant(session, department_id=by.department_id, entry_code=entry.code, number=grant_number)
    if grant is None:
        raise PermissionDenied(_no_grant(session, by.department_id, entry.code), code=entry.code)
    fields = [f.name for f in entry.fields if f.name in set(grant.fields)]
    masking = {} if grant.plain else masks.maskers(entry.fields, fields)
    return Access(entry=entry, grant=grant, fields=fields, masks=masking, stored=known.stored)


def _no_grant(session: Session, department_id: int, code: str) -> str:
    """Why the department may not read the entry, as precisely as its own grants tell."""
    last = session.scalars(
        select(Grant)
        .where(Grant.consumer_department_id == department_id, Grant.entry_code == code)
        .order_by(Grant.id.desc())
        .limit(1)
    ).one_or_none()
    state = sharing.grant_state(last) if last is not None else None
    if state is GrantState.REVOKED:
        return N_("Your department's grant for entry {code} was revoked.")
    if state is GrantState.EXPIRED:
        return N_("Your department's grant for entry {code} has expired; ask again.")
    if state is GrantState.NOT_YET:
        return N_("Your department's grant for entry {code} is not in force yet.")
    return N_("Your department holds no grant for entry {code}; ask for one under 共享申请.")


def _projection(access: Access, wanted: list[str] | None) -> list[str]:
    if wanted is None:
        return access.fields
    known = {f.name for f in access.entry.fields}
    for name in wanted:
        if name not in known:
            raise InvalidInput(
                N_("Entry {code} has no field '{name}'."), field="fields", code=access.entry.code, name=name
            )
        if name not in access.fields:
            raise PermissionDenied(N_("Your grant does not cover field '{name}'."), field="fields", name=name)
    return [name for name in access.fields if name in set(wanted)]


def _value(spec: FieldSpec, raw: str, path: str) -> Any:
    """A filter value typed like its field; an error names the parameter and the rule."""
    text = raw.strip()
    try:
        if spec.type is FieldType.INTEGER:
            if not re.fullmatch(r"-?\d{1,18}", text):
                raise ValueError
            return int(text)
        if spec.type is FieldType.DECIMAL:
            return Decimal(text)
        if spec.type is FieldType.BOOLEAN:
            if text.lower() not in {"true", "false", "1", "0"}:
                raise ValueError
            return text.lower() in {"true", "1"}
        if spec.type is FieldType.DATE:
            return dt.date.fromisoformat(text)
        if spec.type is FieldType.DATETIME:
            moment = dt.datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(get_settings().timezone))
    except (ValueError, InvalidOperation):
        raise InvalidInput(
            N_("'{value}' is not a {type} value for field '{name}'."),
            field=path,
            value=raw[:40],
            type=spec.type.value,
            name=spec.name,
        ) from None
    if len(raw) > MAX_VALUE or _CONTROL.search(raw):
        raise InvalidInput(
            N_("A filter value has at most {max} characters and no control characters."), field=path, max=MAX_VALUE
        )
    if _SQLISH.search(raw):
        raise InvalidInput(
            N_("The value of '{path}' reads like SQL; values are compared as they are, so send the value alone."),
            field=path,
            path=path,
        )
    return raw


def _checked(access: Access, filters: list[Filter]) -> list[tuple[str, str, Any]]:
    """The filters as (field, operator, typed value or values), each checked against the entry and the grant."""
    specs = {f.name: f for f in access.entry.fields}
    out: list[tuple[str, str, Any]] = []
    for flt in filters:
        spec = specs.get(flt.field)
        if spec is None:
            raise InvalidInput(
                N_("Entry {code} has no field '{name}' to filter on."),
                field=flt.path,
                code=access.entry.code,
                name=flt.field,
            )
        if flt.field not in access.fields:
            raise PermissionDenied(N_("Your grant does not cover field '{name}'."), field=flt.path, name=flt.field)
        if flt.op not in OPERATORS or (flt.op == "prefix" and spec.type is not FieldType.STRING):
            raise InvalidInput(
                N_("Unknown filter '{op}'; use one of {known} (prefix on text fields)."),
                field=flt.path,
                op=flt.op,
                known=", ".join(OPERATORS),
            )
        if flt.op == "in":
            parts = [p for p in flt.raw.split(",") if p.strip()]
            if not 1 <= len(parts) <= MAX_IN:
                raise InvalidInput(N_("'in' takes 1 to {max} values."), field=flt.path, max=MAX_IN)
            out.append((flt.field, "in", [_value(spec, p, flt.path) for p in parts]))
        else:
            out.append((flt.field, flt.op, _value(spec, flt.raw, flt.path)))
    return out


COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: c != v,
    "lt": lambda c, v: c < v,
    "le": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "ge": lambda c, v: c >= v,
    "in": lambda c, v: c.in_(v),
    "prefix": lambda c, v: c.startswith(v, autoescape=True),
}


def _signature(code: str, version: int, last_id: int) -> str:
    key = hashlib.sha256(("smartcity-cursor:" + get_settings().secret_key).encode()).digest()
    mac = hmac.new(key, f"{code}:{version}:{last_id}".encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _cursor(code: str, version: int, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{version}.{last_id}.{_signature(code, version, last_id)}".encode()).decode()


def _after(code: str, cursor: str) -> tuple[int, int]:
    """The (version, last _id) of a cursor this platform issued for `code`; anything else is an error."""
    try:
        version, last_id, signature = base64.urlsafe_b64decode(cursor.encode()).decode().split(".")
        found = (int(version), int(last_id))
    except ValueError:  # bad base64, not UTF-8, not three parts, not numbers
        found, signature = None, ""
    if found is None or not hmac.compare_digest(signature, _signature(code, *found)):
        raise InvalidInput(N_("'after' is not a cursor this service issued for this entry."), field="after")
    return found


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


_CONVERTED = {FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME}


def _rows(rows: Sequence[Any], names: list[str], access: Access) -> list[dict[str, Any]]:
    """Rows selected as (_loaded_at, *names, …) as JSON records, personal values masked. The work of each column
    (convert its type, mask it) is decided once for the page, not for each value."""
    specs = {f.name: f for f in access.entry.fields}
    plan = [
        (name, position, specs[name].type in _CONVERTED, access.masks.get(name))
        for position, name in enumerate(names, start=1)
    ]
    out = []
    for row in rows:
        record: dict[str, Any] = {}
        for name, position, convert, masker in plan:
            value = row[position]
            if value is not None:
                if convert:
                    value = _json(value)
                if masker is not None:
                    value = masker(str(value))
            record[name] = value
        record[UPDATED] = _json(row[0])
        out.append(record)
    return out


def _audit(session: Session, by: Principal, access: Access, *, query: dict[str, Any], rows: int) -> None:
    grant = access.grant
    audit.record_read(
        session,
        actor=by.actor(),
        action="exchange.data.read",
        target_type="exchange_grant" if grant else "catalog_entry",
        target_id=grant.number if grant else access.entry.code,
        detail={
            "entry": access.entry.code,
            "purpose": grant.purpose if grant else "providing department",
            "query": query,
            "rows": rows,
            "masked": sorted(access.masks),
        },
    )


def read_page(session: Session, *, by: Principal, code: str, query: DataQuery) -> DataPage:
    """One page of the rows of `code` the caller's grant covers, filtered, projected, masked and audited."""
    access = _access(session, by, code, query.grant)
    names = _projection(access, query.fields)
    limit_max = get_settings().exchange_max_page
    if query.limit > limit_max:
        raise InvalidInput(N_("A page holds at most {max} rows."), field="limit", max=limit_max)
    checked = _checked(access, query.filters)
    stored = access.stored
    version = stored.version if stored else access.entry.version
    after = 0
    if query.after:
        cursor_version, after = _after(access.entry.code, query.after)
        if cursor_version != version:
            raise InvalidInput(N_("The cursor belongs to another version of the entry; start again."), field="after")
    items: list[dict[str, Any]] = []
    next_cursor = None
    if stored is not None:
        table = stored.table
        stmt = (
            select(table.c["_loaded_at"], *(table.c[n] for n in names), table.c[ID])
            .where(and_(table.c[ID] > after, *(COMPARE[op](table.c[name], v) for name, op, v in checked)))
            .order_by(table.c[ID])
            .limit(query.limit + 1)
        )
        rows = session.execute(stmt).all()
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            next_cursor = _cursor(stored.code, stored.version, int(rows[-1]._mapping[ID]))
        items = _rows(rows, names, access)
    _audit(
        session,
        by,
        access,
        query={
            "fields": names,
            "filters": [f"{f.path}={f.raw}" for f in query.filters],
            "limit": query.limit,
            "after": after,
        },
        rows=len(items),
    )
    return DataPage(
        entry_code=access.entry.code,
        version=version,
        grant=access.grant.number if access.grant else None,
        fields=names,
        masked=sorted(access.masks),
        items=items,
        limit=query.limit,
        next=next_cursor,
    )


def read_record(
    session: Session, *, by: Principal, code: str, key: str, grant: str | None = None, fields: list[str] | None = None
) -> DataRecord:
    """The record of `code` whose business key is `key` (its key fields joined by '|'), within the grant."""
    access = _access(session, by, code, grant)
    names = _projection(access, fields)
    stored = access.stored
    specs = {f.name: f for f in access.entry.fields}
    keys = stored.keys if stored else [f.name for f in access.entry.fields if f.key]
    parts = key.split(KEY_SEPARATOR)
    if len(parts) != len(keys):
        raise InvalidInput(
            N_("The key of entry {code} has {count} parts ({fields}), joined by '|'."),
            field="key",
            code=access.entry.code,
            count=len(keys),
            fields=", ".join(keys),
        )
    values = [_value(specs[k], part, "key") for k, part in zip(keys, parts, strict=True)]
    row = None
    if stored is not None:
        table = stored.table
        stmt = select(table.c["_loaded_at"], *(table.c[n] for n in names)).where(
            and_(*(table.c[k] == v for k, v in zip(keys, values, strict=True)))
        )
        row = session.execute(stmt).first()
    _audit(session, by, access, query={"fields": names, "key": key}, rows=1 if row else 0)
    if row is None:
        raise NotFound(N_("Entry {code} has no record with key '{key}'."), code=access.entry.code, key=key)
    return DataRecord(
        entry_code=access.entry.code,
        version=stored.version if stored else access.entry.version,
        grant=access.grant.number if access.grant else None,
        masked=sorted(access.masks),
        record=_rows([row], names, access)[0],
    )
