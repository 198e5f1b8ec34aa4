"""Exchange: a subscribed webhook receives the rows of each new batch, masked as its grant says and signed as the
Standard Webhooks specification writes it (checked with the `standardwebhooks` library, which refuses a tampered
body); a failing endpoint is retried and ends as a dead letter that can be redelivered; a revoked grant stops
pushes; a delivery written before a restart is sent by the next worker."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from smartcity.config import get_settings
from smartcity.exchange import push, sharing
from smartcity.exchange.models import Delivery
from smartcity.exchange.schemas import RevokeIn, SubscriptionIn
from smartcity.exchange.vocab import DeliveryStatus
from smartcity.platform import webhooks
from smartcity.platform.errors import Conflict, NotFound
from smartcity.platform.jobs.models import Job
from smartcity.platform.jobs.worker import run_until_idle
from smartcity.platform.paging import PageParams
from tests.exchange.receiver import receiver
from tests.exchange.world import POPULATION, build, grant_population, people_frame
from tests.factories import ingest_text

FIRST = PageParams(page=1, page_size=50)


def _more_people() -> str:
    """A second delivery of the population entry: two residents changed their phone."""
    return people_frame().head(2).with_columns(pl.Series("phone", ["13900000001", "13900000002"])).write_csv()


def _due_now(db: Session) -> None:
    """Make every waiting delivery job due (the test does not wait out the backoff)."""
    db.execute(update(Job).where(Job.kind == push.DELIVER_JOB).values(run_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))


def test_batches_are_pushed_signed_and_masked(db: Session) -> None:
    world = build(db)
    number = grant_population(db, world, fields=["resident_id", "full_name", "phone", "town_code"])
    with receiver() as hook:
        made = push.create_subscription(db, by=world.mzj, data=SubscriptionIn(grant=number, url=hook.url))
        assert made.secret.startswith("whsec_")
        with pytest.raises(Conflict):
            push.create_subscription(db, by=world.mzj, data=SubscriptionIn(grant=number, url=hook.url))
        ingest_text(db, _more_people(), code=POPULATION, name="changes.csv")
        run_until_idle()
        assert len(hook.received) == 1
        sent = hook.received[0]
        payload = Webhook(made.secret).verify(sent.body, sent.headers)  # raises unless the signature is right
        data = payload["data"]
        assert payload["type"] == "entry.rows.changed" and data["entry_code"] == POPULATION
        assert data["fields"] == ["resident_id", "full_name", "phone", "town_code"] and len(data["rows"]) == 2
        assert {r["phone"] for r in data["rows"]} == {"139****0001", "139****0002"}
        assert all("********" in r["resident_id"] for r in data["rows"])
        assert sent.headers["webhook-id"] == f"msg_{db.scalar(select(Delivery.id))}"
        with pytest.raises(WebhookVerificationError):
            Webhook(made.secret).verify(sent.body.replace(b"0001", b"9999"), sent.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(webhooks.new_secret()).verify(sent.body, sent.headers)
    (delivery,) = push.list_deliveries(db, by=world.mzj, status=None, subscription_id=made.id, params=FIRST)[0]
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 1 and delivery.last_status == 200
    with pytest.raises(NotFound):  # another department does not see it
        push.redeliver(db, by=world.rsj, delivery_id=delivery.id)


def test_failures_are_retried_then_dead_lettered_and_redelivered(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    world = build(db)
    number = grant_population(db, world, fields=["resident_id", "town_code"])
    monkeypatch.setattr(get_settings(), "exchange_push_attempts", 3)
    with receiver() as hook:
        made = push.create_subscription(db, by=world.mzj, data=SubscriptionIn(grant=number, url=hook.url))
        hook.answer = 503
        ingest_text(db, _more_people(), code=POPULATION, name="changes.csv")
        run_until_idle()
        delivery = db.scalars(select(Delivery)).one()
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
        assert delivery.last_status == 503 and delivery.next_attempt_at is not None
        for _ in range(2):
            _due_now(db)
            run_until_idle()
        db.refresh(delivery)
        assert delivery.status == DeliveryStatus.DEAD and delivery.attempts == 3 and len(hook.received) == 3
        dead = push.list_deliveries(db, by=world.mzj, status=DeliveryStatus.DEAD, subscription_id=None, params=FIRST)
        assert [d.id for d in dead[0]] == [delivery.id]
        hook.answer = 204
        push.redeliver(db, by=world.mzj, delivery_id=delivery.id)
        run_until_idle()
        db.refresh(delivery)
        assert delivery.status == DeliveryStatus.DELIVERED and len(hook.received) == 4
        # The same message each time: receivers drop a webhook-id they have seen.
        assert len({r.headers["webhook-id"] for r in hook.received}) == 1
        assert len({json.loads(r.body)["data"]["batch_id"] for r in hook.received}) == 1
        with pytest.raises(Conflict):
            push.redeliver(db, by=world.mzj, delivery_id=delivery.id)
    assert made.id


def test_a_revoked_grant_stops_pushes(db: Session) -> None:
    world = build(db)
    number = grant_population(db, world, fields=["resident_id"])
    with receiver() as hook:
        push.create_subscription(db, by=world.mzj, data=SubscriptionIn(grant=number, url=hook.url))
        ingest_text(db, _more_people(), code=POPULATION, name="changes.csv")  # queued, not sent yet
        sharing.revoke_grant(db, by=world.gaj, number=number, data=RevokeIn(reason="超范围使用"))
        run_until_idle()
        assert hook.received == []
    delivery = db.scalars(select(Delivery)).first()
    assert delivery is None or delivery.status == DeliveryStatus.DEAD


def test_a_delivery_queued_before_a_restart_is_sent_after_it(db: Session) -> None:
    world = build(db)
    number = grant_population(db, world, fields=["resident_id"])
    with receiver() as hook:
        push.create_subscription(db, by=world.mzj, data=SubscriptionIn(grant=number, url=hook.url))
        ingest_text(db, _more_people(), code=POPULATION, name="changes.csv")
        # The reaction and the delivery are rows in the database before any worker runs: the outbox.
        waiting = db.scalars(select(Job.kind).where(Job.status == "queued")).all()
        assert "exchange.queue_batch" in waiting
        while db.scalar(select(Delivery.id)) is None:  # a worker makes the delivery, then the platform stops
            assert run_until_idle(limit=1) == 1
        assert hook.received == [] and db.scalars(select(Delivery.status)).all() == [DeliveryStatus.PENDING]
        run_until_idle()  # the next worker after the restart
        assert len(hook.received) == 1
