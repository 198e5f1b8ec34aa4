"""JSON API of the IoT platform (/api/v1/iot): device types, the device registry, telemetry over HTTP, series."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from smartcity.iot import alarms, mapping, series, service, telemetry
from smartcity.iot.codec import Refused
from smartcity.iot.permissions import IOT_ALARMS, IOT_MANAGE, IOT_READ
from smartcity.iot.schemas import (
    AlarmRead,
    DeviceIn,
    DeviceProvisioned,
    DeviceRead,
    DeviceTypeRead,
    DeviceUpdate,
    ImportReport,
    RejectionRead,
    RuleIn,
    RuleRead,
    RuleSwitch,
    Series,
    TelemetryAccepted,
)
from smartcity.iot.service import DeviceFilter
from smartcity.iot.vocab import REJECTION_TITLES, Rejection
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, FieldProblem, NotAuthenticated, problem_response, request_locale
from smartcity.platform.i18n import N_, Message
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import Page, PageParams, page_body, page_params
from smartcity.platform.permissions import PublicRoute

PREFIX = "/api/v1/iot"
router = APIRouter(prefix=PREFIX, tags=["iot"])
Paging = Annotated[PageParams, Depends(page_params)]
Reader = Annotated[Principal, Depends(api(IOT_READ))]
Manager = Annotated[Principal, Depends(api(IOT_MANAGE))]
Handler = Annotated[Principal, Depends(api(IOT_ALARMS))]
Code = Annotated[str, Path(max_length=64, description="The device code, e.g. YJ-WL-0007.")]


async def raw_body(request: Request) -> bytes:
    """The request body as sent (CSV, JSON or the compact text format); the general body limit applies."""
    return await request.body()


Body = Annotated[bytes, Depends(raw_body)]


class DeviceCredentialRule(PublicRoute):
    """Telemetry routes: no platform user; the device's own credential is checked with each message."""


DEVICE = DeviceCredentialRule()


@router.get("/types", response_model=list[DeviceTypeRead])
def list_types(principal: Reader) -> list[DeviceTypeRead]:
    """The device types, each with its FIWARE Smart Data Models entity type and what it reports."""
    return service.device_types()


@router.get("/devices", response_model=Page[DeviceRead])
def list_devices(
    session: DbSession,
    principal: Reader,
    params: Paging,
    type: Annotated[str | None, Query(max_length=40)] = None,
    town_code: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    status: Annotated[str | None, Query(pattern=r"^(active|disabled)$")] = None,
    department: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the code or name")] = None,
) -> dict:
    """Your department's devices (every department's for platform administrators and auditors), by code."""
    flt = DeviceFilter(type=type, town_code=town_code, status=status, department=department, q=q)
    devices, total = service.list_devices(session, by=principal, flt=flt, params=params)
    return page_body(service.reads(session, devices), total, params)


@router.get(
    "/map",
    response_class=JSONResponse,
    responses={200: {"content": {"application/geo+json": {}}, "description": "A GeoJSON FeatureCollection."}},
)
def device_map(
    session: DbSession,
    principal: Reader,
    type: Annotated[str | None, Query(max_length=40, description="Only devices of this type.")] = None,
) -> Response:
    """The located devices the caller may see as GeoJSON points, with live health and worst open alarm."""
    body = mapping.device_map(session, by=principal, type=type)
    return JSONResponse(body, media_type="application/geo+json")


@router.post("/devices", response_model=DeviceProvisioned, status_code=201)
def register_device(session: DbSession, principal: Manager, data: DeviceIn) -> DeviceProvisioned:
    """Register a device and issue its credential: shown in this answer only."""
    return service.register_device(session, by=principal, data=data)


@router.post(
    "/devices/import",
    response_model=ImportReport,
    status_code=201,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
def import_devices(session: DbSession, principal: Manager, content: Body) -> ImportReport:
    """Register the devices of a CSV file (UTF-8; columns code, name, type and optionally department, town_code,
    longitude, latitude, address), all or none; the first bad row is named by its line."""
    return service.import_devices(session, by=principal, content=content)


@router.get("/devices/{code}", response_model=DeviceRead)
def get_device(session: DbSession, principal: Reader, code: Code) -> DeviceRead:
    """One device, with its health."""
    return service.reads(session, [service.get_device(session, by=principal, code=code)])[0]


@router.patch("/devices/{code}", response_model=DeviceRead)
def update_device(session: DbSession, principal: Manager, code: Code, data: DeviceUpdate) -> DeviceRead:
    """Rename, move, disable or enable a device."""
    return service.update_device(session, by=principal, code=code, data=data)


@router.post("/devices/{code}/credential", response_model=DeviceProvisioned)
def rotate_credential(session: DbSession, principal: Manager, code: Code) -> DeviceProvisioned:
    """Issue a new credential for the device; the old one stops working at once."""
    return service.rotate_credential(session, by=principal, code=code)


@router.get("/devices/{code}/series", response_model=Series)
def read_series(
    session: DbSession,
    principal: Reader,
    code: Code,
    name: Annotated[str, Query(max_length=40, description="The measure, e.g. currentLevel")],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=series.MAX_POINTS)] = 1000,
    resolution: Annotated[str, Query(pattern=r"^(raw|1m|1h)$", description="raw, or per minute or hour")] = "raw",
) -> Series:
    """The values one device reported of one measure, oldest first (default: the last day), raw or downsampled."""
    return series.read_series(
        session, by=principal, code=code, name=name, since=since, until=until, limit=limit, resolution=resolution
    )


@router.get("/rejections", response_model=list[RejectionRead])
def list_rejections(
    session: DbSession, principal: Reader, device: Annotated[str | None, Query(max_length=64)] = None
) -> list[RejectionRead]:
    """Refused telemetry messages counted by device code and reason, most recent first."""
    return service.rejections(session, by=principal, code=device)


@router.get("/rules", response_model=Page[RuleRead])
def list_rules(session: DbSession, principal: Reader, params: Paging) -> dict:
    """Your department's alarm rules."""
    rules, total = alarms.list_rules(session, by=principal, params=params)
    return page_body(rules, total, params)


@router.post("/rules", response_model=RuleRead, status_code=201)
def create_rule(session: DbSession, principal: Manager, data: RuleIn) -> RuleRead:
    """An alarm rule for a device type or one device: conditions on the latest values (all must hold, optionally
    for a number of minutes; `change_minutes` compares the change over that time), or a heartbeat
    (`silent_minutes` without data)."""
    return alarms.create_rule(session, by=principal, data=data)


@router.patch("/rules/{rule_id}", response_model=RuleRead)
def switch_rule(session: DbSession, principal: Manager, rule_id: RowId, data: RuleSwitch) -> RuleRead:
    """Switch a rule off (its open alarms are cleared) or on."""
    return alarms.set_rule_enabled(session, by=principal, rule_id=rule_id, enabled=data.enabled)


@router.get("/alarms", response_model=Page[AlarmRead])
def list_alarms(
    session: DbSession,
    principal: Reader,
    params: Paging,
    status: Annotated[str | None, Query(pattern=r"^(open|active|acknowledged|cleared)$")] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
) -> dict:
    """Alarms of your department's devices, newest first (`status=open`: not cleared)."""
    items, total = alarms.list_alarms(session, by=principal, status=status, device=device, params=params)
    return page_body(items, total, params)


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmRead)
def acknowledge_alarm(session: DbSession, principal: Handler, alarm_id: RowId) -> AlarmRead:
    """Take up an active alarm; it stays open until its condition ends."""
    return alarms.acknowledge_alarm(session, by=principal, alarm_id=alarm_id)


@router.post("/alarms/{alarm_id}/clear", response_model=AlarmRead)
def clear_alarm(session: DbSession, principal: Handler, alarm_id: RowId) -> AlarmRead:
    """Clear an open alarm by hand."""
    return alarms.clear_alarm(session, by=principal, alarm_id=alarm_id)


# A refused message is answered as a problem, but the request still commits: its refusal is counted.
_REFUSAL_STATUS: dict[Rejection, int] = {
    Rejection.MALFORMED: 400,
    Rejection.UNKNOWN_DEVICE: 404,
    Rejection.BAD_CREDENTIALS: 401,
    Rejection.DISABLED: 403,
    Rejection.TOO_LARGE: 413,
    Rejection.FLOOD: 429,
}
# One documented problem type per reason (listed at /problems).
REFUSALS: dict[Rejection, type[DomainError]] = {
    reason: type(
        f"Telemetry_{reason.value}",
        (DomainError,),
        {
            "status": _REFUSAL_STATUS.get(reason, 422),
            "slug": f"telemetry-{reason.value.replace('_', '-')}",
            "title": REJECTION_TITLES[reason],
            "__doc__": f"A device's telemetry message was refused ({reason.value}); it is counted for the device.",
        },
    )
    for reason in Rejection
}


@router.post("/telemetry/{code}", response_model=TelemetryAccepted, dependencies=[Depends(DEVICE)])
def post_telemetry(
    request: Request,
    session: DbSession,
    code: Code,
    payload: Body,
    authorization: Annotated[str | None, Header(description="Bearer <device credential>")] = None,
) -> Response:
    """Telemetry of one device over HTTP: JSON (one observation or an array) or the compact text format. The
    device's credential goes in `Authorization: Bearer …` or in the payload. A refused message is answered with
    the reason as problem+json (type /problems/telemetry-<reason>) and counted per device; nothing of it is
    stored."""
    credential = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated(N_("Send the device credential as 'Authorization: Bearer <credential>'."))
        credential = value.strip()
    result = telemetry.ingest(session, [telemetry.Message(code, payload, credential)])[0]
    if isinstance(result, Refused):
        problem = REFUSALS[result.reason]
        status = problem.status
        return problem_response(
            status=status,
            slug=problem.slug,
            title=Message(problem.title).render(request_locale(request)),
            detail=result.detail,
            instance=request.url.path,
            errors=[FieldProblem("payload", result.detail)],
            headers={"Retry-After": "1"} if status == 429 else None,
        )
    accepted = TelemetryAccepted(observations=result.observations, values=result.values)
    return Response(accepted.model_dump_json(), media_type="application/json")
