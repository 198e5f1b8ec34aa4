"""Probabilistic record linkage with Splink on DuckDB: blocking, match weights trained by EM, scored pairs.

A `Spec` says how records of one registry are compared (the comparison levels of each attribute), which pairs
are scored at all (blocking rules, each a set of columns that must be equal), and which pairs the EM algorithm
trains on. The m and u probabilities are estimated from the data itself every time a model is trained (u by
random sampling, m by expectation maximisation over blocked pairs); nothing is typed in. A trained model is a
plain dictionary, kept with the run, so later runs can score with it without training again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

LinkType = Literal["dedupe_only", "link_only", "link_and_dedupe"]
UNIQUE_ID = "unique_id"
SOURCE = "source_dataset"
# When the deterministic rules find no pair at all (no identifiers, no birth dates), the prior assumes this share of
# the records has a match, rather than none (which would make every pair impossible).
FLOOR_MATCH_SHARE = 0.01
# An EM session over fewer pairs than this learns nothing reliable, so it is not run.
MIN_TRAINING_PAIRS = 50

logging.getLogger("splink").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Spec:
    """How one kind of record is linked."""

    comparisons: Callable[[], list[Any]]  # fresh Splink comparison creators
    blocking: Sequence[tuple[str, ...]]  # pairs equal on all columns of one rule are scored
    training: Sequence[tuple[str, ...]]  # EM sessions, each over the pairs equal on these columns
    deterministic: Sequence[str]  # SQL of pairs that are surely the same, for the prior match probability
    recall: float = 0.8  # the share of true matches the deterministic rules are thought to find
    u_pairs: float = 1e6  # random pairs sampled to estimate u probabilities (Splink's default)
    # With a column name: pairs in which both records have a value there (a valid identifier) are not scored.
    unidentified: str | None = None


@dataclass
class Linkage:
    """The scored pairs (left, right, weight, probability and one gamma_<column> level per comparison), the pair
    count of each blocking rule, the model and the time each step took."""

    pairs: pl.DataFrame
    blocking_counts: list[tuple[str, int]]
    model: dict[str, Any]
    seconds: dict[str, float]


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def rule_name(columns: tuple[str, ...]) -> str:
    """A blocking rule as people read it: `name_py = birth_date`."""
    return " + ".join(columns)


def _rule(columns: tuple[str, ...]) -> Any:
    return block_on(*columns)


def _prediction_rule(columns: tuple[str, ...], unidentified: str | None) -> Any:
    if unidentified is None:
        return block_on(*columns)
    equal = " and ".join(f"l.{c} = r.{c}" for c in columns)
    return f"{equal} and (l.{unidentified} is null or r.{unidentified} is null)"


def _pair_count(data: Any, rule: Any, link_type: LinkType) -> int:
    counts = count_comparisons_from_blocking_rules(
        data,
        blocking_rules=[rule],
        link_type=link_type,
        record_sample_proportion=1.0,
    )
    return int(_field(counts[0], "cumulative_comparison_count"))


def _prior(data: Any, spec: Spec, link_type: LinkType) -> float:
    """The probability that two random records match: the pairs the deterministic rules find, over the recall
    they are thought to have, divided by all possible pairs (Splink's own estimate, with a floor for data in which
    those rules find nothing)."""
    counts = count_comparisons_from_blocking_rules(
        data,
        blocking_rules=list(spec.deterministic),
        link_type=link_type,
        record_sample_proportion=1.0,
    )
    observed = int(_field(counts[-1], "cumulative_comparison_count"))
    total = int(_field(counts[-1], "total_possible_comparison_count"))
    records = sum(t.as_duckdbpyrelation().shape[0] for t in (data if isinstance(data, list) else [data]))
    expected = max(observed / spec.recall, FLOOR_MATCH_SHARE * records, 1.0)
    return min(expected / max(total, 1), 0.5)


def link(
    frames: pl.DataFrame | Sequence[pl.DataFrame],
    spec: Spec,
    *,
    model: dict[str, Any] | None = None,
    threshold: float = 0.05,
    link_only: bool = False,
) -> Linkage:
    """Score the candidate pairs of `frames` (one frame: find duplicates in it; several: link them, and with
    `link_only` never pair two records of the same frame). Trains a model unless `model` is given."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    inputs = [frames] if isinstance(frames, pl.DataFrame) else list(frames)
    db = DuckDBAPI()
    registered = [db.register(frame.to_arrow(), table_name=f"input_{i}") for i, frame in enumerate(inputs)]
    link_type: LinkType = "dedupe_only" if len(inputs) == 1 else ("link_only" if link_only else "link_and_dedupe")
    data = registered[0] if len(registered) == 1 else registered
    rules = [_prediction_rule(r, spec.unidentified) for r in spec.blocking]
    counts = count_comparisons_from_blocking_rules(
        data, blocking_rules=rules, link_type=link_type, record_sample_proportion=1.0
    )
    blocking_counts = [
        (rule_name(r), int(_field(c, "marginal_comparison_count"))) for r, c in zip(spec.blocking, counts, strict=True)
    ]
    seconds["blocking"] = time.perf_counter() - clock
    if model is None:
        settings = SettingsCreator(
            link_type=link_type,
            probability_two_random_records_match=_prior(data, spec, link_type),
            comparisons=spec.comparisons(),
            blocking_rules_to_generate_predictions=rules,
            retain_intermediate_calculation_columns=True,
            retain_matching_columns=False,
        )
        linker = Linker(data, settings, log_level=None)
        clock = time.perf_counter()
        linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_pairs, seed=330281)
        # Blocks with (almost) no pairs in this data, e.g. the same ID where no record has one, are left out
        # beforehand: a session that fails in Splink 5.0 leaves its blocking-adjusted prior in the model.
        for columns in spec.training:
            if _pair_count(data, _rule(columns), link_type) >= MIN_TRAINING_PAIRS:
                linker.training.estimate_parameters_using_expectation_maximisation(_rule(columns))
        seconds["training"] = time.perf_counter() - clock
        model = linker.misc.save_model_to_json()
    else:
        linker = Linker(data, model, log_level=None)
    clock = time.perf_counter()
    predicted = linker.inference.predict(threshold_match_probability=threshold)
    pairs = pl.from_arrow(predicted.as_duckdbpyrelation().arrow())
    assert isinstance(pairs, pl.DataFrame)
    gammas = [c for c in pairs.columns if c.startswith("gamma_")]
    pairs = pairs.select(
        pl.col(f"{UNIQUE_ID}_l").alias("left"),
        pl.col(f"{UNIQUE_ID}_r").alias("right"),
        *(
            [pl.col(f"{SOURCE}_l").alias("left_source"), pl.col(f"{SOURCE}_r").alias("right_source")]
            if len(inputs) > 1
            else []
        ),
        pl.col("match_weight").alias("weight"),
        pl.col("match_probability").alias("probability"),
        *gammas,
    )
    predicted.drop_table_from_database_and_remove_from_cache()
    seconds["scoring"] = time.perf_counter() - clock
    return Linkage(pairs=pairs, blocking_counts=blocking_counts, model=model, seconds=seconds)


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, tuple[str, float | None]]]:
    """For each comparison of a trained model: gamma value -> (level label, match weight of that level)."""
    labels: dict[str, dict[int, tuple[str, float | None]]] = {}
    for comparison in model.get("comparisons", []):
        column = comparison["output_column_name"]
        levels = comparison["comparison_levels"]
        scored = [lv for lv in levels if not lv.get("is_null_level")]
        mapping: dict[int, tuple[str, float | None]] = {-1: ("null", None)}
        for position, level in enumerate(scored):
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            mapping[len(scored) - 1 - position] = (level.get("label_for_charts") or level["sql_condition"], weight)
        labels[column] = mapping
    return labels
