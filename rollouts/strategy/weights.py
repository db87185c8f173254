"""PURE weight selection and fenceposts: which canary weight (or setCanaryScale) is in force, and how many pods
maxSurge/maxUnavailable allow (docs/semantics/controller.md#fenceposts "Inputs" and "maxSurge/maxUnavailable resolution").

Sits under `rollouts.strategy.counts` (which re-exports everything here): the replica arithmetic asks this
module for the weight of the current step, and the canary decisions use the same answers for traffic (docs/semantics/controller.md#traffic-weights).
Mirrors Argo's `utils/replicaset/canary.go` (GetCurrentCanaryStep … GetCanaryReplicasOrWeight) and
`replicaset.go` (resolveFenceposts, MaxSurge, MaxUnavailable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rollouts.models import CanaryStep, Rollout, RolloutSpec, SetCanaryScale
from rollouts.models.observed import ReplicaSetLike
from rollouts.models.scalars import int_or_percent

__all__ = [
    "current_set_weight",
    "current_step_index",
    "get_canary_replicas_or_weight",
    "get_current_canary_step",
    "get_current_set_weight",
    "get_desired_canary_weight",
    "max_surge",
    "max_unavailable",
    "resolve_fenceposts",
    "traffic_weight_to_replicas",
    "use_set_canary_scale",
]


# ---------------------------------------------------------------------------------------------------------------
# maxSurge / maxUnavailable (utils/replicaset/replicaset.go resolveFenceposts, MaxSurge, MaxUnavailable)
# ---------------------------------------------------------------------------------------------------------------


def resolve_fenceposts(
    surge: int | str | None, unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods: surge rounded up, unavailable down; both 0 → unavailable 1 (docs/semantics/controller.md#fenceposts).

    >>> resolve_fenceposts("25", "25", 10)
    (3, 2)
    >>> resolve_fenceposts("0%", "0%", 10)
    (0, 1)
    >>> resolve_fenceposts(1, 0, 4)
    (1, 0)

    An unparseable value resolves both to 0, as Argo does (validation reports the field).
    """
    try:
        s = int_or_percent(0 if surge is None else surge, desired, True)
        u = int_or_percent(0 if unavailable is None else unavailable, desired, False)
    except ValueError:
        return 0, 0
    if s == 0 and u == 0:
        u = 1
    return s, u


def max_surge(spec: RolloutSpec) -> int:
    """Resolved maxSurge of a canary (0 for blue-green, which never surges)."""
    if spec.strategy.canary is None:
        return 0
    s, _ = resolve_fenceposts(
        spec.max_surge_or_default(), spec.max_unavailable_or_default(), spec.replicas_or_default()
    )
    return s


def max_unavailable(spec: RolloutSpec) -> int:
    """Resolved maxUnavailable, capped at replicas; 0 when replicas is 0.

    >>> max_unavailable(RolloutSpec.model_validate({"replicas": 10, "strategy": {"canary": {}}}))
    2
    >>> max_unavailable(RolloutSpec.model_validate({"replicas": 3, "strategy": {"blueGreen": {"maxUnavailable": 5}}}))
    3
    """
    replicas = spec.replicas_or_default()
    if replicas == 0:
        return 0
    if spec.strategy.canary is not None:
        _, u = resolve_fenceposts(spec.max_surge_or_default(), spec.max_unavailable_or_default(), replicas)
    else:
        try:
            u = int_or_percent(spec.max_unavailable_or_default(), replicas, False)
        except ValueError:
            u = 0
    return min(u, replicas)


# ---------------------------------------------------------------------------------------------------------------
# Steps and weights (utils/replicaset/canary.go GetCurrentCanaryStep … GetCanaryReplicasOrWeight)
# ---------------------------------------------------------------------------------------------------------------


def current_step_index(step_count: int, stored_index: int | None) -> int | None:
    """`GetCurrentCanaryStep`'s index, the one rule for the controller, `plan` and the plugin: None for a
    canary without steps, else `status.currentStepIndex` (unset: 0); an index ≥ `step_count` is past the last
    step.

    >>> current_step_index(0, 3), current_step_index(4, None), current_step_index(4, 4)
    (None, 0, 4)
    """
    if step_count == 0:
        return None
    return stored_index or 0


def current_set_weight(
    set_weights: Sequence[int | None], stored_index: int | None, *, aborted: bool, max_weight: int
) -> int:
    """`GetCurrentSetWeight`, the one rule for the controller, `plan` and the plugin: 0 when aborted; the
    maximum weight without steps or past the last one; else the nearest setWeight at or before the current step
    (0 if none). `set_weights` holds each step's setWeight (None for a step without one).

    >>> current_set_weight([10, None, 50, None], 3, aborted=False, max_weight=100)
    50
    >>> current_set_weight([10, None], 2, aborted=False, max_weight=100), current_set_weight([10], 0, aborted=True, max_weight=100)
    (100, 0)
    """
    if aborted:
        return 0
    index = current_step_index(len(set_weights), stored_index)
    if index is None or index >= len(set_weights):
        return max_weight
    for weight in reversed(set_weights[: index + 1]):
        if weight is not None:
            return weight
    return 0


def get_current_canary_step(ro: Rollout) -> tuple[CanaryStep | None, int | None]:
    """(current step, index) (`current_step_index`). No steps → (None, None); past the last → (None, index)."""
    steps = ro.spec.steps
    index = current_step_index(len(steps), ro.status.current_step_index)
    if index is None or index >= len(steps):
        return None, index
    return steps[index], index


def get_current_set_weight(ro: Rollout) -> int:
    """`current_set_weight` of a typed Rollout."""
    return current_set_weight(
        [s.set_weight for s in ro.spec.steps],
        ro.status.current_step_index,
        aborted=ro.status.abort,
        max_weight=ro.spec.max_traffic_weight(),
    )


def use_set_canary_scale(ro: Rollout) -> SetCanaryScale | None:
    """The setCanaryScale in force (traffic routing only), or None.

    The most recent setCanaryScale at or before the current step applies, unless it has matchTrafficWeight;
    ignored on abort unless abortScaleDownDelaySeconds is 0 (leave the canary up) (docs/semantics/controller.md#replica-arithmetic).
    """
    c = ro.spec.strategy.canary
    if c is None or c.traffic_routing is None:
        return None
    if ro.status.abort:
        seconds, _ = ro.spec.abort_scale_down_delay_seconds_or_default()
        if seconds is not None:
            return None
    step, index = get_current_canary_step(ro)
    if step is None or index is None:
        return None
    for s in reversed(ro.spec.steps[: index + 1]):
        if s.set_canary_scale is None:
            continue
        if s.set_canary_scale.match_traffic_weight:
            return None
        return s.set_canary_scale
    return None


def traffic_weight_to_replicas(replicas: int, weight: int, max_weight: int) -> int:
    """ceil(weight × replicas / maxWeight).

    >>> [traffic_weight_to_replicas(10, w, 100) for w in (0, 20, 25, 33, 99, 100)]
    [0, 2, 3, 4, 10, 10]
    """
    return math.ceil(float(weight) * float(replicas) / float(max_weight))


def get_desired_canary_weight(
    ro: Rollout, new_rs: ReplicaSetLike | None, stable_rs: ReplicaSetLike | None
) -> int:
    """The current setWeight, or — aborted with dynamicStableScale — the gradual abort weight (docs/semantics/controller.md#replica-arithmetic).

    Abort + dynamicStableScale: the canary must shrink as the stable grows, so the weight steps down through the
    setWeight steps: the first step (from the end) whose pod count is below the canary's size.
    """
    c = ro.spec.strategy.canary
    if (
        ro.status.abort
        and c is not None
        and c.dynamic_stable_scale
        and new_rs is not None
        and stable_rs is not None
    ):
        max_weight = ro.spec.max_traffic_weight()
        replicas = ro.spec.replicas_or_default()
        expected_canary = replicas - stable_rs.available_replicas
        canary_size = max(expected_canary, new_rs.available_replicas)
        if ro.spec.has_explicit_abort_scale_down_delay():
            canary_size = (
                expected_canary  # the canary stays up until its deadline; do not let it hold the weight
            )
        for step in reversed(ro.spec.steps):
            if (
                step.set_weight is not None
                and traffic_weight_to_replicas(replicas, step.set_weight, max_weight) < canary_size
            ):
                return step.set_weight
        return 0
    return get_current_set_weight(ro)


def get_canary_replicas_or_weight(
    ro: Rollout, new_rs: ReplicaSetLike | None, stable_rs: ReplicaSetLike | None
) -> tuple[int | None, int]:
    """(explicit canary replicas or None, weight). Full weight when promoting fully, on the first deploy
    (no stableRS) or when the current template is the stable one; else setCanaryScale; else the setWeight."""
    st = ro.status
    if st.promote_full or not st.stable_rs or st.current_pod_hash == st.stable_rs:
        return None, ro.spec.max_traffic_weight()
    scs = use_set_canary_scale(ro)
    if scs is not None:
        if scs.replicas is not None:
            return scs.replicas, 0
        if scs.weight is not None:
            return None, scs.weight
    return None, get_desired_canary_weight(ro, new_rs, stable_rs)


# ---------------------------------------------------------------------------------------------------------------
