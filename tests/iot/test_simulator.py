"""The demo simulator plays its devices through the real broker: what it publishes is stored by the consumer,
in both payload formats, and its misconfigured devices are refused and counted as the platform must."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from smartcity import db as dbmod
from smartcity.demo import iot_demo, load
from smartcity.demo.iot_fleet import DemoDevice, fleet
from smartcity.demo.iot_simulator import UNREGISTERED, Readings, Simulator
from smartcity.iot import service, telemetry
from smartcity.iot.models import Device, RejectionCount
from smartcity.iot.mqtt import Consumer
from smartcity.platform.identity import service as identity
from tests.iot.conftest import BROKER


def _subset() -> list[DemoDevice]:
    """A few devices of every type, including the simulator's misconfigured ones."""
    everything = fleet("small")
    readings = Readings(everything)
    wanted = {readings.stale_credential, readings.broken_payload, readings.out_of_range}
    chosen: list[DemoDevice] = []
    per_type: dict[str, int] = {}
    for device in everything:
        if (device.code in wanted or per_type.get(device.type, 0) < 3) and device.code not in readings.dead:
            chosen.append(device)
            per_type[device.type] = per_type.get(device.type, 0) + 1
    return chosen


@pytest.mark.usefixtures("app")
def test_the_simulated_fleet_reaches_the_store_through_the_broker(committed: Engine, prefix: str) -> None:
    telemetry.FLOOD.clear()
    devices = _subset()
    load.load_base()
    with dbmod.unit_of_work() as session:
        admin = identity.system_principal("test")
        report = service.import_devices(session, by=admin, content=iot_demo.devices_csv(devices))
        credentials = {p.code: p.credential for p in report.created}
    consumer = Consumer(BROKER, prefix=prefix, client_id=f"{prefix}-ingest", batch_size=200)
    consumer.connect()
    stop = threading.Event()
    runner = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    runner.start()
    simulator = Simulator(BROKER, prefix=prefix, devices=devices, credentials=credentials, first_round_seconds=1)
    simulator.start()
    readings = simulator.readings
    healthy = {d.code for d in devices} - {readings.stale_credential}
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Session(committed) as session:
                heard = set(session.scalars(select(Device.code).where(Device.last_seen_at.is_not(None))))
                reasons = set(session.execute(select(RejectionCount.device_code, RejectionCount.reason)))
            if heard >= healthy - {readings.broken_payload, readings.out_of_range} and len(reasons) >= 3:
                break
            time.sleep(0.5)
    finally:
        simulator.stop()
        stop.set()
        runner.join(timeout=10)
        consumer.close()
    assert heard >= healthy - {readings.broken_payload, readings.out_of_range}
    assert readings.stale_credential not in heard
    assert {(readings.stale_credential, "bad_credentials"), (UNREGISTERED, "unknown_device")} <= reasons
    assert (readings.out_of_range, "out_of_range") in reasons
    assert consumer.stats.accepted > 0 and simulator.published >= len(devices)
