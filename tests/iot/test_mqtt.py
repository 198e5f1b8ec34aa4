"""Telemetry over MQTT through the real broker (Mosquitto, SMARTCITY_TEST_MQTT_URL): the consumer stores what
devices publish and counts what it refuses; killed with SIGKILL mid-stream and started again on the same session,
it has stored every message once, none lost and none twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from smartcity import db as dbmod
from smartcity.iot import service, telemetry
from smartcity.iot.models import Device, Measurement, RejectionCount
from smartcity.iot.mqtt import Consumer, device_code
from smartcity.iot.schemas import DeviceIn
from smartcity.platform.permissions import Role
from tests.factories import make_department, make_user, principal
from tests.iot.conftest import BROKER, MQTT_URL

START = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)


def _devices(count: int) -> dict[str, str]:
    """Register `count` water-level gauges; their credentials by code."""
    with dbmod.unit_of_work() as session:
        make_department(session, "SLJ", "余姚市水利局")
        slj = principal(make_user(session, "slj_mqtt", Role.DEPT_ADMIN, "SLJ"))
        return {
            code: service.register_device(
                session, by=slj, data=DeviceIn(code=code, name=f"水位计{code}", type="water_level_gauge")
            ).credential
            for code in (f"YJ-WL-{n:04d}" for n in range(1, count + 1))
        }


def _publisher() -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5)
    client.connect(BROKER.host, BROKER.port)
    client.loop_start()
    return client


def _publish(client: paho.Client, prefix: str, messages: list[tuple[str, str]]) -> None:
    infos = [client.publish(f"{prefix}/devices/{code}/telemetry", payload, qos=1) for code, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=10)


def _stream(credentials: dict[str, str], per_device: int) -> list[tuple[str, str]]:
    """`per_device` observations of each device a minute apart, in the compact text format."""
    messages = []
    for minute in range(per_device):
        millis = int((START + dt.timedelta(minutes=minute)).timestamp() * 1000)
        for code, credential in credentials.items():
            messages.append((code, f"{credential}|{millis}|currentLevel={1 + minute / 100:.2f}"))
    return messages


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Measurement)) or 0


def test_device_code_comes_from_the_topic() -> None:
    assert device_code("smartcity/devices/YJ-WL-0001/telemetry", "smartcity") == "YJ-WL-0001"
    assert device_code("yuyao/iot/devices/A-1/telemetry", "yuyao/iot") == "A-1"
    for topic in ("smartcity/devices//telemetry", "smartcity/devices/A/status", "other/devices/A/telemetry"):
        assert device_code(topic, "smartcity") is None


@pytest.mark.usefixtures("app")
def test_what_devices_publish_is_stored_and_what_is_refused_is_counted(committed: Engine, prefix: str) -> None:
    telemetry.FLOOD.clear()
    credentials = _devices(3)
    consumer = Consumer(BROKER, prefix=prefix, client_id=f"{prefix}-ingest", batch_size=50)
    consumer.connect()
    publisher = _publisher()
    try:
        good = _stream(credentials, 20)
        bad = [("YJ-WL-0001", "scd_forged||currentLevel=1"), ("YJ-WL-0002", "{broken"), ("NO-SUCH", "x||a=1")]
        _publish(publisher, prefix, good + bad)
        deadline = time.monotonic() + 30
        while consumer.stats.received < len(good) + len(bad) and time.monotonic() < deadline:
            consumer.step(timeout=0.5)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        consumer.close()
    assert consumer.stats.accepted == 60 and consumer.stats.refused == 3
    assert _stored(committed) == 60
    with Session(committed) as session:
        reasons = dict(session.execute(select(RejectionCount.device_code, RejectionCount.reason)).all())
        assert reasons == {"YJ-WL-0001": "bad_credentials", "YJ-WL-0002": "malformed", "NO-SUCH": "unknown_device"}
        gauge = session.scalars(select(Device).where(Device.code == "YJ-WL-0001")).one()
        assert gauge.accepted == 20 and gauge.rejected == 1 and gauge.last_seen_at is not None


@pytest.mark.usefixtures("app")
def test_killed_mid_stream_and_started_again_it_stores_every_message_once(committed: Engine, prefix: str) -> None:
    """SIGKILL while batches are being stored: what was committed is acknowledged, what was not is delivered again
    on the same session and stored once. (Kept under Mosquitto's default per-client queue of 1000.)"""
    telemetry.FLOOD.clear()
    credentials = _devices(20)
    stream = _stream(credentials, 40)  # 800 messages
    env = {
        **os.environ,
        "SMARTCITY_DATABASE_URL": committed.url.render_as_string(hide_password=False),
        "SMARTCITY_IOT_DEVICE_RATE": "1000",
        "SMARTCITY_IOT_DEVICE_BURST": "1000",
    }
    command = [
        sys.executable, "-m", "smartcity.cli", "iot", "consume", "--url", MQTT_URL, "--prefix", prefix,
        "--client-id", f"{prefix}-ingest", "--batch-size", "25",
    ]  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        assert process.stderr is not None
        line = process.stderr.readline().decode()  # "consuming telemetry …" once subscribed
        assert "consuming telemetry" in line, line
        return process

    first = start()
    publisher = _publisher()
    try:
        _publish(publisher, prefix, stream)
        deadline = time.monotonic() + 60
        while _stored(committed) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = _stored(committed)
        assert 0 < killed_at < len(stream), "the kill came mid-stream"
        second = start()
        deadline = time.monotonic() + 90
        while _stored(committed) < len(stream) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # anything delivered twice would arrive by now
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        for process in (first,):
            if process.poll() is None:
                process.kill()
    assert _stored(committed) == len(stream)
    with Session(committed) as session:
        per_device = dict(
            session.execute(
                select(Device.code, func.count(Measurement.observed_at)).join(Measurement).group_by(Device.code)
            ).all()
        )
        assert per_device == dict.fromkeys(credentials, 40)
        assert session.scalar(select(func.count()).select_from(RejectionCount)) == 0


def _forget(client_id: str) -> None:
    """Drop a persistent session from the shared broker (a clean start discards it)."""
    cleaner = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    cleaner.connect(BROKER.host, BROKER.port, clean_start=True)
    cleaner.loop_start()
    time.sleep(0.2)
    cleaner.disconnect()
    cleaner.loop_stop()


@pytest.mark.usefixtures("app")
def test_consumers_sharing_a_subscription_split_the_stream_and_store_it_once(committed: Engine, prefix: str) -> None:
    telemetry.FLOOD.clear()
    credentials = _devices(10)
    ids = (f"{prefix}-ingest", f"{prefix}-ingest-2")
    consumers = [Consumer(BROKER, prefix=prefix, client_id=i, batch_size=20, share="ingest") for i in ids]
    for consumer in consumers:
        consumer.connect()
    publisher = _publisher()
    stream = _stream(credentials, 30)  # 300 messages
    try:
        _publish(publisher, prefix, stream)
        deadline = time.monotonic() + 30
        while sum(c.stats.received for c in consumers) < len(stream) and time.monotonic() < deadline:
            for consumer in consumers:
                consumer.step(timeout=0.05)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        for consumer in consumers:
            consumer.close()
        _forget(ids[1])
    received = [c.stats.received for c in consumers]
    assert sum(received) == len(stream) and min(received) > 0, received  # each took a share, none twice
    assert _stored(committed) == len(stream)
