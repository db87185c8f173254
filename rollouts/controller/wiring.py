"""What the manager (`rollouts.controller.manager`) is built from: its settings, the `Runtime` handed to reconciler
factories, the default reconcilers, and what the informers' handlers compare of owned objects.

Kept apart from the manager's lifecycle so a test or a benchmark can plug its own reconcilers (a factory takes
the `Runtime`) and read the settings without starting anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from analysis.providers.credentials import DEFAULT_NAMESPACE, Credentials
from analysis.providers.governance import GovernanceConfig
from analysis.providers.registry import ProviderOptions, Providers
from rollouts.controller.analyzing import AnalysisRunReconciler, provider_secrets
from rollouts.controller.caching import CachedSource, Obj
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.queueing import ObjectKey, WorkQueue
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.controller.recording import EventRecorder
from rollouts.controller.watching import Informer
from rollouts.kube.client import KubeClient
from rollouts.models.vocabulary import INSTANCE_ID_LABEL


class Reconciler(Protocol):
    """One pass for one key; returns seconds until the next look (None: on the next event or resync).

    Raising requeues the key with exponential backoff (1 ms → 10 s, docs/semantics/controller.md#work-queue)."""

    async def reconcile(self, key: ObjectKey) -> float | None: ...


ReconcilerFactory = Callable[["Runtime"], Reconciler]


@dataclass
class ControllerConfig:
    """Settings of one controller process (the flags of `rollouts controller`)."""

    namespace: str | None = None  # None: all namespaces
    instance_id: str = ""
    leader_elect: bool = True
    sharding: bool = False  # active-active: every replica acts on its share of the keys (`sharding`)
    lease_namespace: str = "default"
    lease_name: str = "rollouts-controller-lock"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    rollout_workers: int = 10
    analysis_workers: int = 30
    # workers one namespace may hold at once (fairness between tenants); None: the default below
    rollout_namespace_workers: int | None = None
    analysis_namespace_workers: int | None = None
    resync: float = 900.0
    watch_timeout: int = 300
    metrics_port: int = 8090
    healthz_port: int = 8080
    bind: str = (
        "127.0.0.1"  # `rollouts controller` binds all interfaces only inside a pod (see `default_bind`)
    )
    component: str = "rollouts-controller"
    # metric providers (analysis.providers.throttling): caps that keep one namespace or backend to its share
    analysis_backend_concurrency: int = 16
    analysis_backend_rate: float | None = 100.0
    analysis_namespace_concurrency: int = 8
    analysis_query_threads: int = 64
    # analysis.providers.governance: identical queries coalesced, a circuit breaker per backend
    analysis_coalesce_window: float = 1.0
    analysis_breaker_failures: int = 5
    analysis_breaker_cooldown: float = 30.0
    allow_cross_namespace_routing: bool = False  # a Rollout may name router objects in other namespaces
    router_discovery_period: float = 60.0  # how often a router kind the cluster does not serve is looked for
    router_min_interval: float = 1.0  # router edits enqueue one Rollout at most this often
    stall_limit: float = 30.0  # /healthz turns red when the reconcilers' loop has not answered for this long
    # notifications (rollouts.controller.notifying): None = $POD_NAMESPACE, else argo-rollouts
    notifications: bool = True
    notifications_namespace: str | None = None
    self_service_notifications: bool = False
    notification_timeout: float = 10.0
    notification_attempts: int = 5
    notification_backoff: float = 1.0

    def namespace_workers(self, kind: str) -> int:
        """Workers one namespace may hold at once in the queue of `kind` ("Rollouts" or "AnalysisRuns").

        Rollouts default to no cap (their handlers do not wait on user-supplied backends; the round-robin
        order is enough); AnalysisRuns to a third of the workers, so two namespaces whose queries hang
        still leave a third of the workers to everyone else.
        """
        if kind == "Rollouts":
            return self.rollout_namespace_workers or self.rollout_workers
        return self.analysis_namespace_workers or max(1, self.analysis_workers // 3)

    def selector(self) -> str:
        """Which Rollouts/AnalysisRuns are ours: labelled with our instance id, or unlabelled without one."""
        return f"{INSTANCE_ID_LABEL}={self.instance_id}" if self.instance_id else f"!{INSTANCE_ID_LABEL}"


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


def default_bind() -> str:
    """All interfaces inside a pod (KUBERNETES_SERVICE_HOST is set: Prometheus and the kubelet come from
    outside), loopback anywhere else: a controller run on a laptop or a CI machine serves nobody but itself."""
    return "0.0.0.0" if os.environ.get("KUBERNETES_SERVICE_HOST") else "127.0.0.1"


def default_rollout_reconciler(rt: Runtime) -> Reconciler:
    reconciler: Reconciler = RolloutReconciler(
        rt.client,
        rt.source,
        metrics=rt.metrics,
        component=rt.config.component,
        allow_cross_namespace_routing=rt.config.allow_cross_namespace_routing,
        events=rt.events,
    )
    return reconciler


def default_analysis_reconciler(rt: Runtime) -> Reconciler:
    config = rt.config
    providers = Providers(
        ProviderOptions(
            rate=config.analysis_backend_rate,
            concurrency=config.analysis_backend_concurrency,
            namespace_concurrency=config.analysis_namespace_concurrency,
            workers=config.analysis_query_threads,
            observer=rt.metrics.on_provider_cap,
            governance=GovernanceConfig(
                coalesce_window=config.analysis_coalesce_window,
                breaker_failures=config.analysis_breaker_failures,
                breaker_cooldown=config.analysis_breaker_cooldown,
            ),
            backend_observer=rt.metrics,
            credentials=Credentials(
                lookup=provider_secrets(rt.client),
                namespace=os.environ.get("POD_NAMESPACE") or config.namespace or DEFAULT_NAMESPACE,
            ),
        )
    )
    reconciler: Reconciler = AnalysisRunReconciler(
        rt.client, rt.source, metrics=rt.metrics, providers=providers
    )
    return reconciler


class Idle:
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


def owner_key(obj: Obj, kind: str) -> ObjectKey | None:
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == kind and ref.get("name"):
            return ObjectKey(str(meta.get("namespace") or ""), str(ref["name"]))
    return None
