"""JSON API of sharing and exchange (/api/v1/exchange): requests, grants, the data service, subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.exchange import dataservice, push, sharing
from smartcity.exchange.permissions import (
    EXCHANGE_DATA,
    EXCHANGE_DECIDE,
    EXCHANGE_READ,
    EXCHANGE_REQUEST,
    EXCHANGE_SUBSCRIBE,
)
from smartcity.exchange.ratelimit import LIMITER
from smartcity.exchange.schemas import (
    DataPage,
    DataRecord,
    DecisionIn,
    DeliveryRead,
    GrantRead,
    RequestIn,
    RequestRead,
    RevokeIn,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionRead,
)
from smartcity.exchange.vocab import DeliveryStatus, GrantState, RequestStatus, Side
from smartcity.platform.deps import DbSession, RowId, request_session
from smartcity.platform.identity.deps import Credentials, api, bearer_principal
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import Page, PageParams, page_body, page_params
from smartcity.platform.permissions import RouteRule

PREFIX = "/api/v1/exchange"
router = APIRouter(prefix=PREFIX, tags=["exchange"])
Paging = Annotated[PageParams, Depends(page_params)]
Number = Annotated[str, Path(max_length=24)]
Code = Annotated[str, Path(max_length=40, description="The catalogue entry, e.g. 330281-GAJ-00001.")]


class DataRule(RouteRule):
    """The guard of the data-service routes: a bearer token holding `exchange.data`, within the caller's rate limit
    (429 with Retry-After beyond it).

    Here it only takes the credentials; `_served` checks them in the worker thread that also opens the session,
    reads and audits, so a data request costs one hop to a thread, not one per dependency."""

    permission = EXCHANGE_DATA

    async def __call__(self, credentials: Credentials) -> HTTPAuthorizationCredentials | None:
        return credentials


def _served(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    read: Callable[[Session, Principal], BaseModel],
) -> Response:
    """Authenticate, rate-limit, read and audit in one transaction of its own, and the answer serialised by the
    model itself (it was built from checked values; validating a page of rows again as a response model costs as
    much as reading them)."""
    with request_session(request.method) as session:
        principal = bearer_principal(session, request, credentials)
        principal.require(EXCHANGE_DATA)
        request.state.principal = principal
        settings = get_settings()
        key = f"token:{principal.token_id}" if principal.token_id is not None else f"user:{principal.user_id}"
        LIMITER.take(key, rate=settings.exchange_rate_limit, burst=settings.exchange_rate_burst)
        body = read(session, principal)
    return Response(body.model_dump_json(), media_type="application/json")


Reader = Annotated[Principal, Depends(api(EXCHANGE_READ))]
Requester = Annotated[Principal, Depends(api(EXCHANGE_REQUEST))]
Decider = Annotated[Principal, Depends(api(EXCHANGE_DECIDE))]
Subscriber = Annotated[Principal, Depends(api(EXCHANGE_SUBSCRIBE))]
DataCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(DataRule())]


@router.post("/requests", response_model=RequestRead, status_code=201)
def create_request(session: DbSession, principal: Requester, data: RequestIn) -> RequestRead:
    """Ask for another department's entry: 无条件共享 with masked values is granted at once, anything else waits for
    the providing department; 不予共享 entries cannot be requested (409)."""
    return sharing.create_request(session, by=principal, data=data)


@router.get("/requests", response_model=Page[RequestRead])
def list_requests(
    session: DbSession,
    principal: Reader,
    params: Paging,
    side: Annotated[Side | None, Query(description="received: asked by your department; provided: asked of it")] = None,
    status: RequestStatus | None = None,
) -> dict:
    """Requests your department sent or received, newest first."""
    items, total = sharing.list_requests(session, by=principal, side=side, status=status, params=params)
    return page_body(items, total, params)


@router.get("/requests/{number}", response_model=RequestRead)
def get_request(session: DbSession, principal: Reader, number: Number) -> RequestRead:
    """One request (404 unless your department is on one of its sides)."""
    return sharing.get_request(session, by=principal, number=number)


@router.post("/requests/{number}/decision", response_model=RequestRead)
def decide_request(session: DbSession, principal: Decider, number: Number, data: DecisionIn) -> RequestRead:
    """The providing department approves (a grant is made; it may narrow fields, period or plain access) or
    rejects with a reason."""
    return sharing.decide_request(session, by=principal, number=number, data=data)


@router.post("/requests/{number}/withdraw", response_model=RequestRead)
def withdraw_request(session: DbSession, principal: Requester, number: Number) -> RequestRead:
    """Take back a request that waits for a decision."""
    return sharing.withdraw_request(session, by=principal, number=number)


@router.get("/grants", response_model=Page[GrantRead])
def list_grants(
    session: DbSession,
    principal: Reader,
    params: Paging,
    side: Annotated[Side | None, Query(description="received: held by your department; provided: given by it")] = None,
    state: GrantState | None = None,
) -> dict:
    """Grants your department holds or gave, newest first."""
    items, total = sharing.list_grants(session, by=principal, side=side, state=state, params=params)
    return page_body(items, total, params)


@router.get("/grants/{number}", response_model=GrantRead)
def get_grant(session: DbSession, principal: Reader, number: Number) -> GrantRead:
    """One grant."""
    return sharing.get_grant(session, by=principal, number=number)


@router.post("/grants/{number}/revoke", response_model=GrantRead)
def revoke_grant(session: DbSession, principal: Decider, number: Number, data: RevokeIn) -> GrantRead:
    """End a grant now; its data service and pushes stop at once."""
    return sharing.revoke_grant(session, by=principal, number=number, data=data)


@router.get("/data/{code}", response_model=DataPage)
async def read_data(request: Request, credentials: DataCredentials, code: Code) -> Response:
    """Rows of a granted entry, in pages read after a cursor.

    Parameters: `fields=a,b` (default: every field of your grant); filters `f.<field>=<value>` or
    `f.<field>.<op>=<value>` with op eq, ne, lt, le, gt, ge, in (comma-separated) or prefix (text fields);
    `limit` (default 100, at most 1000); `after` (the `next` of the previous page); `grant` (a grant number, when
    your department holds several). Personal fields are masked unless your grant is plain. Every call is audited.
    """
    query = dataservice.parse_query(list(request.query_params.multi_items()))
    return await run_in_threadpool(
        _served, request, credentials, lambda session, by: dataservice.read_page(session, by=by, code=code, query=query)
    )


@router.get("/data/{code}/records/{key:path}", response_model=DataRecord)
async def read_record(
    request: Request,
    credentials: DataCredentials,
    code: Code,
    key: Annotated[str, Path(max_length=400, description="The business key; its parts joined by '|'.")],
    fields: Annotated[str | None, Query(max_length=2000, description="a,b: only these fields")] = None,
    grant: Annotated[str | None, Query(max_length=24)] = None,
) -> Response:
    """One record of a granted entry by its business key (e.g. the resident ID of 人口基础信息)."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    return await run_in_threadpool(
        _served,
        request,
        credentials,
        lambda session, by: dataservice.read_record(session, by=by, code=code, key=key, grant=grant, fields=wanted),
    )


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=201)
def create_subscription(session: DbSession, principal: Subscriber, data: SubscriptionIn) -> SubscriptionCreated:
    """Push the new and changed rows of a granted entry to a webhook, signed as Standard Webhooks specifies;
    the `secret` is shown in this answer only."""
    return push.create_subscription(session, by=principal, data=data)


@router.get("/subscriptions", response_model=Page[SubscriptionRead])
def list_subscriptions(session: DbSession, principal: Reader, params: Paging) -> dict:
    """Your department's subscriptions, with their pending and dead deliveries."""
    items, total = push.list_subscriptions(session, by=principal, params=params)
    return page_body(items, total, params)


@router.delete("/subscriptions/{subscription_id}", response_model=SubscriptionRead)
def end_subscription(session: DbSession, principal: Subscriber, subscription_id: RowId) -> SubscriptionRead:
    """Stop pushing to a webhook."""
    return push.end_subscription(session, by=principal, subscription_id=subscription_id)


@router.get("/deliveries", response_model=Page[DeliveryRead])
def list_deliveries(
    session: DbSession,
    principal: Reader,
    params: Paging,
    status: Annotated[DeliveryStatus | None, Query(description="dead: the dead-letter list")] = None,
    subscription: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict:
    """Pushes to your department's webhooks, newest first."""
    items, total = push.list_deliveries(
        session, by=principal, status=status, subscription_id=subscription, params=params
    )
    return page_body(items, total, params)


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead)
def redeliver(session: DbSession, principal: Subscriber, delivery_id: RowId) -> DeliveryRead:
    """Send a dead letter again (the subscribing department, or the platform)."""
    return push.redeliver(session, by=principal, delivery_id=delivery_id)
