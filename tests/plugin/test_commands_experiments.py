"""`get experiment`, `list experiments`, `terminate experiment` against the sandbox, with objects shaped as the
controller writes them (docs/semantics/plugin.md#experiment-commands)."""

from __future__ import annotations

from typing import Any

from tests.plugin.conftest import Cluster

NS = "shop"
CREATED = "2026-01-01T00:00:00Z"


def experiment(name: str, phase: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": name, "namespace": NS, "uid": uid, "creationTimestamp": CREATED},
        "spec": {
            "templates": [{"name": "baseline", "selector": {"matchLabels": {"app": "a"}}, "template": {}}]
        },
        "status": {"phase": phase, "message": 'Metric "x" assessed Failed' if phase == "Failed" else ""},
    }


def owned(kind: str, name: str, owner: str, uid: str, **extra: Any) -> dict[str, Any]:
    api = {"ReplicaSet": "apps/v1", "Pod": "v1", "AnalysisRun": "argoproj.io/v1alpha1"}[kind]
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NS,
        "uid": f"uid-{name}",
        "creationTimestamp": CREATED,
        "labels": {"rollouts-pod-template-hash": "abc"},
        "ownerReferences": [{"apiVersion": "x", "kind": owner, "name": "n", "uid": uid, "controller": True}],
    }
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def objects() -> list[dict[str, Any]]:
    rs = owned(
        "ReplicaSet",
        "cmp-baseline",
        "Experiment",
        "uid-cmp",
        spec={"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "demo:blue"}]}}},
        status={"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
    )
    pod = owned(
        "Pod",
        "cmp-baseline-x1",
        "ReplicaSet",
        "uid-cmp-baseline",
        status={"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0}]},
    )  # fmt: skip
    run = owned(
        "AnalysisRun",
        "cmp-compare",
        "Experiment",
        "uid-cmp",
        spec={"metrics": []},
        status={"phase": "Failed"},
    )
    return [experiment("cmp", "Failed", "uid-cmp"), experiment("other", "Running", "uid-other"), rs, pod, run]


def test_get_experiment_draws_its_replica_sets_pods_and_runs(cluster: Cluster) -> None:
    cluster.load(objects())
    result = cluster.run("get", "experiment", "cmp", "--no-color")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == [
        "Name:            cmp",
        "Namespace:       shop",
        "Status:          ✖ Failed",
        'Message:         Metric "x" assessed Failed',
        "Images:          demo:blue",
    ]
    tree = [line.split()[:3] for line in lines[6:]]
    assert tree == [
        ["NAME", "KIND", "STATUS"],
        ["Σ", "cmp", "Experiment"],
        ["├──⧉", "cmp-baseline", "ReplicaSet"],
        ["│", "└──□", "cmp-baseline-x1"],
        ["└──α", "cmp-compare", "AnalysisRun"],
    ]
    assert cluster.run("get", "exp", "missing").exit_code != 0


def test_list_experiments(cluster: Cluster) -> None:
    cluster.load(objects())
    result = cluster.run("list", "experiments")
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in result.output.splitlines()] == [
        ["NAME", "STATUS"],
        ["cmp", "Failed"],
        ["other", "Running"],
    ]


def test_terminate_experiment(cluster: Cluster) -> None:
    cluster.load(objects())
    result = cluster.run("terminate", "experiment", "other")
    assert (result.exit_code, result.output) == (0, "experiment 'other' terminated\n")
    assert cluster.get("Experiment", "other")["spec"]["terminate"] is True
