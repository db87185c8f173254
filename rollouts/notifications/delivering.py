"""The notifier: what a reconcile pass owes (`prepare`), sent off the reconcile path (`dispatch`), with
retries, a timeout, metrics, and the outbox kept on the Rollout (docs/notifications.md).

Where it sits: the Applier calls `prepare` with a pass's Events (pure and cheap: nothing happens for a Rollout
without subscriptions and no config subscriptions) and writes the returned entries in its metadata patch
before the status write; after the status write it calls `dispatch`. The reconciler calls `recover` at the start
of each pass, for what a crash or a lost leadership left owed (`rollouts.notifications.outbox`).

Delivery: each notification is a task (one Rollout's notifications to one destination in the order they were
decided: each waits for the one before), limited by a per-service semaphore (`service_concurrency`) and a
global one (`in_flight`), so a receiver that is down or slow holds only its own service's share; rendering is
bounded (`gotemplates` steps and output) and done in a thread, off the event loop; one attempt is bounded by
`timeout`; a retryable failure (no answer,
timeout, 408/429/5xx) is retried `attempts` times with exponential backoff (`backoff` … `max_backoff`, with
jitter), holding no semaphore while it waits. A notification given up is said in a warning log (secrets
redacted), counted in `notification_send_error` and written as a Warning Event `NotificationFailed` on the
Rollout; its outbox entry is removed. More than `queue_size` notifications waiting, or more than a quarter of
them from one namespace (so one namespace never fills the queue for the others): the newest is left in the
outbox (counted, warned), for the next pass of its Rollout to send.

Metrics (Argo's names, `utils/record/record.go`): `notification_send_success` and `notification_send_error`
(counters; labels namespace, name, type, reason) and `notification_send_performance` (histogram of seconds per
send; namespace, name). Ours: `notification_send_retries_total{service}` and `notification_dropped_total{cause}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Histogram

from analysis.redaction import redact
from rollouts.notifications import outbox
from rollouts.notifications.config import NotificationConfig
from rollouts.notifications.gotemplates import GoTemplate, TemplateError, time_functions
from rollouts.notifications.outbox import Entry
from rollouts.notifications.services import SendError
from rollouts.notifications.triggers import (
    Destination,
    annotation_subscriptions,
    destinations,
    run_trigger,
    subscribes,
    trigger_of,
)

JSON = dict[str, Any]
FAILED_REASON = "NotificationFailed"
RENDER_STEPS = 50_000  # a catalog template takes a few hundred; a hostile one stops here (~0.1 s of CPU)
RENDER_OUTPUT = 65_536
MAX_OUTBOX_BYTES = 65_536  # one Rollout's owed notifications (~250 bytes each)
ANNOTATIONS_LIMIT = 262_144  # the API server's limit on all of an object's annotations together
ANNOTATIONS_MARGIN = 8_192  # left for the pass's other annotations and the oncePer ledger


class Configs(Protocol):
    def configs_for(self, namespace: str) -> Sequence[NotificationConfig]:
        """The configs that apply to a Rollout of `namespace`, the most specific first."""
        ...

    def any_subscriptions(self) -> bool:
        """Whether some config has a `subscriptions` list (then every Rollout may be subscribed)."""
        ...


Patcher = Callable[[str, str, dict[str, str | None]], Awaitable[None]]  # (namespace, name, annotations)
Warner = Callable[[Mapping[str, Any], str, str], None]  # (object, reason, message): a Warning Event


@dataclass(frozen=True)
class NotifierOptions:
    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 10.0
    queue_size: int = 10_000
    service_concurrency: int = 4
    in_flight: int = 64
    warn_interval: float = 30.0


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["namespace", "name", "type", "reason"]
        self.success = Counter(
            "notification_send_success", "Notifications sent successfully.", labels, registry=registry
        )
        self.error = Counter(
            "notification_send_error", "Notifications that failed.", labels, registry=registry
        )
        self.performance = Histogram(
            "notification_send_performance",
            "Seconds to send a notification.",
            ["namespace", "name"],
            registry=registry,
        )
        self.retries = Counter(
            "notification_send_retries", "Notification attempts retried.", ["service"], registry=registry
        )
        self.dropped = Counter(
            "notification_dropped",
            "Notifications not sent now: queue_full (left in the outbox), config (a trigger, template or "
            "service the config does not have, or a condition that cannot be evaluated), stale (an outbox "
            "entry whose transition never landed), outbox_full (not sent: the Rollout's outbox is full).",
            ["cause"],
            registry=registry,
        )


class _Once:
    """Say a sentence at warning level once per key (config mistakes are seen on every pass)."""

    def __init__(self, limit: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.limit = limit

    def __call__(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True


def _merge(into: JSON, part: Mapping[str, Any]) -> None:
    for k, v in part.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = dict(v) if isinstance(v, Mapping) else v


def render(tree: Any, data: Mapping[str, Any]) -> Any:
    """A parsed template tree (`config.parse_template`) rendered: every GoTemplate replaced by its text."""
    if isinstance(tree, GoTemplate):
        return tree.render(data, max_output=RENDER_OUTPUT, max_steps=RENDER_STEPS)
    if isinstance(tree, Mapping):
        return {k: render(v, data) for k, v in tree.items()}
    if isinstance(tree, list):
        return [render(v, data) for v in tree]
    return tree


class Notifier:
    def __init__(
        self,
        configs: Configs,
        patch: Patcher,
        *,
        warn_event: Warner | None = None,
        runs_of: Callable[[Mapping[str, Any]], list[JSON]] | None = None,
        registry: CollectorRegistry | None = None,
        options: NotifierOptions | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.configs = configs
        self.patch = patch
        self.warn_event = warn_event
        self.runs_of = runs_of or (lambda _obj: [])
        self.options = options or NotifierOptions()
        self.metrics = NotificationMetrics(registry if registry is not None else CollectorRegistry())
        self.wall = wall
        self._once = _Once()
        self._in_flight: set[str] = set()
        self._delivered: OrderedDict[str, float] = OrderedDict()  # id → when its removal was asked
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_namespace: dict[str, int] = {}  # notifications queued or sending, per Rollout namespace
        # the last task of each (Rollout uid, config, destination): the next one waits for it
        self._lanes: dict[tuple[str, str, Destination], asyncio.Task[None]] = {}
        self._service_slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._slots: asyncio.Semaphore | None = None
        self._session: aiohttp.ClientSession | None = None
        self._last_full_warning = 0.0
        self._once_sent: OrderedDict[str, dict[str, float]] = OrderedDict()  # uid → oncePer key → sent at
        self._ledger_locks: dict[str, tuple[asyncio.Lock, int]] = {}  # uid → (lock, its users)

    # ------------------------------------------------------------------------------------------- deciding

    def variables(self, obj: Mapping[str, Any], cfg: NotificationConfig) -> dict[str, Any]:
        return {"rollout": obj, "analysisRuns": self.runs_of(obj), "secrets": dict(cfg.secrets)}

    def concerns(self, obj: Mapping[str, Any]) -> bool:
        """Whether this Rollout's Events can owe anything: it subscribes, or a config subscribes by selector (the
        cheap test every reconcile pass makes before anything else)."""
        return subscribes(obj) or self.configs.any_subscriptions()

    def prepare(
        self,
        obj: Mapping[str, Any],
        events: Sequence[tuple[str, str, str]],
        *,
        no_status: bool,
    ) -> list[Entry]:
        """The outbox entries a pass's Events (type, reason, message) owe. Never raises on user input."""
        if not events or not self.concerns(obj):
            return []
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        configs = self.configs.configs_for(namespace)
        for error in annotation_subscriptions(meta.get("annotations") or {})[1]:
            sentence = f"{namespace}/{meta.get('name')}: {error}"
            if self._once(sentence):
                logger.warning("notifications: {}", sentence)
        before = outbox.status_digest(obj.get("status"))
        entries: list[Entry] = []
        for type_, reason, message in events:
            if reason == FAILED_REASON:
                continue  # never notify about notifications
            trigger = trigger_of(reason)
            chosen: dict[Destination, NotificationConfig] = {}
            wanted: set[Destination] = set()
            for cfg in configs:
                for dest in destinations(cfg, obj, trigger):
                    wanted.add(dest)
                    if dest not in chosen and dest.service in cfg.services and trigger in cfg.triggers:
                        chosen[dest] = cfg
            for dest in sorted(wanted - set(chosen)):
                self._config_problem(
                    f"{namespace}/{meta.get('name')}: subscribed to {trigger} for {dest}, but "
                    + self._missing(configs, trigger, dest.service)
                )
            by_cfg: dict[str, list[Destination]] = {}
            for dest, cfg in chosen.items():
                by_cfg.setdefault(cfg.namespace, []).append(dest)
            for cfg in configs:
                dests = by_cfg.get(cfg.namespace)
                if not dests:
                    continue
                fired, errors = run_trigger(cfg, trigger, self.variables(obj, cfg), sorted(dests))
                for error in errors:  # an expression's error may quote a value it read from `secrets`
                    self._config_problem(
                        redact(
                            f"{namespace}/{meta.get('name')}: {error}; it does not send", cfg.secret_values
                        )
                    )
                entries += outbox.entries_for(
                    obj,
                    fired,
                    config_namespace=cfg.namespace,
                    reason=reason,
                    event_type=type_,
                    message=message,
                    before=before,
                    no_status=no_status,
                    now=self.wall(),
                )
        return self._within_budget(obj, entries)

    def _within_budget(self, obj: Mapping[str, Any], entries: list[Entry]) -> list[Entry]:
        """The entries that fit the Rollout's outbox (`MAX_OUTBOX_BYTES`, and the API server's limit on all of
        an object's annotations): past it the metadata patch would be refused and the Rollout could not
        progress. Entries already written are kept; the newest that do not fit are dropped and said."""
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        sizes = {str(k): len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items()}
        held = sum(n for k, n in sizes.items() if k.startswith(outbox.PENDING_PREFIX))
        room = min(MAX_OUTBOX_BYTES - held, ANNOTATIONS_LIMIT - ANNOTATIONS_MARGIN - sum(sizes.values()))
        kept: list[Entry] = []
        seen: set[str] = set()
        left = 0
        for entry in entries:
            if entry.annotation in annotations or entry.annotation in seen:
                kept.append(entry)
                continue
            size = len(entry.annotation.encode()) + len(entry.encode().encode())
            if size > room:
                left += 1
                continue
            room -= size
            seen.add(entry.annotation)
            kept.append(entry)
        if left:
            self.metrics.dropped.labels("outbox_full").inc(left)
            where = f"{meta.get('namespace')}/{meta.get('name')}"
            if self._once(f"outbox full: {where}"):
                logger.warning(
                    "notifications: {}: {} notifications not sent: the Rollout's outbox annotations would pass "
                    "{} bytes (too many destinations, or a receiver that does not answer)",
                    where,
                    left,
                    MAX_OUTBOX_BYTES,
                )
        return kept

    @staticmethod
    def _missing(configs: Sequence[NotificationConfig], trigger: str, service: str) -> str:
        if not configs:
            return "no notification config is loaded (argo-rollouts-notification-configmap)"
        where = " or ".join(f"{c.namespace}/argo-rollouts-notification-configmap" for c in configs)
        if not any(trigger in c.triggers for c in configs):
            return f"{where} defines no trigger.{trigger}"
        return f"{where} defines no service named {service!r} (service.<type>.{service} or service.{service})"

    def _config_problem(self, sentence: str) -> None:
        self.metrics.dropped.labels("config").inc()
        if self._once(sentence):
            logger.warning("notifications: {}", sentence)

    # ------------------------------------------------------------------------------------------ sending

    def dispatch(self, obj: Mapping[str, Any], entries: Sequence[Entry]) -> None:
        """Send these entries off the reconcile path (the object: as written, for the templates)."""
        for entry in entries:
            if entry.id in self._in_flight or entry.id in self._delivered:
                continue
            namespace = str((obj.get("metadata") or {}).get("namespace") or "")
            share = max(1, self.options.queue_size // 4)
            if self._per_namespace.get(namespace, 0) >= share:  # one namespace never fills the queue
                self.metrics.dropped.labels("queue_full").inc()
                continue
            if len(self._in_flight) >= self.options.queue_size:
                self.metrics.dropped.labels("queue_full").inc()
                now = time.monotonic()
                if now - self._last_full_warning > self.options.warn_interval:
                    self._last_full_warning = now
                    logger.warning(
                        "notifications: {} are being sent; more wait in their Rollouts' outbox annotations",
                        len(self._in_flight),
                    )
                continue
            self._in_flight.add(entry.id)
            self._per_namespace[namespace] = self._per_namespace.get(namespace, 0) + 1
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            lane = (uid, entry.config_namespace, entry.destination)
            after = self._lanes.get(lane)
            task = asyncio.get_running_loop().create_task(self._deliver(dict(obj), entry, after))
            self._lanes[lane] = task
            task.add_done_callback(functools.partial(self._lane_done, lane))
            task.add_done_callback(functools.partial(self._namespace_done, namespace))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _namespace_done(self, namespace: str, task: asyncio.Task[None]) -> None:
        left = self._per_namespace.get(namespace, 1) - 1
        if left > 0:
            self._per_namespace[namespace] = left
        else:
            self._per_namespace.pop(namespace, None)

    def _lane_done(self, lane: tuple[str, str, Destination], task: asyncio.Task[None]) -> None:
        if self._lanes.get(lane) is task:
            del self._lanes[lane]

    def recover(self, obj: Mapping[str, Any]) -> None:
        """Send what the Rollout's outbox owes and no lane is sending; drop what never landed."""
        found = outbox.pending(obj)
        if not found:
            return
        meta = obj.get("metadata") or {}
        now = self.wall()
        owed: list[Entry] = []
        garbage: dict[str, str | None] = {}
        for key, entry in found.items():
            if entry is None:
                garbage[key] = None
                continue
            if entry.id in self._in_flight:
                continue
            if entry.id in self._delivered:
                if time.monotonic() - self._delivered[entry.id] > 30.0:
                    garbage[key] = None  # sent; its removal did not reach the API server
                continue
            verdict = outbox.recoverable(entry, obj.get("status"), now)
            if verdict == "send":
                owed.append(entry)
            elif verdict == "drop":
                self.metrics.dropped.labels("stale").inc()
                logger.warning(
                    "notifications: {}/{}: {} for {} was owed by a transition that never landed; dropped",
                    meta.get("namespace"),
                    meta.get("name"),
                    entry.trigger,
                    entry.destination,
                )
                garbage[key] = None
        if owed:
            self.dispatch(obj, sorted(owed, key=lambda e: e.at))
        if garbage:
            self._spawn(self._forget(obj, garbage))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget(self, obj: Mapping[str, Any], annotations: dict[str, str | None]) -> None:
        meta = obj.get("metadata") or {}
        try:
            await self.patch(str(meta.get("namespace") or ""), str(meta.get("name") or ""), annotations)
        except Exception as e:  # the API server refused: the next pass asks again
            logger.warning(
                "notifications: {}/{}: the outbox annotations were not updated: {}",
                meta.get("namespace"),
                meta.get("name"),
                e,
            )

    def _config_of(self, namespace: str, config_namespace: str) -> NotificationConfig | None:
        for cfg in self.configs.configs_for(namespace):
            if cfg.namespace == config_namespace:
                return cfg
        return None

    def _sent_once(self, obj: Mapping[str, Any]) -> dict[str, float]:
        """The oncePer keys this process sent for the Rollout: the snapshot a delivery holds may predate them."""
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        sent = self._once_sent.get(uid)
        if sent is None:
            sent = self._once_sent[uid] = {}
            while len(self._once_sent) > 10_000:
                self._once_sent.popitem(last=False)
        else:
            self._once_sent.move_to_end(uid)
        return sent

    def _ledger(self, obj: Mapping[str, Any]) -> dict[str, float]:
        """The oncePer ledger: the Rollout's annotation as the delivery saw it, and what this process sent since."""
        return {**outbox.notified(obj), **self._sent_once(obj)}

    @contextlib.asynccontextmanager
    async def _ledger_writer(self, obj: Mapping[str, Any]) -> Any:
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        lock, users = self._ledger_locks.get(uid, (asyncio.Lock(), 0))
        self._ledger_locks[uid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._ledger_locks[uid]
            if users <= 1:
                del self._ledger_locks[uid]
            else:
                self._ledger_locks[uid] = (lock, users - 1)

    def _secret_values(self, namespace: str, config_namespace: str) -> tuple[str, ...]:
        cfg = self._config_of(namespace, config_namespace)
        return cfg.secret_values if cfg is not None else ()

    def _service_slot(self, key: tuple[str, str]) -> asyncio.Semaphore:
        slot = self._service_slots.get(key)
        if slot is None:
            slot = self._service_slots[key] = asyncio.Semaphore(self.options.service_concurrency)
        return slot

    async def _deliver(self, obj: JSON, entry: Entry, after: asyncio.Task[None] | None) -> None:
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        done: dict[str, str | None] = {entry.annotation: None}
        try:
            if after is not None:  # one Rollout's notifications reach one destination in the order decided
                await asyncio.wait([after])
            if self._config_of(namespace, entry.config_namespace) is None:
                # not loaded (yet: a new process's first passes may come before its config watch has listed):
                # the entry stays in the outbox for a later pass; never dropped for that
                self._config_problem(
                    f"{namespace}/{name}: {entry.trigger} to {entry.destination} waits: the notification config "
                    f"of {entry.config_namespace} is not loaded"
                )
                return
            try:
                outcome = await self._attempts(obj, entry)
            except Exception as e:  # a fault of ours: given up and said, not re-sent on every pass
                outcome = redact(
                    f"notification {entry.trigger} to {entry.destination} failed: {type(e).__name__}: {e}",
                    self._secret_values(namespace, entry.config_namespace),
                )
            once = outcome is None and bool(entry.once_per)
            if outcome is None:
                self.metrics.success.labels(namespace, name, entry.event_type, entry.reason).inc()
                if once:
                    sent = self._sent_once(obj)
                    sent[entry.once_key] = self.wall()
                    while len(sent) > outbox.MAX_NOTIFIED:
                        del sent[next(iter(sent))]
            elif outcome != "":
                self.metrics.error.labels(namespace, name, entry.event_type, entry.reason).inc()
                logger.warning("notifications: {}/{}: {}", namespace, name, outcome)
                if self.warn_event is not None:
                    self.warn_event(obj, FAILED_REASON, outcome)
            self._delivered[entry.id] = time.monotonic()
            while len(self._delivered) > 10_000:
                self._delivered.popitem(last=False)
            if once:  # the ledger is written whole: one writer per Rollout at a time, with what was sent
                async with self._ledger_writer(obj):
                    ledger = self._ledger(obj)
                    done[outbox.NOTIFIED_ANNOTATION] = outbox.with_notified(
                        ledger, entry.once_key, ledger.get(entry.once_key, self.wall())
                    )
                    await self._forget(obj, done)
            else:
                await self._forget(obj, done)
        finally:
            self._in_flight.discard(entry.id)

    async def _attempts(self, obj: JSON, entry: Entry) -> str | None:
        """None: sent; '': nothing to send (oncePer already sent); else the sentence of why it was given up."""
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        dest = entry.destination
        what = f"notification {entry.trigger} to {dest}"
        cfg = self._config_of(namespace, entry.config_namespace)
        if cfg is None:
            return f"{what} not sent: the config of {entry.config_namespace} is no longer loaded"
        if entry.once_per and entry.once_key in self._ledger(obj):
            return ""
        service = cfg.services.get(dest.service)
        if service is None:
            return f"{what} not sent: {cfg.namespace} config has no service {dest.service!r} any more"
        secrets = cfg.secret_values
        try:
            # in a thread: a template at its step bound costs ~0.1 s of CPU, which the loop must not wait for
            notification = await asyncio.to_thread(self._render, obj, cfg, entry)
        except (TemplateError, KeyError) as e:
            return redact(f"{what} not sent: {e}", secrets)
        opts = self.options
        delay = opts.backoff
        for attempt in range(1, opts.attempts + 1):
            async with self._service_slot((cfg.namespace, dest.service)), self._global_slot():
                started = time.perf_counter()
                try:
                    await service.send(
                        notification,
                        dest.recipient,
                        session=self._client_session(),
                        timeout=opts.timeout,
                        idempotency_key=entry.id,
                    )
                    return None
                except SendError as e:
                    error: SendError | None = e
                except Exception as e:  # a fault of ours or of a library: said, never raised into the loop
                    error = SendError(f"{type(e).__name__}: {e}", retryable=False)
                finally:
                    self.metrics.performance.labels(namespace, str(meta.get("name") or "")).observe(
                        time.perf_counter() - started
                    )
            assert error is not None
            if not error.retryable or attempt == opts.attempts:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                return redact(f"{what} failed{tries}: {error}", secrets)
            self.metrics.retries.labels(dest.service).inc()
            wait = delay * (0.5 + random.random() / 2)
            if error.retry_after is not None:  # the receiver said when (429 / 503 Retry-After)
                wait = min(max(wait, error.retry_after), opts.max_backoff)
            await asyncio.sleep(wait)
            delay = min(delay * 2, opts.max_backoff)
        return f"{what} failed"  # pragma: no cover - the loop returns

    def _render(self, obj: JSON, cfg: NotificationConfig, entry: Entry) -> JSON:
        data = {
            **self.variables(obj, cfg),
            "time": time_functions(lambda: datetime.now(UTC)),
            "serviceType": entry.destination.service,
            "recipient": entry.destination.recipient,
        }
        notification: JSON = {}
        for name in entry.templates:
            tree = cfg.templates.get(name)
            if tree is None:
                raise KeyError(f"template {name!r} is not defined in {cfg.namespace} config")
            _merge(notification, render(tree, data))
        return notification

    @contextlib.asynccontextmanager
    async def _global_slot(self) -> Any:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.options.in_flight)
        async with self._slots:
            yield

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    @property
    def busy(self) -> int:
        return len(self._in_flight)

    async def idle(self, within: float = 30.0) -> None:
        """Wait until nothing is being sent (tests, shutdown), at most `within` seconds."""
        deadline = time.monotonic() + within
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - time.monotonic()))

    async def stop(self, grace: float = 5.0) -> None:
        """Let sends finish for `grace` seconds, cancel the rest (their outbox entries stay, for whoever
        reconciles the Rollout next), close the HTTP session."""
        await self.idle(grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
