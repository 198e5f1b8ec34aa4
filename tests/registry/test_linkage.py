"""The linkage engine without a database: what is compared of an address, the prior when the data has no
identifiers or birth dates, and that such data is still linked on name, phone and address."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl

from smartcity.demo import records
from smartcity.demo.registry_sources import Noise
from smartcity.registry import prepare
from smartcity.registry.linkage import link
from smartcity.registry.resolve import Clusters
from smartcity.registry.specs import PERSON


def _frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}).with_row_index("unique_id")


def test_address_parts_and_the_town_taken_from_the_address() -> None:
    frame = _frame(
        [
            {"full_name": "张三", "address": "浙江省宁波市余姚市梨洲街道新建北路12号3幢201室", "town_code": None},
            {"full_name": "张三", "address": "新建北路十二号", "town_code": None},
            {"full_name": "李四", "address": "余姚市凤山街道阳明西路8号", "town_code": "330281004"},
            {"full_name": "王五", "address": None, "town_code": None},
        ]
    )
    out = prepare.person_columns(frame).sort("unique_id")
    assert out["address_key"].to_list() == ["梨洲街道||新建北路|12", "||新建北路|12", "凤山街道||阳明西路|8", None]
    # The same door whether or not the town was written; the street only where the town is known.
    assert out["address_door"].to_list() == ["新建北路|12", "新建北路|12", "阳明西路|8", None]
    assert out["address_street"].to_list() == ["梨洲街道|新建北路", None, "凤山街道|阳明西路", None]
    # A town given by the department wins over the one in its address; a missing one is read from the address.
    assert out["town_code"].to_list() == ["330281001", None, "330281004", None]


def _two_sources(people: int = 600, seed: int = 3) -> tuple[pl.DataFrame, np.ndarray]:
    """Two departments' records of the same residents with no resident IDs and no birth dates: name, sex, phone
    (often missing or changed in the second) and address (often written another way or an old one)."""
    rng = np.random.default_rng(seed)
    register = records.people(people, seed=seed).with_columns(records.phones(rng, people).alias("phone"))
    chosen = np.sort(rng.choice(people, size=people // 2, replace=False))
    sample = register[chosen]
    noise = Noise(rng)
    moved = records.addresses(rng, sample.height, records.TOWN_NAMES[rng.integers(0, 21, sample.height)])
    other = pl.DataFrame(
        {
            "full_name": noise.names(sample["full_name"].to_list()),
            "gender_code": sample["gender_code"],
            "phone": noise.phones(sample["phone"].to_list()),
            "address": noise.addresses(sample["registered_address"].to_list(), moved.to_list()),
        }
    )
    first = register.select("full_name", "gender_code", "phone", pl.col("registered_address").alias("address"))
    frame = pl.concat([first, other], how="vertical_relaxed").with_row_index("unique_id")
    return frame, np.concatenate([np.arange(people), chosen])


def test_records_without_identifiers_or_birth_dates_are_linked_on_what_they_have() -> None:
    frame, person = _two_sources()
    base = prepare.person_columns(frame)
    result = link(base, PERSON, threshold=0.95)
    # The deterministic rules that need an ID or a birth date found nothing; the prior comes from the others and
    # stays a small probability (a failed training block once left a prior near 1 in the model).
    assert 0 < result.model["probability_two_random_records_match"] < 0.01
    clusters = Clusters([None] * frame.height)
    for left, right in result.pairs.sort("weight", descending=True).select("left", "right").iter_rows():
        clusters.union(int(left), int(right))
    roots = clusters.roots()
    truth = {(a, b) for a, b in combinations(range(frame.height), 2) if person[a] == person[b]}
    found = {(a, b) for a, b in combinations(range(frame.height), 2) if roots[a] == roots[b]}
    precision = len(truth & found) / len(found)
    recall = len(truth & found) / len(truth)
    assert precision >= 0.98, precision
    assert recall >= 0.85, recall
