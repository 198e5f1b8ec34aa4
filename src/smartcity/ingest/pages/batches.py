"""Console pages of batches: list, upload (with a progress bar), column mapping, batch report, rejected rows."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from smartcity.config import get_settings
from smartcity.ingest import feedback, files, reports
from smartcity.ingest import service as batches
from smartcity.ingest.pages.common import PAGE_SIZE, PageNo, Reader, Submitter, render_page
from smartcity.ingest.permissions import INGEST_SUBMIT
from smartcity.ingest.service import BatchFilter
from smartcity.ingest.vocab import BatchStatus, Source
from smartcity.platform.console import redirect
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.paging import PageParams, pager

router = APIRouter(prefix="/ingest", include_in_schema=False)
UPLOAD_PATH = "/ingest/upload"


@router.get("", response_class=HTMLResponse)
def batch_list(
    request: Request,
    session: DbSession,
    principal: Reader,
    entry: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page_no: PageNo = 1,
) -> Response:
    """Batches the caller can see, newest first."""
    chosen = BatchStatus(status) if status in set(BatchStatus) else None
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = batches.list_batches(
        session, by=principal, flt=BatchFilter(entry_code=entry or None, status=chosen), params=params
    )
    query = {k: v for k, v in {"entry": entry, "status": status}.items() if v}
    return render_page(
        request,
        principal,
        "ingest/batches.html",
        {
            "items": batches.batch_reads(session, items, request_locale(request)),
            **pager(total, params, lambda n: "/ingest?" + urlencode({**query, "page": n})),
            "entry": entry or "",
            "status": status or "",
            "counts": batches.counts_by_status(session, by=principal),
            "feedback_counts": feedback.counts(session, by=principal),
        },
    )


@router.get("/new", response_class=HTMLResponse)
def upload_form(
    request: Request,
    session: DbSession,
    principal: Submitter,
    entry: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Choose an entry and a file; the file is sent with a progress bar, then checked and processed."""
    return render_page(
        request,
        principal,
        "ingest/upload.html",
        {
            "entries": batches.entries_for_submission(session, by=principal),
            "entry": entry or "",
            "limit_mb": get_settings().ingest_max_file_bytes // (1024 * 1024),
        },
    )


@router.post(UPLOAD_PATH.removeprefix("/ingest"))
async def upload(
    request: Request,
    session: DbSession,
    principal: Submitter,
    entry: Annotated[str, Query(min_length=3, max_length=40)],
    filename: Annotated[str, Query(min_length=1, max_length=200)],
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> JSONResponse:
    """Receive an uploaded file (the request body) and answer where the browser goes next."""
    files.check_declared_size(request.headers.get("content-length"))
    stored = await files.store_stream(request.stream(), filename)
    submission = await run_in_threadpool(
        batches.submit_batch, session, by=principal, code=entry, stored=stored, source=Source.UPLOAD, version=version
    )
    batch = submission.batch
    if submission.needs_mapping:
        target = f"/ingest/batches/{batch.id}/mapping"
    else:
        target = f"/ingest/batches/{batch.id}" + ("?duplicate=1" if submission.duplicate else "")
    return JSONResponse({"batch_id": batch.id, "duplicate": submission.duplicate, "next": target})


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    batch_id: RowId,
    duplicate: Annotated[bool, Query()] = False,
) -> Response:
    """A batch: status and progress while it runs, then its quality report."""
    locale = request_locale(request)
    batch = batches.get_batch(session, by=principal, batch_id=batch_id)
    read = batches.batch_reads(session, [batch], locale)[0]
    report = reports.quality_report(session, by=principal, batch_id=batch_id, locale=locale)
    return render_page(
        request,
        principal,
        "ingest/batch.html",
        {
            "batch": read,
            "report": report,
            "duplicate": duplicate,
            "can_act": principal.can(INGEST_SUBMIT) and batches.owns(principal, batch.department_id),
        },
    )


@router.get("/batches/{batch_id}/progress", response_class=HTMLResponse)
def batch_progress(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> Response:
    """The progress panel of a batch (polled by the page); a finished batch makes the page reload."""
    batch = batches.get_batch(session, by=principal, batch_id=batch_id)
    read = batches.batch_reads(session, [batch], request_locale(request))[0]
    response = render_page(request, principal, "ingest/_progress.html", {"batch": read})
    if read.status in (BatchStatus.COMMITTED, BatchStatus.FAILED):
        response.headers["HX-Refresh"] = "true"
    return response


@router.get("/batches/{batch_id}/mapping", response_class=HTMLResponse)
def mapping_form(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> Response:
    """Map the file's columns to the entry's fields."""
    view = reports.mapping_read(session, by=principal, batch_id=batch_id)
    batch = batches.get_batch(session, by=principal, batch_id=batch_id)
    return render_page(
        request,
        principal,
        "ingest/mapping.html",
        {"view": view, "batch": batch, "errors": {}},
    )


@router.post("/batches/{batch_id}/mapping", response_class=HTMLResponse)
async def mapping_submit(request: Request, session: DbSession, principal: Submitter, batch_id: RowId) -> Response:
    """Save the mapping for the department and queue the batch."""
    form = await request.form()
    batch = batches.get_batch(session, by=principal, batch_id=batch_id)
    columns: dict[str, str | None] = dict(batch.mapping)  # the upload's suggestion, for selects a browser left out
    for index, header in enumerate(batch.headers):
        chosen = form.get(f"col-{index}")
        if isinstance(chosen, str) and chosen:
            columns[header] = None if chosen == "-" else chosen
    try:
        submission = batches.map_columns(session, by=principal, batch_id=batch_id, columns=columns)
    except DomainError as exc:
        session.rollback()
        view = reports.mapping_read(session, by=principal, batch_id=batch_id)
        view.columns.update(columns)
        return render_page(
            request,
            principal,
            "ingest/mapping.html",
            {
                "view": view,
                "batch": batches.get_batch(session, by=principal, batch_id=batch_id),
                "errors": {"_form": exc.localised_detail(request_locale(request))},
            },
            status_code=422,
        )
    if submission.duplicate:
        return redirect(f"/ingest/batches/{submission.batch.id}?duplicate=1")
    return redirect(f"/ingest/batches/{submission.batch.id}", flash=N_("The batch is queued."))


@router.post("/batches/{batch_id}/discard")
def discard(request: Request, session: DbSession, principal: Submitter, batch_id: RowId) -> Response:
    """Drop an upload that waits for its mapping."""
    batches.discard_batch(session, by=principal, batch_id=batch_id)
    return redirect("/ingest", flash=N_("The upload was discarded."))


@router.post("/batches/{batch_id}/rerun")
def rerun(request: Request, session: DbSession, principal: Submitter, batch_id: RowId) -> Response:
    """Queue a failed or interrupted batch again."""
    batches.rerun_batch(session, by=principal, batch_id=batch_id)
    return redirect(f"/ingest/batches/{batch_id}", flash=N_("The batch is queued."))


@router.get("/batches/{batch_id}/rejected", response_class=HTMLResponse)
def rejected(request: Request, session: DbSession, principal: Reader, batch_id: RowId, page_no: PageNo = 1) -> Response:
    """The quarantined rows of a batch with every rule each broke."""
    locale = request_locale(request)
    found = batches.get_batch(session, by=principal, batch_id=batch_id)
    batch = batches.batch_reads(session, [found], locale)[0]
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = reports.rejected_rows(session, by=principal, batch_id=batch_id, params=params, locale=locale)
    fields = [f for f in batch.mapping.values() if f is not None]
    return render_page(
        request,
        principal,
        "ingest/rejected.html",
        {
            "batch": batch,
            "items": items,
            "fields": fields,
            "titles": reports.field_titles(found),
            **pager(total, params, lambda n: f"/ingest/batches/{batch_id}/rejected?page={n}"),
        },
    )


@router.get("/batches/{batch_id}/rejected.csv")
def rejected_download(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> Response:
    """Download the quarantined rows to correct them and upload them again."""
    name, rows = reports.rejected_csv(session, by=principal, batch_id=batch_id, locale=request_locale(request))
    return StreamingResponse(
        rows, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/batches/{batch_id}/report.json")
def report_json(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> JSONResponse:
    """The quality report as JSON, downloaded from the console (the API serves the same at /api/v1/ingest)."""
    report = reports.quality_report(session, by=principal, batch_id=batch_id, locale=request_locale(request))
    return JSONResponse(
        report.model_dump(mode="json"),
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}-report.json"'},
    )
