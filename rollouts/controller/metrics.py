"""Controller metrics: Argo Rollouts' series (docs/semantics/metrics.md#controller-metrics) plus analysis values and thresholds, on an injected registry.

Fed by every other part of the runtime: the client adapter's request hook (`on_request`), the work queues
(`QueueObserver` methods), the reconcilers (`observe_reconcile`, `observe_rollout`, `observe_analysis_run`), the
event recorder (`count_event`). Served by `rollouts.controller.health` on `/metrics`. The registry is always
injected (tests build their own; never the process-global one). Per-object series are removed
`cleanup_delay` seconds (Argo: 65 s) after the object is deleted (`forget_*` then `sweep`).

Beyond Argo: `analysis_run_metric_value` (the latest measured value as a float) and
`analysis_run_metric_threshold` (the number in a simple success/failure condition such as `result[0] >= 0.99`),
so a dashboard can draw the value against its line; `rollout_canary_weight` and `rollout_step_index`;
`analysis_backend_coalesced_total`, `analysis_backend_breaker_open` and
`analysis_backend_breaker_transitions_total` (analysis.providers.governance, fed by `on_coalesced`/`on_breaker`);
`analysis_provider_cap_total` (a measurement that waited for, or was refused by, the per-namespace,
per-backend or rate cap of the metric providers: `on_provider_cap`, the providers' observer);
`controller_write_refused_total{kind,verb,code}` (every write the API server refused — each is also logged at
WARNING with the object, the verb, the code and the server's message, so a retry loop is never silent) and
`controller_events_dropped_total{kind,type,reason,cause}` (Events not recorded; `cause`: `refused` after their
retries, `queue_full`, `spam` (the spam filter), `fenced`, `shutdown` — see `rollouts.controller.recording`) and
`controller_internal_error_total{kind}` (a pass that failed on a fault of the controller itself, logged with its
traceback).
Counters follow client_python naming: `rollout_reconcile_error` is exposed as `rollout_reconcile_error_total`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from rollouts import __version__
from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.controller.labelling import (
    ANALYSIS_PHASES,
    ROLLOUT_METRIC_PHASES,
    analysis_metric_types,
    condition_threshold,
    latest_value,
    metrics_phase,
    strategy_of,
    traffic_router_of,
)
from rollouts.controller.series import CompactCounter, CompactGauge, CompactHistogram
from rollouts.kube.client import RequestRecord
from rollouts.models.vocabulary import DEFAULT_REPLICAS
from rollouts.support import rollout_findings

# Argo's controller (Go's client_golang) exposes no `<counter>_created` series; Python's client adds one per
# counter and histogram child, doubling what every scrape carries for the per-rollout counters. Off, as in Argo.
disable_created_metrics()  # type: ignore[no-untyped-call]

_UNNAMED_REQUEST_KINDS = frozenset({"Event", "ReplicaSet"})
_MAX_BACKENDS = (
    100  # distinct `backend` label values of the governance series (addresses come from manifests)
)

RECONCILE_BUCKETS = (0.01, 0.15, 0.25, 0.5, 1.0)
QUEUE_BUCKETS = (1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)
PROGRESSION_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
MANUAL_PAUSE_BUCKETS = (0.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)
Key = tuple[str, str]


class ControllerMetrics:
    """All controller series on `registry`; methods are cheap and synchronous (called from the event loop)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        version: str = __version__,
        cleanup_delay: float = 65.0,
        clock: Clock | None = None,
    ) -> None:
        self.registry = registry
        self.cleanup_delay = cleanup_delay
        self.clock: Clock = clock or MonotonicClock()
        r = registry
        nn = ["namespace", "name"]
        self.rollout_info = CompactGauge(
            "rollout_info",
            "Information about a rollout.",
            [*nn, "strategy", "traffic_router", "phase"],
            registry=r,
        )
        self.replicas_available = CompactGauge(
            "rollout_info_replicas_available", "Available replicas.", nn, registry=r
        )
        self.replicas_unavailable = CompactGauge(
            "rollout_info_replicas_unavailable", "Unavailable replicas.", nn, registry=r
        )
        self.replicas_desired = CompactGauge(
            "rollout_info_replicas_desired", "Desired replicas.", nn, registry=r
        )
        self.replicas_updated = CompactGauge(
            "rollout_info_replicas_updated", "Updated replicas.", nn, registry=r
        )
        self.rollout_phase = CompactGauge(
            "rollout_phase",
            "Rollout phase as 0/1 per phase (deprecated: use rollout_info).",
            [*nn, "strategy", "phase"],
            registry=r,
        )
        self.canary_weight = CompactGauge(
            "rollout_canary_weight", "Traffic weight (percent) sent to the canary.", nn, registry=r
        )
        self.step_index = CompactGauge("rollout_step_index", "Current canary step index.", nn, registry=r)
        self.unsupported_feature = CompactGauge(
            "rollout_unsupported_feature",
            "1 per Argo feature the rollout uses that this controller does not implement (handling: refused "
            "makes the Rollout InvalidSpec, ignored goes on without it).",
            [*nn, "feature", "handling"],
            registry=r,
        )
        self._features: dict[Key, set[tuple[str, str]]] = {}
        self.rollout_reconcile = CompactHistogram(
            "rollout_reconcile",
            "Rollout reconciliation performance (seconds).",
            nn,
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.rollout_reconcile_error = CompactCounter(
            "rollout_reconcile_error", "Errors during rollout reconciliation.", nn, registry=r
        )
        self.rollout_events = CompactCounter(
            "rollout_events", "Kubernetes events emitted for rollouts.", [*nn, "type", "reason"], registry=r
        )
        # status.duration of finished attempts; names, label and buckets are Argo's (controller/metrics/metrics.go)
        self.rollout_duration = Histogram(
            "rollout_duration_seconds",
            "Seconds from the start of a rollout attempt to its end, by outcome.",
            ["status"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.rollout_progression_duration = Histogram(
            "rollout_progression_duration_seconds",
            "Seconds a rollout attempt spent progressing (its duration minus manual pauses), by outcome.",
            ["status"],
            buckets=PROGRESSION_BUCKETS,
            registry=r,
        )
        self.rollout_manual_pause_duration = Histogram(
            "rollout_manual_pause_duration_seconds",
            "Seconds a rollout attempt waited for a person (manual pauses), by outcome.",
            ["status"],
            buckets=MANUAL_PAUSE_BUCKETS,
            registry=r,
        )
        self.analysis_run_info = CompactGauge(
            "analysis_run_info", "Information about an analysis run.", [*nn, "phase"], registry=r
        )
        self.analysis_run_phase = CompactGauge(
            "analysis_run_phase", "Analysis run phase as 0/1 (deprecated).", [*nn, "phase"], registry=r
        )
        self.analysis_run_metric_type = CompactGauge(
            "analysis_run_metric_type",
            "Provider type of an analysis metric.",
            [*nn, "metric", "type"],
            registry=r,
        )
        self.analysis_run_metric_phase = CompactGauge(
            "analysis_run_metric_phase",
            "Phase of an analysis metric as 0/1 per phase.",
            [*nn, "metric", "type", "dry_run", "phase"],
            registry=r,
        )
        self.analysis_run_metric_value = CompactGauge(
            "analysis_run_metric_value",
            "Latest measured value of an analysis metric.",
            [*nn, "metric"],
            registry=r,
        )
        self.analysis_run_metric_threshold = CompactGauge(
            "analysis_run_metric_threshold",
            "Threshold of a simple success/failure condition.",
            [*nn, "metric", "condition"],
            registry=r,
        )
        self.analysis_run_reconcile = CompactHistogram(
            "analysis_run_reconcile",
            "Analysis run reconciliation performance (seconds).",
            nn,
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.analysis_run_reconcile_error = CompactCounter(
            "analysis_run_reconcile_error", "Errors during analysis run reconciliation.", nn, registry=r
        )
        self.k8s_requests = CompactCounter(
            "controller_clientset_k8s_request",
            "Requests to the Kubernetes API.",
            ["kind", "namespace", "name", "verb", "status_code"],
            registry=r,
        )
        self.write_refused = Counter(
            "controller_write_refused",
            "Writes (create, update, patch, delete) the Kubernetes API refused, by HTTP status code.",
            ["kind", "verb", "code"],
            registry=r,
        )
        self.events_dropped = Counter(
            "controller_events_dropped",
            "Kubernetes Events not recorded: refused after their retries, queue full, spam filter, shutdown.",
            ["kind", "type", "reason", "cause"],
            registry=r,
        )
        self.internal_errors = Counter(
            "controller_internal_error",
            "Reconcile passes that failed on a fault of the controller itself (logged with its traceback at "
            "error level and retried with backoff; never shown to the user as an invalid spec).",
            ["kind"],
            registry=r,
        )
        self.queue_adds = Counter("workqueue_adds", "Adds handled by a work queue.", ["name"], registry=r)
        self.queue_depth = Gauge("workqueue_depth", "Current depth of a work queue.", ["name"], registry=r)
        self.queue_latency = Histogram(
            "workqueue_queue_duration_seconds",
            "Seconds an item waits in a work queue before being processed.",
            ["name"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.queue_work = Histogram(
            "workqueue_work_duration_seconds",
            "Seconds processing an item from a work queue takes.",
            ["name"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.queue_retries = Counter(
            "workqueue_retries", "Retries handled by a work queue.", ["name"], registry=r
        )
        self.controller_info = Gauge(
            "rollouts_controller_info", "Information about the controller (=1).", ["version"], registry=r
        )
        self.controller_info.labels(version).set(1)
        self.leader = Gauge("rollouts_controller_leader", "1 while this process holds the lease.", registry=r)
        self.fenced_writes = Counter(
            "rollouts_controller_fenced_writes",
            "Writes not sent because this replica could not be sure it held the lease.",
            ["kind"],
            registry=r,
        )
        self.provider_caps = Counter(
            "analysis_provider_cap",
            "Measurements that waited for (outcome=waited) or were refused by (outcome=refused) a cap of the "
            "metric providers (cap=namespace|backend|rate).",
            ["namespace", "cap", "outcome"],
            registry=r,
        )
        self.backend_coalesced = Counter(
            "analysis_backend_coalesced",
            "Metric queries answered by an identical query's request (same backend, query and credentials, "
            "asked within --analysis-coalesce-window) instead of a request of their own.",
            ["backend"],
            registry=r,
        )
        self.backend_breaker = Gauge(
            "analysis_backend_breaker_open",
            "1 while a metric backend's circuit breaker is open or half-open (its measurements fail at once), "
            "0 once closed.",
            ["backend"],
            registry=r,
        )
        self.backend_breaker_transitions = Counter(
            "analysis_backend_breaker_transitions",
            "Transitions of a metric backend's circuit breaker (state=open|half-open|closed).",
            ["backend", "state"],
            registry=r,
        )
        self._backends: set[str] = set()
        self._rollouts: dict[Key, dict[str, Any]] = {}
        self._runs: dict[Key, dict[str, Any]] = {}
        self._expiry: dict[tuple[str, str, str], float] = {}

    # ------------------------------------------------------------------ client and queues

    def on_request(self, record: RequestRecord) -> None:
        """The KubeClient hook: count one request; a refused write is also counted apart and logged.

        As Argo's `IncKubernetesRequest` (controller/metrics/client.go), lists and requests about Events and
        ReplicaSets are counted under the name `N/A`: a name per Event would add series without end."""
        name = "N/A" if record.verb == "List" or record.kind in _UNNAMED_REQUEST_KINDS else record.name
        self.k8s_requests.labels(
            record.kind, record.namespace, name, record.verb, str(record.status_code)
        ).inc()
        if record.refused:
            self.write_refused.labels(record.kind, record.verb, str(record.status_code)).inc()
        if record.failed:
            logger.warning("{}", refusal_message(record))

    def count_event_dropped(self, kind: str, type_: str, reason: str, cause: str = "refused") -> None:
        self.events_dropped.labels(kind, type_, reason, cause).inc()

    def count_internal_error(self, kind: str) -> None:
        self.internal_errors.labels(kind).inc()

    def on_provider_cap(self, outcome: str, cap: str, namespace: str) -> None:
        """The providers' observer: a measurement waited for or was refused by a cap."""
        self.provider_caps.labels(namespace, cap, outcome).inc()
        if outcome == "refused":
            logger.warning(
                "a measurement in namespace {} was refused: the {} cap of the metric providers stayed full "
                "for its whole timeout (a slow backend?)",
                namespace or "-",
                cap,
            )

    def _backend(self, backend: str) -> str:
        """The `backend` label: addresses come from manifests, so past `_MAX_BACKENDS` they are one `other`."""
        if backend in self._backends or len(self._backends) < _MAX_BACKENDS:
            self._backends.add(backend)
            return backend
        return "other"

    def on_coalesced(self, backend: str) -> None:
        """The providers' backend observer: a query shared an identical query's request."""
        self.backend_coalesced.labels(self._backend(backend)).inc()

    def on_breaker(self, backend: str, state: str) -> None:
        """The providers' backend observer: a backend's circuit breaker changed state (logged there)."""
        label = self._backend(backend)
        self.backend_breaker.labels(label).set(0 if state == "closed" else 1)
        self.backend_breaker_transitions.labels(label, state).inc()

    def on_add(self, queue: str) -> None:
        self.queue_adds.labels(queue).inc()

    def on_depth(self, queue: str, depth: int) -> None:
        self.queue_depth.labels(queue).set(depth)

    def on_retry(self, queue: str) -> None:
        self.queue_retries.labels(queue).inc()

    def on_latency(self, queue: str, seconds: float) -> None:
        self.queue_latency.labels(queue).observe(seconds)

    def on_work(self, queue: str, seconds: float) -> None:
        self.queue_work.labels(queue).observe(seconds)

    # ------------------------------------------------------------------ reconcilers

    def observe_reconcile(self, kind: str, namespace: str, name: str, seconds: float, *, error: bool) -> None:
        """One reconcile pass of a Rollout (`kind="Rollout"`) or an AnalysisRun (`kind="AnalysisRun"`)."""
        if kind == "AnalysisRun":
            self.analysis_run_reconcile.labels(namespace, name).observe(seconds)
            if error:
                self.analysis_run_reconcile_error.labels(namespace, name).inc()
        else:
            self.rollout_reconcile.labels(namespace, name).observe(seconds)
            if error:
                self.rollout_reconcile_error.labels(namespace, name).inc()

    def observe_rollout_duration(self, status: str, total: float, manual_pause: float) -> None:
        """A rollout attempt that ended (`EmitRolloutDuration`): total, progression (total − manual) and manual
        pause seconds, labelled with its completion status."""
        self.rollout_duration.labels(status).observe(total)
        self.rollout_progression_duration.labels(status).observe(total - manual_pause)
        self.rollout_manual_pause_duration.labels(status).observe(manual_pause)

    def count_event(self, namespace: str, name: str, type_: str, reason: str) -> None:
        self.rollout_events.labels(namespace, name, type_, reason).inc()

    def observe_rollout(self, rollout: dict[str, Any]) -> None:
        """Set the per-rollout series from a Rollout object (spec and status)."""
        meta = rollout.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        self._expiry.pop(("Rollout", *key), None)
        status = rollout.get("status") or {}
        strategy = strategy_of(rollout)
        phase = metrics_phase(rollout)
        labels = {"strategy": strategy, "traffic_router": traffic_router_of(rollout), "phase": phase}
        old = self._rollouts.get(key)
        if old is not None and old != labels:
            _remove(self.rollout_info, *key, old["strategy"], old["traffic_router"], old["phase"])
            if old["strategy"] != strategy:
                for p in ROLLOUT_METRIC_PHASES:
                    _remove(self.rollout_phase, *key, old["strategy"], p)
        self._rollouts[key] = labels
        self.rollout_info.labels(*key, strategy, labels["traffic_router"], phase).set(1)
        for p in ROLLOUT_METRIC_PHASES:
            self.rollout_phase.labels(*key, strategy, p).set(1 if p == phase else 0)
        desired = _num((rollout.get("spec") or {}).get("replicas"), DEFAULT_REPLICAS)
        available = _num(status.get("availableReplicas"), 0)
        self.replicas_desired.labels(*key).set(desired)
        self.replicas_available.labels(*key).set(available)
        self.replicas_unavailable.labels(*key).set(max(0.0, _num(status.get("replicas"), 0) - available))
        self.replicas_updated.labels(*key).set(_num(status.get("updatedReplicas"), 0))
        weights = ((status.get("canary") or {}).get("weights") or {}).get("canary") or {}
        if "weight" in weights:
            self.canary_weight.labels(*key).set(_num(weights.get("weight"), 0))
        if "currentStepIndex" in status:
            self.step_index.labels(*key).set(_num(status.get("currentStepIndex"), 0))
        features = {(f.feature.key, "refused" if f.refused else "ignored") for f in rollout_findings(rollout)}
        for gone in self._features.get(key, set()) - features:
            _remove(self.unsupported_feature, *key, *gone)
        for feature in features:
            self.unsupported_feature.labels(*key, *feature).set(1)
        self._features[key] = features

    def observe_analysis_run(self, run: dict[str, Any]) -> None:
        """Set the per-run series from an AnalysisRun object."""
        meta = run.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        self._expiry.pop(("AnalysisRun", *key), None)
        version = str(meta.get("resourceVersion") or "")
        if version and (self._runs.get(key) or {}).get("version") == version:
            return  # the same object again (every pass on a finished run): its series are already set
        status = run.get("status") or {}
        phase = str(status.get("phase") or "Pending")
        wanted: list[tuple[CompactGauge, tuple[str, ...], float]] = [(self.analysis_run_info, (phase,), 1.0)]
        wanted += [(self.analysis_run_phase, (p,), 1.0 if p == phase else 0.0) for p in ANALYSIS_PHASES]
        results = {str(m.get("name")): m for m in status.get("metricResults") or [] if isinstance(m, dict)}
        for metric, type_, dry_run in analysis_metric_types(run):
            wanted.append((self.analysis_run_metric_type, (metric, type_), 1.0))
            result = results.get(metric) or {}
            mphase = str(result.get("phase") or "Pending")
            for p in ANALYSIS_PHASES:
                labels = (metric, type_, "true" if dry_run else "false", p)
                wanted.append((self.analysis_run_metric_phase, labels, 1.0 if p == mphase else 0.0))
            value = latest_value(result)
            if value is not None:
                wanted.append((self.analysis_run_metric_value, (metric,), value))
        for metric, condition, threshold in _thresholds(run):
            wanted.append((self.analysis_run_metric_threshold, (metric, condition), threshold))
        # Each measurement brings a new version with the same series (only values move): they are set in place,
        # and the series no longer wanted (a renamed metric, the old phase) removed.
        kept: set[tuple[CompactGauge, tuple[str, ...]]] = (self._runs.get(key) or {}).get("series") or set()
        series: set[tuple[CompactGauge, tuple[str, ...]]] = set()
        for gauge, values, value in wanted:
            gauge.labels(*key, *values).set(value)
            series.add((gauge, values))
        for gauge, values in kept - series:
            _remove(gauge, *key, *values)
        self._runs[key] = {"series": series, "version": version}

    # ------------------------------------------------------------------ lifecycle

    def forget_rollout(self, namespace: str, name: str) -> None:
        """The rollout was deleted: drop its series after `cleanup_delay`."""
        self._expiry[("Rollout", namespace, name)] = self.clock.now() + self.cleanup_delay

    def forget_analysis_run(self, namespace: str, name: str) -> None:
        self._expiry[("AnalysisRun", namespace, name)] = self.clock.now() + self.cleanup_delay

    def sweep(self) -> int:
        """Remove the series of objects deleted more than `cleanup_delay` ago; returns how many objects."""
        now = self.clock.now()
        due = [k for k, when in self._expiry.items() if when <= now]
        if due:  # a deleted object's request counts go too (Argo keeps them: a series per run ever created)
            gone = set(due)
            self.k8s_requests.remove_where(lambda labels: labels[:3] in gone)
        for kind, namespace, name in due:
            del self._expiry[(kind, namespace, name)]
            if kind == "Rollout":
                self._remove_rollout((namespace, name))
            else:
                self._remove_run((namespace, name))
                self._runs.pop((namespace, name), None)
                for h in (self.analysis_run_reconcile, self.analysis_run_reconcile_error):
                    _remove(h, namespace, name)
        return len(due)

    def _remove_rollout(self, key: Key) -> None:
        labels = self._rollouts.pop(key, None)
        if labels is not None:
            _remove(self.rollout_info, *key, labels["strategy"], labels["traffic_router"], labels["phase"])
            for p in ROLLOUT_METRIC_PHASES:
                _remove(self.rollout_phase, *key, labels["strategy"], p)
        for g in (
            self.replicas_available,
            self.replicas_unavailable,
            self.replicas_desired,
            self.replicas_updated,
            self.canary_weight,
            self.step_index,
        ):
            _remove(g, *key)
        for h in (self.rollout_reconcile, self.rollout_reconcile_error):
            _remove(h, *key)
        for feature in self._features.pop(key, set()):
            _remove(self.unsupported_feature, *key, *feature)

    def _remove_run(self, key: Key) -> None:
        old = self._runs.get(key)
        if old is None:
            return
        for gauge, values in old["series"]:
            _remove(gauge, *key, *values)


def refusal_message(record: RequestRecord) -> str:
    """One line naming the object, the verb and the API server's answer.

    >>> refusal_message(RequestRecord("AnalysisRun", "shop", "web-1", "Patch", 404, "status",
    ...                               'NotFound analysisruns.argoproj.io "web-1" not found'))
    'API server refused Patch of AnalysisRun shop/web-1 (status subresource): 404 NotFound analysisruns.argoproj.io "web-1" not found'
    """
    target = f"{record.namespace}/{record.name}" if record.namespace else record.name
    if not record.name:
        target = f"in {record.namespace}" if record.namespace else "(generated name)"
    sub = f" ({record.subresource} subresource)" if record.subresource else ""
    if record.status_code == 0:
        return f"API server did not answer {record.verb} of {record.kind} {target}{sub}: {record.message}"
    return (
        f"API server refused {record.verb} of {record.kind} {target}{sub}: "
        f"{record.status_code} {record.message}".rstrip()
    )


def _thresholds(run: dict[str, Any]) -> list[tuple[str, str, float]]:
    spec = run.get("spec") or {}
    args = {
        str(a.get("name")): str(a.get("value"))
        for a in spec.get("args") or []
        if isinstance(a, dict) and a.get("value") is not None
    }
    out: list[tuple[str, str, float]] = []
    for metric in spec.get("metrics") or []:
        if not isinstance(metric, dict):
            continue
        for field, label in (("successCondition", "success"), ("failureCondition", "failure")):
            threshold = condition_threshold(metric.get(field), args)
            if threshold is not None:
                out.append((str(metric.get("name")), label, threshold))
    return out


def _num(value: Any, default: float) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def _remove(metric: Any, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
