"""Clocks for the runner: time it reads (`now`) and waits on (`sleep_until`), live or virtual.

Used by `analysis.runner` (which re-exports `Clock`, `WallClock` and `VirtualClock`): live runs use the
system clock, replays and tests a `VirtualClock` whose sleeps jump at once, so an hour of 60 s intervals
replays in the time of its queries. `Sleeper` lets a run's wait end early when its `terminate` Event is set.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "Sleeper", "VirtualClock", "WallClock"]


class Clock(Protocol):
    """Time for the runner: `now()` and an awaitable `sleep_until`."""

    def now(self) -> datetime: ...

    async def sleep_until(self, t: datetime) -> None: ...


class WallClock:
    """Wall-clock time in UTC; sleeps for real."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, t: datetime) -> None:
        delay = (t - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """A clock that jumps: `sleep_until(t)` moves time to t at once (replays, tests)."""

    virtual = True

    def __init__(self, start: datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    async def sleep_until(self, t: datetime) -> None:
        if t > self._now:
            self._now = t
        await asyncio.sleep(0)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Sleeper:
    """Sleeps on a clock until an instant or until the `terminate` Event is set, whichever comes first.

    One watcher task per run waits on the Event; a sleep on the `WallClock` is a bare timer on the loop
    (what `asyncio.sleep` does), and on another clock one task. Two tasks and an `asyncio.wait` per sleep
    were a tenth of the engine's CPU with hundreds of runs.
    """

    def __init__(self, clock: Clock, terminate: asyncio.Event) -> None:
        self.clock, self.terminate = clock, terminate
        self._system = type(clock).sleep_until is WallClock.sleep_until
        self._waiter: asyncio.Future[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        await self.terminate.wait()
        if self._waiter is not None:
            _wake(self._waiter)

    async def sleep_until(self, t: datetime) -> None:
        if self.terminate.is_set():
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        if self._watcher is None:
            self._watcher = loop.create_task(self._watch())
        waiter = self._waiter = loop.create_future()
        if self._system:
            handle: asyncio.TimerHandle | None = loop.call_later(
                max(0.0, (t - self.clock.now()).total_seconds()), _wake, waiter
            )
            sleeper = None
        else:
            handle = None
            sleeper = asyncio.ensure_future(self.clock.sleep_until(t))
            sleeper.add_done_callback(lambda _: _wake(waiter))
        try:
            await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()
            if sleeper is not None and not sleeper.done():
                sleeper.cancel()
                await asyncio.gather(sleeper, return_exceptions=True)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
