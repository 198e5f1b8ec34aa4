"""Console pages of sharing and exchange (/exchange): requests to send and decide, grants on both sides,
subscriptions with their signing secret, and the dead-letter list; and the request button on catalogue entries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.catalog.vocab import LABELS, SharingType
from smartcity.exchange import push, sharing
from smartcity.exchange.permissions import (
    EXCHANGE_DECIDE,
    EXCHANGE_READ,
    EXCHANGE_REQUEST,
    EXCHANGE_SUBSCRIBE,
)
from smartcity.exchange.schemas import DecisionIn, RequestIn, RevokeIn, SubscriptionIn
from smartcity.exchange.vocab import (
    DELIVERY_LABELS,
    GRANT_LABELS,
    REQUEST_LABELS,
    DeliveryStatus,
    GrantState,
    RequestStatus,
    Side,
)
from smartcity.platform.console import form_errors, redirect, render
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, pager

router = APIRouter(prefix="/exchange", include_in_schema=False)
Reader = Annotated[Principal, Depends(page(EXCHANGE_READ))]
Requester = Annotated[Principal, Depends(page(EXCHANGE_REQUEST))]
Decider = Annotated[Principal, Depends(page(EXCHANGE_DECIDE))]
Subscriber = Annotated[Principal, Depends(page(EXCHANGE_SUBSCRIBE))]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
PAGE_SIZE = 20


def _render(request: Request, principal: Principal, name: str, context: dict[str, Any], status: int = 200) -> Response:
    values = {
        "request_labels": REQUEST_LABELS,
        "grant_labels": GRANT_LABELS,
        "delivery_labels": DELIVERY_LABELS,
        "sharing_labels": LABELS["sharing_type"],
        "can_request": principal.can(EXCHANGE_REQUEST),
        "can_decide": principal.can(EXCHANGE_DECIDE),
        "can_subscribe": principal.can(EXCHANGE_SUBSCRIBE),
        "department_id": principal.department_id,
        **context,
    }
    return render(request, name, values, status_code=status)


def request_button(values: dict[str, Any]) -> str:
    """On a catalogue entry's page: ask to use it (other departments' officers; not for 不予共享 entries)."""
    principal, entry, translate = values.get("principal"), values.get("entry"), values.get("_")
    if principal is None or entry is None or translate is None or not principal.can(EXCHANGE_REQUEST):
        return ""
    if entry.sharing_type is SharingType.NONE or principal.department_code in (None, entry.department.code):
        return ""
    label = escape(translate("Request to use"))
    return str(Markup(f'<a class="button" href="/exchange/requests/new?entry={escape(entry.code)}">{label}</a>'))


@router.get("", response_class=HTMLResponse)
def overview(request: Request, session: DbSession, principal: Reader) -> Response:
    """What waits for the caller's department: requests to decide, its own open requests, grants and dead letters."""
    first = PageParams(page=1, page_size=10)
    to_decide, to_decide_total = sharing.list_requests(
        session, by=principal, side=Side.PROVIDED, status=RequestStatus.PENDING, params=first
    )
    mine, mine_total = sharing.list_requests(
        session, by=principal, side=Side.RECEIVED, status=RequestStatus.PENDING, params=first
    )
    held = sharing.list_grants(session, by=principal, side=Side.RECEIVED, state=GrantState.ACTIVE, params=first)
    given = sharing.list_grants(session, by=principal, side=Side.PROVIDED, state=GrantState.ACTIVE, params=first)
    dead = push.list_deliveries(session, by=principal, status=DeliveryStatus.DEAD, subscription_id=None, params=first)
    context = {
        "active": "overview",
        "to_decide": to_decide,
        "to_decide_total": to_decide_total,
        "mine": mine,
        "mine_total": mine_total,
        "held_total": held[1],
        "given_total": given[1],
        "dead_total": dead[1],
    }
    return _render(request, principal, "exchange/overview.html", context)


@router.get("/requests", response_class=HTMLResponse)
def requests_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    side: Side | None = None,
    status: RequestStatus | None = None,
    page_no: PageNo = 1,
) -> Response:
    """Requests the caller's department sent (received side) or was sent (provided side)."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = sharing.list_requests(session, by=principal, side=side, status=status, params=params)

    def url_for_page(n: int) -> str:
        args = {"side": side or "", "status": status or "", "page": n}
        return "/exchange/requests?" + urlencode({k: v for k, v in args.items() if v})

    context = {
        "active": "requests",
        "items": items,
        "side": side,
        "status": status,
        **pager(total, params, url_for_page),
    }
    return _render(request, principal, "exchange/requests.html", context)


def _request_form(
    request: Request,
    session: Session,
    principal: Principal,
    code: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    entry, _ = catalog.entry_and_version(session, by=principal, code=code)
    context = {"active": "requests", "entry": entry, "values": values, "errors": errors}
    return _render(request, principal, "exchange/request_form.html", context, status)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request(
    request: Request, session: DbSession, principal: Requester, entry: Annotated[str, Query(max_length=40)]
) -> Response:
    """The request form for one entry: purpose, legal basis, fields, period, plain or masked."""
    until = (dt.date.today() + dt.timedelta(days=180)).isoformat()
    return _request_form(request, session, principal, entry, {"valid_until": until, "fields": None}, {})


@router.post("/requests", response_class=HTMLResponse)
async def send_request(request: Request, session: DbSession, principal: Requester) -> Response:
    """Send the request; 无条件共享 is granted at once, anything else goes to the providing department."""
    form = await request.form()
    code = str(form.get("entry_code") or "")[:40]
    values = {
        "entry_code": code,
        "purpose": str(form.get("purpose") or ""),
        "legal_basis": str(form.get("legal_basis") or ""),
        "fields": [str(f) for f in form.getlist("fields")],
        "plain": form.get("plain") == "on",
        "valid_until": str(form.get("valid_until") or ""),
    }
    try:
        made = sharing.create_request(session, by=principal, data=RequestIn.model_validate(values))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        return _request_form(request, session, principal, code, values, form_errors(exc, request_locale(request)), 422)
    flash = N_("Granted at once (无条件共享).") if made.grant else N_("Sent to the providing department for approval.")
    return redirect(f"/exchange/requests/{made.number}", flash=flash)


@router.get("/requests/{number}", response_class=HTMLResponse)
def request_detail(request: Request, session: DbSession, principal: Reader, number: str) -> Response:
    """One request, with the decision form for the providing department."""
    found = sharing.get_request(session, by=principal, number=number[:24])
    entry, _ = catalog.entry_and_version(session, by=principal, code=found.entry_code)
    context = {"active": "requests", "item": found, "entry": entry, "errors": {}}
    return _render(request, principal, "exchange/request_detail.html", context)


@router.post("/requests/{number}/decision", response_class=HTMLResponse)
async def decide(request: Request, session: DbSession, principal: Decider, number: str) -> Response:
    """Approve (possibly fewer fields, a shorter period, masked only) or reject with a reason."""
    form = await request.form()
    approve = form.get("decision") == "approve"
    data: dict[str, Any] = {"approve": approve, "note": str(form.get("note") or "")}
    if approve:
        data["fields"] = [str(f) for f in form.getlist("fields")] or None
        data["plain"] = form.get("plain") == "on"
        data["valid_until"] = str(form.get("valid_until") or "") or None
    try:
        sharing.decide_request(session, by=principal, number=number[:24], data=DecisionIn.model_validate(data))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        found = sharing.get_request(session, by=principal, number=number[:24])
        entry, _ = catalog.entry_and_version(session, by=principal, code=found.entry_code)
        errors = form_errors(exc, request_locale(request))
        return _render(
            request,
            principal,
            "exchange/request_detail.html",
            {"active": "requests", "item": found, "entry": entry, "errors": errors},
            422,
        )
    return redirect(
        f"/exchange/requests/{number}",
        flash=N_("Approved: the grant is in force.")
        if approve
        else N_("Rejected; the requesting department sees your reason."),
    )


@router.post("/requests/{number}/withdraw")
def withdraw(request: Request, session: DbSession, principal: Requester, number: str) -> Response:
    sharing.withdraw_request(session, by=principal, number=number[:24])
    return redirect(f"/exchange/requests/{number}", flash=N_("Request withdrawn."))


@router.get("/grants", response_class=HTMLResponse)
def grants_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    side: Side | None = None,
    state: GrantState | None = None,
    page_no: PageNo = 1,
) -> Response:
    """Grants the caller's department holds (received) or gave (provided)."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = sharing.list_grants(session, by=principal, side=side, state=state, params=params)

    def url_for_page(n: int) -> str:
        args = {"side": side or "", "state": state or "", "page": n}
        return "/exchange/grants?" + urlencode({k: v for k, v in args.items() if v})

    context = {"active": "grants", "items": items, "side": side, "state": state, **pager(total, params, url_for_page)}
    return _render(request, principal, "exchange/grants.html", context)


@router.get("/grants/{number}", response_class=HTMLResponse)
def grant_detail(request: Request, session: DbSession, principal: Reader, number: str) -> Response:
    """One grant, with revocation for the providing department and subscription for the holding one."""
    found = sharing.get_grant(session, by=principal, number=number[:24])
    return _render(
        request,
        principal,
        "exchange/grant_detail.html",
        {"active": "grants", "item": found, "errors": {}, "secret": None},
    )


@router.post("/grants/{number}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, session: DbSession, principal: Decider, number: str) -> Response:
    form = await request.form()
    try:
        sharing.revoke_grant(
            session, by=principal, number=number[:24], data=RevokeIn(reason=str(form.get("reason") or ""))
        )
    except (ValidationError, DomainError) as exc:
        session.rollback()
        found = sharing.get_grant(session, by=principal, number=number[:24])
        return _render(
            request,
            principal,
            "exchange/grant_detail.html",
            {"active": "grants", "item": found, "errors": form_errors(exc, request_locale(request)), "secret": None},
            422,
        )
    return redirect(f"/exchange/grants/{number}", flash=N_("Grant revoked: reads and pushes under it stop now."))


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(request: Request, session: DbSession, principal: Reader, page_no: PageNo = 1) -> Response:
    """The department's webhooks and what waits for them."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = push.list_subscriptions(session, by=principal, params=params)
    context = {
        "active": "subscriptions",
        "items": items,
        **pager(total, params, lambda n: f"/exchange/subscriptions?page={n}"),
    }
    return _render(request, principal, "exchange/subscriptions.html", context)


@router.post("/subscriptions", response_class=HTMLResponse)
async def subscribe(request: Request, session: DbSession, principal: Subscriber) -> Response:
    """Subscribe a webhook under a grant; the signing secret is shown on the answer page only."""
    form = await request.form()
    grant = str(form.get("grant") or "")[:24]
    try:
        made = push.create_subscription(
            session, by=principal, data=SubscriptionIn.model_validate({"grant": grant, "url": form.get("url") or ""})
        )
    except (ValidationError, DomainError) as exc:
        session.rollback()
        found = sharing.get_grant(session, by=principal, number=grant)
        return _render(
            request,
            principal,
            "exchange/grant_detail.html",
            {"active": "grants", "item": found, "errors": form_errors(exc, request_locale(request)), "secret": None},
            422,
        )
    found = sharing.get_grant(session, by=principal, number=grant)
    return _render(
        request,
        principal,
        "exchange/grant_detail.html",
        {"active": "grants", "item": found, "errors": {}, "secret": made.secret, "subscription": made},
    )


@router.post("/subscriptions/{subscription_id}/end")
def end_subscription(request: Request, session: DbSession, principal: Subscriber, subscription_id: RowId) -> Response:
    push.end_subscription(session, by=principal, subscription_id=subscription_id)
    return redirect("/exchange/subscriptions", flash=N_("Subscription ended."))


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    status: DeliveryStatus | None = DeliveryStatus.DEAD,
    page_no: PageNo = 1,
) -> Response:
    """Pushes to the department's webhooks; by default the dead letters."""
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = push.list_deliveries(session, by=principal, status=status, subscription_id=None, params=params)
    context = {
        "active": "deliveries",
        "items": items,
        "status": status,
        **pager(total, params, lambda n: f"/exchange/deliveries?status={status or ''}&page={n}"),
    }
    return _render(request, principal, "exchange/deliveries.html", context)


@router.post("/deliveries/{delivery_id}/redeliver")
def redeliver(request: Request, session: DbSession, principal: Subscriber, delivery_id: RowId) -> Response:
    push.redeliver(session, by=principal, delivery_id=delivery_id)
    return redirect("/exchange/deliveries", flash=N_("Queued to be sent again."))
