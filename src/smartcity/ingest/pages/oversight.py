"""Console pages of the quality loop: feedback items, the quality dashboard, scheduled pulls, code tables."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from smartcity.ingest import feedback, pulls, quality, ruleset
from smartcity.ingest import service as batches
from smartcity.ingest.feedback import Decision, FeedbackFilter
from smartcity.ingest.pages.common import (
    PAGE_SIZE,
    CodeKeeper,
    PageNo,
    Puller,
    Reader,
    Responder,
    Reviewer,
    render_page,
    text,
)
from smartcity.ingest.schemas import CodeTableIn, FeedbackDispute, FeedbackReview, PullIn, PullUpdate
from smartcity.ingest.vocab import FeedbackStatus
from smartcity.platform.console import form_errors, redirect
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.paging import PageParams, pager

router = APIRouter(prefix="/ingest", include_in_schema=False)


# --- feedback ------------------------------------------------------------------------------------------------


@router.get("/feedback", response_class=HTMLResponse)
def feedback_list(
    request: Request,
    session: DbSession,
    principal: Reader,
    status: Annotated[str | None, Query(max_length=16)] = None,
    entry: Annotated[str | None, Query(max_length=40)] = None,
    department: Annotated[str | None, Query(max_length=16)] = None,
    page_no: PageNo = 1,
) -> Response:
    """Problem records fed back to departments; departments answer, the hub reviews."""
    chosen = FeedbackStatus(status) if status in set(FeedbackStatus) else None
    flt = FeedbackFilter(
        status=chosen,
        active_only=status in (None, "", "active"),
        entry_code=entry or None,
        department=department or None,
    )
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = feedback.list_items(session, by=principal, flt=flt, params=params)
    query = {k: v for k, v in {"status": status, "entry": entry, "department": department}.items() if v}
    return render_page(
        request,
        principal,
        "ingest/feedback.html",
        {
            "items": feedback.item_reads(session, items, request_locale(request)),
            **pager(total, params, lambda n: "/ingest/feedback?" + urlencode({**query, "page": n})),
            "status": status or "active",
            "entry": entry or "",
            "department": department or "",
            "departments": identity.all_departments(session) if batches.sees_all(principal) else [],
            "counts": feedback.counts(session, by=principal),
        },
    )


def _back(request: Request) -> str:
    referer = request.headers.get("referer", "")
    path = referer.split("//", 1)[-1].split("/", 1)[-1] if "//" in referer else ""
    return "/" + path if path.startswith("ingest/feedback") else "/ingest/feedback"


@router.post("/feedback/{item_id}/dispute")
async def dispute(request: Request, session: DbSession, principal: Responder, item_id: RowId) -> Response:
    """The providing department disputes an item with its reason."""
    form = await request.form()
    try:
        feedback.dispute(session, by=principal, item_id=item_id, data=FeedbackDispute(reason=text(form, "reason")))
    except ValidationError as exc:
        session.rollback()
        message = form_errors(exc, request_locale(request)).get("reason", "")
        return redirect(_back(request), flash=message or N_("Give the reason for the dispute."))
    return redirect(_back(request), flash=N_("The item is disputed; the hub will review it."))


@router.post("/feedback/{item_id}/{decision}")
async def review(
    request: Request, session: DbSession, principal: Reviewer, item_id: RowId, decision: Decision
) -> Response:
    """The hub verifies a correction, upholds a dispute (dismiss) or reopens the item."""
    note = text(await request.form(), "note")[:1000]
    feedback.review(session, by=principal, item_id=item_id, decision=decision, data=FeedbackReview(note=note))
    return redirect(_back(request), flash=N_("The feedback item is updated."))


@router.post("/feedback-verify-corrected")
async def verify_corrected(request: Request, session: DbSession, principal: Reviewer) -> Response:
    """Verify every corrected item (optionally of one department)."""
    department = text(await request.form(), "department") or None
    feedback.verify_all_corrected(session, by=principal, department=department)
    return redirect("/ingest/feedback?status=verified", flash=N_("Corrected items verified."))


# --- quality dashboard ---------------------------------------------------------------------------------------


@router.get("/quality", response_class=HTMLResponse)
def quality_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    days: Annotated[int, Query(ge=7, le=366)] = 90,
) -> Response:
    """Each department's records, problem rate and open feedback, and the trend by day (ECharts)."""
    overview = quality.overview(session, by=principal, days=days)
    chart = {
        "days": [d.isoformat() for d in overview.series.days],
        "received": overview.series.received,
        "rejected": overview.series.rejected,
        "opened": overview.series.feedback_opened,
        "closed": overview.series.feedback_closed,
        "departments": [d.department.name for d in overview.departments],
        "open_feedback": [d.open_feedback for d in overview.departments],
        "problem_rate": [round(100 * (d.problem_rate or 0), 2) for d in overview.departments],
    }
    totals = {
        "records": sum(d.records for d in overview.departments),
        "received": sum(d.rows_received for d in overview.departments),
        "rejected": sum(d.rows_rejected + d.rows_warned for d in overview.departments),
        "open": sum(d.open_feedback for d in overview.departments),
        "departments": len(overview.departments),
    }
    return render_page(
        request,
        principal,
        "ingest/quality.html",
        {
            "overview": overview,
            "chart_json": json.dumps(chart, ensure_ascii=False),
            "totals": totals,
            "days": days,
        },
    )


# --- pulls ---------------------------------------------------------------------------------------------------


def _pulls_page(
    request: Request,
    session: DbSession,
    principal: Any,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        principal,
        "ingest/pulls.html",
        {
            "items": pulls.pull_reads(session, pulls.list_pulls(session, by=principal)),
            "entries": batches.entries_for_submission(session, by=principal),
            "values": values or {"every_minutes": 1440, "enabled": True},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/pulls", response_class=HTMLResponse)
def pull_list(request: Request, session: DbSession, principal: Reader) -> Response:
    """Scheduled pulls from department databases."""
    return _pulls_page(request, session, principal)


@router.post("/pulls", response_class=HTMLResponse)
async def pull_create(request: Request, session: DbSession, principal: Puller) -> Response:
    """Configure a pull from the form."""
    form = await request.form()
    payload = {
        "name": text(form, "name"),
        "entry_code": text(form, "entry_code"),
        "url": text(form, "url"),
        "query": text(form, "query"),
        "every_minutes": text(form, "every_minutes") or "0",
        "enabled": form.get("enabled") == "on",
    }
    try:
        pulls.create_pull(session, by=principal, data=PullIn.model_validate(payload))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        shown = {**payload, "url": ""}  # a URL may hold a password: never echo it back
        return _pulls_page(
            request, session, principal, values=shown, errors=form_errors(exc, request_locale(request)), status_code=422
        )
    return redirect("/ingest/pulls", flash=N_("The pull is saved; it runs within a minute."))


@router.post("/pulls/{pull_id}/run")
def pull_run(request: Request, session: DbSession, principal: Puller, pull_id: RowId) -> Response:
    """Run a pull now."""
    pulls.request_run(session, by=principal, pull_id=pull_id)
    return redirect("/ingest/pulls", flash=N_("The pull is queued."))


@router.post("/pulls/{pull_id}/toggle")
def pull_toggle(request: Request, session: DbSession, principal: Puller, pull_id: RowId) -> Response:
    """Switch a pull's schedule on or off."""
    current = pulls.get_pull(session, by=principal, pull_id=pull_id)
    pulls.update_pull(session, by=principal, pull_id=pull_id, data=PullUpdate(enabled=not current.enabled))
    return redirect("/ingest/pulls", flash=N_("The pull is updated."))


@router.post("/pulls/{pull_id}/delete")
def pull_delete(request: Request, session: DbSession, principal: Puller, pull_id: RowId) -> Response:
    """Remove a pull."""
    pulls.delete_pull(session, by=principal, pull_id=pull_id)
    return redirect("/ingest/pulls", flash=N_("The pull is removed."))


# --- code tables ---------------------------------------------------------------------------------------------


@router.get("/code-tables", response_class=HTMLResponse)
def code_tables(
    request: Request,
    session: DbSession,
    principal: Reader,
    name: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The code tables rules can use; one of them with its codes."""
    locale = request_locale(request)
    shown = ruleset.get_code_table(session, name, locale) if name else None
    return render_page(
        request,
        principal,
        "ingest/code_tables.html",
        {
            "tables": ruleset.list_code_tables(session, locale),
            "shown": shown,
            "errors": {},
            "values": {},
        },
    )


@router.post("/code-tables", response_class=HTMLResponse)
async def code_table_save(request: Request, session: DbSession, principal: CodeKeeper) -> Response:
    """Create or replace one of the city's code tables from 'code,label' lines."""
    form = await request.form()
    name, title, lines = text(form, "name"), text(form, "title"), text(form, "codes")
    codes: dict[str, str] = {}
    for line in lines.splitlines():
        if line.strip():
            code, _, label = line.replace("，", ",").partition(",")
            codes[code.strip()] = label.strip()
    try:
        ruleset.put_code_table(session, by=principal, name=name, data=CodeTableIn(title=title, codes=codes))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        locale = request_locale(request)
        return render_page(
            request,
            principal,
            "ingest/code_tables.html",
            {
                "tables": ruleset.list_code_tables(session, locale),
                "shown": None,
                "errors": form_errors(exc, locale),
                "values": {"name": name, "title": title, "codes": lines},
            },
            status_code=422,
        )
    return redirect(f"/ingest/code-tables?name={name}", flash=N_("The code table is saved."))
