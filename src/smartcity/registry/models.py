"""Feeds, source records, golden records with their history, review pairs, resolution runs, standard addresses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.db import Base, UTCDateTime, utcnow


class Feed(Base):
    """A catalogue entry that feeds a registry, and which of its fields carries which registry attribute."""

    __tablename__ = "registry_feed"
    __table_args__ = (UniqueConstraint("kind", "entry_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    entry_code: Mapped[str] = mapped_column(String(40), index=True)
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)  # registry attribute -> entry field
    trust: Mapped[int] = mapped_column(Integer)  # 1 is the most trusted source
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SourceRecord(Base):
    """One record of a feed as the registry read it: its mapped attributes and what they became when normalised."""

    __tablename__ = "registry_source"
    __table_args__ = (UniqueConstraint("feed_id", "record_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("registry_feed.id"), index=True)
    record_key: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int | None] = mapped_column(Integer)
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # when the department's record reached the hub
    values: Mapped[dict[str, Any]] = mapped_column(JSON)  # registry attribute -> value as the source gave it
    ident: Mapped[str | None] = mapped_column(String(32), index=True)  # a valid resident ID / credit code
    name: Mapped[str | None] = mapped_column(String(200), index=True)
    address_code: Mapped[str | None] = mapped_column(String(40), index=True)
    address_level: Mapped[str | None] = mapped_column(String(10), index=True)
    golden_id: Mapped[int | None] = mapped_column(ForeignKey("registry_golden.id"), index=True)
    link_method: Mapped[str | None] = mapped_column(String(16))
    link_probability: Mapped[float | None] = mapped_column(Float)


class Golden(Base):
    """A golden record: one person, legal entity or standard address as the registry knows it now."""

    __tablename__ = "registry_golden"
    __table_args__ = (UniqueConstraint("number"), Index("ix_registry_golden_kind_name", "kind", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(24))
    ident: Mapped[str | None] = mapped_column(String(40), index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    sources: Mapped[int] = mapped_column(Integer, default=0)
    merged_into: Mapped[int | None] = mapped_column(Integer)  # set when a later run joined it to another record
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GoldenVersion(Base):
    """What a golden record said from `valid_from` until `valid_to` (open: still true); for "as of" queries."""

    __tablename__ = "registry_golden_version"
    __table_args__ = (Index("ix_registry_golden_version_span", "golden_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    golden_id: Mapped[int] = mapped_column(ForeignKey("registry_golden.id"))
    run_id: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_ids: Mapped[list[int]] = mapped_column(JSON)


class ReviewPair(Base):
    """Two source records the model could not decide on; a person accepts or rejects, and it is remembered."""

    __tablename__ = "registry_review"
    __table_args__ = (UniqueConstraint("left_id", "right_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    left_id: Mapped[int] = mapped_column(ForeignKey("registry_source.id"))
    right_id: Mapped[int] = mapped_column(ForeignKey("registry_source.id"), index=True)
    probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    comparison: Mapped[dict[str, Any]] = mapped_column(JSON)  # attribute -> level label and its weight
    status: Mapped[str] = mapped_column(String(12), index=True)
    run_id: Mapped[int] = mapped_column(Integer)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """One resolution of a registry: what it read, what it linked, how long each step took, the trained model."""

    __tablename__ = "registry_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(12))
    started_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class SurvivorshipRule(Base):
    """How one attribute of a registry's golden records is chosen among its sources (overrides the default)."""

    __tablename__ = "registry_survivorship"
    __table_args__ = (UniqueConstraint("kind", "attribute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    attribute: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
