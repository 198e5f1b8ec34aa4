"""Sharing requests and grants, change subscriptions and their deliveries, open-data accounts and agreements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.db import Base, UTCDateTime, utcnow


class ShareRequest(Base):
    """A department's request to use another department's catalogue entry (共享申请)."""

    __tablename__ = "exchange_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    entry_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    consumer_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSON)
    plain: Mapped[bool] = mapped_column(Boolean, default=False)  # asks to see personal fields unmasked
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grant(Base):
    """What a department may read of an entry, for how long (共享授权): fields, plain or masked, the period."""

    __tablename__ = "exchange_grant"
    __table_args__ = (Index("ix_exchange_grant_consumer_entry", "consumer_department_id", "entry_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("exchange_request.id"), unique=True)
    entry_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    consumer_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    purpose: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSON)
    plain: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    granted_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revoke_reason: Mapped[str] = mapped_column(Text, default="")


class Subscription(Base):
    """A department system's webhook that receives the new and changed rows of a granted entry."""

    __tablename__ = "exchange_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("exchange_grant.id"), index=True)
    entry_code: Mapped[str] = mapped_column(String(40), index=True)
    consumer_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(Text)  # the signing secret, sealed with the platform's key
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One push of rows to a subscription (the outbox row): pending until delivered, or dead after its attempts."""

    __tablename__ = "exchange_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "batch_id", "part"),
        Index("ix_exchange_delivery_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("exchange_subscription.id"), index=True)
    batch_id: Mapped[int] = mapped_column(Integer)
    part: Mapped[int] = mapped_column(Integer, default=1)
    rows: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status the endpoint last answered
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PortalAccount(Base):
    """A registered user of the open-data portal (a citizen, a company, a researcher); not a platform user."""

    __tablename__ = "open_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalSession(Base):
    """A signed-in portal session; the cookie holds a random token whose hash is stored here."""

    __tablename__ = "open_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("open_account.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Agreement(Base):
    """A portal account's acceptance of the conditions of one conditionally open entry (有条件开放)."""

    __tablename__ = "open_agreement"
    __table_args__ = (UniqueConstraint("account_id", "entry_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("open_account.id"))
    entry_code: Mapped[str] = mapped_column(String(40), index=True)
    conditions: Mapped[str] = mapped_column(Text)  # the conditions as they read when accepted
    purpose: Mapped[str] = mapped_column(Text)
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
