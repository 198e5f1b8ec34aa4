"""Exchange (数据交换): the hub pushes the new and changed rows of a granted entry to the subscriber's webhook.

When data collection stores a batch (`ingest.batch.stored`), every active subscription to the entry whose grant is
in force gets deliveries: the batch's rows, projected to the grant's fields and masked as the grant says, at most
`PART_ROWS` rows each. A delivery is a row in the database before anything is sent (the outbox), and a job sends it,
so a restart loses none; sending again after a crash is possible, so receivers drop a `webhook-id` they have seen.

Requests follow the Standard Webhooks specification (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the subscription's `whsec_` secret.
A 2xx answer delivers; anything else is retried with growing pauses, and after the last attempt the delivery is a
dead letter, listed in the console until someone redelivers it. A revoked or expired grant stops its pushes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.config import get_settings
from smartcity.db import unit_of_work, utcnow
from smartcity.exchange import masks, sharing
from smartcity.exchange.models import Delivery, Grant, Subscription
from smartcity.exchange.permissions import EXCHANGE_OVERSEE, EXCHANGE_READ, EXCHANGE_SUBSCRIBE
from smartcity.exchange.schemas import DeliveryRead, SubscriptionCreated, SubscriptionIn, SubscriptionRead
from smartcity.exchange.vocab import DeliveryStatus, GrantState
from smartcity.ingest import service as hub
from smartcity.platform import sealing
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.jobs import service as jobs
from smartcity.platform.paging import PageParams, fetch_page
from smartcity.platform.webhooks import new_secret, signed_headers

log = logging.getLogger("smartcity.exchange")
DELIVER_JOB = "exchange.deliver"
PURPOSE = "webhook"
PART_ROWS = 500
EVENT_TYPE = "entry.rows.changed"


def backoff(attempts: int) -> dt.timedelta:
    """The pause before attempt `attempts + 1`: 10 s, 40 s, 160 s, … at most an hour."""
    return dt.timedelta(seconds=min(3600, 10 * 4 ** (attempts - 1)))


# --- subscriptions ---------------------------------------------------------------------------------------------


def _counts(session: Session, ids: list[int]) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(Delivery.subscription_id, Delivery.status, func.count())
        .where(Delivery.subscription_id.in_(ids))
        .group_by(Delivery.subscription_id, Delivery.status)
    )
    return {(sub, status): count for sub, status, count in rows}


def _subscription_reads(session: Session, subscriptions: list[Subscription]) -> list[SubscriptionRead]:
    grants = {
        a: b
        for a, b in session.execute(
            select(Grant.id, Grant.number).where(Grant.id.in_([s.grant_id for s in subscriptions]))
        )
    }
    names = {
        i: d.name
        for i, d in identity.departments_by_id(session, {s.consumer_department_id for s in subscriptions}).items()
    }
    counts = _counts(session, [s.id for s in subscriptions])
    return [
        SubscriptionRead(
            id=s.id,
            grant=grants.get(s.grant_id, ""),
            entry_code=s.entry_code,
            consumer=names.get(s.consumer_department_id, ""),
            url=s.url,
            active=s.active,
            created_by=s.created_by,
            created_at=s.created_at,
            last_delivered_at=s.last_delivered_at,
            pending=counts.get((s.id, DeliveryStatus.PENDING), 0),
            dead=counts.get((s.id, DeliveryStatus.DEAD), 0),
        )
        for s in subscriptions
    ]


def _visible(by: Principal) -> Select[Subscription]:
    stmt = select(Subscription)
    if by.can(EXCHANGE_OVERSEE) and by.department_id is None:
        return stmt
    return stmt.where(Subscription.consumer_department_id == (by.department_id or -1))


def create_subscription(session: Session, *, by: Principal, data: SubscriptionIn) -> SubscriptionCreated:
    """Subscribe a webhook to the changes of an entry the caller's department holds a grant for."""
    by.require(EXCHANGE_SUBSCRIBE)
    grant = session.scalars(
        select(Grant).where(Grant.number == data.grant, Grant.consumer_department_id == (by.department_id or -1))
    ).one_or_none()
    if grant is None:
        raise NotFound(N_("Your department holds no grant {number}."), field="grant", number=data.grant)
    if sharing.grant_state(grant) is not GrantState.ACTIVE:
        raise Conflict(
            N_("Grant {number} is not in force; changes cannot be pushed under it."), field="grant", number=grant.number
        )
    url = str(data.url)
    if data.url.scheme not in ("http", "https"):
        raise InvalidInput(N_("The webhook must be an http or https address."), field="url")
    if session.scalar(
        select(Subscription.id).where(Subscription.grant_id == grant.id, Subscription.url == url, Subscription.active)
    ):
        raise Conflict(N_("This webhook is already subscribed under grant {number}."), field="url", number=grant.number)
    secret = new_secret()
    subscription = Subscription(
        grant_id=grant.id,
        entry_code=grant.entry_code,
        consumer_department_id=grant.consumer_department_id,
        url=url,
        secret_sealed=sealing.seal(secret, purpose=PURPOSE),
        active=True,
        created_by=by.actor().label,
        created_at=utcnow(),
    )
    session.add(subscription)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.subscription.create",
        target_type="exchange_subscription",
        target_id=subscription.id,
        detail={"grant": grant.number, "url": url},
    )
    return SubscriptionCreated(**_subscription_reads(session, [subscription])[0].model_dump(), secret=secret)


def list_subscriptions(session: Session, *, by: Principal, params: PageParams) -> tuple[list[SubscriptionRead], int]:
    """The caller's department's subscriptions (every one for the platform), newest first."""
    by.require(EXCHANGE_READ)
    found, total = fetch_page(session, _visible(by).order_by(Subscription.id.desc()), params)
    return _subscription_reads(session, found), total


def _subscription(session: Session, by: Principal, subscription_id: int) -> Subscription:
    found = session.scalars(_visible(by).where(Subscription.id == subscription_id)).one_or_none()
    if found is None:
        raise NotFound(N_("No subscription {id}."), id=subscription_id)
    return found


def end_subscription(session: Session, *, by: Principal, subscription_id: int) -> SubscriptionRead:
    """Stop pushing to a webhook (its pending deliveries are no longer sent)."""
    by.require(EXCHANGE_SUBSCRIBE)
    subscription = _subscription(session, by, subscription_id)
    subscription.active = False
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.subscription.end",
        target_type="exchange_subscription",
        target_id=subscription.id,
        detail={"url": subscription.url},
    )
    return _subscription_reads(session, [subscription])[0]


# --- deliveries --------------------------------------------------------------------------------------------------


def _delivery_reads(session: Session, deliveries: list[Delivery]) -> list[DeliveryRead]:
    subs = {
        s.id: s
        for s in session.scalars(
            select(Subscription).where(Subscription.id.in_({d.subscription_id for d in deliveries}))
        )
    }
    return [
        DeliveryRead(
            id=d.id,
            subscription_id=d.subscription_id,
            entry_code=subs[d.subscription_id].entry_code,
            url=subs[d.subscription_id].url,
            batch_id=d.batch_id,
            part=d.part,
            rows=d.rows,
            status=DeliveryStatus(d.status),
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status=d.last_status,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
        for d in deliveries
    ]


def list_deliveries(
    session: Session, *, by: Principal, status: DeliveryStatus | None, subscription_id: int | None, params: PageParams
) -> tuple[list[DeliveryRead], int]:
    """Deliveries of the caller's subscriptions (the dead letters with status=dead), newest first."""
    by.require(EXCHANGE_READ)
    visible = _visible(by).with_only_columns(Subscription.id)
    stmt = select(Delivery).where(Delivery.subscription_id.in_(visible.scalar_subquery()))
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    if subscription_id is not None:
        stmt = stmt.where(Delivery.subscription_id == subscription_id)
    found, total = fetch_page(session, stmt.order_by(Delivery.id.desc()), params)
    return _delivery_reads(session, found), total


def redeliver(session: Session, *, by: Principal, delivery_id: int) -> DeliveryRead:
    """Send a dead letter again, from its first attempt."""
    by.require(EXCHANGE_SUBSCRIBE)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(N_("No delivery {id}."), id=delivery_id)
    _subscription(session, by, delivery.subscription_id)  # NotFound unless the caller may see it
    if delivery.status != DeliveryStatus.DEAD:
        raise Conflict(N_("Delivery {id} is not a dead letter."), id=delivery_id)
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, utcnow()
    jobs.enqueue(session, DELIVER_JOB, {"delivery_id": delivery.id})
    audit.record(
        session,
        actor=by.actor(),
        action="exchange.delivery.redeliver",
        target_type="exchange_delivery",
        target_id=delivery.id,
        detail={},
    )
    return _delivery_reads(session, [delivery])[0]


def _body(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def queue_batch(payload: dict[str, Any]) -> None:
    """Reaction to `ingest.batch.stored`: a delivery per active subscription and part, each sent by a job."""
    code, version, batch_id = payload["entry_code"], int(payload["version"]), int(payload["batch_id"])
    stored_at = dt.datetime.fromisoformat(payload["stored_at"])
    worker = identity.system_principal("exchange")
    with unit_of_work() as session:
        subscriptions = session.scalars(
            # A subscription receives the batches stored after it was made, not the ones before.
            select(Subscription).where(
                Subscription.entry_code == code, Subscription.active.is_(True), Subscription.created_at <= stored_at
            )
        ).all()
        live = [
            (s, g)
            for s in subscriptions
            if (g := session.get(Grant, s.grant_id)) and sharing.grant_state(g) is GrantState.ACTIVE
        ]
        if not live:
            return
        stored = hub.stored_table(session, by=worker, code=code, version=version)
        if stored is None:
            return
        entry, _ = catalog.entry_and_version(session, by=worker, code=code, version=version)
        table = stored.table
        for subscription, grant in live:
            names = [f.name for f in stored.fields if f.name in set(grant.fields)]
            masking = {} if grant.plain else masks.maskers(stored.fields, names)
            rows = session.execute(
                select(table.c["_id"], *(table.c[n] for n in names))
                .where(table.c["_batch_id"] == batch_id)
                .order_by(table.c["_id"])
            ).all()
            parts = max(1, -(-len(rows) // PART_ROWS))
            for part in range(parts):
                chunk = rows[part * PART_ROWS : (part + 1) * PART_ROWS]
                records = [masks.apply({n: _plain(r._mapping[n]) for n in names}, masking) for r in chunk]
                exists = session.scalar(
                    select(Delivery.id).where(
                        Delivery.subscription_id == subscription.id,
                        Delivery.batch_id == batch_id,
                        Delivery.part == part + 1,
                    )
                )
                if exists:
                    continue  # the reaction ran before (a retry after a crash): nothing is queued twice
                delivery = Delivery(
                    subscription_id=subscription.id,
                    batch_id=batch_id,
                    part=part + 1,
                    rows=len(records),
                    payload={
                        "type": EVENT_TYPE,
                        "timestamp": utcnow().isoformat(),
                        "data": {
                            "entry_code": code,
                            "entry_name": entry.name,
                            "version": version,
                            "batch_id": batch_id,
                            "part": part + 1,
                            "parts": parts,
                            "grant": grant.number,
                            "keys": stored.keys,
                            "fields": names,
                            "masked": sorted(masking),
                            "rows": records,
                        },
                    },
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=utcnow(),
                    created_at=utcnow(),
                )
                session.add(delivery)
                session.flush()
                jobs.enqueue(session, DELIVER_JOB, {"delivery_id": delivery.id})


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is not None and not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def deliver(payload: dict[str, Any]) -> None:
    """Job: send one delivery; on failure schedule the next attempt, or make it a dead letter after the last."""
    delivery_id = int(payload["delivery_id"])
    with unit_of_work() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return
        subscription = session.get(Subscription, delivery.subscription_id)
        grant = session.get(Grant, subscription.grant_id) if subscription else None
        if subscription is None or grant is None or not subscription.active:
            _dead(delivery, None, "the subscription was ended")
            return
        if sharing.grant_state(grant) is not GrantState.ACTIVE:
            _dead(delivery, None, f"grant {grant.number} is no longer in force")
            return
        url, secret = subscription.url, sealing.unseal(subscription.secret_sealed, purpose=PURPOSE)
        body = _body(delivery)
    headers = signed_headers(secret, f"msg_{delivery_id}", body, agent="smartcity-exchange/1")
    status, error = None, ""
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=get_settings().exchange_push_timeout)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}: {response.text[:300]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    with unit_of_work() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        now = utcnow()
        if not error:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, now, None
            subscription = session.get(Subscription, delivery.subscription_id)
            if subscription is not None:
                subscription.last_delivered_at = now
        elif delivery.attempts >= get_settings().exchange_push_attempts:
            _dead(delivery, status, error)
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            jobs.enqueue(session, DELIVER_JOB, {"delivery_id": delivery.id}, run_after=delivery.next_attempt_at)


def _dead(delivery: Delivery, status: int | None, error: str) -> None:
    delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD, None
    delivery.last_status, delivery.last_error = status, error
    log.warning("delivery %s is a dead letter: %s", delivery.id, error)
