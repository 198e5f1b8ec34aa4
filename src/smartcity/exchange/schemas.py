"""Pydantic I/O of sharing, the data service and subscriptions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from smartcity.exchange.vocab import DeliveryStatus, GrantState, RequestStatus


class RequestIn(BaseModel):
    """Ask to use another department's entry (共享申请)."""

    model_config = ConfigDict(extra="forbid")

    entry_code: str = Field(min_length=1, max_length=40, description="The catalogue entry, e.g. 330281-GAJ-00001.")
    purpose: str = Field(min_length=4, max_length=1000, description="What the data is used for (用途).")
    legal_basis: str = Field(
        default="", max_length=1000, description="The law or duty that needs it (依据); required for 有条件共享."
    )
    fields: list[str] = Field(min_length=1, max_length=200, description="The entry fields wanted.")
    plain: bool = Field(default=False, description="Ask to see personal fields unmasked (needs a legal basis).")
    valid_until: dt.date = Field(description="The last day the data is needed (at most a year ahead).")


class DecisionIn(BaseModel):
    """The providing department's decision; an approval may narrow the fields and the period, or refuse plain."""

    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str = Field(default="", max_length=1000, description="Why (required when rejecting).")
    fields: list[str] | None = Field(default=None, description="Grant fewer fields than asked.")
    plain: bool | None = Field(default=None, description="false: grant masked values only.")
    valid_until: dt.date | None = Field(default=None, description="Grant a shorter period than asked.")


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=1000)


class RequestRead(BaseModel):
    """A sharing request as both departments see it."""

    number: str
    entry_code: str
    entry_name: str
    sharing_type: str
    provider: str
    consumer: str
    requested_by: str
    purpose: str
    legal_basis: str
    fields: list[str]
    plain: bool
    valid_from: dt.datetime
    valid_until: dt.datetime
    status: RequestStatus
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    created_at: dt.datetime
    grant: str | None = Field(default=None, description="The grant's number once approved.")


class GrantRead(BaseModel):
    """A grant: who may read which fields of which entry until when, masked or plain."""

    number: str
    request: str
    entry_code: str
    entry_name: str
    provider: str
    consumer: str
    purpose: str
    fields: list[str]
    plain: bool
    valid_from: dt.datetime
    valid_until: dt.datetime
    state: GrantState
    granted_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str


class DataPage(BaseModel):
    """One page of a data-service query: the rows, and the cursor of the next page (null on the last)."""

    entry_code: str
    version: int
    grant: str | None = Field(description="The grant the rows were read under (null for the providing department).")
    fields: list[str]
    masked: list[str] = Field(description="The fields whose values are masked for this caller.")
    items: list[dict[str, Any]]
    limit: int
    next: str | None = Field(description="Pass as `after` to read the next page.")


class DataRecord(BaseModel):
    """One record found by its business key."""

    entry_code: str
    version: int
    grant: str | None
    masked: list[str]
    record: dict[str, Any]


class SubscriptionIn(BaseModel):
    """Subscribe a webhook to the new and changed rows of a granted entry."""

    model_config = ConfigDict(extra="forbid")

    grant: str = Field(min_length=1, max_length=24, description="The grant's number.")
    url: HttpUrl = Field(description="Where the hub POSTs the rows (http or https).")


class SubscriptionRead(BaseModel):
    id: int
    grant: str
    entry_code: str
    consumer: str
    url: str
    active: bool
    created_by: str
    created_at: dt.datetime
    last_delivered_at: dt.datetime | None
    pending: int
    dead: int


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="The signing secret (Standard Webhooks `whsec_…`); shown this once only.")


class DeliveryRead(BaseModel):
    id: int
    subscription_id: int
    entry_code: str
    url: str
    batch_id: int
    part: int
    rows: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None
