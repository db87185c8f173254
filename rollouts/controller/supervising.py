"""The supervisor thread: the health and metrics server and the leader elector, on an event loop of their own.

Beside the manager (`rollouts.controller.manager`), whose event loop runs the informers, the work queues and
every reconcile. Keeping the probes and the Lease on a second thread means a busy or stalled reconcile loop
delays neither `/healthz` nor a renewal: the probes answer in milliseconds whatever the reconcilers do, and
the Lease is renewed on time (with its own client, so its requests never queue behind the reconcilers' behind
the `--qps` limiter). Liveness still reflects the reconcilers: the manager's loop beats a heartbeat, and
`/healthz` turns red when it has not beaten for the stall limit.

The elector's verdict travels back through `on_change()` (called on this thread; the manager hops it onto its
own loop) and through the fence (`LeaderElector.check_write`, read from any thread: a float compared with the
monotonic clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from loguru import logger

from rollouts.controller.health import HealthServer
from rollouts.controller.leadership import LeaderElector
from rollouts.controller.sharding import Membership

STOP_TIMEOUT = 15.0  # seconds a release and the servers' shutdown may take before the thread is left behind


class Supervisor:
    """`start()` (blocks until the servers listen), then `await stop(release=True)` from the manager's loop."""

    def __init__(
        self,
        health: HealthServer,
        elector: LeaderElector | None = None,
        *,
        member: Membership | None = None,
        on_change: Callable[[], None] = lambda: None,
        name: str = "rollouts-supervisor",
    ) -> None:
        self.health = health
        self.elector = elector
        self.member = member
        self.on_change = on_change
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread; returns once the health server listens (its ports are then known)."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"the {self.name} thread did not start within {timeout:g}s")
        if self._error is not None:
            self._thread.join(timeout)  # it ends at once: nothing to stop later
            self._thread = None
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.health.start()
        except BaseException as e:  # a taken port: reported by start() on the caller's thread
            self._error = e
            self._started.set()
            return
        self._started.set()
        if self.elector is not None:
            self._tasks.append(asyncio.create_task(self._elect(self.elector), name="leader-election"))
            self._tasks.append(asyncio.create_task(self.elector.watch(), name="lease-watch"))
        if self.member is not None:
            self._tasks.append(asyncio.create_task(self.member.run(), name="shard-membership"))
        await self._stop.wait()

    async def _elect(self, elector: LeaderElector) -> None:
        while True:
            try:
                await elector.acquire()
                self._changed()
                await elector.hold()
                logger.warning("leader election: lost the lease {}", elector.config.name)
                self._changed()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug: never leave the process leading without renewing
                logger.exception("leader election failed; standing by")
                elector.valid_until = 0.0
                elector.is_leader = False
                self._changed()
                await asyncio.sleep(elector.config.retry_period)

    def _changed(self) -> None:
        try:
            self.on_change()
        except Exception:
            logger.exception("leadership change handler failed")

    async def _shutdown(self, release: bool) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.elector is not None:
            if release:
                await self.elector.release()
            else:
                self.elector.valid_until = 0.0
            with contextlib.suppress(Exception):
                await self.elector.client.close()
        if self.member is not None:
            if release:
                await self.member.release()
            else:
                self.member.valid_until = 0.0
            with contextlib.suppress(Exception):
                await self.member.client.close()
        await self.health.stop()
        assert self._stop is not None
        self._stop.set()

    async def stop(self, *, release: bool = True) -> None:
        """From another loop: stop electing (releasing the lease when asked) and serving; join the thread."""
        timeout = STOP_TIMEOUT
        thread, loop = self._thread, self.loop
        if thread is None or loop is None or not thread.is_alive() or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(release), loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            logger.warning("the {} thread did not stop within {:g}s", self.name, timeout)
        await asyncio.to_thread(thread.join, timeout)
        self._thread = None
