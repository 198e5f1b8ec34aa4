"""The device registry: provisioning with per-device credentials, CSV import, listing, changes, health."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.iot.models import Device, RejectionCount
from smartcity.iot.permissions import IOT_MANAGE, IOT_OVERSEE
from smartcity.iot.schemas import (
    DeviceIn,
    DeviceProvisioned,
    DeviceRead,
    DeviceTypeRead,
    DeviceUpdate,
    ImportReport,
    Location,
    MeasureRead,
    RejectionRead,
)
from smartcity.iot.vocab import BY_CODE, COMMON, DEVICE_TYPES, REJECTION_TITLES, DeviceStatus, Health, Rejection
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.geo import CityMap, city_map
from smartcity.platform.i18n import N_, Message
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.service import token_digest
from smartcity.platform.paging import PageParams, fetch_page

CREDENTIAL_PREFIX = "scd_"
# The county's extent (余姚市, 330281), a little generous: a device outside it is a typing mistake.
LATE_FACTOR = 3  # a device is late after missing this many of its reports
IMPORT_MAX_ROWS = 10_000
IMPORT_COLUMNS = ("code", "name", "type", "department", "town_code", "longitude", "latitude", "address")


def device_types() -> list[DeviceTypeRead]:
    """Every device type, with its Smart Data Models entity type and measures."""
    return [
        DeviceTypeRead(
            code=t.code,
            title=t.title,
            entity_type=t.entity_type,
            data_model=t.data_model,
            category=t.category,
            report_minutes=t.report_minutes,
            measures=[
                MeasureRead(
                    name=m.name,
                    title=m.title,
                    kind=m.kind.value,
                    unit=m.unit,
                    minimum=m.minimum,
                    maximum=m.maximum,
                    choices=list(m.choices),
                )
                for m in (*t.measures, *COMMON)
            ],
        )
        for t in DEVICE_TYPES
    ]


def new_credential() -> str:
    """A device credential: shown once, stored as its SHA-256."""
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(24)


def health(device: Device, *, now: dt.datetime) -> Health:
    """Online while the device reports on time; late after missing LATE_FACTOR reports; silent if never heard."""
    return health_of(device.status, device.type_code, device.last_seen_at, now=now)


def health_of(status: str, type_code: str, last_seen_at: dt.datetime | None, *, now: dt.datetime) -> Health:
    """`health` from a device's columns (for lists read without loading whole devices)."""
    if status == DeviceStatus.DISABLED:
        return Health.DISABLED
    if last_seen_at is None:
        return Health.SILENT
    minutes = BY_CODE[type_code].report_minutes if type_code in BY_CODE else 60
    late = now - last_seen_at > dt.timedelta(minutes=minutes * LATE_FACTOR)
    return Health.LATE if late else Health.ONLINE


def device_read(device: Device, department_code: str, *, now: dt.datetime | None = None) -> DeviceRead:
    now = now or utcnow()
    location = (
        Location(longitude=device.longitude, latitude=device.latitude)
        if device.longitude is not None and device.latitude is not None
        else None
    )
    return DeviceRead(
        code=device.code,
        name=device.name,
        type=device.type_code,
        entity_type=BY_CODE[device.type_code].entity_type,
        department=department_code,
        town_code=device.town_code,
        location=location,
        address=device.address,
        status=device.status,
        health=health(device, now=now),
        last_seen_at=device.last_seen_at,
        battery_level=device.battery_level,
        rssi=device.rssi,
        accepted=device.accepted,
        rejected=device.rejected,
        created_at=device.created_at,
    )


def reads(session: Session, devices: list[Device]) -> list[DeviceRead]:
    """Devices as the API shows them (one lookup of their departments' codes)."""
    codes = identity.department_codes(session)
    now = utcnow()
    return [device_read(d, codes[d.department_id], now=now) for d in devices]


def readable(principal: Principal) -> Select[Device]:
    """The devices the caller may see: its department's, or every one for those who oversee the platform."""
    stmt = select(Device)
    if not principal.can(IOT_OVERSEE):
        stmt = stmt.where(Device.department_id == (principal.department_id or -1))
    return stmt


def get_device(session: Session, *, by: Principal, code: str) -> Device:
    """One device the caller may see, else 404."""
    device = session.scalars(readable(by).where(Device.code == code)).one_or_none()
    if device is None:
        raise NotFound(N_("No device '{code}'."), field="code", code=code)
    return device


@dataclass(frozen=True)
class DeviceFilter:
    type: str | None = None
    town_code: str | None = None
    status: str | None = None
    department: str | None = None
    q: str | None = None


def list_devices(session: Session, *, by: Principal, flt: DeviceFilter, params: PageParams) -> tuple[list[Device], int]:
    """A page of the caller's devices, by code."""
    stmt = readable(by)
    if flt.type:
        stmt = stmt.where(Device.type_code == flt.type)
    if flt.town_code:
        stmt = stmt.where(Device.town_code == flt.town_code)
    if flt.status:
        stmt = stmt.where(Device.status == flt.status)
    if flt.department:
        stmt = stmt.where(Device.department_id == identity.department_by_code(session, flt.department).id)
    if flt.q:
        pattern = f"%{flt.q.strip()}%"
        stmt = stmt.where(Device.code.ilike(pattern) | Device.name.ilike(pattern))
    return fetch_page(session, stmt.order_by(Device.code), params)


@dataclass(frozen=True)
class _City:
    """The departments and towns a registration is checked against, read once per call (an import has
    thousands of rows)."""

    departments: dict[str, int]
    towns: frozenset[str]
    map: CityMap

    @classmethod
    def read(cls, session: Session) -> _City:
        everyone = identity.all_departments(session)
        return cls(
            departments={d.code: d.id for d in everyone},
            towns=frozenset(d.division_code for d in everyone if d.kind == "town" and d.division_code),
            map=city_map(),
        )


def _department_id(session: Session, by: Principal, code: str | None, city: _City, *, field: str) -> int:
    if code is None or code == by.department_code:
        if by.department_id is None:
            raise InvalidInput(N_("Name the department that owns the device."), field=field)
        return by.department_id
    if not by.can(IOT_OVERSEE):
        raise PermissionDenied(N_("You may register devices of your own department only."))
    if code in city.departments:
        return city.departments[code]
    return identity.department_by_code(session, code, field=field).id  # raises: an unknown department


def _check_place(town_code: str | None, location: Location | None, city: _City, *, field: str) -> None:
    if town_code is not None and town_code not in city.towns:
        raise InvalidInput(N_("'{code}' is not a town of the city."), field=f"{field}town_code", code=town_code)
    if location is not None and not city.map.contains(location.longitude, location.latitude):
        raise InvalidInput(
            N_("The location {lon}, {lat} is outside the city."),
            field=f"{field}location",
            lon=f"{location.longitude:.5f}",
            lat=f"{location.latitude:.5f}",
        )


def _town_at(location: Location | None, city: _City) -> str | None:
    """A device placed without a town belongs to the town whose area holds its location."""
    return city.map.town_at(location.longitude, location.latitude) if location is not None else None


def _new_device(session: Session, by: Principal, data: DeviceIn, city: _City, *, field: str = "") -> tuple[Device, str]:
    if data.type not in BY_CODE:
        raise InvalidInput(N_("Unknown device type '{type}'."), field=f"{field}type", type=data.type)
    _check_place(data.town_code, data.location, city, field=field)
    department_id = _department_id(session, by, data.department, city, field=f"{field}department")
    credential = new_credential()
    device = Device(
        code=data.code,
        name=data.name,
        type_code=data.type,
        department_id=department_id,
        town_code=data.town_code or _town_at(data.location, city),
        longitude=data.location.longitude if data.location else None,
        latitude=data.location.latitude if data.location else None,
        address=data.address,
        secret_hash=token_digest(credential),
        status=DeviceStatus.ACTIVE,
        created_by=by.username,
        accepted=0,
        rejected=0,
    )
    return device, credential


def _taken(session: Session, codes: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(codes), 5000):
        taken.update(session.scalars(select(Device.code).where(Device.code.in_(codes[start : start + 5000]))))
    return taken


def registered_codes(session: Session, codes: list[str]) -> set[str]:
    """Which of `codes` name registered devices (whoever owns them)."""
    return _taken(session, codes)


def wrong_credentials(session: Session, credentials: dict[str, str]) -> set[str]:
    """Which registered devices of `credentials` (code → credential) hold another credential than the one given."""
    codes = sorted(credentials)
    wrong: set[str] = set()
    for start in range(0, len(codes), 5000):
        stmt = select(Device.code, Device.secret_hash).where(Device.code.in_(codes[start : start + 5000]))
        wrong.update(code for code, digest in session.execute(stmt) if token_digest(credentials[code]) != digest)
    return wrong


def never_heard(session: Session, codes: list[str]) -> set[str]:
    """Which of `codes` name registered devices that have not reported yet."""
    silent: set[str] = set()
    for start in range(0, len(codes), 5000):
        chunk = codes[start : start + 5000]
        stmt = select(Device.code).where(Device.code.in_(chunk), Device.last_seen_at.is_(None))
        silent.update(session.scalars(stmt))
    return silent


def register_device(session: Session, *, by: Principal, data: DeviceIn) -> DeviceProvisioned:
    """Register one device and issue its credential (shown in the answer only)."""
    by.require(IOT_MANAGE)
    if _taken(session, [data.code]):
        raise Conflict(N_("A device '{code}' is registered already."), field="code", code=data.code)
    device, credential = _new_device(session, by, data, _City.read(session))
    session.add(device)
    session.flush()
    audit.record(
        session, actor=by.actor(), action="iot.device.register", target_type="iot_device", target_id=device.code
    )
    read = reads(session, [device])[0]
    return DeviceProvisioned(**read.model_dump(), credential=credential)


def import_devices(session: Session, *, by: Principal, content: bytes) -> ImportReport:
    """Register every device of a CSV file (UTF-8, a header row of IMPORT_COLUMNS), all or none: the first bad row
    is named with its line and column."""
    by.require(IOT_MANAGE)
    rows = _csv_rows(content)
    taken = _taken(session, [r.get("code", "") for _, r in rows])
    seen: set[str] = set()
    city = _City.read(session)
    created: list[tuple[Device, str]] = []
    for line, row in rows:
        where = Message(N_("line {line}: "), line=line)
        data = _row_input(row, where)
        if data.code in taken or data.code in seen:
            raise Conflict(
                N_("{where}a device '{code}' is registered already."), field="code", where=where, code=data.code
            )
        seen.add(data.code)
        created.append(_new_device(session, by, data, city, field=f"line {line}: "))
    session.add_all([device for device, _ in created])
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="iot.device.import",
        detail={"devices": len(created)},
    )
    shown = reads(session, [device for device, _ in created])
    return ImportReport(
        created=[DeviceProvisioned(**r.model_dump(), credential=c) for r, (_, c) in zip(shown, created, strict=True)]
    )


def _csv_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(N_("The file is not UTF-8 (byte {at})."), field="file", at=exc.start) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("code", "name", "type") if c not in header]
    if missing:
        raise InvalidInput(N_("The header row lacks the column '{column}'."), field="file", column=missing[0])
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        raise InvalidInput(N_("Unknown column '{column}'."), field="file", column=unknown[0])
    rows = [(reader.line_num, {k.strip(): (v or "").strip() for k, v in r.items() if k}) for r in reader]
    if not rows:
        raise InvalidInput(N_("The file has no device rows."), field="file")
    if len(rows) > IMPORT_MAX_ROWS:
        raise InvalidInput(N_("At most {max} devices per file."), field="file", max=IMPORT_MAX_ROWS)
    return rows


def _row_input(row: dict[str, str], where: Message) -> DeviceIn:
    location = None
    if row.get("longitude") or row.get("latitude"):
        try:
            location = {"longitude": float(row.get("longitude", "")), "latitude": float(row.get("latitude", ""))}
        except ValueError:
            raise InvalidInput(
                N_("{where}longitude and latitude are decimal degrees."), field="location", where=where
            ) from None
    try:
        return DeviceIn(
            code=row.get("code", ""),
            name=row.get("name", ""),
            type=row.get("type", ""),
            department=row.get("department") or None,
            town_code=row.get("town_code") or None,
            location=location,
            address=row.get("address", ""),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        column = ".".join(str(p) for p in error["loc"])
        raise InvalidInput(
            N_("{where}column '{column}': {rule}"), field=column, where=where, column=column, rule=error["msg"]
        ) from None


def update_device(session: Session, *, by: Principal, code: str, data: DeviceUpdate) -> DeviceRead:
    """Rename, move, disable or enable a device of the caller's department."""
    by.require(IOT_MANAGE)
    device = get_device(session, by=by, code=code)
    changes = data.model_dump(exclude_unset=True)
    _check_place(data.town_code, data.location, _City.read(session), field="")
    if data.name is not None:
        device.name = data.name
    if "town_code" in changes:
        device.town_code = data.town_code
    if "location" in changes:
        device.longitude = data.location.longitude if data.location else None
        device.latitude = data.location.latitude if data.location else None
    if data.address is not None:
        device.address = data.address
    if data.status is not None:
        device.status = data.status
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="iot.device.update",
        target_type="iot_device",
        target_id=device.code,
        detail={"fields": sorted(changes)},
    )
    return reads(session, [device])[0]


def rotate_credential(session: Session, *, by: Principal, code: str) -> DeviceProvisioned:
    """Issue a new credential; the old one stops working at once."""
    by.require(IOT_MANAGE)
    device = get_device(session, by=by, code=code)
    credential = new_credential()
    device.secret_hash = token_digest(credential)
    session.flush()
    audit.record(session, actor=by.actor(), action="iot.device.rotate", target_type="iot_device", target_id=device.code)
    read = reads(session, [device])[0]
    return DeviceProvisioned(**read.model_dump(), credential=credential)


def rejections(session: Session, *, by: Principal, code: str | None = None) -> list[RejectionRead]:
    """Refused messages by device code and reason, most recent first: the caller's devices' (platform overseers
    also see codes that match no device)."""
    stmt = select(RejectionCount).order_by(RejectionCount.last_at.desc())
    if code is not None:
        stmt = stmt.where(RejectionCount.device_code == code)
    if not by.can(IOT_OVERSEE):
        own = select(Device.code).where(Device.department_id == (by.department_id or -1))
        stmt = stmt.where(RejectionCount.device_code.in_(own))
    return [
        RejectionRead(
            device_code=r.device_code,
            reason=r.reason,
            title=REJECTION_TITLES[Rejection(r.reason)],
            count=r.count,
            last_at=r.last_at,
            last_detail=r.last_detail,
        )
        for r in session.scalars(stmt.limit(500))
    ]
