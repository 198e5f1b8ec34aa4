"""Token buckets keyed by whoever is limited (an API credential, a device): refilled at `rate` per second up to
`burst`. The buckets live in the process: behind a load balancer each process limits on its own."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class Limiter:
    """Token buckets keyed by a string."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def spend(self, key: str, *, rate: float, burst: int, now: float | None = None) -> float:
        """Spend one of `key`'s allowance: 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(burst), stamp=now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()
