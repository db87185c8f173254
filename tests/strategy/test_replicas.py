"""docs/semantics/controller.md#replica-arithmetic replica arithmetic: tables from Argo's utils/replicaset/canary_test.go, plus Hypothesis invariants."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.models import CanaryStep, ReplicaProgressThreshold, Rollout, TrafficWeights
from rollouts.models.observed import RS
from rollouts.strategy import counts as R
from rollouts.strategy import weights as W


@pytest.mark.parametrize("module", [R, W], ids=["counts", "weights"])
def test_doctests(module: Any) -> None:
    """The worked examples in the docstrings."""
    result = doctest.testmod(module)
    assert result.attempted >= 5 and result.failed == 0


def rollout(
    replicas: int,
    set_weight: int,
    max_surge: int | str | None = None,
    max_unavailable: int | str | None = None,
    *,
    current: str = "canary",
    stable: str = "stable",
    set_canary_scale: dict[str, Any] | None = None,
    traffic_routing: dict[str, Any] | None = None,
    **canary: Any,
) -> Rollout:
    """Argo's test helper newRollout: one step {setWeight[, setCanaryScale]} at index 0."""
    step: dict[str, Any] = {"setWeight": set_weight}
    if set_canary_scale is not None:
        step["setCanaryScale"] = set_canary_scale
    c: dict[str, Any] = {"steps": [step], **canary}
    if max_surge is not None:
        c["maxSurge"] = max_surge
    if max_unavailable is not None:
        c["maxUnavailable"] = max_unavailable
    if traffic_routing is not None:
        c["trafficRouting"] = traffic_routing
    return Rollout.model_validate(
        {
            "spec": {"replicas": replicas, "strategy": {"canary": c}},
            "status": {"stableRS": stable, "currentPodHash": current},
        }
    )


# --------------------------------------------------------------------------------------------------------------
# docs/semantics/controller.md#replica-arithmetic resolveFenceposts
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        pytest.param("25", "25", 10, (3, 2), id="default-strings-are-percent"),
        pytest.param("25%", "25%", 10, (3, 2), id="percent-sign"),
        pytest.param("20%", 0, 10, (2, 0), id="surge-percent"),
        pytest.param(0, "20%", 10, (0, 2), id="unavailable-percent"),
        pytest.param("0%", "0%", 10, (0, 1), id="both-zero-unavailable-1"),
        pytest.param("1%", "1%", 10, (1, 0), id="surge-rounds-up-unavailable-down"),
        pytest.param(3, 5, 2, (3, 5), id="ints-not-capped-here"),
        pytest.param("abc", 1, 10, (0, 0), id="garbage-resolves-to-zero"),
    ],
)
def test_resolve_fenceposts(
    surge: int | str, unavailable: int | str, desired: int, expected: tuple[int, int]
) -> None:
    assert W.resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_capped_and_zero_replicas() -> None:
    assert W.max_unavailable(rollout(3, 10, 0, 5).spec) == 3
    assert W.max_unavailable(rollout(0, 10, 0, 5).spec) == 0
    assert W.max_surge(rollout(10, 10).spec) == 3  # default "25" → ceil(2.5)
    bg = Rollout.model_validate({"spec": {"replicas": 4, "strategy": {"blueGreen": {"activeService": "a"}}}})
    assert W.max_surge(bg.spec) == 0
    assert W.max_unavailable(bg.spec) == 1


# --------------------------------------------------------------------------------------------------------------
# docs/semantics/controller.md#replica-arithmetic step 1 — TestApproximateWeightedNewStableReplicaCounts
# --------------------------------------------------------------------------------------------------------------

APPROX = [
    # replicas, weight, surge, canary, stable
    (0, 0, 0, 0, 0), (0, 50, 0, 0, 0), (0, 100, 0, 0, 0), (0, 0, 1, 0, 0), (0, 50, 1, 0, 0), (0, 100, 1, 0, 0),
    (1, 0, 0, 0, 1), (1, 1, 0, 0, 1), (1, 49, 0, 0, 1), (1, 50, 0, 1, 0), (1, 99, 0, 1, 0), (1, 100, 0, 1, 0),
    (1, 0, 1, 0, 1), (1, 1, 1, 1, 1), (1, 49, 1, 1, 1), (1, 50, 1, 1, 1), (1, 99, 1, 1, 1), (1, 100, 1, 1, 0),
    (2, 0, 0, 0, 2), (2, 1, 0, 1, 1), (2, 50, 0, 1, 1), (2, 99, 0, 1, 1), (2, 100, 0, 2, 0),
    (2, 0, 1, 0, 2), (2, 1, 1, 1, 2), (2, 50, 1, 1, 1), (2, 99, 1, 2, 1), (2, 100, 1, 2, 0),
    (3, 10, 0, 1, 2), (3, 25, 0, 1, 2), (3, 33, 0, 1, 2), (3, 34, 0, 1, 2), (3, 49, 0, 1, 2), (3, 50, 0, 2, 1),
    (3, 10, 1, 1, 3), (3, 25, 1, 1, 3), (3, 33, 1, 1, 2), (3, 34, 1, 1, 2), (3, 49, 1, 2, 2), (3, 50, 1, 2, 2),
    (10, 0, 1, 0, 10), (10, 1, 0, 1, 9), (10, 14, 0, 1, 9), (10, 15, 0, 2, 8), (10, 16, 0, 2, 8),
    (10, 99, 0, 9, 1), (10, 100, 1, 10, 0), (10, 1, 1, 1, 10), (10, 18, 1, 2, 9), (10, 19, 1, 2, 9),
    (10, 20, 1, 2, 8), (10, 23, 1, 2, 8), (10, 24, 1, 3, 8), (10, 25, 1, 3, 8), (10, 99, 1, 10, 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "canary", "stable"),
    [pytest.param(*row, id=f"r{row[0]}-w{row[1]}-s{row[2]}") for row in APPROX],
)
def test_approximate_weighted_counts(
    replicas: int, weight: int, surge: int, canary: int, stable: int
) -> None:
    assert R.approximate_weighted_canary_stable_replica_counts(replicas, weight, 100, surge) == (
        canary,
        stable,
    )


# --------------------------------------------------------------------------------------------------------------
# docs/semantics/controller.md#traffic-routed-canary steps 2–5 and traffic-routed — TestCalculateReplicaCountsForCanary
# --------------------------------------------------------------------------------------------------------------

# name, replicas, weight, surge, unavailable, (stable spec, avail), (canary spec, avail), (exp stable, exp canary), extra
CANARY_CASES: list[tuple[Any, ...]] = [
    ("spec-below-available-not-double-counted", 10, 100, 3, 0, (7, 8), (6, 3), (7, 6), {}),
    ("max-surge-int-scales-up-canary", 10, 20, 2, 0, (10, 10), (0, 0), (10, 2), {}),
    ("max-surge-percent-scales-up-canary", 10, 20, "20%", 0, (10, 10), (0, 0), (10, 2), {}),
    ("scale-down-extra-stable", 10, 20, "20%", 0, (10, 10), (2, 2), (8, 2), {}),
    ("do-not-go-past-max-surge", 10, 30, 2, 0, (10, 10), (0, 0), (10, 2), {}),
    ("max-unavailable-int-scales-down-stable", 10, 20, 0, 2, (10, 10), (0, 0), (8, 0), {}),
    ("max-unavailable-percent-scales-down-stable", 10, 20, 0, "20%", (10, 10), (0, 0), (8, 0), {}),
    ("do-not-go-past-max-unavailable", 10, 30, 0, 2, (10, 10), (0, 0), (8, 0), {}),
    ("surge-and-unavailable", 10, 50, 2, 1, (10, 10), (0, 0), (9, 2), {}),
    ("weight-0-scales-canary-to-0", 10, 0, 1, 1, (10, 10), (1, 1), (10, 0), {}),
    ("weight-100-scales-stable-to-0", 10, 100, 1, 1, (1, 1), (10, 10), (0, 10), {}),
    ("no-canary-0-on-nonzero-weight", 1, 20, 1, 0, (1, 1), (0, 0), (1, 1), {}),
    ("no-canary-0-on-non-100-weight", 1, 90, 1, 0, (1, 1), (0, 0), (1, 1), {}),
    ("canary-0-below-50-without-surge", 1, 49, 0, 1, (1, 1), (0, 0), (1, 0), {}),
    ("stable-0-from-50-without-surge", 1, 51, 0, 1, (1, 1), (0, 0), (0, 0), {}),
    ("canary-1-from-50-without-surge-or-stable", 1, 51, 0, 1, (0, 0), (0, 0), (0, 1), {}),
    ("scale-up-stable-before-canary", 10, 30, 1, 0, (1, 1), (0, 0), (7, 1), {"older": RS("older", 3, 3)}),
    ("scale-down-canary-and-stable", 10, 30, 0, 3, (8, 5), (4, 4), (7, 3), {}),
    ("scale-down-stable-and-canary-available", 10, 100, 1, 0, (10, 2), (10, 8), (2, 9), {}),
    ("older-rs-blocks-scale-down", 10, 30, 0, 1, (8, 6), (4, 2), (8, 4), {"older": RS("older", 3, 3)}),
    ("uneven-weight-no-round-past-surge", 10, 5, 0, 1, (10, 10), (0, 0), (9, 0), {}),
    ("uneven-weight-no-round-past-surge-2", 10, 5, 0, 1, (9, 9), (0, 0), (9, 1), {}),
    ("percent-fenceposts-zero-unavailable-1", 10, 10, "0%", "0%", (10, 10), (0, 0), (9, 0), {}),
    ("surge-when-stable-unavailable", 4, 100, 1, 0, (4, 1), (0, 0), (4, 1), {}),
    ("scale-down-without-exceeding-surge", 3, 99, 0, 2, (3, 3), (0, 0), (1, 0), {}),
    ("scale-down-without-exceeding-surge-2", 3, 99, 0, 2, (1, 1), (0, 0), (1, 2), {}),
    ("unavailable-honoured-stable-unavailable", 4, 100, 1, 0, (4, 1), (1, 1), (3, 1), {}),
    ("abort-reduce-weight-1-surge-stable-first", 4, 0, 1, 0, (0, 0), (4, 4), (1, 4), {}),
    ("abort-reduce-weight-2-wait-stable-available", 4, 0, 1, 0, (1, 0), (4, 4), (1, 4), {}),
    ("abort-reduce-weight-3-one-at-a-time", 4, 0, 1, 0, (1, 1), (4, 4), (1, 3), {}),
    ("promote-full-ignores-weight", 4, 1, 4, 4, (4, 4), (0, 0), (0, 4), {"promote_full": True}),
    ("promote-full-honours-surge", 4, 1, 3, 0, (4, 4), (0, 0), (4, 3), {"promote_full": True}),
]


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "unavailable", "stable", "canary", "expected", "extra"),
    [pytest.param(*case[1:], id=case[0]) for case in CANARY_CASES],
)
def test_basic_canary_counts(
    replicas: int,
    weight: int,
    surge: int | str,
    unavailable: int | str,
    stable: tuple[int, int],
    canary: tuple[int, int],
    expected: tuple[int, int],
    extra: dict[str, Any],
) -> None:
    ro = rollout(replicas, weight, surge, unavailable)
    if extra.get("promote_full"):
        ro.status.promote_full = True
    stable_rs, canary_rs = RS("stable", *stable), RS("canary", *canary)
    older = [extra["older"]] if "older" in extra else []
    new_count, stable_count = R.desired_canary_counts(ro, canary_rs, stable_rs, older)
    assert (stable_count, new_count) == expected


TRAFFIC_CASES: list[Any] = [
    pytest.param(
        dict(replicas=1, weight=100, set_canary_scale={"replicas": 9}), (1, 9), id="setCanaryScale-replicas"
    ),
    pytest.param(
        dict(replicas=4, weight=100, set_canary_scale={"weight": 200}), (4, 8), id="setCanaryScale-weight"
    ),
    pytest.param(
        dict(
            replicas=10,
            weight=20,
            set_canary_scale={"replicas": 9, "weight": 100, "matchTrafficWeight": True},
        ),
        (10, 2),
        id="matchTrafficWeight-ignores-setCanaryScale",
    ),
    pytest.param(
        dict(
            replicas=1, weight=0, set_canary_scale={"replicas": 1}, abort=True, abortScaleDownDelaySeconds=0
        ),
        (1, 1),
        id="aborted-delay-0-keeps-setCanaryScale",
    ),
    pytest.param(
        dict(
            replicas=1, weight=0, set_canary_scale={"replicas": 1}, abort=True, abortScaleDownDelaySeconds=30
        ),
        (1, 0),
        id="aborted-delay-30-drops-setCanaryScale",
    ),
    pytest.param(dict(replicas=10, weight=5, minPodsPerReplicaSet=2), (10, 2), id="minPodsPerReplicaSet"),
    pytest.param(
        dict(replicas=1, weight=100, minPodsPerReplicaSet=2, promote_full=True),
        (1, 1),
        id="minPods-capped-at-replicas",
    ),
    pytest.param(dict(replicas=10, weight=10), (10, 1), id="ceil-weight"),
]


@pytest.mark.parametrize(("case", "expected"), TRAFFIC_CASES)
def test_traffic_routed_counts(case: dict[str, Any], expected: tuple[int, int]) -> None:
    abort = case.pop("abort", False)
    promote_full = case.pop("promote_full", False)
    ro = rollout(case.pop("replicas"), case.pop("weight"), traffic_routing={}, **case)
    ro.status.abort = abort
    ro.status.promote_full = promote_full
    canary, stable = R.calculate_replica_counts_for_traffic_routed_canary(ro, None, None, None)
    assert (stable, canary) == expected


def test_setcanaryscale_ignored_without_traffic_routing() -> None:
    ro = rollout(10, 20, "20%", 0, set_canary_scale={"replicas": 9, "weight": 100})
    assert R.desired_canary_counts(ro, RS("canary", 0, 0), RS("stable", 10, 10)) == (2, 10)


# TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale: (replicas, setWeight, abort, steps, weights
# canary/stable, canary RS spec, stable RS (spec, avail), expected canary, expected stable)
DYNAMIC = [
    pytest.param(10, 20, True, [60], (60, 40), 6, (4, 4), (6, 8), id="abort-next-step-down"),
    pytest.param(10, 20, True, [60], (60, 40), 1, (4, 4), (6, 8), id="abort-fewer-canaries-than-expected"),
    pytest.param(10, 20, True, [60], (60, 40), 2, (8, 4), (6, 8), id="abort-by-available-stable"),
    pytest.param(10, 20, True, [60], (60, 40), 0, (0, 0), (6, 10), id="abort-no-replicasets"),
    pytest.param(10, 10, False, [], (10, 90), 0, (0, 0), (1, 9), id="scale-down-stable"),
    pytest.param(10, 20, False, [], (10, 90), 0, (0, 0), (2, 9), id="desired-canary-above-actual"),
    pytest.param(10, 20, True, [], (20, 80), 0, (0, 0), (2, 10), id="abort-canary-keeps-traffic-pods"),
    pytest.param(10, 20, True, [], (10, 90), 0, (0, 0), (1, 10), id="abort-canary-shrinks-with-traffic"),
]


@pytest.mark.parametrize(
    ("replicas", "weight", "abort", "steps", "traffic", "canary_spec", "stable", "expected"), DYNAMIC
)
def test_dynamic_stable_scale(
    replicas: int,
    weight: int,
    abort: bool,
    steps: list[int],
    traffic: tuple[int, int],
    canary_spec: int,
    stable: tuple[int, int],
    expected: tuple[int, int],
) -> None:
    ro = rollout(replicas, weight, 0, 1, traffic_routing={}, dynamicStableScale=True)
    ro.spec.strategy.canary.steps += [CanaryStep(set_weight=w) for w in steps]  # type: ignore[union-attr,operator]
    ro.status.abort = abort
    weights = TrafficWeights.model_validate(
        {"canary": {"weight": traffic[0]}, "stable": {"weight": traffic[1]}}
    )
    stable_rs = RS("stable", *stable) if stable[0] > 0 else None
    canary_rs = RS("canary", canary_spec, canary_spec) if canary_spec > 0 else None
    assert R.calculate_replica_counts_for_traffic_routed_canary(ro, canary_rs, stable_rs, weights) == expected


def test_new_deployment_goes_to_full_replicas() -> None:
    """TestCalculateReplicaCountsForNewDeployment / StableRSdEdgeCases: stable == new → all replicas on new."""
    ro = rollout(10, 10, 0, 1)
    same = RS("stable", 10, 0)
    assert R.desired_canary_counts(ro, same, same) == (10, 0)
    ro2 = rollout(10, 10, 0, 1, current="", stable="")
    assert R.desired_canary_counts(ro2, RS("stable", 9, 9), None) == (10, 0)


def test_current_set_weight_and_step() -> None:
    ro = rollout(10, 10, 0, 1, current="", stable="")
    ro.status.current_step_index = 1
    assert W.get_current_set_weight(ro) == 100
    ro.status.current_step_index = 0
    assert W.get_current_set_weight(ro) == 10
    ro.status.abort = True
    assert W.get_current_set_weight(ro) == 0


@pytest.mark.parametrize(
    ("new", "stable", "weights", "expected"),
    [
        pytest.param(RS("newRS", 2, 2), RS("stableRS", 2, 2), (50, 50), True, id="at-desired"),
        pytest.param(RS("newRS", 2, 1), RS("stableRS", 2, 2), (50, 50), False, id="new-not-available"),
        pytest.param(
            RS("newRS", 2, 2), RS("stableRS", 2, 2, replicas=3), (50, 50), False, id="stable-status-lags"
        ),
    ],
)
def test_at_desired_replica_counts(new: RS, stable: RS, weights: tuple[int, int], expected: bool) -> None:
    """TestAtDesiredReplicaCountsForCanary (basic canary: setCanaryScale ignored, 4 replicas at 50 %)."""
    ro = rollout(
        4, 50, 1, 1, current="current", stable="stable", set_canary_scale={"weight": 2, "replicas": 2}
    )
    w = TrafficWeights.model_validate({"canary": {"weight": weights[0]}, "stable": {"weight": weights[1]}})
    assert R.at_desired_replica_counts_for_canary(ro, new, stable, [], w) is expected


def test_at_desired_stable_counts_not_availability() -> None:
    ro = rollout(4, 75, 1, 1, current="current", stable="stable", set_canary_scale={})
    assert not R.at_desired_replica_counts_for_canary(ro, RS("newRS", 3, 3), RS("stableRS", 2, 2))
    assert R.at_desired_replica_counts_for_canary(
        ro, RS("newRS", 3, 3, replicas=1), RS("stableRS", 1, 0, replicas=1)
    )


@pytest.mark.parametrize(
    ("threshold", "available", "desired", "met"),
    [
        pytest.param(None, 3, 3, True, id="default-all"),
        pytest.param(None, 2, 3, False, id="default-not-all"),
        pytest.param({"type": "Percent", "value": 70}, 7, 10, True, id="percent-met"),
        pytest.param({"type": "Percent", "value": 70}, 6, 10, False, id="percent-not-met"),
        pytest.param({"type": "Percent", "value": 70}, 0, 0, True, id="percent-zero-desired"),
        pytest.param({"type": "Pods", "value": 2}, 2, 10, True, id="pods"),
    ],
)
def test_replica_progress_threshold(
    threshold: dict[str, Any] | None, available: int, desired: int, met: bool
) -> None:
    t = ReplicaProgressThreshold.model_validate(threshold) if threshold else None
    assert R.replica_progress_threshold_met(t, RS("new", desired, available), desired) is met


# --------------------------------------------------------------------------------------------------------------
# Blue-green new RS size (docs/semantics/controller.md#bluegreen-preview-replica-count)
# --------------------------------------------------------------------------------------------------------------


def bluegreen(**status: Any) -> Rollout:
    return Rollout.model_validate(
        {
            "spec": {
                "replicas": 5,
                "strategy": {"blueGreen": {"activeService": "a", "previewReplicaCount": 1}},
            },
            "status": {"currentPodHash": "new", **status},
        }
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({"blueGreen": {"activeSelector": "old"}}, 1, id="preview-count-before-checkpoint"),
        pytest.param({"blueGreen": {"activeSelector": "new"}}, 5, id="already-active"),
        pytest.param({"blueGreen": {}}, 5, id="no-active-rs"),
        pytest.param({"blueGreen": {"activeSelector": "old"}, "promoteFull": True}, 5, id="promote-full"),
        pytest.param(
            {"blueGreen": {"activeSelector": "old", "scaleUpPreviewCheckPoint": True}},
            5,
            id="past-checkpoint",
        ),
        pytest.param(
            {
                "blueGreen": {"activeSelector": "old", "scaleUpPreviewCheckPoint": True},
                "pauseConditions": [{"reason": "BlueGreenPause", "startTime": "2026-01-01T00:00:00Z"}],
            },
            1,
            id="checkpoint-but-paused",
        ),
        pytest.param({"blueGreen": {"activeSelector": "old"}, "currentPodHash": "other"}, 1, id="new-update"),
    ],
)
def test_bluegreen_new_rs_replicas(status: dict[str, Any], expected: int) -> None:
    ro = bluegreen(**status)
    rss = [RS("ro-old", 5, 5, pod_template_hash="old"), RS("ro-new", 1, 1, pod_template_hash="new")]
    assert R.new_rs_new_replicas(ro, rss, rss[1]) == expected


def test_bluegreen_without_preview_count() -> None:
    ro = Rollout.model_validate({"spec": {"replicas": 3, "strategy": {"blueGreen": {"activeService": "a"}}}})
    assert R.new_rs_new_replicas(ro, [], RS("n", 0)) == 3


def test_canary_new_rs_replicas_uses_stable_from_status() -> None:
    ro = rollout(10, 20, 2, 0)
    rss = [
        RS("ro-stable", 10, 10, pod_template_hash="stable"),
        RS("ro-canary", 0, 0, pod_template_hash="canary"),
    ]
    assert R.new_rs_new_replicas(ro, rss, rss[1]) == 2


# --------------------------------------------------------------------------------------------------------------
# Hypothesis invariants: properties that hold for any input, not only the examples above
# --------------------------------------------------------------------------------------------------------------

int_or_pct = st.one_of(st.integers(0, 5), st.integers(0, 100).map(lambda p: f"{p}%"))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    replicas=st.integers(1, 20),
    weight=st.integers(0, 100),
    surge=int_or_pct,
    unavailable=int_or_pct,
    data=st.data(),
)
def test_basic_canary_invariants(
    replicas: int, weight: int, surge: int | str, unavailable: int | str, data: st.DataObject
) -> None:
    """Within limits: canary + stable ≤ replicas + maxSurge, and a pass never plans availability below
    replicas − maxUnavailable when the current RSs are fully available and within limits (docs/semantics/controller.md#fenceposts)."""
    ro = rollout(replicas, weight, surge, unavailable)
    ms, mu = W.max_surge(ro.spec), W.max_unavailable(ro.spec)
    if ms == 0 and mu == 0:
        return  # rejected by validation
    total = data.draw(st.integers(max(replicas - mu, 0), replicas + ms), label="current total")
    stable_spec = data.draw(st.integers(0, total), label="stable spec")
    canary_spec = total - stable_spec
    stable_rs, canary_rs = RS("stable", stable_spec, stable_spec), RS("canary", canary_spec, canary_spec)
    new_count, stable_count = R.desired_canary_counts(ro, canary_rs, stable_rs)
    assert new_count >= 0 and stable_count >= 0
    assert new_count + stable_count <= replicas + ms
    # pods that stay available: an RS scaled down keeps min(spec, available) pods
    available_after = min(new_count, canary_rs.available_replicas) + min(
        stable_count, stable_rs.available_replicas
    )
    assert available_after >= min(replicas - mu, total)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(replicas=st.integers(0, 50), weight=st.integers(0, 100), surge=st.integers(0, 3))
def test_approximation_invariants(replicas: int, weight: int, surge: int) -> None:
    canary, stable = R.approximate_weighted_canary_stable_replica_counts(replicas, weight, 100, surge)
    assert replicas <= canary + stable <= replicas + (1 if surge > 0 else 0) or replicas == 0
    ceil_is_all = -(-replicas * weight // 100) == replicas
    tied = (replicas * weight) % 100 == 50
    if 0 < weight < 100 and canary + stable >= 2 and not (surge == 0 and ceil_is_all and tied):
        assert canary >= 1 and stable >= 1


def test_no_candidate_falls_back_like_argo() -> None:
    """25 pods at 98 % without surge: ceil is all pods and floor is tied, so Argo's candidate list is empty and it
    returns (0, replicas) — kept as is for fidelity."""
    assert R.approximate_weighted_canary_stable_replica_counts(25, 98, 100, 0) == (0, 25)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(replicas=st.integers(1, 30), weight=st.integers(0, 100), min_pods=st.integers(1, 40))
def test_traffic_routed_invariants(replicas: int, weight: int, min_pods: int) -> None:
    ro = rollout(replicas, weight, traffic_routing={}, minPodsPerReplicaSet=min_pods)
    canary, stable = R.calculate_replica_counts_for_traffic_routed_canary(ro, None, None, None)
    assert stable == replicas
    assert canary <= replicas
    assert canary == 0 or canary >= min(min_pods, replicas)
