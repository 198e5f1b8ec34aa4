"""What the NGSI-LD broker keeps: tenants, entities with their attributes (terms expanded), entity types, contexts
registered through /jsonldContexts, subscriptions and context source registrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.db import Base, UTCDateTime, utcnow

# JSON in SQLite, JSONB in PostgreSQL (smaller, and the broker reads attributes out of it).
Document = JSON().with_variant(JSONB(), "postgresql")


class Tenant(Base):
    """An NGSILD-Tenant: a separate set of entities, subscriptions and registrations. The default tenant is ''."""

    __tablename__ = "ngsild_tenant"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Entity(Base):
    """One NGSI-LD entity. `attrs` maps each attribute's expanded name to its instances (one per datasetId) in the
    normalized form with expanded sub-attribute names; the bounding box of its `location` serves geo-queries."""

    __tablename__ = "ngsild_entity"
    __table_args__ = (
        UniqueConstraint("tenant", "entity_id"),
        Index("ix_ngsild_entity_tenant_west", "tenant", "west"),  # geo-queries narrow by the bounding box
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(512))
    types: Mapped[list[str]] = mapped_column(Document)
    attrs: Mapped[dict[str, Any]] = mapped_column(Document)
    scope: Mapped[list[str] | None] = mapped_column(Document)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    west: Mapped[float | None] = mapped_column(Float)
    south: Mapped[float | None] = mapped_column(Float)
    east: Mapped[float | None] = mapped_column(Float)
    north: Mapped[float | None] = mapped_column(Float)


class EntityType(Base):
    """The types of each entity (an entity may have several), so a query by type is an index lookup."""

    __tablename__ = "ngsild_entity_type"
    __table_args__ = (Index("ix_ngsild_entity_type_tenant_type", "tenant", "type", "entity_pk"),)

    entity_pk: Mapped[int] = mapped_column(ForeignKey("ngsild_entity.pk", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(512), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))


class LdContext(Base):
    """A @context registered through /jsonldContexts (kind Hosted), or preloaded by the operator (Cached)."""

    __tablename__ = "ngsild_context"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str | None] = mapped_column(String(1000), unique=True)  # the public URL a Cached copy stands for
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uses: Mapped[int] = mapped_column(Integer, default=0)


class Subscription(Base):
    """An NGSI-LD subscription: `body` is the subscription as created (terms expanded), its state kept beside."""

    __tablename__ = "ngsild_subscription"
    __table_args__ = (UniqueConstraint("tenant", "subscription_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    subscription_id: Mapped[str] = mapped_column(String(512))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    context: Mapped[Any] = mapped_column(JSON)  # the @context the subscription was made with (its notifications')
    is_active: Mapped[bool] = mapped_column(default=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    times_failed: Mapped[int] = mapped_column(Integer, default=0)
    last_notification: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Registration(Base):
    """A context source registration (csourceRegistrations): which entities and attributes another source holds."""

    __tablename__ = "ngsild_registration"
    __table_args__ = (UniqueConstraint("tenant", "registration_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    registration_id: Mapped[str] = mapped_column(String(512))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    context: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """A notification waiting to be sent, or sent (the outbox the notifier works from). Written in the transaction
    of the change it tells of, so a change and its notifications commit together or not at all."""

    __tablename__ = "ngsild_notification"
    __table_args__ = (Index("ix_ngsild_notification_due", "status", "due_at"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_pk: Mapped[int] = mapped_column(ForeignKey("ngsild_subscription.pk", ondelete="CASCADE"), index=True)
    notification_id: Mapped[str] = mapped_column(String(80), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued / sending / sent / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
