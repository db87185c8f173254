"""The work queue: watch events and requeues in, one serial reconcile per object key out.

Between watching (informer event handlers call `add`) and reconciling (the handler a `WorkQueue` is built
with). Semantics of client-go's rate-limited delaying queue, which Argo Rollouts uses:

* **dedupe** — a key already waiting to be processed is not queued twice;
* **serial per key** — a key being processed is never handed to a second worker; if it is added meanwhile it
  is marked dirty and processed once more after the current pass;
* **delayed requeue** — `add_after(key, seconds)` (from `Plan.requeue_after`) goes on ONE timer heap for the
  whole queue; an earlier request for the same key wins;
* **backoff on errors** — a handler that raises is retried after 1 ms, 2 ms, 4 ms … capped at 10 s (docs/semantics/controller.md#work-queue:
  exponential per-item 1 ms → 10 s); a successful pass resets the key's failures;
* **bounded concurrency** — `workers` tasks (`--rollout-workers`, `--analysis-workers`);
* **fair between namespaces** — ready keys wait in one FIFO lane per namespace and workers take lanes in
  round-robin order, so a namespace with a thousand queued keys delays another namespace's key by at most one
  turn, not a thousand; and with `namespace_workers` set, no namespace holds more than that many workers at
  once, so keys of other namespaces always find a free worker even while one namespace's handlers are slow
  (a deliberate addition: client-go's queue is one FIFO).

A handler that raises is logged at warning level when its failure streak starts and each time the streak
doubles (1, 2, 4, 8 … failures, then once per `max_delay`), with the traceback when the exception is not one of
the API server's answers (those are expected and retried; anything else is a defect).

Time comes from an injected `Clock`, so tests run the timer heap without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.kube.errors import KubeError


@dataclass(frozen=True, order=True, slots=True)
class ObjectKey:
    """`namespace/name` of an object ("" namespace for cluster-scoped ones)."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        namespace, _, name = text.rpartition("/")
        return cls(namespace, name)

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectKey:
        meta = obj.get("metadata") or {}
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""))


#: A reconcile: returns seconds after which to look again (None: only on the next event or resync).
Handler = Callable[[ObjectKey], Awaitable[float | None]]


class QueueObserver(Protocol):
    """What the metrics module learns from a queue (`workqueue_*` series, label `name`)."""

    def on_add(self, queue: str) -> None: ...
    def on_depth(self, queue: str, depth: int) -> None: ...
    def on_retry(self, queue: str) -> None: ...
    def on_latency(self, queue: str, seconds: float) -> None: ...
    def on_work(self, queue: str, seconds: float) -> None: ...


@dataclass
class QueueStats:
    adds: int = 0
    retries: int = 0
    processed: int = 0
    errors: int = 0


class WorkQueue:
    """A named queue with `workers` worker tasks calling `handler(key)`.

    `start()` launches the workers and the timer; `await stop()` lets running handlers finish (up to
    `grace` seconds) and cancels the rest.
    """

    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        workers: int = 10,
        clock: Clock | None = None,
        base_delay: float = 0.001,
        max_delay: float = 10.0,
        observer: QueueObserver | None = None,
        namespace_workers: int | None = None,
    ) -> None:
        self.name = name
        self.handler = handler
        self.workers = max(1, workers)
        self.clock: Clock = clock or MonotonicClock()
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.observer = observer
        self.namespace_workers = self.workers if namespace_workers is None else max(1, namespace_workers)
        self.stats = QueueStats()
        self._lanes: dict[str, deque[ObjectKey]] = {}
        self._turns: deque[str] = deque()
        self._ready_count = 0
        self._busy: dict[str, int] = {}
        self._has_work = asyncio.Event()
        self._dirty: set[ObjectKey] = set()
        self._processing: set[ObjectKey] = set()
        self._queued_at: dict[ObjectKey, float] = {}
        self._failures: dict[ObjectKey, int] = {}
        self._heap: list[tuple[float, int, ObjectKey]] = []
        self._waiting: dict[ObjectKey, float] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------------ producers

    def add(self, key: ObjectKey) -> None:
        """Queue `key` now (no-op when it is already queued and not yet picked up)."""
        if self._closed or key in self._dirty:
            return
        self._dirty.add(key)
        self.stats.adds += 1
        if self.observer:
            self.observer.on_add(self.name)
        if key in self._processing:
            return  # re-run after the current pass (serial per key)
        self._push(key)

    def add_after(self, key: ObjectKey, delay: float) -> None:
        """Queue `key` after `delay` seconds; the earliest pending request per key wins."""
        if self._closed:
            return
        if delay <= 0:
            self.add(key)
            return
        when = self.clock.now() + delay
        current = self._waiting.get(key)
        if current is not None and current <= when:
            return
        self._waiting[key] = when
        heapq.heappush(self._heap, (when, next(self._seq), key))
        if self._heap[0][2] == key and self._heap[0][0] == when:
            self._wake.set()

    def add_rate_limited(self, key: ObjectKey) -> float:
        """Requeue after the key's exponential backoff (1 ms, 2 ms, … 10 s); returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = float(min(self.max_delay, self.base_delay * (2.0**failures)))
        self.stats.retries += 1
        if self.observer:
            self.observer.on_retry(self.name)
        self.add_after(key, delay)
        return delay

    def forget(self, key: ObjectKey) -> None:
        """Reset the key's backoff."""
        self._failures.pop(key, None)

    def failures(self, key: ObjectKey) -> int:
        return self._failures.get(key, 0)

    # ------------------------------------------------------------------ state

    @property
    def depth(self) -> int:
        """Keys ready and waiting for a worker."""
        return self._ready_count

    def busy(self, namespace: str) -> int:
        """Workers currently running handlers for keys of `namespace`."""
        return self._busy.get(namespace, 0)

    @property
    def delayed(self) -> int:
        """Keys waiting on the timer heap."""
        return len(self._waiting)

    def is_processing(self, key: ObjectKey) -> bool:
        return key in self._processing

    async def wait_idle(self) -> None:
        """Until nothing is ready or processing (delayed keys may remain)."""
        while self._ready_count or self._processing:
            self._idle.clear()
            await self._idle.wait()

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._timer(), name=f"{self.name}-timer"))
        for i in range(self.workers):
            self._tasks.append(loop.create_task(self._worker(), name=f"{self.name}-worker-{i}"))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking work; wait up to `grace` seconds for running handlers, then cancel everything."""
        self._closed = True
        if self._processing:
            try:
                async with asyncio.timeout(grace):
                    while self._processing:
                        self._idle.clear()
                        await self._idle.wait()
            except TimeoutError:
                pass
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _push(self, key: ObjectKey) -> None:
        self._queued_at[key] = self.clock.now()
        lane = self._lanes.get(key.namespace)
        if lane is None:
            lane = self._lanes[key.namespace] = deque()
            self._turns.append(key.namespace)
        lane.append(key)
        self._ready_count += 1
        self._idle.clear()
        self._has_work.set()
        if self.observer:
            self.observer.on_depth(self.name, self._ready_count)

    def _pick(self) -> ObjectKey | None:
        """The next key in round-robin order over namespaces below their worker cap, or None."""
        for _ in range(len(self._turns)):
            namespace = self._turns[0]
            self._turns.rotate(-1)
            if self._busy.get(namespace, 0) >= self.namespace_workers:
                continue
            lane = self._lanes[namespace]
            key = lane.popleft()
            if not lane:
                del self._lanes[namespace]
                self._turns.pop()  # it was just rotated to the end
            self._ready_count -= 1
            self._busy[namespace] = self._busy.get(namespace, 0) + 1
            return key
        return None

    async def _take(self) -> ObjectKey:
        while (key := self._pick()) is None:
            self._has_work.clear()
            await self._has_work.wait()
        return key

    def _release(self, key: ObjectKey) -> None:
        left = self._busy.get(key.namespace, 1) - 1
        if left:
            self._busy[key.namespace] = left
        else:
            self._busy.pop(key.namespace, None)
        if self._ready_count:
            self._has_work.set()  # a namespace at its cap may take a worker again

    def _log_failure(self, key: ObjectKey, error: Exception, delay: float) -> None:
        failures = self._failures.get(key, 0)
        if failures & (failures - 1) and delay < self.max_delay:
            return  # between doublings of the streak: counted, not logged again
        expected = isinstance(error, KubeError)
        logger.opt(exception=None if expected else error).warning(
            "{} {}: reconcile failed ({} in a row): {}: {}; retrying in {:.3f}s",
            self.name,
            key,
            failures,
            type(error).__name__,
            error,
            delay,
        )

    async def _worker(self) -> None:
        while True:
            key = await self._take()
            self._dirty.discard(key)
            self._processing.add(key)
            started = self.clock.now()
            if self.observer:
                self.observer.on_depth(self.name, self._ready_count)
                self.observer.on_latency(self.name, started - self._queued_at.pop(key, started))
            else:
                self._queued_at.pop(key, None)
            try:
                requeue = await self.handler(key)
            except asyncio.CancelledError:
                self._processing.discard(key)
                self._release(key)
                raise
            except Exception as e:
                self.stats.errors += 1
                delay = self.add_rate_limited(key)
                self._log_failure(key, e, delay)
            else:
                self.forget(key)
                if requeue is not None:
                    self.add_after(key, requeue)
            finally:
                self.stats.processed += 1
                if self.observer:
                    self.observer.on_work(self.name, self.clock.now() - started)
            self._processing.discard(key)
            self._release(key)
            if key in self._dirty and not self._closed:
                self._push(key)
            if not self._processing and not self._ready_count:
                self._idle.set()

    def _fire_due(self) -> None:
        now = self.clock.now()
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            if self._waiting.get(key) != when:
                continue  # superseded by an earlier request
            del self._waiting[key]
            self.add(key)

    async def _timer(self) -> None:
        while True:
            self._wake.clear()
            self._fire_due()
            waiter = asyncio.ensure_future(self._wake.wait())
            tasks: set[asyncio.Future[Any]] = {waiter}
            if self._heap:
                tasks.add(asyncio.ensure_future(self.clock.sleep(self._heap[0][0] - self.clock.now())))
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
