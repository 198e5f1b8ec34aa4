"""The MQTT broker the IoT tests publish through (Mosquitto, SMARTCITY_TEST_MQTT_URL), and a topic prefix of each
test's own on it."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from smartcity.iot.mqtt import Broker

MQTT_URL = os.environ.get("SMARTCITY_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
BROKER = Broker.parse(MQTT_URL)


@pytest.fixture
def prefix() -> Iterator[str]:
    """A topic prefix and client ids of this test alone (the broker is shared); the session is removed after."""
    name = f"sctest-{uuid.uuid4().hex[:10]}"
    yield name
    cleaner = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-ingest", protocol=paho.MQTTv5)
    cleaner.connect(BROKER.host, BROKER.port, clean_start=True)  # a clean start drops the persistent session
    cleaner.loop_start()
    time.sleep(0.2)
    cleaner.disconnect()
    cleaner.loop_stop()
