"""Catalogue console pages through HTTP: list, create, edit (new version), form errors, permissions."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.catalog.models import CatalogEntry
from smartcity.platform.identity import service as identity
from smartcity.platform.permissions import Role
from tests.factories import PASSWORD, make_department, make_entry, make_user


def sign_in(client: TestClient, db: Session, username: str, role: Role) -> None:
    make_department(db)
    make_user(db, username, role, "GAJ" if role in (Role.DEPT_ADMIN, Role.DEPT_STAFF) else None)
    client.cookies.set("sc_session", identity.login(db, username=username, password=PASSWORD, ip=None).cookie or "")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def form(csrf_token: str, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token,
        "code": "330281-GAJ-00009",
        "name": "流动人口居住登记信息",
        "department": "GAJ",
        "description": "流动人口居住登记和居住证办理信息",
        "sharing_type": "conditional",
        "sharing_condition": "用于社会治理和公共服务",
        "open_type": "none",
        "update_cycle": "daily",
        "format": "table",
        "tags": "流动人口，居住证",
        "fields-0-name": "resident_id",
        "fields-0-title": "公民身份号码",
        "fields-0-type": "string",
        "fields-0-required": "on",
        "fields-0-key": "on",
        "fields-0-sensitive": "on",
        "fields-1-name": "residence_address",
        "fields-1-title": "居住地址",
        "fields-1-type": "string",
        "fields-2-name": "",
        "fields-2-title": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(client: TestClient, db: Session) -> TestClient:
    sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    return client


def test_create_entry_through_the_form(admin_client: TestClient, db: Session) -> None:
    page = admin_client.get("/catalog/new")
    assert page.status_code == 200
    response = admin_client.post("/catalog/new", data=form(csrf(page.text)), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/catalog/330281-GAJ-00009"
    detail = admin_client.get(response.headers["location"])
    assert "流动人口居住登记信息" in detail.text and "目录条目已保存" in detail.text
    entry = db.scalars(select(CatalogEntry).where(CatalogEntry.code == "330281-GAJ-00009")).one()
    assert entry.tags == ["流动人口", "居住证"]
    listing = admin_client.get("/catalog", params={"q": "流动人口"})
    assert "330281-GAJ-00009" in listing.text


def test_form_errors_are_shown_beside_the_field_and_nothing_is_written(admin_client: TestClient, db: Session) -> None:
    page = admin_client.get("/catalog/new")
    response = admin_client.post("/catalog/new", data=form(csrf(page.text), **{"fields-1-name": "resident_id"}))
    assert response.status_code == 422
    assert 'data-field="fields.1.name"' in response.text
    assert "数据项名称“resident_id”重复" in response.text
    assert 'value="流动人口居住登记信息"' in response.text  # the user's input is kept
    assert db.scalar(select(func.count()).select_from(CatalogEntry)) == 0


def test_edit_with_changed_fields_creates_a_version(admin_client: TestClient, db: Session) -> None:
    make_entry(db)
    page = admin_client.get("/catalog/330281-GAJ-00001/edit")
    assert page.status_code == 200
    data = form(csrf(page.text), name="人口基础信息", change_note="增加居住地址")
    data.pop("code")
    response = admin_client.post("/catalog/330281-GAJ-00001/edit", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    detail = admin_client.get("/catalog/330281-GAJ-00001").text
    assert "v2" in detail and "增加居住地址" in detail
    old = admin_client.get("/catalog/330281-GAJ-00001/versions/1").text
    assert "birth_date" in old and "residence_address" not in old


def test_staff_sees_the_catalogue_but_no_edit_controls(client: TestClient, db: Session) -> None:
    sign_in(client, db, "gaj_staff", Role.DEPT_STAFF)
    make_entry(db)
    detail = client.get("/catalog/330281-GAJ-00001")
    assert detail.status_code == 200 and "/edit" not in detail.text
    assert 'id="new-entry"' not in client.get("/catalog").text
    assert client.get("/catalog/new").status_code == 403


def test_other_departments_entry_shows_no_edit_link(client: TestClient, db: Session) -> None:
    sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    make_department(db, "MZJ", "余姚市民政局")
    make_entry(db, code="330281-MZJ-00001", name="低保对象信息", department="MZJ")
    assert "/catalog/330281-MZJ-00001/edit" not in client.get("/catalog/330281-MZJ-00001").text
    response = client.get("/catalog/330281-MZJ-00001/edit", follow_redirects=False)
    assert response.status_code == 303


def test_validation_messages_are_in_the_users_language(admin_client: TestClient, db: Session) -> None:
    page = admin_client.get("/catalog/new")
    response = admin_client.post("/catalog/new", data=form(csrf(page.text), **{"fields-0-name": "Bad Name"}))
    assert response.status_code == 422
    assert "须符合格式" in response.text and "String should match" not in response.text
    duplicate = admin_client.post("/catalog/new", data=form(csrf(page.text), **{"fields-1-name": "resident_id"}))
    assert "（第 1 项已使用）" in duplicate.text


def test_language_link_keeps_the_search(admin_client: TestClient) -> None:
    html = admin_client.get("/catalog", params={"q": "人口"}).text
    link = re.search(r"href=\"(/lang/en[^\"]*)\"", html)
    assert link and link.group(1) == "/lang/en?next=/catalog%3Fq%3D%25E4%25BA%25BA%25E5%258F%25A3", link
    switched = admin_client.get(link.group(1), follow_redirects=False)
    assert switched.headers["location"] == "/catalog?q=%E4%BA%BA%E5%8F%A3"  # the search, 人口, survives


def test_dcat_downloads_from_the_console(client: TestClient, db: Session) -> None:
    sign_in(client, db, "gaj_staff", Role.DEPT_STAFF)
    make_entry(db)
    assert 'href="/catalog/dcat"' in client.get("/catalog").text
    whole = client.get("/catalog/dcat")
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("application/ld+json")
    assert whole.json()["dcat:dataset"][0]["dct:identifier"] == "330281-GAJ-00001"
    one = client.get("/catalog/330281-GAJ-00001/dcat")
    assert 'filename="330281-GAJ-00001.jsonld"' in one.headers["content-disposition"]
