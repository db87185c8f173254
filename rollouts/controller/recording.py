"""The event recorder: Kubernetes Events written off the reconcile path, counted and combined like client-go's.

Where it sits: a reconcile (the Applier, after its status write) or the runtime calls `emit`, which builds the
core/v1 Event, logs it, and puts it on a bounded queue — it never awaits and never raises, so an Event can
neither slow nor fail a rollout. Background lanes take the Events off the queue, ask the correlator
(`rollouts.controller.correlating`: combine similar ones, count repeats, spam filter) what to write, and write
it: a new Event, or a strategic merge patch of `count`, `lastTimestamp` and `message` on the one already
written (created again when it has expired). This is client-go's `EventBroadcaster` with
`StartRecordingToSink`; see docs/semantics/controller.md#events.

* **Order.** Each involved object has one lane (chosen by its namespace and name) and a lane writes one Event
  at a time, so the Events about one object reach the API server in the order they were emitted.
* **Bound.** At most `queue_size` Events wait across all lanes. One more is dropped: counted in
  `controller_events_dropped_total{cause="queue_full"}` and said in a warning at most once per `warn_interval`
  (with how many were dropped since the last one). client-go drops the same way (`DropIfChannelFull`).
* **Throttle.** The recorder writes through its own client (`KubeClient.independent`, wired by the manager):
  its own connection pool and token bucket, so Events neither wait behind the reconcilers' requests nor spend
  their budget.
* **Refusals.** A write the API server refuses is retried with the client's bounded backoff, then dropped:
  a warning naming it and `controller_events_dropped_total{cause="refused"}` (the client's hook counts the
  refusal in `controller_write_refused_total` as for any write). Dropped by the spam filter:
  `cause="spam"`, a warning at most once per interval; not sent because this replica no longer holds the
  lease: `cause="fenced"`, likewise.
* **Shutdown.** `stop(deadline)` writes what is queued for up to `deadline` seconds; what is left is counted
  (`cause="shutdown"`) and said in one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from rollouts.controller.correlating import Correlation, CorrelatorOptions, EventCorrelator
from rollouts.controller.leadership import NotLeader
from rollouts.kube.client import KubeClient, expecting
from rollouts.kube.errors import AlreadyExists, KubeError, NotFound
from rollouts.kube.resources import EVENTS
from rollouts.models.vocabulary import format_time

JSON = dict[str, Any]
HOSTNAME = socket.gethostname()  # reportingInstance of our Events (asked once: it is a system call)
MAX_NAME = 253  # an Event's name is a DNS subdomain
EventHook = Callable[
    [str, str, str, str], None
]  # (namespace, rollout name, type, reason) of an emitted Event
DroppedHook = Callable[[str, str, str, str], None]  # (kind, type, reason, cause) of an Event not recorded


@dataclass(frozen=True)
class RecorderOptions:
    """How much may wait and how it is written (defaults: see docs/semantics/controller.md#events)."""

    queue_size: int = 10_000
    lanes: int = 32
    warn_interval: float = 30.0
    correlator: CorrelatorOptions = field(default_factory=CorrelatorOptions)


@dataclass
class _Pending:
    body: JSON
    at: float  # when it was emitted (seconds since the epoch, from the recorder's clock)


class _Warnings:
    """One warning line per cause at most every `interval` seconds, with how many were dropped meanwhile."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def dropped(self, cause: str, what: str) -> None:
        self._since[cause] = self._since.get(cause, 0) + 1
        now = time.monotonic()
        last = self._last.get(cause)
        if last is not None and now - last < self.interval:
            return
        self._last[cause] = now
        count = self._since.pop(cause)
        logger.warning("{} Event(s) dropped ({}), the latest: {}", count, cause, what)


def event_body(
    obj: Mapping[str, Any], type_: str, reason: str, message: str, component: str, now: datetime, name: str
) -> JSON:
    """The core/v1 Event about `obj`, as client-go's recorder makes it (a client-side name, count 1)."""
    meta = obj.get("metadata") or {}
    stamp = format_time(now)
    namespace = str(meta.get("namespace") or "default")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": HOSTNAME,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventRecorder:
    """`emit` (sync, never blocks, never raises) → bounded queue → per-object lanes → the API server."""

    def __init__(
        self,
        client: KubeClient,
        component: str = "rollouts-controller",
        *,
        on_event: EventHook | None = None,
        on_dropped: DroppedHook | None = None,
        options: RecorderOptions | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.component = component
        self.on_event = on_event
        self.on_dropped = on_dropped
        self.options = options or RecorderOptions()
        self.clock = clock
        self.correlator = EventCorrelator(self.options.correlator)
        self.queued = 0  # Events waiting or being written, across lanes
        self.created = 0
        self.patched = 0
        self._lanes: list[asyncio.Queue[_Pending]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._warnings = _Warnings(self.options.warn_interval)
        self._last_stamp = 0

    # ------------------------------------------------------------------------------------------------ intake

    def emit(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> bool:
        """Queue an Event about `obj`; False when it was dropped because the queue is full. An Event about a
        Rollout is counted (`rollout_events_total`, through `on_event`) whether or not it is written, as Argo
        counts it when emitted."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
        kind = str(obj.get("kind") or "object")
        if kind == "Rollout" and self.on_event is not None:
            with contextlib.suppress(Exception):  # a metrics failure never breaks a reconcile
                self.on_event(namespace, name, type_, reason)
        # a Warning event (an abort, a refused spec, an ignored feature) is a warning in the log as well
        logger.bind(**{kind.lower(): f"{namespace}/{name}"}).log(
            "WARNING" if type_ == "Warning" else "INFO", "event {} {}: {}", type_, reason, message
        )
        if self.queued >= self.options.queue_size:
            self._drop(kind, type_, reason, "queue_full", f"{reason} on {kind.lower()} {namespace}/{name}")
            return False
        self.start()
        now = self.clock()
        body = event_body(obj, type_, reason, message, self.component, now, self._name(name))
        lane = zlib.crc32(f"{namespace}/{name}".encode()) % len(self._lanes)
        self._lanes[lane].put_nowait(_Pending(body, now.timestamp()))
        self.queued += 1
        return True

    async def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """`emit`, for callers that await (the runtime's API)."""
        self.emit(obj, type_, reason, message)

    def _name(self, involved: str) -> str:
        """`<object>.<hex>` like client-go's, unique in this process even within one nanosecond."""
        stamp = max(time.time_ns(), self._last_stamp + 1)
        self._last_stamp = stamp
        return f"{involved[: MAX_NAME - 17]}.{stamp:x}"

    # ------------------------------------------------------------------------------------------------ lanes

    def start(self) -> None:
        """Start the lanes on the running loop (done by the first `emit` when not called before)."""
        if self._tasks:
            return
        self._lanes = [asyncio.Queue() for _ in range(max(1, self.options.lanes))]
        self._tasks = [
            asyncio.create_task(self._drain(lane), name=f"events-{i}") for i, lane in enumerate(self._lanes)
        ]

    async def flush(self, within: float | None = None) -> bool:
        """Wait until every queued Event has been written (or dropped); False when `within` seconds ran out
        first (None: no limit)."""
        if not self._lanes:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*(lane.join() for lane in self._lanes)), within)
        except TimeoutError:
            return False
        return True

    async def stop(self, deadline: float = 5.0) -> None:
        """Write what is queued for up to `deadline` seconds, then stop; what is left is counted as dropped."""
        if not self._tasks:
            return
        await self.flush(deadline)
        left = [item for lane in self._lanes for item in _drain_now(lane)]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks, self._lanes = [], []
        for item in left:
            body, obj = item.body, item.body["involvedObject"]
            self._count_dropped(str(obj.get("kind")), str(body["type"]), str(body["reason"]), "shutdown")
        if left:
            logger.warning("{} Event(s) not written within the {:g}s shutdown deadline", len(left), deadline)
        self.queued = 0

    async def _drain(self, lane: asyncio.Queue[_Pending]) -> None:
        while True:
            item = await lane.get()
            try:
                await self._send(item)
            except Exception:  # pragma: no cover - a bug must not stop the lane
                logger.exception("event {} could not be handled", item.body.get("reason"))
            finally:
                self.queued -= 1
                lane.task_done()

    # ------------------------------------------------------------------------------------------------ writes

    async def _send(self, item: _Pending) -> None:
        body = item.body
        obj = body["involvedObject"]
        kind, type_, reason = str(obj.get("kind")), str(body["type"]), str(body["reason"])
        what = f"{reason} on {kind.lower()} {obj.get('namespace')}/{obj.get('name')}"
        correlation = self.correlator.correlate(body, item.at)
        if correlation is None:
            self._drop(kind, type_, reason, "spam", what)
            return
        try:
            stored = await self._write(correlation)
        except NotLeader:  # the manager says it once per term and counts it (`fenced_writes`)
            self.correlator.forget(correlation.key)
            self._drop(kind, type_, reason, "fenced", what)
            return
        except KubeError as e:
            self.correlator.forget(correlation.key)
            self._count_dropped(kind, type_, reason, "refused")
            logger.warning("event {} dropped after {} attempts: {}", what, self.client.retry.attempts + 1, e)
            return
        self.correlator.written(correlation.key, stored)

    async def _write(self, correlation: Correlation) -> Mapping[str, Any]:
        body = correlation.body
        namespace = str(body["metadata"]["namespace"])
        if correlation.verb == "patch":
            try:
                with expecting(404):  # the Event expired (the API server keeps them an hour): write it anew
                    stored = await self.client.patch(
                        EVENTS, correlation.name, correlation.patch, namespace, patch_type="strategic"
                    )
                self.patched += 1
                return stored
            except NotFound:
                pass
        try:
            # a retried create whose first attempt landed finds its own Event: that is success
            with expecting(409):
                stored = await self.client.create(EVENTS, body, namespace, retry=True)
        except AlreadyExists:
            return body
        self.created += 1
        return stored

    def _drop(self, kind: str, type_: str, reason: str, cause: str, what: str) -> None:
        self._count_dropped(kind, type_, reason, cause)
        self._warnings.dropped(cause, what)

    def _count_dropped(self, kind: str, type_: str, reason: str, cause: str) -> None:
        if self.on_dropped is not None:
            with contextlib.suppress(Exception):  # a metrics failure never breaks the recorder
                self.on_dropped(kind, type_, reason, cause)


def _drain_now(lane: asyncio.Queue[_Pending]) -> list[_Pending]:
    items = []
    while not lane.empty():
        items.append(lane.get_nowait())
        lane.task_done()
    return items
