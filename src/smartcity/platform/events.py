"""Platform events (design.md §4): a module publishes what happened; other modules react, after the commit.

`publish` writes one job per reaction in the publisher's transaction, so the jobs table is the outbox: a rolled
back change triggers nothing, and a reaction that is due survives a restart of the platform until a worker has run
it. A module declares its reactions as `Reaction`s on its `module` object; the platform registers them at start-up.
Payloads are plain JSON values, never model objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from smartcity.platform.jobs import service as jobs

Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Reaction:
    """A module's reaction to an event: `name` is the job kind it runs as (e.g. `exchange.on_batch_stored`)."""

    event: str
    name: str
    handler: Handler
    max_attempts: int = 5

    def job_kind(self) -> jobs.JobKind:
        return jobs.JobKind(self.name, self.handler, max_attempts=self.max_attempts)


REACTIONS: dict[str, list[str]] = {}  # event -> job kinds of its reactions


def register(reactions: tuple[Reaction, ...]) -> None:
    """Make `reactions` known to this process (publishers and workers alike)."""
    jobs.register(tuple(r.job_kind() for r in reactions))
    for reaction in reactions:
        kinds = REACTIONS.setdefault(reaction.event, [])
        if reaction.name not in kinds:
            kinds.append(reaction.name)


def publish(session: Session, event: str, payload: dict[str, Any]) -> int:
    """Record that `event` happened, in the caller's transaction; returns how many reactions were queued."""
    kinds = REACTIONS.get(event, [])
    for kind in kinds:
        jobs.enqueue(session, kind, {"event": event, **payload})
    return len(kinds)
