"""Watch subscriptions: one bounded queue of ready-to-send JSON lines per watcher.

Where it sits: the store offers every committed `Event` to the watchers of its resource (`Watcher.offer`);
the HTTP layer (`streaming`) drains a watcher into a chunked response. Each event is serialised once and the
bytes are shared by every watcher that sees it the same way (same event type and apiVersion), so fan-out to
ten watchers costs one `json.dumps`; the bytes are not kept on the event once it has been handed out, so the
history holds objects, not their encodings. The initial `ADDED` events of a watch are queued as references
to the stored objects and encoded only when sent, so a watcher that reads nothing costs no copy of the list.
A label/field selector turns MODIFIED into ADDED or DELETED when an object starts or stops matching, as
kube-apiserver does.

A watcher whose client falls behind is cut off as kube-apiserver's cacher cuts one whose buffer is full
(k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go, "Forcing … watcher close due to unresponsiveness"):
once more than `max_events` events or `max_bytes` bytes wait unsent, it is closed and its queue dropped; the
stream then ends and the client watches again from the last resourceVersion it saw (or relists after a 410).
The initial events are not counted, as the cacher does not count them either.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from rollouts.sandbox.resources import ResourceType
from rollouts.sandbox.selectors import Selector

log = logging.getLogger(__name__)

# Defaults for a watcher's unsent backlog (`SandboxOptions.watch_buffer_events`/`watch_buffer_bytes`).
MAX_EVENTS = 10_000
MAX_BYTES = 64 * 1024 * 1024


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def encode(obj: dict[str, Any]) -> bytes:
    """An object's compact JSON, as served and as stored (the size etcd would be asked to keep)."""
    return json.dumps(obj, separators=(",", ":")).encode()


class Event:
    """A committed change: the new object (for DELETED, the last state) and the previous one."""

    __slots__ = ("_body", "_wire", "obj", "old", "rv", "size", "type")

    def __init__(self, type_: str, obj: dict[str, Any], old: dict[str, Any] | None, rv: int) -> None:
        self.type = type_
        self.obj = obj
        self.old = old
        self.rv = rv
        self.size = 0
        self._body: bytes | None = None  # the object's encoding, while the event is being handed out
        self._wire: dict[tuple[str, str], bytes] = {}

    def seed(self, body: bytes) -> None:
        self._body = body

    def forget(self) -> None:
        """Drop the encodings: the history keeps only the objects."""
        self._body = None
        self._wire.clear()

    def wire(self, type_: str, api_version: str) -> bytes:
        cached = self._wire.get((type_, api_version))
        if cached is None:
            obj = self.obj
            if obj.get("apiVersion") == api_version and self._body is not None:
                cached = b'{"type":"' + type_.encode() + b'","object":' + self._body + b"}\n"
            else:
                if obj.get("apiVersion") != api_version:
                    obj = dict(obj)
                    obj["apiVersion"] = api_version
                cached = _dumps({"type": type_, "object": obj})
            self._wire[(type_, api_version)] = cached
        return cached


Item = bytes | dict[str, Any]  # a ready line, or a stored object still to be sent as ADDED


class Watcher:
    """One open watch: its filter, its queue of lines (and initial objects) and a wake-up event."""

    def __init__(
        self,
        rt: ResourceType,
        namespace: str | None,
        selector: Selector,
        *,
        max_events: int = MAX_EVENTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.rt = rt
        self.namespace = namespace
        self.selector = selector
        self.queue: deque[Item] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.cut = False  # closed because the client fell behind
        self.last_rv = 0
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.pending_events = 0
        self.pending_bytes = 0
        # Called once when the watcher is cut, so a stream blocked on a write can give up in time.
        self.on_cut: Callable[[], None] | None = None
        # Set for kubectl's `as=Table` watches: renders each event's object itself (no shared bytes).
        self.render: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def push(self, line: bytes, *, counted: bool = True) -> None:
        if self.closed:
            return
        if counted:
            self.pending_events += 1
            self.pending_bytes += len(line)
            if self.pending_events > self.max_events or self.pending_bytes > self.max_bytes:
                self._cut()
                return
        self.queue.append(line)
        self.wakeup.set()

    def _cut(self) -> None:
        self.cut = True
        self.close()
        self.queue.clear()
        if self.on_cut is not None:
            try:
                self.on_cut()
            except Exception:  # the store is mid-commit: nothing may escape into it
                log.exception("sandbox: a watch cut callback failed")

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

    def offer(self, event: Event, *, counted: bool = True) -> None:
        type_ = self.translate(event)
        if type_ is not None:
            self.last_rv = event.rv
            if self.render is not None:
                self.push(_dumps({"type": type_, "object": self.render(event.obj)}), counted=counted)
            else:
                self.push(event.wire(type_, self.rt.api_version), counted=counted)

    def bookmark(self, rv: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}
        self.push(_dumps({"type": "BOOKMARK", "object": obj}), counted=False)

    def error(self, status: dict[str, Any]) -> None:
        self.push(_dumps({"type": "ERROR", "object": status}), counted=False)

    def added(self, obj: dict[str, Any]) -> None:
        """Queue an initial ADDED event; encoded when sent (`line`), not now."""
        if self.closed:
            return
        self.queue.append(_dumps({"type": "ADDED", "object": self.render(obj)}) if self.render else obj)
        self.wakeup.set()

    def line(self, item: Item) -> bytes:
        """The JSON line of a queued item."""
        if isinstance(item, bytes):
            return item
        if item.get("apiVersion") != self.rt.api_version:
            item = dict(item)
            item["apiVersion"] = self.rt.api_version
        return _dumps({"type": "ADDED", "object": item})

    def pending_lines(self) -> list[bytes]:
        """Every queued line, encoded (for tests and tools; the stream encodes as it sends)."""
        return [self.line(i) for i in self.queue]

    async def next_batch(self, wait: float) -> list[Item] | None:
        """The queued items (possibly empty after `wait` seconds), or None once closed and drained."""
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
        self.pending_events = self.pending_bytes = 0
        if not batch and self.closed:
            return None
        return batch
