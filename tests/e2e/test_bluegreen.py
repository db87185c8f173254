"""The seed's blue-green (examples/bluegreen, section 10.2 of the seed) end to end, with the real controller.

Durations shortened by the documented override (`harness.Override`): metric intervals 1 s, scaleDownDelaySeconds
2 s; the smoke tests' `preview-url` points at a local HTTP server answering `{"status": "ok"}`; the
post-promotion `success-rate` template (from examples/istio-canary) queries the test's real Prometheus, which
has data for `web-frontend-active`, and gets `count: 3` (the seed's metric runs forever, and Argo would then
never mark the new ReplicaSet stable).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    NS,
    ArgoCDHealth,
    Override,
    hash_of_image,
    load,
    patch_status,
    replicas_of,
    rollout_healthy_on,
    running_stack,
    set_image,
    shorten,
    status_of,
    wait_for,
)
from tests.fixtures.argocd_health import Health, builtin_check
from tests.fixtures.prometheus import (
    HEALTHY_PHASE,
    IDLE,
    STABLE,
    HttpStub,
    PrometheusFactory,
    Scenario,
    Service,
)

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.slow]

V1, V2 = "myregistry.com/web-frontend:v3.0.0", "myregistry.com/web-frontend:v3.1.0"
WEB = Scenario((Service("web-frontend-active", (HEALTHY_PHASE,)), STABLE, IDLE))


def seed_bluegreen(prometheus: str, preview: str) -> list[dict[str, Any]]:
    docs = load("bluegreen", "istio-canary/success-rate.yaml")
    docs = shorten(docs, Override(prometheus=prometheus, preview_url=preview))
    for doc in docs:
        if doc["kind"] == "AnalysisTemplate" and doc["metadata"]["name"] == "success-rate":
            doc["spec"]["metrics"][0]["count"] = 3
    return docs


def selector(sandbox: Any, service: str) -> str | None:
    svc = sandbox.get("v1", "Service", service, NS) or {}
    return (svc.get("spec") or {}).get("selector", {}).get("rollouts-pod-template-hash")


def run_phase(sandbox: Any, rollout_type: str) -> Callable[[], str | None]:
    def phase() -> str | None:
        runs = sandbox.list("argoproj.io/v1alpha1", "AnalysisRun", NS)
        for run in runs:
            if run["metadata"]["labels"].get("rollout-type") == rollout_type:
                return (run.get("status") or {}).get("phase")
        return None

    return phase


def test_bluegreen_preview_smoke_pause_promote(
    tmp_path: Path, prometheus_factory: PrometheusFactory, http_stub: Callable[[HttpStub], str]
) -> None:
    """docs/semantics/controller.md#bluegreen: preview gets the new pods, pre-promotion smoke tests pass, BlueGreenPause; `promote` switches the
    active Service; post-promotion analysis makes the new RS stable; the old RS goes after its delay."""
    smoke = HttpStub(body=b'{"status": "ok"}')
    preview = http_stub(smoke)
    docs = seed_bluegreen(prometheus_factory(WEB).url, preview)
    with running_stack(tmp_path, docs) as stack:
        sandbox, controller = stack.sandbox, stack.controller
        wait_for(lambda: hash_of_image(sandbox, "web-frontend", V1), 30, "the first ReplicaSet", controller)
        v1 = hash_of_image(sandbox, "web-frontend", V1)
        assert v1 is not None
        wait_for(rollout_healthy_on(sandbox, "web-frontend", v1), 30, "the initial deploy", controller)
        assert selector(sandbox, "web-frontend-active") == v1

        set_image(sandbox, "web-frontend", V2)
        wait_for(lambda: hash_of_image(sandbox, "web-frontend", V2), 30, "the preview ReplicaSet", controller)
        v2 = hash_of_image(sandbox, "web-frontend", V2)
        assert v2 is not None
        wait_for(
            lambda: selector(sandbox, "web-frontend-preview") == v2, 30, "preview on the new pods", controller
        )
        wait_for(
            lambda: run_phase(sandbox, "PrePromotion")() == "Successful", 30, "the smoke tests", controller
        )
        assert len(smoke.requests) == 3 and all(path == "/healthz" for _, path, _, _ in smoke.requests)
        wait_for(lambda: status_of(sandbox, "web-frontend").get("phase") == "Paused", 30, "BlueGreenPause")
        status = status_of(sandbox, "web-frontend")
        assert [c["reason"] for c in status["pauseConditions"]] == ["BlueGreenPause"]
        assert selector(sandbox, "web-frontend-active") == v1  # nobody promoted yet
        rollout = sandbox.get("argoproj.io/v1alpha1", "Rollout", "web-frontend", NS) or {}
        assert builtin_check("Rollout")(rollout) == Health(
            "Suspended", "BlueGreenPause"
        )  # Argo CD's own check
        assert replicas_of(sandbox, v2, "web-frontend") == 5

        patch_status(sandbox, "web-frontend", {"pauseConditions": None})  # `kubectl argo rollouts promote`
        wait_for(lambda: selector(sandbox, "web-frontend-active") == v2, 30, "the active switch", controller)
        wait_for(lambda: run_phase(sandbox, "PostPromotion")() == "Successful", 30, "post-promotion analysis")
        wait_for(rollout_healthy_on(sandbox, "web-frontend", v2), 30, "v2 stable and Healthy", controller)
        wait_for(
            lambda: replicas_of(sandbox, v1, "web-frontend") == 0,
            20,
            "the old RS after scaleDownDelaySeconds",
        )
        assert stack.recorder.selectors("web-frontend-active")[-2:] == [v1, v2]
        # The seed's Lua check only knows canary step indexes and phases: Healthy at the end.
        assert (
            ArgoCDHealth()(sandbox.get("argoproj.io/v1alpha1", "Rollout", "web-frontend", NS) or {})
            == "Healthy"
        )
