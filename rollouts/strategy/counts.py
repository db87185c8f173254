"""PURE replica arithmetic: how many pods the canary (new) and stable ReplicaSets should have (docs/semantics/controller.md#replica-arithmetic).

Sits inside `decide`: the canary and blue-green decisions call these functions with the `Rollout` (whose status
carries stableRS, currentPodHash, currentStepIndex, abort, promoteFull) and the observed ReplicaSets, and turn
the answers into `ScaleReplicaSet` actions. Everything mirrors Argo's `utils/replicaset/canary.go` and
`replicaset.go`, including its float64 rounding (Python floats are the same IEEE doubles), so a manifest scales
exactly as it would under Argo.

How to use (strategy decisions):

* ReplicaSets are anything with ``name``, ``pod_template_hash``, ``spec_replicas``, ``replicas`` (status) and
  ``available_replicas`` (`rollouts.models.observed.ReplicaSetLike`) — `rollouts.strategy.plan.ReplicaSetState`
  fits, so does `rollouts.models.observed.RS` (tests).
* Canary: ``desired_canary_counts(ro, new_rs, stable_rs, older_rss, weights)`` → (new, stable) picks basic vs
  traffic-routed; ``at_desired_replica_counts_for_canary(...)`` is the setWeight/setCanaryScale completion test.
* Blue-green and canary alike: ``new_rs_new_replicas(ro, all_rss, new_rs, weights)`` (previewReplicaCount
  until the preview checkpoint, docs/semantics/controller.md#bluegreen).
* Which weight is in force (``get_canary_replicas_or_weight``, ``get_desired_canary_weight``, …) and the
  maxSurge/maxUnavailable fenceposts are the module below this one, `rollouts.strategy.weights`.

Worked examples are in each docstring (they run as doctests in tests/strategy/test_replicas.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rollouts.models import ReplicaProgressThreshold, Rollout, TrafficWeights
from rollouts.models.observed import ReplicaSetLike
from rollouts.models.vocabulary import DEFAULT_MAX_TRAFFIC_WEIGHT
from rollouts.strategy.weights import (
    get_canary_replicas_or_weight,
    max_surge,
    max_unavailable,
    traffic_weight_to_replicas,
)

__all__ = [
    "approximate_weighted_canary_stable_replica_counts",
    "at_desired_replica_counts_for_canary",
    "calculate_replica_counts_for_basic_canary",
    "calculate_replica_counts_for_traffic_routed_canary",
    "check_min_pods_per_replica_set",
    "desired_canary_counts",
    "find_stable_rs",
    "new_rs_new_replicas",
    "replica_progress_threshold_met",
]


# Basic canary (no traffic routing): the weight is approximated by pod counts
# ---------------------------------------------------------------------------------------------------------------


def _tied(weight: int, max_weight: int, total: int) -> bool:
    """floorCeilingTied: total × weight/max has a fractional part of exactly 0.5 (Go float64 semantics)."""
    frac, _ = math.modf(float(total) * (float(weight) / float(max_weight)))
    return frac == 0.5


def _delta(weight: int, max_weight: int, canary: int, total: int) -> float:
    return abs(float(canary * max_weight) / float(total) - float(weight))


def approximate_weighted_canary_stable_replica_counts(
    replicas: int, weight: int, max_weight: int, max_surge: int
) -> tuple[int, int]:
    """(canary, stable) pod counts closest to `weight`; the pair may sum to replicas + 1 when surge > 0.

    For 0 < weight < max with ≥ 2 pods (surge included) neither side is 0 (docs/semantics/controller.md#fenceposts step 1).

    >>> approximate_weighted_canary_stable_replica_counts(10, 5, 100, 0)
    (1, 9)
    >>> approximate_weighted_canary_stable_replica_counts(10, 24, 100, 1)  # 3/11 = 27.2 % beats 2/10
    (3, 8)
    >>> approximate_weighted_canary_stable_replica_counts(3, 50, 100, 0)  # tie: the larger canary wins
    (2, 1)
    >>> approximate_weighted_canary_stable_replica_counts(1, 49, 100, 0)
    (0, 1)

    Edge kept from Argo: without surge, when ceil is all pods and the floor is tied (25 pods at 98 %), no
    candidate qualifies and the answer is (0, replicas).
    """
    if replicas == 0:
        return 0, 0
    ceil_c = math.ceil(float(replicas * weight) / float(max_weight))
    floor_c = math.floor(float(replicas * weight) / float(max_weight))
    extremes = weight == max_weight or weight == 0 or (replicas == 1 and max_surge == 0)
    options: list[tuple[int, int]] = []
    if ceil_c < replicas or extremes:
        options.append((ceil_c, replicas))
    if not _tied(weight, max_weight, replicas) and (floor_c != 0 or extremes):
        options.append((floor_c, replicas))
    if max_surge > 0:
        options.append((ceil_c, replicas + 1))
        if not _tied(weight, max_weight, replicas + 1) and (floor_c != 0 or extremes):
            options.append((floor_c, replicas + 1))
    if not options:
        return 0, replicas
    best = options[0]
    best_delta = _delta(weight, max_weight, *best)
    for option in options[1:]:
        d = _delta(weight, max_weight, *option)
        if d < best_delta:
            best, best_delta = option, d
    return best[0], best[1] - best[0]


def _replicas_for_scale_down(rs: ReplicaSetLike | None, ignore_availability: bool) -> int:
    """GetReplicasForScaleDown: spec when spec < available or availability ignored, else available."""
    if rs is None:
        return 0
    if rs.spec_replicas < rs.available_replicas or ignore_availability:
        return rs.spec_replicas
    return rs.available_replicas


def _adjust_within_limits(
    drain: ReplicaSetLike | None,
    adjust: ReplicaSetLike | None,
    drain_count: int,
    adjust_count: int,
    max_total: int,
    min_available: int,
) -> tuple[int, int]:
    """adjustReplicaWithinLimits: trim `adjust` to stay within maxSurge, give back what availability needs."""
    over = max(0, adjust_count + drain_count - max_total)
    total_available = min(drain.available_replicas, drain_count) if drain is not None else 0
    if adjust is not None:
        adjust_count -= over
        total_available += min(adjust.available_replicas, adjust_count)
        extra_available = max(0, adjust.available_replicas - adjust_count)
        missing = max(0, min_available - total_available)
        adjust_count += min(extra_available, missing)
        over = max(0, adjust_count + drain_count - max_total)
        drain_count -= over
    return drain_count, adjust_count


def calculate_replica_counts_for_basic_canary(
    *,
    replicas: int,
    weight: int,
    max_surge: int,
    max_unavailable: int,
    new_rs: ReplicaSetLike | None,
    stable_rs: ReplicaSetLike | None,
    older_rss: Sequence[ReplicaSetLike] = (),
    max_weight: int = DEFAULT_MAX_TRAFFIC_WEIGHT,
) -> tuple[int, int]:
    """(new RS, stable RS) replica counts for this pass of a basic canary (docs/semantics/controller.md#basic-canary steps 1–5).

    `weight` is the desired weight (see `get_canary_replicas_or_weight`); surge/unavailable are resolved pods.

    >>> from rollouts.models.observed import RS
    >>> stable, canary = RS("stable", 10, 10), RS("canary", 0, 0)
    >>> calculate_replica_counts_for_basic_canary(replicas=10, weight=10, max_surge=1, max_unavailable=1,
    ...     new_rs=canary, stable_rs=stable)
    (1, 9)
    >>> calculate_replica_counts_for_basic_canary(replicas=10, weight=30, max_surge=3, max_unavailable=0,
    ...     new_rs=canary, stable_rs=stable)
    (3, 10)
    >>> calculate_replica_counts_for_basic_canary(replicas=10, weight=30, max_surge=0, max_unavailable=5,
    ...     new_rs=canary, stable_rs=stable)
    (0, 7)
    """
    desired_new, desired_stable = approximate_weighted_canary_stable_replica_counts(
        replicas, weight, max_weight, max_surge
    )
    new_count = new_rs.spec_replicas if new_rs is not None else 0
    stable_count = 0
    scale_stable = _stable_rs_exists(new_rs, stable_rs)
    if scale_stable:
        assert stable_rs is not None
        stable_count = stable_rs.spec_replicas
    else:
        # no stable RS, or stable == new: no steps, straight to 100 %
        desired_new, desired_stable = replicas, 0
    max_total = replicas + max_surge
    all_rss: list[ReplicaSetLike | None] = [*older_rss, new_rs]
    if scale_stable:
        all_rss.append(stable_rs)
    scale_up = max_total - sum(rs.spec_replicas for rs in all_rss if rs is not None)

    if scale_stable and stable_rs is not None and stable_rs.spec_replicas < desired_stable and scale_up > 0:
        if stable_rs.spec_replicas + scale_up < desired_stable:
            stable_count = stable_rs.spec_replicas + scale_up
            scale_up = 0
        else:
            stable_count = desired_stable
            scale_up -= desired_stable - stable_rs.spec_replicas

    if new_rs is not None and new_rs.spec_replicas < desired_new and scale_up > 0:
        new_count = min(new_rs.spec_replicas + scale_up, desired_new)

    if sum(rs.spec_replicas for rs in older_rss) > 0:
        return new_count, stable_count  # older RSs are scaled down first

    min_available = replicas - max_unavailable
    increasing = new_rs is None or desired_new >= new_rs.spec_replicas
    pool = _replicas_for_scale_down(new_rs, not increasing) + _replicas_for_scale_down(stable_rs, increasing)
    if pool <= min_available:
        return new_count, stable_count
    scale_down = pool - min_available
    if not increasing:
        if new_rs is not None and new_rs.spec_replicas > desired_new:
            new_count = max(desired_new, new_rs.spec_replicas - scale_down)
        new_count, stable_count = _adjust_within_limits(
            new_rs, stable_rs, new_count, stable_count, max_total, min_available
        )
    elif scale_stable:
        if stable_rs is not None and stable_rs.spec_replicas > desired_stable:
            stable_count = max(desired_stable, stable_rs.spec_replicas - scale_down)
        stable_count, new_count = _adjust_within_limits(
            stable_rs, new_rs, stable_count, new_count, max_total, min_available
        )
    return new_count, stable_count


def _stable_rs_exists(new_rs: ReplicaSetLike | None, stable_rs: ReplicaSetLike | None) -> bool:
    """CheckStableRSExists: a stable RS that is not the new RS."""
    if stable_rs is None:
        return False
    return new_rs is None or new_rs.name != stable_rs.name


# ---------------------------------------------------------------------------------------------------------------
# Traffic-routed canary: the router splits traffic, pods only need capacity
# ---------------------------------------------------------------------------------------------------------------


def check_min_pods_per_replica_set(ro: Rollout, count: int) -> int:
    """Raise a non-zero count to minPodsPerReplicaSet (capped at replicas); traffic routing only."""
    c = ro.spec.strategy.canary
    if count == 0 or c is None or c.min_pods_per_replica_set is None or c.traffic_routing is None:
        return count
    return max(count, min(c.min_pods_per_replica_set, ro.spec.replicas_or_default()))


def calculate_replica_counts_for_traffic_routed_canary(
    ro: Rollout,
    new_rs: ReplicaSetLike | None,
    stable_rs: ReplicaSetLike | None,
    weights: TrafficWeights | None,
) -> tuple[int, int]:
    """(new RS, stable RS) counts with traffic routing (docs/semantics/controller.md#traffic-routed-canary "Traffic-routed canary").

    canary = setCanaryScale.replicas, else ceil(weight × replicas / max) (≥ minPodsPerReplicaSet); the stable
    stays at replicas unless dynamicStableScale, where it follows max(desired, actual) stable weight, and on
    abort the canary keeps the pods its actual traffic weight needs. `weights` = status.canary.weights.

    >>> ro = Rollout.model_validate({"spec": {"replicas": 10, "strategy": {"canary": {
    ...     "trafficRouting": {}, "steps": [{"setWeight": 5}]}}}, "status": {"stableRS": "s", "currentPodHash": "c"}})
    >>> calculate_replica_counts_for_traffic_routed_canary(ro, None, None, None)
    (1, 10)
    """
    replicas = ro.spec.replicas_or_default()
    explicit, weight = get_canary_replicas_or_weight(ro, new_rs, stable_rs)
    max_weight = ro.spec.max_traffic_weight()
    if explicit is not None:
        canary = explicit
    else:
        canary = check_min_pods_per_replica_set(ro, traffic_weight_to_replicas(replicas, weight, max_weight))
    c = ro.spec.strategy.canary
    if c is None or not c.dynamic_stable_scale:
        return canary, replicas
    stable = traffic_weight_to_replicas(replicas, max_weight - weight, max_weight)
    if weights is not None:
        stable = max(stable, traffic_weight_to_replicas(replicas, weights.stable.weight, max_weight))
        if ro.status.abort:
            canary = max(traffic_weight_to_replicas(replicas, weights.canary.weight, max_weight), canary)
    return check_min_pods_per_replica_set(ro, canary), check_min_pods_per_replica_set(ro, stable)


def desired_canary_counts(
    ro: Rollout,
    new_rs: ReplicaSetLike | None,
    stable_rs: ReplicaSetLike | None,
    older_rss: Sequence[ReplicaSetLike] = (),
    weights: TrafficWeights | None = None,
) -> tuple[int, int]:
    """(new RS, stable RS) counts for this pass: basic or traffic-routed, per the Rollout's strategy."""
    if ro.spec.traffic_routing is not None:
        return calculate_replica_counts_for_traffic_routed_canary(ro, new_rs, stable_rs, weights)
    _, weight = get_canary_replicas_or_weight(ro, new_rs, stable_rs)
    return calculate_replica_counts_for_basic_canary(
        replicas=ro.spec.replicas_or_default(),
        weight=weight,
        max_surge=max_surge(ro.spec),
        max_unavailable=max_unavailable(ro.spec),
        new_rs=new_rs,
        stable_rs=stable_rs,
        older_rss=older_rss,
        max_weight=ro.spec.max_traffic_weight(),
    )


# ---------------------------------------------------------------------------------------------------------------
# Step completion and new-RS size
# ---------------------------------------------------------------------------------------------------------------


def replica_progress_threshold_met(
    threshold: ReplicaProgressThreshold | None, rs: ReplicaSetLike | None, desired: int
) -> bool:
    """Enough of the new RS is available (default: all desired pods, spec == desired == available)."""
    if threshold is None or rs is None or threshold.value < 0:
        return rs is not None and rs.spec_replicas == desired and rs.available_replicas == desired
    if threshold.type == "Percent":
        if desired == 0:
            return True
        pct = float(rs.available_replicas) / float(desired) * 100
        return pct >= float(threshold.value) or abs(pct - float(threshold.value)) <= 1e-10
    return rs.available_replicas >= threshold.value


def at_desired_replica_counts_for_canary(
    ro: Rollout,
    new_rs: ReplicaSetLike | None,
    stable_rs: ReplicaSetLike | None,
    older_rss: Sequence[ReplicaSetLike] = (),
    weights: TrafficWeights | None = None,
) -> bool:
    """setWeight/setCanaryScale completion test (`AtDesiredReplicaCountsForCanary`, docs/semantics/controller.md#canary-steps).

    New RS meets its threshold; the stable RS has exactly its desired pods created (not with dynamicStableScale);
    basic canary: older RSs have no available pods left.
    """
    c = ro.spec.strategy.canary
    assert c is not None, "at_desired_replica_counts_for_canary needs a canary rollout"
    desired_new, desired_stable = desired_canary_counts(ro, new_rs, stable_rs, older_rss, weights)
    if not replica_progress_threshold_met(c.replica_progress_threshold, new_rs, desired_new):
        return False
    if (c.traffic_routing is None or not c.dynamic_stable_scale) and not (
        stable_rs is not None
        and stable_rs.spec_replicas == desired_stable
        and stable_rs.replicas == desired_stable
    ):
        return False
    return not (c.traffic_routing is None and sum(rs.available_replicas for rs in older_rss) != 0)


def new_rs_new_replicas(
    ro: Rollout,
    all_rss: Iterable[ReplicaSetLike],
    new_rs: ReplicaSetLike,
    weights: TrafficWeights | None = None,
) -> int:
    """Desired size of the new RS (`NewRSNewReplicas`).

    Blue-green: replicas, or previewReplicaCount until the preview checkpoint — i.e. while the active service
    still points at another RS, without promoteFull, and not (unpaused and scaleUpPreviewCheckPoint) (docs/semantics/controller.md#bluegreen-preview-replica-count).
    Canary: the new-RS half of `desired_canary_counts`.
    """
    spec, st = ro.spec, ro.status
    rss = list(all_rss)
    bg = spec.strategy.blue_green
    if bg is not None:
        replicas = spec.replicas_or_default()
        if bg.preview_replica_count is None:
            return replicas
        active = next(
            (
                rs
                for rs in rss
                if st.blue_green.active_selector and rs.pod_template_hash == st.blue_green.active_selector
            ),
            None,
        )
        if active is None or active.name == new_rs.name or st.promote_full:
            return replicas
        if new_rs.pod_template_hash != st.current_pod_hash:
            return bg.preview_replica_count  # a new update
        if not spec.paused and not st.pause_conditions and st.blue_green.scale_up_preview_check_point:
            return replicas
        return bg.preview_replica_count
    stable = find_stable_rs(ro, new_rs, rss)
    others = [rs for rs in rss if rs.name not in {new_rs.name, stable.name if stable else ""}]
    new_count, _ = desired_canary_counts(ro, new_rs, stable, others, weights)
    return new_count


def find_stable_rs(
    ro: Rollout, new_rs: ReplicaSetLike | None, rss: Sequence[ReplicaSetLike]
) -> ReplicaSetLike | None:
    """GetStableRS: the RS whose pod-template hash is status.stableRS (the new RS first)."""
    stable_hash = ro.status.stable_rs
    if not stable_hash:
        return None
    if new_rs is not None and new_rs.pod_template_hash == stable_hash:
        return new_rs
    return next((rs for rs in rss if rs.pod_template_hash == stable_hash), None)
