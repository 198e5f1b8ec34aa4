"""Console page of the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from smartcity.platform.audit import service as audit
from smartcity.platform.audit.permissions import AUDIT_READ, AUDIT_VERIFY
from smartcity.platform.console import render
from smartcity.platform.deps import DbSession
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, page_count

TEMPLATES = str(Path(__file__).parent / "templates")
router = APIRouter(prefix="/admin/audit", include_in_schema=False)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(page(AUDIT_READ))],
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The audit log, newest first, filterable by action prefix."""
    flt = audit.AuditFilter(action=action or None)
    items, total = audit.list_entries(session, flt=flt, params=PageParams(page=page_no, page_size=PAGE_SIZE))
    return render(
        request,
        "admin/audit.html",
        {
            "items": items,
            "total": total,
            "page": page_no,
            "pages": page_count(total, PAGE_SIZE),
            "action": action or "",
            "url_for_page": lambda n: f"/admin/audit?page={n}&action={action or ''}",
            "verification": None,
            "can_verify": principal.can(AUDIT_VERIFY),
        },
    )


@router.get("/verify", response_class=HTMLResponse)
def verify_chain(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(AUDIT_VERIFY))]
) -> Response:
    """Verify the chain and show the result above the newest entries."""
    result = audit.verify(session)
    items, total = audit.list_entries(session, flt=audit.AuditFilter(), params=PageParams(1, PAGE_SIZE))
    return render(
        request,
        "admin/audit.html",
        {
            "items": items,
            "total": total,
            "page": 1,
            "pages": page_count(total, PAGE_SIZE),
            "action": "",
            "url_for_page": lambda n: f"/admin/audit?page={n}",
            "verification": result,
            "can_verify": True,
        },
    )
