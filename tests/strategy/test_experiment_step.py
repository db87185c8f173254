"""The canary experiment step in the pure core (`rollouts.strategy.experimentstep`; Argo's rollout/experiment.go):
the Experiment made from the stable and canary ReplicaSets, and which finished Experiments are deleted
(`FilterExperimentsToDelete`). The sandbox tests (tests/controller/test_experiment_step.py) run them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollouts.strategy.plan import CreateExperiment, DeleteExperiment, ExperimentState
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = {
    "experiment": {
        "duration": "5m",
        "templates": [
            {
                "name": "baseline",
                "specRef": "stable",
                "replicas": 1,
                "metadata": {"labels": {"role": "baseline"}},
            },
            {"name": "canary", "specRef": "canary", "service": {"name": "checkout-exp"}},
        ],
        "analyses": [{"name": "compare", "templateName": "t", "requiredForCompletion": True}],
    }
}


def world_at_the_step() -> tuple[World, CreateExperiment]:
    world = World.from_files("examples/basic-canary/rollout.yaml")
    world.rollout["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 20}, STEP, {"pause": {}}]
    world.settle(T0)
    world.set_image("myregistry.com/checkout:v1.5.0")
    plans = [world.step(T0 + timedelta(seconds=i)) for i in range(6)]
    (create,) = [a for p in plans for a in p.actions if isinstance(a, CreateExperiment)]
    return world, create


def test_the_experiment_is_made_from_the_stable_and_canary_replica_sets() -> None:
    world, create = world_at_the_step()
    canary, stable = world.status["currentPodHash"], world.status["stableRS"]
    assert create.name == f"checkout-{canary}-2-1"
    assert world.status["canary"]["currentExperiment"] == create.name
    spec = create.body["spec"]
    assert spec["duration"] == "5m"
    baseline, canary_template = spec["templates"]
    assert baseline["template"] == {
        **world.rs_by_hash(stable).template,
        "metadata": {**world.rs_by_hash(stable).template["metadata"],
                     "labels": {**world.rs_by_hash(stable).template["metadata"]["labels"], "role": "baseline"}},
    }  # fmt: skip
    assert baseline["selector"]["matchLabels"] == {
        "app": "checkout",
        "rollouts-pod-template-hash": stable,
        "role": "baseline",
    }
    assert baseline["replicas"] == 1 and "service" not in baseline
    assert canary_template["service"] == {"name": "checkout-exp"}
    assert spec["analyses"] == [
        {"name": "compare", "templateName": "t", "args": [], "requiredForCompletion": True}
    ]
    assert create.body["metadata"]["labels"]["rollouts-pod-template-hash"] == canary
    assert create.body["metadata"]["annotations"] == {"rollout.argoproj.io/revision": "2"}


def test_finished_experiments_beyond_the_history_limits_are_deleted() -> None:
    world, create = world_at_the_step()
    stable = world.status["stableRS"]
    world.rollout["spec"]["analysis"] = {"successfulRunHistoryLimit": 1, "unsuccessfulRunHistoryLimit": 1}
    world.bump_generation()
    for i, phase in enumerate(["Successful", "Successful", "Failed", "Failed", "Running"]):
        world.experiments[f"old-{i}"] = ExperimentState(
            name=f"old-{i}", phase=phase, created=T0 + timedelta(minutes=i), pod_template_hash=stable
        )
    world.experiments["orphan"] = ExperimentState(name="orphan", phase="Successful", pod_template_hash="gone")
    world.experiments["unlabelled"] = ExperimentState(name="unlabelled", phase="Failed")
    plan = world.step(T0 + timedelta(minutes=10))
    deleted = sorted(a.name for a in plan.actions if isinstance(a, DeleteExperiment))
    # newest kept per kind (old-1 Successful, old-3 Failed), the running one kept, orphans deleted
    assert deleted == ["old-0", "old-2", "orphan", "unlabelled"]
    assert create.name in world.experiments
