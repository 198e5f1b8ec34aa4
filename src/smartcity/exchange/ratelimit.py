"""Rate limits of the data service, per credential (platform/ratelimit.py's token buckets): 429 with Retry-After.

The buckets live in the process that serves the API (one process per machine in the standard deployment; behind a
load balancer each process limits on its own, so the effective limit is that many times higher).
"""

from __future__ import annotations

import math

from smartcity.platform import ratelimit as buckets
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


class Limiter(buckets.Limiter):
    """Token buckets keyed by credential, raising RateLimited beyond the allowance."""

    def take(self, key: str, *, rate: float, burst: int, now: float | None = None) -> None:
        """Spend one request of `key`'s allowance, or raise RateLimited with the wait in whole seconds."""
        wait = self.spend(key, rate=rate, burst=burst, now=now)
        if wait > 0:
            raise RateLimited(max(1, math.ceil(wait)), rate)


LIMITER = Limiter()
