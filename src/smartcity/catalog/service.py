"""Catalogue rules: who may publish what, schema versions, search."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, bindparam, case, select
from sqlalchemy.orm import Session, selectinload

from smartcity.catalog.models import CatalogEntry, CatalogEntryVersion
from smartcity.catalog.permissions import CATALOG_WRITE
from smartcity.catalog.schemas import (
    DepartmentRef,
    EntryCreate,
    EntryRead,
    EntrySummary,
    EntryUpdate,
    FieldSpec,
    VersionRead,
    VersionRetire,
)
from smartcity.catalog.vocab import OpenType, SharingType
from smartcity.db import utcnow
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, fetch_page

MAX_QUERY_TERMS = 8


@dataclass(frozen=True)
class EntryFilter:
    """What a catalogue search asks for."""

    q: str | None = None
    department: str | None = None
    sharing_type: SharingType | None = None
    open_type: OpenType | None = None
    tag: str | None = None


# --- rules -----------------------------------------------------------------------------------


def check_fields(fields: Sequence[FieldSpec], *, path: str = "fields") -> None:
    """A schema needs unique field names and at least one business-key field, which must be required."""
    seen: dict[str, int] = {}
    for index, spec in enumerate(fields):
        if spec.name in seen:
            raise InvalidInput(
                N_("Field name '{name}' is used twice (also at position {first})."),
                field=f"{path}.{index}.name",
                name=spec.name,
                first=seen[spec.name] + 1,
            )
        seen[spec.name] = index
        if spec.key and not spec.required:
            raise InvalidInput(
                N_("Key field '{name}' must be required."), field=f"{path}.{index}.required", name=spec.name
            )
    if not any(spec.key for spec in fields):
        raise InvalidInput(N_("Mark at least one field as the business key."), field=path)


def check_sharing(sharing_type: SharingType, sharing_condition: str, open_type: OpenType, open_condition: str) -> None:
    """Conditional and refused sharing need a stated condition or basis; unshared data cannot be opened."""
    if sharing_type is SharingType.CONDITIONAL and not sharing_condition:
        raise InvalidInput(N_("Conditional sharing needs the sharing condition."), field="sharing_condition")
    if sharing_type is SharingType.NONE and not sharing_condition:
        raise InvalidInput(N_("Refusing to share needs the legal or policy basis."), field="sharing_condition")
    if sharing_type is SharingType.NONE and open_type is not OpenType.NONE:
        raise InvalidInput(N_("An entry that is not shared cannot be opened to the public."), field="open_type")
    if open_type is OpenType.CONDITIONAL and not open_condition:
        raise InvalidInput(N_("Conditional opening needs the open condition."), field="open_condition")


def can_edit(principal: Principal, entry: CatalogEntry) -> bool:
    """Platform admins edit any entry; department admins their own department's."""
    if not principal.can(CATALOG_WRITE):
        return False
    return principal.is_platform_admin or entry.department_id == principal.department_id


def _department_for_write(session: Session, by: Principal, code: str) -> int:
    department = identity.department_by_code(session, code)
    if not by.is_platform_admin and department.id != by.department_id:
        raise PermissionDenied(N_("You can publish entries for your own department only."))
    return department.id


def _search_text(entry: CatalogEntry, fields: Sequence[FieldSpec], department_names: Sequence[str]) -> str:
    parts = [entry.code, entry.name, entry.description, *department_names, *entry.tags]
    parts += [f"{f.title} {f.name}" for f in fields]
    return " ".join(p for p in parts if p).lower()


# --- reads -----------------------------------------------------------------------------------


def readable(principal: Principal) -> Select[CatalogEntry]:
    """Catalogue metadata is visible to every signed-in user of the platform (the catalogue is for discovery)."""
    return select(CatalogEntry)


def department_refs(session: Session, ids: Collection[int]) -> dict[int, DepartmentRef]:
    """Code and name of the departments an answer names (not every department of the city)."""
    return {i: DepartmentRef(code=d.code, name=d.name) for i, d in identity.departments_by_id(session, ids).items()}


def _summary(entry: CatalogEntry, fields: list[dict[str, object]], dept: DepartmentRef) -> EntrySummary:
    return EntrySummary(
        code=entry.code,
        name=entry.name,
        department=dept,
        description=entry.description,
        sharing_type=SharingType(entry.sharing_type),
        open_type=OpenType(entry.open_type),
        update_cycle=entry.update_cycle,
        format=entry.format,
        tags=list(entry.tags),
        version=entry.current_version,
        field_count=len(fields),
        updated_at=entry.updated_at,
    )


def _current_fields(entry: CatalogEntry) -> list[dict[str, object]]:
    for version in entry.versions:
        if version.version == entry.current_version:
            return version.fields
    raise RuntimeError(f"entry {entry.code} has no version {entry.current_version}")


def _entry_read(entry: CatalogEntry, departments: dict[int, DepartmentRef]) -> EntryRead:
    fields = _current_fields(entry)
    summary = _summary(entry, fields, departments[entry.department_id])
    return EntryRead(
        **summary.model_dump(),
        sharing_condition=entry.sharing_condition,
        open_condition=entry.open_condition,
        fields=[FieldSpec(**f) for f in fields],
        created_by=entry.created_by,
        created_at=entry.created_at,
    )


def entry_read(session: Session, entry: CatalogEntry) -> EntryRead:
    """The full view of an entry with its current schema."""
    return _entry_read(entry, department_refs(session, [entry.department_id]))


def get_entry(session: Session, *, by: Principal, code: str) -> CatalogEntry:
    """The entry with `code`, or NotFound."""
    entry = session.scalars(
        readable(by).where(CatalogEntry.code == code).options(selectinload(CatalogEntry.versions))
    ).one_or_none()
    if entry is None:
        raise NotFound(N_("No catalogue entry '{code}'."), code=code)
    return entry


def search_statement(session: Session, by: Principal, flt: EntryFilter) -> Select[CatalogEntry]:
    """The query behind a search: every term must occur; name matches rank first."""
    stmt = readable(by)
    terms = [t.lower() for t in (flt.q or "").split()][:MAX_QUERY_TERMS]
    if terms:
        stmt = stmt.where(and_(*(CatalogEntry.search_text.contains(t, autoescape=True) for t in terms)))
    if flt.department:
        department = identity.department_by_code(session, flt.department, field="department")
        stmt = stmt.where(CatalogEntry.department_id == department.id)
    if flt.sharing_type:
        stmt = stmt.where(CatalogEntry.sharing_type == flt.sharing_type.value)
    if flt.open_type:
        stmt = stmt.where(CatalogEntry.open_type == flt.open_type.value)
    if flt.tag:
        stmt = stmt.where(CatalogEntry.search_text.contains(flt.tag.lower(), autoescape=True))
    if terms:
        rank = case(
            (CatalogEntry.code == (flt.q or "").strip().upper(), 0),
            (CatalogEntry.name.contains(terms[0], autoescape=True), 1),
            else_=2,
        )
        return stmt.order_by(rank, CatalogEntry.code)
    return stmt.order_by(CatalogEntry.code)


def search_entries(
    session: Session, *, by: Principal, flt: EntryFilter, params: PageParams
) -> tuple[list[EntrySummary], int]:
    """A page of entries matching a search (Chinese substrings work: 人口 finds 人口基础信息)."""
    entries, total = fetch_page(
        session, search_statement(session, by, flt).options(selectinload(CatalogEntry.versions)), params
    )
    departments = department_refs(session, [e.department_id for e in entries])
    return [_summary(e, _current_fields(e), departments[e.department_id]) for e in entries], total


_STAMP = select(CatalogEntry.__table__.c.current_version, CatalogEntry.__table__.c.updated_at).where(
    CatalogEntry.__table__.c.code == bindparam("code")
)


def entry_stamp(session: Session, *, code: str) -> tuple[int, dt.datetime] | None:
    """(current version, last change) of entry `code`, or None: a cheap check that a cached read is still true
    (a plain statement on the session's connection, asked on every call of the data service)."""
    row = session.connection().execute(_STAMP, {"code": code}).first()
    return (row[0], row[1]) if row else None


def open_entries(session: Session, *, by: Principal) -> list[EntryRead]:
    """Every entry open to the public (无条件开放 or 有条件开放), with its current schema, by code."""
    entries = session.scalars(
        readable(by)
        .where(CatalogEntry.open_type != OpenType.NONE)
        .options(selectinload(CatalogEntry.versions))
        .order_by(CatalogEntry.code)
    ).all()
    departments = department_refs(session, {e.department_id for e in entries})
    return [_entry_read(e, departments) for e in entries]


def entry_names(session: Session, *, by: Principal, flt: EntryFilter) -> list[tuple[str, str]]:
    """(code, name) of every entry matching a search, in search order (for choosing an entry in a form)."""
    stmt = search_statement(session, by, flt).with_only_columns(CatalogEntry.code, CatalogEntry.name)
    return [(code, name) for code, name in session.execute(stmt)]


def list_versions(session: Session, *, by: Principal, code: str) -> list[VersionRead]:
    """Every schema version of an entry, oldest first."""
    entry = get_entry(session, by=by, code=code)
    return [_version_read(entry, v) for v in entry.versions]


def _version_of(entry: CatalogEntry, version: int) -> CatalogEntryVersion:
    found = next((candidate for candidate in entry.versions if candidate.version == version), None)
    if found is None:
        raise NotFound(N_("Entry '{code}' has no version {version}."), code=entry.code, version=version)
    return found


def get_version(session: Session, *, by: Principal, code: str, version: int) -> VersionRead:
    """One schema version of an entry; old versions stay readable."""
    entry = get_entry(session, by=by, code=code)
    return _version_read(entry, _version_of(entry, version))


def entry_and_version(
    session: Session, *, by: Principal, code: str, version: int | None = None
) -> tuple[EntryRead, VersionRead]:
    """An entry and one of its schema versions (default: the current one), from one lookup of the entry."""
    entry = get_entry(session, by=by, code=code)
    return entry_read(session, entry), _version_read(entry, _version_of(entry, version or entry.current_version))


def _version_read(entry: CatalogEntry, version: CatalogEntryVersion) -> VersionRead:
    return VersionRead(
        code=entry.code,
        version=version.version,
        fields=[FieldSpec(**f) for f in version.fields],
        change_note=version.change_note,
        created_by=version.created_by,
        created_at=version.created_at,
        current=version.version == entry.current_version,
        retired_at=version.retired_at,
        retired_by=version.retired_by,
        retire_note=version.retire_note or "",
    )


def all_entries(session: Session, *, by: Principal) -> list[EntryRead]:
    """Every entry the caller can see, with current schemas (for catalogue exports)."""
    entries = list(
        session.scalars(readable(by).order_by(CatalogEntry.code).options(selectinload(CatalogEntry.versions)))
    )
    departments = department_refs(session, [e.department_id for e in entries])
    return [_entry_read(entry, departments) for entry in entries]


# --- writes ----------------------------------------------------------------------------------


def create_entry(session: Session, *, by: Principal, data: EntryCreate) -> CatalogEntry:
    """Publish a new entry with schema version 1."""
    by.require(CATALOG_WRITE)
    department_id = _department_for_write(session, by, data.department)
    check_fields(data.fields)
    check_sharing(data.sharing_type, data.sharing_condition, data.open_type, data.open_condition)
    if session.scalars(select(CatalogEntry.id).where(CatalogEntry.code == data.code)).first() is not None:
        raise Conflict(N_("The entry code '{code}' is already in use."), field="code", code=data.code)
    if session.scalars(select(CatalogEntry.id).where(CatalogEntry.name == data.name)).first() is not None:
        raise Conflict(N_("An entry named '{name}' already exists."), field="name", name=data.name)
    now = utcnow()
    entry = CatalogEntry(
        code=data.code,
        name=data.name,
        department_id=department_id,
        description=data.description,
        sharing_type=data.sharing_type.value,
        sharing_condition=data.sharing_condition,
        open_type=data.open_type.value,
        open_condition=data.open_condition,
        update_cycle=data.update_cycle.value,
        format=data.format.value,
        tags=list(dict.fromkeys(data.tags)),
        current_version=1,
        created_by=by.username,
        created_at=now,
        updated_at=now,
    )
    entry.versions.append(
        CatalogEntryVersion(
            version=1,
            fields=[f.model_dump(mode="json") for f in data.fields],
            change_note="",
            created_by=by.username,
            created_at=now,
        )
    )
    dept = department_refs(session, [department_id])[department_id]
    entry.search_text = _search_text(entry, data.fields, [dept.name])
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="catalog.entry.create",
        target_type="catalog_entry",
        target_id=entry.code,
        detail={"name": entry.name, "department": dept.code},
    )
    return entry


def update_entry(session: Session, *, by: Principal, code: str, data: EntryUpdate) -> CatalogEntry:
    """Change an entry's metadata; a different field list becomes a new version, old ones stay readable."""
    entry = get_entry(session, by=by, code=code)
    if not can_edit(by, entry):
        raise PermissionDenied(N_("You can edit entries of your own department only."))
    changes = data.model_dump(exclude_unset=True, exclude={"fields", "change_note"})
    if "department" in changes:
        entry.department_id = _department_for_write(session, by, changes["department"])
    if "name" in changes and changes["name"] != entry.name:
        clash = session.scalars(select(CatalogEntry.id).where(CatalogEntry.name == changes["name"])).first()
        if clash is not None:
            raise Conflict(N_("An entry named '{name}' already exists."), field="name", name=changes["name"])
    for key, value in changes.items():
        if key == "department":
            continue
        setattr(entry, key, value.value if hasattr(value, "value") else value)
    if "tags" in changes:
        entry.tags = list(dict.fromkeys(changes["tags"]))
    check_sharing(
        SharingType(entry.sharing_type), entry.sharing_condition, OpenType(entry.open_type), entry.open_condition
    )
    fields = [FieldSpec(**f) for f in _current_fields(entry)]
    new_version = False
    if data.fields is not None and data.fields != fields:
        check_fields(data.fields)
        fields = data.fields
        entry.current_version += 1
        entry.versions.append(
            CatalogEntryVersion(
                version=entry.current_version,
                fields=[f.model_dump(mode="json") for f in fields],
                change_note=data.change_note,
                created_by=by.username,
                created_at=utcnow(),
            )
        )
        new_version = True
    entry.updated_at = utcnow()
    department = department_refs(session, [entry.department_id])[entry.department_id]
    entry.search_text = _search_text(entry, fields, [department.name])
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="catalog.entry.update",
        target_type="catalog_entry",
        target_id=entry.code,
        detail={"changed": sorted(changes), "new_version": entry.current_version if new_version else None},
    )
    return entry


def retire_version(session: Session, *, by: Principal, code: str, version: int, data: VersionRetire) -> VersionRead:
    """Stop a superseded schema version from taking new data; its records and schema stay readable."""
    entry = get_entry(session, by=by, code=code)
    if not can_edit(by, entry):
        raise PermissionDenied(N_("You can edit entries of your own department only."))
    found = _version_of(entry, version)
    if version == entry.current_version:
        raise Conflict(
            N_("Version {version} is the current schema of '{code}'; publish a new version before retiring it."),
            field="version",
            code=code,
            version=version,
        )
    if found.retired_at is not None:
        raise Conflict(N_("Version {version} of '{code}' is already retired."), code=code, version=version)
    found.retired_at = utcnow()
    found.retired_by = by.username
    found.retire_note = data.note
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="catalog.version.retire",
        target_type="catalog_entry",
        target_id=code,
        detail={"version": version, "note": data.note},
    )
    return _version_read(entry, found)
