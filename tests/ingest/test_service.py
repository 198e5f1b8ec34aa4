"""The batch lifecycle through the services, on SQLite and PostgreSQL: store, upsert, quarantine, idempotency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from smartcity.ingest import feedback, pipeline, quality, reports, ruleset
from smartcity.ingest import service as batches
from smartcity.ingest.formats.detect import FileProblem
from smartcity.ingest.models import Batch, EntryTable, FeedbackItem, RejectedRow
from smartcity.ingest.schemas import RuleIn
from smartcity.ingest.vocab import BatchStatus, FeedbackStatus, Source
from smartcity.platform.audit.models import AuditEntry
from smartcity.platform.errors import Conflict, InvalidInput, PermissionDenied
from smartcity.platform.permissions import Role
from tests.factories import (
    PERSON_CODE,
    PERSON_HEADER,
    add_rules,
    ingest_text,
    make_department,
    make_person_entry,
    make_town,
    make_user,
    principal,
    resident_id,
    root,
    store_text,
)

TABLE = "ds_330281_gaj_00001_v1"
VERIFY, DISMISS, Review = feedback.Decision.VERIFY, feedback.Decision.DISMISS, feedback.FeedbackReview
ZHANG = resident_id("19520120", 582)  # female (even sequence)
LI = resident_id("19831008", 29)  # male
WANG = resident_id("20010203", 114)  # female


def rows(session: Session, order: str = "resident_id") -> list[dict[str, object]]:
    result = session.execute(text(f'SELECT * FROM "{TABLE}" ORDER BY {order}'))
    return [dict(r._mapping) for r in result]


def batch(session: Session, batch_id: int) -> Batch:
    session.expire_all()
    found = session.get(Batch, batch_id)
    assert found is not None
    return found


@pytest.fixture
def entry(db: Session) -> None:
    make_town(db)
    make_person_entry(db)
    add_rules(db)


def csv(*lines: str) -> str:
    return "\n".join([PERSON_HEADER, *lines]) + "\n"


def test_clean_file_lands_typed_with_provenance(db: Session, entry: None) -> None:
    sub = ingest_text(db, csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,5200.50"))
    done = batch(db, sub.batch.id)
    assert (done.status, done.rows_total, done.rows_inserted, done.rows_rejected) == ("committed", 1, 1, 0)
    assert done.score == 100.0
    (row,) = rows(db)
    assert row["resident_id"] == ZHANG and row["full_name"] == "张三"
    assert str(row["birth_date"]) == "1952-01-20"
    assert Decimal(str(row["income"])) == Decimal("5200.5")
    assert row["_batch_id"] == done.id and row["_file_hash"] == done.file_hash and row["_source_row"] == 2
    assert row["_department_id"] == done.department_id and row["_loaded_at"] is not None
    table = db.scalars(select(EntryTable)).one()
    assert (table.table_name, table.row_count, table.last_batch_id) == (TABLE, 1, done.id)
    indexes = {i["name"]: (i["column_names"], bool(i["unique"])) for i in inspect(db.connection()).get_indexes(TABLE)}
    assert indexes[f"uq_{TABLE}"] == (["resident_id"], True), "the first batch builds the business-key index"
    assert indexes[f"ix_{TABLE}_batch"] == (["_batch_id"], False)


def test_bad_rows_are_quarantined_with_every_rule_they_broke(db: Session, entry: None) -> None:
    bad_checksum = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")
    sub = ingest_text(
        db,
        csv(
            f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,",
            f"{bad_checksum},李四,1,1952-01-20,123,330281999,",
            f"{LI},王五,2,1983-10-08,13800001111,330281004,abc",
            ",赵六,1,,,,",
        ),
    )
    done = batch(db, sub.batch.id)
    assert (done.rows_total, done.rows_accepted, done.rows_rejected) == (4, 1, 3)
    quarantined = {r.row_number: r for r in db.scalars(select(RejectedRow).where(RejectedRow.batch_id == done.id))}
    assert sorted(quarantined) == [3, 4, 5]
    kinds = {n: {(p["field"], p["kind"], p["detail"]) for p in r.problems} for n, r in quarantined.items()}
    assert kinds[3] == {
        ("resident_id", "resident_id", "checksum"),
        ("phone", "phone", "phone"),
        ("town_code", "enum", "enum"),
    }
    assert kinds[4] == {("resident_id", "resident_id", "sex_mismatch"), ("income", "type", "decimal")}
    assert ("resident_id", "required", "required") in kinds[5] and ("birth_date", "required", "required") in kinds[5]
    assert quarantined[3].values["phone"] == "123"
    assert [r["resident_id"] for r in rows(db)] == [ZHANG]
    report = reports.quality_report(db, by=root(), batch_id=done.id, locale="zh_CN")
    by_rule = {(c.field, c.detail): c.rows for c in report.by_rule}
    assert by_rule[("resident_id", "checksum")] == 1 and by_rule[("phone", "phone")] == 1
    assert report.score == 25.0
    messages = [p.message for s in report.sample for p in s.problems]
    assert any("校验" in m and "公民身份号码" in m for m in messages), messages


def test_upsert_by_business_key_counts_inserted_updated_unchanged(db: Session, entry: None) -> None:
    first = ingest_text(
        db,
        csv(
            f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,100",
            f"{LI},李四,1,1983-10-08,13800002222,330281004,200",
        ),
    )
    second = ingest_text(
        db,
        csv(
            f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,100",
            f"{LI},李四,1,1983-10-08,13900009999,330281004,200",
            f"{WANG},王五,2,2001-02-03,,330281004,",
        ),
        name="second.csv",
    )
    done = batch(db, second.batch.id)
    assert (done.rows_inserted, done.rows_updated, done.rows_unchanged) == (1, 1, 1)
    stored = {r["resident_id"]: r for r in rows(db)}
    assert stored[LI]["phone"] == "13900009999" and stored[LI]["_batch_id"] == done.id
    assert stored[ZHANG]["_batch_id"] == first.batch.id, "an unchanged row keeps its provenance"
    assert db.scalars(select(EntryTable)).one().row_count == 3


def test_the_same_file_again_changes_nothing(db: Session, entry: None) -> None:
    body = csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,100")
    first = ingest_text(db, body)
    audit_before = db.scalar(select(func.count()).select_from(AuditEntry))
    again = ingest_text(db, body, name="renamed.csv")
    assert again.duplicate and again.batch.id == first.batch.id
    assert db.scalar(select(func.count()).select_from(Batch)) == 1
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    forced = ingest_text(db, body, force=True)
    done = batch(db, forced.batch.id)
    assert (done.rows_inserted, done.rows_updated, done.rows_unchanged) == (0, 0, 1)
    assert rows(db)[0]["_batch_id"] == first.batch.id


def test_gbk_file_is_detected_and_read(db: Session, entry: None) -> None:
    sub = ingest_text(db, csv(f"{ZHANG},张三,2,1952/1/20,13800001111,330281004,"), encoding="gbk")
    done = batch(db, sub.batch.id)
    assert (done.encoding, done.rows_inserted) == ("gb18030", 1)
    assert rows(db)[0]["full_name"] == "张三"


def test_a_failure_while_writing_leaves_nothing(db: Session, entry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, int]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(feedback, "apply_batch", broken)
    submission = batches.submit_batch(
        db,
        by=root(),
        code=PERSON_CODE,
        stored=store_text(csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,", f"{LI},,1,,,,")),
        source=Source.CLI,
        enqueue=False,
    )
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.process_batch(submission.batch.id)
    done = batch(db, submission.batch.id)
    assert done.status == BatchStatus.FAILED and done.rows_inserted == 0
    assert db.scalar(select(func.count()).select_from(RejectedRow)) == 0
    assert db.scalar(select(func.count()).select_from(EntryTable)) == 0
    exists = db.execute(
        text("SELECT count(*) FROM information_schema.tables WHERE table_name = :t")
        if db.get_bind().dialect.name == "postgresql"
        else text("SELECT count(*) FROM sqlite_master WHERE name = :t"),
        {"t": TABLE},
    ).scalar_one()
    assert exists == 0
    monkeypatch.undo()
    batches.rerun_batch(db, by=root(), batch_id=done.id, enqueue=False)
    pipeline.process_batch(done.id)
    assert batch(db, done.id).status == BatchStatus.COMMITTED and len(rows(db)) == 1


def test_file_level_problems_refuse_the_batch_and_write_nothing(db: Session, entry: None) -> None:
    with pytest.raises(FileProblem, match="empty"):
        batches.submit_batch(db, by=root(), code=PERSON_CODE, stored=store_text(""), source=Source.CLI)
    with pytest.raises(InvalidInput, match="户口所在地"):
        ingest_text(db, PERSON_HEADER + ",户口所在地\n" + f"{ZHANG},张三,2,1952-01-20,,,,x\n")
    with pytest.raises(InvalidInput, match="出生日期"):
        ingest_text(db, "公民身份号码,姓名,性别\n1,2,3\n")
    sub = batches.submit_batch(
        db,
        by=root(),
        code=PERSON_CODE,
        stored=store_text(csv(f"{ZHANG},张三,2,1952-01-20,,,", "1,2")),
        source=Source.CLI,
        enqueue=False,
    )
    outcome = pipeline.process_batch(sub.batch.id)
    assert outcome.status == BatchStatus.FAILED
    failed = batches.batch_reads(db, [batch(db, sub.batch.id)], "en")[0]
    assert failed.error is not None and "Row 3" in failed.error.message and "2 values" in failed.error.message
    assert db.scalar(select(func.count()).select_from(EntryTable)) == 0


def test_mapping_overrides_and_saved_mapping(db: Session, entry: None) -> None:
    header = "身份证号,姓名,性别,生日,备注"
    body = f"{header}\n{ZHANG},张三,2,1952-01-20,无\n"
    with pytest.raises(InvalidInput, match="身份证号"):
        ingest_text(db, body)
    ingest_text(db, body, overrides={"身份证号": "resident_id", "生日": "birth_date", "备注": None})
    assert rows(db)[0]["resident_id"] == ZHANG
    again = ingest_text(db, body.replace("张三", "张三丰"), name="next.csv")
    assert batch(db, again.batch.id).mapping == {
        "身份证号": "resident_id",
        "姓名": "full_name",
        "性别": "gender_code",
        "生日": "birth_date",
        "备注": None,
    }
    with pytest.raises(InvalidInput, match="nickname"):
        ingest_text(db, body, overrides={"备注": "nickname"})


def test_console_upload_waits_for_mapping(db: Session, entry: None) -> None:
    sub = batches.submit_batch(
        db,
        by=root(),
        code=PERSON_CODE,
        stored=store_text(f"身份证号,姓名,性别,出生日期\n{ZHANG},张三,2,1952-01-20\n"),
        source=Source.UPLOAD,
        enqueue=False,
    )
    assert sub.needs_mapping and sub.batch.status == BatchStatus.AWAITING_MAPPING
    view = reports.mapping_read(db, by=root(), batch_id=sub.batch.id)
    assert view.unmapped == ["身份证号"] and view.missing_required == ["resident_id"]
    assert view.samples["姓名"] == ["张三"]
    with pytest.raises(InvalidInput):
        batches.map_columns(db, by=root(), batch_id=sub.batch.id, columns={"身份证号": "resident_id"})
    columns = {"身份证号": "resident_id", "姓名": "full_name", "性别": "gender_code", "出生日期": "birth_date"}
    queued = batches.map_columns(db, by=root(), batch_id=sub.batch.id, columns=columns, enqueue=False)
    assert queued.batch.status == BatchStatus.QUEUED
    pipeline.process_batch(sub.batch.id)
    assert batch(db, sub.batch.id).status == BatchStatus.COMMITTED


def test_only_the_providing_department_submits(db: Session, entry: None) -> None:
    make_department(db, "MZJ", "余姚市民政局")
    other = principal(make_user(db, "mzj_admin", Role.DEPT_ADMIN, "MZJ"))
    staff = principal(make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ"))
    own = principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))
    body = csv(f"{ZHANG},张三,2,1952-01-20,,,")
    with pytest.raises(PermissionDenied, match="余姚市公安局"):
        ingest_text(db, body, by=other)
    with pytest.raises(PermissionDenied):
        ingest_text(db, body, by=staff)
    sub = ingest_text(db, body, by=own)
    assert batch(db, sub.batch.id).submitted_by == "gaj_admin"
    assert batches.list_batches(db, by=other, flt=batches.BatchFilter(), params=_page())[1] == 0
    assert batches.list_batches(db, by=staff, flt=batches.BatchFilter(), params=_page())[1] == 1


def _page() -> object:
    from smartcity.platform.paging import PageParams

    return PageParams(page=1, page_size=20)


def test_retired_version_takes_no_batches(db: Session, entry: None) -> None:
    from smartcity.catalog import service as catalog
    from smartcity.catalog.schemas import EntryUpdate, VersionRetire
    from tests.factories import person_fields

    catalog.update_entry(
        db,
        by=root(),
        code=PERSON_CODE,
        data=EntryUpdate.model_validate({"fields": [*person_fields(), {"name": "email", "title": "电子邮箱"}]}),
    )
    catalog.retire_version(db, by=root(), code=PERSON_CODE, version=1, data=VersionRetire(note="已由第2版替代"))
    with pytest.raises(Conflict, match="retired") as caught:
        batches.submit_batch(
            db,
            by=root(),
            code=PERSON_CODE,
            version=1,
            stored=store_text(csv(f"{ZHANG},张三,2,1952-01-20,,,")),
            source=Source.CLI,
        )
    assert caught.value.field == "version" and "2" in str(caught.value)
    sub = ingest_text(db, csv(f"{ZHANG},张三,2,1952-01-20,,,"))
    assert batch(db, sub.batch.id).version == 2


def test_feedback_loop_open_corrected_verified_and_disputes(db: Session, entry: None) -> None:
    first = ingest_text(
        db,
        csv(
            f"{ZHANG},张三,1,1952-01-20,13800001111,330281004,",
            f"{LI},李四,1,1983-10-08,12345,330281004,",
            f"{WANG},王五,2,2001-02-03,13800003333,330281004,",
        ),
    )
    items = {i.record_key: i for i in db.scalars(select(FeedbackItem))}
    assert set(items) == {ZHANG, LI} and {i.status for i in items.values()} == {"open"}
    assert items[ZHANG].department_id == batch(db, first.batch.id).department_id
    gaj = principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))
    feedback.dispute(
        db, by=gaj, item_id=items[LI].id, data=feedback.FeedbackDispute(reason="该号码为单位短号，真实有效")
    )
    second = ingest_text(
        db,
        csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,", f"{LI},李四,1,1983-10-08,12345,330281004,"),
        name="corrected.csv",
    )
    db.expire_all()
    items = {i.record_key: i for i in db.scalars(select(FeedbackItem))}
    assert items[ZHANG].status == FeedbackStatus.CORRECTED and items[ZHANG].corrected_batch_id == second.batch.id
    assert items[LI].status == FeedbackStatus.DISPUTED and items[LI].last_batch_id == second.batch.id
    assert db.scalar(select(func.count()).select_from(FeedbackItem)) == 2, "a repeated problem refreshes its item"
    hub = principal(make_user(db, "hub", Role.PLATFORM_ADMIN))
    feedback.review(
        db,
        by=hub,
        item_id=items[ZHANG].id,
        decision=feedback.Decision.VERIFY,
        data=feedback.FeedbackReview(note="已核实"),
    )
    feedback.review(db, by=hub, item_id=items[LI].id, decision=DISMISS, data=Review(note="同意"))
    db.expire_all()
    assert db.get(FeedbackItem, items[ZHANG].id).status == FeedbackStatus.VERIFIED  # type: ignore[union-attr]
    assert db.get(FeedbackItem, items[LI].id).status == FeedbackStatus.DISMISSED  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        feedback.review(db, by=hub, item_id=items[LI].id, decision=VERIFY, data=Review())
    with pytest.raises(PermissionDenied):
        feedback.review(db, by=gaj, item_id=items[ZHANG].id, decision=VERIFY, data=Review())
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("ingest.feedback.%"))))
    assert actions == {"ingest.feedback.dispute", "ingest.feedback.verify", "ingest.feedback.dismiss"}


def test_quality_overview_counts_per_department(db: Session, entry: None) -> None:
    ingest_text(
        db,
        csv(
            f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,",
            f"{LI},李四,1,1983-10-08,12345,330281004,",
            f"{WANG},王五,2,2001-02-03,,330281004,",
        ),
    )
    overview = quality.overview(db, by=root(), days=30)
    (gaj,) = overview.departments
    assert (gaj.department.code, gaj.records, gaj.rows_received, gaj.rows_rejected) == ("GAJ", 2, 3, 1)
    assert gaj.problem_rate == pytest.approx(1 / 3, abs=1e-4) and gaj.open_feedback == 1
    today = overview.series.days[-1]
    assert overview.series.received[-1] == 3 and overview.series.rejected[-1] == 1
    assert overview.series.feedback_opened[-1] == 1 and today == overview.since + dt.timedelta(days=29)
    make_department(db, "MZJ", "余姚市民政局")
    other = principal(make_user(db, "mzj_staff", Role.DEPT_STAFF, "MZJ"))
    assert quality.overview(db, by=other, days=30).departments == []


def test_rerunning_an_interrupted_batch(db: Session, entry: None) -> None:
    sub = batches.submit_batch(
        db,
        by=root(),
        code=PERSON_CODE,
        stored=store_text(csv(f"{ZHANG},张三,2,1952-01-20,,,")),
        source=Source.CLI,
        enqueue=False,
    )
    stuck = batch(db, sub.batch.id)
    stuck.status, stuck.owner = BatchStatus.RUNNING.value, "elsewhere:1"
    stuck.heartbeat_at = dt.datetime.now(dt.UTC)
    db.flush()
    with pytest.raises(Conflict, match="still running"):
        batches.rerun_batch(db, by=root(), batch_id=stuck.id)
    stuck.heartbeat_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.flush()
    again = batches.submit_batch(
        db,
        by=root(),
        code=PERSON_CODE,
        stored=store_text(csv(f"{ZHANG},张三,2,1952-01-20,,,")),
        source=Source.CLI,
        enqueue=False,
    )
    assert again.batch.id == stuck.id and again.batch.status == BatchStatus.QUEUED
    pipeline.process_batch(stuck.id)
    assert batch(db, stuck.id).status == BatchStatus.COMMITTED
    assert db.scalar(select(func.count()).select_from(Batch)) == 1


def test_a_comparison_whose_match_field_the_file_lacks_is_skipped(db: Session, entry: None) -> None:
    make_person_entry(db, "330281-MZJ-00002", department="MZJ")
    rule = {"entry": "330281-MZJ-00002", "match": {"town_code": "town_code"}, "other_field": "phone"}
    ruleset.create_rule(
        db,
        by=root(),
        code=PERSON_CODE,
        data=RuleIn.model_validate({"field": "phone", "kind": "compare", "params": rule, "severity": "warning"}),
    )
    ingest_text(db, csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,5200.50"), code="330281-MZJ-00002")
    header = "公民身份号码,姓名,性别,出生日期,联系电话"
    done = batch(db, ingest_text(db, f"{header}\n{ZHANG},张三,2,1952-01-20,13800001111\n").batch.id)
    assert done.status == "committed", done.error
    skipped = [(s["field"], s["reason"]) for s in done.report["skipped_rules"] if s["kind"] == "compare"]
    assert skipped == [("phone", "other_field_missing")]


def test_unique_values_are_checked_against_the_stored_records(db: Session, entry: None) -> None:
    for field in ("phone", "full_name"):
        ruleset.create_rule(
            db, by=root(), code=PERSON_CODE, data=RuleIn.model_validate({"field": field, "kind": "unique"})
        )
    ingest_text(
        db,
        csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,", f"{LI},李四,1,1983-10-08,13800003333,330281004,"),
    )
    sub = ingest_text(
        db,
        csv(
            f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,6000",  # the same record again: its own values
            f"{WANG},李四,2,2001-02-03,13800003333,330281004,",  # another record with two stored values
        ),
    )
    done = batch(db, sub.batch.id)
    quarantined = db.scalars(select(RejectedRow).where(RejectedRow.batch_id == done.id)).all()
    assert {(r.row_number, p["field"], p["detail"]) for r in quarantined for p in r.problems} == {
        (3, "phone", "duplicate_in_store"),
        (3, "full_name", "duplicate_in_store"),
    }


def test_a_receipt_date_without_an_offset_is_city_time(db: Session, entry: None) -> None:
    received = dt.datetime.now().replace(microsecond=0) - dt.timedelta(days=30)
    sub = batches.submit_batch(
        db,
        by=root(),
        code=PERSON_CODE,
        stored=store_text(csv(f"{ZHANG},张三,2,1952-01-20,13800001111,330281004,")),
        source=Source.API,
        enqueue=False,
        received_at=received,
    )
    stored = batch(db, sub.batch.id).received_at
    assert stored == received.replace(tzinfo=ZoneInfo("Asia/Shanghai")), (stored, received)
