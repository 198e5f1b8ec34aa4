"""The catalogue's JSON API: create, read, search, versions, DCAT, and its errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.catalog.models import CatalogEntry, CatalogEntryVersion
from smartcity.platform.permissions import Role
from tests.factories import auth, entry_payload, make_department, make_entry, make_token, make_user, principal


@pytest.fixture
def admin_token(db: Session) -> str:
    make_department(db)
    return make_token(db, principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ")))


def entry_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CatalogEntry)) or 0


def test_create_then_read_entry(client: TestClient, admin_token: str) -> None:
    response = client.post("/api/v1/catalog/entries", json=entry_payload(), headers=auth(admin_token))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/catalog/entries/330281-GAJ-00001"
    body = client.get(response.headers["location"], headers=auth(admin_token)).json()
    assert body["name"] == "人口基础信息"
    assert body["department"] == {"code": "GAJ", "name": "余姚市公安局"}
    assert body["version"] == 1
    assert [f["name"] for f in body["fields"]] == ["resident_id", "full_name", "birth_date"]


def test_chinese_search_finds_entry_by_substring(client: TestClient, db: Session, admin_token: str) -> None:
    make_entry(db)
    make_entry(db, code="330281-GAJ-00002", name="机动车登记信息", description="全市机动车注册登记信息", tags=["交通"])
    response = client.get("/api/v1/catalog/entries", params={"q": "人口"}, headers=auth(admin_token))
    assert response.status_code == 200
    page = response.json()
    assert [item["name"] for item in page["items"]] == ["人口基础信息"]
    assert page["total"] == 1


def test_search_filters_and_paginates(client: TestClient, db: Session, admin_token: str) -> None:
    make_department(db, "MZJ", "余姚市民政局")
    for n in range(1, 6):
        make_entry(db, code=f"330281-GAJ-{n:05d}", name=f"公安信息{n}")
    make_entry(
        db,
        code="330281-MZJ-00001",
        name="低保对象信息",
        department="MZJ",
        sharing_type="unconditional",
        sharing_condition="",
    )
    first = client.get(
        "/api/v1/catalog/entries", params={"department": "GAJ", "page_size": 2}, headers=auth(admin_token)
    ).json()
    assert (first["total"], first["pages"], len(first["items"])) == (5, 3, 2)
    third = client.get(
        "/api/v1/catalog/entries", params={"department": "GAJ", "page_size": 2, "page": 3}, headers=auth(admin_token)
    ).json()
    assert [i["code"] for i in third["items"]] == ["330281-GAJ-00005"]
    shared = client.get(
        "/api/v1/catalog/entries", params={"sharing_type": "unconditional"}, headers=auth(admin_token)
    ).json()
    assert [i["code"] for i in shared["items"]] == ["330281-MZJ-00001"]


def test_schema_change_creates_version_and_old_stays_readable(client: TestClient, admin_token: str) -> None:
    client.post("/api/v1/catalog/entries", json=entry_payload(), headers=auth(admin_token))
    fields = entry_payload()["fields"] + [{"name": "phone", "title": "联系电话", "sensitive": True}]
    response = client.patch(
        "/api/v1/catalog/entries/330281-GAJ-00001",
        json={"fields": fields, "change_note": "增加联系电话"},
        headers=auth(admin_token),
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    old = client.get("/api/v1/catalog/entries/330281-GAJ-00001/versions/1", headers=auth(admin_token)).json()
    assert [f["name"] for f in old["fields"]] == ["resident_id", "full_name", "birth_date"]
    versions = client.get("/api/v1/catalog/entries/330281-GAJ-00001/versions", headers=auth(admin_token)).json()
    assert [(v["version"], v["change_note"]) for v in versions] == [(1, ""), (2, "增加联系电话")]


def test_metadata_change_keeps_version(client: TestClient, admin_token: str) -> None:
    client.post("/api/v1/catalog/entries", json=entry_payload(), headers=auth(admin_token))
    response = client.patch(
        "/api/v1/catalog/entries/330281-GAJ-00001", json={"description": "新描述"}, headers=auth(admin_token)
    )
    assert response.json()["version"] == 1
    assert response.json()["description"] == "新描述"


def assert_problem(response, status: int, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["title"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
        assert field in body["detail"] or any(field in e["field"] for e in body["errors"])
    return body


@pytest.mark.parametrize(
    ("override", "status", "field"),
    [
        ({"sharing_type": "sometimes"}, 422, "sharing_type"),
        ({"department": "NOPE"}, 404, "department"),
        ({"code": "bad code"}, 422, "code"),
        ({"fields": []}, 422, "fields"),
        ({"fields": [{"name": "", "title": "空"}]}, 422, "fields.0.name"),
        (
            {"fields": [{"name": "a", "title": "甲", "key": True, "required": True}, {"name": "a", "title": "乙"}]},
            422,
            "fields.1.name",
        ),
        ({"fields": [{"name": "a", "title": "甲"}]}, 422, "fields"),
        ({"sharing_type": "conditional", "sharing_condition": ""}, 422, "sharing_condition"),
        ({"sharing_type": "none", "sharing_condition": "涉密", "open_type": "unconditional"}, 422, "open_type"),
        ({"open_type": "conditional", "open_condition": ""}, 422, "open_condition"),
        ({"unexpected": 1}, 422, "unexpected"),
    ],
)
def test_bad_entries_are_refused_and_nothing_written(
    client: TestClient, db: Session, admin_token: str, override: dict, status: int, field: str
) -> None:
    before = entry_count(db)
    response = client.post("/api/v1/catalog/entries", json=entry_payload(**override), headers=auth(admin_token))
    assert_problem(response, status, field)
    assert entry_count(db) == before


def test_duplicate_code_is_409(client: TestClient, db: Session, admin_token: str) -> None:
    make_entry(db)
    response = client.post("/api/v1/catalog/entries", json=entry_payload(name="另一个名称"), headers=auth(admin_token))
    body = assert_problem(response, 409, "code")
    assert "330281-GAJ-00001" in body["detail"]
    assert entry_count(db) == 1


def test_bad_schema_update_writes_nothing(client: TestClient, db: Session, admin_token: str) -> None:
    make_entry(db)
    bad = {"description": "改了", "fields": [{"name": "x", "title": "甲"}, {"name": "x", "title": "乙"}]}
    response = client.patch("/api/v1/catalog/entries/330281-GAJ-00001", json=bad, headers=auth(admin_token))
    assert_problem(response, 422, "fields.1.name")
    db.expire_all()
    entry = db.scalars(select(CatalogEntry)).one()
    assert entry.description == "全市户籍人口的基础登记信息"
    assert db.scalar(select(func.count()).select_from(CatalogEntryVersion)) == 1


def test_department_admin_cannot_publish_for_another_department(
    client: TestClient, db: Session, admin_token: str
) -> None:
    make_department(db, "MZJ", "余姚市民政局")
    response = client.post("/api/v1/catalog/entries", json=entry_payload(department="MZJ"), headers=auth(admin_token))
    assert_problem(response, 403)
    assert entry_count(db) == 0


def test_json_body_over_one_megabyte_is_413(client: TestClient, db: Session, admin_token: str) -> None:
    big = entry_payload(description="人" * 400_000)
    response = client.post("/api/v1/catalog/entries", json=big, headers=auth(admin_token))
    assert_problem(response, 413)
    assert entry_count(db) == 0


def test_unknown_entry_is_404_problem(client: TestClient, admin_token: str) -> None:
    assert_problem(client.get("/api/v1/catalog/entries/330281-X-1", headers=auth(admin_token)), 404)


def test_problem_detail_follows_accept_language(client: TestClient, db: Session, admin_token: str) -> None:
    make_entry(db)
    payload = entry_payload(name="其他")
    zh = client.post(
        "/api/v1/catalog/entries", json=payload, headers={**auth(admin_token), "Accept-Language": "zh-CN"}
    ).json()
    en = client.post(
        "/api/v1/catalog/entries", json=payload, headers={**auth(admin_token), "Accept-Language": "en"}
    ).json()
    assert en["detail"] == "The entry code '330281-GAJ-00001' is already in use."
    assert zh["detail"] != en["detail"] and "330281-GAJ-00001" in zh["detail"]


def test_nul_characters_are_refused_at_the_edge(client: TestClient, db: Session, admin_token: str) -> None:
    body = client.post("/api/v1/catalog/entries", json=entry_payload(department="\x00"), headers=auth(admin_token))
    assert_problem(body, 422)
    assert "U+0000" in body.json()["detail"]
    query = client.get("/api/v1/catalog/entries", params={"q": "人口\x00"}, headers=auth(admin_token))
    assert_problem(query, 422)
    assert entry_count(db) == 0
