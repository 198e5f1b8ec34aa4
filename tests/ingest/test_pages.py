"""Console pages of data collection through HTTP: upload, mapping, report, rules, feedback, dashboard, pulls."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from smartcity.ingest.models import Batch, FeedbackItem, Rule
from smartcity.ingest.pages.rules import rule_payload
from smartcity.ingest.rules.kinds import parse_params
from smartcity.ingest.schemas import RuleIn
from smartcity.platform.identity import service as identity
from smartcity.platform.jobs.worker import run_until_idle
from smartcity.platform.permissions import Role
from tests.factories import (
    PASSWORD,
    PERSON_CODE,
    PERSON_HEADER,
    add_rules,
    make_person_entry,
    make_town,
    make_user,
    resident_id,
)

ZHANG = resident_id("19520120", 582)
LI = resident_id("19831008", 29)
GOOD = f"{PERSON_HEADER}\n{ZHANG},张三,2,1952-01-20,13800001111,330281004,\n{LI},李四,1,1983-10-08,12345,330281004,\n"


def csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def sign_in(client: TestClient, db: Session, username: str, role: Role) -> str:
    """Sign `username` in; returns the page's CSRF token."""
    make_user(db, username, role, "GAJ" if role in (Role.DEPT_ADMIN, Role.DEPT_STAFF) else None)
    client.cookies.clear()
    client.cookies.set("sc_session", identity.login(db, username=username, password=PASSWORD, ip=None).cookie or "")
    return csrf(client.get("/ingest").text)


@pytest.fixture
def entry(db: Session) -> None:
    make_town(db)
    make_person_entry(db)
    add_rules(db)


def upload(client: TestClient, token: str, body: bytes, filename: str = "people.csv") -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/ingest/upload",
        params={"entry": PERSON_CODE, "filename": filename},
        content=body,
        headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_upload_report_and_rejected_rows(client: TestClient, db: Session, entry: None) -> None:
    token = sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    form = client.get("/ingest/new", params={"entry": PERSON_CODE})
    assert 'id="upload-bar"' in form.text and f'value="{PERSON_CODE}" selected' in form.text
    answer = upload(client, token, GOOD.encode("gbk"))
    assert answer["next"] == f"/ingest/batches/{answer['batch_id']}" and not answer["duplicate"]
    waiting = client.get(answer["next"])
    assert 'id="progress"' in waiting.text and 'hx-trigger="every 1s"' in waiting.text
    run_until_idle()
    progress = client.get(f"/ingest/batches/{answer['batch_id']}/progress")
    assert progress.headers.get("hx-refresh") == "true"
    page = client.get(answer["next"])
    assert "质量报告" in page.text and 'id="by-rule"' in page.text and "50.0" in page.text
    assert "「联系电话」" in page.text and "gb18030" in page.text
    rejected = client.get(f"/ingest/batches/{answer['batch_id']}/rejected")
    assert rejected.status_code == 200 and 'class="bad"' in rejected.text and "12345" in rejected.text
    assert "<th>联系电话</th>" in rejected.text, "columns are headed by the field titles"
    report = client.get(f"/ingest/batches/{answer['batch_id']}/report.json")
    assert report.json()["rows"]["rejected"] == 1
    again = upload(client, token, GOOD.encode("gbk"), filename="again.csv")
    assert again["duplicate"] and again["batch_id"] == answer["batch_id"]
    assert "nothing changed" not in client.get(again["next"]).text  # zh-CN: shown in Chinese
    assert 'id="duplicate"' in client.get(again["next"]).text


def test_upload_errors_come_back_as_problem_json(client: TestClient, db: Session, entry: None) -> None:
    token = sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    response = client.post(
        "/ingest/upload",
        params={"entry": PERSON_CODE, "filename": "junk.csv"},
        content=b"\x00\x01binary" * 50,
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert response.status_code == 422 and "junk.csv" in response.json()["detail"]
    forged = client.post(
        "/ingest/upload", params={"entry": PERSON_CODE, "filename": "a.csv"}, content=GOOD.encode(), headers={}
    )
    assert forged.status_code == 403
    assert db.scalar(select(func.count()).select_from(Batch)) == 0


def test_mapping_step(client: TestClient, db: Session, entry: None) -> None:
    token = sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    body = f"身份证,姓名,性别,出生日期\n{ZHANG},张三,2,1952-01-20\n".encode()
    answer = upload(client, token, body)
    assert answer["next"].endswith("/mapping")
    page = client.get(answer["next"])
    assert "身份证" in page.text and 'class="unmapped"' in page.text and ZHANG in page.text
    incomplete = client.post(answer["next"], data={"csrf_token": token, "col-0": "-"})
    assert incomplete.status_code == 422 and 'id="mapping-error"' in incomplete.text
    done = client.post(answer["next"], data={"csrf_token": token, "col-0": "resident_id"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/ingest/batches/{answer['batch_id']}"
    run_until_idle()
    assert db.get(Batch, answer["batch_id"]).status == "committed"  # type: ignore[union-attr]


def test_rules_page_declares_edits_and_refuses_bad_rules(client: TestClient, db: Session, entry: None) -> None:
    token = sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    page = client.get(f"/ingest/entries/{PERSON_CODE}/rules")
    assert 'id="rule-form"' in page.text and "公民身份号码" in page.text
    before = db.scalar(select(func.count()).select_from(Rule))
    bad = client.post(
        f"/ingest/entries/{PERSON_CODE}/rules",
        data={"csrf_token": token, "field": "income", "kind": "range", "min": "9", "max": "1", "severity": "error"},
    )
    assert bad.status_code == 422 and 'id="rule-error"' in bad.text
    good = client.post(
        f"/ingest/entries/{PERSON_CODE}/rules",
        data={"csrf_token": token, "field": "income", "kind": "range", "min": "0", "max": "100000", "enabled": "on"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    rule = db.scalars(select(Rule).where(Rule.field == "income")).one()
    assert (
        rule.params == {"min": "0", "max": "100000"} and db.scalar(select(func.count()).select_from(Rule)) == before + 1
    )
    edit = client.get(f"/ingest/entries/{PERSON_CODE}/rules", params={"edit": rule.id})
    assert f'/rules/{rule.id}"' in edit.text
    rule_id = rule.id
    removed = client.post(f"/ingest/entries/{PERSON_CODE}/rules/{rule_id}/delete", data={"csrf_token": token})
    db.expire_all()
    assert removed.status_code == 200 and db.get(Rule, rule_id) is None
    staff_token = sign_in(client, db, "gaj_staff", Role.DEPT_STAFF)
    assert 'id="rule-form"' not in client.get(f"/ingest/entries/{PERSON_CODE}/rules").text
    denied = client.post(f"/ingest/entries/{PERSON_CODE}/suggestions", data={"csrf_token": staff_token})
    assert denied.status_code == 403


def test_catalogue_entry_links_to_its_rules_and_upload(client: TestClient, db: Session, entry: None) -> None:
    sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    page = client.get(f"/catalog/{PERSON_CODE}").text
    assert f"/ingest/entries/{PERSON_CODE}/rules" in page and f"/ingest/new?entry={PERSON_CODE}" in page
    sign_in(client, db, "gaj_staff", Role.DEPT_STAFF)
    page = client.get(f"/catalog/{PERSON_CODE}").text
    assert f"/ingest/entries/{PERSON_CODE}/rules" in page and "/ingest/new?" not in page


def test_feedback_page_dispute_and_review(client: TestClient, db: Session, entry: None) -> None:
    token = sign_in(client, db, "gaj_admin", Role.DEPT_ADMIN)
    upload(client, token, GOOD.encode())
    run_until_idle()
    item = db.scalars(select(FeedbackItem)).one()
    page = client.get("/ingest/feedback")
    assert f'id="item-{item.id}"' in page.text and "提出异议" in page.text
    empty = client.post(f"/ingest/feedback/{item.id}/dispute", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 200 and db.get(FeedbackItem, item.id).status == "open"  # type: ignore[union-attr]
    client.post(f"/ingest/feedback/{item.id}/dispute", data={"csrf_token": token, "reason": "号码为单位短号"})
    db.expire_all()
    assert db.get(FeedbackItem, item.id).status == "disputed"  # type: ignore[union-attr]
    hub_token = sign_in(client, db, "hub", Role.PLATFORM_ADMIN)
    assert "采纳异议" in client.get("/ingest/feedback").text
    client.post(f"/ingest/feedback/{item.id}/dismiss", data={"csrf_token": hub_token, "note": "同意"})
    db.expire_all()
    assert db.get(FeedbackItem, item.id).status == "dismissed"  # type: ignore[union-attr]


def test_dashboard_pulls_and_code_tables_render(client: TestClient, db: Session, entry: None) -> None:
    token = sign_in(client, db, "hub", Role.PLATFORM_ADMIN)
    upload(client, token, GOOD.encode())
    run_until_idle()
    dashboard = client.get("/ingest/quality", params={"days": 30})
    assert 'id="chart-rows"' in dashboard.text and "echarts.common.min.js" in dashboard.text
    assert '"received": [' in dashboard.text and "余姚市公安局" in dashboard.text
    assert 'href="/ingest/new"' in dashboard.text, "the sub-navigation offers submitting data here too"
    pulls = client.get("/ingest/pulls")
    assert 'id="pull-form"' in pulls.text
    bad = client.post(
        "/ingest/pulls",
        data={
            "csrf_token": token,
            "name": "抽取",
            "entry_code": PERSON_CODE,
            "url": "postgresql://reader:pw@10.0.0.1/hk",
            "query": "DELETE FROM people",
            "every_minutes": "60",
        },
    )
    assert bad.status_code == 422 and "pw@" not in bad.text
    tables = client.get("/ingest/code-tables", params={"name": "gb2261_1"})
    assert "女性" in tables.text
    saved = client.post(
        "/ingest/code-tables",
        data={"csrf_token": token, "name": "person_status", "title": "人口状态", "codes": "1,正常\n2，死亡"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "死亡" in client.get("/ingest/code-tables", params={"name": "person_status"}).text


def test_the_rule_form_becomes_the_parameters_of_the_chosen_kind() -> None:
    def parsed(**fields: str) -> dict[str, object]:
        data = RuleIn.model_validate(rule_payload(FormData({"field": "f", **fields})))
        return parse_params(data.kind, data.params).model_dump(mode="json", exclude_none=True)

    assert parsed(kind="enum", values="1，2、 3", regex="ignored") == {"values": ["1", "2", "3"]}
    assert parsed(kind="length", min="2", max="15") == {"min": 2, "max": 15}
    assert parsed(kind="resident_id", check_region="on", sex_field="gender_code") == {
        "sex_field": "gender_code",
        "check_region": True,
    }
    assert parsed(kind="phone") == {"allow_landline": False}
    assert parsed(kind="compare", entry="330281-SCJ-00001", match_local="credit_code", other_field="domicile") == {
        "entry": "330281-SCJ-00001",
        "match": {"credit_code": "credit_code"},
        "other_field": "domicile",
        "mode": "normalized",
    }
