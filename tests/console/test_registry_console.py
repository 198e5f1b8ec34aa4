"""The base registries in headless Chromium, clicked like the hub's staff would: find a person, read the golden
record with its sources and as it stood ten days ago, decide a pair in clerical review, parse an address, change
a feed and a survivorship rule; and a department administrator who sees personal fields masked."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from smartcity import db as dbmod
from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.registry import resolve as resolver
from smartcity.registry import service as registry
from smartcity.registry.schemas import FeedIn
from smartcity.registry.vocab import Kind
from tests.console.conftest import LiveServer
from tests.console.test_catalog_console import sign_in
from tests.factories import load_text, make_person_entry, root
from tests.registry.test_service import ATTRIBUTES, _csv, _population

pytestmark = pytest.mark.console

REGISTER = "330281-GAJ-00077"
OTHER = "330281-RSJ-00078"
TEN_DAYS_AGO = utcnow() - dt.timedelta(days=10)
# 截至 a date means the end of that day in the city's time (between 16:00 and 24:00 UTC it is already the next day)
TEN_DAYS_AGO_IN_THE_CITY = TEN_DAYS_AGO.astimezone(ZoneInfo(get_settings().timezone)).date().isoformat()


def _feed(code: str, trust: int) -> None:
    with dbmod.unit_of_work() as session:
        registry.save_feed(
            session, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code=code, attributes=ATTRIBUTES, trust=trust)
        )


@pytest.fixture(scope="module")
def resolved(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """Two departments' records of 400 residents, resolved ten days ago (register only) and today (both), with the
    match threshold raised so that the model's pairs wait in clerical review."""
    dbmod.configure(live_server.engine)
    people, other, chosen = _population()
    with dbmod.unit_of_work() as session:
        make_person_entry(session, code=REGISTER)
        make_person_entry(session, code=OTHER, department="RSJ")
    for code, frame in ((REGISTER, people), (OTHER, other)):
        load_text(code, _csv(frame))
    _feed(REGISTER, 1)
    with dbmod.unit_of_work() as session:
        registry.start_resolution(session, by=root(), kind=Kind.PERSON, now=TEN_DAYS_AGO)
    _feed(OTHER, 2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolver, "thresholds", lambda: resolver.Thresholds(match=0.999999999, review=0.01))
        with dbmod.unit_of_work() as session:
            registry.start_resolution(session, by=root(), kind=Kind.PERSON)
    # A resident whose records the two departments share by a valid ID, so the golden record has two sources.
    both = next(i for i, p in enumerate(chosen.tolist()) if other["resident_id"][i] == people["resident_id"][p])
    yield {"name": people["full_name"][int(chosen[both])], "resident_id": people["resident_id"][int(chosen[both])]}


def test_find_a_person_and_read_the_record_as_of_a_date(
    page: Page, live_server: LiveServer, resolved: dict[str, Any], artifacts: Any
) -> None:
    sign_in(page, live_server.platform_admin, "/registry")
    expect(page.locator("#registry-person")).to_contain_text("人口")
    page.locator("#registry-person").get_by_role("link", name="人口").click()
    expect(page).to_have_url(re.compile(r"/registry/person$"))
    page.get_by_label("搜索").fill(resolved["resident_id"])
    page.get_by_role("button", name="搜索").click()
    rows = page.locator("#records tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(resolved["name"])
    rows.first.get_by_role("link").click()

    expect(page).to_have_url(re.compile(r"/registry/person/records/RK\d{10}$"))
    expect(page.locator("#lineage")).to_contain_text(resolved["resident_id"])
    expect(page.locator("#sources")).to_contain_text(REGISTER)
    expect(page.locator("#sources")).to_contain_text(OTHER)
    expect(page.locator("#history li")).to_have_count(2)
    page.screenshot(path=str(artifacts / "registry-record.png"), full_page=True)

    # As the registry knew it ten days ago: the register alone.
    page.get_by_label("截至").fill(TEN_DAYS_AGO_IN_THE_CITY)
    page.get_by_role("button", name="显示").click()
    expect(page).to_have_url(re.compile(r"as_of=" + TEN_DAYS_AGO_IN_THE_CITY))
    expect(page.locator("#sources")).to_contain_text(REGISTER)
    expect(page.locator("#sources")).not_to_contain_text(OTHER)
    page.get_by_role("link", name="当前").click()
    expect(page.locator("#sources")).to_contain_text(OTHER)


def test_decide_a_pair_in_clerical_review(
    page: Page, live_server: LiveServer, resolved: dict[str, Any], artifacts: Any
) -> None:
    sign_in(page, live_server.platform_admin, "/registry/person/review")
    pairs = page.locator("section.pair")
    expect(pairs.first).to_be_visible()
    first = pairs.first.get_attribute("id")
    page.screenshot(path=str(artifacts / "registry-review.png"), full_page=True)
    pairs.first.get_by_role("button", name="相同 — 关联").click()
    expect(page.locator(".flash")).to_contain_text("已关联")
    expect(page.locator(f"#{first}")).to_have_count(0)
    page.get_by_role("link", name=re.compile("已确认：同一对象")).click()
    expect(page.locator(f"#{first}")).to_contain_text(live_server.platform_admin.username)


def test_parse_an_address(page: Page, live_server: LiveServer, resolved: dict[str, Any]) -> None:
    sign_in(page, live_server.platform_admin, "/registry/addresses/parse")
    page.get_by_label("地址").fill("浙江省余姚市梨洲街道新建北路十二号3幢201室")
    page.get_by_role("button", name="解析").click()
    parsed = page.locator("#parsed")
    expect(parsed).to_contain_text("梨洲街道")
    expect(parsed).to_contain_text("新建北路")
    expect(parsed).to_contain_text("12")


def test_change_a_feed_and_a_survivorship_rule(
    page: Page, live_server: LiveServer, resolved: dict[str, Any], artifacts: Any
) -> None:
    sign_in(page, live_server.platform_admin, "/registry")
    page.locator("#registry-person").get_by_role("link", name="新增数据来源").click()
    expect(page).to_have_url(re.compile(r"/registry/person/feeds$"))
    page.locator("#choose-entry").get_by_label("目录条目").fill(OTHER)
    page.get_by_role("button", name="选择").click()
    form = page.locator("#feed-form")
    expect(form).to_contain_text(OTHER)
    form.locator("#attr-phone").select_option("")
    form.get_by_label("可信度（1 为最高）").fill("3")
    page.screenshot(path=str(artifacts / "registry-feed.png"), full_page=True)
    form.get_by_role("button", name="保存数据来源").click()
    expect(page).to_have_url(re.compile(r"/registry$"))
    expect(page.locator(".flash")).to_contain_text("数据来源已保存")
    row = page.locator("#feeds tr", has_text=OTHER)
    expect(row).to_contain_text("3")
    expect(row).not_to_contain_text("联系电话")

    page.goto("/registry/person")
    page.locator("#rule-phone").select_option(label="最可信来源")
    page.get_by_role("button", name="保存规则").click()
    expect(page.locator(".flash")).to_contain_text("取值规则已保存")
    expect(page.locator("#rule-phone")).to_have_value("trust")


def test_a_department_administrator_sees_masked_values(
    page: Page, live_server: LiveServer, resolved: dict[str, Any]
) -> None:
    sign_in(page, live_server.gaj_admin, "/registry/person")
    expect(page.locator("main")).to_contain_text("个人字段已脱敏")
    page.get_by_label("搜索").fill(resolved["resident_id"])
    page.get_by_role("button", name="搜索").click()
    rows = page.locator("#records tbody tr")
    expect(rows).to_have_count(1)
    rid = resolved["resident_id"]
    expect(rows.first).to_contain_text(rid[:6] + "********" + rid[-4:])
    expect(rows.first).not_to_contain_text(rid)
    expect(rows.first).not_to_contain_text(resolved["name"])
    expect(page.get_by_role("link", name="人工核查")).to_have_count(0)
    expect(page.locator("#survivorship-form")).to_have_count(0)
