"""Restarts: `spec.restartAt` (`kubectl rollouts restart`). docs/semantics/controller.md#restart. PURE.

Argo (rollout/restart.go `RolloutPodRestarter.Reconcile`, utils/replicaset/replicaset.go `NeedsRestart`,
rollout/context.go `SetRestartedAt`): once `restartAt` has passed and `status.restartedAt` is not that instant,
every pod of the Rollout's ReplicaSets created before `restartAt` is evicted, as many at a time as keeps
`max(replicas, pods wanted) − max(maxUnavailable, 1)` pods available; the pass looks again after 30 s while some
are left, and writes `status.restartedAt = restartAt` when none is. A canary pass that evicted pods stops there
(its ReplicaSets' availability is out of date until the next pass); a blue-green pass goes on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from rollouts.models.vocabulary import parse_time
from rollouts.strategy.plan import JSON, EvictPod, PodState
from rollouts.strategy.weights import max_unavailable

if TYPE_CHECKING:
    from datetime import datetime

    from rollouts.strategy.context import Context

__all__ = ["RESTART_CHECK_SECONDS", "needs_restart", "reconcile"]

RESTART_CHECK_SECONDS = 30.0  # restart.go restartPodCheckTime


def needs_restart(restart_at: datetime | None, restarted_at: datetime | None, now: datetime) -> bool:
    """`NeedsRestart`: restartAt set, not yet acknowledged, and in the past."""
    if restart_at is None:
        return False
    if restarted_at is not None and restarted_at == restart_at:
        return False
    return now > restart_at


def _available(pod: PodState, min_ready_seconds: int, now: datetime) -> bool:
    """`podutil.IsPodAvailable` (and not being deleted)."""
    if pod.deleting or pod.ready_since is None:
        return False
    return min_ready_seconds == 0 or pod.ready_since + timedelta(seconds=min_ready_seconds) < now


def reconcile(ctx: Context, st: JSON) -> int:
    """Evict what may be evicted now; returns how many pods were evicted."""
    when = ctx.spec.restart_at
    if when is not None and when > ctx.now:
        ctx.requeue_at(when)  # checkEnqueueRollout
    if not needs_restart(when, parse_time(st.get("restartedAt")), ctx.now):
        return 0
    assert when is not None
    pods = ctx.observed.pods
    if pods is None:  # not read (a caller without pods): look again later rather than claim it is done
        ctx.requeue.append(RESTART_CHECK_SECONDS)
        return 0
    total = sum(rs.spec_replicas for rs in ctx.all_rss)
    min_ready = ctx.spec.min_ready_seconds or 0
    available = sum(1 for pod in pods if _available(pod, min_ready, ctx.now))
    concurrent = max(max_unavailable(ctx.spec), 1)
    can_restart = available - (max(ctx.replicas, total) - concurrent)
    needing = restarted = 0
    for pod in sorted(pods, key=lambda p: p.name):
        if pod.created >= when:
            continue
        needing += 1
        if can_restart <= 0 or pod.deleting:
            continue
        ctx.actions.append(EvictPod(pod.name))
        can_restart -= 1
        restarted += 1
    if needing != restarted:
        ctx.requeue.append(RESTART_CHECK_SECONDS)
    else:
        st["restartedAt"] = ctx.raw_spec.get("restartAt")  # SetRestartedAt: the instant as written
    return restarted
