"""Conformance: subscriptions and notifications (clauses 5.8, 5.2.12, 6.10–6.11, 7.2 MQTT binding). Notifications
go to a real HTTP endpoint on a loopback port and through the real MQTT broker; a dead endpoint holds up nothing."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from smartcity.ngsild import notify
from smartcity.ngsild.models import Notification
from tests.iot.conftest import BROKER
from tests.ngsild.conftest import BASE, CORE, Ngsi, gauge
from tests.ngsild.test_entities import problem

ID = "urn:ngsi-ld:WaterObserved:YJ-WL-0001"


class Receiver:
    """An HTTP endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], Any]] = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.put((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def all(self) -> list[tuple[dict[str, str], Any]]:
        found = []
        while not self.received.empty():
            found.append(self.received.get_nowait())
        return found


@pytest.fixture
def ngsi(app, committed) -> Iterator[Ngsi]:
    """A client of a store whose transactions really commit: the notifier's threads open sessions of their own."""
    from fastapi.testclient import TestClient

    from smartcity.db import unit_of_work
    from smartcity.platform.permissions import Role
    from tests.factories import make_department, make_token, make_user, principal

    with unit_of_work() as session:
        make_department(session, "SLJ", "余姚市水利局")
        token = make_token(session, principal(make_user(session, "slj-staff", Role.DEPT_STAFF, "SLJ")))
    with TestClient(app) as client:
        yield Ngsi(client, token)


@pytest.fixture
def db(committed) -> Iterator[Any]:
    from smartcity.db import session_factory

    session = session_factory()()
    yield session
    session.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.server.shutdown()


def subscription(uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "WaterObserved"}],
        "notification": {
            "endpoint": {"uri": uri, "accept": "application/json"},
            "format": "keyValues",
            "attributes": ["height"],
        },
        **extra,
    }


def subscribe(ngsi: Ngsi, body: dict[str, Any]) -> str:
    response = ngsi.post("/subscriptions", body)
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.startswith(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:")
    return location.rsplit("/", 1)[-1]


def test_a_change_is_notified_once_over_http(ngsi: Ngsi, receiver: Receiver) -> None:
    sub_id = subscribe(ngsi, subscription(receiver.url, watchedAttributes=["height"], q="height>3"))
    ngsi.create(gauge(1, level=2.0))  # q does not hold: nothing
    ngsi.patch(f"/entities/{ID}/attrs", {"name": {"type": "Property", "value": "改名"}})  # not watched: nothing
    ngsi.patch(f"/entities/{ID}/attrs", {"height": {"type": "Property", "value": 3.6}})
    assert notify.dispatch(wait=True) == 1
    sent = receiver.all()
    assert len(sent) == 1
    headers, body = sent[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["Link"].startswith(f"<{CORE}>")
    assert body["type"] == "Notification" and body["subscriptionId"] == sub_id
    assert body["id"].startswith("urn:ngsi-ld:Notification:") and body["notifiedAt"].endswith("Z")
    assert body["data"] == [{"id": ID, "type": "WaterObserved", "height": 3.6}]
    assert notify.dispatch(wait=True) == 0 and receiver.all() == []  # nothing is sent twice
    state = ngsi.get(f"/subscriptions/{sub_id}").json()
    assert state["status"] == "active" and state["notification"]["status"] == "ok"
    assert state["notification"]["timesSent"] == 1 and state["notification"]["lastSuccess"]


def test_a_dead_endpoint_blocks_no_other_subscription(ngsi: Ngsi, receiver: Receiver, db) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/gone"  # nothing listens once the probe is closed
    dead_body = subscription(dead)
    dead_body["notification"]["endpoint"]["timeout"] = 300
    dead_id = subscribe(ngsi, dead_body)
    subscribe(ngsi, subscription(receiver.url))
    ngsi.create(gauge(1))
    started = time.monotonic()
    notify.dispatch(wait=True)
    assert time.monotonic() - started < 5
    assert len(receiver.all()) == 1
    state = ngsi.get(f"/subscriptions/{dead_id}").json()["notification"]
    assert state["status"] == "failed" and state["timesFailed"] == 1 and state.get("timesSent", 0) == 0
    db.expire_all()
    waiting = db.scalars(select(Notification).where(Notification.status == "queued")).all()
    assert len(waiting) == 1 and waiting[0].attempts == 1 and waiting[0].last_error  # retried later, not dropped


def test_ld_json_notifications_carry_the_context_and_receiver_info(ngsi: Ngsi, receiver: Receiver) -> None:
    body = subscription(receiver.url)
    body["notification"]["endpoint"] = {
        "uri": receiver.url,
        "accept": "application/ld+json",
        "receiverInfo": [{"key": "X-Yuyao-Key", "value": "abc"}],
    }
    subscribe(ngsi, body)
    ngsi.create(gauge(1), headers={"NGSILD-Tenant": "water"})  # another tenant: not this subscription's
    ngsi.create(gauge(1))
    notify.dispatch(wait=True)
    ((headers, sent),) = receiver.all()
    assert headers["Content-Type"] == "application/ld+json" and headers["X-Yuyao-Key"] == "abc"
    assert sent["data"][0]["@context"] == CORE


def test_mqtt_notifications(ngsi: Ngsi) -> None:
    topic = f"sctest-{uuid.uuid4().hex[:8]}/ngsild"
    got: queue.Queue[bytes] = queue.Queue()
    listener = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{topic.split('/')[0]}-listener")
    listener.on_message = lambda client, userdata, message: got.put(message.payload)
    listener.connect(BROKER.host, BROKER.port)
    listener.subscribe(topic, qos=1)
    listener.loop_start()
    time.sleep(0.3)
    try:
        body = subscription(f"mqtt://{BROKER.host}:{BROKER.port}/{topic}")
        body["notification"]["endpoint"]["notifierInfo"] = [{"key": "MQTT-QoS", "value": "1"}]
        subscribe(ngsi, body)
        ngsi.create(gauge(1))
        notify.dispatch(wait=True)
        message = json.loads(got.get(timeout=10))
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert message["metadata"]["Content-Type"] == "application/json" and "Link" in message["metadata"]
    assert message["body"]["type"] == "Notification" and message["body"]["data"][0]["height"] == 2.35


def test_throttling_expiry_and_pause(ngsi: Ngsi, receiver: Receiver) -> None:
    sub_id = subscribe(ngsi, subscription(receiver.url, throttling=60))
    ngsi.create(gauge(1))
    ngsi.patch(f"/entities/{ID}/attrs", {"height": {"type": "Property", "value": 5}})  # within 60 s: dropped
    notify.dispatch(wait=True)
    assert len(receiver.all()) == 1
    assert ngsi.patch(f"/subscriptions/{sub_id}", {"isActive": False}).status_code == 204
    assert ngsi.get(f"/subscriptions/{sub_id}").json()["status"] == "paused"
    assert ngsi.patch(f"/subscriptions/{sub_id}", {"isActive": True, "throttling": 0.001}).status_code == 204
    time.sleep(0.01)
    ngsi.patch(f"/entities/{ID}/attrs", {"height": {"type": "Property", "value": 6}})
    notify.dispatch(wait=True)
    assert [b["data"][0]["height"] for _, b in receiver.all()] == [6]
    problem(ngsi.patch(f"/subscriptions/{sub_id}", {"expiresAt": "2020-01-01T00:00:00Z"}), "BadRequestData", 400)


def test_deletion_is_notified_when_asked(ngsi: Ngsi, receiver: Receiver) -> None:
    subscribe(ngsi, subscription(receiver.url, notificationTrigger=["entityDeleted"]))
    ngsi.create(gauge(1))
    ngsi.delete(f"/entities/{ID}")
    notify.dispatch(wait=True)
    ((_, body),) = receiver.all()
    assert body["triggerReason"] == "entityDeleted" and body["data"][0]["id"] == ID and "deletedAt" in body["data"][0]


def test_geo_q_subscription(ngsi: Ngsi, receiver: Receiver) -> None:
    geo = {"georel": "near;maxDistance==200", "geometry": "Point", "coordinates": [121.151, 30.04]}
    subscribe(ngsi, subscription(receiver.url, geoQ=geo))
    ngsi.create(gauge(1))
    ngsi.create(gauge(40))  # 4 km east
    notify.dispatch(wait=True)
    assert [b["data"][0]["id"] for _, b in receiver.all()] == [ID]


def test_subscription_crud_and_refusals(ngsi: Ngsi, receiver: Receiver) -> None:
    sub_id = subscribe(ngsi, subscription(receiver.url, subscriptionName="姚江水位"))
    listed = ngsi.get("/subscriptions", count="true")
    assert listed.headers["ngsild-results-count"] == "1" and listed.json()[0]["id"] == sub_id
    shown = ngsi.get(f"/subscriptions/{sub_id}", options="sysAttrs").json()
    assert shown["entities"] == [{"type": "WaterObserved"}] and shown["notification"]["attributes"] == ["height"]
    assert shown["createdAt"] and shown["subscriptionName"] == "姚江水位"
    problem(ngsi.post("/subscriptions", {**subscription(receiver.url), "id": sub_id}), "AlreadyExists", 409)
    bad = [
        {**subscription(receiver.url), "type": "Sub"},
        {k: v for k, v in subscription(receiver.url).items() if k != "notification"},
        {**subscription("ftp://x/y")},
        {**subscription(receiver.url), "q": "height>>"},
        {**subscription(receiver.url), "entities": [{"id": ID}]},
        {"type": "Subscription", "notification": subscription(receiver.url)["notification"]},
        {**subscription(receiver.url), "throttling": -1},
        {**subscription(receiver.url), "geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 2]}},
    ]
    for body in bad:
        problem(ngsi.post("/subscriptions", body), "BadRequestData", 400)
    problem(
        ngsi.post("/subscriptions", {**subscription(receiver.url), "timeInterval": 60}), "OperationNotSupported", 422
    )
    assert ngsi.delete(f"/subscriptions/{sub_id}").status_code == 204
    problem(ngsi.get(f"/subscriptions/{sub_id}"), "ResourceNotFound", 404)
