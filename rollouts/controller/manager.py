"""The manager: wires informers → work queues → reconcilers, gated by leader election, with metrics and health.

The controller process is `main.py` (flags) around one `Manager`:

    Informer(Rollouts) ──────────────► rollouts queue ──► RolloutReconciler.reconcile(key) → requeue after
    Informer(ReplicaSets by label) ──┘ (owner Rollout)
    Informers(router objects) ───────┘ (every Rollout naming the edited object; `routerwatching`)
    Informer(AnalysisRuns) ──► analysis queue ──► AnalysisRunReconciler.reconcile(key); also enqueues its Rollout
    Informer(Jobs by label) ──► analysis queue (owner AnalysisRun)
    Informers(notification ConfigMap/Secret) ──► the notifier of the Rollout applier (`notifying`)

Informers start at once (a standby keeps warm caches, so a takeover starts from synced caches); the work queues'
workers run only while this process holds the Lease. Losing the lease stops the workers and the process
stands by again. The health server and the elector run on the supervisor thread (`supervising`), apart from
the reconcilers' loop, and every write the reconcilers send goes through a fenced view of the client
(`LeaderElector.check_write`): a replica that cannot be sure it still holds the lease sends nothing.
Reconcilers are built by factories from a `Runtime` (client, caches, metrics, events, queues), so tests can
plug their own; by default the project's `RolloutReconciler` and `AnalysisRunReconciler` are used when
importable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry

from rollouts.controller.analyzing import AnalysisRunReconciler
from rollouts.controller.caching import CachedSource, Obj
from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.controller.experimenting import ExperimentReconciler
from rollouts.controller.health import HealthServer
from rollouts.controller.leadership import ElectionConfig, LeaderElector, NotLeader
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.notifying import ConfigWatch, annotation_patcher, event_warner, runs_of
from rollouts.controller.queueing import ObjectKey, WorkQueue
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.controller.recording import EventRecorder
from rollouts.controller.routerwatching import RouterWatch
from rollouts.controller.sharding import Membership, ShardConfig, ShardGauges, acting_on
from rollouts.controller.supervising import Supervisor
from rollouts.controller.watching import Informer
from rollouts.controller.wiring import (
    ControllerConfig,
    Idle,
    Reconciler,
    ReconcilerFactory,
    Runtime,
    default_analysis_reconciler,
    default_bind,
    default_rollout_reconciler,
    owner_key,
    replica_set_view,
    run_view,
)
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    EXPERIMENTS,
    JOBS,
    REPLICA_SETS,
    ROLLOUTS,
    SERVICES,
    Resource,
)
from rollouts.models.vocabulary import ANALYSIS_RUN_UID_LABEL, POD_TEMPLATE_HASH_LABEL
from rollouts.notifications.delivering import Notifier, NotifierOptions

EXPERIMENT_WORKERS = 4  # Experiments reconciled at once (each pass is a few API calls)
HEARTBEAT = 0.5  # seconds between two beats of the reconcilers' loop (read by /healthz and the elector)

__all__ = [
    "ControllerConfig",
    "Manager",
    "Reconciler",
    "ReconcilerFactory",
    "Runtime",
    "default_bind",
    "replica_set_view",
    "run_view",
]


class Manager:
    """`await manager.start()`, then `await manager.wait()` (or `stop()` from elsewhere)."""

    def __init__(
        self,
        client: KubeClient,
        config: ControllerConfig,
        *,
        registry: CollectorRegistry | None = None,
        metrics: ControllerMetrics | None = None,
        rollout_reconciler: ReconcilerFactory | None = default_rollout_reconciler,
        analysis_reconciler: ReconcilerFactory | None = default_analysis_reconciler,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.clock: Clock = clock or MonotonicClock()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = metrics or ControllerMetrics(self.registry, clock=self.clock)
        client.add_hook(self.metrics.on_request)
        # every Rollout and lone AnalysisRun key (read by the shard rounds)
        self._shard_keys: set[str] = set()
        self.member = self._member() if config.sharding else None
        self.elector = self._elector() if config.leader_elect and self.member is None else None
        # Reconcilers write through a fenced view of the client; informers and the test's own client do not.
        self.fence = self.member or self.elector
        self.writer = client.with_write_fence(self.fence.check_write) if self.fence else client
        self.source = CachedSource(client)
        self.events_client, self.events = self._recorder()
        self.rollout_queue = self._queue("Rollouts", self._reconcile_rollout, config.rollout_workers)
        self.analysis_queue = self._queue("AnalysisRuns", self._reconcile_analysis, config.analysis_workers)
        self.experiment_queue = self._queue("Experiments", self._reconcile_experiment, EXPERIMENT_WORKERS)
        self.informers = self._informers()
        self.lookups = self._lookups()
        self.routers = RouterWatch(
            client,
            self.source,
            self._enqueue_rollout,
            namespace=config.namespace,
            watch_timeout=config.watch_timeout,
            discovery_period=config.router_discovery_period,
            min_interval=config.router_min_interval,
            clock=self.clock,
        )
        self.informers["Rollout"].add_handler(self.routers.on_rollout)
        self.runtime = Runtime(
            self.writer,
            self.source,
            self.metrics,
            self.events,
            config,
            self.rollout_queue,
            self.analysis_queue,
            self.informers,
        )
        self.rollouts: Reconciler = self._build(rollout_reconciler, "Rollout")
        self.notification_configs, self.notifier = self._notifier()
        self.analysis: Reconciler = self._build(analysis_reconciler, "AnalysisRun")
        self.experiments: Reconciler = ExperimentReconciler(
            self.writer, self.source, component=config.component, events=self.events
        )
        self.health = HealthServer(
            self.registry,
            healthz_port=config.healthz_port,
            metrics_port=config.metrics_port,
            host=config.bind,
            alive=self.alive,
            ready=self.ready,
        )
        self.supervisor = Supervisor(
            self.health, self.elector, member=self.member, on_change=self._leadership_changed
        )
        self.shard_gauges = ShardGauges(self.registry) if self.member is not None else None
        self._actionable: frozenset[str] = frozenset()  # the shard keys whose objects were last enqueued
        self.leading = asyncio.Event()
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: BaseException | None = None
        self._beat = time.monotonic()  # the reconcilers' loop was last seen answering then
        self._fenced_term = False  # a refused write was already said at warning level in this term

    def _elector(self) -> LeaderElector:
        cfg = self.config
        elector_client = self.client.independent(qps=10.0, burst=20)
        elector_client.add_hook(self.metrics.on_request)
        return LeaderElector(
            elector_client,
            ElectionConfig(
                namespace=cfg.lease_namespace,
                name=cfg.lease_name + (f"-{cfg.instance_id}" if cfg.instance_id else ""),
                identity=cfg.identity,
                lease_duration=cfg.lease_duration,
                renew_deadline=cfg.renew_deadline,
                retry_period=cfg.retry_period,
            ),
            responsive=lambda: self.stalled_for() < cfg.renew_deadline,
            on_refused=self._refused,
        )

    def _member(self) -> Membership:
        cfg = self.config
        member_client = self.client.independent(qps=10.0, burst=20)
        member_client.add_hook(self.metrics.on_request)
        return Membership(
            member_client,
            ShardConfig(
                namespace=cfg.lease_namespace,
                group=cfg.lease_name.removesuffix("-lock")
                + (f"-{cfg.instance_id}" if cfg.instance_id else ""),
                identity=cfg.identity,
                lease_duration=cfg.lease_duration,
                renew_deadline=cfg.renew_deadline,
                retry_period=cfg.retry_period,
            ),
            keys=lambda: frozenset(self._shard_keys),
            on_refused=self._refused,
            on_change=self._leadership_changed,
        )

    def _recorder(self) -> tuple[KubeClient, EventRecorder]:
        """The event recorder, on its own client (connection pool and token bucket sized like the main one's),
        fenced like the reconcilers' writes: Events never wait behind a reconcile, nor a reconcile behind them."""
        limiter = self.client.limiter
        events_client = self.client.independent(qps=limiter.qps, burst=limiter.burst)
        events_client.add_hook(self.metrics.on_request)
        writer = events_client.with_write_fence(self.fence.check_write) if self.fence else events_client
        recorder = EventRecorder(
            writer,
            self.config.component,
            on_event=self.metrics.count_event,
            on_dropped=self.metrics.count_event_dropped,
        )
        return events_client, recorder

    def _notifier(self) -> tuple[ConfigWatch | None, Notifier | None]:
        """Notifications (`notifying`): the config pair watched, the notifier given to the Rollout applier."""
        cfg = self.config
        if not cfg.notifications or not isinstance(self.rollouts, RolloutReconciler):
            return None, None
        configs = ConfigWatch(
            self.client,
            namespace=cfg.notifications_namespace,
            watched=cfg.namespace,
            self_service=cfg.self_service_notifications,
            watch_timeout=cfg.watch_timeout,
        )
        notifier = Notifier(
            configs,
            annotation_patcher(self.writer),
            warn_event=event_warner(self.events),
            runs_of=runs_of(self.informers["AnalysisRun"]),
            registry=self.registry,
            options=NotifierOptions(
                timeout=cfg.notification_timeout,
                attempts=cfg.notification_attempts,
                backoff=cfg.notification_backoff,
            ),
        )
        self.rollouts.applier.notifier = notifier
        return configs, notifier

    def _queue(self, name: str, handler: Callable[[ObjectKey], Any], workers: int) -> WorkQueue:
        return WorkQueue(
            name,
            handler,
            workers=workers,
            clock=self.clock,
            observer=self.metrics,
            namespace_workers=self.config.namespace_workers(name),
        )

    def _build(self, factory: ReconcilerFactory | None, kind: str) -> Reconciler:
        if factory is None:
            return Idle()
        try:
            return factory(self.runtime)
        except ImportError as e:
            logger.warning("no {} reconciler in this build ({}): {} objects are only watched", kind, e, kind)
            return Idle()

    # ------------------------------------------------------------------ wiring

    def _informers(self) -> dict[str, Informer]:
        cfg = self.config
        common: dict[str, Any] = {
            "namespace": cfg.namespace,
            "watch_timeout": cfg.watch_timeout,
            "clock": self.clock,
        }
        informers = {
            "Rollout": Informer(
                self.client, ROLLOUTS, label_selector=cfg.selector(), resync=cfg.resync, **common
            ),
            "ReplicaSet": Informer(
                self.client, REPLICA_SETS, label_selector=POD_TEMPLATE_HASH_LABEL, **common
            ),
            "AnalysisRun": Informer(
                self.client, ANALYSIS_RUNS, label_selector=cfg.selector(), resync=cfg.resync, **common
            ),
            "Job": Informer(self.client, JOBS, label_selector=ANALYSIS_RUN_UID_LABEL, **common),
            "Experiment": Informer(
                self.client, EXPERIMENTS, label_selector=cfg.selector(), resync=cfg.resync, **common
            ),
        }
        for informer in informers.values():
            self.source.add(informer.store)
        informers["Rollout"].add_handler(self._on_rollout)
        informers["ReplicaSet"].add_handler(self._on_replica_set)
        informers["AnalysisRun"].add_handler(self._on_analysis_run)
        informers["Job"].add_handler(self._on_job)
        informers["Experiment"].add_handler(self._on_experiment)
        return informers

    def _lookups(self) -> dict[str, Informer]:
        """Read-through caches of what a Rollout names (templates, Services): no handlers, never gating.

        Without them every reconcile pass GETs each referenced object. They do not gate readiness or leading:
        until one has listed (or when RBAC forbids listing), observing asks the API server as before."""
        cfg = self.config
        common: dict[str, Any] = {
            "namespace": cfg.namespace,
            "watch_timeout": cfg.watch_timeout,
            "clock": self.clock,
        }
        lookups = {
            "AnalysisTemplate": Informer(self.client, ANALYSIS_TEMPLATES, **common),
            "Service": Informer(self.client, SERVICES, **common),
        }
        if cfg.namespace is None:  # cluster-scoped: only a cluster-wide controller may list them
            common["namespace"] = None
            lookups["ClusterAnalysisTemplate"] = Informer(self.client, CLUSTER_ANALYSIS_TEMPLATES, **common)
        for informer in lookups.values():
            self.source.add(informer.store, ready=informer.synced.is_set)
        return lookups

    def _on_rollout(self, etype: str, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata") or {}
        if etype == "DELETED":
            self.metrics.forget_rollout(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            self._shard_keys.discard(str(ObjectKey.of(obj)))
        else:
            self._shard_keys.add(str(ObjectKey.of(obj)))
        if etype == "MODIFIED" and self._own_settled_write(obj):
            return  # the pass that wrote this version already decided on it (reconciling.settle)
        self.rollout_queue.add(ObjectKey.of(obj))

    def _own_settled_write(self, obj: Obj) -> bool:
        if not isinstance(self.rollouts, RolloutReconciler):  # another reconciler keeps no settled versions
            return False
        meta = obj.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        return self.rollouts.settled(str(meta.get("namespace") or ""), str(meta.get("name") or ""), version)

    def _on_owned_by_rollout(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "RESYNC":
            return
        key = owner_key(obj, "Rollout")
        if key is not None:
            self.rollout_queue.add(key)

    def _on_replica_set(self, etype: str, obj: Obj, old: Obj | None) -> None:
        # A status write that only moves observedGeneration or fullyLabeledReplicas does not concern the Rollout.
        if etype == "MODIFIED" and old is not None and replica_set_view(old) == replica_set_view(obj):
            return
        self._on_owned_by_rollout(etype, obj, old)
        self._on_owned_by_experiment(etype, obj, old)

    def _on_experiment(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            self._shard_keys.discard(str(ObjectKey.of(obj)))
        elif owner_key(obj, "Rollout") is None:  # a lone Experiment is a shard key of its own
            self._shard_keys.add(str(ObjectKey.of(obj)))
        self.experiment_queue.add(ObjectKey.of(obj))
        if etype == "DELETED" or old is None or (old.get("status") or {}) != (obj.get("status") or {}):
            self._on_owned_by_rollout(etype, obj, old)  # a Rollout's experiment step reads its status

    def _on_owned_by_experiment(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "RESYNC":
            return
        key = owner_key(obj, "Experiment")
        if key is not None:
            self.experiment_queue.add(key)

    def _on_analysis_run(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            meta = obj.get("metadata") or {}
            self.metrics.forget_analysis_run(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            self._shard_keys.discard(str(ObjectKey.of(obj)))
        elif owner_key(obj, "Rollout") is None:  # a lone run is a shard key of its own
            self._shard_keys.add(str(ObjectKey.of(obj)))
        self.analysis_queue.add(ObjectKey.of(obj))
        # Every measurement rewrites the run's status; its Rollout only cares when what it reads changed.
        if etype != "RESYNC" and (old is None or etype == "DELETED" or run_view(old) != run_view(obj)):
            self._on_owned_by_rollout(etype, obj, old)
            self._on_owned_by_experiment(etype, obj, old)

    def _on_job(self, etype: str, obj: Obj, old: Obj | None) -> None:
        key = owner_key(obj, "AnalysisRun")
        if key is not None and etype != "RESYNC":
            self.analysis_queue.add(key)

    def _enqueue_rollout(self, key: ObjectKey, delay: float) -> None:
        self.rollout_queue.add_after(key, delay)

    async def _reconcile_rollout(self, key: ObjectKey) -> float | None:
        return await self._pass(self.rollouts, key, str(key))

    async def _reconcile_analysis(self, key: ObjectKey) -> float | None:
        return await self._pass(self.analysis, key, self._shard_key_of_run(key))

    async def _reconcile_experiment(self, key: ObjectKey) -> float | None:
        experiment = self.informers["Experiment"].store.get(key.namespace, key.name)
        owner = owner_key(experiment, "Rollout") if experiment is not None else None
        return await self._pass(self.experiments, key, str(owner or key))

    async def _pass(self, reconciler: Reconciler, key: ObjectKey, shard_key: str) -> float | None:
        try:
            if self.member is None:
                return await reconciler.reconcile(key)
            if not self.member.owns(shard_key):
                return None  # another replica's (enqueued again here when it becomes ours)
            with acting_on(shard_key):
                return await reconciler.reconcile(key)
        except NotLeader:
            # Look again after a retry period: by then the lease is renewed (the pass runs again) or lost (this
            # queue is dropped, and the next term queues every key anyway); a shard key gone elsewhere is
            # dropped by the ownership check above.
            return self.config.retry_period

    def _shard_key_of_run(self, key: ObjectKey) -> str:
        """An AnalysisRun goes with the Rollout that owns it."""
        run = self.informers["AnalysisRun"].store.get(key.namespace, key.name)
        owner = owner_key(run, "Rollout") if run is not None else None
        return str(owner or key)

    def _shard_changed(self) -> None:
        """On our loop, after a shard round: enqueue what became ours, update the gauges."""
        member = self.member
        if member is None or self.shard_gauges is None:
            return
        actionable = member.actionable if member.may_act() else frozenset()
        gained = actionable - self._actionable
        self._actionable = actionable
        rollouts = self.informers["Rollout"].store
        owned = 0
        for obj in rollouts:
            d = member.digest(str(ObjectKey.of(obj)))
            owned += d in actionable
            if d in gained and self.leading.is_set():
                self.rollout_queue.add(ObjectKey.of(obj))
        if gained and self.leading.is_set():
            for obj in self.informers["Experiment"].store:
                owner = owner_key(obj, "Rollout")
                if member.digest(str(owner or ObjectKey.of(obj))) in gained:
                    self.experiment_queue.add(ObjectKey.of(obj))
            for obj in self.informers["AnalysisRun"].store:
                key = ObjectKey.of(obj)
                if member.digest(self._shard_key_of_run(key)) in gained:
                    self.analysis_queue.add(key)
        self.shard_gauges.update(rollouts=owned, members=len(member.members))

    def _refused(self, verb: str, resource: Resource) -> None:
        """A write stopped by the fence (called on the reconcilers' loop, by the fenced client)."""
        self.metrics.fenced_writes.labels(resource.kind).inc()
        if not self._fenced_term:
            self._fenced_term = True
            logger.warning(
                "not leading (the lease was not renewed for {:g}s, or is held by another replica): "
                "writes are refused until this replica leads again; first refused: {} {}",
                self.config.renew_deadline,
                verb.lower(),
                resource.plural,
            )

    # ------------------------------------------------------------------ health

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    def stalled_for(self) -> float:
        """Seconds since the reconcilers' loop last beat (about 0 while it answers)."""
        return max(0.0, time.monotonic() - self._beat - HEARTBEAT)

    def alive(self) -> bool:
        """Asked on the supervisor thread: the manager's tasks run and its loop answered recently."""
        tasks_ok = self._failed is None and all(not t.done() for t in self._tasks)
        return tasks_ok and self.supervisor.running and self.stalled_for() < self.config.stall_limit

    def ready(self) -> bool:
        """Caches synced and, when sharding, membership known (one round listed the group and renewed)."""
        return self._failed is None and self.synced() and (self.member is None or self.member.known)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve health and metrics, start the informers, and begin leading (or standing by)."""
        self._loop = asyncio.get_running_loop()
        self._beat = time.monotonic()
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="heartbeat"))
        self.events.start()
        await asyncio.to_thread(self.supervisor.start)
        for informer in (*self.informers.values(), *self.lookups.values()):
            informer.start()
        self.routers.start()
        if self.notification_configs is not None:
            self.notification_configs.start()
        self._tasks.append(asyncio.create_task(self._lead(), name="leadership"))
        self._tasks.append(asyncio.create_task(self._sweep(), name="metrics-sweep"))

    async def _heartbeat(self) -> None:
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(HEARTBEAT)

    def _leadership_changed(self) -> None:
        """On the supervisor thread: wake `_lead` on our loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._changed.set)
            if self.member is not None:
                loop.call_soon_threadsafe(self._shard_changed)

    def _should_lead(self) -> bool:
        if self.member is not None:
            return self.member.known  # every replica works; each pass checks its key (`_pass`)
        return self.elector is None or (self.elector.is_leader and self.elector.may_write())

    async def _lead(self) -> None:
        try:
            while not self._stopping.is_set():
                self._changed.clear()
                if self._should_lead() and not self.leading.is_set():
                    await self._begin_term()
                elif not self._should_lead() and self.leading.is_set():
                    logger.warning("lost the lease: stopping workers, standing by")
                    self.leading.clear()
                    self.metrics.leader.set(0)
                    await self._stop_queues(grace=0.0)
                    if self.notifier is not None:  # the next leader sends what is left in the outboxes
                        await self.notifier.stop(grace=0.0)
                await self._changed.wait()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # pragma: no cover - a bug; /healthz turns red
            self._failed = e
            logger.exception("leadership loop failed")

    async def _begin_term(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self.informers.values()))
        if self.notification_configs is not None:  # so the first passes' notifications find their config
            await self.notification_configs.wait_synced(within=10.0)
        if self._stopping.is_set() or not self._should_lead():
            return  # lost while the caches synced
        self._fenced_term = False
        self.metrics.leader.set(1)
        logger.info(
            "leading: starting {} rollout and {} analysis workers",
            self.config.rollout_workers,
            self.config.analysis_workers,
        )
        self.rollout_queue.start()
        self.analysis_queue.start()
        self.experiment_queue.start()
        self.leading.set()

    async def _stop_queues(self, grace: float) -> None:
        await self.rollout_queue.stop(grace)
        await self.analysis_queue.stop(grace)
        await self.experiment_queue.stop(grace)
        self.experiment_queue = self._queue("Experiments", self._reconcile_experiment, EXPERIMENT_WORKERS)
        # A stopped queue refuses adds; build fresh ones for the next term, fed by the same informers.
        self.rollout_queue = self.runtime.rollouts = self._queue(
            "Rollouts", self._reconcile_rollout, self.config.rollout_workers
        )
        self.analysis_queue = self.runtime.analysis_runs = self._queue(
            "AnalysisRuns", self._reconcile_analysis, self.config.analysis_workers
        )
        for informer in self.informers.values():
            for obj in informer.store:
                if informer.resource is ROLLOUTS:
                    self.rollout_queue.add(ObjectKey.of(obj))
                elif informer.resource is ANALYSIS_RUNS:
                    self.analysis_queue.add(ObjectKey.of(obj))
                elif informer.resource is EXPERIMENTS:
                    self.experiment_queue.add(ObjectKey.of(obj))

    async def _sweep(self) -> None:
        while True:
            await self.clock.sleep(5.0)
            self.metrics.sweep()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def stop(self, grace: float = 5.0) -> None:
        """Finish running reconciles (up to `grace` s), release the lease, stop informers and servers."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.rollout_queue.stop(grace)
        await self.analysis_queue.stop(grace)
        await self.experiment_queue.stop(grace)
        if self.notifier is not None:
            await self.notifier.stop(grace)
        await self.events.stop(deadline=grace)  # while the lease is still held: the writes are fenced
        await self.supervisor.stop(release=True)  # the lease, then the health and metrics servers
        self.leading.clear()
        await self.routers.stop()
        if self.notification_configs is not None:
            await self.notification_configs.stop()
        for informer in (*self.informers.values(), *self.lookups.values()):
            await informer.stop()
        if isinstance(self.analysis, AnalysisRunReconciler):  # the metric providers' sessions and threads
            try:
                await self.analysis.close()
            except Exception as e:  # stopping goes on: the process is leaving
                logger.warning("closing the analysis providers failed: {}", e)
        await self.events_client.close()
