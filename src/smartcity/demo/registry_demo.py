"""The base registries of the Yuyao demo: fed from department entries the hub holds, resolved twice.

市规划局 delivers the standard addresses (地名地址数据); 市公安局's population register and migrant registrations,
市人力社保局's unemployment registrations, 市疾控中心's disease report cards and 大隐镇's list of elderly people
living alone describe the same residents with the mistakes of `registry_sources`. The person registry is first
resolved as the city stood three weeks ago (register and migrants only), then today with every feed, so golden
records have a history to query "as of" a date. The legal-entity registry links 市市场监管局's register with
市国税局's taxpayers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
from sqlalchemy.orm import Session

from smartcity.db import unit_of_work, utcnow
from smartcity.demo import records, registry_sources
from smartcity.demo.addresses import standard_addresses
from smartcity.demo.ingest_demo import POPULATION
from smartcity.ingest import files, pipeline
from smartcity.ingest import service as batches
from smartcity.ingest.vocab import Source
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.registry import service as registry
from smartcity.registry.address.parse import parse_address
from smartcity.registry.schemas import FeedIn
from smartcity.registry.vocab import Kind

ADDRESSES = "330281-GHJ-00003"
FIRMS = "330281-SCJ-00001"
TAX = "330281-GSJ-00001"
INSURED = "330281-RSJ-00001"
# Per scale: residents the register holds (the ingest demo's population) and rows of the other sources.
SIZES = {
    "small": {
        "people": 5000,
        registry_sources.MIGRANTS: 600,
        registry_sources.UNEMPLOYED: 800,
        registry_sources.DISEASE: 700,
        registry_sources.ELDERLY: 120,
    },
    "full": {
        "people": 2_000_000,
        registry_sources.MIGRANTS: 150_000,
        registry_sources.UNEMPLOYED: 60_000,
        registry_sources.DISEASE: 40_000,
        registry_sources.ELDERLY: 3_000,
    },
}
PERSON_FEEDS: tuple[tuple[str, dict[str, str], int], ...] = (
    (
        POPULATION,
        {
            "resident_id": "resident_id",
            "full_name": "full_name",
            "gender_code": "gender_code",
            "birth_date": "birth_date",
            "address": "registered_address",
            "town_code": "town_code",
        },
        1,
    ),
    (
        registry_sources.MIGRANTS,
        {
            "resident_id": "resident_id",
            "full_name": "full_name",
            "gender_code": "gender_code",
            "birth_date": "birth_date",
            "address": "residence_address",
            "town_code": "town_code",
            "phone": "phone",
        },
        2,
    ),
    (INSURED, {"resident_id": "resident_id", "full_name": "full_name", "gender_code": "gender_code"}, 3),
    (
        registry_sources.UNEMPLOYED,
        {
            "resident_id": "resident_id",
            "full_name": "full_name",
            "gender_code": "gender_code",
            "birth_date": "birth_date",
            "address": "residence_address",
            "town_code": "town_code",
            "phone": "phone",
        },
        3,
    ),
    (
        registry_sources.ELDERLY,
        {
            "resident_id": "resident_id",
            "full_name": "full_name",
            "gender_code": "gender_code",
            "address": "home_address",
            "phone": "emergency_phone",
        },
        3,
    ),
    (
        registry_sources.DISEASE,
        {
            "resident_id": "resident_id",
            "full_name": "full_name",
            "gender_code": "gender_code",
            "birth_date": "birth_date",
            "phone": "phone",
            "address": "current_address",
        },
        4,
    ),
)
FIRST_ROUND = {POPULATION, registry_sources.MIGRANTS}
ENTITY_FEEDS: tuple[tuple[str, dict[str, str], int], ...] = (
    (
        FIRMS,
        {
            "credit_code": "credit_code",
            "org_name": "org_name",
            "legal_rep": "legal_rep",
            "established_date": "established_date",
            "address": "domicile",
            "town_code": "town_code",
        },
        1,
    ),
    (TAX, {"credit_code": "credit_code", "org_name": "org_name", "address": "registered_address"}, 2),
)
ADDRESS_FEED = (
    ADDRESSES,
    {
        "address_code": "address_code",
        "full_address": "full_address",
        "road": "road_name",
        "number": "house_number",
        "town_code": "town_code",
        "village": "building_name",
        "longitude": "longitude",
        "latitude": "latitude",
    },
    1,
)


@dataclass
class RegistrySummary:
    """What the demo put into the registries."""

    addresses: int
    persons: int
    entities: int
    review_pending: int

    def __str__(self) -> str:
        return (
            f"registries: {self.addresses} standard addresses, {self.persons} persons, {self.entities} legal entities,"
            f" {self.review_pending} pairs to review"
        )


def address_frame(doors: set[tuple[str, str, str]] | None = None) -> pl.DataFrame:
    """The standard addresses as 市规划局 delivers them (地名地址数据); with `doors`, only those (town, road, no.)."""
    frame = standard_addresses()
    if doors is not None:
        wanted = pl.DataFrame(list(doors), schema=["town", "road", "number"], orient="row")
        frame = frame.join(
            wanted, left_on=["town", "road", pl.col("number").cast(pl.String)], right_on=["town", "road", "number"]
        )
    return frame.select(
        pl.col("code").alias("address_code"),
        pl.col("text").alias("full_address"),
        pl.col("road").alias("road_name"),
        pl.col("number").cast(pl.String).alias("house_number"),
        pl.col("village").alias("building_name"),
        "town_code",
        pl.lit(None, dtype=pl.String).alias("village_code"),
        pl.col("lon").round(6).cast(pl.String).alias("longitude"),
        pl.col("lat").round(6).cast(pl.String).alias("latitude"),
    )


def doors_in_use(session: Session, by: Principal) -> set[tuple[str, str, str]]:
    """The (town, road, number) of every address the person and legal-entity feeds carry in the hub."""
    doors = set()
    for code, attributes, _ in PERSON_FEEDS + ENTITY_FEEDS:
        if "address" in attributes:
            texts = batches.stored_records(session, by=by, code=code, fields=[attributes["address"]])
            for text in texts[attributes["address"]].drop_nulls().unique().to_list():
                parsed = parse_address(text)
                if parsed.town and parsed.road and parsed.number:
                    doors.add((parsed.town, parsed.road, parsed.number))
    return doors


def _submit(by: Principal, code: str, frame: pl.DataFrame, filename: str) -> int:
    with unit_of_work() as session:
        stored = files.store_chunks(iter([frame.write_csv().encode("utf-8")]), filename)
        submission = batches.submit_batch(session, by=by, code=code, stored=stored, source=Source.UPLOAD, enqueue=False)
        batch_id = submission.batch.id
    pipeline.process_batch(batch_id)
    return batch_id


def _feeds(session: Session, by: Principal, kind: Kind, feeds: tuple[tuple[str, dict[str, str], int], ...]) -> None:
    for code, attributes, trust in feeds:
        registry.save_feed(session, by=by, kind=kind, data=FeedIn(entry_code=code, attributes=attributes, trust=trust))


def already_loaded(session: Session) -> bool:
    """Whether the registries were resolved before."""
    admin = identity.system_principal("demo-loader")
    return any(item["last_run"] is not None for item in registry.overview(session, by=admin).values())


def load(*, scale: str = "small") -> RegistrySummary | None:
    """Feed and resolve the three registries; does nothing if they were resolved before."""
    sizes = SIZES[scale]
    with unit_of_work() as session:
        if already_loaded(session):
            return None
        admin = identity.principal_for(
            identity.get_user(session, by=identity.system_principal("demo"), username="admin")
        )
    people = records.people(sizes["people"], seed=330282)
    sources = registry_sources.person_sources(
        people, sizes={k: v for k, v in sizes.items() if k != "people"}, registered=False
    )
    for code, frame in sources.frames.items():
        _submit(admin, code, frame, f"{code}.csv")
    # The small demo's address registry holds the doors its records name (minus the ones left out on purpose);
    # the full one holds every door of every road in every town.
    with unit_of_work() as session:
        doors = doors_in_use(session, admin) if scale == "small" else None
    _submit(admin, ADDRESSES, address_frame(doors), "标准地址.csv")
    with unit_of_work() as session:
        _feeds(session, admin, Kind.ADDRESS, (ADDRESS_FEED,))
        registry.start_resolution(session, by=admin, kind=Kind.ADDRESS)
    with unit_of_work() as session:
        _feeds(session, admin, Kind.PERSON, tuple(f for f in PERSON_FEEDS if f[0] in FIRST_ROUND))
        registry.start_resolution(session, by=admin, kind=Kind.PERSON, now=utcnow() - dt.timedelta(days=21))
    with unit_of_work() as session:
        _feeds(session, admin, Kind.PERSON, PERSON_FEEDS)
        registry.start_resolution(session, by=admin, kind=Kind.PERSON)
        _feeds(session, admin, Kind.ENTITY, ENTITY_FEEDS)
    with unit_of_work() as session:
        registry.start_resolution(session, by=admin, kind=Kind.ENTITY)
    with unit_of_work() as session:
        figures = registry.overview(session, by=admin)
    return RegistrySummary(
        addresses=figures[Kind.ADDRESS]["golden"],
        persons=figures[Kind.PERSON]["golden"],
        entities=figures[Kind.ENTITY]["golden"],
        review_pending=figures[Kind.PERSON]["pending"] + figures[Kind.ENTITY]["pending"],
    )
