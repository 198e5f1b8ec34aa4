"""Resolving a registry: read the feeds, link records about the same person or company, build golden records.

1. **Read.** Each active feed's stored records are read from the hub, mapped to registry attributes, their
   addresses parsed and matched to the address registry, and kept as source records (only changes written).
2. **Link.** Records with the same valid identifier are one. The others are scored by the trained model
   (`linkage.py`); a pair at or above the match threshold is linked, unless that would join two different valid
   identifiers or a pair a person rejected; a pair between the review and the match threshold goes to the
   clerical review queue. Accepted pairs are linked, rejected ones never are: decisions are remembered.
3. **Golden records.** Each cluster keeps the golden record most of its sources had before (numbers are stable),
   chooses every attribute by its survivorship rule and records where the value came from. A change closes the
   record's open version and opens a new one, so "as of" queries see what the registry knew on any date.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.ingest import service as hub
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.registry import prepare
from smartcity.registry.address.match import AddressIndex
from smartcity.registry.linkage import Linkage, level_labels, link
from smartcity.registry.models import Feed, Golden, GoldenVersion, ReviewPair, Run, SourceRecord, SurvivorshipRule
from smartcity.registry.specs import SPECS
from smartcity.registry.vocab import (
    ATTRIBUTES,
    NUMBER_PREFIX,
    Kind,
    LinkMethod,
    ReviewStatus,
    Survivorship,
    ident_attribute,
    name_attribute,
)

CHUNK = 20_000
Progress = Callable[[str], None]


@dataclass
class Thresholds:
    """Match probabilities: at or above `match` two records are linked; from `review` they are shown to a person."""

    match: float
    review: float


def thresholds() -> Thresholds:
    """The thresholds in force (settings SMARTCITY_REGISTRY_MATCH_THRESHOLD / _REVIEW_THRESHOLD)."""
    settings = get_settings()
    return Thresholds(match=settings.registry_match_threshold, review=settings.registry_review_threshold)


@dataclass
class Stats:
    """What a run did, for the run record, the console and the closing figures."""

    read: dict[str, int] = field(default_factory=dict)
    inserted: int = 0
    updated: int = 0
    records: int = 0
    identified: int = 0
    blocking: list[tuple[str, int]] = field(default_factory=list)
    pairs_scored: int = 0
    linked_by_key: int = 0
    linked_by_model: int = 0
    linked_by_review: int = 0
    refused: int = 0
    review_pending: int = 0
    golden: int = 0
    golden_created: int = 0
    golden_changed: int = 0
    golden_merged: int = 0
    addresses: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # The feeds (entry: attributes) the run's linkage model was trained for, and whether this run trained it.
    model_feeds: list[str] = field(default_factory=list)
    trained: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- 1. reading the feeds ---------------------------------------------------------------------------------------


_ADDRESS_INDEX: dict[tuple[Any, ...], AddressIndex | None] = {}


def address_index(session: Session) -> AddressIndex | None:
    """The address registry's golden records as a matching index (None while the registry is empty); built again
    only when the registry changed since (it is kept per process, keyed by the count and last change)."""
    stamp = tuple(
        session.execute(select(func.count(), func.max(Golden.updated_at)).where(Golden.kind == Kind.ADDRESS)).one()
    )
    if stamp not in _ADDRESS_INDEX:
        _ADDRESS_INDEX.clear()
        _ADDRESS_INDEX[stamp] = _build_address_index(session)
    return _ADDRESS_INDEX[stamp]


def _build_address_index(session: Session) -> AddressIndex | None:
    rows = session.execute(select(Golden.attributes).where(Golden.kind == Kind.ADDRESS, Golden.merged_into.is_(None)))
    towns = town_names(session)
    records = []
    for (attributes,) in rows:
        number = str(attributes.get("number") or "")
        records.append(
            {
                "code": attributes.get("address_code"),
                "town_code": attributes.get("town_code"),
                "town": towns.get(attributes.get("town_code") or ""),
                "village": attributes.get("village"),
                "road": attributes.get("road"),
                "number": int(number) if number.isdigit() else None,
                "text": attributes.get("full_address"),
                "lon": _float(attributes.get("longitude")),
                "lat": _float(attributes.get("latitude")),
            }
        )
    if not records:
        return None
    return AddressIndex(pl.DataFrame(records, infer_schema_length=None))


def _float(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def town_names(session: Session) -> dict[str, str]:
    """Township-level division code -> its short name (梨洲街道), from the city's registered towns."""
    return {
        d.division_code: d.short_name or d.name
        for d in identity.all_departments(session)
        if d.kind == "town" and d.division_code
    }


def _idents(kind: Kind, values: pl.Series) -> pl.Series:
    """The valid identifiers among `values` (null where one is not valid); any non-empty address code is."""
    value = pl.col("v").str.replace_all(r"\s+", "").str.to_uppercase()
    if kind is Kind.PERSON:
        valid = prepare.valid_resident_id(value)
    elif kind is Kind.ENTITY:
        valid = prepare.valid_credit_code(value)
    else:
        valid = pl.when(value.str.len_chars() > 0).then(value)
    return pl.DataFrame({"v": values}).select(valid).to_series()


def sync_feed(session: Session, feed: Feed, index: AddressIndex | None, stats: Stats) -> None:
    """Bring the source records of `feed` up to date with what the hub holds for its entry."""
    kind = Kind(feed.kind)
    worker = identity.system_principal("registry")
    fields = list(dict.fromkeys(feed.attributes.values()))
    frame = hub.stored_records(session, by=worker, code=feed.entry_code, fields=fields)
    attributes = [a for a in ATTRIBUTES[kind] if a in feed.attributes]
    frame = frame.select(
        *(pl.col(feed.attributes[a]).alias(a) for a in attributes),
        pl.col(hub.KEY),
        pl.col(hub.LOADED_AT),
        pl.col(hub.BATCH),
        pl.col(hub.DEPARTMENT),
    ).filter(pl.col(hub.KEY).is_not_null())
    stats.read[feed.entry_code] = frame.height
    ident = ident_attribute(kind)
    idents = (
        _idents(kind, frame[ident]) if ident in frame.columns else pl.Series([None] * frame.height, dtype=pl.String)
    )
    name = name_attribute(kind)
    names = frame[name] if name in frame.columns else pl.Series([None] * frame.height, dtype=pl.String)
    matches = _match_addresses(frame, index, stats) if "address" in frame.columns and index is not None else None
    existing = {
        key: (row_id, values, batch, (code, level))
        for row_id, key, values, batch, code, level in session.execute(
            select(
                SourceRecord.id,
                SourceRecord.record_key,
                SourceRecord.values,
                SourceRecord.batch_id,
                SourceRecord.address_code,
                SourceRecord.address_level,
            ).where(SourceRecord.feed_id == feed.id)
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    rows = frame.select(*attributes).to_dicts()
    keys, loaded, batches, departments = (
        frame[c].to_list() for c in (hub.KEY, hub.LOADED_AT, hub.BATCH, hub.DEPARTMENT)
    )
    for i, row in enumerate(rows):
        values = {a: v for a, v in row.items() if v not in (None, "")}
        record: dict[str, Any] = {
            "values": values,
            "ident": idents[i],
            "name": (names[i] or "")[:200] or None,
            "batch_id": batches[i],
            "observed_at": loaded[i],
            "department_id": departments[i],
        }
        if matches is not None:
            record["address_code"], record["address_level"] = matches[i]
        found = existing.get(keys[i])
        if found is None:
            inserts.append({**record, "kind": kind.value, "feed_id": feed.id, "record_key": keys[i]})
        elif found[1] != values or found[2] != batches[i] or (matches is not None and found[3] != matches[i]):
            updates.append({**record, "id": found[0]})
    for chunk in _chunks(inserts):
        session.execute(insert(SourceRecord), list(chunk))
    for chunk in _chunks(updates):
        session.execute(update(SourceRecord), list(chunk))
    stats.inserted += len(inserts)
    stats.updated += len(updates)


def _match_addresses(frame: pl.DataFrame, index: AddressIndex, stats: Stats) -> list[tuple[str | None, str | None]]:
    texts = frame["address"].to_list()
    distinct = list({t for t in texts if t})
    found = dict(zip(distinct, index.match_many(distinct), strict=True))
    out: list[tuple[str | None, str | None]] = []
    for text in texts:
        if not text:
            out.append((None, None))
            continue
        match = found[text]
        out.append((match.code, match.level))
        stats.addresses[match.level] = stats.addresses.get(match.level, 0) + 1
    return out


# --- 2. linking -----------------------------------------------------------------------------------------------


class Clusters:
    """Union-find over record positions that refuses unions joining two valid identifiers or a rejected pair."""

    def __init__(self, idents: list[str | None]) -> None:
        self.parent = np.arange(len(idents))
        self.ident: dict[int, str] = {i: v for i, v in enumerate(idents) if v}
        self.apart: dict[int, set[int]] = defaultdict(set)  # root -> positions it must never be joined with

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[i] != root:
            self.parent[i], i = root, int(self.parent[i])
        return root

    def join_same_ident(self) -> list[tuple[int, int]]:
        """Join every record to the first record with the same valid identifier; the (first, record) pairs joined."""
        first_of: dict[str, int] = {}
        joined = []
        for i, ident in sorted(self.ident.items()):
            if ident in first_of:
                self.union(first_of[ident], i)
                joined.append((first_of[ident], i))
            else:
                first_of[ident] = i
        return joined

    def keep_apart(self, a: int, b: int) -> None:
        self.apart[self.find(a)].add(b)
        self.apart[self.find(b)].add(a)

    def union(self, a: int, b: int, *, force: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ia, ib = self.ident.get(ra), self.ident.get(rb)
        if not force and ia and ib and ia != ib:
            return False
        if not force and (
            any(self.find(x) == rb for x in self.apart.get(ra, ()))
            or any(self.find(x) == ra for x in self.apart.get(rb, ()))
        ):
            return False
        self.parent[rb] = ra
        if ib and not ia:
            self.ident[ra] = ib
        if rb in self.apart:
            self.apart[ra] |= self.apart.pop(rb)
        return True

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))])


@dataclass
class Sources:
    """The source records of one registry, in one frame, with what linking needs beside them."""

    frame: pl.DataFrame  # id, feed_id, trust, entry_code, department_id, observed_at, ident, golden_id, attributes…
    position: dict[int, int]  # source record id -> row


def load_sources(session: Session, kind: Kind) -> Sources:
    """Every source record of `kind` with its feed's trust, attributes as columns."""
    feeds = {f.id: f for f in session.scalars(select(Feed).where(Feed.kind == kind))}
    rows = session.execute(
        select(
            SourceRecord.id,
            SourceRecord.feed_id,
            SourceRecord.department_id,
            SourceRecord.observed_at,
            SourceRecord.ident,
            SourceRecord.golden_id,
            SourceRecord.link_method,
            SourceRecord.link_probability,
            SourceRecord.address_code,
            SourceRecord.values,
        )
        .join(Feed, Feed.id == SourceRecord.feed_id)
        .where(SourceRecord.kind == kind, Feed.active.is_(True))
        .order_by(SourceRecord.id)
    ).all()
    attributes = list(ATTRIBUTES[kind])
    columns: dict[str, list[Any]] = {a: [] for a in attributes}
    for row in rows:
        values = row.values
        for a in attributes:
            columns[a].append(values.get(a))
    frame = pl.DataFrame(
        {
            "id": [r.id for r in rows],
            "feed_id": [r.feed_id for r in rows],
            "trust": [feeds[r.feed_id].trust for r in rows],
            "entry_code": [feeds[r.feed_id].entry_code for r in rows],
            "department_id": [r.department_id for r in rows],
            "observed_at": pl.Series([r.observed_at for r in rows], dtype=pl.Datetime("us", "UTC")),
            "ident": pl.Series([r.ident for r in rows], dtype=pl.String),
            "golden_id": pl.Series([r.golden_id for r in rows], dtype=pl.Int64),
            "link_method": pl.Series([r.link_method for r in rows], dtype=pl.String),
            "link_probability": pl.Series([r.link_probability for r in rows], dtype=pl.Float64),
            "address_code": pl.Series([r.address_code for r in rows], dtype=pl.String),
            **{a: pl.Series(columns[a], dtype=pl.String) for a in attributes},
        }
    )
    return Sources(frame=frame, position={r.id: i for i, r in enumerate(rows)})


def comparison_frame(kind: Kind, frame: pl.DataFrame) -> pl.DataFrame:
    """The columns the linkage model of `kind` compares."""
    base = frame.rename({"id": "unique_id"})
    return prepare.person_columns(base) if kind is Kind.PERSON else prepare.entity_columns(base)


@dataclass
class Links:
    """How the records were clustered and which pairs wait for a person."""

    roots: np.ndarray
    method: list[str | None]
    probability: list[float | None]
    pending: list[dict[str, Any]]
    model: dict[str, Any] | None


def link_records(
    session: Session, kind: Kind, sources: Sources, stats: Stats, *, model: dict[str, Any] | None, limits: Thresholds
) -> Links:
    """Cluster the source records: same identifier, accepted pairs, then model pairs above the match threshold."""
    frame = sources.frame
    idents = frame["ident"].to_list()
    clusters = Clusters(idents)
    method: list[str | None] = [None] * frame.height
    probability: list[float | None] = [None] * frame.height
    for first, i in clusters.join_same_ident():
        method[i] = method[first] = LinkMethod.KEY.value
        stats.linked_by_key += 1
    decided = session.execute(
        select(ReviewPair.left_id, ReviewPair.right_id, ReviewPair.status).where(
            ReviewPair.kind == kind, ReviewPair.status != ReviewStatus.PENDING
        )
    ).all()
    decisions: dict[tuple[int, int], str] = {}
    for left, right, status in decided:
        if left not in sources.position or right not in sources.position:
            continue
        a, b = sources.position[left], sources.position[right]
        decisions[(left, right)] = status
        if status == ReviewStatus.ACCEPTED:
            clusters.union(a, b, force=True)
            method[a] = method[a] or LinkMethod.CLERICAL.value
            method[b] = LinkMethod.CLERICAL.value
            stats.linked_by_review += 1
        else:
            clusters.keep_apart(a, b)
    stats.identified = sum(1 for v in idents if v)
    pending: list[dict[str, Any]] = []
    trained = model
    if kind in SPECS and frame.height >= 2 and stats.identified < frame.height:
        clock = time.perf_counter()
        linkage = link(comparison_frame(kind, frame), SPECS[kind], model=model, threshold=limits.review)
        stats.seconds["linkage"] = time.perf_counter() - clock
        stats.blocking = linkage.blocking_counts
        stats.pairs_scored = sum(c for _, c in linkage.blocking_counts)
        trained = linkage.model
        pending = _apply_model(linkage, sources, clusters, decisions, method, probability, stats, limits)
    return Links(roots=clusters.roots(), method=method, probability=probability, pending=pending, model=trained)


def _apply_model(
    linkage: Linkage,
    sources: Sources,
    clusters: Clusters,
    decisions: dict[tuple[int, int], str],
    method: list[str | None],
    probability: list[float | None],
    stats: Stats,
    limits: Thresholds,
) -> list[dict[str, Any]]:
    pairs = linkage.pairs.sort("weight", descending=True)
    gammas = [c for c in pairs.columns if c.startswith("gamma_")]
    review: list[dict[str, Any]] = []
    for row in pairs.iter_rows(named=True):
        left, right = sorted((int(row["left"]), int(row["right"])))
        if (left, right) in decisions:
            continue
        a, b = sources.position[left], sources.position[right]
        if row["probability"] >= limits.match:
            if clusters.union(a, b):
                for i in (a, b):
                    if method[i] is None:
                        method[i] = LinkMethod.MODEL.value
                    probability[i] = max(probability[i] or 0.0, row["probability"])
                stats.linked_by_model += 1
            else:
                stats.refused += 1
        else:
            review.append({"left": left, "right": right, "a": a, "b": b, **row})
    labels = level_labels(linkage.model)
    pending = []
    for row in review:
        if clusters.find(row["a"]) == clusters.find(row["b"]):
            continue
        comparison = {}
        for gamma in gammas:
            column = gamma.removeprefix("gamma_")
            label, weight = labels.get(column, {}).get(int(row[gamma]), (str(row[gamma]), None))
            comparison[column] = {"level": label, "weight": None if weight is None else round(weight, 2)}
        pending.append(
            {
                "left_id": row["left"],
                "right_id": row["right"],
                "probability": float(row["probability"]),
                "match_weight": float(row["weight"]),
                "comparison": comparison,
            }
        )
    stats.review_pending = len(pending)
    return pending


# --- 3. golden records ------------------------------------------------------------------------------------------


def survivorship_rules(session: Session, kind: Kind) -> dict[str, Survivorship]:
    """The rule of every attribute of `kind`: the city's own choice where it made one, else the default."""
    rules = {attribute: default for attribute, (_, default) in ATTRIBUTES[kind].items()}
    for rule in session.scalars(select(SurvivorshipRule).where(SurvivorshipRule.kind == kind)):
        rules[rule.attribute] = Survivorship(rule.rule)
    return rules


def survive(frame: pl.DataFrame, roots: np.ndarray, kind: Kind, rules: dict[str, Survivorship]) -> pl.DataFrame:
    """Per cluster and attribute, the value that survives and its lineage (source, entry, department, time)."""
    frame = frame.with_columns(pl.Series("cluster", roots))
    ident = ident_attribute(kind)
    chosen = []
    for attribute, rule in rules.items():
        value = pl.col("ident") if attribute == ident else pl.col(attribute)
        candidates = frame.select(
            "cluster", value.alias("value"), "id", "trust", "observed_at", "entry_code", "department_id"
        ).filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        if rule is Survivorship.TRUST:
            order, descending = ["trust", "observed_at", "id"], [False, True, True]
        elif rule is Survivorship.RECENT:
            order, descending = ["observed_at", "trust", "id"], [True, False, True]
        else:
            candidates = candidates.with_columns(pl.col("value").str.len_chars().alias("length"))
            order, descending = ["length", "trust", "observed_at", "id"], [True, False, True, True]
        best = candidates.sort(order, descending=descending).group_by("cluster", maintain_order=True).first()
        chosen.append(
            best.select("cluster", "value", "id", "observed_at", "entry_code", "department_id").with_columns(
                pl.lit(attribute).alias("attribute"), pl.lit(rule.value).alias("rule")
            )
        )
    return pl.concat(chosen)


def _numbers(session: Session, kind: Kind, count: int) -> list[str]:
    prefix = NUMBER_PREFIX[kind]
    last = session.scalar(select(func.max(Golden.number)).where(Golden.kind == kind))
    start = int(last[len(prefix) :]) + 1 if last else 1
    return [f"{prefix}{n:010d}" for n in range(start, start + count)]


def build_golden(
    session: Session, kind: Kind, sources: Sources, links: Links, run: Run, now: dt.datetime, stats: Stats
) -> None:
    """Create, update, merge and version the golden records of `kind` from the clusters in `links`."""
    frame = sources.frame
    roots = links.roots
    members: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(roots.tolist()):
        members[root].append(i)
    previous = frame["golden_id"].to_list()
    claimed: dict[int, int] = {}  # golden id -> root
    owner: dict[int, int | None] = {}
    for root in sorted(members, key=lambda r: -len(members[r])):
        votes = Counter(previous[i] for i in members[root] if previous[i] is not None)
        keep = next((g for g, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])) if g not in claimed), None)
        owner[root] = keep
        if keep is not None:
            claimed[keep] = root
    chosen = survive(frame, roots, kind, survivorship_rules(session, kind))
    attributes: dict[int, dict[str, Any]] = defaultdict(dict)
    lineage: dict[int, dict[str, Any]] = defaultdict(dict)
    ids = frame["id"].to_list()
    for row in chosen.iter_rows(named=True):
        root = row["cluster"]
        attributes[root][row["attribute"]] = row["value"]
        lineage[root][row["attribute"]] = {
            "source": row["id"],
            "entry": row["entry_code"],
            "department": row["department_id"],
            "observed_at": row["observed_at"].isoformat(),
            "rule": row["rule"],
        }
    ident, name = ident_attribute(kind), name_attribute(kind)
    current = {
        g.id: g for chunk in _chunks(list(claimed)) for g in session.scalars(select(Golden).where(Golden.id.in_(chunk)))
    }
    new_roots = [r for r in members if owner[r] is None]
    numbers = _numbers(session, kind, len(new_roots))

    def content(root: int) -> dict[str, Any]:
        return {
            "ident": attributes[root].get(ident),
            "name": (attributes[root].get(name) or "")[:300] or None,
            "attributes": attributes[root],
            "lineage": lineage[root],
            "sources": len(members[root]),
            "updated_at": now,
        }

    created = [
        {**content(root), "kind": kind.value, "number": number, "created_at": now}
        for root, number in zip(new_roots, numbers, strict=True)
    ]
    new_ids: list[int] = []
    for chunk in _chunks(created):
        result = session.execute(insert(Golden).returning(Golden.id, sort_by_parameter_order=True), list(chunk))
        new_ids.extend(result.scalars().all())
    owner.update(zip(new_roots, new_ids, strict=True))
    changed: list[dict[str, Any]] = []
    versioned = list(new_ids)
    for root, golden_id in owner.items():
        if golden_id is None or golden_id not in current:
            continue
        golden = current[golden_id]
        if golden.attributes != attributes[root] or golden.sources != len(members[root]) or golden.merged_into:
            changed.append({**content(root), "id": golden_id, "merged_into": None})
            versioned.append(golden_id)
    for chunk in _chunks(changed):
        session.execute(update(Golden), list(chunk))
    # Golden records whose sources all went to another one were merged into it.
    heirs: dict[int, Counter[int | None]] = defaultdict(Counter)
    for i, golden_id in enumerate(previous):
        if golden_id is not None and golden_id not in claimed:
            heirs[golden_id][owner[roots[i]]] += 1
    merged = [
        {"id": golden_id, "merged_into": votes.most_common(1)[0][0], "sources": 0, "updated_at": now}
        for golden_id, votes in heirs.items()
    ]
    for chunk in _chunks(merged):
        session.execute(update(Golden), list(chunk))
    closing = versioned + [m["id"] for m in merged]
    for chunk in _chunks(closing):
        session.execute(
            update(GoldenVersion)
            .where(GoldenVersion.golden_id.in_(chunk), GoldenVersion.valid_to.is_(None))
            .values(valid_to=now)
        )
    root_of = {g: r for r, g in owner.items() if g is not None}
    versions = [
        {
            "golden_id": g,
            "run_id": run.id,
            "valid_from": now,
            "valid_to": None,
            "attributes": attributes[root_of[g]],
            "lineage": lineage[root_of[g]],
            "source_ids": sorted(ids[i] for i in members[root_of[g]]),
        }
        for g in versioned
    ]
    for chunk in _chunks(versions):
        session.execute(insert(GoldenVersion), list(chunk))
    # Source records point at their golden record, with how they got there.
    moves = []
    before = zip(previous, frame["link_method"].to_list(), frame["link_probability"].to_list(), strict=True)
    for i, (root, was) in enumerate(zip(roots.tolist(), before, strict=True)):
        method = links.method[i] or LinkMethod.SINGLE.value
        if len(members[root]) > 1 and method == LinkMethod.SINGLE.value:
            method = LinkMethod.MODEL.value
        now_is = (owner[root], method, links.probability[i])
        if now_is != was:
            moves.append(
                dict(zip(("id", "golden_id", "link_method", "link_probability"), (ids[i], *now_is), strict=True))
            )
    for chunk in _chunks(moves):
        session.execute(update(SourceRecord), list(chunk))
    stats.golden = len(members)
    stats.golden_created = len(created)
    stats.golden_changed = len(changed)
    stats.golden_merged = len(merged)


def save_pending(session: Session, kind: Kind, pending: list[dict[str, Any]], run: Run) -> None:
    """Replace the open review pairs of `kind` by this run's; decided pairs stay as they are."""
    session.execute(delete(ReviewPair).where(ReviewPair.kind == kind, ReviewPair.status == ReviewStatus.PENDING))
    rows = [{**p, "kind": kind.value, "status": ReviewStatus.PENDING.value, "run_id": run.id} for p in pending]
    for chunk in _chunks(rows):
        session.execute(insert(ReviewPair), list(chunk))


def feed_signature(feeds: Iterable[Feed]) -> list[str]:
    """What a linkage model was trained on: each active feed's entry and the attributes it carries."""
    return sorted(f"{f.entry_code}: {','.join(sorted(f.attributes))}" for f in feeds)


def latest_model(session: Session, kind: Kind, feeds: list[str]) -> dict[str, Any] | None:
    """The model the last successful run of `kind` trained or used, if it was trained on the same feeds (a feed
    added, dropped or carrying other attributes changes what the data says, so the model is trained again)."""
    last = session.execute(
        select(Run.model, Run.stats)
        .where(Run.kind == kind, Run.status == "done", Run.model.is_not(None))
        .order_by(Run.id.desc())
        .limit(1)
    ).one_or_none()
    if last is None or (last.stats or {}).get("model_feeds") != feeds:
        return None
    return last.model


def resolve(
    session: Session,
    *,
    kind: Kind,
    by: Principal,
    retrain: bool = False,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> Run:
    """Run the three steps for registry `kind` in the caller's transaction and return the run record."""
    now = now or utcnow()
    limits = thresholds()
    run = Run(kind=kind.value, status="running", started_by=by.actor().label, started_at=now)
    session.add(run)
    session.flush()
    stats = Stats()

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    clock = time.perf_counter()
    step("read")
    index = address_index(session) if kind is not Kind.ADDRESS else None
    feeds = list(session.scalars(select(Feed).where(Feed.kind == kind, Feed.active.is_(True)).order_by(Feed.trust)))
    for feed in feeds:
        sync_feed(session, feed, index, stats)
    session.flush()
    stats.seconds["read"] = time.perf_counter() - clock
    clock = time.perf_counter()
    step("link")
    sources = load_sources(session, kind)
    stats.records = sources.frame.height
    stats.model_feeds = feed_signature(feeds)
    model = None if retrain else latest_model(session, kind, stats.model_feeds)
    links = link_records(session, kind, sources, stats, model=model, limits=limits)
    stats.trained = model is None and links.model is not None
    stats.seconds["link"] = time.perf_counter() - clock
    clock = time.perf_counter()
    step("golden")
    build_golden(session, kind, sources, links, run, now, stats)
    save_pending(session, kind, links.pending, run)
    stats.seconds["golden"] = time.perf_counter() - clock
    run.status = "done"
    run.finished_at = utcnow()
    run.model = links.model
    run.stats = stats.as_dict()
    return run
