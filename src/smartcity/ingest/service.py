"""Batches: who may submit what, the column mapping step, idempotency, listing and reading batches.

A batch is created in the caller's transaction together with the job that will process it (so a rolled-back
request leaves no job behind); the processing itself is `pipeline.process_batch`, which owns its transactions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVarTuple
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Select, Table, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import DepartmentRef, FieldSpec
from smartcity.catalog.service import EntryFilter
from smartcity.catalog.vocab import FieldType
from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.ingest import mapping as mapper
from smartcity.ingest import tables
from smartcity.ingest.files import StoredFile, data_root
from smartcity.ingest.formats.detect import Detected, FileProblem, detect
from smartcity.ingest.formats.read import preview
from smartcity.ingest.models import Batch, ColumnMapping, EntryTable, Rule
from smartcity.ingest.permissions import INGEST_RULES, INGEST_SUBMIT
from smartcity.ingest.rules.compile import KEY_SEPARATOR, canonical_text
from smartcity.ingest.schemas import BatchError, BatchRead, FieldRef, MappingRead, Progress, RowCounts
from smartcity.ingest.vocab import BatchStatus, FileFormat, Source, Stage
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_, Message
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.jobs import service as jobs
from smartcity.platform.paging import PageParams, fetch_page
from smartcity.platform.permissions import Role

PROCESS_JOB = "ingest.process_batch"
# Published when a batch's rows reach an entry's table: entry_code, version, batch_id, table, inserted, updated,
# stored_at (ISO 8601).
BATCH_STORED = "ingest.batch.stored"
STALE_AFTER = dt.timedelta(minutes=10)

# Progress of batches running in this process (the write phase holds SQLite's write lock, so it is not in the DB).
PROGRESS: dict[int, Progress] = {}


@dataclass(frozen=True)
class EntryVersion:
    """An entry version as data collection needs it: schema, providing department, status."""

    code: str
    name: str
    version: int
    current_version: int
    fields: list[FieldSpec]
    department_id: int
    department: DepartmentRef
    retired_at: dt.datetime | None = None

    @property
    def keys(self) -> list[str]:
        return [f.name for f in self.fields if f.key]

    @property
    def titles(self) -> dict[str, str]:
        return {f.name: f.title for f in self.fields}


def entry_version(session: Session, *, by: Principal, code: str, version: int | None = None) -> EntryVersion:
    """The entry `code` at `version` (default: its current version); NotFound names what is missing."""
    entry, found = catalog.entry_and_version(session, by=by, code=code, version=version)
    department = identity.department_by_code(session, entry.department.code)
    return EntryVersion(
        code=entry.code,
        name=entry.name,
        version=found.version,
        current_version=entry.version,
        fields=found.fields,
        department_id=department.id,
        department=entry.department,
        retired_at=found.retired_at,
    )


Ts = TypeVarTuple("Ts")


def sees_all(principal: Principal) -> bool:
    """Platform administrators and auditors see every department's batches and feedback."""
    return principal.role in (Role.PLATFORM_ADMIN, Role.AUDITOR)


def owns(principal: Principal, department_id: int) -> bool:
    """Whether `principal` acts for the department (platform administrators act for all)."""
    return principal.is_platform_admin or principal.department_id == department_id


def _require_provider(principal: Principal, ev: EntryVersion, permission: str, refusal: str) -> None:
    principal.require(permission)
    if not owns(principal, ev.department_id):
        raise PermissionDenied(refusal, department=ev.department.name, code=ev.code)


def require_submit(principal: Principal, ev: EntryVersion) -> None:
    """A department submits its own entries' data; a retired version takes none."""
    refusal = N_("Only {department} (the providing department) can submit data for '{code}'.")
    _require_provider(principal, ev, INGEST_SUBMIT, refusal)
    if ev.retired_at is not None:
        raise Conflict(
            N_(
                "Version {version} of '{code}' was retired on {date}; submit the data against the current version "
                "{current}."
            ),
            field="version",
            version=ev.version,
            code=ev.code,
            date=ev.retired_at.date().isoformat(),
            current=ev.current_version,
        )


def visible(principal: Principal, stmt: Select[*Ts], department: InstrumentedAttribute[int]) -> Select[*Ts]:
    """`stmt` narrowed to what the caller may see: every department for the hub, its own for a department user."""
    return stmt if sees_all(principal) else stmt.where(department == (principal.department_id or -1))


def readable(principal: Principal) -> Select[Batch]:
    """Batches the caller may see."""
    return visible(principal, select(Batch), Batch.department_id)


def get_batch(session: Session, *, by: Principal, batch_id: int) -> Batch:
    """One batch the caller may see, or NotFound."""
    batch = session.scalars(readable(by).where(Batch.id == batch_id)).one_or_none()
    if batch is None:
        raise NotFound(N_("No batch {id}."), id=batch_id)
    return batch


@dataclass(frozen=True)
class BatchFilter:
    entry_code: str | None = None
    department: str | None = None
    status: BatchStatus | None = None


def list_batches(session: Session, *, by: Principal, flt: BatchFilter, params: PageParams) -> tuple[list[Batch], int]:
    """A page of batches, newest first."""
    stmt = readable(by)
    if flt.entry_code:
        stmt = stmt.where(Batch.entry_code == flt.entry_code)
    if flt.department:
        stmt = stmt.where(Batch.department_id == identity.department_by_code(session, flt.department).id)
    if flt.status:
        stmt = stmt.where(Batch.status == flt.status.value)
    return fetch_page(session, stmt.order_by(Batch.id.desc()), params)


def error_text(error: dict[str, object] | None, locale: str) -> BatchError | None:
    """A stored failure in the reader's language."""
    if not error:
        return None
    params: dict[str, object] = dict(error.get("params") or {})  # type: ignore[call-overload]
    field = error.get("field")
    return BatchError(
        message=Message(str(error["message"]), **params).render(locale), field=field if isinstance(field, str) else None
    )


def row_counts(batch: Batch) -> RowCounts:
    """How a batch's rows fared."""
    return RowCounts(
        total=batch.rows_total,
        accepted=batch.rows_accepted,
        rejected=batch.rows_rejected,
        warned=batch.rows_warned,
        inserted=batch.rows_inserted,
        updated=batch.rows_updated,
        unchanged=batch.rows_unchanged,
    )


def batch_read(batch: Batch, departments: dict[int, DepartmentRef], locale: str) -> BatchRead:
    """The API view of a batch."""
    return BatchRead(
        id=batch.id,
        entry_code=batch.entry_code,
        version=batch.version,
        department=departments[batch.department_id],
        submitted_by=batch.submitted_by,
        source=Source(batch.source),
        filename=batch.filename,
        file_hash=batch.file_hash,
        file_size=batch.file_size,
        file_format=batch.file_format,
        encoding=batch.encoding,
        headers=list(batch.headers or []),
        mapping=dict(batch.mapping or {}),
        status=BatchStatus(batch.status),
        stage=Stage(batch.stage),
        progress=PROGRESS.get(batch.id) if batch.status == BatchStatus.RUNNING else None,
        rows=row_counts(batch),
        score=batch.score,
        error=error_text(batch.error, locale),
        created_at=batch.created_at,
        received_at=batch.received_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
    )


def batch_reads(session: Session, batches: Sequence[Batch], locale: str) -> list[BatchRead]:
    departments = catalog.department_refs(session, {b.department_id for b in batches})
    return [batch_read(b, departments, locale) for b in batches]


# --- mapping -------------------------------------------------------------------------------------------------


def _mapping_row(session: Session, department_id: int, code: str, version: int) -> ColumnMapping | None:
    return session.scalars(
        select(ColumnMapping).where(
            ColumnMapping.department_id == department_id,
            ColumnMapping.entry_code == code,
            ColumnMapping.version == version,
        )
    ).one_or_none()


def saved_mapping(session: Session, department_id: int, code: str, version: int) -> dict[str, str | None] | None:
    """The mapping a department saved for an entry version."""
    found = _mapping_row(session, department_id, code, version)
    return dict(found.columns) if found else None


def save_mapping(
    session: Session, *, by: Principal, department_id: int, code: str, version: int, columns: dict[str, str | None]
) -> dict[str, str | None]:
    """Remember (merge) a department's header → field choices for an entry version; the merged mapping."""
    found = _mapping_row(session, department_id, code, version)
    if found is None:
        found = ColumnMapping(department_id=department_id, entry_code=code, version=version, columns={})
        session.add(found)
    found.columns = {**found.columns, **columns}
    found.updated_by = by.username
    found.updated_at = utcnow()
    session.flush()
    return dict(found.columns)


def check_targets(columns: Mapping[str, str | None], ev: EntryVersion, *, field: str = "mapping") -> None:
    """Refuse a header mapped to a field the entry version does not have (`field` may name the `{header}`)."""
    for header, target in columns.items():
        if target is not None and target not in ev.titles:
            raise InvalidInput(
                N_("'{header}' is mapped to '{field_name}', which is not a field of '{code}'."),
                field=field.format(header=header),
                header=header,
                field_name=target,
                code=ev.code,
            )


def rules_fingerprint(session: Session, code: str) -> str:
    """A hash of the entry's enabled rules: a file checked under other rules is not a duplicate."""
    rules = session.scalars(select(Rule).where(Rule.entry_code == code, Rule.enabled).order_by(Rule.id)).all()
    canonical = json.dumps(
        [[r.id, r.field, r.kind, r.params, r.severity] for r in rules], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotency_key(code: str, version: int, file_hash: str, columns: dict[str, str | None], rules_fp: str) -> str:
    """What makes two submissions the same batch: entry version, file content, mapping and rules."""
    canonical = json.dumps([code, version, file_hash, sorted(columns.items()), rules_fp], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def mapping_view(session: Session, batch: Batch, ev: EntryVersion, samples: dict[str, list[str | None]]) -> MappingRead:
    """The mapping step of a batch: the suggestion and what still needs a person."""
    result = mapper.suggest(
        batch.headers, ev.fields, batch.mapping or saved_mapping(session, ev.department_id, ev.code, ev.version)
    )
    return MappingRead(
        batch_id=batch.id,
        headers=list(batch.headers),
        columns=result.columns,
        unmapped=result.unmapped,
        missing_required=result.missing_required,
        duplicates=result.duplicates,
        fields=[FieldRef(name=f.name, title=f.title, required=f.required, key=f.key) for f in ev.fields],
        samples=samples,
    )


def _mapping_problem(result: mapper.MappingResult, ev: EntryVersion, filename: str) -> InvalidInput:
    if result.unmapped:
        return InvalidInput(
            N_(
                "Column '{header}' of '{name}' matches no field of '{code}'; map it to a field or mark it ignored "
                "({count} such columns)."
            ),
            field="mapping",
            header=result.unmapped[0],
            name=filename,
            code=ev.code,
            count=len(result.unmapped),
        )
    if result.duplicates:
        name, headers = next(iter(result.duplicates.items()))
        return InvalidInput(
            N_("Columns {headers} are all mapped to the field '{field_name}'; map only one of them."),
            field="mapping",
            headers="、".join(headers),
            field_name=name,
        )
    missing = result.missing_required[0]
    return InvalidInput(
        N_("The required field '{title}' ({field_name}) has no column in '{name}'."),
        field="mapping",
        title=ev.titles.get(missing, missing),
        field_name=missing,
        name=filename,
    )


# --- submitting ----------------------------------------------------------------------------------------------


@dataclass
class Submission:
    """The batch a submission created, or the committed batch it duplicates (then nothing changed)."""

    batch: Batch
    duplicate: bool = False
    needs_mapping: bool = False


def detected_of(batch: Batch) -> Detected:
    """How the batch's file was read when it was submitted (stored by content hash, so it cannot have changed)."""
    if batch.file_format is None:
        return detect(data_root() / batch.file_path, batch.filename)
    return Detected(FileFormat(batch.file_format), batch.encoding, batch.separator or ",")


def find_same(session: Session, key: str) -> Batch | None:
    """A committed or interrupted batch with the same idempotency key."""
    return session.scalars(
        select(Batch)
        .where(
            Batch.idempotency_key == key,
            Batch.status.in_((BatchStatus.COMMITTED, BatchStatus.RUNNING, BatchStatus.QUEUED)),
        )
        .order_by(Batch.id.desc())
    ).first()


def is_stale(batch: Batch, now: dt.datetime | None = None) -> bool:
    """A running batch whose process died (same host) or has not been heard of for a while."""
    if batch.status != BatchStatus.RUNNING:
        return False
    if jobs.owner_is_dead(batch.owner):
        return True
    beat = batch.heartbeat_at or batch.started_at or batch.created_at
    return (now or utcnow()) - beat > STALE_AFTER


def _enqueue(session: Session, batch: Batch) -> None:
    jobs.enqueue(session, PROCESS_JOB, {"batch_id": batch.id}, dedupe_key=f"batch:{batch.id}")


def _requeue(session: Session, batch: Batch, enqueue: bool) -> None:
    """Put an interrupted or failed batch back in the queue."""
    batch.status = BatchStatus.QUEUED.value
    batch.stage = Stage.WAITING.value
    batch.owner = None
    batch.error = None
    if enqueue:
        _enqueue(session, batch)


def submit_batch(
    session: Session,
    *,
    by: Principal,
    code: str,
    stored: StoredFile,
    source: Source,
    version: int | None = None,
    columns: dict[str, str | None] | None = None,
    overrides: dict[str, str | None] | None = None,
    force: bool = False,
    enqueue: bool = True,
    received_at: dt.datetime | None = None,
) -> Submission:
    """Check and register a submitted file as a batch of `code`; queue it when its columns are all mapped.

    The file must be readable as a whole (format, encoding, headers) or FileProblem is raised and nothing is
    written. `columns` is a complete mapping chosen by a person; `overrides` adjust the suggested one (the saved
    mapping, then names and titles). `received_at` registers a file delivered offline on the day it arrived
    (without an offset it is in the city's time zone, like times in the data).
    Re-submitting a file that was already committed with the same mapping and
    rules changes nothing and returns that batch (unless `force`).
    """
    ev = entry_version(session, by=by, code=code, version=version)
    require_submit(by, ev)
    now = utcnow()
    if received_at is not None and received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=ZoneInfo(get_settings().timezone))
    if received_at is not None and not (now - dt.timedelta(days=3660) <= received_at <= now + dt.timedelta(minutes=5)):
        raise InvalidInput(
            N_("The date the data was received must lie within the last ten years, not in the future."),
            field="received_at",
        )
    check_targets(overrides or {}, ev)
    detected = detect(stored.path, stored.filename)
    head = preview(stored.path, detected, stored.filename)
    if columns is not None:
        result = mapper.apply(head.headers, columns, ev.fields)
    else:
        saved = saved_mapping(session, ev.department_id, ev.code, ev.version)
        result = mapper.suggest(head.headers, ev.fields, {**(saved or {}), **(overrides or {})})
    if columns is not None and not result.complete:
        raise _mapping_problem(result, ev, stored.filename)
    batch = Batch(
        entry_code=ev.code,
        version=ev.version,
        department_id=ev.department_id,
        submitted_by=by.actor().label,
        source=source.value,
        filename=stored.filename,
        file_hash=stored.sha256,
        file_size=stored.size,
        file_path=stored.relative_path,
        file_format=detected.format.value,
        encoding=detected.encoding,
        separator=detected.separator if detected.format is FileFormat.CSV else None,
        headers=head.headers,
        mapping=result.columns,
        status=BatchStatus.AWAITING_MAPPING.value,
        stage=Stage.WAITING.value,
        created_at=now,
        received_at=received_at or now,
    )
    if not result.complete:
        if source in (Source.API, Source.CLI, Source.PULL):
            raise _mapping_problem(result, ev, stored.filename)
        session.add(batch)
        session.flush()
        return Submission(batch=batch, needs_mapping=True)
    return _queue(session, by=by, batch=batch, ev=ev, force=force, enqueue=enqueue)


def _queue(
    session: Session,
    *,
    by: Principal,
    batch: Batch,
    ev: EntryVersion,
    force: bool,
    enqueue: bool,
) -> Submission:
    key = idempotency_key(
        ev.code, ev.version, batch.file_hash, dict(batch.mapping), rules_fingerprint(session, ev.code)
    )
    if not force:
        same = find_same(session, key)
        if same is not None and same.id != batch.id:
            if same.status == BatchStatus.COMMITTED:
                if batch.id is not None:
                    session.delete(batch)
                    session.flush()
                return Submission(batch=same, duplicate=True)
            if is_stale(same):
                if batch.id is not None:
                    session.delete(batch)
                _requeue(session, same, enqueue)
                session.flush()
                return Submission(batch=same)
            raise Conflict(
                N_("The same file is already being processed as batch {id}; wait for it to finish."),
                id=same.id,
            )
    batch.idempotency_key = key
    batch.status = BatchStatus.QUEUED.value
    if batch.id is None:
        session.add(batch)
    session.flush()
    save_mapping(
        session, by=by, department_id=ev.department_id, code=ev.code, version=ev.version, columns=batch.mapping
    )
    if enqueue:
        _enqueue(session, batch)
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.batch.submit",
        target_type="ingest_batch",
        target_id=batch.id,
        detail={"entry": ev.code, "version": ev.version, "file": batch.filename, "sha256": batch.file_hash},
    )
    return Submission(batch=batch)


def map_columns(
    session: Session, *, by: Principal, batch_id: int, columns: dict[str, str | None], enqueue: bool = True
) -> Submission:
    """Finish the mapping step of an uploaded batch and queue it."""
    batch = get_batch(session, by=by, batch_id=batch_id)
    if batch.status != BatchStatus.AWAITING_MAPPING:
        raise Conflict(N_("Batch {id} is not waiting for a column mapping."), field="mapping", id=batch_id)
    ev = entry_version(session, by=by, code=batch.entry_code, version=batch.version)
    require_submit(by, ev)
    result = mapper.apply(batch.headers, columns, ev.fields)
    if not result.complete:
        raise _mapping_problem(result, ev, batch.filename)
    batch.mapping = result.columns
    return _queue(session, by=by, batch=batch, ev=ev, force=False, enqueue=enqueue)


def rerun_batch(session: Session, *, by: Principal, batch_id: int, enqueue: bool = True) -> Batch:
    """Queue a failed or interrupted batch again (the same file, mapping and rules)."""
    batch = get_batch(session, by=by, batch_id=batch_id)
    ev = entry_version(session, by=by, code=batch.entry_code, version=batch.version)
    require_submit(by, ev)
    if batch.status == BatchStatus.RUNNING and not is_stale(batch):
        raise Conflict(N_("Batch {id} is still running."), id=batch_id)
    if batch.status not in (BatchStatus.FAILED, BatchStatus.RUNNING):
        raise Conflict(N_("Only a failed or interrupted batch can be run again."), id=batch_id)
    _requeue(session, batch, enqueue)
    audit.record(session, actor=by.actor(), action="ingest.batch.rerun", target_type="ingest_batch", target_id=batch.id)
    return batch


def discard_batch(session: Session, *, by: Principal, batch_id: int) -> None:
    """Drop an uploaded batch that is still waiting for its mapping."""
    batch = get_batch(session, by=by, batch_id=batch_id)
    ev = entry_version(session, by=by, code=batch.entry_code, version=batch.version)
    require_submit(by, ev)
    if batch.status != BatchStatus.AWAITING_MAPPING:
        raise Conflict(N_("Only a batch waiting for its column mapping can be discarded."), id=batch_id)
    session.delete(batch)
    session.flush()


def entries_for_submission(session: Session, *, by: Principal) -> list[tuple[str, str]]:
    """(code, name) of the catalogue entries the caller may submit data for."""
    department = None if by.is_platform_admin else by.department_code
    if department is None and not by.is_platform_admin:
        return []
    return catalog.entry_names(session, by=by, flt=EntryFilter(department=department))


def counts_by_status(session: Session, *, by: Principal) -> dict[str, int]:
    """How many batches the caller can see, per status."""
    stmt = readable(by).with_only_columns(Batch.status, func.count()).group_by(Batch.status)
    return {status: count for status, count in session.execute(stmt).all()}


def require_rules(principal: Principal, ev: EntryVersion) -> None:
    """Rules and mappings of an entry are the providing department's (and the hub's) to change."""
    refusal = N_("Only {department} (the providing department) can change the rules of '{code}'.")
    _require_provider(principal, ev, INGEST_RULES, refusal)


def file_problem_detail(exc: FileProblem) -> dict[str, object]:
    """A FileProblem as stored on a failed batch (translated when shown)."""
    return {"message": exc.detail, "params": {k: str(v) for k, v in exc.params.items()}, "field": exc.field}


# --- reading stored records (for the modules built on the hub's data) ---------------------------------------

KEY = "_key"
LOADED_AT = "_loaded_at"
BATCH = "_batch_id"
DEPARTMENT = "_department_id"
VERSION = "_version"


def last_loads(session: Session, codes: Sequence[str]) -> dict[str, dt.datetime]:
    """When a batch last committed rows to each of the entries `codes` (entries with no data are absent)."""
    rows = session.execute(select(EntryTable.entry_code, EntryTable.updated_at).where(EntryTable.entry_code.in_(codes)))
    latest: dict[str, dt.datetime] = {}
    for code, updated in rows:
        if code not in latest or updated > latest[code]:
            latest[code] = updated
    return latest


@dataclass(frozen=True)
class StoredTable:
    """Where an entry version's records are: its table (columns named like the fields, `_id` first), the fields
    of that version, and the fields of its business key in order."""

    code: str
    version: int
    table: Table
    fields: list[FieldSpec]
    keys: list[str]


_TABLES: dict[tuple[str, tuple[tuple[str, str, bool], ...]], Table] = {}


def _table(name: str, fields: list[FieldSpec]) -> Table:
    """The Table object of a data table, built once per process and schema (requests read it often)."""
    key = (name, tuple((f.name, f.type.value, f.required) for f in fields))
    if key not in _TABLES:
        _TABLES[key] = tables.data_table(name, fields)
    return _TABLES[key]


def stored_table(session: Session, *, by: Principal, code: str, version: int | None = None) -> StoredTable | None:
    """The table holding entry `code` at `version` (default: the current one); None while no batch has written it.

    For modules that serve the hub's records (the data service, the open-data portal); they read it through
    SQLAlchemy Core with the caller's session, never write it.
    """
    ev = entry_version(session, by=by, code=code, version=version)
    name = session.scalar(
        select(EntryTable.table_name).where(EntryTable.entry_code == ev.code, EntryTable.version == ev.version)
    )
    if name is None:
        return None
    fields = list(ev.fields)
    return StoredTable(code=ev.code, version=ev.version, table=_table(name, fields), fields=fields, keys=ev.keys)


def stored_records(
    session: Session, *, by: Principal, code: str, fields: Sequence[str], since: dt.datetime | None = None
) -> pl.DataFrame:
    """The stored records of entry `code`, all versions, as text: `fields` (null where a version lacks one),
    the business key (`_key`), `_loaded_at`, `_batch_id`, `_department_id` and `_version`.

    `since` keeps only the rows loaded after that time. Dates come as YYYY-MM-DD, other values as their text.
    """
    frames = []
    versions = session.scalars(select(EntryTable).where(EntryTable.entry_code == code).order_by(EntryTable.version))
    for entry_table in versions:
        ev = entry_version(session, by=by, code=code, version=entry_table.version)
        specs = {f.name: f for f in ev.fields}
        table = tables.data_table(entry_table.table_name, ev.fields)
        present = [name for name in fields if name in specs]
        stmt = select(
            *(table.c[name] for name in dict.fromkeys([*present, *ev.keys])),
            table.c[LOADED_AT],
            table.c[BATCH],
            table.c[DEPARTMENT],
        )
        if since is not None:
            stmt = stmt.where(table.c[LOADED_AT] > since)
        raw = pl.read_database(stmt, session.connection(), infer_schema_length=None)
        key = pl.concat_str(
            [canonical_text(pl.col(k), specs[k].type) for k in ev.keys], separator=KEY_SEPARATOR, ignore_nulls=False
        )
        frames.append(
            raw.select(
                *(
                    (
                        canonical_text(pl.col(name), specs[name].type)
                        if specs[name].type in (FieldType.DATE, FieldType.DATETIME, FieldType.BOOLEAN)
                        else pl.col(name).cast(pl.String)
                    ).alias(name)
                    if name in specs
                    else pl.lit(None, dtype=pl.String).alias(name)
                    for name in fields
                ),
                key.alias(KEY),
                pl.col(LOADED_AT).cast(pl.Datetime("us", "UTC")),
                pl.col(BATCH).cast(pl.Int64),
                pl.col(DEPARTMENT).cast(pl.Int64),
                pl.lit(entry_table.version, dtype=pl.Int64).alias(VERSION),
            )
        )
    if not frames:
        schema: dict[str, pl.DataType] = {name: pl.String() for name in fields}
        schema.update({KEY: pl.String(), LOADED_AT: pl.Datetime("us", "UTC")})
        schema.update({BATCH: pl.Int64(), DEPARTMENT: pl.Int64(), VERSION: pl.Int64()})
        return pl.DataFrame(schema=schema)
    # A record kept in several versions is the same record: the newest load wins.
    return pl.concat(frames).sort(LOADED_AT).unique(KEY, keep="last", maintain_order=True)
