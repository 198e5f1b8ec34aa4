"""Console pages of the base registries: overview, search, golden record (as of a date), review queue, addresses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from smartcity.config import get_settings
from smartcity.platform.console import redirect, render
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import NotFound
from smartcity.platform.i18n import N_
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, pager
from smartcity.registry import service as registry
from smartcity.registry.permissions import REGISTRY_MANAGE, REGISTRY_PLAIN, REGISTRY_READ, REGISTRY_REVIEW
from smartcity.registry.schemas import ReviewDecision
from smartcity.registry.service import GoldenFilter
from smartcity.registry.vocab import (
    ADDRESS_PART_LABELS,
    ATTRIBUTES,
    KIND_LABELS,
    MATCH_LABELS,
    METHOD_LABELS,
    RULE_LABELS,
    STATUS_LABELS,
    Kind,
    ReviewStatus,
)

router = APIRouter(prefix="/registry", include_in_schema=False)
Reader = Annotated[Principal, Depends(page(REGISTRY_READ))]
Reviewer = Annotated[Principal, Depends(page(REGISTRY_REVIEW))]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
PAGE_SIZE = 25


def _render(request: Request, principal: Principal, name: str, context: dict[str, Any]) -> HTMLResponse:
    return render(
        request,
        name,
        {
            "kinds": KIND_LABELS,
            "attributes": ATTRIBUTES,
            "rule_labels": RULE_LABELS,
            "method_labels": METHOD_LABELS,
            "status_labels": STATUS_LABELS,
            "part_labels": ADDRESS_PART_LABELS,
            "match_labels": MATCH_LABELS,
            "can_review": principal.can(REGISTRY_REVIEW),
            "can_manage": principal.can(REGISTRY_MANAGE),
            "plain": principal.can(REGISTRY_PLAIN),
            **context,
        },
    )


@router.get("", response_class=HTMLResponse)
def overview_page(request: Request, session: DbSession, principal: Reader) -> HTMLResponse:
    """The three registries: records, sources, feeds, pending review, the last run's figures."""
    figures = registry.overview(session, by=principal)
    feeds = registry.list_feeds(session, by=principal)
    return _render(request, principal, "registry/overview.html", {"figures": figures, "feeds": feeds})


@router.get("/{kind}", response_class=HTMLResponse)
def search_page(
    request: Request, session: DbSession, principal: Reader, kind: Kind, page_no: PageNo = 1, q: str | None = None
) -> HTMLResponse:
    """Search one registry's golden records."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    query = (q or "").strip()[:100] or None
    items, total = registry.search(session, by=principal, kind=kind, flt=GoldenFilter(q=query), params=params)

    def url_for_page(n: int) -> str:
        return f"/registry/{kind.value}?" + urlencode({"q": query or "", "page": n})

    context = {"kind": kind, "items": items, "q": query or "", **pager(total, params, url_for_page)}
    context["survivorship"] = registry.survivorship(session, by=principal, kind=kind)
    return _render(request, principal, "registry/search.html", context)


def _as_of(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        raise NotFound(N_("'{date}' is not a date (YYYY-MM-DD)."), date=text) from None
    # The end of that day in the city's time: what the registry knew on that date.
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(get_settings().timezone))
    return end - dt.timedelta(microseconds=1)


@router.get("/{kind}/records/{number}", response_class=HTMLResponse)
def record_page(
    request: Request, session: DbSession, principal: Reader, kind: Kind, number: str, as_of: str | None = None
) -> HTMLResponse:
    """A golden record with lineage, sources and history; `as_of` (a date) shows it as the registry knew it."""
    record = registry.get_golden(session, by=principal, kind=kind, number=number[:24], as_of=_as_of(as_of))
    return _render(request, principal, "registry/record.html", {"kind": kind, "record": record, "as_of": as_of or ""})


@router.get("/{kind}/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: DbSession,
    principal: Reviewer,
    kind: Kind,
    page_no: PageNo = 1,
    status: ReviewStatus = ReviewStatus.PENDING,
) -> HTMLResponse:
    """The clerical review queue: pairs between the thresholds, with how each attribute compared."""
    params = PageParams(page=page_no, page_size=10)
    items, total = registry.review_queue(session, by=principal, kind=kind, status=status, params=params)

    def url_for_page(n: int) -> str:
        return f"/registry/{kind.value}/review?" + urlencode({"status": status.value, "page": n})

    counts = registry.review_counts(session, kind=kind)
    context = {"kind": kind, "items": items, "status": status, "counts": counts, **pager(total, params, url_for_page)}
    return _render(request, principal, "registry/review.html", context)


@router.post("/{kind}/review/{pair_id}")
async def decide_pair(
    request: Request, session: DbSession, principal: Reviewer, kind: Kind, pair_id: RowId
) -> Response:
    """Accept or reject one pair."""
    form = await request.form()
    same = form.get("decision") == "same"
    reason = str(form.get("reason") or "").strip()[:500] or None
    registry.decide(session, by=principal, kind=kind, pair_id=pair_id, data=ReviewDecision(same=same, reason=reason))
    flash = N_("Linked: the two records are one.") if same else N_("Kept apart: the two records are different.")
    return redirect(f"/registry/{kind.value}/review", flash=flash)


@router.get("/{kind}/unmatched", response_class=HTMLResponse)
def unmatched_page(
    request: Request, session: DbSession, principal: Reader, kind: Kind, page_no: PageNo = 1
) -> HTMLResponse:
    """Source records whose address the address registry does not hold down to the door number."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = registry.unmatched_addresses(session, by=principal, kind=kind, params=params)

    def url_for_page(n: int) -> str:
        return f"/registry/{kind.value}/unmatched?page={n}"

    levels = registry.address_levels(session, by=principal, kind=kind)
    context = {"kind": kind, "items": items, "levels": levels, **pager(total, params, url_for_page)}
    return _render(request, principal, "registry/unmatched.html", context)


@router.get("/addresses/parse", response_class=HTMLResponse)
def parse_page(request: Request, session: DbSession, principal: Reader, text: str | None = None) -> HTMLResponse:
    """Take an address apart and find it in the address registry."""
    parsed = registry.parse_and_match(session, by=principal, text=text[:300]) if text else None
    return _render(request, principal, "registry/parse.html", {"text": text or "", "parsed": parsed})
