"""The base registries end to end on both stores: feeds, linking against planted truth, survivorship, history,
review decisions remembered, masking."""

from __future__ import annotations

import datetime as dt
from itertools import combinations

import numpy as np
import polars as pl
import pytest
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.demo import records
from smartcity.demo.registry_sources import Noise
from smartcity.platform.errors import InvalidInput, NotFound
from smartcity.platform.paging import PageParams
from smartcity.platform.permissions import Role
from smartcity.registry import resolve as resolver
from smartcity.registry import service as registry
from smartcity.registry.models import SourceRecord
from smartcity.registry.schemas import FeedIn, ReviewDecision, SurvivorshipIn
from smartcity.registry.vocab import Kind, ReviewStatus, Survivorship
from tests.factories import PERSON_CODE, ingest_text, make_person_entry, make_user, principal, root

OTHER = "330281-RSJ-00099"
FIRST_PAGE = PageParams(page=1, page_size=50)
PEOPLE = 400
ATTRIBUTES = {a: a for a in ("resident_id", "full_name", "gender_code", "birth_date", "phone", "town_code")}


def _csv(frame: pl.DataFrame) -> str:
    return frame.select(list(ATTRIBUTES)).write_csv()


def _population() -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    people = records.people(PEOPLE, seed=7).with_columns(
        records.phones(np.random.default_rng(1), PEOPLE).alias("phone")
    )
    rng = np.random.default_rng(5)
    chosen = np.sort(rng.choice(PEOPLE, size=250, replace=False))
    sample = people[chosen]
    noise = Noise(rng, rate=3.0)  # three times the demo's rates: ~25% of IDs mistyped
    other = sample.with_columns(
        pl.Series("resident_id", noise.resident_ids(sample["resident_id"].to_list())),
        pl.Series("full_name", noise.names(sample["full_name"].to_list())),
        records.phones(rng, sample.height).alias("phone"),  # everyone has a newer phone number
    )
    return people, other, chosen


def _setup(db: Session) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    make_person_entry(db)
    make_person_entry(db, code=OTHER, department="RSJ")
    people, other, chosen = _population()
    ingest_text(db, _csv(people))
    ingest_text(db, _csv(other), code=OTHER)
    return people, other, chosen


def _feed(db: Session, code: str, trust: int) -> None:
    registry.save_feed(
        db, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code=code, attributes=ATTRIBUTES, trust=trust)
    )


def _golden_of(db: Session) -> dict[tuple[int, str], int | None]:
    rows = db.query(SourceRecord.feed_id, SourceRecord.record_key, SourceRecord.golden_id).all()
    return {(f, k): g for f, k, g in rows}


def test_resolution_links_mistyped_ids_and_keeps_history(db: Session) -> None:
    people, other, chosen = _setup(db)
    _feed(db, PERSON_CODE, 1)
    first = utcnow() - dt.timedelta(days=10)
    run = registry.start_resolution(db, by=root(), kind=Kind.PERSON, now=first)
    assert run.stats["golden"] == PEOPLE
    _feed(db, OTHER, 2)
    run = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    stats = run.stats
    assert stats["records"] == PEOPLE + other.height
    assert stats["identified"] < stats["records"]  # the mistyped IDs failed their check character
    assert next(name for name, _ in stats["blocking"]) == "id_number"
    # Score the clusters against the truth: pairs of source records that belong to the same resident.
    golden = _golden_of(db)
    feeds = {f.entry_code: f.id for f in registry.list_feeds(db, by=root(), kind=Kind.PERSON)}
    keys = {PERSON_CODE: people["resident_id"].to_list(), OTHER: other["resident_id"].to_list()}
    truth_person = {(feeds[PERSON_CODE], k): i for i, k in enumerate(keys[PERSON_CODE])}
    truth_person.update({(feeds[OTHER], k): int(chosen[i]) for i, k in enumerate(keys[OTHER])})
    records_ = list(truth_person)
    same_truth = {(a, b) for a, b in combinations(records_, 2) if truth_person[a] == truth_person[b]}
    same_found = {(a, b) for a, b in combinations(records_, 2) if golden[a] is not None and golden[a] == golden[b]}
    precision = len(same_truth & same_found) / len(same_found)
    recall = len(same_truth & same_found) / len(same_truth)
    assert len(same_truth) == other.height
    assert precision >= 0.99, precision
    assert recall >= 0.95, recall
    # A registered resident with a newer phone number elsewhere: the phone follows the most recent source.
    number = registry.search(
        db,
        by=root(),
        kind=Kind.PERSON,
        flt=registry.GoldenFilter(q=keys[PERSON_CODE][int(chosen[0])]),
        params=FIRST_PAGE,
    )[0][0].number
    now = registry.get_golden(db, by=root(), kind=Kind.PERSON, number=number)
    phone = next(item for item in now.lineage if item.attribute == "phone")
    assert phone.entry_code == OTHER and phone.rule is Survivorship.RECENT
    assert now.attributes["phone"] == other["phone"][0]
    assert now.attributes["resident_id"] == keys[PERSON_CODE][int(chosen[0])]
    then = registry.get_golden(db, by=root(), kind=Kind.PERSON, number=number, as_of=utcnow() - dt.timedelta(days=5))
    assert then.attributes["phone"] == people["phone"][int(chosen[0])]
    assert {s.entry_code for s in then.sources} == {PERSON_CODE}
    assert len(now.history) == 2
    with pytest.raises(NotFound):
        registry.get_golden(db, by=root(), kind=Kind.PERSON, number=number, as_of=first - dt.timedelta(days=1))


def test_review_decisions_are_remembered(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(db)
    _feed(db, PERSON_CODE, 1)
    _feed(db, OTHER, 2)
    # Nothing is sure enough to link by itself: every model pair from 0.01 up goes to a person.
    monkeypatch.setattr(resolver, "thresholds", lambda: resolver.Thresholds(match=0.999999999, review=0.01))
    registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    queue, total = registry.review_queue(
        db, by=root(), kind=Kind.PERSON, status=ReviewStatus.PENDING, params=FIRST_PAGE
    )
    assert total >= 2
    # Two pairs about different people: accepting one must not join the other's records through an identifier.
    cluster = {s.id: s.golden_id for s in db.query(SourceRecord).all()}
    accepted = queue[0]
    taken = {cluster[accepted.left.id], cluster[accepted.right.id]}
    rejected = next(p for p in queue[1:] if taken.isdisjoint({cluster[p.left.id], cluster[p.right.id]}))
    registry.decide(db, by=root(), kind=Kind.PERSON, pair_id=accepted.id, data=ReviewDecision(same=True))
    registry.decide(
        db, by=root(), kind=Kind.PERSON, pair_id=rejected.id, data=ReviewDecision(same=False, reason="不同人")
    )
    with pytest.raises(Exception, match="already decided"):
        registry.decide(db, by=root(), kind=Kind.PERSON, pair_id=accepted.id, data=ReviewDecision(same=False))
    run = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    assert run.stats["linked_by_review"] == 1
    golden = {s.id: s.golden_id for s in db.query(SourceRecord).all()}
    assert golden[accepted.left.id] == golden[accepted.right.id]
    assert golden[rejected.left.id] != golden[rejected.right.id]
    pending = registry.review_queue(db, by=root(), kind=Kind.PERSON, status=ReviewStatus.PENDING, params=FIRST_PAGE)[0]
    assert {(p.left.id, p.right.id) for p in pending}.isdisjoint(
        {(accepted.left.id, accepted.right.id), (rejected.left.id, rejected.right.id)}
    )


def test_masking_follows_the_role(db: Session) -> None:
    _people, _, _ = _setup(db)
    _feed(db, PERSON_CODE, 1)
    registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    staff = principal(make_user(db, "gaj_staff", role=Role.DEPT_STAFF, department="GAJ"))
    plain = registry.search(db, by=root(), kind=Kind.PERSON, flt=registry.GoldenFilter(), params=FIRST_PAGE)[0][0]
    shown = registry.search(db, by=staff, kind=Kind.PERSON, flt=registry.GoldenFilter(), params=FIRST_PAGE)[0][0]
    assert plain.number == shown.number and shown.masked and not plain.masked
    rid, masked_rid = plain.attributes["resident_id"], shown.attributes["resident_id"]
    assert masked_rid == rid[:6] + "********" + rid[-4:]
    assert rid[6:14] not in str(shown.attributes)
    assert shown.attributes["full_name"] != plain.attributes["full_name"]
    assert shown.attributes["gender_code"] == plain.attributes["gender_code"]  # not personal
    record = registry.get_golden(db, by=staff, kind=Kind.PERSON, number=plain.number)
    assert rid not in record.model_dump_json()


def test_feeds_and_rules_name_what_is_wrong(db: Session) -> None:
    make_person_entry(db)
    with pytest.raises(InvalidInput) as bad:
        registry.save_feed(
            db, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code=PERSON_CODE, attributes={"shoe_size": "phone"})
        )
    assert bad.value.field == "attributes.shoe_size"
    with pytest.raises(InvalidInput) as bad:
        registry.save_feed(
            db, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code=PERSON_CODE, attributes={"full_name": "xm"})
        )
    assert bad.value.field == "attributes.full_name" and "xm" in str(bad.value)
    with pytest.raises(InvalidInput):
        registry.save_feed(
            db, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code=PERSON_CODE, attributes={"phone": "phone"})
        )
    with pytest.raises(NotFound):
        registry.save_feed(
            db, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code="330281-XXX-00001", attributes=ATTRIBUTES)
        )
    rules = registry.set_survivorship(
        db, by=root(), kind=Kind.PERSON, data=SurvivorshipIn(attribute="phone", rule=Survivorship.TRUST)
    )
    assert rules["phone"] is Survivorship.TRUST
    with pytest.raises(InvalidInput):
        registry.set_survivorship(
            db, by=root(), kind=Kind.PERSON, data=SurvivorshipIn(attribute="x", rule=Survivorship.TRUST)
        )


def test_resolving_again_with_nothing_new_writes_nothing(db: Session) -> None:
    _setup(db)
    _feed(db, PERSON_CODE, 1)
    _feed(db, OTHER, 2)
    first = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    again = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    assert first.stats["inserted"] == PEOPLE + 250 and first.stats["golden_created"] > 0
    assert again.stats["inserted"] == again.stats["updated"] == 0
    assert again.stats["golden_created"] == again.stats["golden_changed"] == again.stats["golden_merged"] == 0
    assert again.stats["golden"] == first.stats["golden"]


def test_the_model_is_trained_again_when_the_feeds_change(db: Session) -> None:
    _setup(db)
    _feed(db, PERSON_CODE, 1)
    _feed(db, OTHER, 2)
    first = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    again = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    assert first.stats["trained"] and not again.stats["trained"]
    # The other department's feed no longer carries phones: what the data says changed, so the model is retrained.
    without_phone = {a: f for a, f in ATTRIBUTES.items() if a != "phone"}
    registry.save_feed(
        db, by=root(), kind=Kind.PERSON, data=FeedIn(entry_code=OTHER, attributes=without_phone, trust=2)
    )
    third = registry.start_resolution(db, by=root(), kind=Kind.PERSON)
    assert third.stats["trained"]
    assert f"{OTHER}: {','.join(sorted(without_phone))}" in third.stats["model_feeds"]
