"""Running the compiled checks over a batch: which rows pass, which break which rules, and the counts.

Everything here works on frames in memory; the database reads that some rules need (stored values for
uniqueness, the other department's records for a comparison) arrive as frames too (`attach_*`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from smartcity.catalog.schemas import FieldSpec
from smartcity.catalog.vocab import FieldType
from smartcity.ingest.formats.read import ROW
from smartcity.ingest.rules.compile import KEY, Check, Compiled, lookup_name, typed_name
from smartcity.ingest.rules.kinds import CompareParams
from smartcity.ingest.vocab import Severity

ANSWER = "__answers"  # the 反馈编号 column of a corrected download, when the file has one


@dataclass
class ProblemRow:
    """A row that broke at least one rule: its number, key, values as sent, and the problems."""

    row: int
    key: str | None
    values: dict[str, str | None]
    problems: list[dict[str, Any]]
    has_error: bool  # at least one problem is an error: the row is quarantined


@dataclass
class Evaluation:
    """The outcome of the checks over one batch."""

    total: int
    accepted: pl.DataFrame  # rows without errors, typed values ready to store, plus __row
    clean_keys: pl.Series  # business keys of rows without any problem
    problem_rows: list[ProblemRow]
    rejected: int  # rows with an error
    warned: int  # rows with warnings only
    clean_answers: list[int] = field(default_factory=list)  # feedback items that clean rows answer (反馈编号)
    counts: list[dict[str, Any]] = field(default_factory=list)


def attach_unique_lookup(frame: pl.DataFrame, rule_id: int, column: str, stored: pl.DataFrame) -> pl.DataFrame:
    """Mark rows whose `column` value is already stored under another business key (`stored`: value, key)."""
    name = lookup_name("dup", rule_id)
    if stored.height == 0:
        return frame.with_columns(pl.lit(False).alias(name))
    clashes = (
        frame.select(ROW, KEY, column)
        .join(stored.rename({"value": column, "key": "__stored_key"}), on=column, how="inner")
        .filter(pl.col("__stored_key") != pl.col(KEY).fill_null(""))
        .select(ROW)
        .unique()
    )
    return frame.with_columns(pl.col(ROW).is_in(clashes.get_column(ROW).implode()).alias(name))


def attach_comparison(frame: pl.DataFrame, rule_id: int, params: CompareParams, other: pl.DataFrame) -> pl.DataFrame:
    """Join the other entry's records (`other`: its match fields renamed to ours, plus `value`) onto the batch."""
    found, value = lookup_name("found", rule_id), lookup_name("cmp", rule_id)
    local = list(params.match)
    if other.height == 0:
        return frame.with_columns(pl.lit(False).alias(found), pl.lit(None, dtype=pl.String).alias(value))
    other = (
        other.with_columns(pl.col(c).cast(pl.String) for c in other.columns)
        .unique(subset=local, keep="first")
        .rename({"value": value})
        .with_columns(pl.lit(True).alias(found))
    )
    return frame.join(other, on=local, how="left", nulls_equal=False, maintain_order="left")


def evaluate(
    raw: pl.DataFrame,
    prepared: pl.DataFrame,
    compiled: Compiled,
    schema: Sequence[FieldSpec],
) -> Evaluation:
    """Run every check; split the rows; count problems per check and problem code."""
    checks = compiled.checks
    results = prepared.select(ROW, KEY, *(check.expr.alias(check.name) for check in checks))
    errors = [c.name for c in checks if c.severity is Severity.ERROR]
    warnings = [c.name for c in checks if c.severity is Severity.WARNING]
    results = results.with_columns(
        pl.any_horizontal(*(pl.col(n).is_not_null() for n in errors)).alias("__error")
        if errors
        else pl.lit(False).alias("__error"),
        pl.any_horizontal(*(pl.col(n).is_not_null() for n in warnings)).alias("__warn")
        if warnings
        else pl.lit(False).alias("__warn"),
    )
    counts = _counts(results, checks)
    flagged = results.filter(pl.col("__error") | pl.col("__warn"))
    present = [spec.name for spec in schema if spec.name in raw.columns]
    raw_flagged = raw.filter(pl.col(ROW).is_in(flagged.get_column(ROW).implode())).select(ROW, *present)
    values_by_row = {row[ROW]: row for row in raw_flagged.iter_rows(named=True)}
    problem_rows = []
    for row in flagged.iter_rows(named=True):
        problems = [
            {
                "field": check.field,
                "kind": check.kind.value,
                "detail": row[check.name],
                "severity": check.severity.value,
                "rule_id": check.rule_id,
            }
            for check in checks
            if row[check.name] is not None
        ]
        values = {k: v for k, v in values_by_row.get(row[ROW], {}).items() if k != ROW}
        problem_rows.append(
            ProblemRow(row=row[ROW], key=row[KEY], values=values, problems=problems, has_error=row["__error"])
        )
    error_mask = results.get_column("__error")
    rejected = int(error_mask.sum())
    clean_mask = ~(error_mask | results.get_column("__warn"))
    accepted = stored_values(prepared.filter(~error_mask), schema)
    clean_keys = results.filter(clean_mask).get_column(KEY).drop_nulls()
    answers: list[int] = []
    if ANSWER in raw.columns:
        ids = raw.filter(clean_mask).get_column(ANSWER).cast(pl.Int64, strict=False).drop_nulls()
        answers = [int(i) for i in ids.unique().to_list() if 0 < i < 2**31]
    return Evaluation(
        total=prepared.height,
        accepted=accepted,
        clean_keys=clean_keys,
        problem_rows=problem_rows,
        rejected=rejected,
        warned=len(problem_rows) - rejected,
        counts=counts,
        clean_answers=answers,
    )


def _counts(results: pl.DataFrame, checks: Sequence[Check]) -> list[dict[str, Any]]:
    """Rows per (check, problem code), from the check columns."""
    counts = []
    tallies = (
        results.select(pl.col(c.name).drop_nulls().value_counts().implode().alias(c.name) for c in checks).row(
            0, named=True
        )
        if checks
        else {}
    )
    for check in checks:
        for item in tallies[check.name]:
            counts.append(
                {
                    "field": check.field,
                    "kind": check.kind.value,
                    "detail": item[check.name],
                    "severity": check.severity.value,
                    "rule_id": check.rule_id,
                    "rows": int(item["count"]),
                }
            )
    counts.sort(key=lambda c: (-c["rows"], c["field"], c["kind"], c["detail"]))
    return counts


def stored_values(frame: pl.DataFrame, schema: Sequence[FieldSpec]) -> pl.DataFrame:
    """The columns a batch writes: each present field as its stored type, and `__row`."""
    columns = [pl.col(ROW)]
    for spec in schema:
        if spec.name not in frame.columns:
            continue
        if spec.type in (FieldType.STRING, FieldType.DECIMAL):
            value = pl.col(spec.name)
            if spec.type is FieldType.DECIMAL:
                value = value.str.strip_prefix("+")
            columns.append(value.alias(spec.name))
        else:
            columns.append(pl.col(typed_name(spec.name)).alias(spec.name))
    return frame.select(columns)
