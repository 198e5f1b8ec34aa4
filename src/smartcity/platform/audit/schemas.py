"""Pydantic I/O of the audit API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: dt.datetime
    actor: str
    department_id: int | None
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    detail: dict[str, Any]
    hash: str


class VerificationRead(BaseModel):
    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str | None
