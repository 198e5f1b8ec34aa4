"""API shapes of the IoT platform."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DeviceCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$", strip_whitespace=True)]


class Location(BaseModel):
    """A WGS 84 point (GeoJSON order: longitude, then latitude)."""

    model_config = ConfigDict(extra="forbid")

    longitude: float = Field(ge=-180, le=180)
    latitude: float = Field(ge=-90, le=90)


class DeviceIn(BaseModel):
    """A device to register. `department` defaults to the caller's; a platform administrator names one."""

    model_config = ConfigDict(extra="forbid")

    code: DeviceCode = Field(description="The device's own identifier, e.g. YJ-WL-0007 (letters, digits, _ . -)")
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(max_length=40, description="A device type code, see GET /api/v1/iot/types")
    department: str | None = Field(default=None, max_length=16)
    town_code: str | None = Field(default=None, pattern=r"^\d{9}$", description="The town's 9-digit division code")
    location: Location | None = None
    address: str = Field(default="", max_length=300)


class DeviceUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    town_code: str | None = Field(default=None, pattern=r"^\d{9}$")
    location: Location | None = None
    address: str | None = Field(default=None, max_length=300)
    status: str | None = Field(default=None, pattern=r"^(active|disabled)$")


class DeviceRead(BaseModel):
    """A device as the registry holds it, with its health as of now."""

    code: str
    name: str
    type: str
    entity_type: str
    department: str
    town_code: str | None
    location: Location | None
    address: str
    status: str
    health: str
    last_seen_at: dt.datetime | None
    battery_level: float | None
    rssi: float | None
    accepted: int
    rejected: int
    created_at: dt.datetime


class DeviceProvisioned(DeviceRead):
    """A registered device with its credential: shown in this answer only, stored only as a digest."""

    credential: str


class ImportReport(BaseModel):
    """What a CSV import registered, with each device's credential (shown this once)."""

    created: list[DeviceProvisioned]


class MeasureRead(BaseModel):
    name: str
    title: str
    kind: str
    unit: str
    minimum: float | None
    maximum: float | None
    choices: list[str]


class DeviceTypeRead(BaseModel):
    """A device type, the Smart Data Models entity it is published as, and what it reports."""

    code: str
    title: str
    entity_type: str
    data_model: str
    category: str
    report_minutes: int
    measures: list[MeasureRead]


class TelemetryAccepted(BaseModel):
    """How many observations and values of a message were stored (0 when all were stored before)."""

    observations: int
    values: int


class Point(BaseModel):
    """A value at a time; a rollup's point is the minute's or hour's mean, with its count, smallest and largest."""

    observed_at: dt.datetime
    value: float | str | None
    count: int | None = None
    minimum: float | None = None
    maximum: float | None = None


class Series(BaseModel):
    """One measure of one device over a time range, oldest first."""

    device: str
    name: str
    unit: str
    resolution: str
    points: list[Point]


class RejectionRead(BaseModel):
    """Messages refused for one device code and one reason."""

    device_code: str
    reason: str
    title: str
    count: int
    last_at: dt.datetime
    last_detail: str


class Condition(BaseModel):
    """A measure's latest value compared with `value`; with `change_minutes`, its change over that many minutes."""

    model_config = ConfigDict(extra="forbid")

    measure: str = Field(max_length=40)
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: bool | float | str
    change_minutes: int | None = Field(default=None, ge=1, le=1440)


class RuleIn(BaseModel):
    """An alarm rule for a device type (of your department) or for one device."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    device_type: str | None = Field(default=None, max_length=40)
    device: str | None = Field(default=None, max_length=64)
    conditions: list[Condition] = Field(default_factory=list, max_length=5)
    for_minutes: int = Field(default=0, ge=0, le=1440, description="the conditions must hold this long")
    silent_minutes: int | None = Field(default=None, ge=1, le=10080, description="heartbeat: no data this long")
    severity: Literal["critical", "major", "minor", "warning"] = "major"
    webhook_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://[^\s/]+",
        description="Where raised and cleared alarms are posted, signed as Standard Webhooks specifies",
    )


class RuleRead(BaseModel):
    id: int
    name: str
    department: str
    device_type: str | None
    device: str | None
    conditions: list[Condition]
    for_minutes: int
    silent_minutes: int | None
    severity: str
    enabled: bool
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, description="The signing secret: in the creating answer only")


class RuleSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class AlarmRead(BaseModel):
    """An alarm and its lifecycle: active → acknowledged → cleared."""

    id: int
    rule: str
    rule_id: int
    device: str
    device_name: str
    severity: str
    status: str
    detail: dict[str, Any]
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    cleared_at: dt.datetime | None
    cleared_by: str | None
