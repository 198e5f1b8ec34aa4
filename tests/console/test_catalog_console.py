"""The catalogue console in headless Chromium, clicked like a person: sign in, publish, search, errors, language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.catalog.models import CatalogEntry
from tests.console.conftest import Account, LiveServer

pytestmark = pytest.mark.console

NEW_CODE = "330281-GAJ-00777"
NEW_NAME = "流动人口居住登记信息"


def sign_in(page: Page, account: Account, path: str) -> None:
    """Open `path` signed out, land on the login form, and sign in through it."""
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(path) + "$"))
    page.get_by_label("用户名").fill(account.username)
    page.get_by_label("密码").fill(account.password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def entries_with_code(live_server: LiveServer, code: str) -> int:
    with Session(live_server.engine) as session:
        return session.scalar(select(func.count()).select_from(CatalogEntry).where(CatalogEntry.code == code)) or 0


def search(page: Page, term: str) -> None:
    """Use the catalogue's search box as a person would."""
    page.get_by_role("link", name="资源目录").first.click()
    expect(page.get_by_role("heading", name="资源目录")).to_be_visible()
    page.get_by_role("searchbox").fill(term)
    page.get_by_role("button", name="搜索").click()
    expect(page).to_have_url(re.compile(r"/catalog\?q="))


def open_new_entry_form(page: Page) -> None:
    new_entry = page.locator("#new-entry")
    expect(new_entry).to_have_text("新建目录条目")
    new_entry.click()
    expect(page.get_by_role("heading", name="新建目录条目")).to_be_visible()


def fill_entry(page: Page, code: str, name: str) -> None:
    """The entry's metadata: GAJ, conditional sharing with its condition."""
    form = page.locator("#entry-form")
    form.get_by_label("编码").fill(code)
    form.get_by_label("名称", exact=True).fill(name)
    form.locator("select[name=department]").select_option(label="余姚市公安局")
    form.locator("select[name=sharing_type]").select_option(label="有条件共享")
    form.get_by_label("共享条件").fill("用于流动人口服务管理和居住证办理")


def fill_two_field_rows(page: Page, first: tuple[str, str], second: tuple[str, str]) -> None:
    """Fill the first row (key and required), add a row with the button and fill it."""
    page.locator("input[name='fields-0-name']").fill(first[0])
    page.locator("input[name='fields-0-title']").fill(first[1])
    page.locator("input[name='fields-0-key']").check()
    page.locator("input[name='fields-0-required']").check()
    rows = page.locator("#fields tbody tr")
    expect(rows).to_have_count(1)
    add = page.locator("#add-field")
    expect(add).to_contain_text("添加数据项")
    add.click()
    expect(rows).to_have_count(2)
    added = rows.nth(1)
    added.locator("input[name$='-name']").fill(second[0])
    added.locator("input[name$='-title']").fill(second[1])


def test_publish_an_entry_and_find_it_by_a_chinese_term(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    sign_in(page, live_server.gaj_admin, "/catalog")
    expect(page.get_by_role("heading", name="资源目录")).to_be_visible()
    expect(page.locator("#entries")).to_contain_text(live_server.existing_entry_name)

    open_new_entry_form(page)
    fill_entry(page, NEW_CODE, NEW_NAME)
    fill_two_field_rows(page, ("resident_id", "公民身份号码"), ("residence_address", "居住地址"))
    page.locator("#save-entry").click()

    expect(page).to_have_url(re.compile(re.escape(f"/catalog/{NEW_CODE}") + "$"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(NEW_NAME)
    expect(heading).to_contain_text("v1")
    expect(page.locator(".flash")).to_have_text("目录条目已保存。")
    fields = page.locator("table.fields-view tbody tr")
    expect(fields).to_have_count(2)
    expect(fields.nth(0)).to_contain_text("resident_id")
    expect(fields.nth(1)).to_contain_text("居住地址")
    expect(page.locator(".content")).to_contain_text("用于流动人口服务管理和居住证办理")
    assert entries_with_code(live_server, NEW_CODE) == 1

    search(page, "流动人口")
    results = page.locator("#entries tbody")
    expect(results.get_by_role("link", name=NEW_NAME)).to_be_visible()
    expect(results).to_contain_text(NEW_CODE)
    expect(results).not_to_contain_text(live_server.existing_entry_name)
    expect(results.locator("tr")).to_have_count(1)
    page.screenshot(path=str(artifacts / "console-catalog-zh.png"), full_page=True)


def test_duplicate_field_names_are_shown_beside_the_field_and_nothing_is_written(
    page: Page, live_server: LiveServer
) -> None:
    code = "330281-GAJ-00778"
    sign_in(page, live_server.gaj_admin, "/catalog")
    open_new_entry_form(page)
    fill_entry(page, code, "流动人口居住证办理信息")
    fill_two_field_rows(page, ("resident_id", "公民身份号码"), ("resident_id", "证件号码"))
    page.locator("#save-entry").click()

    expect(page.locator("#form-errors")).to_be_visible()
    second_row = page.locator("#fields tbody tr").nth(1)
    error = second_row.locator('.field-error[data-field="fields.1.name"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("resident_id")
    expect(page.locator(".field-error")).to_have_count(1)
    # The form comes back with what was typed, so nothing has to be entered again.
    expect(page.locator("#entry-form input[name=code]")).to_have_value(code)
    expect(second_row.locator("input[name$='-title']")).to_have_value("证件号码")

    search(page, code)
    expect(page.locator("#entries tbody")).not_to_contain_text(code)
    expect(page.locator("#entries tbody")).to_contain_text("没有符合条件的目录条目。")
    assert entries_with_code(live_server, code) == 0


def test_switching_to_english(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    sign_in(page, live_server.gaj_admin, "/catalog")
    switch = page.locator("#lang-switch")
    expect(switch).to_have_text("English")
    switch.click()

    expect(page).to_have_url(re.compile(r"/catalog$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Resource catalogue")).to_be_visible()
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    expect(page.locator("#new-entry")).to_have_text("New entry")
    expect(page.locator("#lang-switch")).to_have_text("中文")
    expect(page.locator("#entries")).to_contain_text(live_server.existing_entry_name)
    page.screenshot(path=str(artifacts / "console-catalog-en.png"), full_page=True)


def test_a_forged_csrf_token_is_refused_and_nothing_is_written(page: Page, live_server: LiveServer) -> None:
    code = "330281-GAJ-00779"
    sign_in(page, live_server.gaj_admin, "/catalog")
    open_new_entry_form(page)
    fill_entry(page, code, "境外人员临时住宿登记信息")
    fill_two_field_rows(page, ("resident_id", "证件号码"), ("lodging_address", "住宿地址"))
    token = page.locator("#entry-form input[name=csrf_token]")
    token.evaluate("input => { input.value = input.value.replace(/^./, c => c === '0' ? '1' : '0'); }")

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/catalog/new")) as posted:
        page.locator("#save-entry").click()
    assert posted.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("403 · 无权操作")
    expect(page.get_by_role("alert")).to_have_text("表单安全令牌缺失或已过期，请刷新页面后重试。")
    assert entries_with_code(live_server, code) == 0

    # A POST from outside the page, with no token at all, is refused the same way.
    response = page.request.post(
        "/catalog/new",
        form={"code": code, "name": "境外人员临时住宿登记信息", "department": "GAJ"},
        headers={"Accept": "text/html"},
    )
    assert response.status == 403
    assert "表单安全令牌缺失或已过期" in response.text()
    assert entries_with_code(live_server, code) == 0

    # The same form with its genuine token is accepted: the refusal was the token's doing.
    page.goto("/catalog/new")
    fill_entry(page, code, "境外人员临时住宿登记信息")
    fill_two_field_rows(page, ("resident_id", "证件号码"), ("lodging_address", "住宿地址"))
    page.locator("#save-entry").click()
    expect(page).to_have_url(re.compile(re.escape(f"/catalog/{code}") + "$"))
    assert entries_with_code(live_server, code) == 1
