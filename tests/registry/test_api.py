"""The registry API: search masked by role, a record with lineage and as-of, review decisions, feeds, errors."""

from __future__ import annotations

import urllib.parse

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from smartcity.platform.permissions import Role
from smartcity.registry import service as registry
from smartcity.registry.vocab import Kind
from tests.factories import PERSON_CODE, auth, make_token, make_user, principal, root
from tests.registry.test_service import ATTRIBUTES, _feed, _setup


def test_search_record_feeds_and_errors(client: TestClient, db: Session) -> None:
    people, _, _ = _setup(db)
    _feed(db, PERSON_CODE, 1)
    registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    hub = auth(make_token(db, principal(make_user(db, "hub", Role.PLATFORM_ADMIN))))
    staff = auth(make_token(db, principal(make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ"))))
    rid = people["resident_id"][3]
    plain = client.get("/api/v1/registry/person/records", params={"q": rid}, headers=hub).json()
    assert plain["total"] == 1 and plain["items"][0]["attributes"]["resident_id"] == rid
    number = plain["items"][0]["number"]
    masked = client.get("/api/v1/registry/person/records", params={"q": rid}, headers=staff).json()
    assert masked["items"][0]["attributes"]["resident_id"] == rid[:6] + "********" + rid[-4:]
    record = client.get(f"/api/v1/registry/person/records/{number}", headers=hub)
    assert record.status_code == 200
    body = record.json()
    assert {item["attribute"] for item in body["lineage"]} >= {"resident_id", "full_name", "phone"}
    assert body["sources"][0]["entry_code"] == PERSON_CODE
    before = urllib.parse.quote("2000-01-01T00:00:00+08:00")
    gone = client.get(f"/api/v1/registry/person/records/{number}?as_of={before}", headers=hub)
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/registry/planets/records", headers=hub).status_code == 422
    refused = client.put(
        "/api/v1/registry/person/feeds", json={"entry_code": PERSON_CODE, "attributes": ATTRIBUTES}, headers=staff
    )
    assert refused.status_code == 403
    wrong = client.put(
        "/api/v1/registry/person/feeds",
        json={"entry_code": PERSON_CODE, "attributes": {"full_name": "nope"}},
        headers=hub,
    )
    assert wrong.status_code == 422 and "nope" in wrong.json()["detail"]
    assert client.get("/api/v1/registry/person/review", headers=staff).status_code == 403
    assert client.get("/api/v1/registry/person/review", headers=hub).status_code == 200
    parsed = client.get(
        "/api/v1/registry/addresses/parse", params={"text": "余姚市阳明街道新建北路十二号"}, headers=staff
    )
    assert parsed.status_code == 200 and parsed.json()["parts"]["road"] == "新建北路"
