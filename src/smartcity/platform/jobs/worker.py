"""The background worker: a thread (inside `smartcity serve`, or alone in `smartcity worker`) that runs jobs."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

from smartcity.db import unit_of_work
from smartcity.platform.jobs import service as jobs

log = logging.getLogger("smartcity.jobs")
RENEW_EVERY = 30.0


class Worker:
    """Claims and runs due jobs one at a time, and calls the periodic tasks when they are due."""

    def __init__(self, *, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self.worker = jobs.worker_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_run: dict[str, float] = {}

    def start(self) -> None:
        """Run in a daemon thread until `stop()`."""
        self._thread = threading.Thread(target=self.run_forever, name="smartcity-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end after the current job, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def run_forever(self) -> None:
        """The loop: recover orphans once, then periodic tasks and jobs until stopped."""
        self._safely("reclaim", self._reclaim)
        while not self._stop.is_set():
            self.run_periodic()
            if not self.run_one():
                self._stop.wait(self.poll_seconds)

    def _reclaim(self) -> None:
        with unit_of_work() as session:
            count = jobs.reclaim_orphans(session)
        if count:
            log.warning("re-queued %d jobs of workers that died", count)

    def run_periodic(self, now: float | None = None) -> None:
        """Call every periodic task whose interval has passed."""
        now = time.monotonic() if now is None else now
        for task in list(jobs.PERIODIC.values()):
            if now - self._last_run.get(task.name, float("-inf")) >= task.every:
                self._last_run[task.name] = now
                self._safely(task.name, task.run)

    def run_one(self) -> bool:
        """Claim and run one due job; False when none was due."""
        kinds = list(jobs.KINDS)
        if not kinds:
            return False
        with unit_of_work() as session:
            job = jobs.claim(session, worker=self.worker, kinds=kinds)
            if job is None:
                return False
            job_id, kind, payload = job.id, job.kind, dict(job.payload)
        renewer = _LeaseRenewer(job_id, self.worker)
        renewer.start()
        error: str | None = None
        try:
            jobs.KINDS[kind].handler(payload)
        except Exception:
            error = traceback.format_exc()
            log.exception("job %s (%s) failed", job_id, kind)
        finally:
            renewer.stop()
        self._safely("finish", lambda: self._finish(job_id, error))
        return True

    def _finish(self, job_id: int, error: str | None) -> None:
        with unit_of_work() as session:
            jobs.finish(session, job_id=job_id, worker=self.worker, error=error)

    def _safely(self, name: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception:
            log.exception("worker task %s failed", name)


class _LeaseRenewer:
    """Renews a running job's lease in the background so a long job is not taken over."""

    def __init__(self, job_id: int, worker: str) -> None:
        self.job_id = job_id
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                with unit_of_work() as session:
                    jobs.renew(session, job_id=self.job_id, worker=self.worker)
            except Exception:
                log.exception("could not renew the lease of job %s", self.job_id)


def run_until_idle(*, limit: int = 100) -> int:
    """Run due jobs in this thread until none is due (tests and the CLI use it); returns how many ran."""
    worker = Worker()
    count = 0
    while count < limit and worker.run_one():
        count += 1
    return count
