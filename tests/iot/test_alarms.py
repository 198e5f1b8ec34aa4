"""Rules → alarms: thresholds held for a duration, rates of change, composite conditions and heartbeats raise one
open alarm per device and rule, which is acknowledged and cleared and kept as history; raising and clearing are
platform events other modules react to. Rollups count exactly what was stored, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from smartcity.iot import alarms, series, telemetry
from smartcity.iot.models import Alarm, Device, Rule
from smartcity.iot.schemas import Condition, RuleIn
from smartcity.platform import events
from smartcity.platform.errors import Conflict, InvalidInput, NotFound
from smartcity.platform.jobs.models import Job
from smartcity.platform.jobs.worker import run_until_idle
from smartcity.platform.paging import PageParams
from tests.exchange.receiver import receiver
from tests.iot.world import GAUGE, LIFT, World, build

T0 = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
FIRST = PageParams(page=1, page_size=50)
SEEN = "test.iot_alarm_seen"


@pytest.fixture
def world(db: Session) -> Iterator[World]:
    telemetry.FLOOD.clear()
    events.register((events.Reaction(alarms.ALARM_RAISED, SEEN, lambda payload: None),))
    yield build(db)
    events.REACTIONS[alarms.ALARM_RAISED].remove(SEEN)
    telemetry.FLOOD.clear()


def _send(db: Session, world: World, code: str, minutes: float, values: str) -> telemetry.Result:
    credential = world.gauge_credential if code == GAUGE else world.lift_credential
    when = T0 + dt.timedelta(minutes=minutes)
    payload = f"{credential}|{int(when.timestamp() * 1000)}|{values}".encode()
    [result] = telemetry.ingest(db, [telemetry.Message(code, payload)], now=when + dt.timedelta(seconds=1))
    assert isinstance(result, telemetry.Accepted), result
    return result


def _open(db: Session, code: str) -> list[Alarm]:
    device = db.scalars(select(Device).where(Device.code == code)).one()
    return list(db.scalars(select(Alarm).where(Alarm.device_id == device.id, Alarm.open_key.is_not(None))))


def test_a_threshold_held_for_ten_minutes_raises_one_alarm_and_clears_when_it_ends(db: Session, world: World) -> None:
    rule = alarms.create_rule(
        db,
        by=world.slj,
        data=RuleIn(
            name="姚江水位超警戒",
            device_type="water_level_gauge",
            conditions=[Condition(measure="currentLevel", op=">", value=4.5)],
            for_minutes=10,
            severity="critical",
        ),
    )
    _send(db, world, GAUGE, 0, "currentLevel=4.8")
    assert _open(db, GAUGE) == []  # holding, not yet for ten minutes
    _send(db, world, GAUGE, 5, "currentLevel=4.9")
    _send(db, world, GAUGE, 11, "currentLevel=5.1")
    [alarm] = _open(db, GAUGE)
    assert alarm.status == "active" and alarm.severity == "critical" and alarm.detail == {"currentLevel": 5.1}
    _send(db, world, GAUGE, 12, "currentLevel=5.2")
    assert len(_open(db, GAUGE)) == 1  # one open alarm per device and rule
    seen = db.scalars(select(Job).where(Job.kind == SEEN)).all()
    assert [j.payload["device"] for j in seen] == [GAUGE] and seen[0].payload["rule"] == "姚江水位超警戒"
    _send(db, world, GAUGE, 13, "currentLevel=3.0")
    assert _open(db, GAUGE) == []
    history, _ = alarms.list_alarms(db, by=world.slj_staff, status="cleared", device=GAUGE, params=FIRST)
    assert [(a.rule_id, a.cleared_by) for a in history] == [(rule.id, "system")]


def test_a_fault_that_begins_and_ends_within_one_batch_is_not_lost(db: Session, world: World) -> None:
    alarms.create_rule(
        db,
        by=world.scj,
        data=RuleIn(
            name="电梯困人",
            device_type="elevator_monitor",
            conditions=[Condition(measure="trappedPassenger", op="==", value=True)],
            severity="critical",
        ),
    )
    stamps = [int((T0 + dt.timedelta(seconds=s)).timestamp() * 1000) for s in (0, 20, 40)]
    lines = ["trappedPassenger=false", "trappedPassenger=true,currentFloor=7", "trappedPassenger=false"]
    batch = [  # delivered out of order, as a redelivery or a second consumer may: time decides, not arrival
        telemetry.Message(LIFT, f"{world.lift_credential}|{stamps[i]}|{lines[i]}".encode()) for i in (2, 0, 1)
    ]
    results = telemetry.ingest(db, batch, now=T0 + dt.timedelta(minutes=1))
    assert all(isinstance(r, telemetry.Accepted) for r in results)
    assert _open(db, LIFT) == []  # the latest report clears it ...
    history, _ = alarms.list_alarms(db, by=world.scj, status="cleared", device=LIFT, params=FIRST)
    assert len(history) == 1 and history[0].detail == {"trappedPassenger": 1.0}  # ... but it was raised
    # a batch whose earlier reports never met the condition raises nothing
    later = [int((T0 + dt.timedelta(minutes=5, seconds=s)).timestamp() * 1000) for s in (0, 30)]
    quiet = [telemetry.Message(LIFT, f"{world.lift_credential}|{t}|trappedPassenger=false".encode()) for t in later]
    telemetry.ingest(db, quiet, now=T0 + dt.timedelta(minutes=6))
    assert len(alarms.list_alarms(db, by=world.scj, status=None, device=LIFT, params=FIRST)[0]) == 1


def test_a_rate_of_change_and_a_composite_condition(db: Session, world: World) -> None:
    alarms.create_rule(
        db,
        by=world.slj,
        data=RuleIn(
            name="水位陡涨",
            device=GAUGE,
            conditions=[Condition(measure="currentLevel", op=">", value=0.5, change_minutes=10)],
        ),
    )
    alarms.create_rule(
        db,
        by=world.scj,
        data=RuleIn(
            name="电梯困人",
            device_type="elevator_monitor",
            conditions=[
                Condition(measure="trappedPassenger", op="==", value=True),
                Condition(measure="inMotion", op="==", value=False),
            ],
            severity="critical",
        ),
    )
    _send(db, world, GAUGE, 0, "currentLevel=1.0")
    _send(db, world, GAUGE, 10, "currentLevel=1.3")
    assert _open(db, GAUGE) == []
    _send(db, world, GAUGE, 20, "currentLevel=2.0")  # +0.7 in ten minutes
    [rise] = _open(db, GAUGE)
    assert rise.detail == {"currentLevel change over 10 min": pytest.approx(0.7)}
    _send(db, world, LIFT, 0, "trappedPassenger=true,inMotion=true")
    assert _open(db, LIFT) == []  # both must hold
    _send(db, world, LIFT, 1, "inMotion=false")  # the latest of each measure is what counts
    [trapped] = _open(db, LIFT)
    assert trapped.detail == {"trappedPassenger": 1.0, "inMotion": 0.0}


def test_a_silent_device_raises_a_heartbeat_alarm_cleared_by_its_next_message(db: Session, world: World) -> None:
    alarms.create_rule(
        db, by=world.slj, data=RuleIn(name="水位计失联", device_type="water_level_gauge", silent_minutes=15)
    )
    _send(db, world, GAUGE, 0, "currentLevel=1.0")
    assert alarms.check_silence(now=T0 + dt.timedelta(minutes=10)) == 0
    assert alarms.check_silence(now=T0 + dt.timedelta(minutes=20)) == 1
    assert alarms.check_silence(now=T0 + dt.timedelta(minutes=21)) == 0  # still the same open alarm
    [silent] = _open(db, GAUGE)
    assert silent.detail["silent_minutes"] == 15
    _send(db, world, GAUGE, 22, "currentLevel=1.1")
    assert _open(db, GAUGE) == []


def test_the_alarm_lifecycle_is_checked(db: Session, world: World) -> None:
    alarms.create_rule(
        db,
        by=world.slj,
        data=RuleIn(name="超警戒", device=GAUGE, conditions=[Condition(measure="currentLevel", op=">=", value=4.5)]),
    )
    _send(db, world, GAUGE, 0, "currentLevel=4.6")
    [alarm] = _open(db, GAUGE)
    with pytest.raises(NotFound):
        alarms.acknowledge_alarm(db, by=world.scj, alarm_id=alarm.id)  # another department's
    taken = alarms.acknowledge_alarm(db, by=world.slj_staff, alarm_id=alarm.id)
    assert taken.status == "acknowledged" and taken.acknowledged_by == "slj_staff"
    with pytest.raises(Conflict):
        alarms.acknowledge_alarm(db, by=world.slj_staff, alarm_id=alarm.id)
    cleared = alarms.clear_alarm(db, by=world.slj_staff, alarm_id=alarm.id)
    assert cleared.status == "cleared" and cleared.cleared_by == "slj_staff"
    with pytest.raises(Conflict):
        alarms.clear_alarm(db, by=world.slj_staff, alarm_id=alarm.id)
    _send(db, world, GAUGE, 1, "currentLevel=4.7")  # still above: raised again, a new alarm
    [again] = _open(db, GAUGE)
    assert again.id != alarm.id


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"device_type": "water_level_gauge", "conditions": [{"measure": "pm25", "op": ">", "value": 1}]},
            "conditions[0].measure",
        ),
        (
            {
                "device_type": "streetlight_controller",
                "conditions": [{"measure": "powerState", "op": ">", "value": "on"}],
            },
            "conditions[0].value",
        ),
        (
            {"device_type": "elevator_monitor", "conditions": [{"measure": "doorOpen", "op": "==", "value": 1.5}]},
            "conditions[0].value",
        ),
        (
            {"device_type": "water_level_gauge", "conditions": [{"measure": "currentLevel", "op": ">", "value": "x"}]},
            "conditions[0].value",
        ),
        ({"device_type": "water_level_gauge"}, "conditions"),
        (
            {
                "device_type": "water_level_gauge",
                "silent_minutes": 5,
                "conditions": [{"measure": "currentLevel", "op": ">", "value": 1}],
            },
            "conditions",
        ),
        ({"device_type": "water_level_gauge", "device": GAUGE, "silent_minutes": 5}, "device_type"),
        ({"device_type": "toaster", "silent_minutes": 5}, "device_type"),
    ],
)
def test_a_rule_must_make_sense_for_its_devices(db: Session, world: World, data: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        alarms.create_rule(db, by=world.slj, data=RuleIn.model_validate({"name": "规则", **data}))
    assert bad.value.field == field


def test_rollups_count_what_was_stored_once(db: Session, world: World) -> None:
    for minutes, level in ((0, 1.0), (0.2, 3.0), (0.5, 2.0), (1, 5.0)):
        _send(db, world, GAUGE, minutes, f"currentLevel={level}")
    _send(db, world, GAUGE, 0.2, "currentLevel=3.0")  # delivered again: stored once, counted once
    since, until = T0 - dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=5)
    minutes = series.read_series(
        db, by=world.slj, code=GAUGE, name="currentLevel", since=since, until=until, resolution="1m"
    )
    assert [(p.count, p.value, p.minimum, p.maximum) for p in minutes.points] == [
        (3, 2.0, 1.0, 3.0),
        (1, 5.0, 5.0, 5.0),
    ]
    hours = series.read_series(
        db,
        by=world.slj,
        code=GAUGE,
        name="currentLevel",
        since=T0 - dt.timedelta(hours=1),
        until=until,
        resolution="1h",
    )
    assert [(p.count, p.value) for p in hours.points] == [(4, 2.75)]
    raw = series.read_series(db, by=world.slj, code=GAUGE, name="currentLevel", since=since, until=until)
    assert [p.value for p in raw.points] == [1.0, 3.0, 2.0, 5.0]


def test_a_rules_webhook_gets_raised_and_cleared_alarms_signed(db: Session, world: World) -> None:
    with receiver() as endpoint:
        rule = alarms.create_rule(
            db,
            by=world.slj,
            data=RuleIn(
                name="超警戒推送",
                device=GAUGE,
                conditions=[Condition(measure="currentLevel", op=">", value=4.5)],
                webhook_url=endpoint.url,
            ),
        )
        assert rule.webhook_secret and rule.webhook_secret.startswith("whsec_")
        assert alarms.rule_read(db, db.get(Rule, rule.id)).webhook_secret is None  # shown once
        _send(db, world, GAUGE, 0, "currentLevel=4.8")
        _send(db, world, GAUGE, 1, "currentLevel=3.0")
        run_until_idle()
        verifier = Webhook(rule.webhook_secret)
        kinds = []
        for sent in endpoint.received:
            message = verifier.verify(sent.body, sent.headers)  # raises on a bad signature
            kinds.append((message["type"], message["data"]["device"], message["data"]["status"]))
        assert kinds == [("iot.alarm.raised", GAUGE, "active"), ("iot.alarm.cleared", GAUGE, "cleared")]
