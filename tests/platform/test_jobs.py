"""The job queue: enqueue, claim under a lease, retry with backoff, orphan recovery, and the worker loop."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.platform.jobs import service as jobs
from smartcity.platform.jobs.models import Job
from smartcity.platform.jobs.service import LEASE, JobKind, PeriodicTask
from smartcity.platform.jobs.worker import Worker, run_until_idle

RegisterKind = Callable[..., str]


@pytest.fixture
def register_kind() -> Iterator[RegisterKind]:
    """Register job kinds with names unique to the test; they are removed from the registry afterwards."""
    names: list[str] = []

    def register(handler: Callable[[dict[str, Any]], None] | None = None, *, max_attempts: int = 3) -> str:
        name = f"test.{uuid.uuid4().hex[:12]}"
        jobs.register((JobKind(name, handler or (lambda payload: None), max_attempts=max_attempts),))
        names.append(name)
        return name

    yield register
    for name in names:
        jobs.KINDS.pop(name, None)


@pytest.fixture
def dead_pid() -> int:
    """The id of a process of this host that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not jobs.pid_alive(process.pid)
    return process.pid


def reload(db: Session, job_id: int) -> Job:
    """The job as the database has it now (the worker wrote it through its own sessions)."""
    db.expire_all()
    job = db.get(Job, job_id)
    assert job is not None
    return job


def make_due(db: Session, job_id: int) -> None:
    db.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow() - dt.timedelta(seconds=1)))
    db.flush()


# --- enqueue, claim, finish -------------------------------------------------------------------


def test_enqueue_claim_and_finish_done(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind(max_attempts=5)
    before = utcnow()
    job = jobs.enqueue(db, kind, {"batch": 7})
    assert (job.kind, job.payload, job.status, job.attempts, job.max_attempts) == (kind, {"batch": 7}, "queued", 0, 5)
    assert job.locked_by is None and job.started_at is None and job.finished_at is None
    assert before <= job.run_after <= utcnow()

    now = utcnow()
    claimed = jobs.claim(db, worker="host-a:100", kinds=[kind], now=now)
    assert claimed is not None and claimed.id == job.id
    assert (claimed.status, claimed.locked_by, claimed.attempts) == ("running", "host-a:100", 1)
    assert claimed.locked_until == now + LEASE
    assert claimed.started_at == now
    assert jobs.claim(db, worker="host-b:200", kinds=[kind], now=now) is None  # held under the lease

    jobs.finish(db, job_id=job.id, worker="host-a:100")
    db.flush()
    done = reload(db, job.id)
    assert (done.status, done.locked_by, done.locked_until, done.last_error) == ("done", None, None, "")
    assert done.finished_at is not None and now <= done.finished_at <= utcnow()
    assert jobs.claim(db, worker="host-a:100", kinds=[kind], now=utcnow() + dt.timedelta(days=1)) is None


def test_enqueue_without_registered_kind_defaults_to_three_attempts(db: Session) -> None:
    job = jobs.enqueue(db, f"test.unregistered.{uuid.uuid4().hex[:8]}", {})
    assert job.max_attempts == 3
    explicit = jobs.enqueue(db, f"test.unregistered.{uuid.uuid4().hex[:8]}", {}, max_attempts=7)
    assert explicit.max_attempts == 7


def test_claim_takes_only_the_given_kinds_oldest_due_first(db: Session, register_kind: RegisterKind) -> None:
    mine, other = register_kind(), register_kind()
    now = utcnow()
    jobs.enqueue(db, other, {"n": 0}, run_after=now - dt.timedelta(minutes=10))
    later = jobs.enqueue(db, mine, {"n": 2}, run_after=now - dt.timedelta(minutes=1))
    earlier = jobs.enqueue(db, mine, {"n": 1}, run_after=now - dt.timedelta(minutes=5))
    first = jobs.claim(db, worker="w:1", kinds=[mine], now=now)
    second = jobs.claim(db, worker="w:1", kinds=[mine], now=now)
    assert first is not None and second is not None
    assert [first.id, second.id] == [earlier.id, later.id]
    assert jobs.claim(db, worker="w:1", kinds=[mine], now=now) is None


def test_claim_returns_none_when_nothing_is_due(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind()
    run_after = utcnow() + dt.timedelta(hours=1)
    job = jobs.enqueue(db, kind, {}, run_after=run_after)
    assert jobs.claim(db, worker="w:1", kinds=[kind]) is None
    assert jobs.claim(db, worker="w:1", kinds=[kind], now=run_after - dt.timedelta(seconds=1)) is None
    assert reload(db, job.id).status == "queued"
    claimed = jobs.claim(db, worker="w:1", kinds=[kind], now=run_after)
    assert claimed is not None and claimed.id == job.id and claimed.attempts == 1


def test_dedupe_key_reuses_an_unfinished_job(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind()
    first = jobs.enqueue(db, kind, {"pull": 1}, dedupe_key="pull:1")
    again = jobs.enqueue(db, kind, {"pull": 1, "ignored": True}, dedupe_key="pull:1")
    other_key = jobs.enqueue(db, kind, {"pull": 2}, dedupe_key="pull:2")
    assert again.id == first.id and again.payload == {"pull": 1}
    assert other_key.id != first.id
    assert db.scalar(select(func.count()).select_from(Job).where(Job.kind == kind)) == 2

    claimed = jobs.claim(db, worker="w:1", kinds=[kind], now=utcnow())
    assert claimed is not None and claimed.id == first.id
    assert jobs.enqueue(db, kind, {}, dedupe_key="pull:1").id == first.id  # a running job counts as unfinished

    jobs.finish(db, job_id=first.id, worker="w:1")
    db.flush()
    assert reload(db, first.id).dedupe_key is None
    fresh = jobs.enqueue(db, kind, {"pull": 1}, dedupe_key="pull:1")
    assert fresh.id not in (first.id, other_key.id) and fresh.status == "queued"

    # A finished job never blocks a new one, even if its key was somehow left in place.
    db.execute(update(Job).where(Job.id == other_key.id).values(status="failed"))
    db.flush()
    replacement = jobs.enqueue(db, kind, {"pull": 2}, dedupe_key="pull:2")
    assert replacement.id != other_key.id and replacement.status == "queued"


# --- the worker: running, retries, failure ----------------------------------------------------


def test_worker_runs_due_jobs_with_their_payloads(db: Session, register_kind: RegisterKind) -> None:
    seen: list[dict[str, Any]] = []
    kind = register_kind(seen.append)
    ids = [jobs.enqueue(db, kind, {"n": n}, run_after=utcnow() - dt.timedelta(seconds=10 - n)).id for n in range(3)]
    not_due = jobs.enqueue(db, kind, {"n": 99}, run_after=utcnow() + dt.timedelta(hours=1))
    db.flush()
    assert run_until_idle() == 3
    assert seen == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [reload(db, i).status for i in ids] == ["done", "done", "done"]
    assert reload(db, not_due.id).status == "queued"
    assert Worker().run_one() is False


def test_failing_job_is_retried_with_backoff_then_failed(db: Session, register_kind: RegisterKind) -> None:
    calls: list[dict[str, Any]] = []

    def explode(payload: dict[str, Any]) -> None:
        calls.append(payload)
        raise ValueError(f"boom {len(calls)}")

    kind = register_kind(explode, max_attempts=3)
    job = jobs.enqueue(db, kind, {"x": 1}, dedupe_key="explode")
    db.flush()
    worker = Worker()

    for attempt, backoff in ((1, 5), (2, 20)):
        before = utcnow()
        assert worker.run_one() is True
        retried = reload(db, job.id)
        assert (retried.status, retried.attempts, retried.locked_by, retried.locked_until) == (
            "queued",
            attempt,
            None,
            None,
        )
        assert f"ValueError: boom {attempt}" in retried.last_error
        assert before + dt.timedelta(seconds=backoff) <= retried.run_after <= utcnow() + dt.timedelta(seconds=backoff)
        assert retried.finished_at is None and retried.dedupe_key == "explode"
        assert worker.run_one() is False  # not due until the backoff has passed
        make_due(db, job.id)

    assert worker.run_one() is True
    failed = reload(db, job.id)
    assert (failed.status, failed.attempts, failed.locked_by, failed.dedupe_key) == ("failed", 3, None, None)
    assert "ValueError: boom 3" in failed.last_error and "Traceback" in failed.last_error
    assert failed.finished_at is not None
    make_due(db, job.id)
    assert worker.run_one() is False  # a failed job is never claimed again
    assert calls == [{"x": 1}] * 3


def test_backoff_grows_fourfold_and_is_capped_at_ten_minutes(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind(max_attempts=10)
    job = jobs.enqueue(db, kind, {})
    delays = []
    for _ in range(6):
        claimed = jobs.claim(db, worker="w:1", kinds=[kind], now=utcnow() + dt.timedelta(days=1))
        assert claimed is not None
        before = utcnow()
        jobs.finish(db, job_id=job.id, worker="w:1", error="nope")
        db.flush()
        run_after = reload(db, job.id).run_after
        delays.append(round((run_after - before).total_seconds()))
    assert delays == [5, 20, 80, 320, 600, 600]
    assert reload(db, job.id).attempts == 6


def test_error_text_is_kept_to_its_last_4000_characters(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind()
    job = jobs.enqueue(db, kind, {})
    assert jobs.claim(db, worker="w:1", kinds=[kind]) is not None
    jobs.finish(db, job_id=job.id, worker="w:1", error="a" * 5000 + "END")
    db.flush()
    kept = reload(db, job.id).last_error
    assert len(kept) == 4000 and kept.endswith("aEND")


# --- leases, renewal, orphans -----------------------------------------------------------------


def test_expired_lease_lets_another_worker_claim(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind()
    job = jobs.enqueue(db, kind, {})
    start = utcnow()
    assert jobs.claim(db, worker="host-a:1", kinds=[kind], now=start) is not None
    assert jobs.claim(db, worker="host-b:2", kinds=[kind], now=start + LEASE - dt.timedelta(seconds=1)) is None
    assert jobs.claim(db, worker="host-b:2", kinds=[kind], now=start + LEASE) is None  # the lease runs until then
    later = start + LEASE + dt.timedelta(seconds=1)
    taken = jobs.claim(db, worker="host-b:2", kinds=[kind], now=later)
    assert taken is not None and taken.id == job.id
    assert (taken.status, taken.locked_by, taken.attempts) == ("running", "host-b:2", 2)
    assert taken.locked_until == later + LEASE

    jobs.finish(db, job_id=job.id, worker="host-a:1")  # the old holder's finish is ignored
    db.flush()
    still = reload(db, job.id)
    assert (still.status, still.locked_by, still.finished_at) == ("running", "host-b:2", None)


def test_renew_fails_for_a_worker_that_no_longer_holds_the_job(db: Session, register_kind: RegisterKind) -> None:
    kind = register_kind()
    long_ago = utcnow() - dt.timedelta(hours=1)
    job = jobs.enqueue(db, kind, {}, run_after=long_ago)
    assert jobs.claim(db, worker="host-a:1", kinds=[kind], now=long_ago) is not None
    assert jobs.claim(db, worker="host-b:2", kinds=[kind]) is not None

    assert jobs.renew(db, job_id=job.id, worker="host-a:1") is False
    before = utcnow()
    assert jobs.renew(db, job_id=job.id, worker="host-b:2") is True
    renewed = reload(db, job.id)
    assert renewed.locked_by == "host-b:2"
    assert renewed.locked_until is not None and before + LEASE <= renewed.locked_until <= utcnow() + LEASE

    jobs.finish(db, job_id=job.id, worker="host-b:2")
    db.flush()
    assert jobs.renew(db, job_id=job.id, worker="host-b:2") is False  # a finished job has no lease
    assert jobs.renew(db, job_id=job.id + 1000, worker="host-b:2") is False


def test_reclaim_orphans_requeues_only_jobs_of_dead_local_workers(
    db: Session, register_kind: RegisterKind, dead_pid: int
) -> None:
    kind = register_kind()
    host = socket.gethostname()
    owners = {
        "dead": f"{host}:{dead_pid}",
        "alive": f"{host}:{os.getpid()}",
        "remote": f"not-{host}.example:{dead_pid}",
    }
    ids: dict[str, int] = {}
    for label, owner in owners.items():
        ids[label] = jobs.enqueue(db, kind, {"owner": label}).id
        claimed = jobs.claim(db, worker=owner, kinds=[kind])
        assert claimed is not None and claimed.id == ids[label]

    before = utcnow()
    assert jobs.reclaim_orphans(db) == 1
    db.flush()
    orphan = reload(db, ids["dead"])
    assert (orphan.status, orphan.locked_by, orphan.locked_until) == ("queued", None, None)
    assert before <= orphan.run_after <= utcnow()
    for label in ("alive", "remote"):
        kept = reload(db, ids[label])
        assert (kept.status, kept.locked_by) == ("running", owners[label])
    again = jobs.claim(db, worker="host-c:3", kinds=[kind])
    assert again is not None and again.id == ids["dead"] and again.attempts == 2
    assert jobs.reclaim_orphans(db) == 0


def test_owner_is_dead_on_odd_inputs(dead_pid: int) -> None:
    host = socket.gethostname()
    assert jobs.owner_is_dead(f"{host}:{dead_pid}") is True
    assert jobs.owner_is_dead(f"{host}:{os.getpid()}") is False
    assert jobs.owner_is_dead(f"other-{host}:{dead_pid}") is False
    for odd in (None, "", ":", "nohost", f"{host}:", f"{host}:abc", f"{host}:-1", f"{host}: 12", f":{dead_pid}"):
        assert jobs.owner_is_dead(odd) is False, odd


@pytest.mark.parametrize("pid", ["²", str(2**31), str(2**64)])
def test_owner_is_dead_is_false_for_a_pid_no_process_can_have(pid: str) -> None:
    # Digits that int() or os.kill() cannot take must not raise: reclaim_orphans would stop at that row.
    assert jobs.owner_is_dead(f"{socket.gethostname()}:{pid}") is False


def test_reclaim_orphans_is_not_stopped_by_an_unreadable_owner(
    db: Session, register_kind: RegisterKind, dead_pid: int
) -> None:
    kind = register_kind()
    host = socket.gethostname()
    odd = jobs.enqueue(db, kind, {}, run_after=utcnow() - dt.timedelta(minutes=2))
    orphan = jobs.enqueue(db, kind, {}, run_after=utcnow() - dt.timedelta(minutes=1))
    assert jobs.claim(db, worker=f"{host}:{2**64}", kinds=[kind]) is not None
    assert jobs.claim(db, worker=f"{host}:{dead_pid}", kinds=[kind]) is not None
    assert jobs.reclaim_orphans(db) == 1
    db.flush()
    assert (reload(db, orphan.id).status, reload(db, odd.id).status) == ("queued", "running")


# --- periodic tasks ---------------------------------------------------------------------------


def test_run_periodic_calls_a_task_only_when_its_interval_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "PERIODIC", {})  # only this test's tasks; the app's stay registered elsewhere
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("periodic failure")

    jobs.register(
        periodic=(
            PeriodicTask("test.minutely", 60.0, lambda: calls.append("minutely")),
            PeriodicTask("test.broken", 10.0, broken),
        )
    )
    worker = Worker()
    worker.run_periodic(now=1000.0)
    assert sorted(calls) == ["broken", "minutely"]  # first call: everything is due; a failure stops nothing
    calls.clear()
    worker.run_periodic(now=1009.9)
    assert calls == []
    worker.run_periodic(now=1010.0)
    assert calls == ["broken"]
    worker.run_periodic(now=1059.9)
    assert calls == ["broken", "broken"]
    worker.run_periodic(now=1060.0)
    assert calls == ["broken", "broken", "minutely"]
    worker.run_periodic(now=1060.5)
    assert calls == ["broken", "broken", "minutely"]


def test_a_job_that_kills_its_worker_on_its_last_attempt_is_failed_not_retried(
    db: Session, register_kind: RegisterKind, dead_pid: int
) -> None:
    kind = register_kind(max_attempts=1)
    expired = jobs.enqueue(db, kind, {"n": 1})
    orphan = jobs.enqueue(db, kind, {"n": 2})
    assert jobs.claim(db, worker="host-a:100", kinds=[kind]) is not None
    assert jobs.claim(db, worker=f"{socket.gethostname()}:{dead_pid}", kinds=[kind]) is not None
    db.execute(update(Job).where(Job.id == expired.id).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    assert jobs.reclaim_orphans(db) == 0
    assert jobs.claim(db, worker="host-b:200", kinds=[kind]) is None
    db.expire_all()
    for job in (db.get(Job, expired.id), db.get(Job, orphan.id)):
        assert job is not None and job.status == "failed" and "stopped" in job.last_error and job.locked_by is None
