"""Scheduled pulls: the hub reads an entry's records from a department database with one read-only SELECT.

The query's result is written to a UTF-8 CSV file in the store and processed as an ordinary batch (so a pull
that finds the same data as last time changes nothing, by the same idempotency rule as a re-submitted file).
The source URL is kept sealed with the platform's secret key and shown with its password hidden.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.db import driver_url, unit_of_work, utcnow
from smartcity.ingest import files, pipeline
from smartcity.ingest import service as batches
from smartcity.ingest.models import PullSource
from smartcity.ingest.permissions import INGEST_PULL
from smartcity.ingest.schemas import PullIn, PullRead, PullUpdate
from smartcity.ingest.vocab import Source
from smartcity.platform import sealing
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.jobs import service as jobs

RUN_JOB = "ingest.run_pull"
ALLOWED_BACKENDS = ("postgresql", "mysql", "mariadb", "mssql", "oracle")
FETCH_ROWS = 10_000
STATEMENT_TIMEOUT_MS = 15 * 60 * 1000


class SourceUnavailable(DomainError):
    """The department database of a pull could not be read."""

    status = 502
    slug = "pull-source-unavailable"
    title = N_("The source database could not be read")


PURPOSE = "pull"


def seal(url: str) -> str:
    """The URL encrypted with the platform's secret key."""
    return sealing.seal(url, purpose=PURPOSE)


def unseal(sealed: str) -> str:
    """The URL back; a changed secret key makes old pulls unreadable, which is reported, not guessed around."""
    try:
        return sealing.unseal(sealed, purpose=PURPOSE)
    except sealing.SealBroken:
        raise Conflict(
            N_("The pull's connection URL was sealed with another secret key; enter the URL again."), field="url"
        ) from None


def check_url(url: str) -> str:
    """A database URL of an allowed kind whose driver is installed; returns it with the password hidden."""
    try:
        shown = make_url(url)
        parsed = driver_url(url)
    except ArgumentError:
        raise InvalidInput(N_("'{url}' is not a database URL."), field="url", url=url.split("@")[-1][:80]) from None
    if parsed.get_backend_name() not in ALLOWED_BACKENDS:
        raise InvalidInput(
            N_("Pulls read from {allowed} databases, not '{backend}'."),
            field="url",
            allowed=", ".join(ALLOWED_BACKENDS),
            backend=parsed.get_backend_name(),
        )
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise InvalidInput(
            N_("No database driver for '{driver}' is installed on this server."), field="url", driver=parsed.drivername
        ) from None
    return shown.render_as_string(hide_password=True)


def _strip_sql_comments(query: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", query, flags=re.S).strip()


def check_query(query: str) -> str:
    """One SELECT (or WITH … SELECT) statement, without a second statement after it."""
    body = _strip_sql_comments(query).rstrip(";").strip()
    if ";" in body:
        raise InvalidInput(N_("The query must be a single statement."), field="query")
    if not re.match(r"(?is)^(select|with)\b", body):
        raise InvalidInput(N_("The query must be a SELECT statement."), field="query")
    # A read-only transaction guards PostgreSQL sources too; this catches writing statements on any source.
    if re.search(r"(?is)\b(insert|update|delete|merge|drop|alter|create|truncate|grant|revoke|copy|call|into)\b", body):
        raise InvalidInput(N_("The query must only read data."), field="query")
    return query.strip().rstrip(";")


def _read(pull: PullSource, departments: dict[int, Any]) -> PullRead:
    return PullRead(
        id=pull.id,
        name=pull.name,
        department=departments[pull.department_id],
        entry_code=pull.entry_code,
        url=pull.url_display,
        query=pull.query,
        every_minutes=pull.every_minutes,
        enabled=pull.enabled,
        next_run_at=pull.next_run_at,
        last_run_at=pull.last_run_at,
        last_batch_id=pull.last_batch_id,
        last_error=pull.last_error,
    )


def pull_reads(session: Session, pulls: list[PullSource]) -> list[PullRead]:
    refs = catalog.department_refs(session, {p.department_id for p in pulls})
    return [_read(p, refs) for p in pulls]


def list_pulls(session: Session, *, by: Principal) -> list[PullSource]:
    """The pulls the caller can see."""
    return list(
        session.scalars(batches.visible(by, select(PullSource).order_by(PullSource.name), PullSource.department_id))
    )


def get_pull(session: Session, *, by: Principal, pull_id: int) -> PullSource:
    pull = session.scalars(
        batches.visible(by, select(PullSource).where(PullSource.id == pull_id), PullSource.department_id)
    ).one_or_none()
    if pull is None:
        raise NotFound(N_("No pull {id}."), id=pull_id)
    return pull


def find_pull(session: Session, name: str) -> PullSource:
    """The pull called `name`, or numbered `name`, for an operator on the server; NotFound if none."""
    number = int(name) if name.isdigit() else -1
    pull = session.scalars(select(PullSource).where(or_(PullSource.name == name, PullSource.id == number))).first()
    if pull is None:
        raise NotFound(N_("No pull {id}."), id=name)
    return pull


def _require_owner(by: Principal, department_id: int) -> None:
    by.require(INGEST_PULL)
    if not batches.owns(by, department_id):
        raise PermissionDenied(N_("Only the providing department can configure pulls of its entries."))


def create_pull(session: Session, *, by: Principal, data: PullIn) -> PullSource:
    """Configure a scheduled pull for an entry of the caller's department; it first runs at once."""
    by.require(INGEST_PULL)
    ev = batches.entry_version(session, by=by, code=data.entry_code)
    _require_owner(by, ev.department_id)
    display = check_url(data.url)
    query = check_query(data.query)
    if session.scalars(select(PullSource.id).where(PullSource.name == data.name)).first() is not None:
        raise Conflict(N_("A pull named '{name}' already exists."), field="name", name=data.name)
    now = utcnow()
    pull = PullSource(
        name=data.name,
        department_id=ev.department_id,
        entry_code=ev.code,
        url_sealed=seal(data.url),
        url_display=display[:300],
        query=query,
        every_minutes=data.every_minutes,
        enabled=data.enabled,
        next_run_at=now,
        last_error="",
        created_by=by.username,
        created_at=now,
        updated_at=now,
    )
    session.add(pull)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.pull.create",
        target_type="ingest_pull",
        target_id=pull.id,
        detail={"name": pull.name, "entry": pull.entry_code, "url": display, "every_minutes": pull.every_minutes},
    )
    return pull


def update_pull(session: Session, *, by: Principal, pull_id: int, data: PullUpdate) -> PullSource:
    """Change a pull's source, query, schedule or state."""
    pull = get_pull(session, by=by, pull_id=pull_id)
    _require_owner(by, pull.department_id)
    changes = data.model_dump(exclude_unset=True)
    if data.url is not None:
        pull.url_display = check_url(data.url)[:300]
        pull.url_sealed = seal(data.url)
    if data.query is not None:
        pull.query = check_query(data.query)
    if data.every_minutes is not None:
        pull.every_minutes = data.every_minutes
    if data.enabled is not None:
        pull.enabled = data.enabled
    pull.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.pull.update",
        target_type="ingest_pull",
        target_id=pull.id,
        detail={"changed": sorted(changes)},
    )
    return pull


def delete_pull(session: Session, *, by: Principal, pull_id: int) -> None:
    """Remove a pull (its batches stay)."""
    pull = get_pull(session, by=by, pull_id=pull_id)
    _require_owner(by, pull.department_id)
    session.delete(pull)
    session.flush()
    audit.record(session, actor=by.actor(), action="ingest.pull.delete", target_type="ingest_pull", target_id=pull_id)


def request_run(session: Session, *, by: Principal, pull_id: int) -> None:
    """Queue a pull to run now."""
    pull = get_pull(session, by=by, pull_id=pull_id)
    _require_owner(by, pull.department_id)
    jobs.enqueue(session, RUN_JOB, {"pull_id": pull.id, "by": by.username}, dedupe_key=f"pull:{pull.id}")
    audit.record(session, actor=by.actor(), action="ingest.pull.run", target_type="ingest_pull", target_id=pull.id)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def extract(url: str, query: str, filename: str) -> files.StoredFile:
    """Run the query read-only and keep its result as a UTF-8 CSV file in the store."""
    target_url = driver_url(url)
    backend = target_url.get_backend_name()
    connect_args: dict[str, Any] = {"connect_timeout": 10} if backend == "postgresql" else {}
    engine = create_engine(target_url, connect_args=connect_args, pool_pre_ping=False)
    folder = files.work_folder()
    target = folder / filename
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            result = connection.execution_options(stream_results=True).execute(text(query))
            with target.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(list(result.keys()))
                while rows := result.fetchmany(FETCH_ROWS):
                    writer.writerows([_cell(v) for v in row] for row in rows)
            connection.rollback()
        return files.store_local(target)
    except SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise SourceUnavailable(N_("The source database could not be read: {problem}"), problem=problem) from None
    finally:
        engine.dispose()
        files.remove_folder(folder)


def run_pull(pull_id: int, *, username: str | None = None) -> int | None:
    """Extract, submit and process one pull; the batch id (the earlier one when nothing changed)."""
    with unit_of_work() as session:
        pull = session.get(PullSource, pull_id)
        if pull is None:
            return None
        url, query, code = unseal(pull.url_sealed), pull.query, pull.entry_code
        stamp = utcnow().strftime("%Y%m%d-%H%M%S")
        filename = f"pull-{pull.id}-{stamp}.csv"
    try:
        stored = extract(url, query, filename)
        with unit_of_work() as session:
            by = identity.system_principal(f"pull:{pull_id}" + (f" ({username})" if username else ""))
            submission = batches.submit_batch(
                session, by=by, code=code, stored=stored, source=Source.PULL, enqueue=False
            )
            batch_id = submission.batch.id
            duplicate = submission.duplicate
            _record_run(session, pull_id, batch_id=batch_id, error="")
    except DomainError as exc:
        with unit_of_work() as session:
            _record_run(session, pull_id, batch_id=None, error=str(exc))
        raise
    if not duplicate:
        pipeline.process_batch(batch_id)
    return batch_id


def _record_run(session: Session, pull_id: int, *, batch_id: int | None, error: str) -> None:
    pull = session.get(PullSource, pull_id)
    if pull is None:
        return
    now = utcnow()
    pull.last_run_at = now
    pull.next_run_at = now + dt.timedelta(minutes=pull.every_minutes)
    if batch_id is not None:
        pull.last_batch_id = batch_id
    pull.last_error = error[:2000]


def run_job(payload: dict[str, Any]) -> None:
    """The job handler of a pull run."""
    with contextlib.suppress(DomainError):  # the failure is recorded on the pull as last_error
        run_pull(int(payload["pull_id"]), username=payload.get("by"))


def enqueue_due(now: dt.datetime | None = None) -> int:
    """Queue every enabled pull whose time has come (the worker calls this every minute)."""
    now = now or utcnow()
    count = 0
    with unit_of_work() as session:
        due = session.scalars(
            select(PullSource).where(PullSource.enabled, PullSource.next_run_at <= now).order_by(PullSource.next_run_at)
        ).all()
        for pull in due:
            jobs.enqueue(session, RUN_JOB, {"pull_id": pull.id}, dedupe_key=f"pull:{pull.id}")
            pull.next_run_at = now + dt.timedelta(minutes=pull.every_minutes)
            count += 1
    return count
