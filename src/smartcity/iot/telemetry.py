"""Telemetry ingest: messages from MQTT or HTTP, authenticated per device, checked, stored in batches.

A batch is written in the caller's transaction: the values (a value already stored for the same device, measure
and time is skipped, so a message delivered twice is stored once), each device's last contact, battery and
counters, and the refusals counted per device code and reason. Refused messages write nothing but their count.
The MQTT consumer acknowledges a batch's messages only after this transaction commits (iot/mqtt.py).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.db import execute_many, insert_or_add, insert_or_take_newer, insert_skipping_existing, utcnow
from smartcity.iot import alarms, codec
from smartcity.iot.codec import Observation, Refused
from smartcity.iot.models import Device, Latest, Measurement, RejectionCount, Rollup
from smartcity.iot.vocab import BY_CODE, DeviceStatus, Rejection
from smartcity.platform.identity.service import token_digest
from smartcity.platform.ratelimit import Limiter

FLOOD = Limiter()  # per device code, in the ingesting process


@dataclass(frozen=True)
class Message:
    """One message as a transport received it: the device code (from the topic or URL), the payload, and the
    credential the transport carried (HTTP's Authorization header; None over MQTT, where it is in the payload)."""

    device_code: str
    payload: bytes
    credential: str | None = None


@dataclass(frozen=True)
class Accepted:
    observations: int
    values: int


Result = Accepted | Refused


@dataclass
class _Contact:
    device_id: int
    type_code: str
    messages: int = 0
    battery_level: float | None = None
    rssi: float | None = None
    newest: dt.datetime | None = None


@dataclass
class _Batch:
    rows: list[dict[str, object]] = field(default_factory=list)
    contacts: dict[str, _Contact] = field(default_factory=dict)
    refusals: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    refused_devices: dict[int, int] = field(default_factory=dict)


def limits() -> codec.Limits:
    settings = get_settings()
    return codec.Limits(
        max_bytes=settings.iot_max_message_bytes,
        max_ahead=dt.timedelta(seconds=settings.iot_max_clock_ahead_seconds),
        max_age=dt.timedelta(days=settings.iot_max_age_days),
    )


def ingest(session: Session, messages: Sequence[Message], *, now: dt.datetime | None = None) -> list[Result]:
    """Check and store `messages` in the session's transaction; one result per message, in order."""
    now = now or utcnow()
    settings = get_settings()
    bounds = limits()
    devices = _devices(session, {m.device_code for m in messages})
    batch = _Batch()
    results: list[Result] = []
    for message in messages:
        device = devices.get(message.device_code)
        try:
            observations = _checked(message, device, now, bounds, settings.iot_device_rate, settings.iot_device_burst)
        except Refused as refused:
            _count_refusal(batch, message.device_code, device, refused)
            results.append(refused)
            continue
        assert device is not None
        _take(batch, message.device_code, device, observations, now)
        results.append(Accepted(len(observations), sum(len(o.values) for o in observations)))
    _write(session, batch, now)
    return results


@dataclass(frozen=True)
class _Sender:
    """What the ingest needs of a device (read with a plain query: loading whole devices cost more than the
    checks)."""

    id: int
    code: str
    type_code: str
    secret_hash: str
    status: str


_SENDERS = select(Device.id, Device.code, Device.type_code, Device.secret_hash, Device.status)


def _devices(session: Session, codes: set[str]) -> dict[str, _Sender]:
    found: dict[str, _Sender] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        found.update((row[1], _Sender(*row)) for row in session.execute(_SENDERS.where(Device.code.in_(chunk))))
    return found


def _checked(
    message: Message, device: _Sender | None, now: dt.datetime, bounds: codec.Limits, rate: float, burst: int
) -> list[Observation]:
    if device is None:
        raise Refused(Rejection.UNKNOWN_DEVICE, f"no device '{message.device_code[:64]}' is registered")
    device_type = BY_CODE[device.type_code]

    def authenticate(presented: str | None) -> None:
        credential = message.credential or presented
        if not credential or not hmac.compare_digest(token_digest(credential), device.secret_hash):
            raise Refused(Rejection.BAD_CREDENTIALS, "the credential is missing or wrong")
        if device.status != DeviceStatus.ACTIVE:
            raise Refused(Rejection.DISABLED, "the device is disabled")

    observations = codec.decode(message.payload, device_type, now=now, limits=bounds, authenticate=authenticate)
    wait = FLOOD.spend(device.code, rate=rate, burst=burst)
    if wait > 0:
        raise Refused(Rejection.FLOOD, f"more than {rate:g} messages per second")
    return observations


def _take(batch: _Batch, code: str, device: _Sender, observations: list[Observation], now: dt.datetime) -> None:
    contact = batch.contacts.get(code)
    if contact is None:
        contact = batch.contacts[code] = _Contact(device.id, device.type_code)
    contact.messages += 1
    for observation in observations:
        newest = contact.newest is None or observation.observed_at >= contact.newest
        if newest:
            contact.newest = observation.observed_at
        for name, number, text in observation.values:
            batch.rows.append(
                {
                    "device_id": device.id,
                    "name": name,
                    "observed_at": observation.observed_at,
                    "number": number,
                    "text": text,
                    "received_at": now,
                }
            )
            if newest and name == "batteryLevel":
                contact.battery_level = number
            elif newest and name == "rssi":
                contact.rssi = number


def _count_refusal(batch: _Batch, code: str, device: _Sender | None, refused: Refused) -> None:
    key = (code[:64], refused.reason.value)
    count, _ = batch.refusals.get(key, (0, ""))
    batch.refusals[key] = (count + 1, refused.detail)
    if device is not None:
        batch.refused_devices[device.id] = batch.refused_devices.get(device.id, 0) + 1


def _roll_up(session: Session, stored: list[Any]) -> None:
    """Fold the values this batch really stored (not those it skipped as stored before) into their minute and
    hour: count, sum, smallest and largest, added to what the rollup held."""
    sums: dict[tuple[int, str, int, dt.datetime], list[float]] = {}
    for device_id, name, observed_at, number in stored:
        minute = observed_at.replace(second=0, microsecond=0)
        for seconds, bucket in ((60, minute), (3600, minute.replace(minute=0))):
            key = (device_id, name, seconds, bucket)
            acc = sums.get(key)
            if acc is None:
                sums[key] = [1, number, number, number]
            else:
                acc[0] += 1
                acc[1] += number
                acc[2] = min(acc[2], number)
                acc[3] = max(acc[3], number)
    if not sums:
        return
    execute_many(
        session,
        "iot.rollups",
        lambda: insert_or_add(
            session,
            _ROLLUPS,
            key=["device_id", "name", "seconds", "bucket"],
            add=["count", "total"],
            least=["minimum"],
            greatest=["maximum"],
        ),
        [
            {
                "device_id": device_id,
                "name": name,
                "seconds": seconds,
                "bucket": bucket,
                "count": count,
                "total": total,
                "minimum": low,
                "maximum": high,
            }
            for (device_id, name, seconds, bucket), (count, total, low, high) in sums.items()
        ],
    )


_DEVICES: Table = Device.__table__  # type: ignore[assignment]
_MEASUREMENTS: Table = Measurement.__table__  # type: ignore[assignment]
_REJECTIONS: Table = RejectionCount.__table__  # type: ignore[assignment]
_ROLLUPS: Table = Rollup.__table__  # type: ignore[assignment]
_LATEST: Table = Latest.__table__  # type: ignore[assignment]
_CONTACT = (
    update(_DEVICES)
    .where(_DEVICES.c.id == bindparam("device_id"))
    .values(
        last_seen_at=bindparam("now"),
        accepted=_DEVICES.c.accepted + bindparam("messages"),
        battery_level=func.coalesce(bindparam("battery", type_=Float), _DEVICES.c.battery_level),
        rssi=func.coalesce(bindparam("signal", type_=Float), _DEVICES.c.rssi),
    )
)
_REFUSED = (
    update(_DEVICES)
    .where(_DEVICES.c.id == bindparam("device_id"))
    .values(rejected=_DEVICES.c.rejected + bindparam("refused"))
)


def _store_values(session: Session, rows: list[dict[str, object]]) -> list[Any]:
    """Insert the batch's values, skipping those stored before; the (device, name, time, number) of those stored.

    The common case, a batch of new values, goes to the driver in one executemany: when every row was inserted,
    the batch is what was stored. A batch holding values stored before (a redelivery) is undone to its savepoint
    and inserted again with RETURNING, which names the rows really stored."""
    savepoint = session.begin_nested()
    inserted = execute_many(session, "iot.values", lambda: insert_skipping_existing(session, _MEASUREMENTS), rows)
    if inserted == len(rows):
        savepoint.commit()
        return [(r["device_id"], r["name"], r["observed_at"], r["number"]) for r in rows]
    savepoint.rollback()
    stmt = insert_skipping_existing(session, _MEASUREMENTS).returning(
        _MEASUREMENTS.c.device_id, _MEASUREMENTS.c.name, _MEASUREMENTS.c.observed_at, _MEASUREMENTS.c.number
    )
    return list(session.connection().execute(stmt, rows).all())


def _write(session: Session, batch: _Batch, now: dt.datetime) -> None:
    connection = session.connection()
    if batch.rows:
        stored = _store_values(session, batch.rows)
        _roll_up(session, [row for row in stored if row[3] is not None])
        _keep_latest(session, batch.rows)
    if batch.contacts:
        execute_many(
            session,
            "iot.contacts",
            lambda: _CONTACT,
            [
                {
                    "device_id": c.device_id,
                    "now": now,
                    "messages": c.messages,
                    "battery": c.battery_level,
                    "signal": c.rssi,
                }
                for c in batch.contacts.values()
            ],
        )
    if batch.refusals:
        stmt = insert_or_add(
            session,
            _REJECTIONS,
            key=["device_code", "reason"],
            add=["count"],
            replace=["last_at", "last_detail"],
        )
        connection.execute(
            stmt,
            [
                {"device_code": code, "reason": reason, "count": count, "last_at": now, "last_detail": detail}
                for (code, reason), (count, detail) in batch.refusals.items()
            ],
        )
    if batch.refused_devices:
        connection.execute(_REFUSED, [{"device_id": d, "refused": n} for d, n in batch.refused_devices.items()])
    if batch.contacts:
        devices = {c.device_id: c.type_code for c in batch.contacts.values()}
        alarms.evaluate(session, devices, now=now, moments=_moments(batch.rows))


def _moments(rows: list[dict[str, Any]]) -> dict[int, list[alarms.Moment]]:
    """For each device with reports of more than one time in the batch: its values as they stood at each but the
    last (the latest values are in the store), built up in time order from the batch's own rows."""
    by_device: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_device.setdefault(row["device_id"], []).append(row)
    moments: dict[int, list[alarms.Moment]] = {}
    for device_id, mine in by_device.items():
        if len({row["observed_at"] for row in mine}) < 2:
            continue
        mine.sort(key=lambda row: row["observed_at"])
        state: alarms.Moment = {}
        seen: list[alarms.Moment] = []
        for index, row in enumerate(mine):
            state[row["name"]] = (row["number"], row["text"])
            last_of_its_time = index + 1 == len(mine) or mine[index + 1]["observed_at"] != row["observed_at"]
            if last_of_its_time and index + 1 < len(mine):
                seen.append(dict(state))
        moments[device_id] = seen
    return moments


def _keep_latest(session: Session, rows: list[dict[str, object]]) -> None:
    newest: dict[tuple[object, object], dict[str, object]] = {}
    for row in rows:
        key = (row["device_id"], row["name"])
        held = newest.get(key)
        if held is None or row["observed_at"] >= held["observed_at"]:  # type: ignore[operator]
            newest[key] = row
    execute_many(
        session,
        "iot.latest",
        lambda: insert_or_take_newer(session, _LATEST, key=["device_id", "name"], newer="observed_at"),
        [{k: row[k] for k in ("device_id", "name", "observed_at", "number", "text")} for row in newest.values()],
    )
