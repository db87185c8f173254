"""Argo behaviours the strategy core had missed, each against the Argo source that defines it.

* an abort of a rollout that is already fully promoted is dropped (rollout/controller.go newRolloutContext);
* ReplicaSets carry `rollout.argoproj.io/desired-replicas` and, once a rollback reused them, the revisions they
  served in `rollout.argoproj.io/revision-history` (utils/annotations/annotations.go SetNewReplicaSetAnnotations,
  SetReplicasAnnotations, ReplicasAnnotationsNeedUpdate; rollout/sync.go syncReplicaSetRevision, scaleReplicaSet).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rollouts.strategy.plan import EmitEvent
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
