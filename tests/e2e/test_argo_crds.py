"""Moving from Argo Rollouts: the controller on a cluster that still carries Argo's published CRDs.

Argo's CRDs (manifests/crds/ of argo-rollouts at the pinned commit, read from the local mirror) replace ours
in the sandbox. Their AnalysisRun has no status subresource, so the controller must write AnalysisRun status
with the object itself: the seed's canary then promotes with its background analysis Successful, the degrading
canary aborts on the analysis (Degraded), and not one write is refused (`controller_write_refused_total` 0).

The other way round: everything the controller wrote under our CRDs is accepted by Argo's schemas as is (no
error, nothing pruned), and when the CRDs are swapped for Argo's while it runs, the next update completes.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rollouts import crdgen
from tests.e2e.harness import (
    NS,
    Stack,
    hash_of_image,
    rollout_healthy_on,
    running_stack,
    set_image,
    status_of,
    wait_for,
)
from tests.e2e.test_canary import STEPS, WEIGHTS, deploy_v1, seed_canary, update_to_v2
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory, degrading

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.slow]

REFUSED = "controller_write_refused_total"
ARGO_KINDS = ("Rollout", "AnalysisRun", "AnalysisTemplate")


def analysis_status_writes(stack: Stack) -> tuple[int, int]:
    """(PATCHes of AnalysisRuns with the object, PATCHes of their status subresource)."""
    patches = stack.sandbox.requests.records(resource="analysisruns", verb="patch")
    return (
        sum(1 for r in patches if not r.subresource and r.status == 200),
        sum(1 for r in patches if r.subresource == "status"),
    )


def run_phase(stack: Stack, rollout_type: str) -> list[str | None]:
    runs = stack.sandbox.list("argoproj.io/v1alpha1", "AnalysisRun", NS)
    return [
        (r.get("status") or {}).get("phase")
        for r in runs
        if r["metadata"]["labels"].get("rollout-type") == rollout_type
    ]


def test_healthy_canary_under_argos_crds(
    tmp_path: Path, prometheus_factory: PrometheusFactory, argo_crds: dict[str, Any]
) -> None:
    docs = seed_canary(prometheus_factory(HEALTHY).url)
    with running_stack(tmp_path, docs, crds=list(argo_crds.values())) as stack:
        sandbox = stack.sandbox
        deploy_v1(stack)
        v2 = update_to_v2(stack)
        wait_for(rollout_healthy_on(sandbox, "api-server", v2), 90, "promotion to v2", stack.controller)
        wait_for(lambda: stack.recorder.weights()[-1:] == [0], 20, "traffic back on the stable Service")
        assert stack.recorder.weights() == WEIGHTS
        assert stack.recorder.steps("api-server") == [None, 8, *STEPS]
        wait_for(
            lambda: run_phase(stack, "Background") == ["Successful"], 20, "the background run Successful"
        )
        with_object, via_subresource = analysis_status_writes(stack)
        assert with_object >= 2 and via_subresource == 0  # discovery said: no status subresource
        assert stack.controller.counted(REFUSED) == 0
        assert "API server refused" not in stack.controller.output()


def test_degrading_canary_aborts_under_argos_crds(
    tmp_path: Path, prometheus_factory: PrometheusFactory, argo_crds: dict[str, Any]
) -> None:
    """The failing background analysis must reach the rollout: without its status written the canary would
    sit on (or promote past) its pause with no verdict."""
    docs = seed_canary(prometheus_factory(degrading(-timedelta(minutes=30))).url, first_pause="600s")
    with running_stack(tmp_path, docs, crds=list(argo_crds.values())) as stack:
        sandbox = stack.sandbox
        deploy_v1(stack)
        update_to_v2(stack)
        wait_for(lambda: status_of(sandbox, "api-server").get("phase") == "Degraded", 60, "Degraded")
        status = status_of(sandbox, "api-server")
        assert status["abort"] is True
        assert (
            'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)' in status["message"]
        )
        wait_for(lambda: stack.recorder.weights()[-1:] == [0], 20, "canary weight back to 0")
        assert stack.recorder.weights() == [0, 5, 0]
        assert run_phase(stack, "Background") == ["Failed"]
        assert analysis_status_writes(stack)[1] == 0
        assert stack.controller.counted(REFUSED) == 0


def argo_schema_problems(obj: dict[str, Any], argo_crds: dict[str, Any]) -> list[str]:
    schema = argo_crds[obj["kind"]]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    errors, pruned = crdgen.validate(schema, obj)
    name = f"{obj['kind']} {obj['metadata']['name']}"
    return [f"{name}: {e}" for e in errors] + [f"{name}: pruned {p}" for p in pruned]


def test_objects_written_under_our_crds_work_under_argos(
    tmp_path: Path, prometheus_factory: PrometheusFactory, argo_crds: dict[str, Any]
) -> None:
    """Under our CRDs, a canary completes; every object it leaves fits Argo's schemas exactly (no error, nothing
    pruned). Then Argo's CRDs replace ours while the controller runs, and the next update completes too."""
    docs = seed_canary(prometheus_factory(HEALTHY).url)
    with running_stack(tmp_path, docs) as stack:
        sandbox = stack.sandbox
        deploy_v1(stack)
        v2 = update_to_v2(stack)
        wait_for(rollout_healthy_on(sandbox, "api-server", v2), 90, "promotion to v2", stack.controller)
        wait_for(
            lambda: run_phase(stack, "Background") == ["Successful"], 20, "the background run Successful"
        )
        objects = [o for kind in ARGO_KINDS for o in sandbox.list("argoproj.io/v1alpha1", kind, NS)]
        assert {o["kind"] for o in objects} == set(ARGO_KINDS)
        assert [p for o in objects for p in argo_schema_problems(o, argo_crds)] == []

        for crd in argo_crds.values():  # `kubectl apply -f manifests/crds/` while the controller runs
            current = sandbox.get(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"], ""
            )
            assert current is not None
            body = copy.deepcopy(crd)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            rt = sandbox.store.registry.by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            sandbox.call(sandbox.store.replace, rt, "", crd["metadata"]["name"], body)
        v3 = "myregistry.com/api-server:v2.2.0"
        set_image(sandbox, "api-server", v3)
        wait_for(
            lambda: hash_of_image(sandbox, "api-server", v3), 30, "the v2.2.0 ReplicaSet", stack.controller
        )
        v3_hash = hash_of_image(sandbox, "api-server", v3)
        assert v3_hash is not None
        wait_for(
            rollout_healthy_on(sandbox, "api-server", v3_hash), 90, "promotion to v2.2.0", stack.controller
        )
        wait_for(
            lambda: run_phase(stack, "Background") == ["Successful", "Successful"], 20, "both background runs"
        )
        assert stack.controller.counted(REFUSED) == 0
