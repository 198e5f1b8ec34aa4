"""Rate limits of the data service, per credential: a token bucket refilled at `rate` per second up to `burst`.

The buckets live in the process that serves the API (one process per machine in the standard deployment; behind a
load balancer each process limits on its own, so the effective limit is that many times higher).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from smartcity.platform.errors import DomainError
from smartcity.platform.i18n import N_


class RateLimited(DomainError):
    """A credential asked faster than its limit; `Retry-After` says when to try again."""

    status = 429
    slug = "rate-limited"
    title = N_("Too many requests")

    def __init__(self, retry_after: int, rate: float) -> None:
        super().__init__(
            N_("This credential may make {rate} requests per second; try again in {seconds} s."),
            rate=f"{rate:g}",
            seconds=retry_after,
        )
        self.headers = {"Retry-After": str(retry_after)}


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class Limiter:
    """Token buckets keyed by credential."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, rate: float, burst: int, now: float | None = None) -> None:
        """Spend one request of `key`'s allowance, or raise RateLimited with the wait in whole seconds."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(burst), stamp=now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / rate
        raise RateLimited(max(1, math.ceil(wait)), rate)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


LIMITER = Limiter()
