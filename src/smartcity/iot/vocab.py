"""Device types of the public-facility IoT platform (公共设施物联网平台) and what each reports.

Each type names the FIWARE Smart Data Models entity type its live state is published as (the NGSI-LD API reads
this), and its measures carry that model's attribute names: a measure of an AirQualityObserved station is `pm25`,
of a TrafficFlowObserved detector `intensity`. Elevators, manhole covers and cameras have no observed-state model
of their own, so they are Smart Data Models `Device`s with their own controlled properties. Every type may also
report the Device model's `batteryLevel` (0..1) and `rssi` (dBm).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from smartcity.platform.i18n import N_


class ValueKind(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TEXT = "text"


@dataclass(frozen=True)
class Measure:
    """One value a device type reports: its Smart Data Models attribute name, kind, unit and plausible range."""

    name: str
    title: str
    kind: ValueKind
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # the values a text measure may take


@dataclass(frozen=True)
class DeviceType:
    """A kind of device: what it reports, as which Smart Data Models entity, and how often it should be heard."""

    code: str
    title: str
    entity_type: str  # the Smart Data Models entity type of its observed state
    data_model: str  # the Smart Data Models subject that defines it
    category: str  # Smart Data Models Device `category`: sensor, meter, network, multimedia, actuator
    measures: tuple[Measure, ...]
    report_minutes: int  # how often a healthy device reports

    def measure(self, name: str) -> Measure | None:
        return _MEASURES[self.code].get(name)


N = ValueKind.NUMBER
I = ValueKind.INTEGER  # noqa: E741
B = ValueKind.BOOLEAN
T = ValueKind.TEXT

COMMON: tuple[Measure, ...] = (
    Measure("batteryLevel", N_("Battery level"), N, "", 0.0, 1.0),
    Measure("rssi", N_("Signal strength"), N, "dBm", -150.0, 0.0),
)

DEVICE_TYPES: tuple[DeviceType, ...] = (
    DeviceType(
        "traffic_detector",
        N_("Traffic flow detector"),
        "TrafficFlowObserved",
        "dataModel.Transportation",
        "sensor",
        (
            Measure("intensity", N_("Vehicles counted"), I, "", 0, 2000),
            Measure("occupancy", N_("Occupancy"), N, "", 0.0, 1.0),
            Measure("averageVehicleSpeed", N_("Average speed"), N, "km/h", 0.0, 200.0),
            Measure("congested", N_("Congested"), B),
        ),
        5,
    ),
    DeviceType(
        "elevator_monitor",
        N_("Elevator monitor"),
        "Device",
        "dataModel.Device",
        "sensor",
        (
            Measure("currentFloor", N_("Floor"), I, "", -5, 120),
            Measure("inMotion", N_("Moving"), B),
            Measure("doorOpen", N_("Door open"), B),
            Measure("trappedPassenger", N_("Passenger trapped"), B),
            Measure("speed", N_("Speed"), N, "m/s", 0.0, 10.0),
        ),
        1,
    ),
    DeviceType(
        "water_level_gauge",
        N_("Water-level gauge"),
        "FloodMonitoring",
        "dataModel.Environment",
        "sensor",
        (Measure("currentLevel", N_("Water level"), N, "m", -5.0, 30.0),),
        5,
    ),
    DeviceType(
        "air_quality_station",
        N_("Air-quality station"),
        "AirQualityObserved",
        "dataModel.Environment",
        "sensor",
        (
            Measure("pm25", "PM2.5", N, "µg/m³", 0.0, 1000.0),
            Measure("pm10", "PM10", N, "µg/m³", 0.0, 2000.0),
            Measure("no2", "NO₂", N, "µg/m³", 0.0, 2000.0),
            Measure("so2", "SO₂", N, "µg/m³", 0.0, 2000.0),
            Measure("o3", "O₃", N, "µg/m³", 0.0, 1000.0),
            Measure("co", "CO", N, "mg/m³", 0.0, 100.0),
            Measure("temperature", N_("Temperature"), N, "°C", -40.0, 60.0),
            Measure("relativeHumidity", N_("Relative humidity"), N, "", 0.0, 1.0),
        ),
        60,
    ),
    DeviceType(
        "manhole_cover_sensor",
        N_("Manhole-cover sensor"),
        "Device",
        "dataModel.Device",
        "sensor",
        (
            Measure("tiltAngle", N_("Tilt angle"), N, "°", 0.0, 180.0),
            Measure("coverOpen", N_("Cover open"), B),
        ),
        30,
    ),
    DeviceType(
        "streetlight_controller",
        N_("Streetlight controller"),
        "Streetlight",
        "dataModel.Streetlighting",
        "actuator",
        (
            Measure("powerState", N_("Power state"), T, choices=("on", "off", "low", "bootingUp")),
            Measure("illuminanceLevel", N_("Dimming level"), N, "", 0.0, 1.0),
            Measure("powerConsumption", N_("Power"), N, "W", 0.0, 2000.0),
        ),
        15,
    ),
    DeviceType(
        "wifi_ap",
        N_("Wi-Fi access point"),
        "AccessPoint",
        "dataModel.WifiNetwork",
        "network",
        (
            Measure("apState", N_("State"), T, choices=("up", "down")),
            Measure("clientsConnected", N_("Clients connected"), I, "", 0, 512),
        ),
        5,
    ),
    DeviceType(
        "camera",
        N_("Surveillance camera"),
        "Camera",
        "dataModel.Device",
        "multimedia",
        (Measure("on", N_("Recording"), B),),
        5,
    ),
)

BY_CODE: dict[str, DeviceType] = {t.code: t for t in DEVICE_TYPES}
_MEASURES: dict[str, dict[str, Measure]] = {t.code: {m.name: m for m in (*t.measures, *COMMON)} for t in DEVICE_TYPES}


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class Health(StrEnum):
    """What the console shows of a device: heard from recently, late, never heard, or switched off."""

    ONLINE = "online"
    LATE = "late"
    SILENT = "silent"
    DISABLED = "disabled"


class Rejection(StrEnum):
    """Why a telemetry message was refused; counted per device."""

    MALFORMED = "malformed"  # not JSON / not the text format, or the wrong shape
    UNKNOWN_DEVICE = "unknown_device"
    BAD_CREDENTIALS = "bad_credentials"
    DISABLED = "disabled"
    UNKNOWN_MEASURE = "unknown_measure"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIME = "future_time"
    TOO_OLD = "too_old"
    TOO_LARGE = "too_large"
    FLOOD = "flood"  # faster than a device may report


REJECTION_TITLES: dict[Rejection, str] = {
    Rejection.MALFORMED: N_("Malformed payload"),
    Rejection.UNKNOWN_DEVICE: N_("Unknown device"),
    Rejection.BAD_CREDENTIALS: N_("Wrong credentials"),
    Rejection.DISABLED: N_("Device disabled"),
    Rejection.UNKNOWN_MEASURE: N_("Unknown measure"),
    Rejection.WRONG_TYPE: N_("Value of the wrong type"),
    Rejection.OUT_OF_RANGE: N_("Value out of range"),
    Rejection.FUTURE_TIME: N_("Timestamp in the future"),
    Rejection.TOO_OLD: N_("Timestamp too old"),
    Rejection.TOO_LARGE: N_("Message too large"),
    Rejection.FLOOD: N_("Too many messages"),
}


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class AlarmStatus(StrEnum):
    ACTIVE = "active"  # raised, nobody has taken it up
    ACKNOWLEDGED = "acknowledged"  # someone is on it; still open until the condition ends
    CLEARED = "cleared"  # the condition ended (or a person cleared it); kept as history


SEVERITY_TITLES: dict[Severity, str] = {
    Severity.CRITICAL: N_("Critical"),
    Severity.MAJOR: N_("Major"),
    Severity.MINOR: N_("Minor"),
    Severity.WARNING: N_("Warning"),
}
ALARM_STATUS_TITLES: dict[AlarmStatus, str] = {
    AlarmStatus.ACTIVE: N_("Not acknowledged"),
    AlarmStatus.ACKNOWLEDGED: N_("Acknowledged"),
    AlarmStatus.CLEARED: N_("Cleared"),
}
