"""Reading telemetry back: one measure of one device over a time range (what charts, the traffic and insight
modules and the NGSI-LD temporal API read)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.iot.models import Measurement
from smartcity.iot.schemas import Point, Series
from smartcity.iot.service import get_device
from smartcity.iot.vocab import BY_CODE
from smartcity.platform.errors import InvalidInput
from smartcity.platform.i18n import N_
from smartcity.platform.identity.principal import Principal

MAX_POINTS = 10_000


def read_series(
    session: Session,
    *,
    by: Principal,
    code: str,
    name: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 1000,
) -> Series:
    """The raw values of measure `name` of device `code` from `since` (default: a day ago) to `until` (now),
    oldest first, at most `limit`."""
    device = get_device(session, by=by, code=code)
    measure = BY_CODE[device.type_code].measure(name)
    if measure is None:
        raise InvalidInput(N_("'{name}' is not a measure of {type}."), field="name", name=name, type=device.type_code)
    until = until or utcnow()
    since = since or until - dt.timedelta(days=1)
    for label, value in (("since", since), ("until", until)):
        if value.tzinfo is None:
            raise InvalidInput(N_("'{field}' needs an offset (Z or +08:00)."), field=label)
    if since > until:
        raise InvalidInput(N_("'since' must not be later than 'until'"), field="since")
    if not 1 <= limit <= MAX_POINTS:
        raise InvalidInput(N_("A series holds 1 to {max} points."), field="limit", max=MAX_POINTS)
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
    return Series(
        device=device.code,
        name=name,
        unit=measure.unit,
        points=[Point(observed_at=r.observed_at, value=r.text if r.text is not None else r.number) for r in rows],
    )
