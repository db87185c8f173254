"""Per-backend rate limiting and concurrency caps, shared by every metric provider.

Sits between a provider's `measure()` and the network: before a query leaves the process it takes a slot
from the `Limiter` of its backend address. A limiter combines a concurrency cap (an `asyncio.Semaphore`) and
a sliding-window rate limit (`asyncio_throttle.Throttler`: at most `rate` requests in any window of the
period). Thousands of AnalysisRuns measured by one controller therefore never hammer a Prometheus beyond the
configured requests per second.

The semaphore is taken *before* the throttler on purpose: `Throttler.acquire` polls (sleeps 10 ms and
retries), so only the tasks that already hold a concurrency slot poll, instead of every waiting measurement.

`LimiterRegistry` hands out one limiter per normalised address, so every provider instance talking to the same
backend shares it. asyncio primitives belong to the event loop that first uses them: create a registry per
event loop (the CLI and the controller each own one).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from urllib.parse import urlsplit

from asyncio_throttle.throttler import Throttler

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE",
    "Limiter",
    "LimiterRegistry",
    "ThrottleConfig",
    "address_key",
]

DEFAULT_RATE: float | None = 100.0
"""Default requests per second towards one backend address (None = unlimited)."""
DEFAULT_CONCURRENCY = 16
"""Default number of requests in flight towards one backend address."""


@dataclass(frozen=True)
class ThrottleConfig:
    """How hard a backend may be queried: `rate` requests per second (None: no limit), `concurrency` at once."""

    rate: float | None = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate limit must be a positive number of requests per second, got {self.rate}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")


def _window(rate: float) -> tuple[int, float]:
    """`rate` requests/s as (requests, period seconds) with integer requests, as `Throttler` needs.

    >>> _window(50)
    (50, 1.0)
    >>> _window(0.5)
    (1, 2.0)
    >>> _window(2.5)
    (5, 2.0)
    """
    fraction = Fraction(rate).limit_denominator(1000)
    return fraction.numerator, float(fraction.denominator)


class _Slot:
    """`async with` one slot of a limiter: a class rather than an `asynccontextmanager` generator, which cost
    more than the rest of the limiter on every request."""

    __slots__ = ("_limiter",)

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter

    async def __aenter__(self) -> None:
        limiter = self._limiter
        await limiter._semaphore.acquire()
        try:
            if limiter._throttler is not None:
                await limiter._throttler.acquire()  # type: ignore[no-untyped-call]
        except BaseException:
            limiter._semaphore.release()
            raise
        limiter.requests += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._limiter._semaphore.release()


class Limiter:
    """One backend's concurrency cap plus rate limit. Use `async with limiter.slot(): <one request>`."""

    __slots__ = ("_semaphore", "_slot", "_throttler", "config", "requests")

    def __init__(self, config: ThrottleConfig) -> None:
        self.config = config
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._throttler: Throttler | None = None
        if config.rate is not None:
            limit, period = _window(config.rate)
            self._throttler = Throttler(rate_limit=limit, period=period, retry_interval=0.005)
        self.requests = 0  # requests let through, for metrics and benchmarks
        self._slot = _Slot(self)

    def slot(self) -> AbstractAsyncContextManager[None]:
        """One request's slot: waits for the concurrency cap, then for the rate limit; released on exit."""
        return self._slot


@lru_cache(maxsize=1024)
def address_key(address: str) -> str:
    """The part of a backend URL that identifies the server: scheme://host:port (lower-cased).

    >>> address_key("HTTP://Prometheus.monitoring:9090/prom/")
    'http://prometheus.monitoring:9090'
    """
    parts = urlsplit(address.strip())
    if not parts.scheme or not parts.netloc:
        return address.strip()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class LimiterRegistry:
    """One `Limiter` per backend address, created on first use with the registry's (or a per-address) config."""

    def __init__(
        self, default: ThrottleConfig | None = None, per_address: dict[str, ThrottleConfig] | None = None
    ) -> None:
        self.default = default or ThrottleConfig()
        self._per_address = {address_key(k): v for k, v in (per_address or {}).items()}
        self._limiters: dict[str, Limiter] = {}

    def get(self, address: str) -> Limiter:
        key = address_key(address)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = Limiter(self._per_address.get(key, self.default))
        return limiter

    def requests(self) -> dict[str, int]:
        """Requests let through so far, per backend address."""
        return {key: limiter.requests for key, limiter in self._limiters.items()}
