"""Rules and alarms (告警): conditions on devices' latest values, evaluated as telemetry is stored.

A rule applies to a device type or to one device. Its conditions (all must hold) compare a measure's latest value
with a threshold, or the change of a measure over the last N minutes (rate of change); `for_minutes` makes them
hold that long first (duration). A heartbeat rule instead raises when a device has been silent for
`silent_minutes` (checked every minute). An alarm is active when raised, acknowledged when someone takes it up,
and cleared when the condition ends (or a person clears it); a device has one open alarm per rule, and cleared
alarms stay as history. Raising and clearing publish `iot.alarm.raised` / `iot.alarm.cleared` as platform events,
in the same transaction, so other modules react (an elevator's trapped passenger becomes a city-management case).
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.db import unit_of_work, utcnow
from smartcity.iot.models import Alarm, Device, Latest, Measurement, Rule, RuleState
from smartcity.iot.permissions import IOT_ALARMS, IOT_MANAGE, IOT_OVERSEE
from smartcity.iot.schemas import AlarmRead, Condition, RuleIn, RuleRead
from smartcity.iot.service import get_device
from smartcity.iot.vocab import BY_CODE, AlarmStatus, DeviceStatus, ValueKind
from smartcity.platform import events, sealing, webhooks
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.jobs import service as jobs
from smartcity.platform.paging import PageParams, fetch_page

ALARM_RAISED = "iot.alarm.raised"
ALARM_CLEARED = "iot.alarm.cleared"
NOTIFY_JOB = "iot.alarm.notify"
WEBHOOK_PURPOSE = "iot-webhook"
SYSTEM = "system"

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


# --- rules ------------------------------------------------------------------------------------------------------


def _check_conditions(device_type: str, conditions: list[Condition]) -> list[dict[str, Any]]:
    checked = []
    spec = BY_CODE[device_type]
    for index, condition in enumerate(conditions):
        where = f"conditions[{index}]"
        measure = spec.measure(condition.measure)
        if measure is None:
            raise InvalidInput(
                N_("'{name}' is not a measure of {type}."),
                field=f"{where}.measure",
                name=condition.measure,
                type=device_type,
            )
        value: Any = condition.value
        if measure.kind is ValueKind.TEXT:
            if condition.op not in ("==", "!=") or value not in measure.choices or condition.change_minutes:
                raise InvalidInput(
                    N_("'{name}' is compared with == or != to one of {choices}."),
                    field=f"{where}.value",
                    name=measure.name,
                    choices=", ".join(measure.choices),
                )
        elif measure.kind is ValueKind.BOOLEAN:
            if condition.op not in ("==", "!=") or not isinstance(value, bool) or condition.change_minutes:
                raise InvalidInput(
                    N_("'{name}' is compared with == or != to true or false."),
                    field=f"{where}.value",
                    name=measure.name,
                )
            value = 1.0 if value else 0.0
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(N_("'{name}' is compared with a number."), field=f"{where}.value", name=measure.name)
        checked.append(
            {"measure": measure.name, "op": condition.op, "value": value, "change_minutes": condition.change_minutes}
        )
    return checked


def create_rule(session: Session, *, by: Principal, data: RuleIn) -> RuleRead:
    """A rule of the caller's department, for a device type or one of its devices."""
    by.require(IOT_MANAGE)
    if (data.device_type is None) == (data.device is None):
        raise InvalidInput(N_("A rule names either a device type or one device."), field="device_type")
    device = None
    if data.device is not None:
        device = get_device(session, by=by, code=data.device)
        device_type = device.type_code
    else:
        device_type = data.device_type or ""
        if device_type not in BY_CODE:
            raise InvalidInput(N_("Unknown device type '{type}'."), field="device_type", type=device_type)
    if data.silent_minutes is None and not data.conditions:
        raise InvalidInput(N_("A rule has conditions, or is a heartbeat rule with silent_minutes."), field="conditions")
    if data.silent_minutes is not None and data.conditions:
        raise InvalidInput(N_("A heartbeat rule (silent_minutes) has no conditions."), field="conditions")
    department_id = device.department_id if device else by.department_id
    if department_id is None:
        raise InvalidInput(N_("A platform administrator's rule names one device."), field="device")
    rule = Rule(
        name=data.name,
        department_id=department_id,
        device_type=None if device else device_type,
        device_id=device.id if device else None,
        conditions=_check_conditions(device_type, data.conditions),
        for_minutes=data.for_minutes,
        silent_minutes=data.silent_minutes,
        severity=data.severity,
        enabled=True,
        created_by=by.username,
    )
    secret = None
    if data.webhook_url:
        secret = webhooks.new_secret()
        rule.webhook_url = data.webhook_url
        rule.webhook_secret_sealed = sealing.seal(secret, purpose=WEBHOOK_PURPOSE)
    session.add(rule)
    session.flush()
    audit.record(session, actor=by.actor(), action="iot.rule.create", target_type="iot_rule", target_id=rule.id)
    return rule_read(session, rule).model_copy(update={"webhook_secret": secret})


def rule_read(session: Session, rule: Rule) -> RuleRead:
    device = session.get(Device, rule.device_id) if rule.device_id else None
    return RuleRead(
        id=rule.id,
        name=rule.name,
        department=identity.department_codes(session)[rule.department_id],
        device_type=rule.device_type,
        device=device.code if device else None,
        conditions=[Condition.model_validate(c) for c in rule.conditions],
        for_minutes=rule.for_minutes,
        silent_minutes=rule.silent_minutes,
        severity=rule.severity,
        enabled=rule.enabled,
        webhook_url=rule.webhook_url,
    )


def _rules_of(by: Principal) -> Select[Rule]:
    stmt = select(Rule)
    if not by.can(IOT_OVERSEE):
        stmt = stmt.where(Rule.department_id == (by.department_id or -1))
    return stmt


def list_rules(session: Session, *, by: Principal, params: PageParams) -> tuple[list[RuleRead], int]:
    rules, total = fetch_page(session, _rules_of(by).order_by(Rule.id), params)
    return [rule_read(session, r) for r in rules], total


def set_rule_enabled(session: Session, *, by: Principal, rule_id: int, enabled: bool) -> RuleRead:
    """Switch a rule off (its open alarms are cleared) or on again."""
    by.require(IOT_MANAGE)
    rule = session.scalars(_rules_of(by).where(Rule.id == rule_id)).one_or_none()
    if rule is None:
        raise NotFound(N_("No rule {id}."), field="rule_id", id=rule_id)
    rule.enabled = enabled
    if not enabled:
        for alarm in session.scalars(select(Alarm).where(Alarm.rule_id == rule.id, Alarm.open_key.is_not(None))):
            _clear(session, alarm, by=by.username, now=utcnow())
    session.flush()
    audit.record(
        session, actor=by.actor(), action="iot.rule.enable" if enabled else "iot.rule.disable", target_type="iot_rule",
        target_id=rule.id,
    )  # fmt: skip
    return rule_read(session, rule)


# --- evaluation -------------------------------------------------------------------------------------------------


Moment = dict[str, tuple[float | None, str | None]]  # a device's values as they stood at one time: name → value


def evaluate(
    session: Session, devices: dict[int, str], *, now: dt.datetime, moments: dict[int, list[Moment]] | None = None
) -> None:
    """Evaluate the rules of `devices` (id → type) on their latest values, after a batch of their telemetry was
    stored in this transaction: raise, keep or clear their alarms.

    `moments` holds, for devices that reported more than once in the batch, their values as they stood at each
    earlier report: an immediate rule (no duration, no rate of change) that held at one of them raises its alarm
    even if the latest values clear it again, so a fault that began and ended within one batch is not lost."""
    if not devices:
        return
    types = set(devices.values())
    rules = list(
        session.scalars(
            select(Rule).where(
                Rule.enabled.is_(True),
                or_(Rule.device_type.in_(types), Rule.device_id.in_(list(devices))),
            )
        )
    )
    if not rules:
        return
    pairs = [
        (r, d)
        for r in rules
        for d in devices
        if (r.device_id == d) or (r.device_id is None and r.device_type == devices[d])
    ]
    if not pairs:
        return
    ids = sorted({d for _, d in pairs})
    latest: dict[tuple[int, str], Latest] = {
        (row.device_id, row.name): row for row in session.scalars(select(Latest).where(Latest.device_id.in_(ids)))
    }
    open_alarms = {
        (a.rule_id, a.device_id): a
        for a in session.scalars(select(Alarm).where(Alarm.device_id.in_(ids), Alarm.open_key.is_not(None)))
    }
    states = {
        (s.rule_id, s.device_id): s for s in session.scalars(select(RuleState).where(RuleState.device_id.in_(ids)))
    }
    for rule, device_id in pairs:
        alarm = open_alarms.get((rule.id, device_id))
        if rule.silent_minutes is not None:  # it reports again
            if alarm is not None:
                _clear(session, alarm, by=SYSTEM, now=now)
            continue
        if alarm is None and moments and device_id in moments and _immediate(rule):
            for moment in moments[device_id]:
                passing = _holds(session, rule, device_id, latest, moment)
                if passing is not None:
                    alarm = open_alarms[(rule.id, device_id)] = _raise(session, rule, device_id, passing, now=now)
                    break
        values = _holds(session, rule, device_id, latest)
        state = states.get((rule.id, device_id))
        if values is None:
            if state is not None:
                state.holding_since = None
            if alarm is not None:
                _clear(session, alarm, by=SYSTEM, now=now)
            continue
        if state is None:
            state = states[(rule.id, device_id)] = RuleState(rule_id=rule.id, device_id=device_id, holding_since=now)
            session.add(state)
        elif state.holding_since is None:
            state.holding_since = now
        held = now - (state.holding_since or now)
        if alarm is None and held >= dt.timedelta(minutes=rule.for_minutes):
            _raise(session, rule, device_id, values, now=now)
    session.flush()


def _immediate(rule: Rule) -> bool:
    return rule.for_minutes == 0 and not any(c.get("change_minutes") for c in rule.conditions)


def _holds(
    session: Session,
    rule: Rule,
    device_id: int,
    latest: dict[tuple[int, str], Latest],
    moment: Moment | None = None,
) -> dict[str, Any] | None:
    """The values that make all of the rule's conditions hold (the latest ones, or those of `moment` where it has
    them), or None."""
    values: dict[str, Any] = {}
    for condition in rule.conditions:
        value: Any
        if moment is not None and condition["measure"] in moment:
            number, text = moment[condition["measure"]]
            value = text if text is not None else number
            current = None
        else:
            current = latest.get((device_id, condition["measure"]))
            if current is None:
                return None
            value = current.text if current.text is not None else current.number
        if condition.get("change_minutes") and current is not None:
            before = session.execute(
                select(Measurement.number)
                .where(
                    Measurement.device_id == device_id,
                    Measurement.name == condition["measure"],
                    Measurement.observed_at <= current.observed_at - dt.timedelta(minutes=condition["change_minutes"]),
                )
                .order_by(Measurement.observed_at.desc())
                .limit(1)
            ).scalar()
            if before is None or value is None:
                return None
            value = value - before
        if value is None or not OPS[condition["op"]](value, condition["value"]):
            return None
        key = condition["measure"] + (
            f" change over {condition['change_minutes']} min" if condition.get("change_minutes") else ""
        )
        values[key] = value
    return values


def _raise(session: Session, rule: Rule, device_id: int, detail: dict[str, Any], *, now: dt.datetime) -> Alarm:
    alarm = Alarm(
        rule_id=rule.id,
        device_id=device_id,
        severity=rule.severity,
        status=AlarmStatus.ACTIVE,
        open_key=f"{rule.id}:{device_id}",
        detail=detail,
        raised_at=now,
    )
    session.add(alarm)
    session.flush()
    device = session.get(Device, device_id)
    assert device is not None
    _announce(session, ALARM_RAISED, alarm, rule, device)
    return alarm


def _clear(session: Session, alarm: Alarm, *, by: str, now: dt.datetime) -> None:
    alarm.status = AlarmStatus.CLEARED
    alarm.open_key = None
    alarm.cleared_at = now
    alarm.cleared_by = by
    session.flush()
    rule = session.get(Rule, alarm.rule_id)
    device = session.get(Device, alarm.device_id)
    assert rule is not None and device is not None
    _announce(session, ALARM_CLEARED, alarm, rule, device)


def _announce(session: Session, event: str, alarm: Alarm, rule: Rule, device: Device) -> None:
    """The platform event, and the rule's webhook as a job (both in this transaction: nothing is sent for an alarm
    that was rolled back)."""
    payload = _event(alarm, rule, device)
    events.publish(session, event, payload)
    if rule.webhook_url:
        jobs.enqueue(session, NOTIFY_JOB, {"rule_id": rule.id, "type": event, "data": payload})


def notify(payload: dict[str, Any]) -> None:
    """Job: post one alarm event to its rule's webhook; a failure raises, and the job is tried again later."""
    with unit_of_work() as session:
        rule = session.get(Rule, int(payload["rule_id"]))
        if rule is None or not rule.webhook_url or not rule.webhook_secret_sealed:
            return
        url, secret = rule.webhook_url, sealing.unseal(rule.webhook_secret_sealed, purpose=WEBHOOK_PURPOSE)
    body = json.dumps({"type": payload["type"], "data": payload["data"]}, ensure_ascii=False).encode()
    message_id = f"alarm_{payload['data']['alarm_id']}_{payload['type'].rsplit('.', 1)[-1]}"
    headers = webhooks.signed_headers(secret, message_id, body, agent="smartcity-iot/1")
    response = httpx.post(url, content=body, headers=headers, timeout=get_settings().exchange_push_timeout)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{url} answered HTTP {response.status_code}")


def _event(alarm: Alarm, rule: Rule, device: Device) -> dict[str, Any]:
    return {
        "alarm_id": alarm.id,
        "rule": rule.name,
        "severity": alarm.severity,
        "status": alarm.status,
        "device": device.code,
        "device_type": device.type_code,
        "department_id": device.department_id,
        "town_code": device.town_code,
        "longitude": device.longitude,
        "latitude": device.latitude,
        "detail": alarm.detail,
        "raised_at": alarm.raised_at.isoformat(),
    }


def check_silence(*, now: dt.datetime | None = None) -> int:
    """Raise the alarms of heartbeat rules whose devices have been silent too long; how many were raised."""
    now = now or utcnow()
    raised = 0
    with unit_of_work() as session:
        rules = session.scalars(select(Rule).where(Rule.enabled.is_(True), Rule.silent_minutes.is_not(None))).all()
        for rule in rules:
            assert rule.silent_minutes is not None
            since = now - dt.timedelta(minutes=rule.silent_minutes)
            scope = select(Device).where(Device.status == DeviceStatus.ACTIVE)
            scope = (
                scope.where(Device.id == rule.device_id)
                if rule.device_id
                else scope.where(Device.type_code == rule.device_type, Device.department_id == rule.department_id)
            )
            silent = scope.where(
                or_(Device.last_seen_at < since, (Device.last_seen_at.is_(None)) & (Device.created_at < since))
            )
            open_ids = set(
                session.scalars(select(Alarm.device_id).where(Alarm.rule_id == rule.id, Alarm.open_key.is_not(None)))
            )
            for device in session.scalars(silent):
                if device.id not in open_ids:
                    last = device.last_seen_at.isoformat() if device.last_seen_at else None
                    _raise(
                        session, rule, device.id, {"silent_minutes": rule.silent_minutes, "last_seen_at": last}, now=now
                    )
                    raised += 1
    return raised


# --- alarms -----------------------------------------------------------------------------------------------------


def _alarms_of(by: Principal) -> Select[Alarm]:
    stmt = select(Alarm)
    if not by.can(IOT_OVERSEE):
        stmt = stmt.join(Device, Device.id == Alarm.device_id).where(Device.department_id == (by.department_id or -1))
    return stmt


def alarm_reads(session: Session, alarms: Iterable[Alarm]) -> list[AlarmRead]:
    alarms = list(alarms)
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_({a.device_id for a in alarms})))}
    rules = {r.id: r for r in session.scalars(select(Rule).where(Rule.id.in_({a.rule_id for a in alarms})))}
    return [
        AlarmRead(
            id=a.id,
            rule=rules[a.rule_id].name,
            rule_id=a.rule_id,
            device=devices[a.device_id].code,
            device_name=devices[a.device_id].name,
            severity=a.severity,
            status=a.status,
            detail=a.detail,
            raised_at=a.raised_at,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by,
            cleared_at=a.cleared_at,
            cleared_by=a.cleared_by,
        )
        for a in alarms
    ]


def list_alarms(
    session: Session, *, by: Principal, status: str | None, device: str | None, params: PageParams
) -> tuple[list[AlarmRead], int]:
    """Alarms of the caller's devices, newest first; `status=open` for those not cleared."""
    stmt = _alarms_of(by)
    if status == "open":
        stmt = stmt.where(Alarm.open_key.is_not(None))
    elif status:
        stmt = stmt.where(Alarm.status == status)
    if device:
        stmt = stmt.where(Alarm.device_id.in_(select(Device.id).where(Device.code == device)))
    alarms, total = fetch_page(session, stmt.order_by(Alarm.raised_at.desc(), Alarm.id.desc()), params)
    return alarm_reads(session, alarms), total


def _alarm(session: Session, by: Principal, alarm_id: int) -> Alarm:
    alarm = session.scalars(_alarms_of(by).where(Alarm.id == alarm_id)).one_or_none()
    if alarm is None:
        raise NotFound(N_("No alarm {id}."), field="alarm_id", id=alarm_id)
    return alarm


def acknowledge_alarm(session: Session, *, by: Principal, alarm_id: int) -> AlarmRead:
    """Take up an active alarm (确认); it stays open until its condition ends."""
    by.require(IOT_ALARMS)
    alarm = _alarm(session, by, alarm_id)
    if alarm.status != AlarmStatus.ACTIVE:
        raise Conflict(N_("Only an active alarm can be acknowledged; this one is {status}."), status=alarm.status)
    alarm.status = AlarmStatus.ACKNOWLEDGED
    alarm.acknowledged_at = utcnow()
    alarm.acknowledged_by = by.username
    session.flush()
    audit.record(session, actor=by.actor(), action="iot.alarm.acknowledge", target_type="iot_alarm", target_id=alarm.id)
    return alarm_reads(session, [alarm])[0]


def clear_alarm(session: Session, *, by: Principal, alarm_id: int) -> AlarmRead:
    """Clear an open alarm by hand (if its condition still holds, the next telemetry raises it again)."""
    by.require(IOT_ALARMS)
    alarm = _alarm(session, by, alarm_id)
    if alarm.open_key is None:
        raise Conflict(N_("The alarm is cleared already."))
    _clear(session, alarm, by=by.username, now=utcnow())
    state = session.get(RuleState, (alarm.rule_id, alarm.device_id))
    if state is not None:
        state.holding_since = None
    audit.record(session, actor=by.actor(), action="iot.alarm.clear", target_type="iot_alarm", target_id=alarm.id)
    return alarm_reads(session, [alarm])[0]
