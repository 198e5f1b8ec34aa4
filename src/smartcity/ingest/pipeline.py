"""Processing a batch: read the file, check every row, write the good ones and quarantine the rest, in one go.

Three steps, each with its own transaction:

1. claim: the batch becomes `running` under this process (a short transaction, so others can see it);
2. read and check, holding no transaction (the reads that rules need run in short read-only ones);
3. write: the entry's table, the quarantine, feedback items, totals, the report and the batch's status commit
   together, or not at all. A process killed here leaves no rows behind; the batch stays `running` under a
   dead owner, and running it again (same file, or `rerun`) starts over cleanly.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Select, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartcity.catalog.schemas import FieldSpec
from smartcity.config import get_settings
from smartcity.db import unit_of_work, utcnow
from smartcity.ingest import feedback, files, ruleset, tables
from smartcity.ingest import service as batches
from smartcity.ingest.formats.detect import Detected
from smartcity.ingest.formats.read import ROW, read_table
from smartcity.ingest.mapping import FEEDBACK_COLUMN
from smartcity.ingest.models import Batch, EntryTable, RejectedRow
from smartcity.ingest.rules.compile import RuleRecord, canonical_text, compile_checks, key_text, prepare
from smartcity.ingest.rules.kinds import CompareParams, EnumParams, RuleKind
from smartcity.ingest.schemas import Progress
from smartcity.ingest.validate import ANSWER, Evaluation, attach_comparison, attach_unique_lookup, evaluate
from smartcity.ingest.vocab import BatchStatus, Stage
from smartcity.platform import events
from smartcity.platform.audit import service as audit
from smartcity.platform.audit.service import SYSTEM
from smartcity.platform.errors import Conflict, DomainError, NotFound
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.jobs import service as jobs

log = logging.getLogger("smartcity.ingest")
ProgressFn = Callable[[Stage, int, int], None]
SAMPLE_ROWS = 20
INSERT_CHUNK = 5000


@dataclass
class Plan:
    """Everything the read/check/write steps need, taken from the database when the batch is claimed."""

    batch_id: int
    ev: batches.EntryVersion
    path: Path
    filename: str
    file_hash: str
    mapping: dict[str, str | None]
    rules: list[RuleRecord]
    rules_snapshot: dict[int, dict[str, Any]]
    code_tables: dict[str, dict[str, str]]
    own_table: str | None
    received_at: dt.datetime
    detected: Detected
    compare_tables: dict[int, tuple[str | None, list[FieldSpec]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How a run of the pipeline ended."""

    batch_id: int
    status: BatchStatus


def _report_progress(batch_id: int, progress: ProgressFn | None, stage: Stage, done: int, total: int) -> None:
    batches.PROGRESS[batch_id] = Progress(stage=stage, done=done, total=total)
    if progress is not None:
        progress(stage, done, total)


def _entry_table_of(code: str, version: int) -> Select[EntryTable]:
    return select(EntryTable).where(EntryTable.entry_code == code, EntryTable.version == version)


def _entry_table(session: Session, code: str, version: int) -> EntryTable | None:
    return session.scalars(_entry_table_of(code, version)).one_or_none()


def _claim(batch_id: int, owner: str) -> Plan | Outcome:
    with unit_of_work() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise NotFound(N_("No batch {id}."), id=batch_id)
        if batch.status == BatchStatus.COMMITTED:
            return Outcome(batch_id, BatchStatus.COMMITTED)
        if batch.status == BatchStatus.RUNNING and batch.owner != owner and not batches.is_stale(batch):
            raise Conflict(N_("Batch {id} is being processed by {owner}."), id=batch_id, owner=batch.owner)
        if batch.status not in (BatchStatus.QUEUED, BatchStatus.RUNNING):
            return Outcome(batch_id, BatchStatus(batch.status))
        worker = identity.system_principal("ingest")
        ev = batches.entry_version(session, by=worker, code=batch.entry_code, version=batch.version)
        rules = ruleset.rule_records(ruleset.entry_rules(session, ev.code))
        snapshot: dict[int, dict[str, Any]] = {}
        compare_tables: dict[int, tuple[str | None, list[FieldSpec]]] = {}
        for rule in rules:
            params = rule.params.model_dump(mode="json")
            if isinstance(rule.params, CompareParams):
                try:
                    other = batches.entry_version(session, by=worker, code=rule.params.entry)
                except NotFound:
                    compare_tables[rule.id] = (None, [])
                else:
                    table = _entry_table(session, other.code, other.version)
                    compare_tables[rule.id] = (table.table_name if table else None, other.fields)
                    params["entry_name"] = f"{other.department.name}「{other.name}」"
                    params["other_title"] = other.titles.get(rule.params.other_field or "", rule.params.other_field)
            snapshot[rule.id] = {"field": rule.field, "kind": rule.kind.value, "params": params}
        own = _entry_table(session, ev.code, ev.version)
        named_tables = {r.params.code_table for r in rules if isinstance(r.params, EnumParams) and r.params.code_table}
        now = utcnow()
        batch.status = BatchStatus.RUNNING.value
        batch.stage = Stage.READING.value
        batch.owner = owner
        batch.heartbeat_at = now
        batch.started_at = now
        batch.error = None
        return Plan(
            batch_id=batch.id,
            ev=ev,
            path=files.data_root() / batch.file_path,
            filename=batch.filename,
            file_hash=batch.file_hash,
            mapping=dict(batch.mapping),
            rules=rules,
            rules_snapshot=snapshot,
            code_tables=ruleset.code_tables(session, named_tables),
            own_table=own.table_name if own else None,
            received_at=batch.received_at,
            detected=batches.detected_of(batch),
            compare_tables=compare_tables,
        )


def _set_stage(batch_id: int, stage: Stage) -> None:
    with unit_of_work() as session:
        batch = session.get(Batch, batch_id)
        if batch is not None:
            batch.stage = stage.value
            batch.heartbeat_at = utcnow()


def _fail(batch_id: int, error: dict[str, object]) -> None:
    with unit_of_work() as session:
        batch = session.get(Batch, batch_id)
        if batch is not None:
            batch.status = BatchStatus.FAILED.value
            batch.stage = Stage.DONE.value
            batch.error = error
            batch.finished_at = utcnow()
            batch.owner = None
            audit.record(
                session,
                actor=SYSTEM,
                action="ingest.batch.fail",
                outcome="failure",
                target_type="ingest_batch",
                target_id=batch_id,
                detail={"entry": batch.entry_code, "error": str(error.get("message"))[:300]},
            )


def _stored_frame(session: Session, table_name: str, fields: list[FieldSpec], columns: list[str]) -> pl.DataFrame:
    table = tables.data_table(table_name, fields)
    return pl.read_database(select(*(table.c[c] for c in columns)), session.connection())


def _attach_lookups(plan: Plan, frame: pl.DataFrame, applied: set[int]) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Join what the applied uniqueness and comparison rules need from the database onto the batch."""
    comparisons: list[dict[str, Any]] = []
    needs_db = [r for r in plan.rules if r.id in applied and r.kind in (RuleKind.UNIQUE, RuleKind.COMPARE)]
    if not needs_db:
        return frame, comparisons
    with unit_of_work() as session:
        unique = [r for r in needs_db if r.kind is RuleKind.UNIQUE]
        if unique:
            frame = _attach_unique(session, plan, frame, unique)
        for rule in needs_db:
            if rule.kind is RuleKind.COMPARE:
                frame = _attach_compare(session, plan, frame, rule, comparisons)
    return frame, comparisons


def _attach_unique(session: Session, plan: Plan, frame: pl.DataFrame, rules: list[RuleRecord]) -> pl.DataFrame:
    """Each unique-value field's stored values with their business keys, read from the entry's table at once."""
    keys = [f for f in plan.ev.fields if f.key]
    types = {f.name: f.type for f in plan.ev.fields}
    stored = pl.DataFrame()
    if plan.own_table is not None:
        wanted = list(dict.fromkeys([*(k.name for k in keys), *(r.field for r in rules)]))
        stored = _stored_frame(session, plan.own_table, plan.ev.fields, wanted)
    for rule in rules:
        if stored.height:
            values = stored.select(
                canonical_text(pl.col(rule.field), types[rule.field]).alias("value"),
                key_text(keys, lambda spec: pl.col(spec.name)).alias("key"),
            ).drop_nulls("value")
        else:
            values = pl.DataFrame({"value": [], "key": []}, schema={"value": pl.String, "key": pl.String})
        frame = attach_unique_lookup(frame, rule.id, rule.field, values)
    return frame


def _attach_compare(
    session: Session, plan: Plan, frame: pl.DataFrame, rule: RuleRecord, comparisons: list[dict[str, Any]]
) -> pl.DataFrame:
    """The other department's records a comparison rule matches against, with the value it compares."""
    params = rule.params
    assert isinstance(params, CompareParams)
    table_name, other_fields = plan.compare_tables.get(rule.id, (None, []))
    if table_name is None:
        other = pl.DataFrame({**{local: [] for local in params.match}, "value": []}).cast(pl.String)
        comparisons.append({"rule_id": rule.id, "entry": params.entry, "status": "no_data", "records": 0})
        return attach_comparison(frame, rule.id, params, other)
    wanted = list(dict.fromkeys([*params.match.values(), *([params.other_field] if params.other_field else [])]))
    raw = _stored_frame(session, table_name, other_fields, wanted)
    types = {f.name: f.type for f in other_fields}
    other = raw.select(
        *(canonical_text(pl.col(theirs), types[theirs]).alias(local) for local, theirs in params.match.items()),
        (
            canonical_text(pl.col(params.other_field), types[params.other_field])
            if params.other_field
            else pl.lit(None, dtype=pl.String)
        ).alias("value"),
    )
    comparisons.append({"rule_id": rule.id, "entry": params.entry, "status": "compared", "records": raw.height})
    return attach_comparison(frame, rule.id, params, other)


def _score(total: int, rejected: int, warned: int) -> float | None:
    if total == 0:
        return None
    return round(100.0 * (total - rejected - 0.5 * warned) / total, 1)


def _lock_entry_table(session: Session, plan: Plan) -> EntryTable:
    """The entry version's table row, locked for this batch (created with the table on the first batch)."""
    code, version = plan.ev.code, plan.ev.version
    stmt = _entry_table_of(code, version).with_for_update().execution_options(populate_existing=True)
    found = session.scalars(stmt).one_or_none()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(
                EntryTable(
                    entry_code=code,
                    version=version,
                    department_id=plan.ev.department_id,
                    table_name=tables.table_name(code, version),
                    row_count=0,
                )
            )
    except IntegrityError:
        pass  # another batch created it first; take its lock below
    return session.scalars(stmt).one()


def _write(plan: Plan, evaluation: Evaluation, report: dict[str, Any], progress: ProgressFn | None) -> None:
    now = utcnow()
    with unit_of_work() as session:
        entry_table = _lock_entry_table(session, plan)
        table = tables.data_table(entry_table.table_name, plan.ev.fields)
        connection = session.connection()
        new_table = not inspect(connection).has_table(table.name)
        if new_table:
            table.create(connection)
        total_accepted = evaluation.accepted.height
        result = tables.write_rows(
            connection,
            table,
            plan.ev.fields,
            evaluation.accepted,
            tables.Provenance(plan.batch_id, plan.file_hash, now, plan.ev.department_id),
            table_was_empty=entry_table.row_count == 0,
            progress=lambda done: _report_progress(plan.batch_id, progress, Stage.WRITING, done, total_accepted),
        )
        if new_table:
            tables.create_indexes(connection, table, plan.ev.fields)
        rejected = [
            {
                "batch_id": plan.batch_id,
                "row_number": row.row,
                "record_key": row.key,
                "values": row.values,
                "problems": row.problems,
            }
            for row in evaluation.problem_rows
            if row.has_error
        ]
        for offset in range(0, len(rejected), INSERT_CHUNK):
            session.execute(insert(RejectedRow), rejected[offset : offset + INSERT_CHUNK])
        feedback_counts = feedback.apply_batch(
            session,
            batch_id=plan.batch_id,
            code=plan.ev.code,
            version=plan.ev.version,
            department_id=plan.ev.department_id,
            evaluation=evaluation,
            received=plan.received_at,
            now=now,
        )
        entry_table.row_count += result.inserted
        entry_table.last_batch_id = plan.batch_id
        entry_table.updated_at = now
        batch = session.get(Batch, plan.batch_id)
        assert batch is not None
        batch.rows_total = evaluation.total
        batch.rows_accepted = total_accepted
        batch.rows_rejected = evaluation.rejected
        batch.rows_warned = evaluation.warned
        batch.rows_inserted = result.inserted
        batch.rows_updated = result.updated
        batch.rows_unchanged = result.unchanged
        batch.score = _score(evaluation.total, evaluation.rejected, evaluation.warned)
        batch.report = {**report, "feedback": feedback_counts}
        batch.status = BatchStatus.COMMITTED.value
        batch.stage = Stage.DONE.value
        batch.finished_at = utcnow()
        batch.owner = None
        if result.inserted or result.updated:
            events.publish(
                session,
                batches.BATCH_STORED,
                {
                    "entry_code": plan.ev.code,
                    "version": plan.ev.version,
                    "batch_id": plan.batch_id,
                    "table": entry_table.table_name,
                    "inserted": result.inserted,
                    "updated": result.updated,
                    "stored_at": now.isoformat(),
                },
            )
        audit.record(
            session,
            actor=SYSTEM,
            action="ingest.batch.commit",
            target_type="ingest_batch",
            target_id=plan.batch_id,
            detail={
                "entry": plan.ev.code,
                "version": plan.ev.version,
                "sha256": plan.file_hash,
                "inserted": result.inserted,
                "updated": result.updated,
                "rejected": evaluation.rejected,
            },
        )


def _report(
    plan: Plan,
    evaluation: Evaluation,
    skipped: list[dict[str, Any]],
    comparisons: list[dict[str, Any]],
    timings: dict[str, float],
) -> dict[str, Any]:
    by_field: dict[str, set[int]] = {}
    for row in evaluation.problem_rows:
        for problem in row.problems:
            by_field.setdefault(problem["field"], set()).add(row.row)
    sample = [
        {"row": r.row, "key": r.key, "values": r.values, "problems": r.problems}
        for r in evaluation.problem_rows[:SAMPLE_ROWS]
    ]
    return {
        "counts": evaluation.counts,
        "by_field": sorted(
            ({"field": name, "rows": len(rows)} for name, rows in by_field.items()), key=lambda f: -f["rows"]
        ),
        "sample": sample,
        "skipped_rules": skipped,
        "comparisons": comparisons,
        "rules": {str(k): v for k, v in plan.rules_snapshot.items()},
        "titles": plan.ev.titles,
        "keys": plan.ev.keys,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def process_batch(batch_id: int, *, progress: ProgressFn | None = None, owner: str | None = None) -> Outcome:
    """Run a queued (or interrupted) batch to its end: committed, or failed with the reason."""
    owner = owner or jobs.worker_id()
    claimed = _claim(batch_id, owner)
    if isinstance(claimed, Outcome):
        return claimed
    plan = claimed
    workdir = files.work_folder()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        _report_progress(batch_id, progress, Stage.READING, 0, 0)
        table = read_table(plan.path, plan.detected, plan.filename, workdir)
        mapped = {h: f for h, f in plan.mapping.items() if f is not None and h in table.headers}
        answers = [pl.col(FEEDBACK_COLUMN).alias(ANSWER)] if FEEDBACK_COLUMN in table.headers else []
        raw = table.frame.select(ROW, *(pl.col(h).alias(f) for h, f in mapped.items()), *answers)
        timings["read"] = time.perf_counter() - started
        _report_progress(batch_id, progress, Stage.VALIDATING, 0, raw.height)
        _set_stage(batch_id, Stage.VALIDATING)
        tick = time.perf_counter()
        settings = get_settings()
        today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
        compiled = compile_checks(
            plan.ev.fields,
            plan.rules,
            present=set(mapped.values()),
            today=today,
            timezone=settings.timezone,
            code_tables=plan.code_tables,
        )
        prepared = prepare(raw, plan.ev.fields, plan.rules, timezone=settings.timezone)
        applied = {check.rule_id for check in compiled.checks if check.rule_id is not None}
        prepared, comparisons = _attach_lookups(plan, prepared, applied)
        evaluation = evaluate(raw, prepared, compiled, plan.ev.fields)
        del prepared
        timings["validate"] = time.perf_counter() - tick
        _report_progress(batch_id, progress, Stage.VALIDATING, raw.height, raw.height)
        report = _report(plan, evaluation, compiled.skipped, comparisons, timings)
        del raw
        _set_stage(batch_id, Stage.WRITING)
        tick = time.perf_counter()
        _report_progress(batch_id, progress, Stage.WRITING, 0, evaluation.accepted.height)
        _write(plan, evaluation, report, progress)
        timings["write"] = time.perf_counter() - tick
        _report_progress(batch_id, progress, Stage.DONE, evaluation.total, evaluation.total)
        return Outcome(batch_id, BatchStatus.COMMITTED)
    except DomainError as exc:
        _fail(batch_id, batches.file_problem_detail(exc))  # type: ignore[arg-type]
        return Outcome(batch_id, BatchStatus.FAILED)
    except Exception as exc:
        log.exception("batch %s failed", batch_id)
        _fail(
            batch_id,
            {
                "message": N_("The batch could not be processed ({problem}); nothing was written."),
                "params": {"problem": type(exc).__name__},
            },
        )
        raise
    finally:
        batches.PROGRESS.pop(batch_id, None)
        files.remove_folder(workdir)


def run_job(payload: dict[str, Any]) -> None:
    """The job handler: process the batch named in the payload."""
    try:
        process_batch(int(payload["batch_id"]))
    except (Conflict, NotFound) as exc:
        log.warning("batch job %s skipped: %s", payload, exc)
