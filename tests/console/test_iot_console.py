"""The IoT console in headless Chromium: 水利局's officer finds a gauge in the device list with its health, opens
its page (latest value, chart), sees the alarm its high water raised and acknowledges it; refused messages are
listed with their reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from smartcity import db as dbmod
from smartcity.iot import alarms, service, telemetry
from smartcity.iot.schemas import Condition, DeviceIn, Location, RuleIn
from smartcity.platform.permissions import Role
from tests.console.conftest import Account, LiveServer
from tests.console.test_catalog_console import sign_in
from tests.factories import make_department, make_user, principal

pytestmark = pytest.mark.console

SLJ_ADMIN = Account("slj-console-admin", "slj-console-pass-2026")
GAUGE = "YJ-WL-0601"


@pytest.fixture(scope="module")
def gauge(live_server: LiveServer) -> None:
    dbmod.configure(live_server.engine)
    telemetry.FLOOD.clear()
    now = dt.datetime.now(dt.UTC)
    with dbmod.unit_of_work() as session:
        make_department(session, "SLJ", "余姚市水利局")
        slj = principal(make_user(session, SLJ_ADMIN.username, Role.DEPT_ADMIN, "SLJ", password=SLJ_ADMIN.password))
        made = service.register_device(
            session,
            by=slj,
            data=DeviceIn(
                code=GAUGE,
                name="姚江城区段水位计（控制台测试）",
                type="water_level_gauge",
                location=Location(longitude=121.154, latitude=30.046),
            ),
        )
        alarms.create_rule(
            session,
            by=slj,
            data=RuleIn(
                name="姚江水位超警戒（控制台测试）",
                device=GAUGE,
                conditions=[Condition(measure="currentLevel", op=">", value=4.5)],
                severity="critical",
            ),
        )
    with dbmod.unit_of_work() as session:
        messages = [
            telemetry.Message(
                GAUGE,
                f"{made.credential}|{int((now - dt.timedelta(minutes=30 - m)).timestamp() * 1000)}|"
                f"currentLevel={3.2 + m * 0.06:.2f},batteryLevel=0.81".encode(),
            )
            for m in range(30)
        ]
        messages.append(telemetry.Message(GAUGE, b"scd_forged||currentLevel=1"))
        telemetry.ingest(session, messages)


@pytest.mark.usefixtures("gauge")
def test_find_a_gauge_see_its_alarm_and_acknowledge_it(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    sign_in(page, SLJ_ADMIN, "/iot")
    row = page.locator("#devices tbody tr", has_text=GAUGE)
    expect(row).to_contain_text("在线")
    expect(row).to_contain_text("81%")
    expect(row.locator("td").nth(8)).to_have_text("1")  # the forged message, refused
    page.screenshot(path=str(artifacts / "iot-devices.png"), full_page=True)
    row.get_by_role("link", name=GAUGE).click()
    expect(page.locator("h1")).to_contain_text("姚江城区段水位计")
    expect(page.locator("#latest")).to_contain_text("4.94 m")
    expect(page.locator("#chart-currentLevel canvas")).to_be_visible()
    expect(page.locator("#device-alarms")).to_contain_text("姚江水位超警戒（控制台测试）")
    page.screenshot(path=str(artifacts / "iot-device.png"), full_page=True)
    page.get_by_role("link", name="告警").first.click()
    alarm = page.locator("#alarms tbody tr", has_text=GAUGE)
    expect(alarm).to_contain_text("紧急")
    alarm.get_by_role("button", name="确认").click()
    expect(page.locator("#alarms tbody tr", has_text=GAUGE)).to_contain_text("已确认")
    page.screenshot(path=str(artifacts / "iot-alarms.png"), full_page=True)
    page.get_by_role("link", name="被拒报文").click()
    expect(page.locator("#rejections tbody tr", has_text=GAUGE)).to_contain_text("凭证错误")


@pytest.mark.usefixtures("gauge")
def test_the_map_draws_the_towns_and_the_gauge_with_its_alarm(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    sign_in(page, SLJ_ADMIN, "/iot/map")
    expect(page.locator("#map")).to_have_attribute("data-devices", "1", timeout=15_000)
    expect(page.locator("#map")).to_have_attribute("data-towns", "21")  # the town areas, drawn on the canvas
    expect(page.locator(".town-label", has_text="马渚镇")).to_be_visible()
    expect(page.locator("#map-alarmed")).to_have_text("1")
    expect(page.locator('[data-health="online"]')).to_have_text("1")
    expect(page.locator("#map-note")).to_contain_text("近似")
    page.screenshot(path=str(artifacts / "iot-map.png"), full_page=True)
    page.select_option("#map-type", "camera")
    expect(page.locator("#map")).to_have_attribute("data-devices", "0")
