"""JSON API of the base registries (/api/v1/registry/{kind}): search, golden records, review, feeds, runs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import Page, PageParams, page_body, page_params
from smartcity.registry import service as registry
from smartcity.registry.permissions import REGISTRY_MANAGE, REGISTRY_READ, REGISTRY_REVIEW
from smartcity.registry.schemas import (
    AddressParsed,
    FeedIn,
    FeedRead,
    GoldenRead,
    GoldenSummary,
    ResolveIn,
    ReviewDecision,
    ReviewRead,
    RunRead,
    SourceRead,
    SurvivorshipIn,
)
from smartcity.registry.service import GoldenFilter
from smartcity.registry.vocab import Kind, ReviewStatus, Survivorship

PREFIX = "/api/v1/registry"
router = APIRouter(prefix=PREFIX, tags=["registry"])
Reader = Annotated[Principal, Depends(api(REGISTRY_READ))]
Reviewer = Annotated[Principal, Depends(api(REGISTRY_REVIEW))]
Manager = Annotated[Principal, Depends(api(REGISTRY_MANAGE))]
Paging = Annotated[PageParams, Depends(page_params)]
KindPath = Annotated[Kind, Path(description="person (人口), entity (法人) or address (地名地址)")]


@router.get("/{kind}/records", response_model=Page[GoldenSummary])
def search_records(
    session: DbSession,
    principal: Reader,
    kind: KindPath,
    params: Paging,
    q: Annotated[
        str | None, Query(max_length=100, description="name fragment, identifier or its start, number")
    ] = None,
) -> dict:
    """Search golden records; personal fields are masked unless the caller may see plain values."""
    items, total = registry.search(session, by=principal, kind=kind, flt=GoldenFilter(q=q), params=params)
    return page_body(items, total, params)


@router.get("/{kind}/records/{number}", response_model=GoldenRead)
def get_record(
    session: DbSession,
    principal: Reader,
    kind: KindPath,
    number: Annotated[str, Path(max_length=24)],
    as_of: Annotated[
        dt.datetime | None, Query(description="the record as the registry knew it then (ISO 8601 with offset)")
    ] = None,
) -> GoldenRead:
    """A golden record with the lineage of each attribute and its source records, now or as of a time."""
    return registry.get_golden(session, by=principal, kind=kind, number=number, as_of=as_of)


@router.get("/{kind}/unmatched-addresses", response_model=Page[SourceRead])
def unmatched_addresses(session: DbSession, principal: Reader, kind: KindPath, params: Paging) -> dict:
    """Source records whose address is not in the address registry down to the door number."""
    items, total = registry.unmatched_addresses(session, by=principal, kind=kind, params=params)
    return page_body(items, total, params)


@router.get("/{kind}/review", response_model=Page[ReviewRead])
def review_queue(
    session: DbSession, principal: Reviewer, kind: KindPath, params: Paging, status: ReviewStatus = ReviewStatus.PENDING
) -> dict:
    """Pairs the model could not decide on, the most uncertain first."""
    items, total = registry.review_queue(session, by=principal, kind=kind, status=status, params=params)
    return page_body(items, total, params)


@router.post("/{kind}/review/{pair_id}", response_model=ReviewRead)
def decide_pair(
    session: DbSession, principal: Reviewer, kind: KindPath, pair_id: RowId, data: ReviewDecision
) -> ReviewRead:
    """Accept (`same: true`) or reject a pair; every later resolution keeps the decision."""
    return registry.decide(session, by=principal, kind=kind, pair_id=pair_id, data=data)


@router.get("/{kind}/feeds", response_model=list[FeedRead])
def list_feeds(session: DbSession, principal: Reader, kind: KindPath) -> list[FeedRead]:
    """The catalogue entries that feed this registry, most trusted first."""
    return registry.list_feeds(session, by=principal, kind=kind)


@router.put("/{kind}/feeds", response_model=FeedRead)
def save_feed(session: DbSession, principal: Manager, kind: KindPath, data: FeedIn) -> FeedRead:
    """Declare which fields of a catalogue entry feed which attributes, and how far the source is trusted."""
    return registry.save_feed(session, by=principal, kind=kind, data=data)


@router.get("/{kind}/survivorship", response_model=dict[str, Survivorship])
def get_survivorship(session: DbSession, principal: Reader, kind: KindPath) -> dict[str, Survivorship]:
    """The rule each attribute's value is chosen by: trust, recent or complete."""
    return registry.survivorship(session, by=principal, kind=kind)


@router.put("/{kind}/survivorship", response_model=dict[str, Survivorship])
def set_survivorship(
    session: DbSession, principal: Manager, kind: KindPath, data: SurvivorshipIn
) -> dict[str, Survivorship]:
    """Change one attribute's survivorship rule (applied by the next resolution)."""
    return registry.set_survivorship(session, by=principal, kind=kind, data=data)


@router.post("/{kind}/runs", response_model=RunRead, status_code=201)
def resolve(session: DbSession, principal: Manager, kind: KindPath, data: ResolveIn) -> RunRead:
    """Resolve the registry now: read the feeds, link, rebuild golden records (all in one transaction)."""
    return registry.start_resolution(session, by=principal, kind=kind, retrain=data.retrain)


@router.get("/{kind}/runs", response_model=Page[RunRead])
def list_runs(session: DbSession, principal: Reader, kind: KindPath, params: Paging) -> dict:
    """Resolution runs, newest first, with their figures (records, pairs per blocking rule, links, timings)."""
    items, total = registry.list_runs(session, by=principal, kind=kind, params=params)
    return page_body(items, total, params)


@router.get("/addresses/parse", response_model=AddressParsed)
def parse_address(
    session: DbSession, principal: Reader, text: Annotated[str, Query(min_length=1, max_length=300)]
) -> AddressParsed:
    """Take a Chinese address apart (province … number) and match it to the address registry."""
    return registry.parse_and_match(session, by=principal, text=text)
