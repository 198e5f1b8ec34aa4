"""Engine, session factory, declarative base and the unit-of-work helpers."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, Insert, MetaData, Table, create_engine, event, func, text
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator

from smartcity.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base sharing one MetaData with a naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC on every dialect (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT (a released savepoint could
    # commit); take over: no implicit transactions, and SQLAlchemy emits BEGIN itself (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives a crash of the platform (and never corrupts); only a power cut may lose the last
    # commits. FULL would sync the log on every commit, a third of a millisecond each on this kind of disk.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A large batch holds SQLite's single write lock for seconds; other writers wait rather than fail.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# A transaction that reads before it writes must take SQLite's write lock when it begins: in WAL mode a deferred
# transaction whose snapshot another writer has moved past cannot upgrade ("database is locked", with no wait).
IMMEDIATE = {"sqlite_immediate": True}


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get("sqlite_immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def driver_url(url: str) -> URL:
    """`url` as SQLAlchemy opens it: plain postgresql:// uses psycopg 3, the driver the platform ships."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


# As many connections as the server's thread pool runs requests at once (AnyIO's default, 40), so a busy server's
# requests wait for the database, not for a connection (which gives up after 30 s).
POOL = {"pool_size": 20, "max_overflow": 20}


def build_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL mode and foreign keys, their folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **POOL)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(driver_url(url), pool_pre_ping=True, **POOL)


_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def configure(engine: Engine) -> None:
    """Point the process at `engine` (tests call this with their own engine)."""
    global _engine, _factory
    _engine = engine
    _factory = sessionmaker(bind=engine, expire_on_commit=False)


def get_engine() -> Engine:
    """The process engine, built from settings on first use."""
    if _engine is None:
        configure(build_engine(get_settings().database_url))
    assert _engine is not None
    return _engine


def use_session_factory(factory: sessionmaker[Session]) -> None:
    """Make request and CLI sessions come from `factory` (tests bind it to a rolled-back connection)."""
    global _factory
    _factory = factory


def session_factory() -> sessionmaker[Session]:
    """The process session factory."""
    if _factory is None:
        get_engine()
    assert _factory is not None
    return _factory


WRITES = "smartcity_writes"  # session.info flag: the session's work may write (a unit of work, an unsafe request)


def begin_for_writing(session: Session) -> None:
    """Start the session's transaction holding the write lock (SQLite; other stores lock rows as they go)."""
    session.info[WRITES] = True
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options=IMMEDIATE)


def write_beside(session: Session, write: Callable[[Session], object]) -> None:
    """Do the small write a reading request owes (the audit entry of a read, a token's last use) and commit it at
    once, so a read holds no lock while it builds its answer (the audit log's head row is a lock every audited
    write takes). A session whose work writes anyway (a unit of work, an unsafe request) writes in place and
    commits with the rest.

    On SQLite a read transaction cannot take the write lock once another writer has moved past its snapshot
    ("database is locked"), so the read transaction ends first and the write begins holding the lock.
    """
    if writes_in_place(session):
        write(session)
        return
    if session.in_transaction() and (session.new or session.dirty or session.deleted):
        raise RuntimeError("write_beside on a reading session with unwritten changes")
    if session.get_bind().dialect.name != "sqlite":
        _write_now(session, write)
        return
    # SQLite waits for its write lock by sleeping and polling (1, 2, 5, 10 … ms), so under load a waiting writer
    # can lose for seconds. These writes queue instead: the requests of one process on a lock of their own, the
    # processes on a lock file beside the database (served by several processes); each is woken the moment the one
    # before it commits.
    with _SQLITE_BESIDE, _file_lock(session):
        if session.in_transaction():
            session.rollback()  # nothing was written: only the read snapshot ends
        _write_now(session, write)


_SQLITE_BESIDE = threading.Lock()


def _upserting_insert(session: Session, table: Table) -> Any:
    """The INSERT of the session's dialect that knows ON CONFLICT (SQLite's and PostgreSQL's spell it alike)."""
    module = sqlite_dialect if session.get_bind().dialect.name == "sqlite" else postgresql_dialect
    return module.insert(table)


def insert_skipping_existing(session: Session, table: Table) -> Insert:
    """INSERT of rows whose key may exist already: those are skipped (ON CONFLICT DO NOTHING, on both stores)."""
    return _upserting_insert(session, table).on_conflict_do_nothing()


def insert_or_add(
    session: Session,
    table: Table,
    *,
    key: Sequence[str],
    add: Sequence[str],
    replace: Sequence[str] = (),
    least: Sequence[str] = (),
    greatest: Sequence[str] = (),
) -> Insert:
    """INSERT that, where a row with the same `key` exists, adds the new `add` columns to it, takes the new
    `replace` columns, and keeps the smaller of `least` and the larger of `greatest` (ON CONFLICT DO UPDATE, on
    both stores): counters and running aggregates kept in one statement."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    smaller, larger = (func.min, func.max) if sqlite else (func.least, func.greatest)
    stmt = _upserting_insert(session, table)
    changes: dict[str, Any] = {name: table.c[name] + stmt.excluded[name] for name in add}
    changes.update({name: stmt.excluded[name] for name in replace})
    changes.update({name: smaller(table.c[name], stmt.excluded[name]) for name in least})
    changes.update({name: larger(table.c[name], stmt.excluded[name]) for name in greatest})
    return stmt.on_conflict_do_update(index_elements=list(key), set_=changes)


def insert_or_take_newer(session: Session, table: Table, *, key: list[str], newer: str) -> Insert:
    """INSERT that, where a row with the same `key` exists, takes the new row's other columns if its `newer` column
    is not older (ON CONFLICT DO UPDATE … WHERE, on both stores): the latest value of something."""
    stmt = _upserting_insert(session, table)
    changes = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key}
    return stmt.on_conflict_do_update(index_elements=key, set_=changes, where=stmt.excluded[newer] >= table.c[newer])


@dataclass(frozen=True)
class _Prepared:
    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order, for positional drivers (SQLite)
    dates: frozenset[str]  # the parameters bound to datetime columns


_PREPARED: dict[tuple[str, str], _Prepared] = {}


def execute_many(session: Session, key: str, build: Callable[[], ClauseElement], rows: Sequence[dict[str, Any]]) -> int:
    """Run `build()`'s statement once per row, handing the rows to the driver in one executemany; the rowcount.

    For hot write paths (telemetry), where SQLAlchemy's per-row parameter handling costs more than the database:
    the statement is compiled once per `key` and dialect (so one key, one shape of row), and values are passed as
    they are, except that the datetimes of datetime columns are stored as UTCDateTime stores them. So values must be
    plain: numbers, strings, None, aware datetimes; a column whose type converts values otherwise (JSON, enums) does
    not belong here."""
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    prepared = _PREPARED.get((key, dialect.name))
    if prepared is None:
        compiled = build().compile(dialect=dialect, column_keys=list(rows[0]))
        assert isinstance(compiled, SQLCompiler)
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        dates = frozenset(
            name for name, bind in compiled.binds.items() if isinstance(bind.type, UTCDateTime | DateTime)
        )
        prepared = _PREPARED[(key, dialect.name)] = _Prepared(compiled.string, order, dates)
    stored: dict[dt.datetime, Any] = {}  # rows share their times: convert each once

    def as_stored(value: dt.datetime | None) -> Any:
        if value is None:
            return None
        held = stored.get(value)
        if held is None:
            utc = value.astimezone(dt.UTC)
            # SQLAlchemy's SQLite DATETIME storage format, naive UTC; PostgreSQL takes the aware datetime
            held = stored[value] = utc.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else utc
        return held

    sqlite = dialect.name == "sqlite"
    dates = prepared.dates
    if prepared.order is not None:
        order = prepared.order
        if dates:
            positions = [i for i, name in enumerate(order) if name in dates]
            params: list[Any] = []
            for row in rows:
                values = [row[name] for name in order]
                for i in positions:
                    values[i] = as_stored(values[i])
                params.append(tuple(values))
        else:
            params = [tuple(row[name] for name in order) for row in rows]
    else:
        params = [{**row, **{name: as_stored(row[name]) for name in dates if name in row}} for row in rows]
    return int(connection.exec_driver_sql(prepared.sql, params).rowcount)


def writes_in_place(session: Session) -> bool:
    """Whether write_beside would write in the session's own transaction (it writes anyway) rather than commit at
    once beside it."""
    return bool(session.info.get(WRITES)) or _holds_sqlite_lock(session)


def _holds_sqlite_lock(session: Session) -> bool:
    """Whether the session's transaction already holds SQLite's write lock (another session on the same connection
    began it for writing, as the sessions of one unit of work or of a test's shared transaction do)."""
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return False
    return bool(session.connection().get_execution_options().get("sqlite_immediate"))


_LOCK_FILES: dict[str, int] = {}


@contextmanager
def _file_lock(session: Session) -> Iterator[None]:
    database = session.get_bind().engine.url.database
    if not database or database == ":memory:":
        yield
        return
    descriptor = _LOCK_FILES.get(database)
    if descriptor is None:  # under _SQLITE_BESIDE: one descriptor per database and process
        descriptor = _LOCK_FILES[database] = os.open(f"{database}-beside.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


_TURNS: dict[str, tuple[int, threading.Lock]] = {}  # per lock file: its descriptor, and the turn within the process


@contextmanager
def taking_turns(name: str) -> Iterator[None]:
    """Wait for the turn of `name` among this store's processes (SQLite only; a no-op elsewhere).

    SQLite has one writer at a time, and a writer that finds the lock taken sleeps in growing steps (up to 100 ms)
    before it tries again. Processes that write in a loop (the MQTT consumers sharing a subscription) queue on a file
    lock instead, which hands over the moment the holder is done."""
    engine = get_engine()
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    path = f"{database}-{name}.lock"
    with _SQLITE_BESIDE:
        if path not in _TURNS:
            _TURNS[path] = (os.open(path, os.O_RDWR | os.O_CREAT, 0o600), threading.Lock())
    descriptor, turn = _TURNS[path]
    with turn:  # flock is held per open file, so threads of one process queue here first
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _write_now(session: Session, write: Callable[[Session], object]) -> None:
    begin_for_writing(session)
    try:
        write(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(WRITES, None)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction that may write: commit when the block succeeds, roll back when it raises."""
    session = session_factory()()
    begin_for_writing(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def scratch_postgres_schema(url: str, prefix: str = "scratch") -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL schema of the server at `url`; the schema is dropped afterwards.

    For test suites and benchmarks that must not touch the database's existing tables.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = build_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    engine = build_engine(f"{url}{separator}options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
