"""Pydantic I/O of the base registries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smartcity.registry.vocab import Kind, ReviewStatus, Survivorship


class FeedIn(BaseModel):
    """Which fields of a catalogue entry feed which attributes of a registry, and how far it is trusted."""

    model_config = ConfigDict(extra="forbid")

    entry_code: str = Field(min_length=1, max_length=40, description="The catalogue entry, e.g. 330281-GAJ-00001.")
    attributes: dict[str, str] = Field(
        min_length=1, description="Registry attribute → the entry field that carries it, e.g. {'full_name': 'xm'}."
    )
    trust: int = Field(default=5, ge=1, le=99, description="1 is the most trusted source.")
    active: bool = True


class FeedRead(BaseModel):
    """A feed as stored."""

    id: int
    kind: Kind
    entry_code: str
    attributes: dict[str, str]
    trust: int
    active: bool
    updated_by: str
    updated_at: dt.datetime


class SurvivorshipIn(BaseModel):
    """The rule one attribute's value is chosen by."""

    model_config = ConfigDict(extra="forbid")

    attribute: str = Field(min_length=1, max_length=40)
    rule: Survivorship


class RunRead(BaseModel):
    """One resolution of a registry."""

    id: int
    kind: Kind
    status: str
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    stats: dict[str, Any]
    error: str | None = None


class GoldenSummary(BaseModel):
    """A golden record in a search result."""

    number: str
    kind: Kind
    attributes: dict[str, Any]
    sources: int
    updated_at: dt.datetime
    masked: bool


class LineageRead(BaseModel):
    """Where one attribute's value came from: which source said it, when, and by which rule it won."""

    attribute: str
    value: Any
    source_id: int
    entry_code: str
    department: str
    observed_at: dt.datetime
    rule: Survivorship


class SourceRead(BaseModel):
    """One department's record behind a golden record."""

    id: int
    entry_code: str
    trust: int
    department: str
    record_key: str
    observed_at: dt.datetime
    values: dict[str, Any]
    valid_ident: bool
    address_code: str | None
    address_level: str | None
    link_method: str | None
    link_probability: float | None


class GoldenRead(BaseModel):
    """A golden record, now or as of a date, with lineage and sources."""

    number: str
    kind: Kind
    attributes: dict[str, Any]
    lineage: list[LineageRead]
    sources: list[SourceRead]
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    as_of: dt.datetime | None
    created_at: dt.datetime
    merged_into: str | None
    history: list[tuple[dt.datetime, dt.datetime | None]]
    masked: bool


class ReviewRead(BaseModel):
    """A pair in the clerical review queue, with how each attribute compared and what it weighed."""

    id: int
    kind: Kind
    probability: float
    match_weight: float
    comparison: dict[str, Any]
    status: ReviewStatus
    left: SourceRead
    right: SourceRead
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None


class ReviewDecision(BaseModel):
    """A person's decision on a pair: the same record or not, and why."""

    model_config = ConfigDict(extra="forbid")

    same: bool
    reason: str | None = Field(default=None, max_length=500)


class ResolveIn(BaseModel):
    """Resolve a registry now; `retrain` trains the linkage model again instead of reusing the last one."""

    model_config = ConfigDict(extra="forbid")

    retrain: bool = False


class AddressParsed(BaseModel):
    """An address taken apart and matched to the address registry."""

    text: str
    standard: str
    parts: dict[str, str | None]
    match_level: str
    address_code: str | None
    longitude: float | None
    latitude: float | None
