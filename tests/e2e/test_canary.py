"""The seed's canary (examples/istio-canary, section 10.1 of the seed) end to end, with the real controller.

Durations shortened by the documented override (`harness.Override`): pauses 1 s, metric intervals 1 s,
scale-down delays 2 s, Prometheus address = the test's real Prometheus over backfilled data.
Also the seed's Argo CD Lua health check (section 2.4) and Argo CD's built-in Rollout check on every version
of the Rollout, and quiz Q5 (abort).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    NS,
    ArgoCDHealth,
    Override,
    Stack,
    hash_of_image,
    load,
    patch_status,
    point_templates_at,
    replicas_of,
    rollout_healthy_on,
    running_stack,
    set_image,
    shorten,
    status_of,
    wait_for,
)
from tests.fixtures.argocd_health import Health, builtin_check
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory, degrading

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.slow]

V1, V2 = "myregistry.com/api-server:v2.0.0", "myregistry.com/api-server:v2.1.0"
STEPS = [0, 1, 2, 3, 4, 5, 6, 7, 8]
WEIGHTS = [0, 5, 20, 50, 80, 100, 0]


def seed_canary(
    prometheus: str, *, pause: str = "1s", first_pause: str | None = None
) -> list[dict[str, Any]]:
    """The seed's canary with the documented override (5 replicas: pods are simulated, fewer is faster)."""
    return shorten(
        load("istio-canary"),
        Override(prometheus=prometheus, replicas=5, pause=pause, first_pause=first_pause),
    )


@pytest.fixture
def healthy_stack(tmp_path: Path, prometheus_factory: PrometheusFactory) -> Iterator[Stack]:
    with running_stack(tmp_path, seed_canary(prometheus_factory(HEALTHY).url)) as stack:
        yield stack


def deploy_v1(stack: Stack) -> str:
    sandbox = stack.sandbox
    wait_for(lambda: hash_of_image(sandbox, "api-server", V1), 30, "the first ReplicaSet", stack.controller)
    v1 = hash_of_image(sandbox, "api-server", V1)
    assert v1 is not None
    wait_for(rollout_healthy_on(sandbox, "api-server", v1), 30, "the initial deploy", stack.controller)
    return v1


def update_to_v2(stack: Stack) -> str:
    set_image(stack.sandbox, "api-server", V2)
    wait_for(
        lambda: hash_of_image(stack.sandbox, "api-server", V2), 30, "the canary ReplicaSet", stack.controller
    )
    v2 = hash_of_image(stack.sandbox, "api-server", V2)
    assert v2 is not None
    return v2


def test_healthy_canary_promotes_step_by_step(healthy_stack: Stack) -> None:
    """docs/semantics/controller.md#pause-step, docs/semantics/controller.md#replica-arithmetic, docs/semantics/controller.md#istio: VirtualService weights 5 → 20 → 50 → 80 → 100 each after its pause, then the stable RS is the
    new hash and gets all traffic (canary weight 0); the old RS is scaled down after its delay; Healthy."""
    stack, sandbox = healthy_stack, healthy_stack.sandbox
    v1 = deploy_v1(stack)
    v2 = update_to_v2(stack)
    wait_for(rollout_healthy_on(sandbox, "api-server", v2), 90, "promotion to v2", stack.controller)
    wait_for(lambda: stack.recorder.weights()[-1:] == [0], 20, "traffic back on the stable Service")
    assert stack.recorder.weights() == WEIGHTS
    assert stack.recorder.steps("api-server") == [None, 8, *STEPS]
    exits = stack.recorder.pause_exits("api-server")
    assert [index for index, _, _ in exits] == [1, 3, 5, 7]
    assert all(moved >= expiry for _, expiry, moved in exits)  # each step only after its pause
    stable_svc = sandbox.get("v1", "Service", "api-server-stable", NS)
    assert stable_svc is not None and stable_svc["spec"]["selector"]["rollouts-pod-template-hash"] == v2
    wait_for(lambda: replicas_of(sandbox, v1, "api-server") == 0, 20, "the old ReplicaSet scaled down")

    # Background analysis from step 1 on (startingStep: 1), terminated Successful at promotion (docs/semantics/controller.md#rollout-analysis).
    runs = sandbox.list("argoproj.io/v1alpha1", "AnalysisRun", NS)
    background = [r for r in runs if r["metadata"]["labels"].get("rollout-type") == "Background"]
    assert len(background) == 1
    wait_for(
        lambda: (
            (sandbox.get("argoproj.io/v1alpha1", "AnalysisRun", background[0]["metadata"]["name"], NS) or {})
            .get("status", {})
            .get("phase")
            == "Successful"
        ),
        20,
        "the background run to end Successful",
    )

    # Argo CD's Rollout health check (its built-in health.lua): Progressing during the update, Healthy before and after.
    health = stack.recorder.health("api-server", ArgoCDHealth())
    assert health[-3:] == ["Healthy", "Progressing", "Healthy"]
    # Argo CD's built-in check (argo-cd resource_customizations/argoproj.io/Rollout/health.lua) on every
    # version the controller wrote: Suspended at each of the four pauses, Healthy at the end.
    builtin = stack.recorder.health("api-server", builtin_check("Rollout"))
    assert builtin.count(Health("Suspended", "CanaryPauseStep")) == 4
    assert builtin[-1] == Health("Healthy", "")
    assert {h.status for h in builtin} == {"Progressing", "Suspended", "Healthy"}
    events = sandbox.list("v1", "Event", NS)
    completed = [e["message"] for e in events if e["reason"] == "RolloutStepCompleted"]
    assert len(completed) == len(set(completed)) == 8


def test_degrading_metrics_abort_then_retry(tmp_path: Path, prometheus_factory: PrometheusFactory) -> None:
    """Quiz Q5 / docs/semantics/controller.md#abort: the background analysis fails (failureLimit 3 → 4th failure) → abort: canary weight 0,
    stable 100, canary scaled down after abortScaleDownDelaySeconds, status.abort true, Degraded with the
    analysis reason. Then `retry` (status abort:false) starts the update again; with healthy metrics it
    completes."""
    bad = prometheus_factory(degrading(-timedelta(minutes=30))).url
    good = prometheus_factory(HEALTHY).url
    # The first pause is long so the abort lands deterministically on step 1 (weight 5).
    docs = seed_canary(bad, first_pause="600s")
    with running_stack(tmp_path, docs) as stack:
        sandbox = stack.sandbox
        deploy_v1(stack)
        v2 = update_to_v2(stack)
        wait_for(lambda: status_of(sandbox, "api-server").get("abort"), 60, "the abort", stack.controller)
        wait_for(lambda: status_of(sandbox, "api-server").get("phase") == "Degraded", 20, "phase Degraded")
        status = status_of(sandbox, "api-server")
        assert "RolloutAborted" in status["message"]
        assert (
            'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)' in status["message"]
        )
        wait_for(lambda: stack.recorder.weights()[-1:] == [0], 20, "canary weight back to 0")
        assert stack.recorder.weights() == [0, 5, 0]
        vs = sandbox.get("networking.istio.io/v1beta1", "VirtualService", "api-server-vsvc", NS)
        assert vs is not None
        assert sorted((d["destination"]["host"], d["weight"]) for d in vs["spec"]["http"][0]["route"]) == [
            ("api-server-canary", 0),
            ("api-server-stable", 100),
        ]
        wait_for(
            lambda: replicas_of(sandbox, v2, "api-server") == 0,
            20,
            "the canary scaled down after the abort delay",
        )
        rollout = sandbox.get("argoproj.io/v1alpha1", "Rollout", "api-server", NS) or {}
        assert ArgoCDHealth()(rollout) == "Degraded"
        assert builtin_check("Rollout")(rollout) == Health("Degraded", status["message"])

        # Metrics recover (the templates now point at a healthy Prometheus); `retry` resumes the update.
        point_templates_at(sandbox, good, ("success-rate", "latency"))
        patch_status(sandbox, "api-server", {"abort": False})
        wait_for(lambda: not status_of(sandbox, "api-server").get("abort"), 20, "the retry to be seen")
        wait_for(
            lambda: stack.recorder.weights()[-1:] == [5], 30, "weight 5 again after retry", stack.controller
        )
        # Shorten the remaining long pause by promoting it, as a person would (docs/semantics/controller.md#promote).
        wait_for(lambda: status_of(sandbox, "api-server").get("pauseConditions"), 30, "the pause step")
        patch_status(sandbox, "api-server", {"pauseConditions": None})
        wait_for(rollout_healthy_on(sandbox, "api-server", v2), 90, "promotion after retry", stack.controller)
        runs = sandbox.list("argoproj.io/v1alpha1", "AnalysisRun", NS)
        assert len([r for r in runs if r["metadata"]["labels"].get("rollout-type") == "Background"]) == 2
