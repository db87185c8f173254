"""Per-backend rate limits and the caps that share the provider workers fairly between tenants.

Sits between a provider's `measure()` and the network: before a query leaves the process it is *admitted*
(`LimiterRegistry.admit`), which takes, in this order,

1. a slot of its **namespace** (the tenant: the AnalysisRun's namespace, read from `TENANT`, which the runner
   sets) — at most `namespace_concurrency` queries of one namespace in flight, whatever backends they use;
2. a slot of its **backend address** (`Limiter`): at most `concurrency` queries towards one backend, and a
   sliding-window rate limit (`asyncio_throttle.Throttler`: at most `rate` requests in any window).

So one namespace, one template or one slow backend can hold at most its cap of the provider workers (the
Prometheus query threads, the web connections); the rest stay free for everybody else. The provider wraps the
admission and the request in the measurement's own deadline, so a query that waits too long for a slot is
refused (an Error measurement naming the cap) instead of holding its reconcile. Each wait and each refusal is
reported to the registry's `observer` (the controller counts them in `analysis_provider_cap_total`).

The semaphore is taken *before* the throttler on purpose: `Throttler.acquire` polls (sleeps 5 ms and
retries), so only the tasks that already hold a concurrency slot poll, instead of every waiting measurement.

`LimiterRegistry` hands out one limiter per normalised address, so every provider instance talking to the same
backend shares it. asyncio primitives belong to the event loop that first uses them: create a registry per
event loop (the CLI and the controller each own one). Addresses and namespaces come from manifests, so the
registry forgets idle ones past `_MAX_KEYS` instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from urllib.parse import urlsplit

from asyncio_throttle.throttler import Throttler

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_NAMESPACE_CONCURRENCY",
    "DEFAULT_RATE",
    "DEFAULT_WORKERS",
    "TENANT",
    "Admission",
    "CapObserver",
    "Limiter",
    "LimiterRegistry",
    "ThrottleConfig",
    "address_key",
]

DEFAULT_RATE: float | None = 100.0
"""Default requests per second towards one backend address (None = unlimited)."""
DEFAULT_CONCURRENCY = 16
"""Default number of requests in flight towards one backend address."""
DEFAULT_NAMESPACE_CONCURRENCY = 8
"""Default number of requests in flight for one namespace, over all its backends (controller)."""
DEFAULT_WORKERS = 64
"""Default number of Prometheus query threads (and web connections) of one process."""

TENANT: ContextVar[str] = ContextVar("analysis_tenant", default="")
"""The namespace whose measurement is being taken ('' outside the controller); set by the runner."""

CapObserver = Callable[[str, str, str], None]
"""``observer(outcome, cap, namespace)``: outcome ``waited`` | ``refused``; cap ``namespace`` | ``backend`` |
``rate``. Called on the event loop; must be cheap and must not raise."""

_MAX_KEYS = 4096  # idle limiters / namespace slots kept before the idle ones are forgotten


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

    def slot(self) -> _Slot:
        """One request's slot: waits for the concurrency cap, then for the rate limit; released on exit."""
        return self._slot

    def idle(self) -> bool:
        """Nobody holds or waits for a slot (the limiter may be forgotten)."""
        semaphore = self._semaphore
        return not semaphore.locked() and semaphore._value == self.config.concurrency


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


class _Namespace:
    """One namespace's share: a semaphore of `cap` slots."""

    __slots__ = ("cap", "semaphore")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.semaphore = asyncio.Semaphore(cap)

    def idle(self) -> bool:
        return not self.semaphore.locked() and self.semaphore._value == self.cap


class Admission:
    """`async with registry.admit(address):` one query's namespace slot, backend slot and rate-limit turn.

    `waiting_for` names the cap being waited for (``namespace``, ``backend``, ``rate``) while the admission
    waits, and is None once admitted: a deadline that fires meanwhile is a refusal for that cap."""

    __slots__ = ("_limiter", "_namespace", "_registry", "tenant", "waiting_for")

    def __init__(self, registry: LimiterRegistry, limiter: Limiter, tenant: str) -> None:
        self._registry, self._limiter, self.tenant = registry, limiter, tenant
        self._namespace: _Namespace | None = None
        self.waiting_for: str | None = None

    @property
    def limiter(self) -> Limiter:
        return self._limiter

    async def __aenter__(self) -> Admission:
        registry, limiter = self._registry, self._limiter
        namespace = registry._namespace(self.tenant)
        if namespace is not None:
            if namespace.semaphore.locked():
                self._wait("namespace")
            await namespace.semaphore.acquire()
            self._namespace = namespace
        try:
            semaphore = limiter._semaphore
            if semaphore.locked():
                self._wait("backend")
            await semaphore.acquire()
            try:
                throttler = limiter._throttler
                if throttler is not None:
                    self.waiting_for = "rate"  # only counted when a deadline fires while waiting for it
                    await throttler.acquire()  # type: ignore[no-untyped-call]
            except BaseException:
                semaphore.release()
                raise
        except BaseException:
            if self._namespace is not None:
                self._namespace.semaphore.release()
                self._namespace = None
            raise
        self.waiting_for = None
        limiter.requests += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._limiter._semaphore.release()
        if self._namespace is not None:
            self._namespace.semaphore.release()
            self._namespace = None

    def _wait(self, cap: str) -> None:
        self.waiting_for = cap
        self._registry.observe("waited", cap, self.tenant)

    def describe_refusal(self, seconds: float) -> str:
        """The sentence of an Error measurement refused while waiting for `waiting_for`."""
        registry = self._registry
        who = f"namespace '{self.tenant}'" if self.tenant else "this process"
        if self.waiting_for == "namespace":
            cap = registry.namespace_concurrency
            return (
                f"not measured: {who} already has {cap} queries in flight (the per-namespace cap) and none "
                f"finished within the metric's {seconds:g}s timeout; a backend of this namespace is slow"
            )
        if self.waiting_for == "backend":
            return (
                f"not measured: {self._limiter.config.concurrency} queries towards this backend are already in "
                f"flight (the per-backend cap) and none finished within the metric's {seconds:g}s timeout"
            )
        return (
            f"not measured: the rate limit of this backend ({self._limiter.config.rate:g} requests/s) left no "
            f"turn within the metric's {seconds:g}s timeout"
        )


class LimiterRegistry:
    """One `Limiter` per backend address (created on first use with the registry's or a per-address config)
    and one slot pool per namespace (`namespace_concurrency`, None: no per-namespace cap)."""

    def __init__(
        self,
        default: ThrottleConfig | None = None,
        per_address: dict[str, ThrottleConfig] | None = None,
        *,
        namespace_concurrency: int | None = None,
        observer: CapObserver | None = None,
    ) -> None:
        if namespace_concurrency is not None and namespace_concurrency < 1:
            raise ValueError(f"namespace concurrency must be at least 1, got {namespace_concurrency}")
        self.default = default or ThrottleConfig()
        self.namespace_concurrency = namespace_concurrency
        self.observer = observer
        self._per_address = {address_key(k): v for k, v in (per_address or {}).items()}
        self._limiters: dict[str, Limiter] = {}
        self._namespaces: dict[str, _Namespace] = {}

    def get(self, address: str) -> Limiter:
        key = address_key(address)
        limiter = self._limiters.get(key)
        if limiter is None:
            if len(self._limiters) >= _MAX_KEYS:
                _forget_idle(self._limiters)
            limiter = self._limiters[key] = Limiter(self._per_address.get(key, self.default))
        return limiter

    def admit(self, address: str, tenant: str | None = None) -> Admission:
        """The admission of one query towards `address` for `tenant` (default: the current `TENANT`)."""
        return Admission(self, self.get(address), TENANT.get() if tenant is None else tenant)

    def _namespace(self, tenant: str) -> _Namespace | None:
        cap = self.namespace_concurrency
        if cap is None:
            return None
        namespace = self._namespaces.get(tenant)
        if namespace is None:
            if len(self._namespaces) >= _MAX_KEYS:
                _forget_idle(self._namespaces)
            namespace = self._namespaces[tenant] = _Namespace(cap)
        return namespace

    def observe(self, outcome: str, cap: str, tenant: str) -> None:
        if self.observer is not None:
            with contextlib.suppress(Exception):  # counting must never break a measurement
                self.observer(outcome, cap, tenant)

    def requests(self) -> dict[str, int]:
        """Requests let through so far, per backend address."""
        return {key: limiter.requests for key, limiter in self._limiters.items()}


def _forget_idle(table: dict[str, Limiter] | dict[str, _Namespace]) -> None:
    for key in [k for k, v in table.items() if v.idle()]:
        del table[key]
