"""Data collection in headless Chromium, clicked like a data officer: upload, map a column, read the report,
dispute a problem record; and the hub's quality dashboard with its charts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from smartcity import db as dbmod
from smartcity.ingest import pipeline
from smartcity.ingest import service as batches
from smartcity.ingest.vocab import Source
from smartcity.platform.jobs.worker import Worker
from tests.console.conftest import LiveServer
from tests.console.test_catalog_console import sign_in
from tests.factories import add_rules, make_entry, make_town, person_fields, resident_id, root, store_text

pytestmark = pytest.mark.console

CODE = "330281-GAJ-00088"
ZHANG = resident_id("19520120", 582)
LI = resident_id("19831008", 29)
# The police station's export names the ID column its own way (身份证号), and is saved in GBK.
EXPORT = (
    "身份证号,姓名,性别,出生日期,联系电话,所属乡镇（街道）,月收入\n"
    f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,5200\n"
    f"{LI},李四,1,1983-10-08,12345,330281004,\n"
)


@pytest.fixture(scope="module")
def entry_with_rules(live_server: LiveServer) -> str:
    dbmod.configure(live_server.engine)
    with dbmod.unit_of_work() as session:
        make_town(session)
        make_entry(session, code=CODE, name="常住人口信息（控制台测试）", fields=person_fields())
        add_rules(session, CODE)
    # An earlier delivery, so the dashboard has figures whichever test runs first.
    with dbmod.unit_of_work() as session:
        stored = store_text(EXPORT.replace("身份证号", "公民身份号码"), "earlier.csv")
        batch_id = batches.submit_batch(session, by=root(), code=CODE, stored=stored, source=Source.CLI).batch.id
    pipeline.process_batch(batch_id)
    return CODE


@pytest.fixture
def worker(live_server: LiveServer) -> Iterator[None]:
    """The background worker the served console relies on to process batches."""
    running = Worker(poll_seconds=0.2)
    running.start()
    yield
    running.stop()


def test_upload_map_report_and_dispute(
    page: Page, live_server: LiveServer, entry_with_rules: str, worker: None, tmp_path: Path, artifacts: Path
) -> None:
    export = tmp_path / "户籍人口导出.csv"
    export.write_bytes(EXPORT.encode("gbk"))
    sign_in(page, live_server.gaj_admin, "/ingest")
    page.get_by_role("link", name="报送数据").first.click()
    page.locator("#entry").select_option(CODE)
    page.locator("#file").set_input_files(str(export))
    page.get_by_role("button", name="上传并校验").click()

    expect(page).to_have_url(re.compile(r"/ingest/batches/\d+/mapping$"))
    expect(page.locator("tr.unmapped")).to_contain_text("身份证号")
    page.get_by_label("身份证号").select_option("resident_id")
    page.screenshot(path=str(artifacts / "ingest-mapping.png"), full_page=True)
    page.get_by_role("button", name="保存映射并校验文件").click()

    expect(page).to_have_url(re.compile(r"/ingest/batches/\d+$"))
    expect(page.locator("#report-summary")).to_be_visible(timeout=20_000)
    expect(page.locator("#report-summary")).to_contain_text("50.0")
    expect(page.locator("#by-rule")).to_contain_text("联系电话")
    expect(page.locator("#sample")).to_contain_text("12345")
    page.screenshot(path=str(artifacts / "ingest-report.png"), full_page=True)

    page.locator("#show-rejected").click()
    expect(page.locator("#rejected td.bad")).to_have_text("12345")

    page.get_by_role("link", name="问题数据反馈").first.click()
    row = page.locator("#feedback tbody tr").filter(has_text=LI)
    row.get_by_label("理由").fill("该号码为单位内线短号，核实无误")
    row.get_by_role("button", name="提出异议").click()
    expect(page.locator(".flash")).to_be_visible()
    page.goto("/ingest/feedback?status=disputed")
    expect(page.locator("#feedback")).to_contain_text("该号码为单位内线短号")


def test_the_hub_sees_the_quality_dashboard(
    page: Page, live_server: LiveServer, entry_with_rules: str, worker: None, artifacts: Path
) -> None:
    sign_in(page, live_server.platform_admin, "/ingest/quality")
    expect(page.get_by_role("heading", name="数据质量看板")).to_be_visible()
    for chart in ("#chart-rows", "#chart-feedback", "#chart-departments"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    expect(page.locator("#departments")).to_contain_text("余姚市公安局")
    page.screenshot(path=str(artifacts / "ingest-quality.png"), full_page=True)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Quality dashboard")).to_be_visible()


def test_the_rule_form_shows_the_inputs_of_the_chosen_kind(
    page: Page, live_server: LiveServer, entry_with_rules: str
) -> None:
    sign_in(page, live_server.gaj_admin, f"/ingest/entries/{CODE}/rules")
    form = page.locator("#rule-form")
    form.locator("select[name=kind]").select_option("pattern")
    expect(form.locator("input[name=regex]")).to_be_visible()
    expect(form.locator("input[name=values]")).to_be_hidden()
    form.locator("select[name=field]").select_option("full_name")
    form.locator("input[name=regex]").fill("[\\u4e00-\\u9fa5·]{2,15}")
    form.locator("input[name=hint]").fill("2-15个汉字")
    page.get_by_role("button", name="保存规则").click()
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator("#rules")).to_contain_text("2-15个汉字")
