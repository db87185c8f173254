"""The seed's Argo CD health check (section 2.4, Lua) run against the statuses `decide` writes.

This is the custom check of the user's guide (`resource.customizations.health.argoproj.io_Rollout` in
argocd-cm). A custom check replaces Argo CD's built-in one, which `test_argocd_health.py` runs on the same
statuses. The custom check reads only `status.phase` and `status.currentStepIndex`:

* a canary always carries `currentStepIndex` (it is `len(steps)` after a promotion), so the check answers
  "Progressing" unless the phase is Healthy or Degraded — including while the canary is **Paused** on a pause
  step or by the user: this custom check has no "Suspended" answer (Argo CD's built-in check has one);
* a Healthy phase → Healthy, a Degraded phase (abort, progress deadline, invalid spec) → Degraded;
* a blue-green rollout has no `currentStepIndex`, so while it is Progressing or Paused the check returns an empty
  table, which Argo CD reads as no health status at all.

It runs the way Argo CD runs any health script (`tests.fixtures.argocd_health`: Lua 5.1, the object as JSON).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.argocd_health import Health, LuaHealthCheck
from tests.strategy.simulate import World

# Copied verbatim from the seed (section 2.4, argocd-cm resource.customizations.health.argoproj.io_Rollout).
SEED_HEALTH_LUA = """
hs = {}
if obj.status ~= nil then
if obj.status.currentStepIndex ~= nil then
hs.status = "Progressing"
hs.message = "Rollout in progress"
end
if obj.status.phase == "Healthy" then
hs.status = "Healthy"
hs.message = "Rollout is healthy"
end
if obj.status.phase == "Degraded" then
hs.status = "Degraded"
hs.message = "Rollout is degraded"
end
end
return hs
"""

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)


_SEED_CHECK = LuaHealthCheck(SEED_HEALTH_LUA)


def health(obj: dict[str, Any]) -> Health:
    return _SEED_CHECK(obj)


def canary_world() -> World:
    world = World.from_files(*CANARY)
    world.settle(T0)
    return world


def test_healthy_after_initial_deploy_and_after_update() -> None:
    world = canary_world()
    assert health(world.rollout) == ("Healthy", "Rollout is healthy")
    world.set_image("v2")
    now = T0
    for _ in range(5):
        world.settle(now)
        now += timedelta(hours=1)
    assert world.status["phase"] == "Healthy"
    assert health(world.rollout) == ("Healthy", "Rollout is healthy")


def test_progressing_mid_rollout() -> None:
    world = canary_world()
    world.set_image("v2")
    world.step(T0)
    world.step(T0)
    assert world.status["phase"] == "Progressing"
    assert health(world.rollout) == ("Progressing", "Rollout in progress")


@pytest.mark.parametrize(
    "user_pause", [pytest.param(False, id="pause-step"), pytest.param(True, id="user-pause")]
)
def test_paused_canary_reads_as_progressing(user_pause: bool) -> None:
    """A Paused canary is reported "Progressing" by this check (it has no Suspended answer)."""
    world = canary_world()
    world.set_image("v2")
    world.settle(T0)
    if user_pause:
        world.rollout["spec"]["paused"] = True
        world.settle(T0 + timedelta(hours=1))
    assert world.status["phase"] == "Paused"
    assert world.status["currentStepIndex"] in (1, 3)
    assert health(world.rollout) == ("Progressing", "Rollout in progress")


def test_degraded_after_abort() -> None:
    world = canary_world()
    world.set_image("v2")
    world.settle(T0)
    run = world.status["canary"]["currentBackgroundAnalysisRunStatus"]["name"]
    world.set_run_phase(run, "Failed")
    world.settle(T0)
    assert world.status["phase"] == "Degraded"
    assert health(world.rollout) == ("Degraded", "Rollout is degraded")


def test_bluegreen_paused_has_no_health_status() -> None:
    world = World.from_files(
        "examples/bluegreen/rollout.yaml",
        "examples/bluegreen/services.yaml",
        "examples/bluegreen/smoke-tests.yaml",
        "examples/istio-canary/success-rate.yaml",
    )
    world.settle(T0)
    assert health(world.rollout) == ("Healthy", "Rollout is healthy")
    world.set_image("v2")
    world.settle(T0)
    world.set_run_phase(next(iter(world.runs)), "Successful")
    world.settle(T0)
    assert world.status["phase"] == "Paused" and "currentStepIndex" not in world.status
    assert health(world.rollout) == ("", "")  # an empty table: Argo CD shows no health
