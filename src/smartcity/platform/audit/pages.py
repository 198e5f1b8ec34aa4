"""Console page of the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from smartcity.platform.audit import service as audit
from smartcity.platform.audit.permissions import AUDIT_READ, AUDIT_VERIFY
from smartcity.platform.console import render
from smartcity.platform.deps import DbSession
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, pager

TEMPLATES = str(Path(__file__).parent / "templates")
router = APIRouter(prefix="/admin/audit", include_in_schema=False)
PAGE_SIZE = 50


def _audit_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    page_no: int = 1,
    action: str | None = None,
    verification: audit.Verification | None = None,
) -> Response:
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = audit.list_entries(session, flt=audit.AuditFilter(action=action or None), params=params)
    return render(
        request,
        "admin/audit.html",
        {
            "items": items,
            "action": action or "",
            **pager(total, params, lambda n: "/admin/audit?" + urlencode({"page": n, "action": action or ""})),
            "verification": verification,
            "can_verify": principal.can(AUDIT_VERIFY),
        },
    )


@router.get("", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(page(AUDIT_READ))],
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The audit log, newest first, filterable by action prefix."""
    return _audit_page(request, session, principal, page_no=page_no, action=action)


@router.get("/verify", response_class=HTMLResponse)
def verify_chain(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(AUDIT_VERIFY))]
) -> Response:
    """Verify the chain and show the result above the newest entries."""
    return _audit_page(request, session, principal, verification=audit.verify(session))
