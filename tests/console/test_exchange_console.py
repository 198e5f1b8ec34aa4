"""Sharing and open data in headless Chromium, clicked like the people who use them: 民政局's officer asks for a
conditional entry from its catalogue page, 公安局's officer approves fewer fields, the grant shows on both sides and
a webhook is subscribed; a citizen finds an open dataset, previews it, registers and accepts the conditions of a
conditionally open one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from smartcity import db as dbmod
from smartcity.platform.permissions import Role
from tests.console.conftest import Account, LiveServer
from tests.console.test_catalog_console import sign_in
from tests.factories import load_text, make_department, make_entry, make_user

pytestmark = pytest.mark.console

PEOPLE = "330281-GAJ-00061"
ROADS = "330281-JTJ-00061"
PLACES = "330281-GHJ-00061"
MZJ_ADMIN = Account("mzj-console-admin", "mzj-console-pass-2026")
FIELDS = [
    {"name": "resident_id", "title": "公民身份号码", "required": True, "sensitive": True, "key": True},
    {"name": "full_name", "title": "姓名", "required": True, "sensitive": True},
    {"name": "town_code", "title": "所属乡镇（街道）"},
]
ROAD_FIELDS = [
    {"name": "road_code", "title": "道路编码", "required": True, "key": True},
    {"name": "road_name", "title": "道路名称", "required": True},
]


@pytest.fixture(scope="module")
def entries(live_server: LiveServer) -> None:
    dbmod.configure(live_server.engine)
    with dbmod.unit_of_work() as session:
        make_department(session, "JTJ", "余姚市交通运输局")
        make_department(session, "GHJ", "余姚市规划局")
        make_user(session, MZJ_ADMIN.username, Role.DEPT_ADMIN, "MZJ", password=MZJ_ADMIN.password)
        make_entry(
            session,
            code=PEOPLE,
            name="户籍人口信息（控制台共享测试）",
            fields=FIELDS,
            sharing_type="conditional",
            sharing_condition="用于社会救助对象核对",
        )
        make_entry(
            session,
            code=ROADS,
            name="城市道路名录（控制台开放测试）",
            department="JTJ",
            fields=ROAD_FIELDS,
            sharing_type="unconditional",
            sharing_condition="",
            open_type="unconditional",
            tags=["道路"],
        )
        make_entry(
            session,
            code=PLACES,
            name="兴趣点数据（控制台开放测试）",
            department="GHJ",
            fields=ROAD_FIELDS,
            sharing_type="unconditional",
            sharing_condition="",
            open_type="conditional",
            open_condition="仅限非商业研究使用",
        )
    load_text(PEOPLE, "resident_id,full_name,town_code\n330281195201205823,张三,330281004\n")
    load_text(ROADS, "road_code,road_name\nR01,新建北路\nR02,阳明西路\n")
    load_text(PLACES, "road_code,road_name\nP01,河姆渡遗址博物馆\n")


def test_request_approve_and_subscribe(page: Page, live_server: LiveServer, entries: None, artifacts: Path) -> None:
    sign_in(page, MZJ_ADMIN, f"/catalog/{PEOPLE}")
    page.get_by_role("link", name="申请共享").click()
    expect(page).to_have_url(re.compile(r"/exchange/requests/new\?entry="))
    page.get_by_label("用途（数据用于什么）").fill("最低生活保障对象家庭人口核对")
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#form-errors")).to_be_visible()  # 有条件共享 needs a legal basis
    page.get_by_label("依据（有条件共享和查看明文时必填）").fill("《社会救助暂行办法》第十一条")
    page.screenshot(path=str(artifacts / "exchange-request.png"), full_page=True)
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator(".flash")).to_contain_text("已提交提供部门审批")
    number = page.locator("h1 code").inner_text()
    page.context.clear_cookies()

    sign_in(page, live_server.gaj_admin, "/exchange")
    expect(page.locator("#to-decide")).to_contain_text(number)
    page.locator("#to-decide").get_by_role("link", name=number).click()
    page.locator("#grant-full_name").uncheck()
    page.get_by_role("button", name="批准").click()
    expect(page.locator(".flash")).to_contain_text("已批准")
    grant = page.locator("#request").get_by_role("link", name=re.compile(r"^GX\d+$")).inner_text()
    page.get_by_role("link", name="共享授权").click()
    expect(page.locator("#grants")).to_contain_text(grant)
    page.context.clear_cookies()

    sign_in(page, MZJ_ADMIN, "/exchange/grants")
    page.get_by_role("link", name=grant).click()
    expect(page.locator("#grant")).to_contain_text("resident_id, town_code")
    page.get_by_label("回调地址").fill("http://127.0.0.1:9/hooks/smartcity")
    page.get_by_role("button", name="订阅").click()
    expect(page.locator("#secret code")).to_have_text(re.compile(r"^whsec_"))
    page.screenshot(path=str(artifacts / "exchange-grant.png"), full_page=True)
    page.get_by_role("link", name="变更订阅").click()
    expect(page.locator("#subscriptions")).to_contain_text("http://127.0.0.1:9/hooks/smartcity")


def test_a_citizen_uses_the_open_data_portal(
    page: Page, live_server: LiveServer, entries: None, artifacts: Path
) -> None:
    page.goto("/open")
    page.get_by_label("搜索").fill("道路")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name="城市道路名录（控制台开放测试）").click()
    expect(page.locator("#preview")).to_contain_text("阳明西路")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 CSV").click()
    assert "新建北路" in Path(download.value.path()).read_text(encoding="utf-8-sig")
    page.screenshot(path=str(artifacts / "open-dataset.png"), full_page=True)

    page.goto(f"/open/dataset/{PLACES.lower()}")
    expect(page.locator("#conditions")).to_contain_text("仅限非商业研究使用")
    expect(page.locator("#preview")).to_have_count(0)
    page.get_by_role("link", name="注册").first.click()
    page.get_by_label("用户名").fill("citizen-zhang")
    page.get_by_label("显示名称").fill("张先生")
    page.get_by_label("电子邮箱").fill("zhang@example.cn")
    page.get_by_label("密码（至少10位）").fill("a-long-password-2026")
    page.get_by_role("button", name="注册").click()
    expect(page.locator(".flash")).to_contain_text("账户已开通")
    page.goto(f"/open/dataset/{PLACES.lower()}")
    page.get_by_label("您将如何使用这些数据？").fill("文旅研究")
    page.get_by_label("我接受上述使用条件。").check()
    page.get_by_role("button", name="接受并开放数据").click()
    expect(page.locator("#preview")).to_contain_text("河姆渡遗址博物馆")
    page.goto("/open/account")
    expect(page.locator("#agreements")).to_contain_text("兴趣点数据（控制台开放测试）")
    page.get_by_role("button", name="生成 API 密钥").click()
    expect(page.locator("#new-key code")).to_have_text(re.compile(r"^sco_"))
