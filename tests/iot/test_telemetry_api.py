"""Telemetry over HTTP: a device posts JSON or the compact text format with its own credential; values are stored
once however often a message comes; every refused message is answered with its reason as problem+json, counted
for the device (and visible in the API), and stores nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.iot import telemetry
from smartcity.iot.models import Device, Measurement
from smartcity.platform.permissions import Role
from tests.factories import auth, make_token, make_user, principal
from tests.iot.world import GAUGE, LIFT, World, build

URL = "/api/v1/iot/telemetry/"


@pytest.fixture
def world(db: Session) -> Iterator[World]:
    telemetry.FLOOD.clear()
    yield build(db)
    telemetry.FLOOD.clear()


def _stamp(minutes_ago: int = 0) -> str:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return when.isoformat(timespec="milliseconds")


def _stored(db: Session, code: str = GAUGE) -> int:
    return db.scalar(select(func.count()).select_from(Measurement).join(Device).where(Device.code == code)) or 0


def test_json_with_the_credential_in_the_header_is_stored_once(client: TestClient, db: Session, world: World) -> None:
    body = {"ts": _stamp(1), "values": {"currentLevel": 2.41, "batteryLevel": 0.87}}
    for _ in range(2):  # the same message twice (a retry): stored once
        answer = client.post(URL + GAUGE, json=body, headers=auth(world.gauge_credential))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"observations": 1, "values": 2}
    assert _stored(db) == 2
    device = db.scalars(select(Device).where(Device.code == GAUGE)).one()
    db.refresh(device)
    assert device.battery_level == 0.87 and device.last_seen_at is not None and device.accepted == 2
    token = make_token(db, world.slj, ["iot.read"])
    series = client.get(f"/api/v1/iot/devices/{GAUGE}/series", params={"name": "currentLevel"}, headers=auth(token))
    assert series.status_code == 200
    assert [p["value"] for p in series.json()["points"]] == [2.41] and series.json()["unit"] == "m"
    shown = client.get(f"/api/v1/iot/devices/{GAUGE}", headers=auth(token)).json()
    assert shown["health"] == "online" and shown["battery_level"] == 0.87


def test_the_compact_text_format_carries_its_own_credential(client: TestClient, db: Session, world: World) -> None:
    line = f"{world.lift_credential}||currentFloor=12,inMotion=1,doorOpen=0,trappedPassenger=false"
    answer = client.post(URL + LIFT, content=line, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200 and answer.json() == {"observations": 1, "values": 4}
    assert _stored(db, LIFT) == 4


@pytest.mark.parametrize(
    ("code", "payload", "credential", "status", "slug"),
    [
        (GAUGE, '{"values": {"currentLevel": 1}}', "scd_wrong", 401, "telemetry-bad-credentials"),
        (GAUGE, '{"values": {"currentLevel": 1}}', None, 401, "telemetry-bad-credentials"),
        ("NO-SUCH-01", '{"values": {"currentLevel": 1}}', "scd_x", 404, "telemetry-unknown-device"),
        (GAUGE, '{"values": {"currentLevel": ', "gauge", 400, "telemetry-malformed"),
        (GAUGE, '{"values": {"currentLevel": "high"}}', "gauge", 422, "telemetry-wrong-type"),
        (GAUGE, '{"values": {"pm25": 3}}', "gauge", 422, "telemetry-unknown-measure"),
        (GAUGE, '{"ts": "2031-01-01T00:00:00Z", "values": {"currentLevel": 1}}', "gauge", 422, "telemetry-future-time"),
        (GAUGE, "gauge||currentLevel=1," + "x" * 5000, "gauge", 413, "telemetry-too-large"),
    ],
)
def test_a_refused_message_names_its_reason_is_counted_and_stores_nothing(
    client: TestClient,
    db: Session,
    world: World,
    code: str,
    payload: str,
    credential: str | None,
    status: int,
    slug: str,
) -> None:
    presented = world.gauge_credential if credential == "gauge" else credential
    headers = auth(presented) if presented else {}
    answer = client.post(URL + code, content=payload, headers=headers)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == f"/problems/{slug}" and problem["errors"][0]["field"] == "payload"
    assert _stored(db) == 0
    if code == GAUGE:
        token = make_token(db, world.slj, ["iot.read"])
        counted = client.get("/api/v1/iot/rejections", params={"device": code}, headers=auth(token)).json()
        assert [(r["reason"], r["count"]) for r in counted] == [(slug.removeprefix("telemetry-").replace("-", "_"), 1)]
        assert client.get(f"/api/v1/iot/devices/{code}", headers=auth(token)).json()["rejected"] == 1
    assert client.get(problem["type"]).status_code == 200  # the problem type is documented


def test_a_disabled_device_and_a_flooding_device_are_refused(
    client: TestClient, db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "iot_device_burst", 3)
    monkeypatch.setattr(get_settings(), "iot_device_rate", 0.01)
    answers = [
        client.post(
            URL + GAUGE,
            json={"ts": _stamp(m), "values": {"currentLevel": 1.0}},
            headers=auth(world.gauge_credential),
        )
        for m in range(5)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[-1].headers["retry-after"] == "1"
    assert _stored(db) == 3
    db.scalars(select(Device).where(Device.code == LIFT)).one().status = "disabled"
    db.flush()
    refused = client.post(URL + LIFT, content=f"{world.lift_credential}||currentFloor=1")
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/telemetry-disabled"


def test_a_department_sees_its_own_devices_refusals_only(client: TestClient, db: Session, world: World) -> None:
    client.post(URL + LIFT, content="scd_wrong||currentFloor=1")
    client.post(URL + "GHOST-0001", content="scd_wrong||currentFloor=1")
    slj = make_token(db, world.slj, ["iot.read"])
    scj = make_token(db, world.scj, ["iot.read"])
    assert client.get("/api/v1/iot/rejections", headers=auth(slj)).json() == []
    assert [r["device_code"] for r in client.get("/api/v1/iot/rejections", headers=auth(scj)).json()] == [LIFT]
    admin_codes = {r["device_code"] for r in client.get("/api/v1/iot/rejections", headers=auth(_admin(db))).json()}
    assert admin_codes == {LIFT, "GHOST-0001"}


def _admin(db: Session) -> str:
    return make_token(db, principal(make_user(db, "iot_root", Role.PLATFORM_ADMIN)), ["iot.read", "iot.oversee"])
