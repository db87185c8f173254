"""Client-side rate limiting toward the API server (`--qps`, `--burst`), like client-go's token bucket.

Sits in front of every request the adapter (`rollouts.kube.client`) sends. A token bucket holding `burst`
tokens refilled at `qps` per second: bursts after quiet periods go out at once, a sustained flood is paced.
Waiters queue FIFO behind one lock and the head sleeps exactly until its token is due, so a thousand queued
reconciles cost one timer, not a thousand pollers (asyncio-throttle's `Throttler` wakes every waiter every
10 ms, which is why it is used for the low-rate metric providers and not here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """`await bucket.acquire()` before each request. qps <= 0 disables limiting."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.qps = qps
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()
        self.waited_seconds = 0.0  # total time callers spent waiting (a figure for benchmarks)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now

    async def acquire(self) -> None:
        if self.qps <= 0:
            return
        async with self._lock:
            self._refill()
            if self._tokens < 1.0:
                delay = (1.0 - self._tokens) / self.qps
                self.waited_seconds += delay
                await self._sleep(delay)
                self._refill()
            self._tokens -= 1.0
