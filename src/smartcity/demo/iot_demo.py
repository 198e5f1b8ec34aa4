"""Loading the IoT demo: the Yuyao fleet registered by its departments, their alarm rules, and the last day of
readings of the gauges, air stations and traffic detectors, so the console's charts have a history at once.

Devices are registered through the registry's CSV import, as each department would; the credentials it issues
are kept in `<data dir>/iot/demo-credentials.json` (readable by the owner only) for the simulator, which plays
the devices. Running the loader again adds only what is missing; a device whose credential was lost (or the file
holds another store's) gets a new one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from smartcity.config import get_settings
from smartcity.db import unit_of_work, utcnow
from smartcity.demo.iot_fleet import PARTS, DemoDevice, fleet
from smartcity.demo.iot_simulator import WARNING_LEVEL_M, Readings, Simulator, history
from smartcity.iot import alarms, service, telemetry
from smartcity.iot.mqtt import Broker
from smartcity.iot.schemas import Condition, RuleIn
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams
from smartcity.platform.permissions import REGISTRY, Role

HISTORY_HOURS = {"water_level_gauge": 24, "air_quality_station": 24, "traffic_detector": 6}

# (department code, rule): what each owner watches for
RULES: tuple[tuple[str, RuleIn], ...] = (
    (
        "SCJ",
        RuleIn(
            name="电梯困人",
            device_type="elevator_monitor",
            conditions=[Condition(measure="trappedPassenger", op="==", value=True)],
            severity="critical",
        ),
    ),
    (
        "SLJ",
        RuleIn(
            name=f"姚江水位超警戒（{WARNING_LEVEL_M:.2f} m）",
            device_type="water_level_gauge",
            conditions=[Condition(measure="currentLevel", op=">", value=WARNING_LEVEL_M)],
            severity="major",
        ),
    ),
    (
        "SLJ",
        RuleIn(
            name="水位 30 分钟内上涨超过 0.3 m",
            device_type="water_level_gauge",
            conditions=[Condition(measure="currentLevel", op=">", value=0.3, change_minutes=30)],
            severity="warning",
        ),
    ),
    ("SLJ", RuleIn(name="水位站 30 分钟无数据", device_type="water_level_gauge", silent_minutes=30, severity="major")),
    (
        "ZJJ",
        RuleIn(
            name="井盖异常开启",
            device_type="manhole_cover_sensor",
            conditions=[
                Condition(measure="coverOpen", op="==", value=True),
                Condition(measure="tiltAngle", op=">", value=15),
            ],
            severity="critical",
        ),
    ),
    (
        "ZJJ",
        RuleIn(
            name="井盖传感器电量低",
            device_type="manhole_cover_sensor",
            conditions=[Condition(measure="batteryLevel", op="<", value=0.15)],
            severity="warning",
        ),
    ),
    (
        "HBJ",
        RuleIn(
            name="PM2.5 超过 115 µg/m³（中度污染）",
            device_type="air_quality_station",
            conditions=[Condition(measure="pm25", op=">", value=115)],
            severity="major",
        ),
    ),
    (
        "JXJ",
        RuleIn(
            name="无线接入点宕机 10 分钟",
            device_type="wifi_ap",
            conditions=[Condition(measure="apState", op="==", value="down")],
            for_minutes=10,
            severity="minor",
        ),
    ),
    (
        "JJDD",
        RuleIn(
            name="路口持续拥堵 10 分钟",
            device_type="traffic_detector",
            conditions=[Condition(measure="congested", op="==", value=True)],
            for_minutes=10,
            severity="warning",
        ),
    ),
)


@dataclass(frozen=True)
class IotSummary:
    devices: int
    created: int
    rules_created: int
    observations: int

    def __str__(self) -> str:
        return (
            f"IoT: {self.devices} devices ({self.created} registered now), {self.rules_created} alarm rules created, "
            f"{self.observations} past observations"
        )


def credentials_file() -> Path:
    return get_settings().data_dir / "iot" / "demo-credentials.json"


def read_credentials() -> tuple[str, dict[str, str]]:
    """The scale the fleet was loaded at and the devices' credentials (none before the first load)."""
    path = credentials_file()
    if not path.exists():
        return "small", {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["scale"], document["credentials"]


def _write_credentials(scale: str, credentials: dict[str, str]) -> None:
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump({"scale": scale, "credentials": credentials}, out, ensure_ascii=False, sort_keys=True)
    temporary.replace(path)


def _acting_for(department_id: int, code: str) -> Principal:
    """The department administrator a department's devices and rules are set up as."""
    return Principal(
        user_id=0,
        username="demo-loader",
        display_name="demo-loader",
        role=Role.DEPT_ADMIN,
        department_id=department_id,
        department_code=code,
        permissions=REGISTRY.for_role(Role.DEPT_ADMIN),
    )


def devices_csv(devices: list[DemoDevice]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(service.IMPORT_COLUMNS)
    for d in devices:
        writer.writerow([d.code, d.name, d.type, d.department, d.town_code, d.longitude, d.latitude, d.address])
    return out.getvalue().encode("utf-8")


def load(*, scale: str = "small") -> IotSummary:
    """Register the missing devices and rules, then backfill the recent readings of those never heard from."""
    devices = fleet(scale)
    _, credentials = read_credentials()
    created: list[DemoDevice] = []
    rules_created = 0
    with unit_of_work() as session:
        ids = {d.code: d.id for d in identity.all_departments(session)}
        owners = {part.department: _acting_for(ids[part.department], part.department) for part in PARTS}
        registered = service.registered_codes(session, [d.code for d in devices])
        for department, by in owners.items():
            mine = [d for d in devices if d.department == department]
            new = [d for d in mine if d.code not in registered]
            if new:
                report = service.import_devices(session, by=by, content=devices_csv(new))
                credentials.update((p.code, p.credential) for p in report.created)
                created.extend(new)
            # registered earlier, but the credential file was lost or belongs to another store: issue new ones
            known = {d.code: credentials[d.code] for d in mine if d.code in credentials and d.code in registered}
            lost = {d.code for d in mine if d.code in registered and d.code not in credentials}
            for code in sorted(lost | service.wrong_credentials(session, known)):
                credentials[code] = service.rotate_credential(session, by=by, code=code).credential
        _write_credentials(scale, credentials)
        quiet = service.never_heard(session, [d.code for d in devices if d.type in HISTORY_HOURS])
    observations = _backfill([d for d in devices if d.code in quiet], credentials)
    with unit_of_work() as session:
        for department, rule in RULES:
            by = owners[department]
            names = {r.name for r in alarms.list_rules(session, by=by, params=PageParams(page=1, page_size=100))[0]}
            if rule.name not in names:
                alarms.create_rule(session, by=by, data=rule)
                rules_created += 1
    return IotSummary(len(devices), len(created), rules_created, observations)


def _backfill(chosen: list[DemoDevice], credentials: dict[str, str]) -> int:
    """The last hours of readings of gauges, stations and detectors not heard from yet, through the ingest."""
    readings = Readings(chosen)
    end = utcnow().replace(second=0, microsecond=0)
    stored = 0
    batch: list[telemetry.Message] = []
    limit = telemetry.limits().max_bytes
    for hours in sorted(set(HISTORY_HOURS.values())):
        group = [d for d in chosen if HISTORY_HOURS[d.type] == hours]
        for code, body, credential in history(
            readings, group, credentials, end=end - dt.timedelta(minutes=1), hours=hours, max_bytes=limit
        ):
            batch.append(telemetry.Message(code, body, credential))
            if len(batch) >= 200:
                stored += _ingest(batch)
                batch = []
    return stored + (_ingest(batch) if batch else 0)


def _ingest(messages: list[telemetry.Message]) -> int:
    with unit_of_work() as session:
        results = telemetry.ingest(session, messages)
    refused = [r for r in results if not isinstance(r, telemetry.Accepted)]
    if refused:
        raise RuntimeError(f"the demo's history was refused: {refused[0]}")
    return sum(r.observations for r in results if isinstance(r, telemetry.Accepted))


def simulator(broker: Broker, *, prefix: str) -> Simulator | None:
    """A simulator playing the loaded demo fleet against `broker`, or None before `demo load`."""
    scale, credentials = read_credentials()
    if not credentials:
        return None
    return Simulator(broker, prefix=prefix, devices=fleet(scale), credentials=credentials)
