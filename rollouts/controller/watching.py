"""Informers: keep a `Store` in step with the API server by list-then-watch, and tell handlers what changed.

The first stage of the controller pipeline (watch events → work queue → reconcile). One informer per watched
resource (and label selector): it lists, replaces the store, then watches from the list's resourceVersion;
when a watch ends it resumes from the last seen resourceVersion (bookmarks included), on 410 Gone it relists
(emitting the differences as synthetic events, so nothing missed during the gap is lost), and on errors it
backs off exponentially (0.5 s → 30 s) before trying again. Every `resync` seconds it replays every cached
object to the handlers as RESYNC (level-triggered safety net; costs no API request).

Handlers are synchronous callables `handler(event_type, obj, old)`: ADDED, MODIFIED, DELETED, RESYNC. They
must be quick (typically `queue.add(key)`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from loguru import logger

from rollouts.controller.caching import Obj, Store
from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import Gone, KubeError, NotFound
from rollouts.kube.resources import Resource

Handler = Callable[[str, Obj, Obj | None], None]


class Informer:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync: float | None = None,
        watch_timeout: int = 300,
        clock: Clock | None = None,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        end_when_not_served: bool = False,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync = resync
        self.watch_timeout = watch_timeout
        self.clock: Clock = clock or MonotonicClock()
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.end_when_not_served = end_when_not_served
        self.store = Store(resource)
        self.handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self.resource_version: str | None = None
        self.lists = 0  # how many times it listed (1 + relists): for tests and benchmarks
        self.watches = 0
        self.errors = 0
        self._failures = 0
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def name(self) -> str:
        where = self.namespace or "*"
        sel = f" [{self.label_selector}]" if self.label_selector else ""
        return f"{self.resource.plural} in {where}{sel}"

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self.run(), name=f"informer {self.name}"))
        if self.resync:
            self._tasks.append(asyncio.create_task(self._resync_loop(), name=f"resync {self.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def wait_synced(self) -> None:
        """Until the first list has filled the store (wrap in `asyncio.timeout` to bound it)."""
        await self.synced.wait()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """List, then watch forever (until cancelled).

        With `end_when_not_served`, a 404 on the collection (its CustomResourceDefinition was deleted) ends the
        run instead: the store is emptied (DELETED to the handlers) and `synced` cleared, so readers go back to
        the API server and the caller may look for the resource again."""
        while True:
            try:
                if self.resource_version is None:
                    await self._list()
                await self._watch()
                self._failures = 0
            except NotFound as e:
                if not self.end_when_not_served:
                    await self._failed(e)
                    continue
                logger.info("{}: no longer served ({}); emptying the cache", self.name, e)
                self.synced.clear()
                self.resource_version = None
                for obj in self.store:
                    self.store.remove(obj)
                    self._emit("DELETED", obj, obj)
                return
            except Gone:
                logger.debug("{}: resourceVersion {} expired, relisting", self.name, self.resource_version)
                self.resource_version = None
            except KubeError as e:
                await self._failed(e)
            except (ValueError, TypeError) as e:  # a malformed answer: start over from a list
                self.errors += 1
                self.resource_version = None
                delay = self._backoff()
                logger.warning("{}: malformed watch data {} (relisting in {:.1f}s)", self.name, e, delay)
                await self.clock.sleep(delay)

    async def _failed(self, error: KubeError) -> None:
        self.errors += 1
        delay = self._backoff()
        logger.warning("{}: {} (retrying in {:.1f}s)", self.name, error, delay)
        await self.clock.sleep(delay)

    def _backoff(self) -> float:
        delay = min(self.max_backoff, self.min_backoff * (2.0**self._failures))
        self._failures += 1
        return float(delay)

    async def _list(self) -> None:
        answer = await self.client.list(
            self.resource,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        self.lists += 1
        added, changed, deleted = self.store.replace(answer)
        self.resource_version = answer.resource_version or None
        for obj in added:
            self._emit("ADDED", obj, None)
        for old, obj in changed:
            self._emit("MODIFIED", obj, old)
        for obj in deleted:
            self._emit("DELETED", obj, obj)
        self.synced.set()

    async def _watch(self) -> None:
        # Spread watch restarts (client-go: timeout in [min, 2*min)) so informers do not reconnect in lockstep.
        timeout = int(self.watch_timeout * (1 + random.random()))
        self.watches += 1
        stream = self.client.watch(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=timeout,
        )
        async for etype, obj in stream:
            meta = obj.get("metadata") or {}
            rv = meta.get("resourceVersion")
            if etype == "BOOKMARK":
                if rv:
                    self.resource_version = str(rv)
                continue
            if etype in ("ADDED", "MODIFIED"):
                old = self.store.upsert(obj)
                self._emit("MODIFIED" if old is not None else "ADDED", obj, old)
            elif etype == "DELETED":
                old = self.store.remove(obj)
                self._emit("DELETED", obj, old)
            if rv:
                self.resource_version = str(rv)
            self._failures = 0

    def _emit(self, etype: str, obj: Obj, old: Obj | None) -> None:
        for handler in self.handlers:
            try:
                handler(etype, obj, old)
            except Exception:  # one broken handler must not stop the informer
                logger.exception("{}: event handler failed on {} {}", self.name, etype, _name(obj))

    async def _resync_loop(self) -> None:
        assert self.resync
        await self.synced.wait()
        while True:
            await self.clock.sleep(self.resync)
            for obj in self.store:
                self._emit("RESYNC", obj, obj)


def _name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
