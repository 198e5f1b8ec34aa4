"""Reading telemetry back: one measure of one device over a time range (what charts, the traffic and insight
modules and the NGSI-LD temporal API read)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.db import unit_of_work, utcnow
from smartcity.iot.models import Latest, Measurement, Rollup
from smartcity.iot.schemas import Point, Series
from smartcity.iot.service import get_device
from smartcity.iot.vocab import BY_CODE
from smartcity.platform.errors import InvalidInput
from smartcity.platform.i18n import N_
from smartcity.platform.identity.principal import Principal

MAX_POINTS = 10_000
RESOLUTIONS = {"raw": 0, "1m": 60, "1h": 3600}


def read_series(
    session: Session,
    *,
    by: Principal,
    code: str,
    name: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 1000,
    resolution: str = "raw",
) -> Series:
    """The values of measure `name` of device `code` from `since` (default: a day ago) to `until` (now), oldest
    first, at most `limit`: raw, or per minute or hour (mean, with count, smallest and largest)."""
    device = get_device(session, by=by, code=code)
    measure = BY_CODE[device.type_code].measure(name)
    if measure is None:
        raise InvalidInput(N_("'{name}' is not a measure of {type}."), field="name", name=name, type=device.type_code)
    if resolution not in RESOLUTIONS:
        raise InvalidInput(N_("The resolution is raw, 1m or 1h."), field="resolution")
    until = until or utcnow()
    since = since or until - dt.timedelta(days=1)
    for label, value in (("since", since), ("until", until)):
        if value.tzinfo is None:
            raise InvalidInput(N_("'{field}' needs an offset (Z or +08:00)."), field=label)
    if since > until:
        raise InvalidInput(N_("'since' must not be later than 'until'"), field="since")
    if not 1 <= limit <= MAX_POINTS:
        raise InvalidInput(N_("A series holds 1 to {max} points."), field="limit", max=MAX_POINTS)
    seconds = RESOLUTIONS[resolution]
    if seconds:
        rolled = session.execute(
            select(Rollup.bucket, Rollup.count, Rollup.total, Rollup.minimum, Rollup.maximum)
            .where(
                Rollup.device_id == device.id,
                Rollup.name == name,
                Rollup.seconds == seconds,
                Rollup.bucket >= since,
                Rollup.bucket <= until,
            )
            .order_by(Rollup.bucket)
            .limit(limit)
        ).all()
        points = [
            Point(observed_at=r.bucket, value=r.total / r.count, count=r.count, minimum=r.minimum, maximum=r.maximum)
            for r in rolled
        ]
    else:
        rows = session.execute(
            select(Measurement.observed_at, Measurement.number, Measurement.text)
            .where(
                Measurement.device_id == device.id,
                Measurement.name == name,
                Measurement.observed_at >= since,
                Measurement.observed_at <= until,
            )
            .order_by(Measurement.observed_at)
            .limit(limit)
        ).all()
        points = [Point(observed_at=r.observed_at, value=r.text if r.text is not None else r.number) for r in rows]
    return Series(device=device.code, name=name, unit=measure.unit, resolution=resolution, points=points)


def latest_values(session: Session, *, device_id: int) -> dict[str, Latest]:
    """The newest value of each measure a device reported, by measure."""
    return {row.name: row for row in session.scalars(select(Latest).where(Latest.device_id == device_id))}


def prune(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete raw telemetry and rollups past their retention (SMARTCITY_IOT_RAW_DAYS, _MINUTE_DAYS, _HOUR_DAYS)."""
    now = now or utcnow()
    settings = get_settings()
    deleted = {}
    with unit_of_work() as session:
        deleted["raw"] = session.execute(
            delete(Measurement).where(Measurement.observed_at < now - dt.timedelta(days=settings.iot_raw_days))
        ).rowcount  # type: ignore[attr-defined]
        for label, seconds, days in (("1m", 60, settings.iot_minute_days), ("1h", 3600, settings.iot_hour_days)):
            deleted[label] = session.execute(
                delete(Rollup).where(Rollup.seconds == seconds, Rollup.bucket < now - dt.timedelta(days=days))
            ).rowcount  # type: ignore[attr-defined]
    return deleted
