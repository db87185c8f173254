"""Query threads: where the providers' synchronous clients (prometheus-api-client) run, off the event loop.

Sits under `prometheus.PrometheusProvider.measure`: the coroutine hands one blocking call to a thread and
awaits its result, under the limiter's slot and an explicit `asyncio.timeout`. It does what
`loop.run_in_executor(ThreadPoolExecutor(...), fn, *args)` does, with less work per call, which mattered
at hundreds of queries per second: no `concurrent.futures.Future` chained to an asyncio one, and no
idle-thread semaphore taken on each submit (both showed up as ~9 % of the event loop's CPU). Threads start
on demand up to `max_workers` and live until `shutdown`. A call whose awaiting coroutine was cancelled (a
timeout) is skipped if it has not started; one already running is ended by its caller (the Prometheus
provider shuts its sockets down, `deadlines`) and its result is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["QueryThreads"]

T = TypeVar("T")
_STOP = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled by a timeout meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class QueryThreads:
    """A pool of at most `max_workers` threads running blocking calls for coroutines."""

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers, self.name = max_workers, name
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for work (the loop reads it without the lock: a hint)
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a pool thread; its result or exception comes back to the awaiting coroutine."""
        if self._closed:
            raise RuntimeError(f"{self.name} threads are shut down")
        future: asyncio.Future[T] = loop.create_future()
        # No idle thread left for this call (queued calls take the idle ones first): start one more.
        if self._queue.qsize() >= self._idle and len(self._threads) < self.max_workers:
            thread = threading.Thread(
                target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        self._queue.put((loop, future, fn, args))
        return await future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
            if item is _STOP:
                return
            loop, future, fn, args = item
            if future.done():  # cancelled before it started: skip the call
                continue
            try:
                result, error = fn(*args), None
            except BaseException as e:  # handed to the awaiting coroutine
                result, error = None, e
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)
            del item, future, result, error

    def shutdown(self) -> None:
        """Stop every thread once it finishes its current call (does not wait for them)."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        self._threads.clear()
