"""Events through the outbox: a reaction runs as a job only if the publishing transaction commits, once per
reaction, with the event's payload; an event nobody reacts to queues nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.platform import events
from smartcity.platform.jobs import service as jobs
from smartcity.platform.jobs.models import Job
from smartcity.platform.jobs.worker import run_until_idle


@pytest.fixture
def event() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A fresh event name with two reactions that record what they were given."""
    name = f"test.{uuid.uuid4().hex[:8]}.happened"
    seen: list[dict[str, Any]] = []
    reactions = tuple(events.Reaction(name, f"{name}.{who}", seen.append) for who in ("first", "second"))
    events.register(reactions)
    yield name, seen
    events.REACTIONS.pop(name, None)
    for reaction in reactions:
        jobs.KINDS.pop(reaction.name, None)


def test_each_reaction_runs_once_after_commit(db: Session, event: tuple[str, list[dict[str, Any]]]) -> None:
    name, seen = event
    assert events.publish(db, name, {"batch_id": 7}) == 2
    queued = db.scalars(select(Job.kind).where(Job.kind.like(f"{name}.%"))).all()
    assert sorted(queued) == [f"{name}.first", f"{name}.second"]
    assert run_until_idle() >= 2
    assert seen == [{"event": name, "batch_id": 7}] * 2


def test_a_rolled_back_publish_queues_nothing(db: Session, event: tuple[str, list[dict[str, Any]]]) -> None:
    name, _ = event
    nested = db.begin_nested()
    events.publish(db, name, {"batch_id": 8})
    nested.rollback()
    assert db.scalars(select(Job).where(Job.kind.like(f"{name}.%"))).all() == []
    assert events.publish(db, f"{name}.unheard", {}) == 0
