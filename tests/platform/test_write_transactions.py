"""A transaction that reads, then writes, while another process commits in between (the worker beside a request)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text
from sqlalchemy.orm import Session

from smartcity import db as dbmod
from tests.conftest import PG_URL


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = dbmod.build_engine(f"sqlite:///{tmp_path / 'locks.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")
    yield engine
    engine.dispose()


def _bump_elsewhere(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE counter SET n = n + 1 WHERE id = 1")


def test_a_deferred_transaction_cannot_write_after_another_commit(sqlite_engine: Engine) -> None:
    session = Session(sqlite_engine)
    assert session.execute(text("SELECT n FROM counter")).scalar_one() == 0
    _bump_elsewhere(sqlite_engine)
    with pytest.raises(exc.OperationalError, match="locked"):
        session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
    session.close()


def test_a_transaction_begun_for_writing_keeps_its_snapshot_and_the_other_writer_waits(sqlite_engine: Engine) -> None:
    session = Session(sqlite_engine)
    dbmod.begin_for_writing(session)
    assert session.execute(text("SELECT n FROM counter")).scalar_one() == 0
    other = threading.Thread(target=_bump_elsewhere, args=(sqlite_engine,))
    other.start()
    other.join(timeout=0.5)
    assert other.is_alive(), "the other writer waits for the lock instead of moving the snapshot"
    session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
    session.commit()
    other.join(timeout=10)
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 11


def test_begin_for_writing_is_a_no_op_on_postgresql() -> None:
    with dbmod.scratch_postgres_schema(PG_URL, prefix="sc_locks") as engine:
        session = Session(engine)
        dbmod.begin_for_writing(session)
        assert not session.in_transaction()
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        session.close()


def test_a_reading_transaction_writes_beside_itself_after_another_commit(sqlite_engine: Engine) -> None:
    """The audit entry of a read (or a token's last use): a session that has only read ends its read transaction,
    writes holding the lock and commits at once, so no lock is held while the request builds its answer."""
    previous = dbmod._engine, dbmod._factory
    dbmod.configure(sqlite_engine)
    try:
        session = dbmod.session_factory()()
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 0
        _bump_elsewhere(sqlite_engine)
        dbmod.write_beside(session, lambda writer: writer.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1")))
        other = threading.Thread(target=_bump_elsewhere, args=(sqlite_engine,))
        other.start()
        other.join(timeout=5)
        assert not other.is_alive(), "the write was committed at once: nobody waits for the reading request"
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 12
        session.rollback()
        writing = dbmod.session_factory()()
        dbmod.begin_for_writing(writing)  # a session that writes anyway writes in place, with the rest
        dbmod.write_beside(writing, lambda writer: writer.execute(text("UPDATE counter SET n = n + 100 WHERE id = 1")))
        assert writing.execute(text("SELECT n FROM counter")).scalar_one() == 112
        writing.rollback()
        with sqlite_engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 12
    finally:
        dbmod._engine, dbmod._factory = previous
