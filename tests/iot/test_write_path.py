"""The ingest's write path: rows handed to the driver directly read back exactly as SQLAlchemy would have written
them, and a batch that repeats a value (a redelivery inside one batch) stores it, and rolls it up, once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.db import execute_many, insert_or_take_newer
from smartcity.iot import telemetry
from smartcity.iot.models import Device, Latest, Measurement, Rollup
from tests.iot.world import GAUGE, build

WHEN = dt.datetime.now(dt.UTC).replace(microsecond=123456) - dt.timedelta(hours=1)


def test_rows_written_through_the_driver_read_back_as_written(db: Session) -> None:
    build(db)
    gauge = db.scalars(select(Device).where(Device.code == GAUGE)).one()
    table = Latest.__table__
    row = {"device_id": gauge.id, "name": "currentLevel", "observed_at": WHEN, "number": 2.5, "text": None}
    build_stmt = lambda: insert_or_take_newer(db, table, key=["device_id", "name"], newer="observed_at")  # noqa: E731
    assert execute_many(db, "test.latest", build_stmt, [row]) == 1
    older = {**row, "observed_at": WHEN - dt.timedelta(seconds=1), "number": 9.9}
    execute_many(db, "test.latest", build_stmt, [older])  # compared as stored: the older one does not win
    db.expire_all()
    latest = db.scalars(select(Latest).where(Latest.device_id == gauge.id)).one()
    assert (latest.observed_at, latest.number) == (WHEN, 2.5)
    assert latest.observed_at.tzinfo is not None and latest.observed_at.microsecond == 123456


def test_a_value_twice_in_one_batch_is_stored_and_rolled_up_once(db: Session) -> None:
    telemetry.FLOOD.clear()
    world = build(db)
    line = f"{world.gauge_credential}|{int(WHEN.timestamp() * 1000)}|currentLevel=2.40".encode()
    again = f"{world.gauge_credential}|{int(WHEN.timestamp() * 1000) + 60_000}|currentLevel=2.60".encode()
    batch = [telemetry.Message(GAUGE, line), telemetry.Message(GAUGE, again), telemetry.Message(GAUGE, line)]
    results = telemetry.ingest(db, batch, now=WHEN + dt.timedelta(minutes=2))
    assert all(isinstance(r, telemetry.Accepted) for r in results)
    assert db.scalar(select(func.count()).select_from(Measurement)) == 2
    hour = db.scalars(select(Rollup).where(Rollup.seconds == 3600)).all()
    assert sum(r.count for r in hour) == 2 and sum(r.total for r in hour) == 5.0
    telemetry.ingest(db, [telemetry.Message(GAUGE, again)], now=WHEN + dt.timedelta(minutes=3))  # a later redelivery
    db.expire_all()
    assert sum(r.count for r in db.scalars(select(Rollup).where(Rollup.seconds == 3600))) == 2
    telemetry.FLOOD.clear()
