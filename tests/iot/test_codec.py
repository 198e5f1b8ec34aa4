"""Telemetry payloads: JSON and the compact text format decode to checked values, and anything else is refused
with the reason it is counted under and a detail naming the rule, never an exception of another kind."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartcity.iot import codec
from smartcity.iot.codec import Refused
from smartcity.iot.vocab import BY_CODE, Rejection

NOW = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)
LIMITS = codec.Limits()
GAUGE = BY_CODE["water_level_gauge"]
ELEVATOR = BY_CODE["elevator_monitor"]
LIGHT = BY_CODE["streetlight_controller"]


def _decode(payload: bytes | str, device_type=GAUGE) -> list[codec.Observation]:  # type: ignore[no-untyped-def]
    data = payload.encode() if isinstance(payload, str) else payload
    return codec.decode(data, device_type, now=NOW, limits=LIMITS)


def _refusal(payload: bytes | str, device_type=GAUGE) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as refused:
        _decode(payload, device_type)
    return refused.value


def test_json_with_an_offset_and_the_text_format_say_the_same() -> None:
    as_json = _decode('{"token": "k", "ts": "2026-12-03T09:30:00+08:00", "values": {"currentLevel": 2.41}}')
    millis = int(dt.datetime(2026, 12, 3, 1, 30, tzinfo=dt.UTC).timestamp() * 1000)
    as_text = _decode(f"k|{millis}|currentLevel=2.41")
    assert as_json == as_text
    assert as_json[0].observed_at == dt.datetime(2026, 12, 3, 1, 30, tzinfo=dt.UTC)
    assert as_json[0].values == (("currentLevel", 2.41, None),)


def test_kinds_booleans_integers_and_choices() -> None:
    [obs] = _decode("k||currentFloor=7,doorOpen=1,trappedPassenger=false,batteryLevel=0.5", ELEVATOR)
    assert obs.observed_at == NOW  # no time: the time of receipt
    assert obs.values == (
        ("currentFloor", 7.0, None),
        ("doorOpen", 1.0, None),
        ("trappedPassenger", 0.0, None),
        ("batteryLevel", 0.5, None),
    )
    [light] = _decode('{"values": {"powerState": "low", "illuminanceLevel": 0.3}}', LIGHT)
    assert light.values == (("powerState", None, "low"), ("illuminanceLevel", 0.3, None))
    assert _decode('[{"values": {"currentLevel": 1}}, {"values": {"currentLevel": 2}}]')[1].values[0][1] == 2.0


@pytest.mark.parametrize(
    ("payload", "device_type", "reason", "words"),
    [
        ("{not json", GAUGE, Rejection.MALFORMED, "not JSON"),
        ('{"values": {}}', GAUGE, Rejection.MALFORMED, "at least one measure"),
        ('{"values": {"currentLevel": 1}, "extra": 1}', GAUGE, Rejection.MALFORMED, "unknown member 'extra'"),
        ("k|0", GAUGE, Rejection.MALFORMED, "<credential>|<time>"),
        ("k||currentLevel", GAUGE, Rejection.MALFORMED, "<name>=<value>"),
        ('{"values": {"pm25": 3}}', GAUGE, Rejection.UNKNOWN_MEASURE, "'pm25' is not a measure of water_level_gauge"),
        ('{"values": {"currentLevel": "high"}}', GAUGE, Rejection.WRONG_TYPE, "'currentLevel' is a number"),
        ('{"values": {"currentLevel": true}}', GAUGE, Rejection.WRONG_TYPE, "is a number"),
        ("k||currentLevel=NaN", GAUGE, Rejection.WRONG_TYPE, "is a number"),
        ('{"values": {"currentFloor": 2.5}}', ELEVATOR, Rejection.WRONG_TYPE, "is an integer"),
        ('{"values": {"doorOpen": "yes"}}', ELEVATOR, Rejection.WRONG_TYPE, "true or false"),
        ('{"values": {"powerState": "dim"}}', LIGHT, Rejection.WRONG_TYPE, "one of on, off, low, bootingUp"),
        ('{"values": {"currentLevel": 99}}', GAUGE, Rejection.OUT_OF_RANGE, "outside -5..30"),
        ('{"ts": "2026-12-03T11:00:00+08:00", "values": {"currentLevel": 1}}', GAUGE, Rejection.FUTURE_TIME, "ahead"),
        ('{"ts": "2026-11-01T00:00:00Z", "values": {"currentLevel": 1}}', GAUGE, Rejection.TOO_OLD, "older than 7"),
        ('{"ts": "2026-12-03T09:00:00", "values": {"currentLevel": 1}}', GAUGE, Rejection.MALFORMED, "offset"),
        (b"\xff\xfe", GAUGE, Rejection.MALFORMED, "not UTF-8"),
        ("k||currentLevel=1," + "x" * 5000, GAUGE, Rejection.TOO_LARGE, "at most 4096"),
    ],
)
def test_bad_payloads_are_refused_with_the_rule(payload, device_type, reason, words) -> None:  # type: ignore[no-untyped-def]
    refused = _refusal(payload, device_type)
    assert refused.reason is reason
    assert words in refused.detail


def test_the_credential_is_checked_before_any_value() -> None:
    seen: list[str | None] = []

    def authenticate(token: str | None) -> None:
        seen.append(token)
        raise Refused(Rejection.BAD_CREDENTIALS, "wrong")

    with pytest.raises(Refused) as refused:
        codec.decode(b"bad|x|currentLevel=999", GAUGE, now=NOW, limits=LIMITS, authenticate=authenticate)
    assert refused.value.reason is Rejection.BAD_CREDENTIALS and seen == ["bad"]


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused(payload: bytes) -> None:
    try:
        observations = _decode(payload, ELEVATOR)
    except Refused as refused:
        assert refused.reason in Rejection and refused.detail
    else:
        assert all(o.values for o in observations)


@given(
    st.dictionaries(
        st.sampled_from(["currentFloor", "inMotion", "speed", "batteryLevel", "other"]),
        st.one_of(st.integers(-10, 200), st.floats(allow_nan=True), st.booleans(), st.text(max_size=5), st.none()),
        min_size=1,
    )
)
def test_any_json_values_decode_to_their_kind_or_are_refused(values: dict[str, object]) -> None:
    try:
        [obs] = _decode(json.dumps({"values": values}), ELEVATOR)
    except Refused as refused:
        assert refused.reason in {Rejection.UNKNOWN_MEASURE, Rejection.WRONG_TYPE, Rejection.OUT_OF_RANGE}
    else:
        for name, number, text in obs.values:
            assert text is None and number is not None
            measure = ELEVATOR.measure(name)
            assert measure is not None and (measure.minimum is None or measure.minimum <= number <= measure.maximum)
