"""A batch killed with SIGKILL while it writes leaves no rows, and running it again completes it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from smartcity import db as dbmod
from smartcity import migrate
from smartcity.demo import records
from smartcity.ingest.models import Batch, EntryTable, RejectedRow
from tests.conftest import PG_URL
from tests.factories import PERSON_CODE, make_person_entry

ROWS = 300_000
TABLE = "ds_330281_gaj_00001_v1"
HEADER = {
    "resident_id": "公民身份号码",
    "full_name": "姓名",
    "gender_code": "性别",
    "birth_date": "出生日期",
    "town_code": "所属乡镇（街道）",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, app: FastAPI) -> Iterator[tuple[Engine, str]]:
    """A migrated database of its own (the CLI runs in another process) and its URL."""
    previous = dbmod._engine, dbmod._factory
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
        engine = dbmod.build_engine(url)
        migrate.upgrade(engine)
        yield engine, url
        engine.dispose()
    else:
        with dbmod.scratch_postgres_schema(PG_URL, prefix="sc_crash") as engine:
            migrate.upgrade(engine)
            yield engine, engine.url.render_as_string(hide_password=False)
    dbmod._engine, dbmod._factory = previous


def _cli(url: str, data_dir: Path, csv: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SMARTCITY_DATABASE_URL": url, "SMARTCITY_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "ingest", str(csv), "--entry", PERSON_CODE],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _stage(engine: Engine) -> str | None:
    with Session(engine) as session:
        return session.scalars(select(Batch.stage)).first()


def test_kill_minus_nine_while_writing(store: tuple[Engine, str], tmp_path: Path) -> None:
    engine, url = store
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        make_person_entry(session)
    csv = tmp_path / "people.csv"
    frame = records.people(ROWS, seed=7).select(list(HEADER)).rename(HEADER)
    frame.write_csv(csv)

    process = _cli(url, tmp_path / "data", csv)
    deadline = time.monotonic() + 120
    while _stage(engine) != "writing":
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        assert time.monotonic() < deadline, "the batch never reached the writing stage"
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the write transaction: 300,000 rows take seconds to write
    assert process.poll() is None, "the batch finished before it could be killed; use more rows"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    with Session(engine) as session:
        batch = session.scalars(select(Batch)).one()
        assert (batch.status, batch.stage, batch.rows_inserted) == ("running", "writing", 0)
        assert session.scalar(select(EntryTable.id)) is None
        assert session.scalar(select(RejectedRow.id)) is None
    if inspect(engine).has_table(TABLE):
        with engine.connect() as conn:
            assert conn.execute(text(f'SELECT count(*) FROM "{TABLE}"')).scalar_one() == 0
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"

    again = _cli(url, tmp_path / "data", csv)
    output = again.communicate(timeout=300)[0].decode()
    assert again.returncode == 0, output
    assert f"batch {batch.id} committed: {ROWS} rows read" in output
    with Session(engine) as session:
        (done,) = session.scalars(select(Batch)).all()
        assert (done.id, done.status, done.rows_inserted, done.rows_rejected) == (batch.id, "committed", ROWS, 0)
    with engine.connect() as conn:
        assert conn.execute(text(f'SELECT count(*) FROM "{TABLE}"')).scalar_one() == ROWS
        assert conn.execute(text(f'SELECT count(DISTINCT resident_id) FROM "{TABLE}"')).scalar_one() == ROWS
