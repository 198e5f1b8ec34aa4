"""Telemetry over MQTT: the platform subscribes to `<prefix>/devices/+/telemetry` at QoS 1 and acknowledges each
message only after the batch holding it is committed.

The session is persistent (a fixed client id; MQTT 5 with a session expiry, or MQTT 3.1.1 without clean session),
so while the platform is down the broker keeps what devices publish, and a message whose batch had not committed
when the platform stopped (even by kill -9) is delivered again. Stored values are keyed by device, measure and time
(iot/telemetry.py), so a message delivered twice is stored once: a restart loses and doubles nothing.

The broker must keep enough for that: Mosquitto drops a client's messages beyond `max_queued_messages` (1000 by
default) while it is away or slow, so a deployment sets `max_queued_messages 0` and `max_inflight_messages 0`
(docs/iot.md). MQTT 5's Receive Maximum lets the broker have a whole batch in flight unacknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcity.db import taking_turns, unit_of_work
from smartcity.iot import telemetry

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600  # how long the broker keeps the platform's session while it is away


@dataclass(frozen=True)
class Broker:
    """Where the broker is: mqtt://[user[:password]@]host[:port] (MQTT 5), or mqtt311:// for MQTT 3.1.1 brokers."""

    host: str
    port: int
    version: paho.MQTTProtocolVersion
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtt311") or not parts.hostname:
            raise ValueError(f"an MQTT broker URL is mqtt://host:port or mqtt311://host:port, not {url!r}")
        version = paho.MQTTv5 if parts.scheme == "mqtt" else paho.MQTTv311
        return cls(parts.hostname, parts.port or 1883, version, parts.username, parts.password)


def topic_filter(prefix: str) -> str:
    return f"{prefix}/devices/+/telemetry"


def device_code(topic: str, prefix: str) -> str | None:
    """The device code of a telemetry topic, or None for any other topic."""
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 3 or parts[: len(head)] != head or parts[-3] != "devices" or parts[-1] != "telemetry":
        return None
    return parts[-2] or None


@dataclass
class Stats:
    """What a consumer did since it started (`smartcity iot consume` prints it when it stops)."""

    received: int = 0
    batches: int = 0
    accepted: int = 0
    refused: int = 0
    ignored: int = 0  # messages on topics that are not telemetry topics


class Consumer:
    """Reads telemetry from the broker and stores it in batches of at most `batch_size` messages.

    Consumers started with the same `share` (and client ids of their own) split the stream between them: one per
    core where one process cannot keep up.

    paho's network thread puts each message on a queue; `run` takes what is there (waiting `linger` seconds for a
    batch to fill once the queue runs dry), stores it in one transaction, then acknowledges its messages in the
    order they came. If storing fails, nothing is acknowledged and the consumer stops: the broker delivers the
    messages again to the next one."""

    def __init__(
        self,
        broker: Broker,
        *,
        prefix: str,
        client_id: str,
        batch_size: int = 1000,
        linger: float = 0.005,
        store: Callable[[list[telemetry.Message]], list[telemetry.Result]] | None = None,
        share: str | None = None,
    ) -> None:
        self.broker = broker
        self.prefix = prefix
        # a shared subscription (MQTT 5, and Mosquitto for 3.1.1 too): consumers of one group split the messages
        self.subscription = f"$share/{share}/{topic_filter(prefix)}" if share else topic_filter(prefix)
        self.batch_size = batch_size
        self.linger = linger
        self.stats = Stats()
        self._store = store or _store_in_own_transaction
        self._inbox: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self._subscribed = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=broker.version,
            clean_session=False if broker.version == paho.MQTTv311 else None,
            manual_ack=True,
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    # paho's thread ------------------------------------------------------------------------------------------------

    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the connection: %s", reason)
            return
        client.subscribe(self.subscription, qos=1)
        if flags.session_present:
            # The session kept the subscription; what the broker held arrives at once, possibly ahead of the
            # SUBACK, and waits for acknowledgements only `run` sends.
            self._subscribed.set()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, _codes: Any, _p: Any) -> None:
        self._subscribed.set()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        self._inbox.put(message)

    # the consuming thread -----------------------------------------------------------------------------------------

    def connect(self, timeout: float = 30.0) -> None:
        """Connect, resume the session and subscribe; returns once the subscription is confirmed."""
        properties = None
        if self.broker.version == paho.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            properties.ReceiveMaximum = min(65535, self.batch_size * 2)
            self._client.connect(
                self.broker.host, self.broker.port, keepalive=30, clean_start=False, properties=properties
            )
        else:
            self._client.connect(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self._client.loop_stop()
            raise ConnectionError(f"no subscription on {self.broker.host}:{self.broker.port} within {timeout:g} s")

    def run(self, stop: threading.Event) -> None:
        """Store and acknowledge batches until `stop` is set (then the last batch is finished first)."""
        while not stop.is_set():
            self.step(timeout=0.2)

    def step(self, timeout: float) -> int:
        """Store one batch (waiting up to `timeout` for its first message); the number of messages it held."""
        try:
            first = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return 0
        batch = [first]
        while len(batch) < self.batch_size:
            try:
                batch.append(self._inbox.get(timeout=self.linger) if self._inbox.empty() else self._inbox.get_nowait())
            except queue.Empty:
                break
        messages: list[telemetry.Message] = []
        for item in batch:
            code = device_code(item.topic, self.prefix)
            if code is None:
                self.stats.ignored += 1
                continue
            messages.append(telemetry.Message(code, bytes(item.payload)))
        results = self._store(messages) if messages else []
        for item in batch:  # in the order they came, as MQTT wants its acknowledgements
            self._client.ack(item.mid, item.qos)
        self.stats.batches += 1
        self.stats.received += len(batch)
        accepted = sum(1 for r in results if isinstance(r, telemetry.Accepted))
        self.stats.accepted += accepted
        self.stats.refused += len(results) - accepted
        return len(batch)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _store_in_own_transaction(messages: list[telemetry.Message]) -> list[telemetry.Result]:
    with taking_turns("ingest"), unit_of_work() as session:
        return telemetry.ingest(session, messages)


class ConsumerThread:
    """A consumer on a thread of its own, as `smartcity serve` runs it; reconnects after losing the broker."""

    def __init__(self, make: Callable[[], Consumer]) -> None:
        self._make = make
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mqtt-consumer", daemon=True)
        self.consumer: Consumer | None = None

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.consumer = self._make()
                self.consumer.connect()
                self.consumer.run(self._stop)
            except Exception:  # the broker went away, or a batch could not be stored: start again unacknowledged
                log.exception("MQTT consumer stopped; reconnecting in 2 s")
                if self.consumer is not None:
                    self.consumer.close()
                time.sleep(2)
        if self.consumer is not None:
            self.consumer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Telemetry:
    """What `smartcity serve` runs for MQTT telemetry: the consumer on SMARTCITY_MQTT_URL, or, when none is
    configured, an embedded broker for development with the consumer on it."""

    def __init__(self, url: str, *, prefix: str, embedded_port: int) -> None:
        from smartcity.iot.broker import EmbeddedBroker

        self.embedded = EmbeddedBroker("127.0.0.1", embedded_port) if not url else None
        self.url = url or f"mqtt311://smartcity@127.0.0.1:{embedded_port}"
        self.prefix = prefix
        self.thread: ConsumerThread | None = None

    def start(self) -> str:
        """Start; a one-line account of where telemetry is read from."""
        if self.embedded is not None:
            try:
                self.embedded.start()
            except Exception as exc:  # amqtt's BrokerError wraps the OSError of a taken port
                return f"MQTT: the embedded broker could not start on port {self.embedded.port} ({exc}); no MQTT"
        broker = Broker.parse(self.url)
        self.thread = ConsumerThread(lambda: Consumer(broker, prefix=self.prefix, client_id="smartcity-ingest"))
        self.thread.start()
        where = "embedded broker" if self.embedded else "broker"
        return f"MQTT: storing {topic_filter(self.prefix)} from the {where} at {broker.host}:{broker.port}"

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()
        if self.embedded is not None:
            self.embedded.stop()
