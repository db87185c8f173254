"""Traffic weights of a traffic-routed canary for one pass (docs/semantics/controller.md#traffic-weights, `rollout/trafficrouting.go`).

Where it sits: `canary.decide_canary` calls `reconcile_traffic` after the Services and before analysis and
scaling. It decides the canary weight (0 when fully promoted, aborted or with no available canary pods; the
*previous* step's setWeight while the canary ReplicaSets are not yet at their desired counts; the current
setWeight once they are; the max weight at the end of the steps), writes `status.canary.weights`, emits the
`TrafficWeightUpdated` event, and asks `rollouts.traffic` for the router edits (`EditRouter` actions). A router
error (a VirtualService without the named route, a missing object, …) becomes the InvalidSpec condition (as
Argo's reference validation does), never an exception out of `decide`.
"""

from __future__ import annotations

from dataclasses import replace

from rollouts.models import CanaryStep, WeightDestination
from rollouts.strategy import counts as arith
from rollouts.strategy import steps
from rollouts.strategy.context import Context, copy_json
from rollouts.strategy.errors import SpecError
from rollouts.strategy.memo import Memo, json_key
from rollouts.strategy.plan import JSON
from rollouts.strategy.weights import get_desired_canary_weight
from rollouts.traffic import (
    TrafficRoutingError,
    cross_namespace_message,
    ingress_reference_error,
    route_edits,
)
from rollouts.traffic.base import EditRouter

# The router edits per exact input: the controller decides the same rollout over and over with the same
# routers (every settling pass, every resync), and computing the edits deep-copies each router object. Bounded LRU.
_EDITS: Memo[tuple[EditRouter, ...]] = Memo(2048)

_Step = tuple[int, CanaryStep] | None
"""The current step (index, step) whose header/mirror routes the router edits apply; None for none."""


def cross_namespace_error(ctx: Context) -> str | None:
    """A validation error when the Rollout names a router object outside its namespace and the controller does
    not allow it (`Observed.cross_namespace_routing`); checked before anything is created or edited."""
    if ctx.traffic_routing is None or ctx.observed.cross_namespace_routing:
        return None
    try:
        return cross_namespace_message(ctx.observed.rollout)
    except TrafficRoutingError as e:  # routers named in a form they cannot be read from: the spec's own error
        return str(e)


def ingress_error(ctx: Context) -> str | None:
    """Argo's checks of the NGINX / ALB Ingresses the Rollout names, on every pass (`rollouts.traffic`)."""
    if ctx.canary is None:
        return None
    return ingress_reference_error(ctx.observed.rollout, ctx.observed.routers)


def desired_weight(ctx: Context) -> tuple[int, bool]:
    """(desired canary weight, remove managed routes) per docs/semantics/controller.md#traffic-weights."""
    new = ctx.new_rs
    if ctx.fully_promoted:
        return 0, True
    if ctx.aborted:
        return abort_weight(ctx), True
    if new is None or new.available_replicas == 0:
        return 0, True
    if ctx.status.promote_full:
        if ctx.dynamic_stable_scale:
            return ctx.max_weight * new.available_replicas // max(ctx.replicas, 1), True
        weights = ctx.status.canary.weights
        return (weights.canary.weight if weights is not None else 0), True
    _step, idx = ctx.current_step()
    if idx is None:
        return 0, False
    if not steps.at_desired_counts(ctx):
        return steps.previous_set_weight(ctx, idx), False
    if idx != len(ctx.steps):
        return steps.current_set_weight(ctx), False
    return ctx.max_weight, False


def abort_weight(ctx: Context) -> int:
    """`calculateDesiredWeightOnAbortOrStableRollback` (docs/semantics/controller.md#replica-arithmetic/docs/semantics/controller.md#traffic-weights): 0, or with dynamicStableScale a weight that
    steps down as the stable ReplicaSet regains available pods."""
    new, stable, replicas = ctx.new_rs, ctx.stable_rs, ctx.replicas
    if not ctx.dynamic_stable_scale or new is None or stable is None or replicas == 0:
        return 0
    max_w = ctx.max_weight
    desired = get_desired_canary_weight(ctx.observed.rollout, new, stable)
    stable_w = max_w * stable.available_replicas // replicas
    expected = max(0, max_w - stable_w)
    prev = ctx.status.canary.weights
    if prev is None:
        return max(expected, desired)
    current = prev.canary.weight
    if desired <= 0:
        return min(expected, current)
    if stable_w < max_w - desired:
        return current
    return min(desired, current)


def _stable_can_take(ctx: Context, weight: int) -> bool:
    """`checkReplicasAvailable(stableRS, max - desired)`."""
    rs = ctx.stable_rs
    if rs is None:
        return False
    desired = weight * ctx.replicas // ctx.max_weight
    if rs.available_replicas >= desired:
        return True
    threshold = ctx.canary.replica_progress_threshold if ctx.canary is not None else None
    return threshold is not None and arith.replica_progress_threshold_met(threshold, rs, desired)


def reconcile_traffic(ctx: Context, st: JSON) -> None:
    can = st.setdefault("canary", {})
    if ctx.traffic_routing is None or not ctx.traffic_routing.kinds():
        # `trafficRouting: {}` names no router: the canary is still traffic-routed (Argo tests the pointer), but
        # there is nothing to set a weight on, and Argo leaves the weights out ("No TrafficRouting Reconcilers
        # found", rollout/trafficrouting.go).
        can.pop("weights", None)
        return
    weight, remove_routes = desired_weight(ctx)
    if not _stable_can_take(ctx, ctx.max_weight - weight):
        return
    canary_hash = ctx.new_rs.pod_template_hash if ctx.new_rs is not None else ""
    stable_hash = ctx.stable_rs.pod_template_hash if ctx.stable_rs is not None else ""
    c = ctx.canary
    assert c is not None  # traffic routing is a canary's
    weights: JSON = {
        "canary": {
            "weight": weight,
            "podTemplateHash": canary_hash,
            "serviceName": c.canary_service or "",
        },
        "stable": {
            "weight": ctx.max_weight - weight,
            "podTemplateHash": stable_hash,
            "serviceName": c.stable_service or "",
        },
    }
    step, idx = ctx.current_step()
    header_step = (idx, step) if step is not None and idx is not None and ctx.revision > 1 else None
    additional = [] if remove_routes or idx == len(ctx.steps) else experiment_destinations(ctx)
    if additional:
        weights["additional"] = [d.to_wire() for d in additional]
        weights["stable"]["weight"] -= sum(d.weight for d in additional)
    _route_actions(ctx, weight, remove_routes, header_step, additional)
    # the stored weights as written: they are kept as they are when unchanged
    prev = (ctx.stored.get("canary") or {}).get("weights")
    prev_cmp = {k: v for k, v in (prev or {}).items() if k != "verified"}
    if prev is None or prev_cmp != weights:
        if prev is None:
            detail = f"to {weight}"
        else:
            detail = f"from {(prev.get('canary') or {}).get('weight', 0)} to {weight}"
        if prev is None or (prev.get("canary") or {}).get("weight") != weight:
            ctx.event("TrafficWeightUpdated", f"Traffic weight updated {detail}")
        can["weights"] = weights
    else:
        can["weights"] = prev


def experiment_destinations(ctx: Context) -> list[WeightDestination]:
    """`calculateWeightDestinationsFromExperiment`: while the experiment of the last experiment step at or before
    the current one is Running, each of its templates with a `weight` gets that share, through the Service and
    pod hash the Experiment reports for it (docs/semantics/experiments.md#experiment-step)."""
    _, idx = ctx.current_step()
    if idx is None or idx >= len(ctx.steps):
        return []
    step = next((s.experiment for s in reversed(ctx.steps[: idx + 1]) if s.experiment is not None), None)
    current = ctx.current_experiment()
    if step is None or current is None or current.phase != "Running":
        return []
    weights = {t.name: t.weight for t in step.templates}
    return [
        WeightDestination(weight=int(w), service_name=t.service_name, pod_template_hash=t.pod_template_hash)
        for t in current.templates
        if (w := weights.get(t.name)) is not None
    ]


def _edits_key(
    ctx: Context, weight: int, remove_routes: bool, step: _Step, additional: list[WeightDestination]
) -> str | None:
    """Everything `route_edits` reads, as JSON: the rollout (`Observed.rollout` is the parse of its wire JSON),
    the router objects in their order, and the arguments (the step by its index: the rollout holds the steps).
    None (no caching) when something is not JSON."""
    return json_key(
        [
            ctx.observed.rollout_raw,
            [[list(k), v] for k, v in ctx.observed.routers.items()],
            weight,
            ctx.new_rs.pod_template_hash if ctx.new_rs else "",
            ctx.stable_rs.pod_template_hash if ctx.stable_rs else "",
            step[0] if step is not None else None,
            remove_routes,
            [d.to_wire() for d in additional],
        ]
    )


def _handed_out(edits: tuple[EditRouter, ...]) -> list[EditRouter]:
    """Private copies of the objects to write, so no two plans share one (none to copy in the steady state)."""
    return [replace(e, obj=copy_json(e.obj)) if e.obj is not None else e for e in edits]


def _route_edits(
    ctx: Context, weight: int, remove_routes: bool, step: _Step, additional: list[WeightDestination]
) -> list[EditRouter]:
    """`route_edits` for this pass, through the cache (a hit returns exactly what computing them would)."""
    key = _edits_key(ctx, weight, remove_routes, step, additional)
    cached = _EDITS.get(key)
    if cached is not None:
        return _handed_out(cached)
    edits = route_edits(
        ctx.observed.rollout,
        ctx.observed.routers,
        canary_weight=weight,
        canary_hash=ctx.new_rs.pod_template_hash if ctx.new_rs else "",
        stable_hash=ctx.stable_rs.pod_template_hash if ctx.stable_rs else "",
        additional=additional,
        step=step[1] if step is not None else None,
        remove_managed_routes=remove_routes,
    )
    _EDITS.put(key, tuple(_handed_out(tuple(edits))))
    return edits


def _route_actions(
    ctx: Context, weight: int, remove_routes: bool, step: _Step, additional: list[WeightDestination]
) -> None:
    """Ask the pure router edits for the objects to write (nothing when they already say this)."""
    try:
        edits = _route_edits(ctx, weight, remove_routes, step, additional)
    except TrafficRoutingError as e:
        # Argo rejects such routers in its reference validation: the rollout shows InvalidSpec and stops here
        raise SpecError(str(e)) from e
    ctx.actions.extend(edits)
