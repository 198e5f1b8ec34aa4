"""JSON API of the audit log (/api/v1/audit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from smartcity.platform.audit import service as audit
from smartcity.platform.audit.permissions import AUDIT_READ, AUDIT_VERIFY
from smartcity.platform.audit.schemas import AuditEntryRead, VerificationRead
from smartcity.platform.deps import DbSession
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import Page, PageParams, page_body, page_params

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/entries", response_model=Page[AuditEntryRead])
def list_entries(
    session: DbSession,
    _: Annotated[Principal, Depends(api(AUDIT_READ))],
    params: Annotated[PageParams, Depends(page_params)],
    action: Annotated[str | None, Query(max_length=64, description="action prefix, e.g. auth.")] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Page[AuditEntryRead]:
    """Audit entries, newest first."""
    flt = audit.AuditFilter(action=action, actor=actor, since=since, until=until)
    items, total = audit.list_entries(session, flt=flt, params=params)
    return Page(**page_body([AuditEntryRead.model_validate(i) for i in items], total, params))


@router.get("/verify", response_model=VerificationRead)
def verify(session: DbSession, _: Annotated[Principal, Depends(api(AUDIT_VERIFY))]) -> VerificationRead:
    """Walk the hash chain and name the first broken entry, if any."""
    return VerificationRead(**asdict(audit.verify(session)))
