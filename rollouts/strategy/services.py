"""The stable, canary, active and preview Services: which ReplicaSet each selects (`rollout/service.go`).

Called by `canary` and `bluegreen` during a pass; emits `SetServiceSelector` actions and the `SwitchService` event
(docs/semantics/controller.md#canary-steps, docs/semantics/controller.md#abort, docs/semantics/controller.md#bluegreen).
"""

from __future__ import annotations

from rollouts.models.vocabulary import MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL
from rollouts.strategy.context import Context
from rollouts.strategy.plan import ReplicaSetState, SetServiceSelector
from rollouts.strategy.routing import abort_weight
from rollouts.traffic.base import stable_and_canary_services

# ---------------------------------------------------------------------------------------------------------------
# Services (rollout/service.go)
# ---------------------------------------------------------------------------------------------------------------


def ensure_service(
    ctx: Context, svc_name: str | None, rs: ReplicaSetState | None, check_available: bool
) -> None:
    """`ensureSVCTargets`: point the Service at `rs`, not before it has pods (fully, when adopting)."""
    if rs is None or not svc_name:
        return
    svc = ctx.observed.services.get(svc_name)
    if svc is None:
        return
    if svc.selector.get(POD_TEMPLATE_HASH_LABEL) == rs.pod_template_hash:
        return
    if check_available:
        if MANAGED_BY_ANNOTATION not in svc.annotations and not (
            rs.spec_replicas != 0 and rs.available_replicas != 0 and rs.spec_replicas <= rs.available_replicas
        ):
            return
        if rs.available_replicas <= 0:
            return
    ctx.actions.append(SetServiceSelector(svc_name, rs.pod_template_hash, ctx.name))
    old = svc.selector.get(POD_TEMPLATE_HASH_LABEL, "")
    ctx.event(
        "SwitchService",
        f"Switched selector for service '{svc_name}' from '{old}' to '{rs.pod_template_hash}'",
    )


def reconcile_canary_services(ctx: Context) -> None:
    """`reconcilePingAndPongService`, then `reconcileStableAndCanaryService` (+ the abort redirect of the
    traffic-routing reconcile, docs/semantics/controller.md#abort).

    On abort the canary Service is pointed at the stable pods — with dynamicStableScale only once the gradual
    abort weight has reached 0."""
    c = ctx.canary
    if c is None:
        return
    if c.ping_pong is not None and not ctx.fully_promoted:
        # reconcilePingAndPongService: the ping or pong Service that is not stable follows the new pods at once
        _, canary_service = stable_and_canary_services(ctx.observed.rollout, ping_pong_preferred=True)
        ensure_service(ctx, canary_service, ctx.new_rs, False)
    ensure_service(ctx, c.stable_service, ctx.stable_rs, True)
    if ctx.aborted:
        dynamic = ctx.traffic_routing is not None and ctx.dynamic_stable_scale
        if not dynamic or abort_weight(ctx) == 0:
            ensure_service(ctx, c.canary_service, ctx.stable_rs, ctx.traffic_routing is None)
        return
    ensure_service(ctx, c.canary_service, ctx.new_rs, True)
