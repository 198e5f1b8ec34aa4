"""The authorisation matrix: every data path of the exchange × every kind of caller returns exactly what it should,
and no answer that is not plain carries a single plain personal value of the entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from smartcity.exchange import sharing
from smartcity.exchange.models import Grant
from smartcity.exchange.ratelimit import LIMITER
from smartcity.exchange.schemas import RevokeIn
from smartcity.platform.identity import tokens
from smartcity.platform.paging import PageParams
from smartcity.platform.permissions import Role
from tests.exchange.world import POPULATION, World, build, grant_population
from tests.factories import auth, make_department, make_token, make_user, principal

CALLERS = ("owner", "granted", "granted_plain", "ungranted", "revoked", "expired", "anonymous")
# What each caller gets on the data paths: status, and whether personal values come plain.
EXPECTED: dict[str, tuple[int, bool | None]] = {
    "owner": (200, True),
    "granted": (200, False),
    "granted_plain": (200, True),
    "ungranted": (403, None),
    "revoked": (403, None),
    "expired": (403, None),
    "anonymous": (401, None),
}
# Subscribing to the entry's changes needs a grant in force.
SUBSCRIBE: dict[str, int] = {
    "owner": 404,
    "granted": 201,
    "granted_plain": 201,
    "ungranted": 404,
    "revoked": 409,
    "expired": 409,
    "anonymous": 401,
}
PATHS = ("page", "filtered", "record")


def _officer(db: Session, code: str, name: str) -> Any:
    make_department(db, code, name)
    return principal(make_user(db, f"{code.lower()}_matrix", Role.DEPT_ADMIN, code))


def _callers(db: Session, world: World) -> dict[str, tuple[str | None, str | None]]:
    """caller -> (API token, the grant number it holds)."""
    granted = grant_population(
        db, world, fields=["resident_id", "full_name", "phone", "registered_address", "town_code"]
    )
    plain_dept = _officer(db, "WJJ", "余姚市卫生健康局")
    revoked_dept = _officer(db, "JYJ", "余姚市教育局")
    expired_dept = _officer(db, "ZJJ", "余姚市住房和城乡建设局")
    numbers = {}
    for who, dept in (("granted_plain", plain_dept), ("revoked", revoked_dept), ("expired", expired_dept)):
        numbers[who] = grant_population(
            db, World(world.gaj, dept, dept, dept, world.people), plain=who == "granted_plain"
        )
    sharing.revoke_grant(db, by=world.gaj, number=numbers["revoked"], data=RevokeIn(reason="超范围使用"))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    db.execute(update(Grant).where(Grant.number == numbers["expired"]).values(valid_until=past))
    return {
        "owner": (make_token(db, world.gaj), None),
        "granted": (make_token(db, world.mzj), granted),
        "granted_plain": (make_token(db, plain_dept), numbers["granted_plain"]),
        "ungranted": (make_token(db, world.rsj), None),
        "revoked": (make_token(db, revoked_dept), numbers["revoked"]),
        "expired": (make_token(db, expired_dept), numbers["expired"]),
        "anonymous": (None, None),
    }


def _plain_values(world: World) -> list[str]:
    values = []
    for person in world.people.to_dicts():
        values += [person["resident_id"], person["phone"], person["registered_address"]]
        if len(person["full_name"]) >= 2:
            values.append(person["full_name"])
    return values


@pytest.fixture
def matrix(db: Session) -> tuple[World, dict[str, tuple[str | None, str | None]]]:
    LIMITER.clear()
    world = build(db)
    return world, _callers(db, world)


def _request(client: TestClient, path: str, token: str | None, world: World) -> Any:
    headers = auth(token) if token else {}
    person = world.people.row(0, named=True)
    base = f"/api/v1/exchange/data/{POPULATION}"
    if path == "page":
        return client.get(base, params={"limit": 50}, headers=headers)
    if path == "filtered":
        return client.get(base, params={"f.town_code": person["town_code"]}, headers=headers)
    return client.get(f"{base}/records/{person['resident_id']}", headers=headers)


@pytest.mark.parametrize("path", PATHS)
def test_every_data_path_for_every_caller(
    client: TestClient, db: Session, matrix: tuple[World, dict[str, tuple[str | None, str | None]]], path: str
) -> None:
    world, callers = matrix
    asked = world.people["resident_id"][0] if path == "record" else None  # the caller's own key, echoed in `instance`
    plain_values = [v for v in _plain_values(world) if v != asked]
    wrong = []
    for who in CALLERS:
        token, _ = callers[who]
        response = _request(client, path, token, world)
        status, plain = EXPECTED[who]
        leaked = [v for v in plain_values if v in response.text]
        if response.status_code != status:
            wrong.append(f"{who}: {response.status_code} (expected {status}) {response.text[:120]}")
        elif plain is True and not leaked:
            wrong.append(f"{who}: plain values expected, got masked ones")
        elif plain is not True and leaked:
            wrong.append(f"{who}: leaked {leaked[:3]}")
        if status != 200 and response.status_code == status:
            assert response.headers["content-type"].startswith("application/problem+json")
    assert wrong == []


def test_subscribing_needs_a_grant_in_force(
    client: TestClient, db: Session, matrix: tuple[World, dict[str, tuple[str | None, str | None]]]
) -> None:
    _, callers = matrix
    wrong = []
    for who in CALLERS:
        token, number = callers[who]
        response = client.post(
            "/api/v1/exchange/subscriptions",
            json={"grant": number or "GX2026999999", "url": "http://127.0.0.1:9/hook"},
            headers=auth(token) if token else {},
        )
        if response.status_code != SUBSCRIBE[who]:
            wrong.append(f"{who}: {response.status_code} (expected {SUBSCRIBE[who]})")
    assert wrong == []


def test_refusals_say_why(
    client: TestClient, db: Session, matrix: tuple[World, dict[str, tuple[str | None, str | None]]]
) -> None:
    world, callers = matrix
    reasons = {
        who: _request(client, "page", callers[who][0], world).json()["detail"]
        for who in ("ungranted", "revoked", "expired")
    }
    assert "no grant" in reasons["ungranted"] or "没有" in reasons["ungranted"]
    assert reasons["revoked"] != reasons["expired"] != reasons["ungranted"]


def test_a_revoked_token_reads_nothing(client: TestClient, db: Session) -> None:
    LIMITER.clear()
    world = build(db)
    grant_population(db, world)
    raw = make_token(db, world.mzj, name="to-revoke")
    token_id = next(t.id for t in tokens.list_tokens(db, by=world.mzj, params=PageParams())[0] if t.name == "to-revoke")
    assert _request(client, "page", raw, world).status_code == 200
    tokens.revoke_token(db, by=world.mzj, token_id=token_id)
    refused = _request(client, "page", raw, world)
    assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json")
    assert not any(v in refused.text for v in _plain_values(world))
