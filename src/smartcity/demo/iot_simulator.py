"""Telemetry of the Yuyao demo fleet: plausible readings for every device type, faults that raise alarms, and a
simulator that publishes them over MQTT the way the devices would.

Readings follow the city's clock: traffic peaks in the morning and evening rush, streetlights burn from dusk to
dawn (dimmed after midnight), Wi-Fi clients follow the day, the 姚江 moves slowly around its normal level and air
quality is worse in the winter mornings. Each device has its own stable offsets, so two detectors do not draw the
same line.

Faults come around on a cycle so that a visitor sees the alarm lifecycle within minutes of `make run`: a passenger
trapped in an elevator, a manhole cover lifted, the 姚江 rising past its warning level at one gauge, a burst of
PM2.5 at one station, access points going down or silent. A few misconfigured devices send what the platform must
refuse (an old credential, broken payloads, values out of range, a code nobody registered), so the refusal
counts are not empty either. What fires when is a function of the time, so a restarted simulator carries on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
import logging
import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from smartcity.demo.iot_fleet import DemoDevice
from smartcity.iot.mqtt import Broker
from smartcity.iot.vocab import BY_CODE

log = logging.getLogger(__name__)

CITY_TZ = ZoneInfo("Asia/Shanghai")
WARNING_LEVEL_M = 2.80  # the demo's warning level (警戒水位) of the 姚江 gauges
NORMAL_LEVEL_M = 1.75
TEXT_FORMAT_TYPES = frozenset({"water_level_gauge", "manhole_cover_sensor"})  # NB-IoT devices: the compact format
BATTERY_TYPES = frozenset({"water_level_gauge", "manhole_cover_sensor"})
CYCLE = dt.timedelta(minutes=30)  # every fault comes around once per cycle
UNREGISTERED = "YY-AP-9999"  # publishes although nobody registered it


def _unit(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (Python's hash() changes between runs)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _local_hours(at: dt.datetime) -> float:
    local = at.astimezone(CITY_TZ)
    return local.hour + local.minute / 60 + local.second / 3600


def _rush(hours: float) -> float:
    """Traffic over the day, 0..1: morning and evening peaks, a quiet night."""
    morning = math.exp(-(((hours - 7.8) / 1.1) ** 2))
    evening = math.exp(-(((hours - 17.6) / 1.4) ** 2))
    day = 0.45 if 6.5 <= hours <= 21 else 0.08
    return min(1.0, max(morning, evening * 0.95, day))


@dataclass(frozen=True)
class Fault:
    """Something going wrong at one device for a while within each cycle."""

    kind: str
    device: str
    start: dt.timedelta  # into the cycle
    length: dt.timedelta
    cycle: dt.timedelta = CYCLE

    def active(self, at: dt.datetime) -> float:
        """How far into the fault `at` is (0..1), or -1 outside it."""
        into = (at - dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) % self.cycle
        if self.start <= into < self.start + self.length:
            return (into - self.start) / self.length
        return -1.0


class Readings:
    """What each device of the fleet reports at a time, faults included."""

    def __init__(self, devices: list[DemoDevice]) -> None:
        self.devices = {d.code: d for d in devices}
        by_type: dict[str, list[str]] = {}
        for d in devices:
            by_type.setdefault(d.type, []).append(d.code)
        self.by_type = by_type
        faults = []

        def pick(type_code: str, n: int) -> str | None:
            codes = by_type.get(type_code, [])
            return codes[n % len(codes)] if codes else None

        for kind, type_code, n, start, minutes, cycle in (
            ("trapped", "elevator_monitor", 17, 3, 6, 30),
            ("cover_open", "manhole_cover_sensor", 42, 9, 12, 30),
            ("flood", "water_level_gauge", 11, 0, 30, 90),
            ("ap_down", "wifi_ap", 1234, 12, 15, 30),
            ("congestion", "traffic_detector", 7, 15, 12, 30),
            ("smog", "air_quality_station", 0, 0, 150, 360),  # stations report hourly: a long episode
        ):
            code = pick(type_code, n)
            if code is not None:
                faults.append(
                    Fault(
                        kind,
                        code,
                        dt.timedelta(minutes=start),
                        dt.timedelta(minutes=minutes),
                        dt.timedelta(minutes=cycle),
                    )
                )
        self.faults = {f.device: f for f in faults}
        # about 0.5 % of the access points are out of service for good: never heard, so the heartbeat rule fires
        aps = by_type.get("wifi_ap", [])
        self.dead = {code for code in aps if _unit("dead", code) < 0.005}
        # misconfigured devices: what the platform must refuse
        self.stale_credential = pick("wifi_ap", 77)
        self.broken_payload = pick("camera", 5)
        self.out_of_range = pick("streetlight_controller", 9)

    def fault(self, code: str, at: dt.datetime) -> tuple[str, float] | None:
        fault = self.faults.get(code)
        if fault is None:
            return None
        progress = fault.active(at)
        return (fault.kind, progress) if progress >= 0 else None

    def values(
        self, device: DemoDevice, at: dt.datetime, *, faults: bool = True
    ) -> dict[str, bool | float | int | str]:
        """The device's reading at `at`; with `faults` false, as if nothing went wrong (the backfilled history)."""
        hours = _local_hours(at)
        own = _unit(device.code)
        fault = self.fault(device.code, at) if faults else None
        kind = fault[0] if fault else None
        progress = fault[1] if fault else 0.0
        values: dict[str, bool | float | int | str]
        match device.type:
            case "traffic_detector":
                load = _rush(hours) * (0.6 + 0.8 * own)
                if kind == "congestion":
                    load = 1.6
                intensity = int(max(0, load * 140 + random.gauss(0, 6)))  # vehicles per 5 minutes
                occupancy = min(0.95, load * 0.42 + random.uniform(0, 0.03))
                speed = max(4.0, 52 - occupancy * 60 + random.gauss(0, 3))
                values = {
                    "intensity": intensity,
                    "occupancy": round(occupancy, 3),
                    "averageVehicleSpeed": round(speed, 1),
                    "congested": occupancy > 0.55,
                }
            case "elevator_monitor":
                busy = 0.15 + 0.5 * _rush(hours)
                moving = random.random() < busy
                floors = 6 + int(own * 27)
                values = {
                    "currentFloor": random.randint(1, floors),
                    "inMotion": moving and kind != "trapped",
                    "doorOpen": (not moving) and random.random() < 0.3,
                    "trappedPassenger": kind == "trapped",
                    "speed": round(random.uniform(1.0, 1.75), 2) if moving and kind != "trapped" else 0.0,
                }
            case "water_level_gauge":
                # slow swell of the river plus the gauge's own datum; a flood crest rises past the warning level
                swell = 0.12 * math.sin(at.timestamp() / 3600 / 12.4 * 2 * math.pi + own * 6)
                level = NORMAL_LEVEL_M + (own - 0.5) * 0.3 + swell + random.gauss(0, 0.01)
                if kind == "flood":
                    crest = math.sin(math.pi * progress)  # up, a while above, back down
                    level += (WARNING_LEVEL_M + 0.35 - level) * crest
                values = {"currentLevel": round(level, 3)}
            case "air_quality_station":
                morning = math.exp(-(((hours - 8.5) / 2.5) ** 2))
                pm25 = 38 + 30 * morning + 12 * own + random.gauss(0, 4)
                if kind == "smog":
                    pm25 = 160 + 40 * math.sin(math.pi * progress)
                sun = max(0.0, math.sin((hours - 6) / 12 * math.pi))
                values = {
                    "pm25": round(max(3.0, pm25), 1),
                    "pm10": round(max(5.0, pm25 * 1.55 + random.gauss(0, 6)), 1),
                    "no2": round(max(2.0, 28 + 22 * _rush(hours) + random.gauss(0, 4)), 1),
                    "so2": round(max(1.0, 7 + random.gauss(0, 1.5)), 1),
                    "o3": round(max(2.0, 25 + 55 * sun + random.gauss(0, 5)), 1),
                    "co": round(max(0.1, 0.6 + 0.4 * morning + random.gauss(0, 0.05)), 2),
                    "temperature": round(7 + 6 * sun + random.gauss(0, 0.4), 1),
                    "relativeHumidity": round(min(0.99, 0.78 - 0.2 * sun + random.gauss(0, 0.02)), 2),
                }
            case "manhole_cover_sensor":
                opened = kind == "cover_open"
                values = {
                    "tiltAngle": round(38 + random.uniform(0, 6) if opened else abs(random.gauss(0.4, 0.3)), 1),
                    "coverOpen": opened,
                }
            case "streetlight_controller":
                dark = hours >= 17.4 or hours < 6.6
                level = (1.0 if hours >= 17.4 or hours < 0.5 else 0.5) if dark else 0.0
                state = "on" if level == 1.0 else "low" if level else "off"
                values = {
                    "powerState": state,
                    "illuminanceLevel": level,
                    "powerConsumption": round(150 * level * (0.95 + 0.1 * own) + (2 if not dark else 0), 1),
                }
                if device.code == self.out_of_range:
                    values["illuminanceLevel"] = 1.8  # a controller that reports per cent as a fraction: refused
            case "wifi_ap":
                down = kind == "ap_down"
                people = (0.1 + 0.9 * _rush(hours)) * (8 + 60 * own)
                values = {
                    "apState": "down" if down else "up",
                    "clientsConnected": 0 if down else max(0, int(people + random.gauss(0, 3))),
                }
            case _:
                values = {"on": True}
        if device.type in BATTERY_TYPES:
            # a year's battery, drained by a stable share per device: a few are low
            values["batteryLevel"] = round(max(0.05, 0.98 - own * 0.85), 2)
        values["rssi"] = round(-62 - 30 * own + random.gauss(0, 2))
        return values


def payload(device: DemoDevice, credential: str, at: dt.datetime, values: dict[str, bool | float | int | str]) -> bytes:
    """One observation in the device's format: the compact text for NB-IoT devices, JSON for the rest."""
    millis = int(at.timestamp() * 1000)
    if device.type in TEXT_FORMAT_TYPES:
        body = ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items())
        return f"{credential}|{millis}|{body}".encode()
    return json.dumps({"token": credential, "ts": millis, "values": values}, separators=(",", ":")).encode()


def history(
    readings: Readings,
    devices: list[DemoDevice],
    credentials: dict[str, str],
    *,
    end: dt.datetime,
    hours: int,
    max_bytes: int = 4096,
) -> Iterator[tuple[str, bytes, str]]:
    """The last `hours` of reports of `devices` at their usual cadence, as (device code, JSON array payload,
    credential) messages of at most `max_bytes` (HTTP's batched form)."""
    for device in devices:
        minutes = BY_CODE[device.type].report_minutes
        steps = hours * 60 // minutes
        observations = []
        for step in range(steps, 0, -1):
            at = end - dt.timedelta(minutes=step * minutes)
            values = readings.values(device, at, faults=False)  # faults are for watching live, not a day of floods
            if device.code == readings.out_of_range:
                values.pop("illuminanceLevel", None)
            observations.append({"ts": int(at.timestamp() * 1000), "values": values})
        chunk: list[bytes] = []
        size = 2
        for observation in observations:
            encoded = json.dumps(observation, separators=(",", ":")).encode()
            if chunk and size + len(encoded) + 1 > max_bytes:
                yield device.code, b"[" + b",".join(chunk) + b"]", credentials[device.code]
                chunk, size = [], 2
            chunk.append(encoded)
            size += len(encoded) + 1
        if chunk:
            yield device.code, b"[" + b",".join(chunk) + b"]", credentials[device.code]


class Simulator:
    """Publishes the fleet's telemetry to the broker on each device's cadence, on a thread of its own."""

    def __init__(
        self,
        broker: Broker,
        *,
        prefix: str,
        devices: list[DemoDevice],
        credentials: dict[str, str],
        first_round_seconds: float = 20.0,
    ) -> None:
        self.broker = broker
        self.first_round_seconds = first_round_seconds
        self.prefix = prefix
        self.devices = [d for d in devices if d.code in credentials]
        self.credentials = credentials
        self.readings = Readings(self.devices)
        self.published = 0
        self._faulted: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iot-simulator", daemon=True)
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="smartcity-demo-simulator", protocol=broker.version
        )
        self._client.username_pw_set(broker.username or "demo-simulator", broker.password)
        self._client.max_queued_messages_set(20_000)

    def start(self) -> str:
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()
        self._thread.start()
        return f"simulator: {len(self.devices)} demo devices publishing to {self.broker.host}:{self.broker.port}"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()

    def _publish(self, code: str, body: bytes) -> None:
        self._client.publish(f"{self.prefix}/devices/{code}/telemetry", body, qos=1)
        self.published += 1

    def _run(self) -> None:
        now = time.time()
        due: list[tuple[float, int]] = []
        for index, device in enumerate(self.devices):
            if device.code in self.readings.dead:
                continue
            # everyone reports once in the first 20 seconds (the gauges, watched by a heartbeat rule, first), then
            # on its own cadence
            window = self.first_round_seconds / (10 if device.type == "water_level_gauge" else 1)
            due.append((now + window * _unit("first", device.code), index))
        heapq.heapify(due)
        next_fault_check = now
        while not self._stop.is_set():
            now = time.time()
            while due and due[0][0] <= now:
                _, index = heapq.heappop(due)
                self._report(self.devices[index], now)
                period = BY_CODE[self.devices[index].type].report_minutes * 60
                heapq.heappush(due, (now + period * random.uniform(0.98, 1.02), index))
            if now >= next_fault_check:
                self._faults_now(now)
                next_fault_check = now + 20
            self._stop.wait(max(0.05, min(1.0, (due[0][0] - time.time()) if due else 1.0)))

    def _report(self, device: DemoDevice, now: float) -> None:
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        credential = self.credentials[device.code]
        readings = self.readings
        if device.code == readings.stale_credential:
            credential = "scd_" + "x" * 32  # rotated on the platform, never updated on the device
        if device.code == readings.broken_payload and random.random() < 0.5:
            self._publish(device.code, b'{"token": "' + credential.encode() + b'", "values": {"on": tru')
            return
        try:
            self._publish(device.code, payload(device, credential, at, readings.values(device, at)))
        except Exception:  # a reading that cannot be encoded must not stop the fleet
            log.exception("simulator: report of %s failed", device.code)

    def _faults_now(self, now: float) -> None:
        """Devices in a fault report at once, and again when it ends, as event-driven sensors do."""
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        for code in self.readings.faults:
            device = self.readings.devices.get(code)
            in_fault = self.readings.fault(code, at) is not None
            if device is not None and (in_fault or code in self._faulted):
                self._report(device, now)
            if in_fault:
                self._faulted.add(code)
            else:
                self._faulted.discard(code)
        self._publish(UNREGISTERED, json.dumps({"values": {"apState": "up"}}).encode())
