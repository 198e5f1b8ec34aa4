"""Scheduled pulls from a department database: a real PostgreSQL source, on both stores of the hub."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from smartcity.db import scratch_postgres_schema
from smartcity.ingest import pulls
from smartcity.ingest.models import Batch, PullSource
from smartcity.ingest.schemas import PullIn, PullUpdate
from smartcity.ingest.service import BATCH_STORED
from smartcity.platform import events
from smartcity.platform.errors import NotFound
from smartcity.platform.jobs.models import Job
from smartcity.platform.jobs.worker import run_until_idle
from tests.conftest import PG_URL
from tests.factories import PERSON_CODE, add_rules, make_person_entry, make_town, resident_id, root

ZHANG = resident_id("19520120", 582)
LI = resident_id("19831008", 29)
QUERY = (
    "SELECT sfzh AS resident_id, xm AS full_name, xb AS gender_code, csrq AS birth_date, lxdh AS phone "
    "FROM hk_people ORDER BY sfzh"
)


@pytest.fixture
def source() -> Iterator[tuple[Engine, str]]:
    """A department's own PostgreSQL database: a household-registration table with its own column names."""
    with scratch_postgres_schema(PG_URL, prefix="dept_src") as engine:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE hk_people (sfzh text, xm text, xb text, csrq date, lxdh text)"))
            conn.execute(text("CREATE SEQUENCE hk_seq"))
            conn.execute(
                text(
                    "INSERT INTO hk_people VALUES (:a, '张三', '2', '1952-01-20', '13800001111'), "
                    "(:b, '李四', '1', :d, '12345')"
                ),
                {"a": ZHANG, "b": LI, "d": dt.date(1983, 10, 8)},
            )
        yield engine, engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg", "postgresql")


@pytest.fixture
def pull(db: Session, source: tuple[Engine, str]) -> PullSource:
    make_town(db)
    make_person_entry(db)
    add_rules(db)
    created = pulls.create_pull(
        db,
        by=root(),
        data=PullIn(name="户籍库", entry_code=PERSON_CODE, url=source[1], query=QUERY, every_minutes=60),
    )
    db.flush()
    return created


def test_a_pull_reads_the_source_and_lands_as_a_batch(
    db: Session, pull: PullSource, source: tuple[Engine, str]
) -> None:
    batch_id = pulls.run_pull(pull.id)
    db.expire_all()
    batch = db.get(Batch, batch_id)
    assert batch is not None and batch.source == "pull" and batch.status == "committed"
    assert (batch.rows_total, batch.rows_inserted, batch.rows_rejected) == (2, 1, 1)
    assert batch.mapping == {
        "resident_id": "resident_id",
        "full_name": "full_name",
        "gender_code": "gender_code",
        "birth_date": "birth_date",
        "phone": "phone",
    }
    refreshed = db.get(PullSource, pull.id)
    assert refreshed is not None and refreshed.last_batch_id == batch_id and refreshed.last_error == ""
    assert refreshed.next_run_at > refreshed.last_run_at  # type: ignore[operator]

    assert pulls.run_pull(pull.id) == batch_id, "the same data again changes nothing"
    assert db.scalar(select(func.count()).select_from(Batch)) == 1

    with source[0].begin() as conn:
        conn.execute(text("UPDATE hk_people SET lxdh = '13912345678' WHERE sfzh = :b"), {"b": LI})
    second = pulls.run_pull(pull.id)
    db.expire_all()
    changed = db.get(Batch, second)
    assert changed is not None and second != batch_id
    assert (changed.rows_inserted, changed.rows_unchanged, changed.rows_rejected) == (1, 1, 0)


def test_due_pulls_are_queued_and_run_by_the_worker(db: Session, pull: PullSource) -> None:
    assert pulls.enqueue_due() == 1
    assert pulls.enqueue_due() == 0, "a pull is queued once per period"
    assert db.scalar(select(func.count()).select_from(Job).where(Job.kind == pulls.RUN_JOB)) == 1
    # The batch, then each module's reaction to its stored rows (exchange pushes).
    assert run_until_idle() == 1 + len(events.REACTIONS[BATCH_STORED])
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Batch).where(Batch.status == "committed")) == 1


def test_a_broken_source_is_recorded_on_the_pull(db: Session, pull: PullSource) -> None:
    pulls.update_pull(db, by=root(), pull_id=pull.id, data=PullUpdate(query="SELECT * FROM no_such_table"))
    with pytest.raises(pulls.SourceUnavailable, match="no_such_table"):
        pulls.run_pull(pull.id)
    db.expire_all()
    assert "no_such_table" in db.get(PullSource, pull.id).last_error  # type: ignore[union-attr]
    assert db.scalar(select(func.count()).select_from(Batch)) == 0


def test_the_source_is_read_in_a_read_only_transaction(
    db: Session, pull: PullSource, source: tuple[Engine, str]
) -> None:
    # A SELECT can still write (nextval advances a sequence); the read-only transaction refuses it.
    with pytest.raises(pulls.SourceUnavailable, match="read-only"):
        pulls.extract(source[1], "SELECT nextval('hk_seq')", "x.csv")
    with pytest.raises(Exception, match="only read"):
        pulls.check_query("WITH d AS (DELETE FROM hk_people RETURNING *) SELECT * FROM d")
    with source[0].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hk_people")).scalar_one() == 2


def test_an_operator_finds_a_pull_by_name_or_number(db: Session, pull: PullSource) -> None:
    assert pulls.find_pull(db, "户籍库").id == pull.id
    assert pulls.find_pull(db, str(pull.id)).name == "户籍库"
    with pytest.raises(NotFound) as caught:
        pulls.find_pull(db, "社保库")
    assert caught.value.localised_detail("en") == "No pull 社保库."
