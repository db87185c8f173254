"""Backend governance: identical queries coalesced into one request, and a circuit breaker per backend.

Sits inside the Prometheus provider, around the exchange (`PrometheusProvider.query`), after the query is
resolved and before it is admitted by the caps (`throttling`):

* **Coalescing** (`Coalescer`). Queries with the same key — the connection (address, headers, credentials, TLS
  setting), the endpoint and every parameter, and the *evaluation bucket* — share one request. A live query
  (no `time`) is evaluated at Prometheus's "now", so the bucket is the wall-clock window of `window` seconds it
  falls in: a thousand runs asking the same question within one second ask Prometheus once. A query at an
  explicit instant (replays, `--at`) carries its instant in its parameters. The first asker's request runs as
  a task of its own; the others await it (each within its own deadline), and its answer — success or error —
  serves the rest of the window. Different credentials never share an answer: they are part of the key.
* **Circuit breaker** (`Breakers`). Per backend address: after `failures` consecutive backend failures
  (connection refused or reset, a timeout, a 5xx — not a 4xx, which is the query's fault, and not a refusal by
  this process's own caps), the breaker opens: measurements towards that backend are Error at once, saying the
  backend is unavailable and when it will be tried again, instead of each waiting for its timeout and holding a
  worker. After `cooldown` seconds one probe is let through (half-open): an answer closes the breaker, a
  failure opens it again.

Both report to an observer (the controller's metrics: `analysis_backend_coalesced_total`,
`analysis_backend_breaker_transitions_total`, `analysis_backend_breaker_open`) and the breaker logs its
transitions at warning level. Keys and addresses come from manifests, so both forget old entries past a bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from loguru import logger

__all__ = [
    "DEFAULT_BREAKER_COOLDOWN",
    "DEFAULT_BREAKER_FAILURES",
    "DEFAULT_COALESCE_WINDOW",
    "BackendObserver",
    "Breakers",
    "Coalescer",
    "GovernanceConfig",
]

DEFAULT_COALESCE_WINDOW = 1.0
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_COOLDOWN = 30.0
_MAX_ENTRIES = 20_000  # coalescing entries kept (finished ones are dropped once their window is over)
_MAX_BACKENDS = 1_000  # breakers kept (closed ones without failures are dropped first)

T = TypeVar("T")
State = Literal["closed", "open", "half-open"]


class BackendObserver(Protocol):
    def on_coalesced(self, backend: str) -> None: ...

    def on_breaker(self, backend: str, state: State) -> None: ...


@dataclass(frozen=True)
class GovernanceConfig:
    """`coalesce_window` seconds (0: no coalescing); `breaker_failures` consecutive failures open a backend's
    breaker (0: no breaker), for `breaker_cooldown` seconds before a probe."""

    coalesce_window: float = DEFAULT_COALESCE_WINDOW
    breaker_failures: int = DEFAULT_BREAKER_FAILURES
    breaker_cooldown: float = DEFAULT_BREAKER_COOLDOWN

    def __post_init__(self) -> None:
        if self.coalesce_window < 0:
            raise ValueError(f"coalesce window must not be negative, got {self.coalesce_window:g}")
        if self.breaker_failures < 0:
            raise ValueError(f"breaker failures must not be negative, got {self.breaker_failures}")
        if self.breaker_cooldown <= 0:
            raise ValueError(f"breaker cooldown must be positive, got {self.breaker_cooldown:g}")


@dataclass
class _Entry:
    task: asyncio.Task[Any]
    expires: float  # monotonic: the end of its window (while running: never)


class Coalescer:
    """One request per key and window; the others share its answer."""

    def __init__(
        self,
        window: float,
        observer: BackendObserver | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.observer = observer
        self._wall = wall
        self._monotonic = monotonic
        self._entries: dict[Hashable, _Entry] = {}
        self.requests = 0
        self.coalesced = 0

    async def run(self, key: Hashable, backend: str, request: Callable[[], Awaitable[T]]) -> T:
        """`request()`'s answer, or the answer of the same key's request still running or within its window."""
        if self.window <= 0:
            self.requests += 1
            return await request()
        now = self._monotonic()
        entry = self._entries.get(key)
        if entry is not None and (not entry.task.done() or now < entry.expires):
            self.coalesced += 1
            if self.observer is not None:
                self.observer.on_coalesced(backend)
            result: T = await asyncio.shield(entry.task)
            return result
        if len(self._entries) >= _MAX_ENTRIES:
            self._forget(now)
        self.requests += 1
        task: asyncio.Task[T] = asyncio.ensure_future(request())
        wall = self._wall()
        # the answer serves the rest of the window it was asked in, and anyone who asks while it is on its way
        entry = self._entries[key] = _Entry(task, now + (int(wall // self.window) + 1) * self.window - wall)

        def forget_cancelled(_: asyncio.Task[T]) -> None:
            if task.cancelled() and self._entries.get(key) is entry:
                del self._entries[key]  # nobody may be handed a cancelled answer

        task.add_done_callback(forget_cancelled)
        return await asyncio.shield(task)

    def _forget(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.task.done() and now >= e.expires]:
            del self._entries[key]
        while (
            len(self._entries) >= _MAX_ENTRIES
        ):  # all running or fresh: drop the oldest finished, else oldest
            victim = next((k for k, e in self._entries.items() if e.task.done()), next(iter(self._entries)))
            del self._entries[victim]


@dataclass
class _Breaker:
    failures: int = 0
    state: State = "closed"
    open_until: float = 0.0
    probing: bool = False
    last_error: str = ""
    opened: int = field(default=0)


class Breakers:
    """A circuit breaker per backend address."""

    def __init__(
        self,
        failures: int,
        cooldown: float,
        observer: BackendObserver | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self.observer = observer
        self._monotonic = monotonic
        self._by_backend: dict[str, _Breaker] = {}

    def state(self, backend: str) -> State:
        breaker = self._by_backend.get(backend)
        return breaker.state if breaker is not None else "closed"

    def refusal(self, backend: str) -> str | None:
        """None when a request may go to `backend` now (as the probe, if half-open); else the Error message."""
        if self.failures <= 0:
            return None
        breaker = self._by_backend.get(backend)
        if breaker is None or breaker.state == "closed":
            return None
        now = self._monotonic()
        if breaker.state == "open" and now >= breaker.open_until:
            self._set(backend, breaker, "half-open")
        if breaker.state == "half-open" and not breaker.probing:
            breaker.probing = True
            return None
        wait = max(0.0, breaker.open_until - now)
        when = f"in {wait:.0f}s" if breaker.state == "open" else "once the probe in flight answers"
        return (
            f"{breaker.failures} consecutive failures (last: {breaker.last_error}); the backend is treated as "
            f"unavailable and measurements fail at once until it is tried again {when}"
        )

    def succeeded(self, backend: str) -> None:
        breaker = self._by_backend.get(backend)
        if breaker is None:
            return
        breaker.failures = 0
        breaker.probing = False
        if breaker.state != "closed":
            self._set(backend, breaker, "closed")

    def abandoned(self, backend: str) -> None:
        """A request let through ended without a word from the backend (refused by this process's caps, or
        cancelled): if it was the half-open probe, the next request probes instead."""
        breaker = self._by_backend.get(backend)
        if breaker is not None:
            breaker.probing = False

    def failed(self, backend: str, error: str) -> None:
        if self.failures <= 0:
            return
        breaker = self._by_backend.get(backend)
        if breaker is None:
            if len(self._by_backend) >= _MAX_BACKENDS:
                self._forget()
            breaker = self._by_backend[backend] = _Breaker()
        breaker.failures += 1
        breaker.last_error = error[:300]
        breaker.probing = False
        if breaker.state == "half-open" or (breaker.state == "closed" and breaker.failures >= self.failures):
            breaker.open_until = self._monotonic() + self.cooldown
            self._set(backend, breaker, "open")

    def _set(self, backend: str, breaker: _Breaker, state: State) -> None:
        breaker.state = state
        if state == "open":
            breaker.opened += 1
            logger.warning(
                "metric backend {} is unavailable after {} consecutive failures (last: {}): its measurements "
                "fail at once for {:g}s, then one probe is let through",
                backend,
                breaker.failures,
                breaker.last_error,
                self.cooldown,
            )
        elif state == "closed":
            logger.warning("metric backend {} answers again: its circuit breaker is closed", backend)
        if self.observer is not None:
            self.observer.on_breaker(backend, state)

    def _forget(self) -> None:
        idle = [b for b, br in self._by_backend.items() if br.state == "closed"]
        for backend in idle[: max(1, len(idle) // 2)] or list(self._by_backend)[:1]:
            del self._by_backend[backend]
