"""A small IoT world: two departments with their administrators, a town, and a device of each department."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from smartcity.iot import service
from smartcity.iot.schemas import DeviceIn, Location
from smartcity.platform.identity.principal import Principal
from smartcity.platform.permissions import Role
from tests.factories import make_department, make_town, make_user, principal, root

GAUGE = "YJ-WL-0001"  # a water-level gauge of 水利局 on the 姚江
LIFT = "SCJ-DT-0001"  # an elevator monitor of 市场监管局
YMJD = "330281004"


@dataclass(frozen=True)
class World:
    slj: Principal  # 水利局's administrator
    slj_staff: Principal
    scj: Principal  # 市场监管局's administrator
    admin: Principal
    gauge_credential: str
    lift_credential: str


def gauge_in(code: str = GAUGE, **overrides: object) -> DeviceIn:
    data: dict[str, object] = {
        "code": code,
        "name": "姚江城区段水位计",
        "type": "water_level_gauge",
        "town_code": YMJD,
        "location": Location(longitude=121.154, latitude=30.046),
        "address": "余姚市阳明街道舜江楼下游",
    }
    data.update(overrides)
    return DeviceIn.model_validate(data)


def build(session: Session) -> World:
    make_department(session, "SLJ", "余姚市水利局")
    make_department(session, "SCJ", "余姚市市场监督管理局")
    make_town(session)
    slj = principal(make_user(session, "slj_admin", Role.DEPT_ADMIN, "SLJ"))
    scj = principal(make_user(session, "scj_admin", Role.DEPT_ADMIN, "SCJ"))
    gauge = service.register_device(session, by=slj, data=gauge_in())
    lift = service.register_device(
        session,
        by=scj,
        data=DeviceIn(code=LIFT, name="阳明街道某小区3号楼电梯", type="elevator_monitor", town_code=YMJD),
    )
    return World(
        slj=slj,
        slj_staff=principal(make_user(session, "slj_staff", Role.DEPT_STAFF, "SLJ")),
        scj=scj,
        admin=root(),
        gauge_credential=gauge.credential,
        lift_credential=lift.credential,
    )
