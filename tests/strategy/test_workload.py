"""`spec.workloadRef` in the pure core (`rollouts.strategy.workload`): resolving the template, and the Deployment
scaling rules of `scaleDown` as tables (Argo: rollout/templateref.go `Resolve`, rollout/replicaset.go
`reconcileNewReplicaSet`, rollout/sync.go `promoteStable`). The sandbox tests
(tests/controller/test_workload_ref.py) drive the same rules through the reconciler."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from rollouts.models import Rollout
from rollouts.models.vocabulary import REVISION_ANNOTATION as REVISION
from rollouts.models.vocabulary import WORKLOAD_GENERATION_ANNOTATION
from rollouts.strategy import decide, workload
from rollouts.strategy.plan import CreateReplicaSet, Observed, ReplicaSetState, ScaleDeployment, WorkloadState
from tests.strategy.simulate import ROOT

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE = [d for d in yaml.safe_load_all((ROOT / "examples/workload-ref/rollout.yaml").read_text()) if d]
DEPLOYMENT = next(d for d in EXAMPLE if d["kind"] == "Deployment")


def rollout(scale_down: str = "progressively", **status: Any) -> dict[str, Any]:
    ro = copy.deepcopy(next(d for d in EXAMPLE if d["kind"] == "Rollout"))
    ro["metadata"].update(namespace="default", uid="u1", generation=1)
    ro["spec"]["workloadRef"]["scaleDown"] = scale_down
    ro["status"] = {"observedGeneration": "1", **status}
    return ro


def test_resolve_copies_the_template_and_the_selector() -> None:
    raw = rollout()
    resolved = workload.resolve(raw, DEPLOYMENT)
    assert resolved["spec"]["template"] == DEPLOYMENT["spec"]["template"]
    assert resolved["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert "template" not in raw["spec"] and "selector" not in raw["spec"]  # the input is not changed


def test_resolve_keeps_the_rollouts_own_selector_and_reads_a_pod_template() -> None:
    raw = rollout()
    raw["spec"]["workloadRef"] = {"apiVersion": "v1", "kind": "PodTemplate", "name": "web"}
    raw["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "front"}}
    pod_template = {"kind": "PodTemplate", "template": DEPLOYMENT["spec"]["template"]}
    resolved = workload.resolve(raw, pod_template)
    assert resolved["spec"]["selector"] == {"matchLabels": {"app": "web", "tier": "front"}}
    assert resolved["spec"]["template"] == DEPLOYMENT["spec"]["template"]


@pytest.mark.parametrize(
    ("template", "empty"),
    [
        (None, True),
        ({}, True),
        ({"spec": {"containers": []}}, True),
        ({"metadata": {"labels": {"a": "b"}}}, False),
    ],
)
def test_an_empty_template_is_one_without_labels_and_annotations(template: Any, empty: bool) -> None:
    raw = rollout()
    if template is not None:
        raw["spec"]["template"] = template
    assert workload.template_is_empty(raw) is empty  # Argo's RolloutSpec.EmptyTemplate


def test_the_generation_annotation_is_wanted_only_when_it_differs() -> None:
    state = WorkloadState("Deployment", "web", 3, 4)
    raw = rollout()
    assert workload.wanted_annotations(raw, state) == {WORKLOAD_GENERATION_ANNOTATION: "3"}
    raw["metadata"]["annotations"] = {WORKLOAD_GENERATION_ANNOTATION: "3"}
    assert workload.wanted_annotations(raw, state) == {}
    assert workload.wanted_annotations(raw, None) == {}


def observed(raw: dict[str, Any], rss: tuple[ReplicaSetState, ...], deployment_replicas: int) -> Observed:
    resolved = workload.resolve(raw, DEPLOYMENT)
    model = Rollout.from_wire(resolved)
    model.spec.mark_template_resolved()
    return Observed(
        rollout=model,
        rollout_raw=resolved,
        replica_sets=rss,
        workload=WorkloadState("Deployment", "web", 2, deployment_replicas),
    )


def first_revision(raw: dict[str, Any], ready: int, *, revision: int = 1) -> ReplicaSetState:
    """The Rollout's ReplicaSet for its current template (as the first pass creates it), `ready` of 4 pods ready."""
    (create,) = [a for a in decide(observed(raw, (), 4), T0).actions if isinstance(a, CreateReplicaSet)]
    return ReplicaSetState(
        name=create.name,
        pod_template_hash=create.pod_template_hash,
        spec_replicas=4,
        replicas=4,
        ready_replicas=ready,
        available_replicas=ready,
        revision=revision,
        created=T0,
        template=create.template,
        labels=dict(create.labels),
        annotations={**create.annotations, "rollout.argoproj.io/revision": str(revision)},
    )


def scaled(plan: Any) -> list[int]:
    return [a.replicas for a in plan.actions if isinstance(a, ScaleDeployment)]


@pytest.mark.parametrize(
    ("scale_down", "phase", "ready", "revision", "deployment", "expected"),
    [
        # progressively: the Deployment keeps spec.replicas - the Rollout's ready pods (stored status)
        ("progressively", "Progressing", 0, 1, 4, []),
        ("progressively", "Progressing", 1, 1, 4, [3]),
        ("progressively", "Progressing", 3, 1, 3, [1]),
        ("progressively", "Progressing", 3, 1, 1, []),  # already there: no write
        ("progressively", "Healthy", 4, 1, 1, [0]),
        ("progressively", "Progressing", 2, 2, 4, []),  # only the first revision moves pods
        # onsuccess: 0 once revision 1 is Healthy, nothing before
        ("onsuccess", "Progressing", 2, 1, 4, []),
        ("onsuccess", "Healthy", 4, 1, 4, [0]),
        ("onsuccess", "Healthy", 4, 2, 4, []),
        ("never", "Healthy", 4, 1, 4, []),
    ],
)
def test_scale_down_rules(
    scale_down: str, phase: str, ready: int, revision: int, deployment: int, expected: list[int]
) -> None:
    raw = rollout(scale_down)
    rs = first_revision(raw, ready, revision=revision)
    raw["status"].update(
        phase=phase,
        readyReplicas=ready,
        currentPodHash=rs.pod_template_hash,
        stableRS=rs.pod_template_hash,
        currentStepIndex=4,
    )
    plan = decide(observed(raw, (rs,), deployment), T0)
    assert scaled(plan) == expected


def test_the_status_and_the_annotation_carry_the_workloads_generation() -> None:
    raw = rollout("never")
    rs = first_revision(raw, 4)
    plan = decide(replace(observed(raw, (rs,), 4), workload=WorkloadState("Deployment", "web", 7, 4)), T0)
    assert plan.new_status["workloadObservedGeneration"] == "7"
    assert plan.rollout_annotations == {WORKLOAD_GENERATION_ANNOTATION: "7", REVISION: "1"}


def test_a_reference_not_resolved_is_invalid_spec_not_an_empty_template() -> None:
    raw = rollout()
    plan = decide(Observed(rollout=Rollout.from_wire(raw), rollout_raw=raw), T0)
    assert plan.new_status["phase"] == "Degraded"
    (condition,) = [c for c in plan.new_status["conditions"] if c["type"] == "InvalidSpec"]
    assert condition["message"] == (
        'The Rollout "web" is invalid: spec.workloadRef.name: Invalid value: "web": deployments.apps "web" not found'
    )
    assert not plan.actions or all(type(a).__name__ == "EmitEvent" for a in plan.actions)
