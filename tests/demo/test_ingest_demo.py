"""The demo's departments send files with known errors: the hub must find exactly those, no more, no fewer."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.demo import ingest_demo, load
from smartcity.ingest.models import Batch, FeedbackItem, RejectedRow
from smartcity.ingest.vocab import FeedbackStatus
from smartcity.platform.identifiers import resident_id_problem, uscc_problem

FIRST_DELIVERIES = {
    "人口基础信息_全量.csv",
    "法人单位基础信息.csv",
    "国税登记信息导出.csv",
    "参保登记.xlsx",
    "健康档案导出.csv",
    "低保对象.jsonl",
}


@pytest.fixture
def loaded(db: Session) -> dict[str, Batch]:
    """The data-collection part of the demo (the whole demo, registries and sharing included, is test_demo's)."""
    load.load_base()
    summary = ingest_demo.load()
    assert summary is not None and summary.batches == 15
    assert ingest_demo.load() is None, "loading again adds nothing"
    found = {b.filename: b for b in db.scalars(select(Batch))}
    assert set(found) >= FIRST_DELIVERIES
    return found


def found_problems(db: Session, batch: Batch) -> set[tuple[int, str, str, str]]:
    """(row, field, kind, detail) of every problem the batch produced: quarantined rows and warned rows."""
    found = {
        (r.row_number, p["field"], p["kind"], p["detail"])
        for r in db.scalars(select(RejectedRow).where(RejectedRow.batch_id == batch.id))
        for p in r.problems
    }
    found |= {
        (i.row_number, p["field"], p["kind"], p["detail"])
        for i in db.scalars(select(FeedbackItem).where(FeedbackItem.first_batch_id == batch.id))
        for p in i.problems
        if p["severity"] == "warning"
    }
    return found


def test_every_planted_error_is_found_and_nothing_else(db: Session, loaded: dict[str, Batch]) -> None:
    planned = {p.filename: p for p in ingest_demo.plans("small")}
    for filename in FIRST_DELIVERIES:
        truth = set(planned[filename].truth)
        assert truth, filename
        assert found_problems(db, loaded[filename]) == truth, filename


def test_the_demo_has_the_realistic_mix(db: Session, loaded: dict[str, Batch]) -> None:
    population = loaded["人口基础信息_全量.csv"]
    assert population.encoding == "utf-8" and population.rows_total == 5000
    assert 0.008 < population.rows_rejected / population.rows_total < 0.015, "about 1% problem records, as in the plan"
    assert loaded["国税登记信息导出.csv"].encoding == "gb18030"
    assert loaded["法人单位基础信息.csv"].encoding == "utf-8-sig"
    assert loaded["参保登记.xlsx"].file_format == "xlsx" and loaded["低保对象.jsonl"].file_format == "jsonl"
    health = loaded["健康档案导出.csv"]
    assert health.mapping["身份证号"] == "resident_id" and health.mapping["建档单位"] == "managing_org"
    # Village collectives' credit codes start with N2 and are valid, though python-stdnum would refuse them.
    codes = db.execute(select(Batch.id)).all()
    assert codes
    villages = (
        db.execute(select(RejectedRow.values).where(RejectedRow.batch_id == loaded["法人单位基础信息.csv"].id))
        .scalars()
        .all()
    )
    assert not any(str(v.get("credit_code", "")).startswith("N2") for v in villages)
    assert uscc_problem(ingest_demo.firms(2000)[0]["credit_code"][-1]) is None
    assert resident_id_problem(ingest_demo.population(10)[0]["resident_id"][0]) is None


def test_the_feedback_loop_is_under_way(db: Session, loaded: dict[str, Batch]) -> None:
    statuses = {s for (s,) in db.execute(select(FeedbackItem.status))}
    assert statuses == {s.value for s in FeedbackStatus}, "every state of the loop appears in the demo"
    correction = loaded["人口基础信息_问题数据整改.csv"]
    assert correction.rows_rejected == 0 and correction.report["feedback"]["corrected"] > 0
    assert correction.received_at > loaded["人口基础信息_全量.csv"].received_at
