"""The development broker `smartcity serve` starts when no broker is configured: devices publish to it and the
consumer stores their telemetry, over MQTT 3.1.1 (all amqtt speaks); a port already taken is reported, not fatal."""

from __future__ import annotations

import socket
import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from smartcity.iot import telemetry
from smartcity.iot.broker import EmbeddedBroker
from smartcity.iot.models import Measurement
from smartcity.iot.mqtt import Broker, Consumer, Telemetry
from tests.iot.test_mqtt import _devices, _stream


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.usefixtures("app")
def test_devices_publish_to_the_embedded_broker_and_the_consumer_stores_it(committed: Engine) -> None:
    telemetry.FLOOD.clear()
    port = _free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    credentials = _devices(2)
    consumer = Consumer(Broker.parse(f"mqtt311://smartcity@127.0.0.1:{port}"), prefix="dev", client_id="ingest")
    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    publisher.username_pw_set("device")
    try:
        consumer.connect()
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        messages = _stream(credentials, 5)
        for code, payload in messages:
            publisher.publish(f"dev/devices/{code}/telemetry", payload, qos=1).wait_for_publish(timeout=10)
        deadline = time.monotonic() + 20
        while consumer.stats.received < len(messages) and time.monotonic() < deadline:
            consumer.step(timeout=0.5)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        consumer.close()
        broker.stop()
    assert consumer.stats.accepted == len(messages) == 10
    with Session(committed) as session:
        assert session.scalar(select(func.count()).select_from(Measurement)) == 10


def test_a_taken_port_is_reported_and_serving_goes_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = Telemetry("", prefix="dev", embedded_port=port)
        account = service.start()
        service.stop()
    assert f"could not start on port {port}" in account and service.thread is None
