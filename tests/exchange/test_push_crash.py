"""Pushes survive the platform being killed: a worker process sending ten deliveries is stopped with SIGKILL in the
middle, a new worker process sends the rest, and the receiver ends with every delivery and every row exactly once
(counted by `webhook-id`, as receivers are told to)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from smartcity import db as dbmod
from smartcity import migrate
from smartcity.demo import records
from smartcity.exchange import push, sharing
from smartcity.exchange.models import Delivery
from smartcity.exchange.schemas import DecisionIn, RequestIn, SubscriptionIn
from smartcity.exchange.vocab import DeliveryStatus
from smartcity.ingest import pipeline
from smartcity.ingest import service as batches
from smartcity.ingest.vocab import Source
from smartcity.platform.permissions import Role
from tests.conftest import PG_URL
from tests.exchange.receiver import receiver
from tests.exchange.world import FIELDS
from tests.factories import make_department, make_entry, make_user, principal, store_text

CODE = "330281-GAJ-00071"
ROWS = 5_000  # ten deliveries of 500 rows


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, app: FastAPI) -> Iterator[tuple[Engine, str]]:
    previous = dbmod._engine, dbmod._factory
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'push.db'}"
        engine = dbmod.build_engine(url)
        migrate.upgrade(engine)
        yield engine, url
        engine.dispose()
    else:
        with dbmod.scratch_postgres_schema(PG_URL, prefix="sc_push") as engine:
            migrate.upgrade(engine)
            yield engine, engine.url.render_as_string(hide_password=False)
    dbmod._engine, dbmod._factory = previous


def _worker(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SMARTCITY_DATABASE_URL": url, "SMARTCITY_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "worker", "--poll", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def _delivered(engine: Engine) -> int:
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.DELIVERED)
            )
            or 0
        )


def test_kill_minus_nine_while_pushing(store: tuple[Engine, str], tmp_path: Path) -> None:
    engine, url = store
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        make_department(session, "GAJ", "余姚市公安局")
        make_department(session, "MZJ", "余姚市民政局")
        gaj = principal(make_user(session, "gaj_push", Role.DEPT_ADMIN, "GAJ"))
        mzj = principal(make_user(session, "mzj_push", Role.DEPT_ADMIN, "MZJ"))
        make_entry(session, code=CODE, name="常住人口信息（推送崩溃测试）", fields=FIELDS)
        asked = sharing.create_request(
            session,
            by=mzj,
            data=RequestIn(
                entry_code=CODE,
                purpose="低保家庭人口核对",
                legal_basis="《社会救助暂行办法》",
                fields=["resident_id", "town_code"],
                plain=True,
                valid_until=dt.date.today() + dt.timedelta(days=9),
            ),
        )
        grant = sharing.decide_request(session, by=gaj, number=asked.number, data=DecisionIn(approve=True)).grant
    with receiver() as hook:
        hook.delay = 0.15
        with dbmod.unit_of_work() as session:
            push.create_subscription(session, by=mzj, data=SubscriptionIn(grant=grant or "", url=hook.url))
        people = records.people(ROWS, seed=71).select("resident_id", "full_name", "gender_code", "town_code")
        with dbmod.unit_of_work() as session:
            stored = store_text(people.write_csv(), "people.csv")
            batch = batches.submit_batch(
                session, by=gaj, code=CODE, stored=stored, source=Source.CLI, enqueue=False
            ).batch.id
        pipeline.process_batch(batch)  # the reaction to the stored batch is now a job in the outbox

        first = _worker(url, tmp_path)
        deadline = time.monotonic() + 60
        while len(hook.received) < 3:
            assert first.poll() is None and time.monotonic() < deadline, "the first worker did not start pushing"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert _delivered(engine) < 10, "the kill came too late to test anything"

        second = _worker(url, tmp_path)
        try:
            deadline = time.monotonic() + 90
            while _delivered(engine) < 10:
                assert second.poll() is None and time.monotonic() < deadline, f"{_delivered(engine)} of 10 delivered"
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(timeout=20)
        messages = {r.headers["webhook-id"]: json.loads(r.body) for r in hook.received}
        rows = [row["resident_id"] for body in messages.values() for row in body["data"]["rows"]]
    assert len(messages) == 10  # at least once; repeats of a message carry the same webhook-id
    assert len(rows) == len(set(rows)) == ROWS
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 10
