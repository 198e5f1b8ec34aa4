"""Retiring superseded schema versions of a catalogue entry, through the API and the console."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.catalog.models import CatalogEntry, CatalogEntryVersion
from smartcity.catalog.schemas import EntryUpdate
from smartcity.db import utcnow
from smartcity.platform.audit.models import AuditEntry
from smartcity.platform.identity import service as identity
from smartcity.platform.permissions import Role
from tests.factories import (
    PASSWORD,
    auth,
    entry_payload,
    make_department,
    make_entry,
    make_token,
    make_user,
    principal,
    root,
)

CODE = "330281-GAJ-00001"
VERSIONS = f"/api/v1/catalog/entries/{CODE}/versions"
NOTE = "已由第2版替代"


def make_entry_with_two_versions(db: Session) -> CatalogEntry:
    """An entry whose schema changed once: version 1 is superseded, version 2 is current."""
    make_department(db)
    entry = make_entry(db)
    fields = [*entry_payload()["fields"], {"name": "phone", "title": "联系电话", "sensitive": True}]
    catalog.update_entry(
        db, by=root(), code=CODE, data=EntryUpdate.model_validate({"fields": fields, "change_note": "增加联系电话"})
    )
    assert entry.current_version == 2
    return entry


def stored_version(db: Session, number: int) -> CatalogEntryVersion:
    db.expire_all()
    return db.scalars(
        select(CatalogEntryVersion)
        .join(CatalogEntry, CatalogEntry.id == CatalogEntryVersion.entry_id)
        .where(CatalogEntry.code == CODE, CatalogEntryVersion.version == number)
    ).one()


def retire_audits(db: Session) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.version.retire")))


def assert_problem(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["title"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


@pytest.fixture
def admin_token(db: Session) -> str:
    make_entry_with_two_versions(db)
    return make_token(db, principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ")))


# --- API --------------------------------------------------------------------------------------


def test_retire_an_old_version(client: TestClient, db: Session, admin_token: str) -> None:
    before = utcnow()
    response = client.post(f"{VERSIONS}/1/retire", json={"note": NOTE}, headers=auth(admin_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["version"], body["current"]) == (CODE, 1, False)
    assert (body["retired_by"], body["retire_note"]) == ("gaj_admin", NOTE)
    assert before <= dt.datetime.fromisoformat(body["retired_at"]) <= utcnow()
    assert [f["name"] for f in body["fields"]] == ["resident_id", "full_name", "birth_date"]  # still readable

    listed = client.get(VERSIONS, headers=auth(admin_token)).json()
    assert [(v["version"], v["current"], v["retired_by"], v["retire_note"]) for v in listed] == [
        (1, False, "gaj_admin", NOTE),
        (2, True, None, ""),
    ]
    assert listed[0]["retired_at"] == body["retired_at"] and listed[1]["retired_at"] is None
    assert stored_version(db, 1).retired_by == "gaj_admin"


def test_retire_writes_an_audit_entry(client: TestClient, db: Session, admin_token: str) -> None:
    assert retire_audits(db) == []
    client.post(f"{VERSIONS}/1/retire", json={"note": NOTE}, headers=auth(admin_token))
    db.expire_all()
    [entry] = retire_audits(db)
    assert (entry.target_type, entry.target_id, entry.outcome) == ("catalog_entry", CODE, "success")
    assert entry.detail == {"version": 1, "note": NOTE}
    assert entry.actor.startswith("gaj_admin#token")


def test_retiring_the_current_version_is_409(client: TestClient, db: Session, admin_token: str) -> None:
    response = client.post(f"{VERSIONS}/2/retire", json={"note": NOTE}, headers=auth(admin_token))
    body = assert_problem(response, 409, "version")
    assert "2" in body["detail"] and CODE in body["detail"]
    assert stored_version(db, 2).retired_at is None
    assert retire_audits(db) == []


def test_retiring_twice_is_409_and_keeps_the_first_retirement(
    client: TestClient, db: Session, admin_token: str
) -> None:
    first = client.post(f"{VERSIONS}/1/retire", json={"note": NOTE}, headers=auth(admin_token)).json()
    again = client.post(f"{VERSIONS}/1/retire", json={"note": "再次停用"}, headers=auth(admin_token))
    body = assert_problem(again, 409)
    assert "1" in body["detail"] and CODE in body["detail"]
    kept = client.get(f"{VERSIONS}/1", headers=auth(admin_token)).json()
    assert (kept["retired_at"], kept["retire_note"]) == (first["retired_at"], NOTE)
    db.expire_all()
    assert len(retire_audits(db)) == 1


def test_unknown_version_is_404(client: TestClient, db: Session, admin_token: str) -> None:
    body = assert_problem(client.post(f"{VERSIONS}/9/retire", json={"note": NOTE}, headers=auth(admin_token)), 404)
    assert "9" in body["detail"] and CODE in body["detail"]
    other_entry = "/api/v1/catalog/entries/330281-GAJ-09999/versions/1/retire"
    assert_problem(client.post(other_entry, json={"note": NOTE}, headers=auth(admin_token)), 404)
    assert retire_audits(db) == []


@pytest.mark.parametrize("payload", [{"note": "x"}, {"note": "  x  "}, {"note": ""}, {}])
def test_a_note_shorter_than_two_characters_is_422(
    client: TestClient, db: Session, admin_token: str, payload: dict[str, str]
) -> None:
    response = client.post(f"{VERSIONS}/1/retire", json=payload, headers=auth(admin_token))
    body = assert_problem(response, 422, "note")
    assert "note" in body["detail"]
    assert stored_version(db, 1).retired_at is None


def test_admin_of_another_department_is_403_and_nothing_changes(
    client: TestClient, db: Session, admin_token: str
) -> None:
    make_department(db, "MZJ", "余姚市民政局")
    other = make_token(db, principal(make_user(db, "mzj_admin", Role.DEPT_ADMIN, "MZJ")))
    assert_problem(client.post(f"{VERSIONS}/1/retire", json={"note": NOTE}, headers=auth(other)), 403)
    version = stored_version(db, 1)
    assert (version.retired_at, version.retired_by, version.retire_note) == (None, None, "")
    assert retire_audits(db) == []


def test_department_staff_token_cannot_retire(client: TestClient, db: Session, admin_token: str) -> None:
    staff = make_token(db, principal(make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ")))
    assert_problem(client.post(f"{VERSIONS}/1/retire", json={"note": NOTE}, headers=auth(staff)), 403)
    assert stored_version(db, 1).retired_at is None


# --- console ----------------------------------------------------------------------------------


def sign_in(client: TestClient, db: Session, username: str, role: Role) -> None:
    make_user(db, username, role, "GAJ")
    client.cookies.set("sc_session", identity.login(db, username=username, password=PASSWORD, ip=None).cookie or "")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture
def admin_client(client: TestClient, db: Session) -> TestClient:
    make_entry_with_two_versions(db)
    sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    return client


def test_version_page_shows_the_retire_form_to_the_departments_admin(admin_client: TestClient) -> None:
    old = admin_client.get(f"/catalog/{CODE}/versions/1")
    assert old.status_code == 200
    assert 'id="retire-form"' in old.text and f'action="/catalog/{CODE}/versions/1/retire"' in old.text
    current = admin_client.get(f"/catalog/{CODE}/versions/2")
    assert current.status_code == 200 and 'id="retire-form"' not in current.text  # the current one cannot be


def test_version_page_shows_no_retire_form_to_staff(client: TestClient, db: Session) -> None:
    make_entry_with_two_versions(db)
    sign_in(client, db, "gaj_staff", Role.DEPT_STAFF)
    page = client.get(f"/catalog/{CODE}/versions/1")
    assert page.status_code == 200 and "birth_date" in page.text
    assert 'id="retire-form"' not in page.text and "/retire" not in page.text


def test_retire_through_the_form_then_the_page_shows_it_retired(admin_client: TestClient, db: Session) -> None:
    page = admin_client.get(f"/catalog/{CODE}/versions/1")
    response = admin_client.post(
        f"/catalog/{CODE}/versions/1/retire",
        data={"csrf_token": csrf(page.text), "note": NOTE},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/catalog/{CODE}/versions/1"
    after = admin_client.get(response.headers["location"])
    notice = re.search(r'<p class="card" id="retired">(.*?)</p>', after.text, re.S)
    assert notice and "gaj_admin" in notice.group(1) and NOTE in notice.group(1)
    assert 'id="retire-form"' not in after.text
    version = stored_version(db, 1)
    assert (version.retired_by, version.retire_note) == ("gaj_admin", NOTE)
    assert "gaj_admin" in [a.actor for a in retire_audits(db)]


def test_an_empty_note_shows_the_form_again_with_an_error(admin_client: TestClient, db: Session) -> None:
    page = admin_client.get(f"/catalog/{CODE}/versions/1")
    response = admin_client.post(f"/catalog/{CODE}/versions/1/retire", data={"csrf_token": csrf(page.text), "note": ""})
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" data-field="note">(.*?)</p>', response.text)
    assert error and "2" in error.group(1)
    assert 'id="retire-form"' in response.text and 'id="retired"' not in response.text
    assert stored_version(db, 1).retired_at is None


def test_the_form_without_its_csrf_token_is_refused(admin_client: TestClient, db: Session) -> None:
    response = admin_client.post(f"/catalog/{CODE}/versions/1/retire", data={"note": NOTE}, follow_redirects=False)
    assert response.status_code == 403
    assert stored_version(db, 1).retired_at is None
