"""Notifications of subscriptions (clause 5.8 and the HTTP and MQTT bindings, clauses 6.3 and 7.2).

A change finds the subscriptions it concerns and writes their notifications to an outbox in its own transaction.
The notifier (`dispatch`, called by the background worker every half second) sends them on a pool of threads, one
subscription at a time per thread and in order: an endpoint that is slow or dead holds its own subscription's
queue only, retried with growing pauses, while every other subscription's notifications go out. A notification is
marked sent after its endpoint accepts it and is never sent again; should the process die between the endpoint's
answer and that mark, the notification (its id unchanged) is sent once more after its lease runs out.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from smartcity.db import unit_of_work, utcnow
from smartcity.ngsild import contexts
from smartcity.ngsild.entity import Shape, iso, render_entity
from smartcity.ngsild.geoquery import parse_geoquery
from smartcity.ngsild.ldcontext import CORE_CONTEXT_URL, TermMap, link_header
from smartcity.ngsild.models import Notification, Subscription
from smartcity.ngsild.query import Node, evaluate, parse_q
from smartcity.ngsild.store import Change, Stored
from smartcity.ngsild.subscriptions import DEFAULT_TRIGGERS

log = logging.getLogger("smartcity.ngsild.notify")
S, N = Subscription.__table__, Notification.__table__
MAX_ATTEMPTS = 8
LEASE = dt.timedelta(seconds=90)
DEFAULT_TIMEOUT = 5.0  # seconds an endpoint may take to answer, unless its subscription says otherwise
THREADS = 8


@dataclass
class _Compiled:
    terms: TermMap
    q: Node | None
    geo: Any


_COMPILED: dict[tuple[int, dt.datetime], _Compiled] = {}


def _compiled(row: Any) -> _Compiled:
    key = (row.pk, row.modified_at)
    found = _COMPILED.get(key)
    if found is None:
        resolver = contexts.resolver()
        terms = resolver.active(row.context) if row.context is not None else resolver.core
        body = row.body
        q = parse_q(body["q"], terms) if body.get("q") else None
        geo_q = body.get("geoQ")
        geo = (
            parse_geoquery(geo_q["georel"], geo_q["geometry"], geo_q["coordinates"], geo_q["geoproperty"], lambda n: n)
            if geo_q
            else None
        )
        found = _Compiled(terms, q, geo)
        if len(_COMPILED) > 10_000:
            _COMPILED.clear()
        _COMPILED[key] = found
    return found


def _selected(body: dict[str, Any], entity: Stored) -> bool:
    selectors = body.get("entities")
    if not selectors:
        return True
    for selector in selectors:
        if selector["type"] not in entity.types:
            continue
        if "id" in selector and selector["id"] != entity.entity_id:
            continue
        if "idPattern" in selector and not re.search(selector["idPattern"], entity.entity_id):
            continue
        return True
    return False


def _triggers(change: Change) -> set[str]:
    if change.trigger == "entityCreated":
        return {"entityCreated", "attributeCreated"}
    if change.trigger == "entityDeleted":
        return {"entityDeleted"}
    before = change.before.attrs if change.before is not None else {}
    after = change.entity.attrs if change.entity is not None else {}
    found = {"entityUpdated"}
    for name in change.attributes:
        if name not in before:
            found.add("attributeCreated")
        elif name not in after:
            found.add("attributeDeleted")
        else:
            found.add("attributeUpdated")
    return found


def _concerns(row: Any, compiled: _Compiled, change: Change, now: dt.datetime) -> str | None:
    """The trigger reason if the subscription is to be told of the change, else None."""
    body = row.body
    entity = change.entity if change.entity is not None else change.before
    if entity is None or not _selected(body, entity):
        return None
    reasons = _triggers(change) & set(body.get("notificationTrigger", DEFAULT_TRIGGERS))
    if not reasons:
        return None
    watched = body.get("watchedAttributes")
    if watched and change.trigger != "entityDeleted" and not (set(watched) & change.attributes):
        return None
    if change.entity is not None:
        if compiled.q is not None and not evaluate(compiled.q, change.entity.attrs):
            return None
        if compiled.geo is not None:
            instances = change.entity.attrs.get(compiled.geo.geoproperty) or []
            if not any(compiled.geo.matches(i.get("value")) for i in instances if i.get("type") == "GeoProperty"):
                return None
    throttling = body.get("throttling")
    if throttling and row.last_notification is not None and (now - row.last_notification).total_seconds() < throttling:
        return None
    for reason in (
        "entityDeleted",
        "entityCreated",
        "attributeDeleted",
        "attributeCreated",
        "attributeUpdated",
        "entityUpdated",
    ):
        if reason in reasons:
            return reason
    return None


def changed(session: Session, tenant: str, changes: list[Change], now: dt.datetime) -> int:
    """Queue the notifications that `changes` call for, in the caller's transaction; how many were queued."""
    if not changes:
        return 0
    connection = session.connection()
    rows = connection.execute(
        select(S).where(
            S.c.tenant == tenant,
            S.c.is_active.is_(True),
            or_(S.c.expires_at.is_(None), S.c.expires_at > now),
        )
    ).all()
    queued = 0
    for row in rows:
        compiled = _compiled(row)
        data: list[dict[str, Any]] = []
        reason = None
        for change in changes:
            found = _concerns(row, compiled, change, now)
            if found is None:
                continue
            reason = reason or found
            data.append(_entity_data(row.body, compiled.terms, change, now))
        if not data:
            continue
        notification_id = f"urn:ngsi-ld:Notification:{uuid.uuid4()}"
        payload = {
            "id": notification_id,
            "type": "Notification",
            "subscriptionId": row.subscription_id,
            "notifiedAt": iso(now),
            "data": data,
            "triggerReason": reason,
        }
        connection.execute(
            insert(Notification).values(
                subscription_pk=row.pk,
                notification_id=notification_id,
                payload=payload,
                status="queued",
                attempts=0,
                due_at=now,
                created_at=now,
                last_error="",
            )
        )
        connection.execute(update(Subscription).where(S.c.pk == row.pk).values(last_notification=now))
        queued += 1
    return queued


def _entity_data(body: dict[str, Any], terms: TermMap, change: Change, now: dt.datetime) -> dict[str, Any]:
    if change.entity is None:
        assert change.before is not None
        types = [terms.compact(t) for t in change.before.types]
        return {"id": change.before.entity_id, "type": types[0] if len(types) == 1 else types, "deletedAt": iso(now)}
    params = body["notification"]
    attrs = frozenset(params["attributes"]) if params.get("attributes") else None
    shape = Shape(
        form=params.get("format", "normalized"),
        sys_attrs=bool(params.get("sysAttrs")),
        attrs=attrs,
        lang=body.get("lang"),
    )
    entity = change.entity
    return render_entity(
        entity.entity_id,
        entity.types,
        entity.attrs,
        terms,
        shape,
        scope=entity.scope,
        created=entity.created_at,
        modified=entity.modified_at,
    )


# ---------------------------------------------------------------------------------------------------- the notifier


class SendFailed(Exception):
    pass


def _context_url(context: Any) -> str:
    if isinstance(context, str):
        return context
    if context is None:
        return CORE_CONTEXT_URL
    return contexts.implicit_url(context)


def _message(sub: Any, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    endpoint = sub.body["notification"]["endpoint"]
    accept = endpoint.get("accept", "application/json")
    headers = {"Content-Type": accept}
    if accept == "application/ld+json":
        context = sub.context if sub.context is not None else CORE_CONTEXT_URL
        payload = {**payload, "data": [{"@context": context, **item} for item in payload["data"]]}
    else:
        headers["Link"] = link_header(_context_url(sub.context))
    if sub.tenant:
        headers["NGSILD-Tenant"] = sub.tenant
    for pair in endpoint.get("receiverInfo", ()):
        headers[pair["key"]] = pair["value"]
    return orjson.dumps(payload), headers


def send(sub: Any, payload: dict[str, Any]) -> None:
    """Deliver one notification to its subscription's endpoint; SendFailed when the endpoint does not accept it."""
    endpoint = sub.body["notification"]["endpoint"]
    uri = endpoint["uri"]
    timeout = float(endpoint.get("timeout", DEFAULT_TIMEOUT * 1000)) / 1000
    body, headers = _message(sub, payload)
    if uri.startswith(("mqtt://", "mqtts://")):
        _publish(uri, body, headers, endpoint, timeout)
        return
    try:
        response = httpx.post(uri, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise SendFailed(f"{uri}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise SendFailed(f"{uri} answered HTTP {response.status_code}")


def _publish(uri: str, body: bytes, headers: dict[str, str], endpoint: dict[str, Any], timeout: float) -> None:
    """The MQTT binding (clause 7.2): {"metadata": {headers}, "body": notification} on the URI's topic."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(uri)
    topic = unquote(parts.path.lstrip("/"))
    if not topic:
        raise SendFailed(f"{uri}: no topic in the endpoint URI")
    info = {p["key"]: p["value"] for p in endpoint.get("notifierInfo", ())}
    qos = int(info.get("MQTT-QoS", "0")) if info.get("MQTT-QoS", "0") in ("0", "1", "2") else 0
    version = paho.MQTTv311 if info.get("MQTT-Version") == "mqtt3.1.1" else paho.MQTTv5
    message = orjson.dumps({"metadata": headers, "body": orjson.loads(body)})
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ngsild-{uuid.uuid4().hex[:12]}", protocol=version)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    if parts.scheme == "mqtts":
        client.tls_set()
    try:
        client.connect(
            parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883), keepalive=30
        )
        client.loop_start()
        result = client.publish(topic, message, qos=qos)
        result.wait_for_publish(timeout=timeout)
        if not result.is_published():
            raise SendFailed(f"{uri}: the broker did not take the message within {timeout:g} s")
    except (OSError, ValueError, RuntimeError) as exc:
        raise SendFailed(f"{uri}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.disconnect()
        client.loop_stop()


_pool: ThreadPoolExecutor | None = None
_busy: set[int] = set()  # subscriptions whose notifications a thread is sending
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="ngsild-notify")
    return _pool


def dispatch(*, wait: bool = False, now: dt.datetime | None = None) -> int:
    """Hand each subscription with due notifications to a sending thread (one thread per subscription at a time);
    how many subscriptions were handed. `wait`: send before returning (for the command line and tests)."""
    now = now or utcnow()
    with unit_of_work() as session:
        connection = session.connection()
        connection.execute(  # a sender that died mid-send: its lease runs out and the notification is due again
            update(Notification)
            .where(N.c.status == "sending", N.c.locked_until < now)
            .values(status="queued", locked_until=None)
        )
        with _lock:
            busy = set(_busy)
        due = select(N.c.subscription_pk).where(N.c.status == "queued", N.c.due_at <= now)
        if busy:
            due = due.where(N.c.subscription_pk.not_in(busy))
        subs = sorted({r[0] for r in connection.execute(due.limit(500))})
    futures = []
    for sub_pk in subs:
        with _lock:
            if sub_pk in _busy:
                continue
            _busy.add(sub_pk)
        futures.append(_executor().submit(_drain, sub_pk))
    if wait:
        for future in futures:
            future.result()
    return len(futures)


def _drain(sub_pk: int) -> None:
    try:
        while _send_next(sub_pk):
            pass
    except Exception:
        log.exception("notifications of subscription %s", sub_pk)
    finally:
        with _lock:
            _busy.discard(sub_pk)


def _send_next(sub_pk: int) -> bool:
    """Send the subscription's oldest due notification; False when none is due or the endpoint failed."""
    now = utcnow()
    with unit_of_work() as session:
        connection = session.connection()
        sub = connection.execute(select(S).where(S.c.pk == sub_pk)).first()
        row = connection.execute(
            select(N.c.pk, N.c.payload, N.c.attempts)
            .where(N.c.subscription_pk == sub_pk, N.c.status == "queued", N.c.due_at <= now)
            .order_by(N.c.pk)
            .limit(1)
        ).first()
        if sub is None or row is None:
            return False
        claimed = connection.execute(
            update(Notification)
            .where(and_(N.c.pk == row.pk, N.c.status == "queued"))
            .values(status="sending", locked_until=now + LEASE, attempts=row.attempts + 1)
        ).rowcount
        if not claimed:
            return False
    try:
        send(sub, row.payload)
    except SendFailed as exc:
        _failed(sub_pk, row.pk, row.attempts + 1, str(exc))
        return False
    done = utcnow()
    with unit_of_work() as session:
        connection = session.connection()
        connection.execute(
            update(Notification).where(N.c.pk == row.pk).values(status="sent", sent_at=done, locked_until=None)
        )
        connection.execute(
            update(Subscription).where(S.c.pk == sub_pk).values(times_sent=S.c.times_sent + 1, last_success=done)
        )
    return True


def _failed(sub_pk: int, notification_pk: int, attempts: int, error: str) -> None:
    now = utcnow()
    give_up = attempts >= MAX_ATTEMPTS
    with unit_of_work() as session:
        connection = session.connection()
        connection.execute(
            update(Notification)
            .where(N.c.pk == notification_pk)
            .values(
                status="failed" if give_up else "queued",
                locked_until=None,
                due_at=now + dt.timedelta(seconds=min(300, 2**attempts)),
                last_error=error[-2000:],
            )
        )
        connection.execute(
            update(Subscription)
            .where(S.c.pk == sub_pk)
            .values(times_failed=S.c.times_failed + 1, last_failure=now, last_error=error[-2000:])
        )
    log.warning("notification %s: %s%s", notification_pk, error, " (given up)" if give_up else "")
