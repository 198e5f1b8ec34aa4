"""JSON API of data collection (/api/v1/ingest): batches, reports, rules, feedback, pulls, code tables, quality."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from smartcity.ingest import feedback, files, pulls, quality, reports, ruleset
from smartcity.ingest import service as batches
from smartcity.ingest.feedback import Decision, FeedbackFilter
from smartcity.ingest.permissions import (
    INGEST_CODES,
    INGEST_PULL,
    INGEST_READ,
    INGEST_RESPOND,
    INGEST_REVIEW,
    INGEST_RULES,
    INGEST_SUBMIT,
)
from smartcity.ingest.schemas import (
    BatchRead,
    CodeTableIn,
    CodeTableRead,
    FeedbackDispute,
    FeedbackRead,
    FeedbackReview,
    MappingIn,
    MappingRead,
    ProblemRowRead,
    PullIn,
    PullRead,
    PullUpdate,
    QualityOverview,
    QualityReport,
    RuleIn,
    RuleRead,
)
from smartcity.ingest.service import BatchFilter
from smartcity.ingest.vocab import BatchStatus, FeedbackStatus, Source
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import request_locale
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import Page, PageParams, page_body, page_params

PREFIX = "/api/v1/ingest"
router = APIRouter(prefix=PREFIX, tags=["ingest"])
Reader = Annotated[Principal, Depends(api(INGEST_READ))]
Submitter = Annotated[Principal, Depends(api(INGEST_SUBMIT))]
RuleWriter = Annotated[Principal, Depends(api(INGEST_RULES))]
Responder = Annotated[Principal, Depends(api(INGEST_RESPOND))]
Reviewer = Annotated[Principal, Depends(api(INGEST_REVIEW))]
Puller = Annotated[Principal, Depends(api(INGEST_PULL))]
CodeKeeper = Annotated[Principal, Depends(api(INGEST_CODES))]
Paging = Annotated[PageParams, Depends(page_params)]
UPLOAD_PATH = rf"{PREFIX}/entries/[^/]+/batches"


# --- batches -------------------------------------------------------------------------------------------------


@router.post(
    "/entries/{code}/batches",
    response_model=BatchRead,
    status_code=202,
    responses={200: {"model": BatchRead, "description": "the same file was already loaded; nothing changed"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the file itself: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or JSON Lines",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def submit_batch(
    request: Request,
    session: DbSession,
    principal: Submitter,
    code: str,
    response: Response,
    filename: Annotated[str, Query(min_length=1, max_length=200, description="the file's name, for reports")],
    version: Annotated[int | None, Query(ge=1, le=100_000, description="schema version (default: current)")] = None,
    force: Annotated[bool, Query(description="process even if the same file was already loaded")] = False,
    received: Annotated[
        dt.datetime | None,
        Query(description="when a file delivered offline reached the hub (ISO 8601; no offset means city time)"),
    ] = None,
) -> BatchRead:
    """Submit a file of records for an entry; 202 and the queued batch (poll it), or 200 with the earlier batch."""
    files.check_declared_size(request.headers.get("content-length"))
    stored = await files.store_stream(request.stream(), filename)
    submission = await run_in_threadpool(
        batches.submit_batch,
        session,
        by=principal,
        code=code,
        stored=stored,
        source=Source.API,
        version=version,
        force=force,
        received_at=received,
    )
    response.headers["Location"] = f"{PREFIX}/batches/{submission.batch.id}"
    if submission.duplicate:
        response.status_code = 200
    return batches.batch_reads(session, [submission.batch], request_locale(request))[0]


@router.get("/batches", response_model=Page[BatchRead])
def list_batches(
    request: Request,
    session: DbSession,
    principal: Reader,
    params: Paging,
    entry: Annotated[str | None, Query(max_length=40, description="catalogue entry code")] = None,
    department: Annotated[str | None, Query(max_length=16, description="providing department code")] = None,
    status: BatchStatus | None = None,
) -> dict:
    """Batches, newest first (department users see their own department's)."""
    flt = BatchFilter(entry_code=entry, department=department, status=status)
    items, total = batches.list_batches(session, by=principal, flt=flt, params=params)
    return page_body(batches.batch_reads(session, items, request_locale(request)), total, params)


@router.get("/batches/{batch_id}", response_model=BatchRead)
def get_batch(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> BatchRead:
    """One batch, with its progress while it runs."""
    batch = batches.get_batch(session, by=principal, batch_id=batch_id)
    return batches.batch_reads(session, [batch], request_locale(request))[0]


@router.get("/batches/{batch_id}/report", response_model=QualityReport)
def batch_report(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> QualityReport:
    """The batch's quality report: counts per rule and field, sample of bad rows, score."""
    return reports.quality_report(session, by=principal, batch_id=batch_id, locale=request_locale(request))


@router.get("/batches/{batch_id}/rejected", response_model=Page[ProblemRowRead])
def rejected_rows(request: Request, session: DbSession, principal: Reader, batch_id: RowId, params: Paging) -> dict:
    """The batch's quarantined rows with every rule each broke."""
    items, total = reports.rejected_rows(
        session, by=principal, batch_id=batch_id, params=params, locale=request_locale(request)
    )
    return page_body(items, total, params)


@router.get("/batches/{batch_id}/rejected.csv", response_class=StreamingResponse)
def rejected_csv(request: Request, session: DbSession, principal: Reader, batch_id: RowId) -> StreamingResponse:
    """The quarantined rows as CSV (UTF-8 with BOM, opens in Excel/WPS) with a problem column, for correction."""
    name, rows = reports.rejected_csv(session, by=principal, batch_id=batch_id, locale=request_locale(request))
    return StreamingResponse(
        rows, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/batches/{batch_id}/mapping", response_model=MappingRead)
def batch_mapping(session: DbSession, principal: Reader, batch_id: RowId) -> MappingRead:
    """How the batch's columns map to the entry's fields, and what still needs mapping."""
    return reports.mapping_read(session, by=principal, batch_id=batch_id)


@router.put("/batches/{batch_id}/mapping", response_model=BatchRead)
def set_batch_mapping(
    request: Request, session: DbSession, principal: Submitter, batch_id: RowId, data: MappingIn
) -> BatchRead:
    """Finish the mapping step of an uploaded batch (saved for the department) and queue it."""
    submission = batches.map_columns(session, by=principal, batch_id=batch_id, columns=data.columns)
    return batches.batch_reads(session, [submission.batch], request_locale(request))[0]


@router.post("/batches/{batch_id}/rerun", response_model=BatchRead, status_code=202)
def rerun_batch(request: Request, session: DbSession, principal: Submitter, batch_id: RowId) -> BatchRead:
    """Queue a failed or interrupted batch again."""
    batch = batches.rerun_batch(session, by=principal, batch_id=batch_id)
    return batches.batch_reads(session, [batch], request_locale(request))[0]


@router.delete("/batches/{batch_id}", status_code=204)
def discard_batch(session: DbSession, principal: Submitter, batch_id: RowId) -> Response:
    """Discard an uploaded batch that is still waiting for its column mapping."""
    batches.discard_batch(session, by=principal, batch_id=batch_id)
    return Response(status_code=204)


# --- mappings and rules --------------------------------------------------------------------------------------


@router.get("/entries/{code}/mapping", response_model=dict[str, str | None])
def entry_mapping(session: DbSession, principal: Reader, code: str) -> dict[str, str | None]:
    """The column mapping saved for the entry's current version (header → field, null = ignored)."""
    return reports.saved_mapping(session, by=principal, code=code)


@router.put("/entries/{code}/mapping", response_model=dict[str, str | None])
def put_entry_mapping(session: DbSession, principal: RuleWriter, code: str, data: MappingIn) -> dict[str, str | None]:
    """Save how the department's files name the fields of the entry's current version."""
    return reports.put_saved_mapping(session, by=principal, code=code, columns=data.columns)


@router.get("/entries/{code}/rules", response_model=list[RuleRead])
def list_rules(request: Request, session: DbSession, principal: Reader, code: str) -> list[RuleRead]:
    """The entry's declared validation rules (type, required and key uniqueness come from the schema)."""
    locale = request_locale(request)
    return [ruleset.rule_read(r, locale) for r in ruleset.list_rules(session, by=principal, code=code)]


@router.post("/entries/{code}/rules", response_model=RuleRead, status_code=201)
def create_rule(request: Request, session: DbSession, principal: RuleWriter, code: str, data: RuleIn) -> RuleRead:
    """Declare a validation rule on a field."""
    return ruleset.rule_read(ruleset.create_rule(session, by=principal, code=code, data=data), request_locale(request))


@router.get("/entries/{code}/rules/suggestions", response_model=list[RuleIn])
def suggested_rules(session: DbSession, principal: Reader, code: str) -> list[RuleIn]:
    """Rules the schema's own descriptions call for (GB code tables, identifiers, phones, dates)."""
    return reports.suggestions(session, by=principal, code=code)


@router.post("/entries/{code}/rules/suggestions", response_model=list[RuleRead], status_code=201)
def apply_suggested_rules(request: Request, session: DbSession, principal: RuleWriter, code: str) -> list[RuleRead]:
    """Declare every suggested rule the entry does not have yet."""
    locale = request_locale(request)
    return [ruleset.rule_read(r, locale) for r in ruleset.apply_suggestions(session, by=principal, code=code)]


@router.put("/entries/{code}/rules/{rule_id}", response_model=RuleRead)
def update_rule(
    request: Request, session: DbSession, principal: RuleWriter, code: str, rule_id: RowId, data: RuleIn
) -> RuleRead:
    """Change a rule."""
    rule = ruleset.update_rule(session, by=principal, code=code, rule_id=rule_id, data=data)
    return ruleset.rule_read(rule, request_locale(request))


@router.delete("/entries/{code}/rules/{rule_id}", status_code=204)
def delete_rule(session: DbSession, principal: RuleWriter, code: str, rule_id: RowId) -> Response:
    """Remove a rule."""
    ruleset.delete_rule(session, by=principal, code=code, rule_id=rule_id)
    return Response(status_code=204)


@router.get("/code-tables", response_model=list[CodeTableRead])
def list_code_tables(request: Request, session: DbSession, principal: Reader) -> list[CodeTableRead]:
    """Code tables that enumeration rules can use: national standards, the city's towns, the city's own."""
    return ruleset.list_code_tables(session, request_locale(request))


@router.get("/code-tables/{name}", response_model=CodeTableRead)
def get_code_table(request: Request, session: DbSession, principal: Reader, name: str) -> CodeTableRead:
    """One code table with its codes and labels."""
    return ruleset.get_code_table(session, name, request_locale(request))


@router.put("/code-tables/{name}", response_model=CodeTableRead)
def put_code_table(session: DbSession, principal: CodeKeeper, name: str, data: CodeTableIn) -> CodeTableRead:
    """Create or replace one of the city's own code tables."""
    return ruleset.put_code_table(session, by=principal, name=name, data=data)


# --- feedback ------------------------------------------------------------------------------------------------


@router.get("/feedback", response_model=Page[FeedbackRead])
def list_feedback(
    request: Request,
    session: DbSession,
    principal: Reader,
    params: Paging,
    status: FeedbackStatus | None = None,
    active: Annotated[bool, Query(description="only open and disputed items")] = False,
    entry: Annotated[str | None, Query(max_length=40)] = None,
    department: Annotated[str | None, Query(max_length=16)] = None,
    batch: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> dict:
    """Problem records fed back to departments (department users see their own)."""
    flt = FeedbackFilter(status=status, active_only=active, entry_code=entry, department=department, batch_id=batch)
    items, total = feedback.list_items(session, by=principal, flt=flt, params=params)
    return page_body(feedback.item_reads(session, items, request_locale(request)), total, params)


@router.get("/feedback/{item_id}", response_model=FeedbackRead)
def get_feedback(request: Request, session: DbSession, principal: Reader, item_id: RowId) -> FeedbackRead:
    """One feedback item."""
    item = feedback.get_item(session, by=principal, item_id=item_id)
    return feedback.item_reads(session, [item], request_locale(request))[0]


@router.post("/feedback/{item_id}/dispute", response_model=FeedbackRead)
def dispute_feedback(
    request: Request, session: DbSession, principal: Responder, item_id: RowId, data: FeedbackDispute
) -> FeedbackRead:
    """The providing department disputes a problem record, giving its reason."""
    item = feedback.dispute(session, by=principal, item_id=item_id, data=data)
    return feedback.item_reads(session, [item], request_locale(request))[0]


@router.post("/feedback/{item_id}/{decision}", response_model=FeedbackRead)
def review_feedback(
    request: Request, session: DbSession, principal: Reviewer, item_id: RowId, decision: Decision, data: FeedbackReview
) -> FeedbackRead:
    """The hub's review: `verify` a correction, `dismiss` an item whose dispute it upholds, `reopen` one it does not."""
    item = feedback.review(session, by=principal, item_id=item_id, decision=decision, data=data)
    return feedback.item_reads(session, [item], request_locale(request))[0]


@router.get("/quality", response_model=QualityOverview)
def quality_overview(
    session: DbSession,
    principal: Reader,
    days: Annotated[int, Query(ge=1, le=366, description="how many days back")] = 90,
) -> QualityOverview:
    """Each department's records, problem rate and open feedback, and the daily trend."""
    return quality.overview(session, by=principal, days=days)


# --- pulls ---------------------------------------------------------------------------------------------------


@router.get("/pulls", response_model=list[PullRead])
def list_pulls(session: DbSession, principal: Reader) -> list[PullRead]:
    """Scheduled pulls from department databases."""
    return pulls.pull_reads(session, pulls.list_pulls(session, by=principal))


@router.post("/pulls", response_model=PullRead, status_code=201)
def create_pull(session: DbSession, principal: Puller, data: PullIn, response: Response) -> PullRead:
    """Configure a scheduled pull (it first runs within a minute)."""
    pull = pulls.create_pull(session, by=principal, data=data)
    response.headers["Location"] = f"{PREFIX}/pulls/{pull.id}"
    return pulls.pull_reads(session, [pull])[0]


@router.get("/pulls/{pull_id}", response_model=PullRead)
def get_pull(session: DbSession, principal: Reader, pull_id: RowId) -> PullRead:
    """One pull."""
    return pulls.pull_reads(session, [pulls.get_pull(session, by=principal, pull_id=pull_id)])[0]


@router.patch("/pulls/{pull_id}", response_model=PullRead)
def update_pull(session: DbSession, principal: Puller, pull_id: RowId, data: PullUpdate) -> PullRead:
    """Change a pull."""
    return pulls.pull_reads(session, [pulls.update_pull(session, by=principal, pull_id=pull_id, data=data)])[0]


@router.delete("/pulls/{pull_id}", status_code=204)
def delete_pull(session: DbSession, principal: Puller, pull_id: RowId) -> Response:
    """Remove a pull."""
    pulls.delete_pull(session, by=principal, pull_id=pull_id)
    return Response(status_code=204)


@router.post("/pulls/{pull_id}/run", status_code=202, response_class=JSONResponse)
def run_pull(session: DbSession, principal: Puller, pull_id: RowId) -> JSONResponse:
    """Run a pull now (in the background)."""
    pulls.request_run(session, by=principal, pull_id=pull_id)
    return JSONResponse({"queued": True}, status_code=202)
