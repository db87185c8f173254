"""Controller metrics (docs/semantics/metrics.md#controller-metrics) on an injected registry, and the /metrics, /healthz, /readyz endpoints."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from rollouts.controller.clocks import ManualClock
from rollouts.controller.health import HealthServer
from rollouts.controller.labelling import condition_threshold, metrics_phase, parse_value, traffic_router_of
from rollouts.controller.metrics import ControllerMetrics
from rollouts.kube.client import RequestRecord


def rollout(reason: str | None = None, invalid: bool = False, **status: Any) -> dict[str, Any]:
    conditions = []
    if reason:
        conditions.append({"type": "Progressing", "status": "True", "reason": reason})
    if invalid:
        conditions.append({"type": "InvalidSpec", "status": "True", "reason": "InvalidSpec"})
    return {
        "metadata": {"namespace": "prod", "name": "api-server"},
        "spec": {
            "replicas": 5,
            "strategy": {"canary": {"trafficRouting": {"istio": {"virtualService": {}}}}},
        },
        "status": {"conditions": conditions, **status},
    }


@pytest.mark.parametrize(
    ("reason", "invalid", "phase"),
    [
        pytest.param("NewReplicaSetAvailable", False, "Completed", id="completed"),
        pytest.param("RolloutPaused", False, "Paused", id="paused"),
        pytest.param("ReplicaSetCreateError", False, "Error", id="error"),
        pytest.param("ProgressDeadlineExceeded", False, "Timeout", id="timeout"),
        pytest.param("RolloutAborted", False, "Abort", id="abort"),
        pytest.param("ReplicaSetUpdated", False, "Progressing", id="other-reason-progressing"),
        pytest.param(None, False, "Progressing", id="no-condition"),
        pytest.param("NewReplicaSetAvailable", True, "InvalidSpec", id="invalid-spec-wins"),
    ],
)
def test_metrics_phase_mapping(reason: str | None, invalid: bool, phase: str) -> None:
    """docs/semantics/metrics.md#metrics-phase: rollout_info's phase label is the metrics phase, not status.phase."""
    assert metrics_phase(rollout(reason, invalid)) == phase


@pytest.mark.parametrize(
    ("routing", "label"),
    [
        pytest.param({"istio": {"virtualService": {"name": "vs"}}}, "Istio", id="istio"),
        pytest.param({"nginx": {"stableIngress": "x"}}, "Nginx", id="nginx"),
        pytest.param({"smi": {}}, "", id="empty-smi-block-is-no-router"),
        pytest.param({"smi": {"rootService": "x"}}, "SMI", id="smi"),
        pytest.param(
            {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "r"}}}, "GatewayAPI", id="gateway"
        ),
        pytest.param({}, "", id="none"),
    ],
)
def test_traffic_router_label(routing: dict[str, Any], label: str) -> None:
    obj = {"spec": {"strategy": {"canary": {"trafficRouting": routing}}}}
    assert traffic_router_of(obj) == label


@pytest.mark.parametrize(
    ("condition", "args", "threshold"),
    [
        pytest.param("result[0] >= 0.99", None, 0.99, id="ge"),
        pytest.param("result < 500", None, 500.0, id="bare-result"),
        pytest.param("0.95 <= result[0]", None, 0.95, id="number-left"),
        pytest.param(
            "result[0] <= {{args.max-latency}}", {"max-latency": "250"}, 250.0, id="arg-substituted"
        ),
        pytest.param("asFloat(result[0]) > 1e-3", None, 0.001, id="asfloat-exponent"),
        pytest.param("result[0] >= 0.9 && result[0] < 2", None, None, id="compound-is-not-simple"),
        pytest.param("len(result) == 0", None, None, id="len"),
        pytest.param("", None, None, id="empty"),
        pytest.param(None, None, None, id="absent"),
    ],
)
def test_condition_threshold(condition: Any, args: dict[str, str] | None, threshold: float | None) -> None:
    assert condition_threshold(condition, args) == threshold


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("0.95", 0.95, id="plain"),
        pytest.param("[0.9500000000000001]", 0.9500000000000001, id="vector"),
        pytest.param("[475, 12]", 475.0, id="first-of-vector"),
        pytest.param("", None, id="empty"),
        pytest.param("{'a': 1}", None, id="not-a-number"),
    ],
)
def test_parse_value(text: str, value: float | None) -> None:
    assert parse_value(text) == value


def sample(registry: CollectorRegistry, metric: str, /, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


def test_rollout_series_follow_the_object_and_its_phase_changes() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg, version="1.2.3")
    assert sample(reg, "rollouts_controller_info", version="1.2.3") == 1
    m.observe_rollout(rollout("RolloutPaused", replicas=5, availableReplicas=4, updatedReplicas=1))
    base = {"namespace": "prod", "name": "api-server"}
    info = {**base, "strategy": "canary", "traffic_router": "Istio"}
    assert sample(reg, "rollout_info", **info, phase="Paused") == 1
    assert sample(reg, "rollout_info_replicas_desired", **base) == 5
    assert sample(reg, "rollout_info_replicas_available", **base) == 4
    assert sample(reg, "rollout_info_replicas_unavailable", **base) == 1
    assert sample(reg, "rollout_info_replicas_updated", **base) == 1
    assert sample(reg, "rollout_phase", **base, strategy="canary", phase="Paused") == 1
    assert sample(reg, "rollout_phase", **base, strategy="canary", phase="Completed") == 0
    m.observe_rollout(rollout("NewReplicaSetAvailable", replicas=5, availableReplicas=5))
    assert sample(reg, "rollout_info", **info, phase="Paused") is None  # old label set removed
    assert sample(reg, "rollout_info", **info, phase="Completed") == 1


def test_series_removed_after_the_cleanup_delay() -> None:
    """docs/semantics/metrics.md#metrics-lifecycle lifecycle: per-object series go DefaultMetricCleanupDelay (65 s) after the object is deleted."""
    reg = CollectorRegistry()
    clock = ManualClock()
    m = ControllerMetrics(reg, clock=clock)
    m.observe_rollout(rollout("RolloutPaused"))
    m.observe_reconcile("Rollout", "prod", "api-server", 0.2, error=True)
    labels = {"namespace": "prod", "name": "api-server"}
    m.forget_rollout("prod", "api-server")
    clock._now += 64
    assert m.sweep() == 0
    assert sample(reg, "rollout_reconcile_error_total", **labels) == 1
    clock._now += 1
    assert m.sweep() == 1
    assert sample(reg, "rollout_reconcile_error_total", **labels) is None
    assert sample(reg, "rollout_info_replicas_desired", **labels) is None


def test_reconcile_histogram_buckets_and_errors() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    m.observe_reconcile("Rollout", "ns", "r", 0.12, error=False)
    m.observe_reconcile("AnalysisRun", "ns", "run", 0.3, error=True)
    assert sample(reg, "rollout_reconcile_bucket", namespace="ns", name="r", le="0.15") == 1
    assert sample(reg, "rollout_reconcile_bucket", namespace="ns", name="r", le="0.01") == 0
    assert sample(reg, "analysis_run_reconcile_count", namespace="ns", name="run") == 1
    assert sample(reg, "analysis_run_reconcile_error_total", namespace="ns", name="run") == 1


def test_analysis_run_values_and_thresholds() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    run = {
        "metadata": {"namespace": "prod", "name": "api-server-abc-2"},
        "spec": {
            "args": [{"name": "service-name", "value": "api-server-canary"}],
            "metrics": [
                {
                    "name": "success-rate",
                    "successCondition": "result[0] >= 0.95",
                    "failureLimit": 3,
                    "provider": {"prometheus": {"query": "q"}},
                },
                {"name": "smoke", "provider": {"web": {"url": "http://x"}}},
            ],
        },
        "status": {
            "phase": "Running",
            "metricResults": [
                {
                    "name": "success-rate",
                    "phase": "Running",
                    "measurements": [{"value": "[0.99]"}, {"value": "[0.9500000000000001]"}],
                },
            ],
        },
    }
    m.observe_analysis_run(run)
    key = {"namespace": "prod", "name": "api-server-abc-2"}
    assert sample(reg, "analysis_run_info", **key, phase="Running") == 1
    assert sample(reg, "analysis_run_metric_value", **key, metric="success-rate") == pytest.approx(0.95)
    assert (
        sample(reg, "analysis_run_metric_threshold", **key, metric="success-rate", condition="success")
        == 0.95
    )
    assert sample(reg, "analysis_run_metric_type", **key, metric="smoke", type="Web") == 1
    phase = {**key, "metric": "smoke", "type": "Web", "dry_run": "false"}
    assert sample(reg, "analysis_run_metric_phase", **phase, phase="Pending") == 1  # empty phase = Pending
    assert sample(reg, "analysis_run_metric_phase", **phase, phase="Running") == 0
    run["status"]["phase"] = "Successful"
    m.observe_analysis_run(run)
    assert sample(reg, "analysis_run_info", **key, phase="Running") is None
    assert sample(reg, "analysis_run_info", **key, phase="Successful") == 1
    # a new version: values move on the series kept, a metric no longer in the run loses its series
    run["metadata"]["resourceVersion"] = "9"
    run["spec"]["metrics"] = [m_ for m_ in run["spec"]["metrics"] if m_["name"] == "success-rate"]
    run["status"]["metricResults"][0]["measurements"].append({"value": "[0.5]"})
    m.observe_analysis_run(run)
    assert sample(reg, "analysis_run_metric_value", **key, metric="success-rate") == pytest.approx(0.5)
    assert sample(reg, "analysis_run_metric_type", **key, metric="smoke", type="Web") is None
    assert sample(reg, "analysis_run_metric_phase", **phase, phase="Pending") is None
    assert sample(reg, "analysis_run_info", **key, phase="Successful") == 1


def test_request_counts_name_objects_as_argo_does() -> None:
    """Lists, Events and ReplicaSets are counted under the name N/A (Argo's controller/metrics/client.go); a
    deleted rollout's request counts go with its other series."""
    clock = ManualClock()
    reg = CollectorRegistry()
    m = ControllerMetrics(reg, clock=clock, cleanup_delay=5)
    for record in (
        RequestRecord("Event", "prod", "api-server.17a2b3c4d5e6f708", "Create", 201),
        RequestRecord("Event", "prod", "api-server.17a2b3c4d5e6f709", "Create", 201),
        RequestRecord("ReplicaSet", "prod", "api-server-6b7c9", "Patch", 200),
        RequestRecord("Rollout", "prod", "", "List", 200),
        RequestRecord("Rollout", "prod", "api-server", "Patch", 200),
        RequestRecord("AnalysisRun", "prod", "api-server-6b7c9-2", "Create", 201),
    ):
        m.on_request(record)

    def count(kind: str, name: str, verb: str, code: str) -> float | None:
        labels = {"kind": kind, "namespace": "prod", "name": name, "verb": verb, "status_code": code}
        return reg.get_sample_value("controller_clientset_k8s_request_total", labels)

    assert count("Event", "N/A", "Create", "201") == 2
    assert count("ReplicaSet", "N/A", "Patch", "200") == 1
    assert count("Rollout", "N/A", "List", "200") == 1
    assert count("Rollout", "api-server", "Patch", "200") == 1
    m.forget_rollout("prod", "api-server")
    m.forget_analysis_run("prod", "api-server-6b7c9-2")
    clock._now += 6  # the same way the lifecycle test moves it
    assert m.sweep() == 2
    assert count("Rollout", "api-server", "Patch", "200") is None
    assert count("AnalysisRun", "api-server-6b7c9-2", "Create", "201") is None
    assert count("Event", "N/A", "Create", "201") == 2


def test_no_created_series_as_in_argo() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    m.on_request(RequestRecord("Rollout", "prod", "api-server", "Patch", 200))
    names = {s.name for family in reg.collect() for s in family.samples}
    assert "controller_clientset_k8s_request_total" in names
    assert not [n for n in names if n.endswith("_created")]


def test_request_hook_and_queue_observer() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    m.on_request(RequestRecord("Rollout", "prod", "api-server", "Patch", 409))
    m.on_add("Rollouts")
    m.on_retry("Rollouts")
    m.on_depth("Rollouts", 3)
    m.on_latency("Rollouts", 0.002)
    labels = {
        "kind": "Rollout",
        "namespace": "prod",
        "name": "api-server",
        "verb": "Patch",
        "status_code": "409",
    }
    assert sample(reg, "controller_clientset_k8s_request_total", **labels) == 1
    assert sample(reg, "workqueue_adds_total", name="Rollouts") == 1
    assert sample(reg, "workqueue_retries_total", name="Rollouts") == 1
    assert sample(reg, "workqueue_depth", name="Rollouts") == 3
    assert sample(reg, "workqueue_queue_duration_seconds_count", name="Rollouts") == 1


@pytest.mark.parametrize(
    ("record", "refused", "logged"),
    [
        pytest.param(
            RequestRecord("Rollout", "prod", "a", "Patch", 409, "status", "Conflict x"), 1, True, id="409"
        ),
        pytest.param(RequestRecord("Rollout", "prod", "a", "Patch", 200), None, False, id="ok"),
        pytest.param(RequestRecord("Rollout", "prod", "a", "Get", 404), None, False, id="read-not-a-write"),
        pytest.param(
            RequestRecord("Rollout", "prod", "a", "Delete", 404, expected=True), None, False, id="expected"
        ),
        pytest.param(
            RequestRecord("Rollout", "prod", "a", "Patch", 0, message="refused"), None, True, id="down"
        ),
    ],
)
def test_refused_writes_counted_and_logged(
    record: RequestRecord, refused: float | None, logged: bool
) -> None:
    from loguru import logger

    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="WARNING", format="{message}")
    try:
        m.on_request(record)
    finally:
        logger.remove(sink)
    code = str(record.status_code)
    assert (
        sample(reg, "controller_write_refused_total", kind="Rollout", verb=record.verb, code=code) == refused
    )
    assert bool(lines) is logged
    if logged:
        assert "Rollout prod/a" in lines[0] and record.verb in lines[0]


def test_events_dropped_counter() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    m.count_event_dropped("Rollout", "Warning", "RolloutAborted")
    m.count_event_dropped("Rollout", "Normal", "ScalingReplicaSet", "queue_full")
    labels = {"kind": "Rollout", "type": "Warning", "reason": "RolloutAborted"}
    assert sample(reg, "controller_events_dropped_total", **labels, cause="refused") == 1
    labels = {"kind": "Rollout", "type": "Normal", "reason": "ScalingReplicaSet"}
    assert sample(reg, "controller_events_dropped_total", **labels, cause="queue_full") == 1


async def test_endpoints_served_on_free_ports() -> None:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    m.observe_rollout(rollout("RolloutPaused"))
    ready = {"v": False}
    server = HealthServer(reg, healthz_port=0, metrics_port=0, host="127.0.0.1", ready=lambda: ready["v"])
    await server.start()
    try:
        assert server.healthz_port != server.metrics_port
        async with aiohttp.ClientSession() as s:
            base_h = f"http://127.0.0.1:{server.healthz_port}"
            async with s.get(f"{base_h}/healthz") as r:
                assert r.status == 200
            async with s.get(f"{base_h}/readyz") as r:
                assert r.status == 503
            ready["v"] = True
            async with s.get(f"{base_h}/readyz") as r:
                assert r.status == 200
            async with s.get(f"http://127.0.0.1:{server.metrics_port}/metrics") as r:
                text = await r.text()
                assert r.status == 200
        assert 'rollout_info{name="api-server",namespace="prod",phase="Paused"' in text
        assert "rollouts_controller_info" in text
    finally:
        await server.stop()
