"""The data service over HTTP: projection to the grant, masking, keyset pages with a signed cursor, lookup by key,
typed filters, refusals naming the parameter, an audit entry per call, and 429 with Retry-After per credential."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.exchange.ratelimit import LIMITER
from smartcity.platform.audit.models import AuditEntry
from tests.exchange.world import POPULATION, build, grant_population
from tests.factories import auth, make_token

URL = f"/api/v1/exchange/data/{POPULATION}"


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    LIMITER.clear()


def _get(client: TestClient, token: str, url: str = URL, **params: Any) -> Any:
    return client.get(url, params=params, headers=auth(token))


def test_pages_are_masked_projected_and_walk_the_whole_entry(client: TestClient, db: Session) -> None:
    world = build(db)
    grant = grant_population(db, world, fields=["resident_id", "full_name", "birth_date", "phone", "town_code"])
    token = make_token(db, world.mzj)
    seen: list[dict[str, Any]] = []
    after = None
    for _ in range(10):
        page = _get(client, token, limit=5, **({"after": after} if after else {}))
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["grant"] == grant and body["masked"] == ["full_name", "phone", "resident_id"]
        seen += body["items"]
        after = body["next"]
        if after is None:
            break
    assert len(seen) == 12 and len({row["resident_id"] for row in seen}) == 12
    plain = {row["resident_id"]: row for row in world.people.to_dicts()}
    for row in seen:
        assert set(row) == {"resident_id", "full_name", "birth_date", "phone", "town_code", "_updated_at"}
        assert "income" not in row and "registered_address" not in row  # not granted
        original = next(
            p for rid, p in plain.items() if rid[:6] == row["resident_id"][:6] and rid[-4:] == row["resident_id"][-4:]
        )
        assert row["resident_id"] == original["resident_id"][:6] + "********" + original["resident_id"][-4:]
        assert row["phone"] == original["phone"][:3] + "****" + original["phone"][-4:]
        assert row["birth_date"] == original["birth_date"]  # not personal: shown as it is
    # A cursor is signed: a forged one is refused, naming 'after'.
    forged = base64.urlsafe_b64encode(b"1.3.abcdefghijklmnop").decode()
    refused = _get(client, token, after=forged)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "after"
    # Every call is in the audit log with its grant, purpose, query and row count.
    reads = db.scalars(select(AuditEntry).where(AuditEntry.action == "exchange.data.read")).all()
    assert len(reads) >= 3 and reads[0].target_id == grant
    assert reads[0].detail["rows"] == 5 and reads[0].detail["purpose"] == "最低生活保障对象家庭人口核对"


def test_filters_lookup_by_key_and_plain_grants(client: TestClient, db: Session) -> None:
    world = build(db)
    grant_population(db, world, plain=True)
    token = make_token(db, world.mzj)
    person = world.people.row(3, named=True)
    older = _get(client, token, **{"f.birth_date.lt": "1970-01-01", "fields": "resident_id,birth_date"})
    expected = sorted(p["resident_id"] for p in world.people.to_dicts() if p["birth_date"] < "1970-01-01")
    assert sorted(r["resident_id"] for r in older.json()["items"]) == expected
    named = _get(client, token, **{"f.full_name.prefix": person["full_name"][:1]})
    assert person["resident_id"] in {r["resident_id"] for r in named.json()["items"]}
    listed = _get(client, token, **{"f.town_code.in": f"{person['town_code']},330281999"})
    assert person["resident_id"] in {r["resident_id"] for r in listed.json()["items"]}
    record = _get(client, token, f"{URL}/records/{person['resident_id']}")
    assert record.status_code == 200
    assert record.json()["record"]["full_name"] == person["full_name"]  # plain grant: unmasked
    assert record.json()["masked"] == []
    assert _get(client, token, f"{URL}/records/330281190001011234").status_code == 404


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"fields": "resident_id,shoe_size"}, 422, "fields"),
        ({"f.shoe_size": "42"}, 422, "f.shoe_size"),
        ({"f.income.gt": "1000"}, 403, "f.income.gt"),  # a field the grant leaves out
        ({"fields": "income"}, 403, "fields"),
        ({"f.full_name": "' OR '1'='1"}, 422, "f.full_name"),
        ({"f.full_name": "张三; DROP TABLE app_user"}, 422, "f.full_name"),
        ({"f.birth_date.ge": "last tuesday"}, 422, "f.birth_date.ge"),
        ({"f.birth_date.like": "1990"}, 422, "f.birth_date.like"),
        ({"limit": "5000"}, 422, "limit"),
        ({"limit": "-1"}, 422, "limit"),
        ({"order": "name"}, 422, "order"),
    ],
)
def test_bad_queries_name_the_parameter_and_return_nothing(
    client: TestClient, db: Session, params: dict[str, str], status: int, field: str
) -> None:
    world = build(db)
    grant_population(db, world, fields=["resident_id", "full_name", "birth_date", "town_code"])
    response = _get(client, make_token(db, world.mzj), **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["errors"][0]["field"] == field and "items" not in body
    assert world.people["full_name"][0] not in response.text


def test_rate_limit_per_credential(client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    world = build(db)
    grant_population(db, world)
    monkeypatch.setattr(get_settings(), "exchange_rate_limit", 0.5)
    monkeypatch.setattr(get_settings(), "exchange_rate_burst", 3)
    first, second = make_token(db, world.mzj, name="a"), make_token(db, world.mzj, name="b")
    answers = [_get(client, first, limit=1).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = _get(client, first, limit=1)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["type"].endswith("/rate-limited")
    assert _get(client, second, limit=1).status_code == 200  # another credential has its own allowance
