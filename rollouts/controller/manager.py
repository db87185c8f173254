"""The manager: wires informers → work queues → reconcilers, gated by leader election, with metrics and health.

The controller process is `main.py` (flags) around one `Manager`:

    Informer(Rollouts) ──────────────► rollouts queue ──► RolloutReconciler.reconcile(key) → requeue after
    Informer(ReplicaSets by label) ──┘ (owner Rollout)
    Informer(AnalysisRuns) ──► analysis queue ──► AnalysisRunReconciler.reconcile(key); also enqueues its Rollout
    Informer(Jobs by label) ──► analysis queue (owner AnalysisRun)

Informers start at once (a standby keeps warm caches, so a takeover starts from synced caches); the work queues'
workers run only while this process holds the Lease. Losing the lease stops the workers and the process
stands by again. Reconcilers are built by factories from a `Runtime` (client, caches, metrics, events,
queues), so tests can plug their own; by default the project's `RolloutReconciler` and
`AnalysisRunReconciler` are used when importable.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from loguru import logger
from prometheus_client import CollectorRegistry

from rollouts.controller.caching import CachedSource, Obj
from rollouts.controller.clocks import Clock, SystemClock
from rollouts.controller.health import HealthServer
from rollouts.controller.leadership import ElectionConfig, LeaderElector
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.queueing import ObjectKey, WorkQueue
from rollouts.controller.watching import Informer
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import KubeError
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    EVENTS,
    JOBS,
    REPLICA_SETS,
    ROLLOUTS,
    SERVICES,
)

INSTANCE_ID_LABEL = "argo-rollouts.argoproj.io/controller-instance-id"
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
JOB_RUN_LABEL = "analysisrun.argoproj.io/uid"


class Reconciler(Protocol):
    """One pass for one key; returns seconds until the next look (None: on the next event or resync).

    Raising requeues the key with exponential backoff (1 ms → 10 s, §c.12)."""

    async def reconcile(self, key: ObjectKey) -> float | None: ...


ReconcilerFactory = Callable[["Runtime"], Reconciler]


@dataclass
class ControllerConfig:
    """Settings of one controller process (the flags of `rollouts controller`)."""

    namespace: str | None = None  # None: all namespaces
    instance_id: str = ""
    leader_elect: bool = True
    lease_namespace: str = "default"
    lease_name: str = "rollouts-controller-lock"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    rollout_workers: int = 10
    analysis_workers: int = 30
    resync: float = 900.0
    watch_timeout: int = 300
    metrics_port: int = 8090
    healthz_port: int = 8080
    bind: str = "0.0.0.0"
    component: str = "rollouts-controller"
    # metric providers (analysis.providers.throttling): caps that keep one namespace or backend to its share
    analysis_backend_concurrency: int = 16
    analysis_backend_rate: float | None = 100.0
    analysis_namespace_concurrency: int = 8
    analysis_query_threads: int = 64

    def selector(self) -> str:
        """Which Rollouts/AnalysisRuns are ours: labelled with our instance id, or unlabelled without one."""
        return f"{INSTANCE_ID_LABEL}={self.instance_id}" if self.instance_id else f"!{INSTANCE_ID_LABEL}"


class EventRecorder:
    """Writes core/v1 Events about an object and counts `rollout_events_total`; never raises."""

    def __init__(self, client: KubeClient, metrics: ControllerMetrics, component: str) -> None:
        self.client = client
        self.metrics = metrics
        self.component = component

    async def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        name = str(meta.get("name") or "")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": name,
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self.component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if obj.get("kind") == "Rollout":
            self.metrics.count_event(namespace, name, type_, reason)
        try:
            await self.client.create(EVENTS, body, namespace)
        except KubeError as e:
            logger.debug("event {} on {}/{} not written: {}", reason, namespace, name, e)


@dataclass
class Runtime:
    """What reconcilers get from the runtime."""

    client: KubeClient
    source: CachedSource
    metrics: ControllerMetrics
    events: EventRecorder
    config: ControllerConfig
    rollouts: WorkQueue
    analysis_runs: WorkQueue
    informers: dict[str, Informer] = field(default_factory=dict)


def default_rollout_reconciler(rt: Runtime) -> Reconciler:
    module = importlib.import_module("rollouts.controller.reconciling")
    reconciler: Reconciler = module.RolloutReconciler(
        rt.client, rt.source, metrics=rt.metrics, component=rt.config.component
    )
    return reconciler


def default_analysis_reconciler(rt: Runtime) -> Reconciler:
    module = importlib.import_module("rollouts.controller.analyzing")
    registry = importlib.import_module("analysis.providers.registry")
    config = rt.config
    providers = registry.Providers(
        registry.ProviderOptions(
            rate=config.analysis_backend_rate,
            concurrency=config.analysis_backend_concurrency,
            namespace_concurrency=config.analysis_namespace_concurrency,
            workers=config.analysis_query_threads,
            observer=rt.metrics.on_provider_cap,
        )
    )
    reconciler: Reconciler = module.AnalysisRunReconciler(
        rt.client, rt.source, metrics=rt.metrics, providers=providers
    )
    return reconciler


class _Idle:
    async def reconcile(self, key: ObjectKey) -> float | None:
        return None


def run_view(run: Obj) -> tuple[Any, ...]:
    """What the Rollout side reads of an AnalysisRun (`observing.parse_analysis_run`, ownership, deletion).

    A change outside it (a new measurement, a metric's counters) does not concern the owning Rollout."""
    meta = run.get("metadata") or {}
    status = run.get("status") or {}
    return (
        status.get("phase"),
        status.get("message"),
        (run.get("spec") or {}).get("terminate"),
        meta.get("labels"),
        meta.get("annotations"),
        meta.get("ownerReferences"),
        meta.get("deletionTimestamp"),
        meta.get("creationTimestamp"),
    )


def replica_set_view(rs: Obj) -> tuple[Any, ...]:
    """What the Rollout side reads of a ReplicaSet (`observing.parse_replica_set`, ownership, deletion)."""
    meta = rs.get("metadata") or {}
    status = rs.get("status") or {}
    return (
        rs.get("spec"),
        status.get("replicas"),
        status.get("readyReplicas"),
        status.get("availableReplicas"),
        meta.get("labels"),
        meta.get("annotations"),
        meta.get("ownerReferences"),
        meta.get("deletionTimestamp"),
        meta.get("creationTimestamp"),
    )


def _owner_key(obj: Obj, kind: str) -> ObjectKey | None:
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == kind and ref.get("name"):
            return ObjectKey(str(meta.get("namespace") or ""), str(ref["name"]))
    return None


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
        self.clock: Clock = clock or SystemClock()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = metrics or ControllerMetrics(self.registry, clock=self.clock)
        client.add_hook(self.metrics.on_request)
        self.source = CachedSource(client)
        self.events = EventRecorder(client, self.metrics, config.component)
        self.rollout_queue = WorkQueue(
            "Rollouts",
            self._reconcile_rollout,
            workers=config.rollout_workers,
            clock=self.clock,
            observer=self.metrics,
        )
        self.analysis_queue = WorkQueue(
            "AnalysisRuns",
            self._reconcile_analysis,
            workers=config.analysis_workers,
            clock=self.clock,
            observer=self.metrics,
        )
        self.informers = self._informers()
        self.lookups = self._lookups()
        self.runtime = Runtime(
            client,
            self.source,
            self.metrics,
            self.events,
            config,
            self.rollout_queue,
            self.analysis_queue,
            self.informers,
        )
        self.rollouts: Reconciler = self._build(rollout_reconciler, "Rollout")
        self.analysis: Reconciler = self._build(analysis_reconciler, "AnalysisRun")
        self.elector = (
            LeaderElector(
                client,
                ElectionConfig(
                    namespace=config.lease_namespace,
                    name=config.lease_name + (f"-{config.instance_id}" if config.instance_id else ""),
                    identity=config.identity,
                    lease_duration=config.lease_duration,
                    renew_deadline=config.renew_deadline,
                    retry_period=config.retry_period,
                ),
                clock=self.clock,
            )
            if config.leader_elect
            else None
        )
        self.health = HealthServer(
            self.registry,
            healthz_port=config.healthz_port,
            metrics_port=config.metrics_port,
            host=config.bind,
            alive=self.alive,
            ready=self.ready,
        )
        self.leading = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: BaseException | None = None

    def _build(self, factory: ReconcilerFactory | None, kind: str) -> Reconciler:
        if factory is None:
            return _Idle()
        try:
            return factory(self.runtime)
        except ImportError as e:
            logger.warning("no {} reconciler in this build ({}): {} objects are only watched", kind, e, kind)
            return _Idle()

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
            "ReplicaSet": Informer(self.client, REPLICA_SETS, label_selector=POD_TEMPLATE_HASH, **common),
            "AnalysisRun": Informer(
                self.client, ANALYSIS_RUNS, label_selector=cfg.selector(), resync=cfg.resync, **common
            ),
            "Job": Informer(self.client, JOBS, label_selector=JOB_RUN_LABEL, **common),
        }
        for informer in informers.values():
            self.source.add(informer.store)
        informers["Rollout"].add_handler(self._on_rollout)
        informers["ReplicaSet"].add_handler(self._on_replica_set)
        informers["AnalysisRun"].add_handler(self._on_analysis_run)
        informers["Job"].add_handler(self._on_job)
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
        elif etype == "MODIFIED" and self._own_settled_write(obj):
            return  # the pass that wrote this version already decided on it (reconciling.settle)
        self.rollout_queue.add(ObjectKey.of(obj))

    def _own_settled_write(self, obj: Obj) -> bool:
        settled = getattr(self.rollouts, "settled", None)
        if settled is None:
            return False
        meta = obj.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        return bool(settled(str(meta.get("namespace") or ""), str(meta.get("name") or ""), version))

    def _on_owned_by_rollout(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "RESYNC":
            return
        key = _owner_key(obj, "Rollout")
        if key is not None:
            self.rollout_queue.add(key)

    def _on_replica_set(self, etype: str, obj: Obj, old: Obj | None) -> None:
        # A status write that only moves observedGeneration or fullyLabeledReplicas does not concern the Rollout.
        if etype == "MODIFIED" and old is not None and replica_set_view(old) == replica_set_view(obj):
            return
        self._on_owned_by_rollout(etype, obj, old)

    def _on_analysis_run(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "DELETED":
            meta = obj.get("metadata") or {}
            self.metrics.forget_analysis_run(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        self.analysis_queue.add(ObjectKey.of(obj))
        # Every measurement rewrites the run's status; its Rollout only cares when what it reads changed.
        if etype != "RESYNC" and (old is None or etype == "DELETED" or run_view(old) != run_view(obj)):
            self._on_owned_by_rollout(etype, obj, old)

    def _on_job(self, etype: str, obj: Obj, old: Obj | None) -> None:
        key = _owner_key(obj, "AnalysisRun")
        if key is not None and etype != "RESYNC":
            self.analysis_queue.add(key)

    async def _reconcile_rollout(self, key: ObjectKey) -> float | None:
        return await self.rollouts.reconcile(key)

    async def _reconcile_analysis(self, key: ObjectKey) -> float | None:
        return await self.analysis.reconcile(key)

    # ------------------------------------------------------------------ health

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    def alive(self) -> bool:
        return self._failed is None and all(not t.done() for t in self._tasks)

    def ready(self) -> bool:
        return self._failed is None and self.synced()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve health and metrics, start the informers, and begin leading (or standing by)."""
        await self.health.start()
        for informer in (*self.informers.values(), *self.lookups.values()):
            informer.start()
        self._tasks.append(asyncio.create_task(self._lead(), name="leadership"))
        self._tasks.append(asyncio.create_task(self._sweep(), name="metrics-sweep"))

    async def _lead(self) -> None:
        try:
            while not self._stopping.is_set():
                if self.elector is not None:
                    await self.elector.acquire()
                self.metrics.leader.set(1)
                await asyncio.gather(*(i.wait_synced() for i in self.informers.values()))
                logger.info(
                    "leading: starting {} rollout and {} analysis workers",
                    self.config.rollout_workers,
                    self.config.analysis_workers,
                )
                self.rollout_queue.start()
                self.analysis_queue.start()
                self.leading.set()
                if self.elector is None:
                    await self._stopping.wait()
                    return
                await self.elector.hold()
                logger.warning("lost the lease: stopping workers, standing by")
                self.leading.clear()
                self.metrics.leader.set(0)
                await self._stop_queues(grace=0.0)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # pragma: no cover - a bug; /healthz turns red
            self._failed = e
            logger.exception("leadership loop failed")

    async def _stop_queues(self, grace: float) -> None:
        await self.rollout_queue.stop(grace)
        await self.analysis_queue.stop(grace)
        # A stopped queue refuses adds; build fresh ones for the next term, fed by the same informers.
        self.rollout_queue = self.runtime.rollouts = WorkQueue(
            "Rollouts",
            self._reconcile_rollout,
            workers=self.config.rollout_workers,
            clock=self.clock,
            observer=self.metrics,
        )
        self.analysis_queue = self.runtime.analysis_runs = WorkQueue(
            "AnalysisRuns",
            self._reconcile_analysis,
            workers=self.config.analysis_workers,
            clock=self.clock,
            observer=self.metrics,
        )
        for informer in self.informers.values():
            for obj in informer.store:
                if informer.resource is ROLLOUTS:
                    self.rollout_queue.add(ObjectKey.of(obj))
                elif informer.resource is ANALYSIS_RUNS:
                    self.analysis_queue.add(ObjectKey.of(obj))

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
        if self.elector is not None:
            await self.elector.release()
        self.leading.clear()
        for informer in (*self.informers.values(), *self.lookups.values()):
            await informer.stop()
        for reconciler in (self.rollouts, self.analysis):
            closer = getattr(reconciler, "close", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
        await self.health.stop()
