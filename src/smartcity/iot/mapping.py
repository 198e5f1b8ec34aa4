"""The device map: the caller's located devices as GeoJSON with their live health and worst open alarm, and a
tally per town, for the console's map and for clients that draw their own."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.iot.models import Alarm, Device
from smartcity.iot.permissions import IOT_OVERSEE, IOT_READ
from smartcity.iot.service import health_of
from smartcity.iot.vocab import BY_CODE, Health, Severity
from smartcity.platform.errors import InvalidInput
from smartcity.platform.i18n import N_
from smartcity.platform.identity.principal import Principal

# worst first: the map colours a device by the worst of its open alarms
SEVERITY_RANK = {s.value: rank for rank, s in enumerate(Severity)}


def device_map(session: Session, *, by: Principal, type: str | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946) of the located devices the caller may see; devices without a
    location are counted in `unlocated`. Beside the features: devices per health, devices with an open alarm
    (`alarmed`), and per town code its devices, their health and how many have an open alarm."""
    by.require(IOT_READ)
    if type is not None and type not in BY_CODE:
        raise InvalidInput(N_("Unknown device type '{type}'."), field="type", type=type)
    stmt = select(
        Device.id,
        Device.code,
        Device.name,
        Device.type_code,
        Device.town_code,
        Device.longitude,
        Device.latitude,
        Device.status,
        Device.last_seen_at,
    ).order_by(Device.code)
    alarm_stmt = select(Alarm.device_id, Alarm.severity).where(Alarm.open_key.is_not(None))
    if not by.can(IOT_OVERSEE):
        mine = by.department_id or -1
        stmt = stmt.where(Device.department_id == mine)
        alarm_stmt = alarm_stmt.join(Device, Device.id == Alarm.device_id).where(Device.department_id == mine)
    if type is not None:
        stmt = stmt.where(Device.type_code == type)
    worst: dict[int, str] = {}
    for device_id, severity in session.execute(alarm_stmt):
        if device_id not in worst or SEVERITY_RANK[severity] < SEVERITY_RANK[worst[device_id]]:
            worst[device_id] = severity
    now = utcnow()
    features = []
    health_counts: Counter[str] = Counter()
    towns: dict[str, Counter[str]] = {}
    unlocated = alarmed = 0
    for row in session.execute(stmt):
        health = health_of(row.status, row.type_code, row.last_seen_at, now=now)
        alarm = worst.get(row.id)
        health_counts[health] += 1
        alarmed += alarm is not None
        if row.town_code:
            tally = towns.setdefault(row.town_code, Counter())
            tally["devices"] += 1
            tally[health.value] += 1
            tally["alarms"] += alarm is not None
        if row.longitude is None or row.latitude is None:
            unlocated += 1
            continue
        features.append(
            {
                "type": "Feature",
                "id": row.code,
                "geometry": {"type": "Point", "coordinates": [round(row.longitude, 6), round(row.latitude, 6)]},
                "properties": {
                    "code": row.code,
                    "name": row.name,
                    "type": row.type_code,
                    "town_code": row.town_code,
                    "health": health.value,
                    "alarm": alarm,
                    "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else None,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "unlocated": unlocated,
        "health": {h.value: health_counts.get(h, 0) for h in Health},
        "alarmed": alarmed,
        "towns": {code: dict(tally) for code, tally in sorted(towns.items())},
        "generated_at": now.isoformat(),
    }
