"""Console pages of the IoT platform (/iot): the device list with live health, the device map, a device's page
with its latest values and charts, alarms to acknowledge and clear, and the refused messages counted per device."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from smartcity.db import utcnow
from smartcity.iot import alarms, mapping, series, service
from smartcity.iot.permissions import IOT_ALARMS, IOT_READ
from smartcity.iot.service import DeviceFilter
from smartcity.iot.vocab import ALARM_STATUS_TITLES, BY_CODE, DEVICE_TYPES, REJECTION_TITLES, SEVERITY_TITLES
from smartcity.platform.console import DISPLAY_TZ, redirect, render
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.geo import city_map
from smartcity.platform.i18n import N_
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, pager

router = APIRouter(prefix="/iot", include_in_schema=False)
Reader = Annotated[Principal, Depends(page(IOT_READ))]
Handler = Annotated[Principal, Depends(page(IOT_ALARMS))]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
PAGE_SIZE = 50
HEALTH_TITLES = {
    "online": N_("Online"),
    "late": N_("Late"),
    "silent": N_("Never heard"),
    "disabled": N_("Disabled"),
}


def _render(request: Request, principal: Principal, name: str, context: dict[str, Any]) -> Response:
    values = {
        "types": {t.code: t for t in DEVICE_TYPES},
        "health_titles": HEALTH_TITLES,
        "severity_titles": SEVERITY_TITLES,
        "status_titles": ALARM_STATUS_TITLES,
        "can_handle": principal.can(IOT_ALARMS),
        **context,
    }
    return render(request, name, values)


@router.get("")
def devices_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    type: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page_no: PageNo = 1,
) -> Response:
    """The department's devices with their health, battery and refusals."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    flt = DeviceFilter(type=type or None, q=q or None)
    devices, total = service.list_devices(session, by=principal, flt=flt, params=params)
    items = service.reads(session, devices)
    context = {
        "active": "devices",
        "items": items,
        "type": type,
        "q": q or "",
        **pager(total, params, lambda n: f"/iot?type={type or ''}&q={q or ''}&page={n}"),
    }
    return _render(request, principal, "iot/devices.html", context)


MAP_COLOURS = {
    "online": "#1e9e4a",
    "late": "#e0a100",
    "silent": "#9aa5b1",
    "disabled": "#5c6670",
    "alarm": "#d62828",
}


@router.get("/map")
def map_page(request: Request, principal: Reader) -> Response:
    """The devices on a map of the city's towns, coloured by health and open alarms, refreshed as it stands."""
    context = {"active": "map", "colours": MAP_COLOURS, "approximate": city_map().approximate}
    return _render(request, principal, "iot/map.html", context)


@router.get("/map.geojson")
def map_data(
    session: DbSession, principal: Reader, type: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    """What the map page draws (the same GeoJSON as GET /api/v1/iot/map, for the signed-in console)."""
    body = mapping.device_map(session, by=principal, type=type or None)
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/devices/{code}")
def device_page(request: Request, session: DbSession, principal: Reader, code: str) -> Response:
    """One device: where it is, what it last reported, its day in charts, its alarms."""
    device = service.get_device(session, by=principal, code=code)
    read = service.reads(session, [device])[0]
    spec = BY_CODE[device.type_code]
    latest = series.latest_values(session, device_id=device.id)
    charts = []
    for measure in spec.measures:
        if measure.kind.value in ("number", "integer"):
            # the last day per minute (the rollups hold every numeric value stored, in the same transaction)
            points = series.read_series(
                session, by=principal, code=code, name=measure.name, resolution="1m", limit=1440
            )
            charts.append(
                {
                    "name": measure.name,
                    "title": measure.title,
                    "unit": measure.unit,
                    # city time without an offset, so the chart reads as the page does whatever the browser's zone
                    "points": [
                        [p.observed_at.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M:%S"), p.value]
                        for p in points.points
                    ],
                }
            )
    open_alarms, _ = alarms.list_alarms(
        session, by=principal, status=None, device=code, params=PageParams(page=1, page_size=20)
    )
    context = {
        "active": "devices",
        "device": read,
        "spec": spec,
        "latest": latest,
        "charts": charts,
        "charts_json": json.dumps(charts, ensure_ascii=False),
        "alarms": open_alarms,
        "now": utcnow(),
    }
    return _render(request, principal, "iot/device.html", context)


@router.get("/alarms")
def alarms_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    status: Annotated[str, Query(pattern=r"^(open|active|acknowledged|cleared|all)$")] = "open",
    page_no: PageNo = 1,
) -> Response:
    """Alarms of the department's devices, open ones first by default."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = alarms.list_alarms(
        session, by=principal, status=None if status == "all" else status, device=None, params=params
    )
    context = {
        "active": "alarms",
        "items": items,
        "status": status,
        **pager(total, params, lambda n: f"/iot/alarms?status={status}&page={n}"),
    }
    return _render(request, principal, "iot/alarms.html", context)


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(session: DbSession, principal: Handler, alarm_id: RowId) -> Response:
    alarms.acknowledge_alarm(session, by=principal, alarm_id=alarm_id)
    return redirect("/iot/alarms", flash=N_("Alarm acknowledged."))


@router.post("/alarms/{alarm_id}/clear")
def clear(session: DbSession, principal: Handler, alarm_id: RowId) -> Response:
    alarms.clear_alarm(session, by=principal, alarm_id=alarm_id)
    return redirect("/iot/alarms", flash=N_("Alarm cleared."))


@router.get("/rejections")
def rejections_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """Refused telemetry messages counted per device code and reason."""
    items = service.rejections(session, by=principal)
    return _render(
        request, principal, "iot/rejections.html", {"active": "rejections", "items": items, "titles": REJECTION_TITLES}
    )
