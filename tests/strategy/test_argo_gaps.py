"""Argo behaviours the strategy core had missed, each against the Argo source that defines it.

* an abort of a rollout that is already fully promoted is dropped (rollout/controller.go newRolloutContext);
* ReplicaSets carry `rollout.argoproj.io/desired-replicas` and, once a rollback reused them, the revisions they
  served in `rollout.argoproj.io/revision-history` (utils/annotations/annotations.go SetNewReplicaSetAnnotations,
  SetReplicasAnnotations, ReplicasAnnotationsNeedUpdate; rollout/sync.go syncReplicaSetRevision, scaleReplicaSet).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rollouts.strategy import replicasets
from rollouts.strategy.context import build_context
from rollouts.strategy.plan import CreateReplicaSet, EmitEvent, ScaleReplicaSet, UpdateReplicaSetMeta
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)
BLUE_GREEN = (
    "examples/bluegreen/rollout.yaml",
    "examples/bluegreen/services.yaml",
    "examples/bluegreen/smoke-tests.yaml",
    "examples/istio-canary/success-rate.yaml",
)
BASIC = ("examples/basic-canary/rollout.yaml",)


def healthy(files: tuple[str, ...]) -> World:
    world = World.from_files(*files)
    world.settle(T0)
    assert world.status["phase"] == "Healthy"
    return world


# ---------------------------------------------------------------------------------------------------------------
# abort of a fully promoted rollout
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files", [CANARY, BLUE_GREEN, BASIC], ids=["istio-canary", "blue-green", "basic-canary"]
)
def test_abort_of_a_fully_promoted_rollout_is_dropped(files: tuple[str, ...]) -> None:
    """rollout/controller.go newRolloutContext: IsFullyPromoted && IsAborted → RemoveAbort. The rollout stays
    Healthy instead of Degraded until someone runs `retry`."""
    world = healthy(files)
    stable = world.status["stableRS"]
    world.patch_status(abort=True)  # `kubectl rollouts abort` on a finished rollout
    plan = world.step(T0 + timedelta(minutes=1))
    st = plan.new_status
    assert "abort" not in st and "abortedAt" not in st
    assert st["phase"] == "Healthy" and st["stableRS"] == stable
    progressing = next(c for c in st["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] != "RolloutAborted"
    assert not [a for a in plan.actions if isinstance(a, EmitEvent) and a.reason == "RolloutAborted"]
    assert world.settle(T0 + timedelta(minutes=2)).new_status["phase"] == "Healthy"


def test_abort_during_an_update_still_aborts() -> None:
    """Not fully promoted (stable ≠ current): the abort stands, as before."""
    world = healthy(CANARY)
    world.set_image("myregistry.com/api-server:v2")
    world.settle(T0)
    assert world.status["stableRS"] != world.status["currentPodHash"]
    world.patch_status(abort=True)
    plan = world.step(T0 + timedelta(minutes=1))
    assert plan.new_status["abort"] is True and plan.new_status["phase"] == "Degraded"


# ---------------------------------------------------------------------------------------------------------------
# ReplicaSet annotations: desired-replicas and revision-history
# ---------------------------------------------------------------------------------------------------------------

DESIRED = "rollout.argoproj.io/desired-replicas"
REVISION = "rollout.argoproj.io/revision"
HISTORY = "rollout.argoproj.io/revision-history"


def test_new_replica_set_carries_desired_replicas_and_the_rollouts_annotations() -> None:
    """createDesiredReplicaSet → SetNewReplicaSetAnnotations(exists=false): the Rollout's annotations (except
    last-applied-configuration, revision, revision-history, desired-replicas, notified), the revision and
    desired-replicas = spec.replicas."""
    world = World.from_files(*BASIC)
    world.rollout["metadata"]["annotations"] = {
        "team": "payments",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        REVISION: "7",
        "notified.notifications.argoproj.io": "{}",
        "rollouts.argoproj.io/notify.0123456789abcdef": "{}",  # a notification owed (ours, never copied)
    }
    plan = world.step(T0)
    (create,) = [a for a in plan.actions if isinstance(a, CreateReplicaSet)]
    assert dict(create.annotations) == {"team": "payments", REVISION: "1", DESIRED: "10"}


def test_scaling_writes_desired_replicas() -> None:
    """rollout/sync.go scaleReplicaSet: every scale sets desired-replicas to the Rollout's replicas; a stale
    annotation alone is rewritten on the stable RS without changing its size (ReplicasAnnotationsNeedUpdate)."""
    world = healthy(CANARY)
    (rs,) = world.replica_sets.values()
    assert rs.annotations[DESIRED] == "10"
    world.rollout["spec"]["replicas"] = 12
    world.bump_generation()
    plan = world.step(T0 + timedelta(minutes=1))
    scales = [a for a in plan.actions if isinstance(a, ScaleReplicaSet)]
    assert [(a.name, a.replicas, a.annotations.get(DESIRED)) for a in scales] == [(rs.name, 12, "12")]
    world.settle(T0 + timedelta(minutes=1))
    assert world.replica_sets[rs.name].annotations[DESIRED] == "12"
    # an annotation another tool left stale is rewritten at the same size
    world.replica_sets[rs.name] = replace(
        world.replica_sets[rs.name], annotations={**world.replica_sets[rs.name].annotations, DESIRED: "3"}
    )
    plan = world.step(T0 + timedelta(minutes=2))
    scales = [a for a in plan.actions if isinstance(a, ScaleReplicaSet)]
    assert [(a.replicas, a.annotations.get(DESIRED)) for a in scales] == [(12, "12")]
    assert world.settle(T0 + timedelta(minutes=3)).actions == ()  # then nothing more to write


def promote_fully(world: World, now: datetime) -> None:
    world.patch_status(promoteFull=True)
    world.settle(now)
    assert world.status["stableRS"] == world.status["currentPodHash"] and world.status["phase"] == "Healthy"


def test_rollback_keeps_the_revision_history() -> None:
    """SetNewReplicaSetAnnotations(exists=true): a reused ReplicaSet gets revision max+1 and its previous
    revisions, oldest first, in rollout.argoproj.io/revision-history."""
    world = healthy(CANARY)
    v1_image = world.rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    v1 = world.status["stableRS"]
    world.set_image("myregistry.com/api-server:v2")
    world.settle(T0)
    v2 = world.status["currentPodHash"]
    promote_fully(world, T0 + timedelta(minutes=1))
    assert HISTORY not in world.rs_by_hash(v1).annotations

    world.set_image(v1_image)  # undo to revision 1
    plan = world.step(T0 + timedelta(minutes=2))
    (meta,) = [a for a in plan.actions if isinstance(a, UpdateReplicaSetMeta) and a.name.endswith(v1)]
    assert dict(meta.annotations) == {REVISION: "3", HISTORY: "1"}
    assert not [a for a in plan.actions if isinstance(a, CreateReplicaSet)]  # reused, not created
    promote_fully(world, T0 + timedelta(minutes=3))

    world.set_image("myregistry.com/api-server:v2")  # and forward again
    world.step(T0 + timedelta(minutes=4))
    assert (world.rs_by_hash(v2).annotations[REVISION], world.rs_by_hash(v2).annotations[HISTORY]) == (
        "4",
        "2",
    )
    promote_fully(world, T0 + timedelta(minutes=5))
    world.set_image(v1_image)
    world.step(T0 + timedelta(minutes=6))
    assert (world.rs_by_hash(v1).annotations[REVISION], world.rs_by_hash(v1).annotations[HISTORY]) == (
        "5",
        "1,3",
    )
    world.settle(T0 + timedelta(minutes=6))
    assert world.rs_by_hash(v1).annotations[HISTORY] == "1,3"  # written once


def test_a_copied_annotation_also_records_the_revision() -> None:
    """Argo appends the current revision to the history on any annotation change of the new RS, also when only
    a copied Rollout annotation changed (the `ok && annotationChanged` branch)."""
    world = healthy(BASIC)
    world.rollout["metadata"]["annotations"] = {"team": "payments"}
    plan = world.step(T0 + timedelta(minutes=1))
    (meta,) = [a for a in plan.actions if isinstance(a, UpdateReplicaSetMeta)]
    assert dict(meta.annotations) == {"team": "payments", HISTORY: "1"}
    assert world.settle(T0 + timedelta(minutes=2)).actions == ()


def test_blue_green_saturation_reads_desired_replicas() -> None:
    """annotations.IsSaturated: the active switch waits until the RS's desired-replicas annotation says the
    Rollout's replicas (an RS written without it gets it on the next scale write)."""
    world = healthy(BLUE_GREEN)
    world.set_image("myregistry.com/web-frontend:v3")
    world.step(T0)
    green = world.status["currentPodHash"]
    rs = world.rs_by_hash(green)
    assert rs.annotations[DESIRED] == str(world.rollout["spec"]["replicas"])
    ctx = build_context(world.observed(), T0)
    full = replace(ctx.new_rs, spec_replicas=ctx.replicas, available_replicas=ctx.replicas)
    assert replicasets.is_saturated(ctx, full)
    assert not replicasets.is_saturated(ctx, replace(full, annotations={REVISION: "2"}))
    assert not replicasets.is_saturated(ctx, replace(full, available_replicas=ctx.replicas - 1))
