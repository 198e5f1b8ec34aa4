"""The data collection API: raw-body uploads, the job that processes them, reports, rules, feedback, pulls."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.ingest import files
from smartcity.ingest.models import Batch, FeedbackItem, PullSource
from smartcity.ingest.service import BATCH_STORED
from smartcity.platform import events
from smartcity.platform.jobs.worker import run_until_idle
from smartcity.platform.permissions import Role
from tests.factories import (
    PERSON_CODE,
    PERSON_HEADER,
    add_rules,
    auth,
    make_person_entry,
    make_token,
    make_town,
    make_user,
    principal,
    resident_id,
)

BASE = "/api/v1/ingest"
ZHANG = resident_id("19520120", 582)
LI = resident_id("19831008", 29)


@pytest.fixture
def tokens(db: Session) -> dict[str, str]:
    make_town(db)
    make_person_entry(db)
    add_rules(db)
    return {
        "admin": make_token(db, principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))),
        "staff": make_token(db, principal(make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ"))),
        "hub": make_token(db, principal(make_user(db, "hub", Role.PLATFORM_ADMIN))),
    }


def upload(client: TestClient, token: str, body: bytes, filename: str = "people.csv", **params: str) -> object:
    return client.post(
        f"{BASE}/entries/{PERSON_CODE}/batches",
        params={"filename": filename, **params},
        content=body,
        headers={**auth(token), "Content-Type": "application/octet-stream", "Accept-Language": "en"},
    )


def problem(response: object, status: int) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined,no-any-return]


GOOD = f"{PERSON_HEADER}\n{ZHANG},张三,2,1952-01-20,13800001111,330281004,\n{LI},李四,1,1983-10-08,12345,330281004,\n"


def test_upload_is_queued_processed_and_reported(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    response = upload(client, tokens["admin"], GOOD.encode("gbk"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"{BASE}/batches/{body['id']}"
    assert (body["status"], body["encoding"]) == ("queued", "gb18030")
    assert body["submitted_by"].startswith("gaj_admin#token")
    # The batch, then each module's reaction to its stored rows (exchange pushes).
    assert run_until_idle() == 1 + len(events.REACTIONS[BATCH_STORED])
    batch = client.get(f"{BASE}/batches/{body['id']}", headers=auth(tokens["staff"])).json()
    assert batch["status"] == "committed" and batch["rows"]["inserted"] == 1 and batch["rows"]["rejected"] == 1
    report = client.get(
        f"{BASE}/batches/{body['id']}/report", headers={**auth(tokens["staff"]), "Accept-Language": "en"}
    )
    data = report.json()
    assert data["score"] == 50.0 and data["titles"]["phone"] == "联系电话"
    assert [(c["field"], c["detail"], c["rows"]) for c in data["by_rule"]] == [("phone", "phone", 1)]
    assert data["sample"][0]["row"] == 3 and "'联系电话'" in data["sample"][0]["problems"][0]["message"]
    rejected = client.get(f"{BASE}/batches/{body['id']}/rejected", headers=auth(tokens["staff"])).json()
    assert rejected["total"] == 1 and rejected["items"][0]["values"]["phone"] == "12345"
    download = client.get(f"{BASE}/batches/{body['id']}/rejected.csv", headers=auth(tokens["staff"]))
    assert download.headers["content-disposition"].startswith('attachment; filename="rejected-')
    text = download.content.decode("utf-8")
    assert text.startswith(
        "\ufeff公民身份号码,姓名,性别,出生日期,联系电话,所属乡镇（街道）,月收入,原行号,反馈编号,问题说明"
    )
    item = db.scalars(select(FeedbackItem)).one()
    assert f"{LI},李四,1,1983-10-08,12345,330281004,,3,{item.id}," in text


def test_the_rejected_rows_download_can_be_corrected_and_uploaded_again(
    client: TestClient, db: Session, tokens: dict[str, str]
) -> None:
    first = upload(client, tokens["admin"], GOOD.encode()).json()
    run_until_idle()
    download = client.get(f"{BASE}/batches/{first['id']}/rejected.csv", headers=auth(tokens["admin"])).text
    corrected = download.replace(",12345,", ",13912345678,")
    second = upload(client, tokens["admin"], corrected.encode("utf-8"), filename="corrected.csv")
    assert second.status_code == 202, second.text
    run_until_idle()
    done = client.get(f"{BASE}/batches/{second.json()['id']}", headers=auth(tokens["admin"])).json()
    assert (done["rows"]["inserted"], done["rows"]["rejected"]) == (1, 0)
    assert done["mapping"]["问题说明"] is None and done["mapping"]["原行号"] is None
    items = client.get(f"{BASE}/feedback", params={"status": "corrected"}, headers=auth(tokens["admin"])).json()
    assert [i["record_key"] for i in items["items"]] == [LI]


def test_same_file_again_is_200_with_the_first_batch(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    first = upload(client, tokens["admin"], GOOD.encode()).json()
    run_until_idle()
    again = upload(client, tokens["admin"], GOOD.encode(), filename="again.csv")
    assert again.status_code == 200 and again.json()["id"] == first["id"] and again.json()["status"] == "committed"
    assert db.scalar(select(func.count()).select_from(Batch)) == 1


def test_xlsx_and_json_lines_uploads(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(PERSON_HEADER.split(","))
    sheet.append([ZHANG, "张三", "2", "1952-01-20", "13800001111", "330281004", 8000.5])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = upload(client, tokens["admin"], buffer.getvalue(), filename="people.csv")
    assert xlsx.status_code == 202 and xlsx.json()["file_format"] == "xlsx"
    lines = json.dumps({"resident_id": LI, "full_name": "李四", "gender_code": 1, "birth_date": "1983-10-08"}) + "\n"
    jsonl = upload(client, tokens["admin"], lines.encode(), filename="people.jsonl")
    assert jsonl.status_code == 202 and jsonl.json()["file_format"] == "jsonl"
    run_until_idle()
    for response in (xlsx, jsonl):
        done = client.get(f"{BASE}/batches/{response.json()['id']}", headers=auth(tokens["admin"])).json()
        assert (done["status"], done["rows"]["inserted"]) == ("committed", 1), done


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 422, ["empty"]),
        (b"\x00\x01\x02binary" * 100, 422, ["binary"]),
        ("姓名\n张三\n".encode() + "李四\n".encode("gbk") + b"\xff\xfe\n", 422, ["line 3", "UTF-8"]),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, 422, [".xls"]),
        (f"{PERSON_HEADER},户籍地\n{ZHANG},张三,2,1952-01-20,,,,余姚\n".encode(), 422, ["户籍地"]),
        ("公民身份号码,姓名\n1,2\n".encode(), 422, ["性别", "gender_code"]),
    ],
)
def test_bad_files_are_refused_and_nothing_written(
    client: TestClient, db: Session, tokens: dict[str, str], body: bytes, status: int, words: list[str]
) -> None:
    response = upload(client, tokens["admin"], body, filename="bad.csv", **{})
    detail = problem(response, status)["detail"]
    for word in words:
        assert word in detail, detail
    assert db.scalar(select(func.count()).select_from(Batch)) == 0


def test_ragged_rows_fail_the_batch_with_the_row_number(
    client: TestClient, db: Session, tokens: dict[str, str]
) -> None:
    body = f"{PERSON_HEADER}\n{ZHANG},张三,2,1952-01-20,,,\n{LI},李四,1\n".encode()
    batch_id = upload(client, tokens["admin"], body).json()["id"]
    run_until_idle()
    failed = client.get(f"{BASE}/batches/{batch_id}", headers={**auth(tokens["admin"]), "Accept-Language": "en"}).json()
    assert failed["status"] == "failed"
    assert "Row 3" in failed["error"]["message"] and "3 values" in failed["error"]["message"]
    assert failed["rows"]["inserted"] == 0


def test_oversized_uploads_are_413(
    client: TestClient, db: Session, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "ingest_max_file_bytes", 2048)
    big = (GOOD * 40).encode()
    declared = upload(client, tokens["admin"], big)
    assert "2048" not in problem(declared, 413)["detail"] and "MB" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield GOOD.encode()

    streamed = client.post(
        f"{BASE}/entries/{PERSON_CODE}/batches",
        params={"filename": "big.csv"},
        content=chunks(),
        headers=auth(tokens["admin"]),
    )
    problem(streamed, 413)
    assert db.scalar(select(func.count()).select_from(Batch)) == 0
    assert not list((files.data_root() / "ingest" / "files").glob(".incoming-*")), "the partial file is removed"


def test_who_may_submit(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    problem(upload(client, tokens["staff"], GOOD.encode()), 403)
    response = client.post(
        f"{BASE}/entries/330281-XXX-00009/batches",
        params={"filename": "a.csv"},
        content=GOOD.encode(),
        headers=auth(tokens["hub"]),
    )
    problem(response, 404)
    assert problem(upload(client, tokens["admin"], GOOD.encode(), version="7"), 404)["detail"]


def test_rules_api_validates_and_names_the_parameter(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    rules = client.get(f"{BASE}/entries/{PERSON_CODE}/rules", headers=auth(tokens["staff"])).json()
    assert {(r["field"], r["kind"]) for r in rules} >= {("resident_id", "resident_id"), ("gender_code", "enum")}
    url = f"{BASE}/entries/{PERSON_CODE}/rules"
    bad = [
        ({"field": "nope", "kind": "phone"}, "field"),
        ({"field": "income", "kind": "range", "params": {"min": "abc"}}, "params.min"),
        ({"field": "full_name", "kind": "range", "params": {"min": "1"}}, "field"),
        ({"field": "full_name", "kind": "pattern", "params": {"regex": "(?<=a)b"}}, "params.regex"),
        ({"field": "full_name", "kind": "length", "params": {"min": 5, "max": 2}}, "params.min"),
        ({"field": "full_name", "kind": "enum", "params": {"code_table": "nowhere"}}, "params.code_table"),
        ({"field": "full_name", "kind": "pattern", "params": {"regex": "x", "extra": 1}}, "params.extra"),
        ({"field": "full_name", "kind": "required"}, "kind"),
    ]
    for payload, field in bad:
        body = problem(client.post(url, json=payload, headers=auth(tokens["admin"])), 422)
        assert field in [e["field"] for e in body["errors"]], (payload, body)
    created = client.post(
        url,
        json={"field": "full_name", "kind": "length", "params": {"min": 2, "max": 20}},
        headers=auth(tokens["admin"]),
    )
    assert created.status_code == 201 and "min=2" in created.json()["description"]
    rule_id = created.json()["id"]
    problem(client.delete(f"{url}/{rule_id}", headers=auth(tokens["staff"])), 403)
    assert client.delete(f"{url}/{rule_id}", headers=auth(tokens["admin"])).status_code == 204


def test_feedback_api_roles(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    upload(client, tokens["admin"], GOOD.encode())
    run_until_idle()
    item = db.scalars(select(FeedbackItem)).one()
    url = f"{BASE}/feedback/{item.id}"
    problem(client.post(f"{url}/dispute", json={"reason": "x"}, headers=auth(tokens["admin"])), 422)
    problem(client.post(f"{url}/dispute", json={"reason": "号码核实无误"}, headers=auth(tokens["staff"])), 403)
    disputed = client.post(f"{url}/dispute", json={"reason": "号码核实无误"}, headers=auth(tokens["admin"]))
    assert disputed.status_code == 200 and disputed.json()["status"] == "disputed"
    problem(client.post(f"{url}/reopen", json={}, headers=auth(tokens["admin"])), 403)
    reopened = client.post(f"{url}/reopen", json={"note": "请核实后整改"}, headers=auth(tokens["hub"]))
    assert reopened.json()["status"] == "open" and reopened.json()["resolution_note"] == "请核实后整改"
    problem(client.post(f"{url}/verify", json={}, headers=auth(tokens["hub"])), 409)
    listed = client.get(f"{BASE}/feedback", params={"active": True}, headers=auth(tokens["staff"])).json()
    assert listed["total"] == 1 and listed["items"][0]["problems"][0]["field"] == "phone"


def test_code_tables(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    listed = {t["name"]: t for t in client.get(f"{BASE}/code-tables", headers=auth(tokens["staff"])).json()}
    assert listed["gb2261_1"]["size"] == 4 and listed["gb3304"]["size"] == 58 and listed["towns"]["size"] == 1
    assert listed["gb2260"]["size"] > 3000
    sex = client.get(f"{BASE}/code-tables/gb2261_1", headers=auth(tokens["staff"])).json()
    assert sex["codes"]["2"] == "女性"
    body = {"title": "人口状态", "codes": {"1": "正常", "2": "死亡"}}
    problem(client.put(f"{BASE}/code-tables/person_status", json=body, headers=auth(tokens["admin"])), 403)
    assert client.put(f"{BASE}/code-tables/person_status", json=body, headers=auth(tokens["hub"])).status_code == 200
    problem(client.put(f"{BASE}/code-tables/gb2261_1", json=body, headers=auth(tokens["hub"])), 409)
    problem(client.put(f"{BASE}/code-tables/Bad-Name", json=body, headers=auth(tokens["hub"])), 422)


def test_pull_configuration_is_checked_and_the_password_hidden(
    client: TestClient, db: Session, tokens: dict[str, str]
) -> None:
    base = {"name": "户籍库每日抽取", "entry_code": PERSON_CODE, "every_minutes": 1440}
    for url, query, field in (
        ("sqlite:////etc/passwd", "SELECT 1", "url"),
        ("not a url", "SELECT 1", "url"),
        ("postgresql://u:secret@127.0.0.1/x", "DELETE FROM people", "query"),
        ("postgresql://u:secret@127.0.0.1/x", "SELECT 1; DROP TABLE people", "query"),
        ("postgresql://u:secret@127.0.0.1/x", "SELECT * INTO copy FROM people", "query"),
    ):
        body = problem(
            client.post(f"{BASE}/pulls", json={**base, "url": url, "query": query}, headers=auth(tokens["admin"])), 422
        )
        assert body["errors"][0]["field"] == field, body
    created = client.post(
        f"{BASE}/pulls",
        json={**base, "url": "postgresql://reader:s3cret@127.0.0.1:5432/hk", "query": "SELECT * FROM people"},
        headers=auth(tokens["admin"]),
    )
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "postgresql://reader:***@127.0.0.1:5432/hk"
    assert "s3cret" not in db.scalars(select(PullSource.url_sealed)).one()
    problem(
        client.post(
            f"{BASE}/pulls",
            json={**base, "url": "postgresql://a@b/c", "query": "SELECT 1"},
            headers=auth(tokens["admin"]),
        ),
        409,
    )
    problem(client.post(f"{BASE}/pulls/{created.json()['id']}/run", headers=auth(tokens["staff"])), 403)


def test_quality_overview_api(client: TestClient, db: Session, tokens: dict[str, str]) -> None:
    upload(client, tokens["admin"], GOOD.encode())
    run_until_idle()
    overview = client.get(f"{BASE}/quality", params={"days": 7}, headers=auth(tokens["hub"])).json()
    assert len(overview["series"]["days"]) == 7 and overview["series"]["received"][-1] == 2
    (gaj,) = overview["departments"]
    assert (gaj["records"], gaj["rows_rejected"], gaj["open_feedback"]) == (1, 1, 1)
    problem(client.get(f"{BASE}/quality", params={"days": 0}, headers=auth(tokens["hub"])), 422)


def test_the_saved_column_mapping_merges_and_names_a_wrong_field(
    client: TestClient, db: Session, tokens: dict[str, str]
) -> None:
    url, headers = f"{BASE}/entries/{PERSON_CODE}/mapping", {**auth(tokens["admin"]), "Accept-Language": "en"}
    first = client.put(url, json={"columns": {"身份证": "resident_id"}}, headers=headers)
    assert first.status_code == 200 and first.json() == {"身份证": "resident_id"}
    merged = client.put(url, json={"columns": {"电话": "phone", "备注": None}}, headers=headers)
    assert merged.json() == {"身份证": "resident_id", "电话": "phone", "备注": None}
    wrong = problem(client.put(url, json={"columns": {"住址": "address"}}, headers=headers), 422)
    assert wrong["errors"][0]["field"] == "columns.住址" and "'address'" in wrong["detail"]
    assert client.get(url, headers=headers).json() == merged.json()
    problem(client.put(url, json={"columns": {"电话": "phone"}}, headers=auth(tokens["staff"])), 403)
