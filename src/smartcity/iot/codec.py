"""Telemetry payloads: JSON and the compact text format, decoded and checked against the device type.

JSON, one observation:

    {"token": "<device credential>", "ts": "2026-12-03T09:30:00+08:00", "values": {"currentLevel": 2.41}}

`ts` is ISO 8601 with an offset, or milliseconds since the epoch; without `ts` the time of receipt is used. Over
HTTP the credential may be sent in the Authorization header instead, and a JSON array carries several observations.

Compact text, for devices that cannot afford JSON (one line, `|` between the parts, `,` between values):

    <device credential>|1764725400000|currentLevel=2.41,batteryLevel=0.87

Booleans are `true`/`false` (or `1`/`0` in text); text values are bare words. A message is taken whole or refused
whole, with the reason it is counted under (vocab.Rejection).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smartcity.iot.vocab import DeviceType, Rejection, ValueKind

Value = tuple[str, float | None, str | None]  # measure name, number (booleans as 1.0/0.0), text


@dataclass(frozen=True)
class Observation:
    """What one message says: the credential it carries (if any), when, and the checked values."""

    token: str | None
    observed_at: dt.datetime
    values: tuple[Value, ...]


class Refused(Exception):
    """A message that cannot be taken: the reason it is counted under and a one-line detail naming the rule."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """How far a device's clock may run ahead, how old an observation may be, and how big a message."""

    max_bytes: int = 4096
    max_ahead: dt.timedelta = dt.timedelta(minutes=5)
    max_age: dt.timedelta = dt.timedelta(days=7)


Authenticate = Callable[[str | None], None]


def _anyone(_: str | None) -> None:
    return None


def decode(
    payload: bytes,
    device_type: DeviceType,
    *,
    now: dt.datetime,
    limits: Limits,
    authenticate: Authenticate = _anyone,
) -> list[Observation]:
    """The observations of one message (one, or several from a JSON array), or Refused.

    `authenticate` is called with each observation's credential as soon as it is read, before its values are
    checked, so a sender without the device's credential learns nothing of the rules; it raises Refused."""
    if len(payload) > limits.max_bytes:
        raise Refused(Rejection.TOO_LARGE, f"{len(payload)} bytes, at most {limits.max_bytes}")
    text = _text(payload)
    first = text.lstrip()[:1]
    if first in ("{", "["):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Refused(Rejection.MALFORMED, f"not JSON: {exc.msg} at character {exc.pos}") from None
        items = document if isinstance(document, list) else [document]
        if not items or len(items) > 100:
            raise Refused(Rejection.MALFORMED, "a JSON array holds 1 to 100 observations")
        return [_from_json(item, device_type, now, limits, authenticate) for item in items]
    return [_from_text(text, device_type, now, limits, authenticate)]


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(Rejection.MALFORMED, f"not UTF-8 at byte {exc.start}") from None


def _from_json(
    item: Any, device_type: DeviceType, now: dt.datetime, limits: Limits, authenticate: Authenticate
) -> Observation:
    if not isinstance(item, dict):
        raise Refused(Rejection.MALFORMED, "an observation is a JSON object")
    unknown = set(item) - {"token", "ts", "values"}
    if unknown:
        raise Refused(Rejection.MALFORMED, f"unknown member '{sorted(unknown)[0]}' (token, ts, values)")
    token = item.get("token")
    if token is not None and not isinstance(token, str):
        raise Refused(Rejection.MALFORMED, "'token' is a string")
    authenticate(token)
    values = item.get("values")
    if not isinstance(values, dict) or not values:
        raise Refused(Rejection.MALFORMED, "'values' is an object of at least one measure")
    observed_at = _time(item.get("ts"), now, limits)
    checked = tuple(_checked(device_type, name, value, textual=False) for name, value in values.items())
    return Observation(token, observed_at, checked)


def _from_text(
    text: str, device_type: DeviceType, now: dt.datetime, limits: Limits, authenticate: Authenticate
) -> Observation:
    parts = text.strip().split("|")
    if len(parts) != 3:
        raise Refused(Rejection.MALFORMED, "the text format is <credential>|<time>|<name>=<value>,…")
    token, stamp, body = parts
    authenticate(token.strip() or None)
    pairs = [p for p in body.split(",") if p.strip()]
    if not pairs:
        raise Refused(Rejection.MALFORMED, "no values after the second '|'")
    checked = []
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise Refused(Rejection.MALFORMED, f"'{pair.strip()[:40]}' is not <name>=<value>")
        checked.append(_checked(device_type, name.strip(), raw.strip(), textual=True))
    when: str | int | None = stamp.strip() or None
    if isinstance(when, str) and when.isdigit():
        when = int(when)
    return Observation(token.strip() or None, _time(when, now, limits), tuple(checked))


def _time(value: Any, now: dt.datetime, limits: Limits) -> dt.datetime:
    if value is None:
        return now
    if isinstance(value, bool):
        raise Refused(Rejection.MALFORMED, "'ts' is ISO 8601 or milliseconds since the epoch")
    if isinstance(value, int):
        try:
            when = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise Refused(Rejection.MALFORMED, f"'ts' {value} is not a time") from None
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Refused(Rejection.MALFORMED, f"'ts' '{value[:40]}' is not ISO 8601") from None
        if when.tzinfo is None:
            raise Refused(Rejection.MALFORMED, "'ts' needs an offset (Z or +08:00)")
        when = when.astimezone(dt.UTC)
    else:
        raise Refused(Rejection.MALFORMED, "'ts' is ISO 8601 or milliseconds since the epoch")
    if when > now + limits.max_ahead:
        raise Refused(Rejection.FUTURE_TIME, f"{when.isoformat()} is ahead of the platform's clock")
    if when < now - limits.max_age:
        raise Refused(Rejection.TOO_OLD, f"{when.isoformat()} is older than {limits.max_age.days} days")
    return when


_TRUE = {"true": 1.0, "1": 1.0, "false": 0.0, "0": 0.0}


def _checked(device_type: DeviceType, name: str, value: Any, *, textual: bool) -> Value:
    measure = device_type.measure(name)
    if measure is None:
        raise Refused(Rejection.UNKNOWN_MEASURE, f"'{name[:40]}' is not a measure of {device_type.code}")
    kind = measure.kind
    if kind is ValueKind.TEXT:
        if not isinstance(value, str) or value not in measure.choices:
            raise Refused(Rejection.WRONG_TYPE, f"'{name}' is one of {', '.join(measure.choices)}")
        return name, None, value
    if kind is ValueKind.BOOLEAN:
        if isinstance(value, bool):
            return name, 1.0 if value else 0.0, None
        if textual and value in _TRUE:
            return name, _TRUE[value], None
        raise Refused(Rejection.WRONG_TYPE, f"'{name}' is true or false")
    number = _number(name, value, textual, integer=kind is ValueKind.INTEGER)
    if (measure.minimum is not None and number < measure.minimum) or (
        measure.maximum is not None and number > measure.maximum
    ):
        raise Refused(
            Rejection.OUT_OF_RANGE, f"'{name}' {number:g} is outside {measure.minimum:g}..{measure.maximum:g}"
        )
    return name, number, None


def _number(name: str, value: Any, textual: bool, *, integer: bool) -> float:
    wanted = "an integer" if integer else "a number"
    if textual and isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise Refused(Rejection.WRONG_TYPE, f"'{name}' is {wanted}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(Rejection.WRONG_TYPE, f"'{name}' is {wanted}")
    number = float(value)
    if not math.isfinite(number) or (integer and not number.is_integer()):
        raise Refused(Rejection.WRONG_TYPE, f"'{name}' is {wanted}")
    return number
