"""The IoT demo: a fleet at the plan's scale inside the city, readings the platform accepts (and the few it must
refuse), faults that cross the demo rules' thresholds, and a loader that registers everything through the
registry once, with a day of history."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.demo import iot_demo, load
from smartcity.demo.iot_fleet import fleet
from smartcity.demo.iot_simulator import WARNING_LEVEL_M, Readings, history, payload
from smartcity.iot import codec
from smartcity.iot.models import Device, Measurement, Rule
from smartcity.iot.vocab import BY_CODE, DEVICE_TYPES, Rejection
from smartcity.platform.geo import city_map
from smartcity.platform.identity.service import token_digest

SMALL = fleet("small")
READINGS = Readings(SMALL)
NOON = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)  # 12:00 in Yuyao


def test_the_fleet_has_the_plans_scale_and_every_device_lies_in_its_town() -> None:
    counts = Counter(d.type for d in SMALL)
    assert counts["wifi_ap"] == 4000  # 项目1
    assert set(counts) == {t.code for t in DEVICE_TYPES}
    assert len({d.code for d in SMALL}) == len(SMALL) == len({d.name for d in SMALL})
    city = city_map()
    assert all(city.town_at(d.longitude, d.latitude) == d.town_code for d in SMALL)
    gauge_towns = {d.name.split("段")[0] for d in SMALL if d.type == "water_level_gauge"}
    assert {"姚江马渚镇", "姚江丈亭镇", "姚江河姆渡镇"} <= gauge_towns
    assert fleet("small") == SMALL  # a function of the scale: the loader and the simulator agree
    assert len(fleet("full")) > len(SMALL)


@pytest.mark.parametrize("type_code", sorted(BY_CODE))
def test_every_reading_of_a_day_is_one_the_platform_accepts(type_code: str) -> None:
    devices = [d for d in SMALL if d.type == type_code][:12]
    limits = codec.Limits(max_ahead=dt.timedelta(days=400), max_age=dt.timedelta(days=400))
    for step in range(48):
        at = NOON + dt.timedelta(minutes=30 * step)
        for device in devices:
            body = payload(device, "scd_demo", at, READINGS.values(device, at))
            if device.code == READINGS.out_of_range:
                with pytest.raises(codec.Refused) as refused:
                    codec.decode(body, BY_CODE[type_code], now=at, limits=limits)
                assert refused.value.reason is Rejection.OUT_OF_RANGE
                continue
            (observation,) = codec.decode(body, BY_CODE[type_code], now=at, limits=limits)
            assert observation.token == "scd_demo" and observation.observed_at == at


def _in_fault(kind: str) -> tuple[str, dt.datetime]:
    """A device with a fault of `kind` and the moment of its crest."""
    fault = next(f for f in READINGS.faults.values() if f.kind == kind)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + 10 * fault.cycle
    return fault.device, base + fault.start + fault.length / 2


@pytest.mark.parametrize(
    ("kind", "holds"),
    [
        ("trapped", lambda v: v["trappedPassenger"] is True and v["speed"] == 0.0),
        ("flood", lambda v: v["currentLevel"] > WARNING_LEVEL_M),
        ("cover_open", lambda v: v["coverOpen"] is True and v["tiltAngle"] > 15),
        ("smog", lambda v: v["pm25"] > 115),
        ("ap_down", lambda v: v["apState"] == "down"),
        ("congestion", lambda v: v["congested"] is True),
    ],
)
def test_faults_cross_the_thresholds_of_the_demo_rules_and_end(kind: str, holds: object) -> None:
    code, crest = _in_fault(kind)
    device = READINGS.devices[code]
    assert callable(holds)
    assert holds(READINGS.values(device, crest))
    fault = READINGS.faults[code]
    after = crest + fault.length / 2 + dt.timedelta(minutes=1)  # just past the end of this cycle's fault
    assert READINGS.fault(code, after) is None
    assert not holds(READINGS.values(device, after))


def test_history_comes_in_messages_within_the_size_limit() -> None:
    devices = [d for d in SMALL if d.type in iot_demo.HISTORY_HOURS][:40]
    credentials = {d.code: "scd_demo" for d in devices}
    count = 0
    for code, body, _ in history(READINGS, devices, credentials, end=NOON, hours=24, max_bytes=4096):
        assert len(body) <= 4096
        observations = codec.decode(body, BY_CODE[READINGS.devices[code].type], now=NOON, limits=codec.Limits())
        assert all(o.observed_at < NOON for o in observations)
        count += len(observations)
    per_day = {t: 24 * 60 // BY_CODE[t].report_minutes for t in iot_demo.HISTORY_HOURS}
    assert count == sum(per_day[d.type] for d in devices)


def test_loading_registers_the_fleet_and_its_rules_once(db: Session) -> None:
    load.load_base()  # the departments that own the devices
    first = iot_demo.load()
    assert first.created == len(SMALL) == first.devices and first.rules_created == len(iot_demo.RULES)
    hours = iot_demo.HISTORY_HOURS
    expected = sum(hours[d.type] * 60 // BY_CODE[d.type].report_minutes for d in SMALL if d.type in hours)
    assert first.observations == expected
    assert db.scalar(select(func.count()).select_from(Device)) == len(SMALL)
    assert db.scalar(select(func.count()).select_from(Rule)) == len(iot_demo.RULES)
    assert db.scalar(select(func.count(func.distinct(Measurement.device_id)))) == sum(
        1 for d in SMALL if d.type in hours
    )
    path = iot_demo.credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    scale, credentials = iot_demo.read_credentials()
    gauge = db.scalars(select(Device).where(Device.code == "YJ-SW-0001")).one()
    assert scale == "small" and token_digest(credentials["YJ-SW-0001"]) == gauge.secret_hash

    again = iot_demo.load()
    assert (again.created, again.rules_created, again.observations) == (0, 0, 0)

    # a credentials file that does not match the store (lost, or another store's): those devices get new ones
    document = json.loads(path.read_text(encoding="utf-8"))
    document["credentials"]["YJ-SW-0001"] = "scd_not-this-one"
    del document["credentials"]["YY-AP-0001"]
    path.write_text(json.dumps(document), encoding="utf-8")
    iot_demo.load()
    _, credentials = iot_demo.read_credentials()
    db.expire_all()
    for code in ("YJ-SW-0001", "YY-AP-0001"):
        device = db.scalars(select(Device).where(Device.code == code)).one()
        assert token_digest(credentials[code]) == device.secret_hash


@pytest.mark.parametrize(
    ("arguments", "code", "words"),
    [
        ([], 2, "simulate: name the broker with --url or SMARTCITY_MQTT_URL"),
        (["--url", "http://127.0.0.1:1883"], 2, "an MQTT broker URL is mqtt://host:port"),
        (["--url", "mqtt://127.0.0.1:1883"], 1, "no demo fleet; run `smartcity demo load` first"),
    ],
)
def test_the_simulate_command_says_what_it_lacks(tmp_path: Path, arguments: list[str], code: int, words: str) -> None:
    env = {**os.environ, "SMARTCITY_DATA_DIR": str(tmp_path), "SMARTCITY_MQTT_URL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "smartcity.cli", "demo", "simulate", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code and words in " ".join((done.stdout + done.stderr).split()), done.stderr
