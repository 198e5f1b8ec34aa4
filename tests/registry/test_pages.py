"""The registries' console forms over HTTP: a feed chosen and mapped field by field, its errors, the survivorship
rules, and a resolution queued for the worker; a department's staff may use none of them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from smartcity.platform.jobs import service as jobs
from smartcity.platform.permissions import Role
from smartcity.registry import service as registry
from smartcity.registry.vocab import Kind, Survivorship
from tests.factories import PERSON_CODE, make_person_entry, root
from tests.ingest.test_pages import sign_in


def test_feed_form_maps_fields_and_names_what_is_wrong(client: TestClient, db: Session) -> None:
    make_person_entry(db)
    token = sign_in(client, db, "hub", Role.PLATFORM_ADMIN)
    chooser = client.get("/registry/person/feeds")
    assert chooser.status_code == 200 and f'value="{PERSON_CODE}"' in chooser.text  # offered in the entry list
    form = client.get("/registry/person/feeds", params={"entry": PERSON_CODE})
    assert form.status_code == 200
    # A new feed starts from the fields named like the attributes.
    assert '<option value="full_name" selected>' in form.text
    assert client.get("/registry/person/feeds", params={"entry": "330281-XXX-00009"}).status_code == 404

    bad = client.post(
        "/registry/person/feeds",
        data={"csrf_token": token, "entry_code": PERSON_CODE, "attr-phone": "phone", "trust": "2", "active": "on"},
    )
    assert bad.status_code == 422
    assert 'data-field="attributes"' in bad.text  # neither the identifier nor the name is mapped
    assert '<option value="phone" selected>' in bad.text  # the person's choice is kept
    assert registry.list_feeds(db, by=root(), kind=Kind.PERSON) == []

    saved = client.post(
        "/registry/person/feeds",
        data={
            "csrf_token": token,
            "entry_code": PERSON_CODE,
            "attr-resident_id": "resident_id",
            "attr-full_name": "full_name",
            "attr-birth_date": "birth_date",
            "trust": "1",
            "active": "on",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/registry"
    (feed,) = registry.list_feeds(db, by=root(), kind=Kind.PERSON)
    assert feed.attributes == {"resident_id": "resident_id", "full_name": "full_name", "birth_date": "birth_date"}
    assert feed.trust == 1 and feed.active
    overview = client.get("/registry")
    assert f"/registry/person/feeds?entry={PERSON_CODE}" in overview.text


def test_survivorship_form_and_resolution_request(client: TestClient, db: Session) -> None:
    token = sign_in(client, db, "hub", Role.PLATFORM_ADMIN)
    assert registry.survivorship(db, by=root(), kind=Kind.PERSON)["phone"] is Survivorship.RECENT
    done = client.post(
        "/registry/person/survivorship",
        data={"csrf_token": token, "rule-phone": "trust", "rule-full_name": "trust", "rule-address": "bogus"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    rules = registry.survivorship(db, by=root(), kind=Kind.PERSON)
    assert rules["phone"] is Survivorship.TRUST and rules["address"] is Survivorship.RECENT
    first = client.post("/registry/person/runs", data={"csrf_token": token}, follow_redirects=False)
    again = client.post("/registry/person/runs", data={"csrf_token": token}, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    job = jobs.unfinished(db, f"{registry.RESOLVE_JOB}:person")
    assert job is not None and job.payload == {"kind": "person"}


def test_department_staff_cannot_configure_the_registries(client: TestClient, db: Session) -> None:
    make_person_entry(db)
    token = sign_in(client, db, "gaj_staff", Role.DEPT_STAFF)
    assert client.get("/registry/person/feeds", params={"entry": PERSON_CODE}).status_code == 403
    refused = client.post("/registry/person/runs", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403
    assert jobs.unfinished(db, f"{registry.RESOLVE_JOB}:person") is None
    page = client.get("/registry/person")
    assert page.status_code == 200 and 'id="survivorship-form"' not in page.text
