"""Console pages of the base registries: overview, search, golden record (as of a date), review queue, addresses."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from smartcity.config import get_settings
from smartcity.platform.console import form_errors, redirect, render
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, NotFound, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, pager
from smartcity.registry import service as registry
from smartcity.registry.permissions import REGISTRY_MANAGE, REGISTRY_PLAIN, REGISTRY_READ, REGISTRY_REVIEW
from smartcity.registry.schemas import FeedIn, ReviewDecision, SurvivorshipIn
from smartcity.registry.service import FeedForm, GoldenFilter
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
    Survivorship,
)

router = APIRouter(prefix="/registry", include_in_schema=False)
Reader = Annotated[Principal, Depends(page(REGISTRY_READ))]
Reviewer = Annotated[Principal, Depends(page(REGISTRY_REVIEW))]
Manager = Annotated[Principal, Depends(page(REGISTRY_MANAGE))]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
PAGE_SIZE = 25
RULE_VALUES = frozenset(r.value for r in Survivorship)


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


def _feed_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    kind: Kind,
    form: FeedForm | None,
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "kind": kind,
        "form": form,
        "errors": errors,
        "entries": registry.entry_choices(session, by=principal),
        "feeds": registry.list_feeds(session, by=principal, kind=kind),
    }
    response = _render(request, principal, "registry/feed.html", context)
    response.status_code = status_code
    return response


@router.get("/{kind}/feeds", response_class=HTMLResponse)
def feed_page(
    request: Request, session: DbSession, principal: Manager, kind: Kind, entry: str | None = None
) -> Response:
    """Add or change a feed: choose the catalogue entry, then which of its fields carries each attribute."""
    code = (entry or "").strip()[:40]
    if not code:
        return _feed_page(request, session, principal, kind, None, {})
    try:
        form = registry.feed_form(session, by=principal, kind=kind, entry_code=code)
    except NotFound as exc:
        return _feed_page(request, session, principal, kind, None, form_errors(exc, request_locale(request)), 404)
    return _feed_page(request, session, principal, kind, form, {})


@router.post("/{kind}/feeds", response_class=HTMLResponse)
async def save_feed(request: Request, session: DbSession, principal: Manager, kind: Kind) -> Response:
    """Save a feed from the form; on error, show the form again with the message beside its input."""
    posted = await request.form()
    code = str(posted.get("entry_code") or "").strip()[:40]
    chosen = {a: str(posted.get(f"attr-{a}") or "") for a in ATTRIBUTES[kind]}
    attributes = {a: f for a, f in chosen.items() if f}
    trust = str(posted.get("trust") or "")
    active = posted.get("active") == "on"
    try:
        data = FeedIn.model_validate({"entry_code": code, "attributes": attributes, "trust": trust, "active": active})
        registry.save_feed(session, by=principal, kind=kind, data=data)
    except (ValidationError, DomainError) as exc:
        session.rollback()
        errors = form_errors(exc, request_locale(request))
        try:
            form: FeedForm | None = registry.feed_form(session, by=principal, kind=kind, entry_code=code)
        except NotFound:
            form = None
        if form is not None:  # show what the person chose, not what is saved
            form = replace(form, attributes=attributes, active=active, trust=int(trust) if trust.isdigit() else 5)
        return _feed_page(request, session, principal, kind, form, errors, 422)
    return redirect("/registry", flash=N_("Feed saved; the next resolution reads it."))


@router.post("/{kind}/survivorship")
async def save_survivorship(request: Request, session: DbSession, principal: Manager, kind: Kind) -> Response:
    """Change the survivorship rules that the form changed (each change audited)."""
    posted = await request.form()
    current = registry.survivorship(session, by=principal, kind=kind)
    for attribute, rule in current.items():
        chosen = posted.get(f"rule-{attribute}")
        if isinstance(chosen, str) and chosen in RULE_VALUES and chosen != rule.value:
            data = SurvivorshipIn(attribute=attribute, rule=Survivorship(chosen))
            registry.set_survivorship(session, by=principal, kind=kind, data=data)
    return redirect(f"/registry/{kind.value}", flash=N_("Survivorship rules saved; the next resolution applies them."))


@router.post("/{kind}/runs")
def request_resolution(request: Request, session: DbSession, principal: Manager, kind: Kind) -> Response:
    """Queue a resolution of the registry for the background worker."""
    queued = registry.request_resolution(session, by=principal, kind=kind)
    flash = (
        N_("Resolution queued; the figures change when it is done.")
        if queued
        else N_("A resolution is already queued.")
    )
    return redirect("/registry", flash=flash)
