"""The pure half of observing: API objects → ReplicaSetState / AnalysisRunState / Observed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.controller.observing import (
    build_observed,
    parse_analysis_run,
    parse_replica_set,
    router_refs_of,
    service_names,
    template_refs,
)
from rollouts.models import Rollout

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(path: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / path).read_text())
    doc["metadata"]["uid"] = "u-1"
    return doc


def owned(uid: str = "u-1") -> list[dict[str, Any]]:
    return [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "uid": uid, "controller": True}]


RS = {
    "metadata": {
        "name": "api-server-abc",
        "creationTimestamp": "2026-11-26T06:00:00Z",
        "labels": {"app": "api-server", "rollouts-pod-template-hash": "abc"},
        "annotations": {"rollout.argoproj.io/revision": "4", "scale-down-deadline": "2026-11-26T07:00:30Z"},
        "ownerReferences": owned(),
    },
    "spec": {"replicas": 3, "template": {"metadata": {"labels": {"rollouts-pod-template-hash": "abc"}}}},
    "status": {"replicas": 3, "readyReplicas": 2, "availableReplicas": 1},
}


def test_replica_set_state_reads_revision_and_deadline() -> None:
    state = parse_replica_set(RS)
    assert (state.name, state.pod_template_hash, state.revision) == ("api-server-abc", "abc", 4)
    assert (state.spec_replicas, state.replicas, state.ready_replicas, state.available_replicas) == (
        3,
        3,
        2,
        1,
    )
    assert state.scale_down_deadline == datetime(2026, 11, 26, 7, 0, 30, tzinfo=UTC)
    assert state.created == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("annotations", "revision", "deadline"),
    [
        pytest.param({}, 0, None, id="absent"),
        pytest.param(
            {"rollout.argoproj.io/revision": "x", "scale-down-deadline": "soon"}, 0, None, id="malformed"
        ),
        pytest.param({"scale-down-deadline": ""}, 0, None, id="cleared"),
    ],
)
def test_bad_annotations_read_as_absent(annotations: dict[str, str], revision: int, deadline: Any) -> None:
    rs = {**RS, "metadata": {**RS["metadata"], "annotations": annotations}}
    state = parse_replica_set(rs)
    assert (state.revision, state.scale_down_deadline) == (revision, deadline)


def test_analysis_run_state_reads_labels() -> None:
    run = {
        "metadata": {
            "name": "api-server-abc-4-2",
            "labels": {"rollout-type": "Step", "step-index": "2", "rollouts-pod-template-hash": "abc"},
            "annotations": {"rollout.argoproj.io/revision": "4"},
            "ownerReferences": owned(),
        },
        "spec": {"terminate": True},
        "status": {"phase": "Failed", "message": "Metric assessed Failed"},
    }
    state = parse_analysis_run(run)
    assert (state.rollout_type, state.step_index, state.pod_template_hash, state.revision) == (
        "Step",
        2,
        "abc",
        4,
    )
    assert (state.phase, state.terminate) == ("Failed", True)
    assert (
        parse_analysis_run({"metadata": {"name": "x"}}).phase == "Pending"
    )  # docs/semantics/objects.md#analysis-objects: '' reads as Pending


def test_seed_canary_references() -> None:
    rollout = load("istio-canary/rollout.yaml")
    assert service_names(rollout) == ["api-server-canary", "api-server-stable"]
    assert template_refs(rollout) == [
        ("AnalysisTemplate", "production", "latency"),
        ("AnalysisTemplate", "production", "success-rate"),
    ]
    assert router_refs_of(Rollout.from_wire(rollout)) == [
        ("networking.istio.io/v1beta1", "VirtualService", "production", "api-server-vsvc")
    ]


def test_seed_bluegreen_references() -> None:
    rollout = load("bluegreen/rollout.yaml")
    assert service_names(rollout) == ["web-frontend-active", "web-frontend-preview"]
    assert [name for _, _, name in template_refs(rollout)] == ["smoke-tests", "success-rate"]
    assert router_refs_of(Rollout.from_wire(rollout)) == []


def test_router_references_come_from_the_one_rule_and_survive_a_hostile_plugin_config() -> None:
    """The routers to fetch are `rollouts.traffic.router_refs` of the parsed Rollout; a spec that does not parse
    names none (nothing is edited), and a Gateway API plugin config of the wrong shape is not a crash."""
    assert router_refs_of(None) == []
    rollout = load("istio-canary/rollout.yaml")
    route = ("gateway.networking.k8s.io/v1", "HTTPRoute", "production")
    for routes, expected in (
        (5, []),
        ("route-a", []),
        ({"name": "x"}, []),
        ([None, 7, {"name": "kept"}], [(*route, "7"), (*route, "kept")]),
    ):
        rollout["spec"]["strategy"]["canary"]["trafficRouting"] = {
            "plugins": {"argoproj-labs/gatewayAPI": {"httpRoutes": routes}}
        }
        assert router_refs_of(Rollout.from_wire(rollout)) == expected, routes


def test_build_observed_keeps_only_what_the_rollout_controls() -> None:
    rollout = load("istio-canary/rollout.yaml")
    foreign = {**RS, "metadata": {**RS["metadata"], "name": "other", "ownerReferences": owned("u-2")}}
    orphan = {**RS, "metadata": {**RS["metadata"], "name": "orphan", "ownerReferences": []}}
    deleting = {
        **RS,
        "metadata": {**RS["metadata"], "name": "going", "deletionTimestamp": "2026-11-26T06:00:00Z"},
    }
    svc = {"metadata": {"name": "api-server-stable"}, "spec": {"selector": {"app": "api-server"}}}
    observed = build_observed(
        rollout, Rollout.from_wire(rollout), replica_sets=[RS, foreign, orphan, deleting], services=[svc]
    )
    assert [rs.name for rs in observed.replica_sets] == ["api-server-abc"]
    assert observed.services["api-server-stable"].selector == {"app": "api-server"}
    assert "api-server-canary" not in observed.services  # missing = does not exist
