"""NGSI-LD subscriptions (clauses 5.2.12 and 5.8): checked and kept with their names expanded, shown compacted
against the reader's @context with their live state (status, timesSent, lastSuccess …)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from smartcity.ngsild.entity import is_uri, iso, parse_time
from smartcity.ngsild.errors import AlreadyExists, BadRequestData, OperationNotSupported, ResourceNotFound
from smartcity.ngsild.geoquery import parse_geoquery
from smartcity.ngsild.http import GEO_JSON, JSON, JSON_LD, Ld
from smartcity.ngsild.ldcontext import TermMap
from smartcity.ngsild.models import Subscription
from smartcity.ngsild.query import parse_q
from smartcity.ngsild.store import ensure_tenant

S = Subscription.__table__
TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ["attributeCreated", "attributeUpdated"]
FORMATS = ("normalized", "concise", "keyValues", "simplified")
SCHEMES = ("http://", "https://", "mqtt://", "mqtts://")
MEMBERS = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "csf",
        "isActive",
        "notification",
        "expiresAt",
        "throttling",
        "lang",
        "scopeQ",
        "@context",
        "jsonldContext",
        "status",
        "createdAt",
        "modifiedAt",
    }
)


def _list_of_names(raw: Any, what: str) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(n, str) and n for n in raw):
        raise BadRequestData(f"{what} must be a non-empty list of attribute names")
    return raw


def check(
    raw: Any, terms: TermMap, now: dt.datetime, *, partial: bool = False, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A subscription from a request, checked, its names expanded; `partial` for an update's fragment, merged into
    `current`."""
    if not isinstance(raw, dict):
        raise BadRequestData("a subscription must be a JSON object")
    unknown = sorted(set(raw) - MEMBERS)
    if unknown:
        raise BadRequestData(f"'{unknown[0]}' is not a member of a subscription")
    body: dict[str, Any] = dict(current or {})
    from smartcity.ngsild.entity import Expander

    expander = Expander(terms, now)
    if not partial:
        if raw.get("type") != "Subscription":
            raise BadRequestData('a subscription\'s type must be "Subscription"')
        sub_id = raw.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
        if not is_uri(sub_id):
            raise BadRequestData(f"the subscription id must be a URI, not {sub_id!r}")
        body = {"id": sub_id, "type": "Subscription"}
    elif "id" in raw and raw["id"] != body.get("id"):
        raise BadRequestData("a subscription's id cannot be changed")
    for key in ("subscriptionName", "description"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise BadRequestData(f"{key} must be a string")
            body[key] = raw[key]
    if "timeInterval" in raw:
        raise OperationNotSupported(
            "periodic subscriptions (timeInterval) are not supported by this broker; subscribe to changes"
        )
    if "entities" in raw:
        selectors = raw["entities"]
        if not isinstance(selectors, list) or not selectors:
            raise BadRequestData("entities must be a non-empty list of {type, id or idPattern}")
        checked = []
        for selector in selectors:
            if not isinstance(selector, dict) or "type" not in selector:
                raise BadRequestData("each entities selector must be an object with a type")
            entry: dict[str, Any] = {"type": expander.type_name(selector["type"])}
            if "id" in selector:
                if not is_uri(selector["id"]):
                    raise BadRequestData(f"the entities selector's id must be a URI, not {selector['id']!r}")
                entry["id"] = selector["id"]
            if "idPattern" in selector:
                import re

                try:
                    re.compile(selector["idPattern"])
                except (re.error, TypeError) as exc:
                    message = f"idPattern {selector['idPattern']!r} is not a regular expression: {exc}"
                    raise BadRequestData(message) from None
                entry["idPattern"] = selector["idPattern"]
            checked.append(entry)
        body["entities"] = checked
    if "watchedAttributes" in raw:
        body["watchedAttributes"] = [
            expander.attribute_name(n) for n in _list_of_names(raw["watchedAttributes"], "watchedAttributes")
        ]
    if not body.get("entities") and not body.get("watchedAttributes"):
        raise BadRequestData("a subscription needs entities or watchedAttributes")
    if "notificationTrigger" in raw:
        triggers = raw["notificationTrigger"]
        if not isinstance(triggers, list) or not triggers or any(t not in TRIGGERS for t in triggers):
            raise BadRequestData(f"notificationTrigger must be a list drawn from {', '.join(TRIGGERS)}")
        body["notificationTrigger"] = triggers
    if "q" in raw:
        if not isinstance(raw["q"], str):
            raise BadRequestData("q must be a string")
        parse_q(raw["q"], terms)
        body["q"] = raw["q"]
    if "geoQ" in raw:
        geo = raw["geoQ"]
        if not isinstance(geo, dict):
            raise BadRequestData("geoQ must be an object with georel, geometry and coordinates")
        coordinates = geo.get("coordinates")
        parsed = parse_geoquery(
            geo.get("georel"),
            geo.get("geometry"),
            coordinates if coordinates is not None else None,
            geo.get("geoproperty"),
            expander.attribute_name,
        )
        if parsed is None:
            raise BadRequestData("geoQ needs georel, geometry and coordinates")
        body["geoQ"] = {
            "georel": geo["georel"],
            "geometry": geo["geometry"],
            "coordinates": parsed.geometry["coordinates"],
            "geoproperty": parsed.geoproperty,
        }
    if "isActive" in raw:
        if not isinstance(raw["isActive"], bool):
            raise BadRequestData("isActive must be true or false")
        body["isActive"] = raw["isActive"]
    if "expiresAt" in raw:
        expires = parse_time(raw["expiresAt"], "expiresAt")
        if expires <= now:
            raise BadRequestData(f"expiresAt {raw['expiresAt']} is in the past")
        body["expiresAt"] = iso(expires)
    if "throttling" in raw:
        throttling = raw["throttling"]
        if not isinstance(throttling, int | float) or isinstance(throttling, bool) or throttling <= 0:
            raise BadRequestData("throttling must be a positive number of seconds")
        body["throttling"] = throttling
    if "lang" in raw:
        body["lang"] = str(raw["lang"])
    if "notification" in raw:
        body["notification"] = _notification(raw["notification"], expander)
    elif not partial:
        raise BadRequestData("a subscription needs notification parameters (notification.endpoint.uri)")
    return body


def _notification(raw: Any, expander: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequestData("notification must be an object with an endpoint")
    out: dict[str, Any] = {}
    if "attributes" in raw:
        out["attributes"] = [
            expander.attribute_name(n) for n in _list_of_names(raw["attributes"], "notification.attributes")
        ]
    fmt = raw.get("format", "normalized")
    if fmt not in FORMATS:
        raise BadRequestData(f"notification.format must be one of {', '.join(FORMATS)}")
    out["format"] = "keyValues" if fmt == "simplified" else fmt
    if "sysAttrs" in raw:
        if not isinstance(raw["sysAttrs"], bool):
            raise BadRequestData("notification.sysAttrs must be true or false")
        out["sysAttrs"] = raw["sysAttrs"]
    endpoint = raw.get("endpoint")
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("uri"), str):
        raise BadRequestData("notification.endpoint.uri is required")
    uri = endpoint["uri"]
    if not uri.startswith(SCHEMES) or not is_uri(uri):
        raise BadRequestData(f"notification.endpoint.uri must be an http(s) or mqtt(s) URL, not {uri!r}")
    accept = endpoint.get("accept", JSON)
    if accept not in (JSON, JSON_LD):
        raise BadRequestData(
            f"notification.endpoint.accept must be {JSON} or {JSON_LD}"
            + (" (GeoJSON notifications are not supported)" if accept == GEO_JSON else "")
        )
    checked: dict[str, Any] = {"uri": uri, "accept": accept}
    for key in ("receiverInfo", "notifierInfo"):
        if key in endpoint:
            pairs = endpoint[key]
            if not isinstance(pairs, list) or not all(
                isinstance(p, dict) and isinstance(p.get("key"), str) and isinstance(p.get("value"), str) for p in pairs
            ):
                raise BadRequestData(f"notification.endpoint.{key} must be a list of {{key, value}} strings")
            checked[key] = pairs
    if "timeout" in endpoint:
        timeout = endpoint["timeout"]
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 60_000:
            raise BadRequestData("notification.endpoint.timeout must be 1 to 60,000 milliseconds")
        checked["timeout"] = timeout
    out["endpoint"] = checked
    return out


def _expiry(body: dict[str, Any]) -> dt.datetime | None:
    return parse_time(body["expiresAt"], "expiresAt") if "expiresAt" in body else None


def create(session: Session, ld: Ld, raw: Any) -> str:
    body = check(raw, ld.terms, ld.now)
    connection = session.connection()
    exists = connection.execute(
        select(S.c.pk).where(S.c.tenant == ld.tenant, S.c.subscription_id == body["id"])
    ).first()
    if exists is not None:
        raise AlreadyExists(f"the subscription {body['id']} already exists")
    ensure_tenant(session, ld.tenant, ld.now)
    connection.execute(
        insert(Subscription).values(
            tenant=ld.tenant,
            subscription_id=body["id"],
            body=body,
            context=ld.context,
            is_active=body.get("isActive", True),
            expires_at=_expiry(body),
            created_at=ld.now,
            modified_at=ld.now,
            times_sent=0,
            times_failed=0,
            last_error="",
        )
    )
    return str(body["id"])


def _row(session: Session, tenant: str, sub_id: str) -> Any:
    row = session.connection().execute(select(S).where(S.c.tenant == tenant, S.c.subscription_id == sub_id)).first()
    if row is None:
        raise ResourceNotFound(f"there is no subscription {sub_id}")
    return row


def retrieve(session: Session, ld: Ld, sub_id: str, sys_attrs: bool) -> dict[str, Any]:
    return render(_row(session, ld.tenant, sub_id), ld.terms, ld.now, sys_attrs)


def listing(session: Session, ld: Ld, offset: int, limit: int, sys_attrs: bool) -> tuple[list[dict[str, Any]], int]:
    connection = session.connection()
    rows = connection.execute(
        select(S).where(S.c.tenant == ld.tenant).order_by(S.c.pk).offset(offset).limit(limit)
    ).all()
    total = connection.execute(select(func.count()).select_from(S).where(S.c.tenant == ld.tenant)).scalar_one()
    return [render(r, ld.terms, ld.now, sys_attrs) for r in rows], int(total)


def change(session: Session, ld: Ld, sub_id: str, raw: Any) -> None:
    row = _row(session, ld.tenant, sub_id)
    if isinstance(raw, dict) and "type" in raw and raw["type"] != "Subscription":
        raise BadRequestData('a subscription\'s type must be "Subscription"')
    body = check(raw, ld.terms, ld.now, partial=True, current=dict(row.body))
    values: dict[str, Any] = {"body": body, "modified_at": ld.now, "expires_at": _expiry(body)}
    if "isActive" in body:
        values["is_active"] = body["isActive"]
    session.connection().execute(update(Subscription).where(S.c.pk == row.pk).values(**values))


def remove(session: Session, ld: Ld, sub_id: str) -> None:
    row = _row(session, ld.tenant, sub_id)
    session.connection().execute(delete(Subscription).where(S.c.pk == row.pk))


def status_of(row: Any, now: dt.datetime) -> str:
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active" if row.is_active else "paused"


def render(row: Any, terms: TermMap, now: dt.datetime, sys_attrs: bool = False) -> dict[str, Any]:
    """A stored subscription compacted against `terms`, with its state."""
    body = dict(row.body)
    out: dict[str, Any] = {
        k: v for k, v in body.items() if k not in ("entities", "watchedAttributes", "notification", "geoQ")
    }
    if "entities" in body:
        out["entities"] = [{**e, "type": terms.compact(e["type"])} for e in body["entities"]]
    if "watchedAttributes" in body:
        out["watchedAttributes"] = [terms.compact(a) for a in body["watchedAttributes"]]
    if "geoQ" in body:
        geo = dict(body["geoQ"])
        geo["geoproperty"] = terms.compact(geo["geoproperty"])
        out["geoQ"] = geo
    notification = dict(body["notification"])
    if "attributes" in notification:
        notification["attributes"] = [terms.compact(a) for a in notification["attributes"]]
    notification["status"] = (
        "failed" if row.last_failure and (not row.last_success or row.last_failure > row.last_success) else "ok"
    )
    notification["timesSent"] = row.times_sent
    if row.times_failed:
        notification["timesFailed"] = row.times_failed
    for key, column in (
        ("lastNotification", row.last_notification),
        ("lastSuccess", row.last_success),
        ("lastFailure", row.last_failure),
    ):
        if column is not None:
            notification[key] = iso(column)
    out["notification"] = notification
    out["isActive"] = bool(row.is_active)
    out["status"] = status_of(row, now)
    if isinstance(row.context, str):
        out["jsonldContext"] = row.context
    if sys_attrs:
        out["createdAt"] = iso(row.created_at)
        out["modifiedAt"] = iso(row.modified_at)
    return out
