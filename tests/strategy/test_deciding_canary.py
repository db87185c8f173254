"""Canary decisions (docs/semantics/controller.md#reconcile-skeleton, docs/semantics/controller.md#canary-steps, docs/semantics/controller.md#replica-arithmetic, docs/semantics/controller.md#traffic-weights, docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause, docs/semantics/controller.md#rollout-analysis, docs/semantics/controller.md#progress-deadline, docs/semantics/controller.md#rollback) driven through the in-memory world of `simulate.py`.

The seed's api-server canary (Istio, background analysis from step 1) is the main scenario; smaller rollouts
built in the tests cover basic canary, inline analysis steps and edge rules. Time only moves when a test moves it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.models import CanaryStep
from rollouts.strategy import decide, steps
from rollouts.strategy.context import build_context
from rollouts.strategy.plan import CreateAnalysisRun, EmitEvent, TerminateAnalysisRun
from rollouts.traffic.base import EditRouter
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEED = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)


def seed_world() -> World:
    world = World.from_files(*SEED)
    world.settle(T0)
    return world


def cond(world: World, ctype: str) -> dict[str, Any]:
    return next(c for c in world.status["conditions"] if c["type"] == ctype)


def vs_weights(world: World) -> dict[str, int]:
    """The `primary` route of the seed's VirtualService as the plans left it (docs/semantics/controller.md#istio Istio write)."""
    vs = world.routers[("networking.istio.io/v1beta1", "VirtualService", "production", "api-server-vsvc")]
    (route,) = vs["spec"]["http"]
    return {d["destination"]["host"]: d["weight"] for d in route["route"]}


def drive_to_pause(world: World, now: datetime) -> None:
    world.settle(now)
    assert world.status["phase"] == "Paused", world.status


# ---------------------------------------------------------------------------------------------------------------
# The seed scenario: v1 → v2 through every step
# ---------------------------------------------------------------------------------------------------------------


def test_initial_deploy_skips_all_steps() -> None:
    """docs/semantics/controller.md#canary-steps shouldFullPromote: no stable RS → "Initial deploy": index = len(steps), stable = current."""
    world = seed_world()
    st = world.status
    assert st["stableRS"] == st["currentPodHash"]
    assert st["currentStepIndex"] == 8
    assert st["phase"] == "Healthy"
    assert (
        "Rollout completed update to revision 1 ({}): Initial deploy".format(st["stableRS"])
        in world.event_messages()
    )
    (rs,) = world.replica_sets.values()
    assert rs.name == f"api-server-{st['stableRS']}" and rs.spec_replicas == 10 and rs.revision == 1


def test_seed_canary_v1_to_v2() -> None:
    """docs/semantics/controller.md#pause-step/docs/semantics/controller.md#traffic-weights: weights 5 → 20 → 50 → 80 → 100 with the pauses; stable becomes v2; v1 scaled down after 30 s."""
    world = seed_world()
    v1 = world.status["stableRS"]
    world.set_image("myregistry.com/api-server:v2.1.0")
    now = T0
    weights_at_pauses = []
    vs_at_pauses = []
    pause_expiries = []
    for _ in range(4):
        drive_to_pause(world, now)
        weights_at_pauses.append(world.weight())
        vs_at_pauses.append(vs_weights(world))
        plan = world.plans[-1]
        pause_expiries.append(plan.requeue_after)
        now += timedelta(seconds=plan.requeue_after or 0)
    world.settle(now)
    v2 = world.status["currentPodHash"]
    assert weights_at_pauses == [5, 20, 50, 80]
    assert vs_at_pauses == [
        {"api-server-stable": 95, "api-server-canary": 5},
        {"api-server-stable": 80, "api-server-canary": 20},
        {"api-server-stable": 50, "api-server-canary": 50},
        {"api-server-stable": 20, "api-server-canary": 80},
    ]
    # 5m, 10m, 10m, 5m: the rollout is looked at again 20 ms after each pause expires (completion needs now >
    # expiry, docs/semantics/controller.md#pause-step); the pause conditions' startTime is whole seconds, so after the first pause (which ended at
    # T0+300.02 s) each expiry counts from the truncated start.
    assert pause_expiries == [300.02, 600.0, 600.0, 300.0]
    assert world.status["stableRS"] == v2 != v1
    assert world.status["currentStepIndex"] == 8
    assert world.status["phase"] == "Healthy"
    assert vs_weights(world) == {"api-server-stable": 100, "api-server-canary": 0}
    traffic = world.event_messages("TrafficWeightUpdated")
    assert (
        traffic[-6:]
        == [
            "Traffic weight updated from 0 to 5",
            "Traffic weight updated from 5 to 20",
            "Traffic weight updated from 20 to 50",
            "Traffic weight updated from 50 to 80",
            "Traffic weight updated from 80 to 100",
            "Traffic weight updated from 100 to 0",  # fully promoted: the stable Service now selects v2 (docs/semantics/controller.md#traffic-weights)
        ]
    )
    assert world.event_messages("RolloutStepCompleted") == [
        "Rollout step 1/8 completed (setWeight: 5)",
        "Rollout step 2/8 completed (pause: 5m)",
        "Rollout step 3/8 completed (setWeight: 20)",
        "Rollout step 4/8 completed (pause: 10m)",
        "Rollout step 5/8 completed (setWeight: 50)",
        "Rollout step 6/8 completed (pause: 10m)",
        "Rollout step 7/8 completed (setWeight: 80)",
        "Rollout step 8/8 completed (pause: 5m)",
    ]
    assert {s.name: s.selector["rollouts-pod-template-hash"] for s in world.services.values()} == {
        "api-server-stable": v2,
        "api-server-canary": v2,
    }
    # docs/semantics/controller.md#bluegreen-scale-down/scaleDownDelaySeconds (traffic routing default 30 s): v1 keeps its pods until the deadline
    old = world.rs_by_hash(v1)
    assert old.spec_replicas == 10
    assert old.annotations["scale-down-deadline"] == (now + timedelta(seconds=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    world.settle(now + timedelta(seconds=29))
    assert world.rs_by_hash(v1).spec_replicas == 10
    world.settle(now + timedelta(seconds=31))
    assert world.rs_by_hash(v1).spec_replicas == 0
    assert world.rs_by_hash(v2).spec_replicas == 10
    # background analysis: created at startingStep 1, terminated (Successful) when fully promoted (docs/semantics/controller.md#rollout-analysis)
    (run_name,) = world.runs
    assert run_name == f"api-server-{v2}-2"
    assert world.runs[run_name].terminate and world.runs[run_name].phase == "Successful"


def test_canary_replica_counts_follow_weights() -> None:
    """docs/semantics/controller.md#traffic-routed-canary traffic-routed: canary = ceil(weight × replicas / 100); stable stays at replicas."""
    world = seed_world()
    world.set_image("v2")
    counts = []
    now = T0
    for _ in range(4):
        drive_to_pause(world, now)
        canary = world.rs_by_hash(world.status["currentPodHash"])
        stable = world.rs_by_hash(world.status["stableRS"])
        counts.append((canary.spec_replicas, stable.spec_replicas))
        now += timedelta(hours=1)
    assert counts == [(1, 10), (2, 10), (5, 10), (8, 10)]


def test_previous_weight_kept_until_pods_ready() -> None:
    """docs/semantics/controller.md#traffic-weights: while the canary RS is not at its desired count, the previous step's setWeight is kept."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)  # at the 5 % pause
    world.auto_available = False
    now = T0 + timedelta(minutes=6)
    world.step(now)  # pause completes → index 2 (setWeight 20)
    world.step(now)  # scales the canary to 2, pods not ready
    assert world.status["currentStepIndex"] == 2
    assert world.rs_by_hash(world.status["currentPodHash"]).spec_replicas == 2
    for _ in range(3):
        world.step(now)
        assert world.weight() == 5
    world.make_available()
    world.step(now)
    assert world.weight() == 20
    assert world.status["currentStepIndex"] == 3


def test_pause_waits_for_duration() -> None:
    """docs/semantics/controller.md#pause-step pause: CanaryPauseStep condition with startTime = now; completes strictly after the duration."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    assert world.status["pauseConditions"] == [
        {"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}
    ]
    assert world.status["controllerPause"] is True
    assert world.status["message"] == "CanaryPauseStep"
    world.settle(T0 + timedelta(minutes=5))  # exactly at expiry: not after it
    assert world.status["currentStepIndex"] == 1
    world.settle(T0 + timedelta(minutes=5, seconds=1))
    assert world.status["currentStepIndex"] == 3
    # the next pause step starts its own condition
    assert world.status["pauseConditions"] == [
        {"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:05:01Z"}
    ]


# ---------------------------------------------------------------------------------------------------------------
# Abort, retry (docs/semantics/controller.md#abort) and promotion (docs/semantics/controller.md#promote)
# ---------------------------------------------------------------------------------------------------------------


def abort_by_background_failure(world: World, now: datetime) -> str:
    run = str(world.status["canary"]["currentBackgroundAnalysisRunStatus"]["name"])
    world.set_run_phase(
        run, "Failed", 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    )
    world.settle(now)
    return run


def test_abort_on_background_analysis_failure() -> None:
    """docs/semantics/controller.md#abort/docs/semantics/controller.md#rollout-analysis: Failed background run → abort; weight 0, canary Service → stable, canary RS kept 30 s."""
    world = seed_world()
    world.set_image("v2")
    now = T0
    for _ in range(2):
        drive_to_pause(world, now)
        now += timedelta(minutes=6)
    drive_to_pause(world, now)  # at 20 %
    v1, v2 = world.status["stableRS"], world.status["currentPodHash"]
    abort_by_background_failure(world, now)
    st = world.status
    expected = (
        "Rollout aborted update to revision 2: Background analysis phase error/failed: "
        'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    )
    assert st["phase"] == "Degraded"
    assert st["message"] == f"RolloutAborted: {expected}"
    progressing = cond(world, "Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False",
        "RolloutAborted",
        expected,
    )
    assert st["abort"] is True and st["abortedAt"] == "2026-01-01T00:12:00Z"
    assert st["currentStepIndex"] == 0
    assert world.weight() == 0
    assert vs_weights(world) == {"api-server-stable": 100, "api-server-canary": 0}
    assert world.services["api-server-canary"].selector["rollouts-pod-template-hash"] == v1
    assert expected in world.event_messages("RolloutAborted")
    canary = world.rs_by_hash(v2)
    assert canary.spec_replicas == 2 and canary.annotations["scale-down-deadline"] == "2026-01-01T00:12:30Z"
    world.settle(now + timedelta(seconds=31))
    assert world.rs_by_hash(v2).spec_replicas == 0
    assert world.status["abortedAt"] == "2026-01-01T00:12:00Z"  # kept stable while aborted


def test_retry_after_abort_starts_again() -> None:
    """docs/semantics/controller.md#abort retry: abort=false → RolloutRetry, step 0 again, a new background run (`.1`)."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    now = T0 + timedelta(minutes=6)
    world.settle(now)
    failed = abort_by_background_failure(world, now)
    world.patch_status(abort=False)
    plan = world.step(now)
    assert cond_from(plan.new_status, "Progressing")["reason"] == "RolloutRetry"
    assert cond_from(plan.new_status, "Progressing")["message"] == "Retrying Rollout after abort"
    assert plan.new_status["phase"] == "Progressing"
    assert "abortedAt" not in plan.new_status
    drive_to_pause(world, now)
    assert world.status["currentStepIndex"] == 1 and world.weight() == 5
    assert f"{failed}.1" in world.runs and world.runs[f"{failed}.1"].phase == "Running"


def cond_from(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == ctype)


def test_user_abort_terminates_running_analysis() -> None:
    """docs/semantics/controller.md#abort: `abort` (status.abort=true) — message without reason; current runs get spec.terminate."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    run = world.status["canary"]["currentBackgroundAnalysisRunStatus"]["name"]
    world.patch_status(abort=True)
    plan = world.step(T0)
    assert TerminateAnalysisRun(run) in plan.actions
    assert plan.new_status["message"] == "RolloutAborted: Rollout aborted update to revision 2"


def test_promote_resumes_an_indefinite_pause() -> None:
    """docs/semantics/controller.md#promote plain promote: pauseConditions cleared, controllerPause kept → the pause step completes."""
    world = World.from_files(*SEED)
    world.rollout["spec"]["strategy"]["canary"]["steps"][1] = {"pause": {}}
    world.settle(T0)
    world.set_image("v2")
    drive_to_pause(world, T0)
    plan = world.plans[-1]
    assert plan.requeue_after is None or plan.requeue_after > 300  # indefinite: only the progress deadline
    world.settle(T0 + timedelta(days=1))
    assert world.status["currentStepIndex"] == 1
    world.patch_status(pauseConditions=None)
    world.step(T0 + timedelta(days=1))
    assert world.status["currentStepIndex"] == 2
    assert "Rollout step 2/8 completed (pause)" in world.event_messages()


def test_promote_full_skips_remaining_steps() -> None:
    """docs/semantics/controller.md#promote promote --full: promoteFull → index = len(steps), stable = new, runs terminated, flag cleared."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    world.patch_status(promoteFull=True)
    world.settle(T0)
    st = world.status
    assert st["stableRS"] == st["currentPodHash"]
    assert st["currentStepIndex"] == 8 and "promoteFull" not in st
    assert "pauseConditions" not in st
    assert any("Full promotion requested" in m for m in world.event_messages("RolloutCompleted"))
    assert all(r.terminate for r in world.runs.values())


def test_user_pause_blocks_progress() -> None:
    """docs/semantics/controller.md#pause: spec.paused → Paused "manually paused"; no step completes, even after a timed pause expires."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    world.rollout["spec"]["paused"] = True
    world.settle(T0 + timedelta(hours=2))
    assert world.status["phase"] == "Paused" and world.status["message"] == "manually paused"
    assert world.status["currentStepIndex"] == 1
    assert cond(world, "Paused")["status"] == "True"
    world.rollout["spec"]["paused"] = False
    world.settle(T0 + timedelta(hours=2))
    assert world.status["currentStepIndex"] == 3


# ---------------------------------------------------------------------------------------------------------------
# Spec changes: step hash, rollback (docs/semantics/controller.md#canary-steps, docs/semantics/controller.md#rollback)
# ---------------------------------------------------------------------------------------------------------------


def test_step_hash_change_resets_index() -> None:
    """docs/semantics/controller.md#canary-steps: a change of the steps resets currentStepIndex to 0 and the step hash is rewritten."""
    world = seed_world()
    world.set_image("v2")
    now = T0
    drive_to_pause(world, now)
    world.settle(now + timedelta(minutes=6))
    assert world.status["currentStepIndex"] == 3
    old_hash = world.status["currentStepHash"]
    world.rollout["spec"]["strategy"]["canary"]["steps"][3] = {"pause": {"duration": "1m"}}
    world.step(now + timedelta(minutes=6))
    assert world.status["currentStepIndex"] == 0
    assert world.status["currentStepHash"] != old_hash


def test_rollback_to_stable_skips_steps() -> None:
    """docs/semantics/controller.md#rollback: reverting the template to the stable one → no new RS, index = len(steps), SkipSteps event."""
    world = seed_world()
    v1_image = world.rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    world.set_image("v2")
    drive_to_pause(world, T0)
    world.set_image(v1_image)
    world.settle(T0)
    assert world.status["currentStepIndex"] == 8
    assert "Rollback to stable ReplicaSets" in world.event_messages("SkipSteps")
    assert world.status["currentPodHash"] == world.status["stableRS"]
    assert len(world.replica_sets) == 2
    assert world.status["phase"] == "Healthy"


# ---------------------------------------------------------------------------------------------------------------
# Progress deadline (docs/semantics/controller.md#progress-deadline)
# ---------------------------------------------------------------------------------------------------------------


def stuck_world(abort: bool) -> World:
    world = World.from_files(
        "examples/istio-canary/rollout.yaml",
        "examples/istio-canary/services.yaml",
        "examples/istio-canary/virtualservice.yaml",
    )
    world.rollout["spec"]["strategy"]["canary"].pop("analysis")
    world.rollout["spec"]["progressDeadlineSeconds"] = 60
    world.rollout["spec"]["progressDeadlineAbort"] = abort
    world.settle(T0)
    world.set_image("v2")
    world.auto_available = False
    world.settle(T0)
    return world


def test_progress_deadline_exceeded() -> None:
    """docs/semantics/controller.md#progress-deadline: no progress for progressDeadlineSeconds → Progressing False ProgressDeadlineExceeded, Degraded."""
    world = stuck_world(abort=False)
    plan = world.plans[-1]
    assert plan.requeue_after == 61.0
    world.settle(T0 + timedelta(seconds=60))
    assert world.status["phase"] == "Progressing"
    world.settle(T0 + timedelta(seconds=61))
    rs = world.rs_by_hash(world.status["currentPodHash"]).name
    assert world.status["phase"] == "Degraded"
    assert (
        world.status["message"] == f'ProgressDeadlineExceeded: ReplicaSet "{rs}" has timed out progressing.'
    )
    assert "abort" not in world.status


def test_progress_deadline_abort() -> None:
    """docs/semantics/controller.md#progress-deadline progressDeadlineAbort: the timed-out update is aborted with the timeout message."""
    world = stuck_world(abort=True)
    world.settle(T0 + timedelta(seconds=61))
    rs = world.rs_by_hash(world.status["currentPodHash"]).name
    assert world.status["abort"] is True
    assert world.status["message"] == (
        f'RolloutAborted: Rollout aborted update to revision 2: ReplicaSet "{rs}" has timed out progressing.'
    )


# ---------------------------------------------------------------------------------------------------------------
# Inline analysis steps, args, missing templates (docs/semantics/controller.md#rollout-analysis, docs/semantics/analysis.md#analysis-args)
# ---------------------------------------------------------------------------------------------------------------


def analysis_step_world(args: list[dict[str, Any]] | None = None) -> World:
    world = World.from_files(
        "examples/istio-canary/rollout.yaml",
        "examples/istio-canary/services.yaml",
        "examples/istio-canary/success-rate.yaml",
        "examples/istio-canary/virtualservice.yaml",
    )
    canary = world.rollout["spec"]["strategy"]["canary"]
    canary.pop("analysis")
    step_args = args if args is not None else [{"name": "service-name", "value": "api-server-canary"}]
    canary["steps"] = [
        {"setWeight": 10},
        {"analysis": {"templates": [{"templateName": "success-rate"}], "args": step_args}},
        {"setWeight": 50},
    ]
    world.settle(T0)
    world.set_image("v2")
    return world


def test_analysis_step_creates_run_with_labels() -> None:
    """docs/semantics/controller.md#rollout-analysis: step run `<rollout>-<podhash>-<revision>-<stepIndex>`, labels and revision annotation."""
    world = analysis_step_world()
    plans = [world.step(T0) for _ in range(4)]
    creates = [a for p in plans for a in p.actions if isinstance(a, CreateAnalysisRun)]
    h = world.status["currentPodHash"]
    assert [c.name for c in creates] == [f"api-server-{h}-2-1"]
    (run,) = creates
    assert run.labels == {
        "rollouts-pod-template-hash": h,
        "rollout-type": "Step",
        "step-index": "1",
        "app": "api-server",
    }
    assert run.annotations == {"rollout.argoproj.io/revision": "2"}
    assert run.spec["args"] == [{"name": "service-name", "value": "api-server-canary"}]
    assert [m["name"] for m in run.spec["metrics"]] == ["success-rate"]
    world.settle(T0)
    assert world.status["currentStepIndex"] == 1  # waits for the run
    world.set_run_phase(run.name, "Successful")
    world.settle(T0)
    assert world.status["currentStepIndex"] == 3
    assert "Rollout step 2/3 completed (analysis)" in world.event_messages()


def test_analysis_run_carries_the_rollouts_controller_instance_id() -> None:
    """Argo's utils/analysis/factory.go: a Rollout labelled for one controller instance gets runs labelled alike,
    so the instance's AnalysisRun informer (which selects on that label) sees them."""
    world = analysis_step_world()
    world.rollout["metadata"].setdefault("labels", {})["argo-rollouts.argoproj.io/controller-instance-id"] = (
        "blue"
    )
    plans = [world.step(T0) for _ in range(4)]
    (run,) = [a for p in plans for a in p.actions if isinstance(a, CreateAnalysisRun)]
    assert run.labels["argo-rollouts.argoproj.io/controller-instance-id"] == "blue"
    assert run.labels["rollout-type"] == "Step"


@pytest.mark.parametrize(
    ("phase", "expect_phase", "expect_message"),
    [
        pytest.param(
            "Failed",
            "Degraded",
            "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: boom",
            id="failed-aborts",
        ),
        pytest.param(
            "Error",
            "Degraded",
            "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: boom",
            id="error-aborts",
        ),
        pytest.param("Inconclusive", "Paused", "InconclusiveAnalysisRun", id="inconclusive-pauses"),
    ],
)
def test_analysis_step_outcomes(phase: str, expect_phase: str, expect_message: str) -> None:
    """docs/semantics/controller.md#rollout-analysis: Failed/Error → abort with the run's message; Inconclusive → InconclusiveAnalysisRun pause."""
    world = analysis_step_world()
    world.settle(T0)
    (name,) = world.runs
    world.set_run_phase(name, phase, "boom")
    world.settle(T0)
    assert (world.status["phase"], world.status["message"]) == (expect_phase, expect_message)


def test_args_value_from() -> None:
    """docs/semantics/objects.md#rollout-spec args: podTemplateHashValue Latest/Stable and fieldRef (downward API and JSON walk)."""
    world = analysis_step_world(
        [
            {"name": "service-name", "valueFrom": {"podTemplateHashValue": "Latest"}},
        ]
    )
    world.templates[("AnalysisTemplate", "production", "success-rate")]["args"] = [
        {"name": "service-name"},
        {"name": "stable"},
        {"name": "app"},
        {"name": "image"},
    ]
    world.rollout["spec"]["strategy"]["canary"]["steps"][1]["analysis"]["args"] += [
        {"name": "stable", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "app", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "image", "valueFrom": {"fieldRef": {"fieldPath": "spec.template.spec.containers[0].image"}}},
    ]
    world.rollout["metadata"]["labels"] = {"app": "api"}
    world.settle(T0)
    (name,) = world.runs
    st = world.status
    assert world.run_specs[name]["args"] == [
        {"name": "service-name", "value": st["currentPodHash"]},
        {"name": "stable", "value": st["stableRS"]},
        {"name": "app", "value": "api"},
        {"name": "image", "value": "v2"},
    ]


def test_missing_template_is_invalid_spec() -> None:
    """A referenced AnalysisTemplate that does not exist → InvalidSpec condition naming it, Degraded."""
    world = seed_world()
    del world.templates[("AnalysisTemplate", "production", "latency")]
    plan = world.step(T0)
    # rollout/analysis_test.go: `The Rollout "foo" is invalid: spec.strategy.canary.analysis.templates: ...`
    message = (
        'The Rollout "api-server" is invalid: spec.strategy.canary.analysis.templates: '
        "Invalid value: \"latency\": AnalysisTemplate 'latency' not found"
    )
    assert plan.new_status["phase"] == "Degraded"
    assert plan.new_status["message"] == f"InvalidSpec: {message}"
    assert cond_from(plan.new_status, "InvalidSpec")["message"] == message
    assert [a for a in plan.actions if not isinstance(a, EmitEvent)] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda ro: ro["spec"]["strategy"]["canary"]["steps"].append(
                {"plugin": {"name": "x", "config": {}}}
            ),
            "spec.strategy.canary.steps[8].plugin: Forbidden: plugin steps are not supported yet; Argo's plugins are "
            "Go binaries served over its Go plugin RPC, which this controller cannot load",
            id="plugin-step",
        ),
    ],
)
def test_unsupported_features_are_invalid_spec_not_a_silent_wait(change: Any, message: str) -> None:
    """A step this controller cannot complete would stall the rollout forever: it is refused, naming the field."""
    world = seed_world()
    change(world.rollout)
    plan = world.step(T0)
    assert plan.new_status["phase"] == "Degraded"
    assert plan.new_status["message"] == f'InvalidSpec: The Rollout "api-server" is invalid: {message}'
    assert [a for a in plan.actions if not isinstance(a, EmitEvent)] == []


# ---------------------------------------------------------------------------------------------------------------
# Basic canary (no traffic routing), header routes, step helpers
# ---------------------------------------------------------------------------------------------------------------


def basic_world() -> World:
    world = World.from_files("examples/istio-canary/rollout.yaml")
    canary = world.rollout["spec"]["strategy"]["canary"]
    for key in ("trafficRouting", "analysis", "canaryService", "stableService"):
        canary.pop(key)
    world.rollout["spec"]["replicas"] = 4
    canary["steps"] = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    world.settle(T0)
    return world


def test_basic_canary_scenario() -> None:
    """docs/semantics/controller.md#basic-canary basic canary: 4 pods at 25 % → 1 canary + 3 stable; 50 % → 2 + 2; end → 4 + 0."""
    world = basic_world()
    world.set_image("v2")
    seen = []
    for _ in range(2):
        drive_to_pause(world, T0)
        new = world.rs_by_hash(world.status["currentPodHash"]).spec_replicas
        old = world.rs_by_hash(world.status["stableRS"]).spec_replicas
        seen.append((new, old))
        assert "weights" not in world.status.get("canary", {})
        world.patch_status(pauseConditions=None)
    world.settle(T0)
    assert seen == [(1, 3), (2, 2)]
    st = world.status
    assert st["stableRS"] == st["currentPodHash"] and st["phase"] == "Healthy"
    assert [rs.spec_replicas for rs in world.replica_sets.values()] == [0, 4]


def test_traffic_routing_without_a_router_is_a_traffic_routed_canary() -> None:
    """`trafficRouting: {}` is set (Argo tests `TrafficRouting != nil`): the stable ReplicaSet keeps every pod
    and the canary is sized by the step's weight, as with a router; no router is named, so no weights are written
    (rollout/trafficrouting.go "No TrafficRouting Reconcilers found")."""
    world = basic_world()
    world.rollout["spec"]["strategy"]["canary"]["trafficRouting"] = {}
    world.settle(T0)
    world.set_image("v2")
    drive_to_pause(world, T0)
    st = world.status
    assert world.rs_by_hash(st["currentPodHash"]).spec_replicas == 1
    assert world.rs_by_hash(st["stableRS"]).spec_replicas == 4  # basic canary: 3 (see the scenario above)
    assert "weights" not in st.get("canary", {})
    assert not [a for plan in world.plans for a in plan.actions if isinstance(a, EditRouter)]


def test_set_header_route_completes_immediately() -> None:
    """docs/semantics/controller.md#canary-steps: setHeaderRoute completes in the pass that reaches it."""
    world = World.from_files(*SEED)
    canary = world.rollout["spec"]["strategy"]["canary"]
    canary["trafficRouting"]["managedRoutes"] = [{"name": "hdr"}]
    canary["steps"] = [
        {"setWeight": 10},
        {"setHeaderRoute": {"name": "hdr", "match": [{"headerName": "x", "headerValue": {"exact": "y"}}]}},
        {"pause": {}},
    ]
    world.settle(T0)
    world.set_image("v2")
    drive_to_pause(world, T0)
    assert world.status["currentStepIndex"] == 2
    assert "Rollout step 2/3 completed (setHeaderRoute: hdr)" in world.event_messages()


@pytest.mark.parametrize(
    ("step", "text"),
    [
        pytest.param({"setWeight": 20}, "setWeight: 20", id="setWeight"),
        pytest.param({"pause": {}}, "pause", id="pause-indefinite"),
        pytest.param({"pause": {"duration": "5m"}}, "pause: 5m", id="pause-string"),
        pytest.param({"pause": {"duration": 30}}, "pause: 30", id="pause-int"),
        pytest.param({"analysis": {"templates": []}}, "analysis", id="analysis"),
        pytest.param({"experiment": {"templates": []}}, "experiment", id="experiment"),
        pytest.param({"setCanaryScale": {"weight": 10}}, "setCanaryScale{weight: 10}", id="scale-weight"),
        pytest.param({"setCanaryScale": {"replicas": 3}}, "setCanaryScale{replicas: 3}", id="scale-replicas"),
        pytest.param(
            {"setCanaryScale": {"matchTrafficWeight": True}},
            "setCanaryScale{matchTrafficWeight: true}",
            id="scale-match",
        ),
        pytest.param({"setMirrorRoute": {"name": "m"}}, "setMirrorRoute: m", id="mirror"),
        pytest.param({"plugin": {"name": "p"}}, "plugin: p", id="plugin"),
    ],
)
def test_step_string(step: dict[str, Any], text: str) -> None:
    """`CanaryStepString` as used in the step-completed event (docs/semantics/controller.md#canary-steps)."""
    assert steps.step_string(CanaryStep.from_wire(step)) == text


@pytest.mark.parametrize(
    ("index", "abort", "weight"),
    [
        pytest.param(0, False, 5, id="on-setWeight"),
        pytest.param(1, False, 5, id="pause-after-5"),
        pytest.param(3, False, 20, id="pause-after-20"),
        pytest.param(8, False, 100, id="past-last-step"),
        pytest.param(3, True, 0, id="aborted"),
    ],
)
def test_current_set_weight(index: int, abort: bool, weight: int) -> None:
    """docs/semantics/controller.md#canary-steps GetCurrentSetWeight on the seed's steps."""
    world = seed_world()
    world.status["currentStepIndex"] = index
    if abort:
        world.status["abort"] = True
    ctx = build_context(world.observed(), T0)
    assert steps.current_set_weight(ctx) == weight


def test_duplicate_metric_names_are_invalid_spec() -> None:
    """docs/semantics/analysis.md#analysis-args FlattenTemplates: two templates defining the same metric → InvalidSpec with Argo's wording."""
    world = seed_world()
    world.templates[("AnalysisTemplate", "production", "latency")]["metrics"][0]["name"] = "success-rate"
    plan = world.step(T0)
    assert plan.new_status["message"] == (
        'InvalidSpec: The Rollout "api-server" is invalid: spec.strategy.canary.analysis.templates: '
        "Invalid value: \"templateNames: [success-rate latency]\": two metrics have the same name 'success-rate'"
    )


def test_spec_validation_error_is_invalid_spec() -> None:
    """rollouts.validation's first error becomes the InvalidSpec condition; fixing the spec clears it."""
    world = seed_world()
    world.rollout["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 101}
    plan = world.step(T0)
    assert plan.new_status["phase"] == "Degraded"
    assert plan.new_status["message"].startswith('InvalidSpec: The Rollout "api-server" is invalid: ')
    assert "spec.strategy.canary.steps[0].setWeight" in plan.new_status["message"]
    world.rollout["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 5}
    plan = world.step(T0)
    assert not [c for c in plan.new_status["conditions"] if c["type"] == "InvalidSpec"]
    assert plan.new_status["phase"] == "Healthy"


def test_missing_virtual_service_is_invalid_spec() -> None:
    """A router object that cannot be edited (here: absent) → InvalidSpec, no actions, no exception."""
    world = seed_world()
    world.routers.clear()
    world.set_image("v2")
    world.settle(T0)
    assert world.status["phase"] == "Degraded"
    assert world.status["message"].startswith('InvalidSpec: The Rollout "api-server" is invalid: ')
    assert "api-server-vsvc" in world.status["message"]


def test_decide_does_not_mutate_its_input() -> None:
    world = seed_world()
    world.set_image("v2")
    observed = world.observed()
    before = copy.deepcopy(observed.rollout_raw)
    decide(observed, T0)
    assert observed.rollout_raw == before


# ---------------------------------------------------------------------------------------------------------------
# More docs/semantics/controller.md rules: setCanaryScale, history limits, rollback window, inconclusive background analysis
# ---------------------------------------------------------------------------------------------------------------


def test_set_canary_scale() -> None:
    """docs/semantics/controller.md#traffic-routed-canary: setCanaryScale replicas/weight size the canary independently of the traffic weight."""
    world = World.from_files(*SEED)
    canary = world.rollout["spec"]["strategy"]["canary"]
    canary.pop("analysis")
    canary["steps"] = [
        {"setCanaryScale": {"replicas": 3}},
        {"pause": {}},
        {"setCanaryScale": {"weight": 50}},
        {"pause": {}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"setWeight": 20},
        {"pause": {}},
    ]
    world.settle(T0)
    world.set_image("v2")
    seen = []
    for _ in range(3):
        drive_to_pause(world, T0)
        seen.append((world.rs_by_hash(world.status["currentPodHash"]).spec_replicas, world.weight()))
        world.patch_status(pauseConditions=None)
    assert seen == [(3, 0), (5, 0), (2, 20)]
    assert "Rollout step 1/7 completed (setCanaryScale{replicas: 3})" in world.event_messages()


def test_revision_history_limit_deletes_old_replica_sets() -> None:
    """reconcileRevisionHistoryLimit: at most revisionHistoryLimit (3) old, scaled-down RSs are kept."""
    world = seed_world()
    now = T0
    for version in range(2, 8):
        now += timedelta(hours=1)
        world.set_image(f"v{version}")
        for _ in range(6):
            world.settle(now)
            now += timedelta(minutes=11)
    assert world.status["phase"] == "Healthy"
    assert len(world.replica_sets) == 4  # current + 3 old
    assert [rs.spec_replicas for rs in world.replica_sets.values()].count(10) == 1


def rollback_world() -> tuple[World, datetime]:
    """v1 → v2 → v3 fully promoted, rollbackWindow 3; returns the world at v3's promotion time."""
    world = World.from_files(*SEED)
    world.rollout["spec"]["rollbackWindow"] = {"revisions": 3}
    world.settle(T0)
    now = T0
    for image in ("v2", "v3"):
        now += timedelta(minutes=1)
        world.set_image(image)
        world.settle(now)
        while world.status["stableRS"] != world.status["currentPodHash"]:
            now += timedelta(seconds=world.plans[-1].requeue_after or 0)
            world.settle(now)
    return world, now


def test_rollback_within_window_to_active_rs() -> None:
    """docs/semantics/controller.md#rollback: back to an older RS still up (within its scale-down delay) → steps skipped at once."""
    world, now = rollback_world()
    v2 = next(
        rs for rs in world.replica_sets.values() if rs.template["spec"]["containers"][0]["image"] == "v2"
    )
    assert v2.spec_replicas == 10  # still within scaleDownDelaySeconds
    world.set_image("v2")
    world.step(now)
    assert world.status["currentStepIndex"] == 8
    assert "Rollback to active ReplicaSets within RollbackWindow" in world.event_messages("SkipSteps")
    world.settle(now)
    assert world.status["stableRS"] == v2.pod_template_hash
    assert any("Rollback within window" in m for m in world.event_messages("RolloutCompleted"))


def test_rollback_within_window_to_scaled_down_rs() -> None:
    """docs/semantics/controller.md#rollback as Argo's code does it: the reset pass keeps step 0 for an inactive RS, but the next pass's
    `isRollbackWithinWindow` (which does not look at activity) still jumps to the end of the steps."""
    world, now = rollback_world()
    now += timedelta(minutes=1)
    world.settle(now)  # v2's scale-down deadline passes
    world.set_image("v2")
    world.step(now)
    assert world.status["currentStepIndex"] == 0
    world.step(now)
    assert world.status["currentStepIndex"] == 8


def test_inconclusive_background_run_pauses_then_promote_creates_new_run() -> None:
    """docs/semantics/controller.md#pause/docs/semantics/controller.md#rollout-analysis: Inconclusive → InconclusiveAnalysisRun pause; promote → a new run (needsNewAnalysisRun)."""
    world = seed_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    world.settle(T0 + timedelta(minutes=6))
    name = world.status["canary"]["currentBackgroundAnalysisRunStatus"]["name"]
    world.set_run_phase(name, "Inconclusive")
    world.settle(T0 + timedelta(minutes=6))
    assert [c["reason"] for c in world.status["pauseConditions"]] == [
        "CanaryPauseStep",
        "InconclusiveAnalysisRun",
    ]
    world.patch_status(pauseConditions=None)
    world.step(T0 + timedelta(minutes=6))
    assert world.status["canary"]["currentBackgroundAnalysisRunStatus"]["name"] == f"{name}.1"


def test_successful_run_history_limit() -> None:
    """docs/semantics/controller.md#rollout-analysis history: non-current runs beyond successfulRunHistoryLimit are deleted, oldest first."""
    world = seed_world()
    world.rollout["spec"]["analysis"] = {"successfulRunHistoryLimit": 1}
    now = T0
    for version in range(2, 5):
        now += timedelta(hours=1)
        world.set_image(f"v{version}")
        for _ in range(6):
            world.settle(now)
            now += timedelta(minutes=11)
    assert len(world.runs) == 1


def test_interrupted_update_keeps_intermediate_rs_until_the_new_one_serves() -> None:
    """canary_test.go TestCanary(Dont)ScaleDownOldRsDuringInterruptedUpdate: v1 → v2 (at 100 %) → v3.

    v2 keeps its pods while the canary Service still selects it (v3 has no available pod); once v3 is available
    the Service moves to v3 and v2 is scaled to 0 in the same plan."""
    world = World.from_files(*SEED)
    canary = world.rollout["spec"]["strategy"]["canary"]
    canary.pop("analysis")
    canary["steps"] = [{"setWeight": 100}, {"pause": {}}]
    world.rollout["spec"]["replicas"] = 5
    world.settle(T0)
    v1 = world.status["stableRS"]
    world.set_image("v2")
    drive_to_pause(world, T0)
    v2 = world.status["currentPodHash"]
    world.set_image("v3")
    world.auto_available = False
    for _ in range(4):
        world.step(T0)
    v3 = world.status["currentPodHash"]
    assert world.rs_by_hash(v2).spec_replicas == 5
    assert world.services["api-server-canary"].selector["rollouts-pod-template-hash"] == v2
    assert (
        world.weight() == 0
    )  # no available v3 pod: all traffic to stable (docs/semantics/controller.md#traffic-weights)
    world.make_available()
    world.step(T0)
    assert world.services["api-server-canary"].selector["rollouts-pod-template-hash"] == v3
    assert world.rs_by_hash(v2).spec_replicas == 0
    assert world.rs_by_hash(v1).spec_replicas == 5


def test_scale_while_paused_by_a_pause_step() -> None:
    """canary_test.go TestCanaryRolloutScaleWhilePaused: spec.replicas 5 → 10 on a pause step rescales the RSs
    (basic canary, 20 %, maxSurge 1, maxUnavailable 0): stable 8, then the canary 2 in the same converged plan."""
    world = World.from_files("examples/istio-canary/rollout.yaml")
    canary = world.rollout["spec"]["strategy"]["canary"]
    for key in ("trafficRouting", "analysis", "canaryService", "stableService"):
        canary.pop(key)
    canary.update(maxSurge=1, maxUnavailable=0, steps=[{"setWeight": 20}, {"pause": {}}])
    world.rollout["spec"]["replicas"] = 5
    world.settle(T0)
    world.set_image("v2")
    drive_to_pause(world, T0)
    stable, new = world.status["stableRS"], world.status["currentPodHash"]
    assert (world.rs_by_hash(stable).spec_replicas, world.rs_by_hash(new).spec_replicas) == (4, 1)
    world.rollout["spec"]["replicas"] = 10
    world.bump_generation()
    world.settle(T0)
    assert (world.rs_by_hash(stable).spec_replicas, world.rs_by_hash(new).spec_replicas) == (8, 2)
    assert world.status["phase"] == "Paused"


def test_user_pause_blocks_scaling() -> None:
    """docs/semantics/controller.md#pause / haltProgress: spec.paused stops ReplicaSet scaling, even for a replica change."""
    world = basic_world()
    world.set_image("v2")
    drive_to_pause(world, T0)
    before = {n: rs.spec_replicas for n, rs in world.replica_sets.items()}
    world.rollout["spec"]["paused"] = True
    world.rollout["spec"]["replicas"] = 8
    world.settle(T0)
    assert {n: rs.spec_replicas for n, rs in world.replica_sets.items()} == before


def test_unresolved_arg_is_invalid_spec() -> None:
    """docs/semantics/analysis.md#analysis-args MergeArgs: a template arg the Rollout does not supply → `args.<name> was not resolved`."""
    world = analysis_step_world(args=[])
    world.step(T0)  # reference validation: Degraded before the step is even reached (still on the seed's v1)
    assert world.status["phase"] == "Degraded"
    assert world.status["message"] == (
        'InvalidSpec: The Rollout "api-server" is invalid: spec.strategy.canary.steps[1].analysis.templates: '
        'Invalid value: "templateNames: [success-rate]": args.service-name was not resolved'
    )
    assert not world.runs


def test_dynamic_stable_scale_abort_steps_weight_down() -> None:
    """docs/semantics/controller.md#replica-arithmetic/docs/semantics/controller.md#traffic-weights abort with dynamicStableScale: the weight steps down through the setWeights (80 → 50 → 20 → 5
    → 0) as the stable ReplicaSet regains pods; the canary Service moves to stable only at weight 0."""
    world = World.from_files(*SEED)
    world.rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] = True
    world.settle(T0)
    world.set_image("v2")
    now = T0
    for _ in range(3):
        drive_to_pause(world, now)
        now += timedelta(minutes=11)
    drive_to_pause(world, now)
    v1, v2 = world.status["stableRS"], world.status["currentPodHash"]
    assert (world.weight(), world.rs_by_hash(v1).spec_replicas, world.rs_by_hash(v2).spec_replicas) == (
        80,
        2,
        8,
    )
    world.patch_status(abort=True)
    weights = []
    for _ in range(12):
        world.step(now)
        weights.append(world.weight())
        if world.weight() != 0:
            assert world.services["api-server-canary"].selector["rollouts-pod-template-hash"] == v2
    assert [w for i, w in enumerate(weights) if i == 0 or w != weights[i - 1]] == [80, 50, 20, 5, 0]
    assert world.services["api-server-canary"].selector["rollouts-pod-template-hash"] == v1
    assert (world.rs_by_hash(v1).spec_replicas, world.rs_by_hash(v2).spec_replicas) == (10, 0)


# ---------------------------------------------------------------------------------------------------------------
# Anti-affinity between revisions (utils/replicaset/replicaset.go GenerateReplicaSetAffinity)
# ---------------------------------------------------------------------------------------------------------------


def _new_rs_template(world: World) -> dict[str, Any]:
    new_hash = world.status["currentPodHash"]
    return world.replica_sets[f"api-server-{new_hash}"].template


@pytest.mark.parametrize(
    ("anti_affinity", "where", "expected"),
    [
        pytest.param({"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 40}},
                     "preferredDuringSchedulingIgnoredDuringExecution", "weighted", id="preferred"),
        pytest.param({"requiredDuringSchedulingIgnoredDuringExecution": {}},
                     "requiredDuringSchedulingIgnoredDuringExecution", "required", id="required"),
    ],
)  # fmt: skip
def test_new_pods_are_kept_off_the_stable_pods_nodes(
    anti_affinity: dict[str, Any], where: str, expected: str
) -> None:
    world = World.from_files(*SEED)
    world.rollout["spec"]["strategy"]["canary"]["antiAffinity"] = anti_affinity
    own = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    world.rollout["spec"]["template"]["spec"]["affinity"] = own
    world.settle(T0)
    first = _new_rs_template(world)
    assert first["spec"]["affinity"] == own  # the initial deploy has no stable pods to avoid
    stable = world.status["stableRS"]
    world.set_image("api-server:v2")
    world.settle(T0 + timedelta(seconds=1))
    affinity = _new_rs_template(world)["spec"]["affinity"]
    term = {
        "labelSelector": {
            "matchExpressions": [{"key": "rollouts-pod-template-hash", "operator": "In", "values": [stable]}]
        },
        "namespaces": ["production"],
        "topologyKey": "kubernetes.io/hostname",
    }
    assert affinity["nodeAffinity"] == own["nodeAffinity"]  # the template's own affinity is kept
    if expected == "weighted":
        assert affinity["podAntiAffinity"] == {where: [{"weight": 40, "podAffinityTerm": term}]}
    else:
        assert affinity["podAntiAffinity"] == {where: [term]}
    # the Rollout's own template is not changed, so the pod-template hash is the template's as written
    assert "podAntiAffinity" not in world.rollout["spec"]["template"]["spec"]["affinity"]


def test_an_existing_replica_sets_term_follows_the_stable_replica_set() -> None:
    """IfInjectedAntiAffinityRuleNeedsUpdate (rollout/sync.go syncReplicaSetRevision): going back to a template
    whose ReplicaSet was made against an older stable one rewrites its term against the current stable one."""
    world = World.from_files(*SEED)
    world.rollout["spec"]["strategy"]["canary"]["antiAffinity"] = {
        "preferredDuringSchedulingIgnoredDuringExecution": {"weight": 40}
    }
    world.settle(T0)
    a = world.status["stableRS"]
    world.set_image("api-server:v2")
    world.settle(T0 + timedelta(seconds=1))
    b = world.status["currentPodHash"]

    def avoided(rs_hash: str) -> list[str]:
        terms = world.rs_by_hash(rs_hash).template["spec"]["affinity"]["podAntiAffinity"]
        return [
            v
            for t in terms["preferredDuringSchedulingIgnoredDuringExecution"]
            for v in t["podAffinityTerm"]["labelSelector"]["matchExpressions"][0]["values"]
        ]

    assert avoided(b) == [a]
    world.set_image("api-server:v3")  # B is left mid-update; C is made against A and promoted
    world.settle(T0 + timedelta(seconds=2))
    c = world.status["currentPodHash"]
    world.patch_status(promoteFull=True)
    world.settle(T0 + timedelta(minutes=30))
    assert world.status["stableRS"] == c
    world.set_image("api-server:v2")  # back to B's template: B is the new ReplicaSet again
    plan = world.step(T0 + timedelta(minutes=31))
    (update,) = [a_ for a_ in plan.actions if type(a_).__name__ == "UpdateReplicaSetSpec"]
    assert update.name == f"api-server-{b}"
    assert avoided(b) == [c]  # its term now keeps it off the current stable pods' nodes
    assert (
        len(
            world.rs_by_hash(b).template["spec"]["affinity"]["podAntiAffinity"][
                "preferredDuringSchedulingIgnoredDuringExecution"
            ]
        )
        == 1
    )
    world.settle(T0 + timedelta(minutes=32))
    assert not [
        x
        for x in world.step(T0 + timedelta(minutes=33)).actions
        if type(x).__name__ == "UpdateReplicaSetSpec"
    ]


def test_a_new_min_ready_seconds_reaches_the_existing_replica_set() -> None:
    """syncReplicaSetRevision: spec.minReadySeconds is not part of the pod template (same hash, same ReplicaSet),
    and the ReplicaSet gets the new value."""
    world = World.from_files(*SEED)
    world.settle(T0)
    world.rollout["spec"]["minReadySeconds"] = 5
    world.bump_generation()
    plan = world.step(T0 + timedelta(seconds=1))
    (update,) = [a for a in plan.actions if type(a).__name__ == "UpdateReplicaSetSpec"]
    assert update.min_ready_seconds == 5
    assert world.rs_by_hash(world.status["stableRS"]).min_ready_seconds == 5
