"""Public-facility IoT platform (公共设施物联网平台): the device registry with per-device credentials, telemetry
over MQTT and HTTP in JSON or a compact text format, stored as time series, and refusals counted per device."""

from pathlib import Path

from smartcity.iot import alarms, series
from smartcity.iot.api import router as api_router
from smartcity.iot.cli import app as cli_app
from smartcity.iot.pages import router as console_router
from smartcity.iot.permissions import IOT_READ, PERMISSIONS
from smartcity.platform.i18n import N_
from smartcity.platform.jobs.service import JobKind, PeriodicTask
from smartcity.platform.modules import Module, NavItem


def _check_silence() -> None:
    alarms.check_silence()


def _prune() -> None:
    series.prune()


module = Module(
    name="iot",
    title=N_("IoT platform"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=console_router,
    cli=cli_app,
    nav=(NavItem(N_("IoT platform"), "/iot", IOT_READ),),
    template_dirs=(str(Path(__file__).parent / "templates"),),
    jobs=(JobKind(alarms.NOTIFY_JOB, alarms.notify, max_attempts=8),),
    periodic=(
        PeriodicTask("iot.heartbeats", 60.0, _check_silence),  # heartbeat rules: devices silent too long
        PeriodicTask("iot.retention", 3600.0, _prune),
    ),
)
