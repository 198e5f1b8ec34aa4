"""Enqueueing, claiming and finishing jobs; kinds and their handlers are registered by modules.

A job is written in the caller's transaction, so it exists only if the change that asked for it commits
(the outbox rule). A worker claims a job with a single conditional UPDATE (safe on SQLite and PostgreSQL),
holds it under a lease it renews while the handler runs, and releases it as done, for a retry with
backoff, or as failed. A job whose worker died is claimed again when its lease runs out, or at once when
the dead worker ran on this host.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.platform.jobs.models import Job

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
LEASE = dt.timedelta(minutes=2)
Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class JobKind:
    """A kind of job and the function that does it (the handler opens its own transactions)."""

    name: str
    handler: Handler
    max_attempts: int = 3


@dataclass(frozen=True)
class PeriodicTask:
    """A function the worker calls every `every` seconds (e.g. to enqueue scheduled work that is due)."""

    name: str
    every: float
    run: Callable[[], None]


KINDS: dict[str, JobKind] = {}
PERIODIC: dict[str, PeriodicTask] = {}


def register(kinds: tuple[JobKind, ...] = (), periodic: tuple[PeriodicTask, ...] = ()) -> None:
    """Make job kinds and periodic tasks known to workers in this process."""
    for kind in kinds:
        KINDS[kind.name] = kind
    for task in periodic:
        PERIODIC[task.name] = task


def worker_id() -> str:
    """This process as it appears in `locked_by`: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def unfinished(session: Session, dedupe_key: str) -> Job | None:
    """The queued or running job with `dedupe_key`, if there is one."""
    return session.scalars(select(Job).where(Job.dedupe_key == dedupe_key, Job.status.in_((QUEUED, RUNNING)))).first()


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    run_after: dt.datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add a job in the caller's transaction; with `dedupe_key`, an unfinished job with that key is reused."""
    if dedupe_key is not None and (existing := unfinished(session, dedupe_key)) is not None:
        return existing
    registered = KINDS.get(kind)
    job = Job(
        kind=kind,
        payload=payload,
        status=QUEUED,
        dedupe_key=dedupe_key,
        max_attempts=max_attempts or (registered.max_attempts if registered else 3),
        run_after=run_after or utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def claim(session: Session, *, worker: str, kinds: list[str], now: dt.datetime | None = None) -> Job | None:
    """Take the oldest due job of `kinds` (or one whose lease ran out) for `worker`; None when there is none."""
    now = now or utcnow()
    _give_up_on_dead_workers(session, kinds, now)
    claimable = and_(
        Job.kind.in_(kinds),
        or_(
            and_(Job.status == QUEUED, Job.run_after <= now),
            and_(Job.status == RUNNING, Job.locked_until < now, Job.attempts < Job.max_attempts),
        ),
    )
    candidate = select(Job.id).where(claimable).order_by(Job.run_after, Job.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    job_id = session.execute(
        update(Job)
        .where(Job.id == candidate.scalar_subquery(), claimable)
        .values(
            status=RUNNING,
            locked_by=worker,
            locked_until=now + LEASE,
            attempts=Job.attempts + 1,
            started_at=now,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if job_id is None:
        return None
    session.expire_all()
    return session.get(Job, job_id)


WORKER_DIED = "the worker stopped while running the last attempt (killed or crashed)"


def _ended(status: str, now: dt.datetime) -> dict[str, Any]:
    """What a job that is through (done, or failed for good) holds: no lease, no dedupe key, when it ended."""
    return {"status": status, "finished_at": now, "locked_by": None, "locked_until": None, "dedupe_key": None}


def _end(job: Job, status: str, now: dt.datetime) -> None:
    for name, value in _ended(status, now).items():
        setattr(job, name, value)


def _give_up_on_dead_workers(session: Session, kinds: list[str], now: dt.datetime) -> None:
    """A job whose lease ran out after its last attempt took its worker down with it: fail it, don't retry forever."""
    session.execute(
        update(Job)
        .where(
            Job.kind.in_(kinds),
            Job.status == RUNNING,
            Job.locked_until < now,
            Job.attempts >= Job.max_attempts,
        )
        .values(**_ended(FAILED, now), last_error=WORKER_DIED)
        .execution_options(synchronize_session=False)
    )


def renew(session: Session, *, job_id: int, worker: str) -> bool:
    """Extend the lease of a job this worker holds; False if another worker has taken it over."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == RUNNING)
        .values(locked_until=utcnow() + LEASE)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(session: Session, *, job_id: int, worker: str, error: str | None = None) -> None:
    """Release a job: done, or after an error queued again with backoff until its attempts are used up."""
    job = session.get(Job, job_id)
    if job is None or job.locked_by != worker or job.status != RUNNING:
        return
    now = utcnow()
    if error is None:
        _end(job, DONE, now)
        return
    job.last_error = error[-4000:]
    if job.attempts >= job.max_attempts:
        _end(job, FAILED, now)
    else:
        job.status = QUEUED
        job.locked_by = None
        job.locked_until = None
        job.run_after = now + dt.timedelta(seconds=min(600, 5 * 4 ** (job.attempts - 1)))


def pid_alive(pid: int) -> bool:
    """Whether a process with `pid` exists on this host."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def owner_is_dead(owner: str | None) -> bool:
    """Whether `owner` ("host:pid") names a process of this host that no longer runs."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not (pid.isascii() and pid.isdigit()) or not 0 < int(pid) < 2**31:
        return False
    return not pid_alive(int(pid))


def reclaim_orphans(session: Session) -> int:
    """Queue again the running jobs whose worker on this host has died (a kill -9, a crash)."""
    count = 0
    for job in session.scalars(select(Job).where(Job.status == RUNNING)):
        if not owner_is_dead(job.locked_by):
            continue
        if job.attempts >= job.max_attempts:
            _end(job, FAILED, utcnow())
            job.last_error = WORKER_DIED
            continue
        job.status = QUEUED
        job.locked_by = None
        job.locked_until = None
        job.run_after = utcnow()
        count += 1
    return count
