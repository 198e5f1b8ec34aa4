"""Shared fixtures: the app, a migrated database on SQLite and PostgreSQL, one rolled-back transaction per test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from smartcity import db as dbmod
from smartcity import migrate
from smartcity.app import create_app

PG_URL = os.environ.get("SMARTCITY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Uploaded test files go to a scratch folder, never to the repository's var/.
os.environ.setdefault("SMARTCITY_DATA_DIR", tempfile.mkdtemp(prefix="smartcity-test-"))


@pytest.fixture(scope="session")
def app() -> FastAPI:
    """The application with every module (also fills the permission registry)."""
    return create_app()


def _sqlite_engine(folder: Path) -> Engine:
    engine = dbmod.build_engine(f"sqlite:///{folder / 'test.db'}")
    migrate.upgrade(engine)
    return engine


@contextmanager
def migrated(kind: str, folder: Path, prefix: str = "sc_test") -> Iterator[Engine]:
    """A database migrated by the real migrations: an SQLite file in `folder`, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        engine = _sqlite_engine(folder)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with dbmod.scratch_postgres_schema(PG_URL, prefix=prefix) as engine:
        migrate.upgrade(engine)
        yield engine


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database migrated by the real migrations: an SQLite file, and a fresh PostgreSQL schema."""
    with migrated(request.param, tmp_path_factory.mktemp("sqlite")) as engine:
        yield engine


@pytest.fixture
def db(app: FastAPI, engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; the app's requests join it."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    dbmod.use_session_factory(factory)
    session = factory()
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def dialect(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    """An HTTP client for the app, sharing the test's transaction."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store of its own whose sessions really commit (the shared test transaction would hide it), for
    tests of threads and processes that each open their own sessions."""
    previous = dbmod._engine, dbmod._factory
    with migrated(request.param, tmp_path, prefix="sc_committed") as engine:
        dbmod.configure(engine)
        try:
            yield engine
        finally:
            dbmod._engine, dbmod._factory = previous
