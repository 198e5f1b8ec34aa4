"""Kernel rules: every route guarded, problem+json everywhere on the API, console shell behaviour."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from smartcity.platform.identity import service as identity
from smartcity.platform.identity.deps import api
from smartcity.platform.permissions import Role, assert_every_route_guarded, unguarded_routes
from tests.factories import PASSWORD, make_department, make_user


def test_a_route_without_a_rule_stops_the_app() -> None:
    router = APIRouter()

    @router.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    @router.get("/api/v1/typo")
    def typo(_: object = Depends(api("catalog.wirte"))) -> dict[str, str]:
        return {}

    problems = unguarded_routes([router])
    assert len(problems) == 2 and "undeclared permission catalog.wirte" in problems[1]
    with pytest.raises(RuntimeError, match="forgotten"):
        assert_every_route_guarded([router])


def test_unknown_api_path_is_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/not-found"


def test_validation_error_names_the_field(client: TestClient) -> None:
    response = client.get("/api/v1/catalog/entries", params={"page_size": 1000}, headers={"Authorization": "Bearer x"})
    # Authentication is checked before the query is validated: no data and no hints leak to strangers.
    assert response.status_code == 401


def test_problem_types_are_documented(client: TestClient) -> None:
    page = client.get("/problems", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for slug in ("not-found", "permission-denied", "invalid-input", "conflict", "payload-too-large"):
        assert f"/problems/{slug}" in page.text


def signed_in(client: TestClient, db: Session, role: Role = Role.DEPT_STAFF) -> None:
    make_department(db)
    make_user(db, "someone", role, "GAJ" if role in (Role.DEPT_ADMIN, Role.DEPT_STAFF) else None)
    cookie = identity.login(db, username="someone", password=PASSWORD, ip=None).cookie
    client.cookies.set("sc_session", cookie or "")


def test_console_shell_lists_every_planned_module(client: TestClient, db: Session) -> None:
    signed_in(client, db)
    html = client.get("/").text
    for label in (
        "资源目录",
        "数据采集",
        "基础数据库",
        "共享开放",
        "物联网平台",
        "智慧城管",
        "智慧交通",
        "智慧医疗",
        "政务服务",
        "智慧养老",
        "食品安全",
        "决策分析",
        "信息基础设施",
    ):
        assert label in html
    assert html.count("尚未提供") >= 8
    unavailable = client.get("/modules/cases")
    assert unavailable.status_code == 200 and "本系统尚未提供该模块" in unavailable.text


def test_language_switch_sets_english(client: TestClient, db: Session) -> None:
    signed_in(client, db)
    response = client.get("/lang/en", params={"next": "/catalog"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/catalog"
    client.cookies.set("sc_lang", "en")
    html = client.get("/catalog").text
    assert "Resource catalogue" in html and "资源目录" not in html


def test_open_redirects_are_refused(client: TestClient) -> None:
    response = client.get("/lang/en", params={"next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_pages_redirect_anonymous_users_to_login(client: TestClient) -> None:
    response = client.get("/catalog?q=人口", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/catalog")
