"""Watch subscriptions: one bounded queue of ready-to-send JSON lines per watcher.

Where it sits: the store offers every committed `Event` to the watchers of its resource (`Watcher.offer`);
the HTTP layer drains a watcher into a chunked response. Each event is serialised once and the bytes are
shared by every watcher that sees it the same way (same event type and apiVersion), so fan-out to ten
watchers costs one `json.dumps`. A label/field selector turns MODIFIED into ADDED or DELETED when an object
starts or stops matching, as kube-apiserver does.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from rollouts.sandbox.resources import ResourceType
from rollouts.sandbox.selectors import Selector

# A watcher that falls this far behind is closed (the client relists), like the apiserver's slow-watcher drop.
MAX_BACKLOG = 100_000


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


class Event:
    """A committed change: the new object (for DELETED, the last state) and the previous one."""

    __slots__ = ("_wire", "obj", "old", "rv", "type")

    def __init__(self, type_: str, obj: dict[str, Any], old: dict[str, Any] | None, rv: int) -> None:
        self.type = type_
        self.obj = obj
        self.old = old
        self.rv = rv
        self._wire: dict[tuple[str, str], bytes] = {}

    def wire(self, type_: str, api_version: str) -> bytes:
        cached = self._wire.get((type_, api_version))
        if cached is None:
            obj = self.obj
            if obj.get("apiVersion") != api_version:
                obj = dict(obj)
                obj["apiVersion"] = api_version
            cached = self._wire[(type_, api_version)] = _dumps({"type": type_, "object": obj})
        return cached


class Watcher:
    """One open watch: its filter, its queue of encoded lines and a wake-up event."""

    def __init__(self, rt: ResourceType, namespace: str | None, selector: Selector) -> None:
        self.rt = rt
        self.namespace = namespace
        self.selector = selector
        self.queue: deque[bytes] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.last_rv = 0
        # Set for kubectl's `as=Table` watches: renders each event's object itself (no shared bytes).
        self.render: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def push(self, line: bytes) -> None:
        if self.closed:
            return
        if len(self.queue) >= MAX_BACKLOG:
            self.close()
            return
        self.queue.append(line)
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()

    def translate(self, event: Event) -> str | None:
        """The event type this watcher sees, or None when the event is not for it."""
        obj = event.obj
        if self.namespace is not None and obj.get("metadata", {}).get("namespace") != self.namespace:
            return None
        sel = self.selector
        if sel.empty:
            return event.type
        now = sel(obj)
        if event.type != "MODIFIED" or event.old is None:
            return event.type if now else None
        before = sel(event.old)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None

    def offer(self, event: Event) -> None:
        type_ = self.translate(event)
        if type_ is not None:
            self.last_rv = event.rv
            if self.render is not None:
                self.push(_dumps({"type": type_, "object": self.render(event.obj)}))
            else:
                self.push(event.wire(type_, self.rt.api_version))

    def bookmark(self, rv: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}
        self.push(_dumps({"type": "BOOKMARK", "object": obj}))

    def error(self, status: dict[str, Any]) -> None:
        self.push(_dumps({"type": "ERROR", "object": status}))

    def added(self, obj: dict[str, Any]) -> None:
        if self.render is not None:
            self.push(_dumps({"type": "ADDED", "object": self.render(obj)}))
            return
        if obj.get("apiVersion") != self.rt.api_version:
            obj = dict(obj)
            obj["apiVersion"] = self.rt.api_version
        self.push(_dumps({"type": "ADDED", "object": obj}))

    async def next_batch(self, wait: float) -> list[bytes] | None:
        """The queued lines (possibly empty after `wait` seconds), or None once closed and drained."""
        if not self.queue:
            if self.closed:
                return None
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), wait)
            except TimeoutError:
                return []
        batch = list(self.queue)
        self.queue.clear()
        if not batch and self.closed:
            return None
        return batch
