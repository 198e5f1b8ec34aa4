"""The device registry: registration issues a credential shown once, a CSV import registers all rows or none and
names the first bad one, each department sees and manages its own devices, and health follows last contact."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.iot import service
from smartcity.iot.models import Device
from smartcity.iot.schemas import DeviceUpdate, Location
from smartcity.iot.service import DeviceFilter
from smartcity.iot.vocab import Health
from smartcity.platform.audit.models import AuditEntry
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.identity.service import token_digest
from smartcity.platform.paging import PageParams
from tests.iot.world import GAUGE, LIFT, YMJD, build, gauge_in

FIRST = PageParams(page=1, page_size=50)
HEADER = "code,name,type,town_code,longitude,latitude,address\n"


def test_registration_issues_a_credential_stored_only_as_its_digest(db: Session) -> None:
    world = build(db)
    device = db.scalars(select(Device).where(Device.code == GAUGE)).one()
    assert world.gauge_credential.startswith("scd_") and world.gauge_credential not in device.secret_hash
    assert device.secret_hash == token_digest(world.gauge_credential)
    read = service.reads(db, [device])[0]
    assert read.department == "SLJ" and read.entity_type == "FloodMonitoring" and read.health == Health.SILENT
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == GAUGE)))
    assert actions == {"iot.device.register"}
    with pytest.raises(Conflict) as taken:
        service.register_device(db, by=world.slj, data=gauge_in())
    assert taken.value.field == "code"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"type": "toaster"}, "type", "Unknown device type 'toaster'"),
        ({"town_code": "330281999"}, "town_code", "'330281999' is not a town"),
        ({"location": Location(longitude=116.4, latitude=39.9)}, "location", "outside the city"),
        # inside the city's bounding box, but across the border in Cixi: the outline decides, not the box
        ({"location": Location(longitude=121.40, latitude=30.30)}, "location", "outside the city"),
    ],
)
def test_a_device_must_be_of_a_known_type_and_in_the_city(
    db: Session, overrides: dict[str, object], field: str, words: str
) -> None:
    world = build(db)
    with pytest.raises(InvalidInput) as bad:
        service.register_device(db, by=world.slj, data=gauge_in("YJ-WL-0002", **overrides))
    assert bad.value.field == field and words in str(bad.value)


def test_departments_see_and_manage_only_their_own_devices(db: Session) -> None:
    world = build(db)
    mine, total = service.list_devices(db, by=world.slj_staff, flt=DeviceFilter(), params=FIRST)
    assert [d.code for d in mine] == [GAUGE] and total == 1
    everything, _ = service.list_devices(db, by=world.admin, flt=DeviceFilter(town_code=YMJD), params=FIRST)
    assert [d.code for d in everything] == [LIFT, GAUGE]
    with pytest.raises(NotFound):
        service.get_device(db, by=world.slj, code=LIFT)  # another department's: not found, not forbidden
    with pytest.raises(PermissionDenied):
        service.update_device(db, by=world.slj_staff, code=GAUGE, data=DeviceUpdate(name="x"))
    with pytest.raises(PermissionDenied):
        service.register_device(db, by=world.slj, data=gauge_in("YJ-WL-0009", department="SCJ"))
    placed = service.register_device(db, by=world.admin, data=gauge_in("YJ-WL-0009", department="SCJ"))
    assert placed.department == "SCJ"


def test_disable_rotate_and_health(db: Session) -> None:
    world = build(db)
    disabled = service.update_device(db, by=world.slj, code=GAUGE, data=DeviceUpdate(status="disabled"))
    assert disabled.health == Health.DISABLED
    rotated = service.rotate_credential(db, by=world.slj, code=GAUGE)
    device = db.scalars(select(Device).where(Device.code == GAUGE)).one()
    assert rotated.credential != world.gauge_credential and device.secret_hash == token_digest(rotated.credential)
    device.status = "active"
    now = utcnow()
    device.last_seen_at = now - dt.timedelta(minutes=10)
    assert service.health(device, now=now) is Health.ONLINE
    device.last_seen_at = now - dt.timedelta(minutes=16)  # a gauge reports every 5 minutes; three missed
    assert service.health(device, now=now) is Health.LATE


def test_a_csv_import_registers_every_row_with_its_credential(db: Session) -> None:
    world = build(db)
    content = (
        HEADER
        + f"YJ-WL-0101,姚江丈亭段水位计,water_level_gauge,{YMJD},121.30,30.03,丈亭镇\n"
        + "YJ-WL-0102,姚江马渚段水位计,water_level_gauge,,121.08,30.05,\n"
    ).encode()
    report = service.import_devices(db, by=world.slj, content=content)
    assert [d.code for d in report.created] == ["YJ-WL-0101", "YJ-WL-0102"]
    assert len({d.credential for d in report.created}) == 2
    assert report.created[1].location == Location(longitude=121.08, latitude=30.05)
    assert report.created[0].town_code == YMJD  # as the row says
    assert report.created[1].town_code == "330281106"  # none given: the town whose area holds it, 马渚镇


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ("YJ-WL-0201,甲,water_level_gauge,,,,\nYJ-WL-0202,乙,toaster,,,,\n", "Unknown device type 'toaster'"),
        ("YJ-WL-0201,甲,water_level_gauge,,,,\nYJ-WL-0201,乙,water_level_gauge,,,,\n", "line 3: a device 'YJ-WL-0201'"),
        (f"{GAUGE},甲,water_level_gauge,,,,\n", "line 2: a device"),
        ("YJ-WL-0201,甲,water_level_gauge,,abc,30,\n", "line 2: longitude and latitude"),
        ("bad code!,甲,water_level_gauge,,,,\n", "line 2: column 'code'"),
    ],
)
def test_a_csv_import_with_a_bad_row_registers_nothing(db: Session, rows: str, words: str) -> None:
    world = build(db)
    before = db.scalars(select(Device.code)).all()
    with pytest.raises((InvalidInput, Conflict)) as bad:
        service.import_devices(db, by=world.slj, content=(HEADER + rows).encode())
    assert words in str(bad.value)
    assert db.scalars(select(Device.code)).all() == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfecode", "not UTF-8"),
        (b"name,type\nx,camera\n", "lacks the column 'code'"),
        (b"code,name,type,colour\n", "Unknown column 'colour'"),
        (HEADER.encode(), "no device rows"),
    ],
)
def test_a_csv_file_that_is_not_a_device_list_is_refused(db: Session, content: bytes, words: str) -> None:
    world = build(db)
    with pytest.raises(InvalidInput) as bad:
        service.import_devices(db, by=world.slj, content=content)
    assert words in str(bad.value)
