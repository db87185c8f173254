"""ReplicaSet lifecycle for both strategies: creation, scaling, scale-down deadlines, revision history.

Where it sits: called by `canary` and `bluegreen` during a pass; it turns the replica arithmetic (`counts`,
docs/semantics/controller.md#replica-arithmetic) into `CreateReplicaSet` / `ScaleReplicaSet` /
`UpdateReplicaSetMeta` / `DeleteReplicaSet` actions and keeps the status bookkeeping Argo keeps next to it
(`calculateBaseStatus` — `rollout/sync.go`, `rollout/replicaset.go`; docs/semantics/controller.md#canary-steps,
docs/semantics/controller.md#abort). Services are `services`; promotion and rollback are `promotion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from rollouts.models import LabelSelector
from rollouts.models.scalars import INT32_MAX
from rollouts.models.vocabulary import (
    DESIRED_REPLICAS_ANNOTATION,
    NOTIFY_OUTBOX_PREFIX,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    format_time,
)
from rollouts.strategy import ephemeral, workload
from rollouts.strategy.context import Context, copy_json, scale_down_deadline
from rollouts.strategy.plan import (
    JSON,
    CreateReplicaSet,
    DeleteReplicaSet,
    ReplicaSetState,
    ScaleReplicaSet,
    SetServiceSelector,
    UpdateReplicaSetMeta,
    UpdateReplicaSetSpec,
)
from rollouts.strategy.weights import max_unavailable

# ---------------------------------------------------------------------------------------------------------------
# new ReplicaSet and base status
# ---------------------------------------------------------------------------------------------------------------


# Rollout annotations Argo does not copy onto its ReplicaSets (utils/annotations/annotations.go annotationsToSkip)
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        "notified.notifications.argoproj.io",
    }
)


def _copied_annotations(ctx: Context) -> dict[str, str]:
    """The Rollout's annotations a ReplicaSet carries too (`copyRolloutAnnotationsToReplicaSet`)."""
    annotations = ctx.rollout.metadata.annotations or {}
    return {
        k: v
        for k, v in annotations.items()
        if k not in _NOT_COPIED and not k.startswith(NOTIFY_OUTBOX_PREFIX)
    }


def _revision_of(text: str | None) -> int | None:
    """strconv.ParseInt of a revision annotation: None when absent, -1 when it does not parse."""
    if text is None or text == "":
        return None
    body = text[1:] if text[:1] in "+-" else text
    return int(text) if body.isascii() and body.isdigit() else -1


def synced_annotations(ctx: Context, rs: ReplicaSetState, new_revision: int) -> dict[str, str]:
    """`SetNewReplicaSetAnnotations(rollout, rs, newRevision, exists=true)`: the annotations to change on the
    existing new ReplicaSet, {} when none.

    The Rollout's annotations are copied over; the revision is raised to `new_revision` when it is lower (a
    rollback reusing an older ReplicaSet); and when the ReplicaSet already had a revision and anything changed,
    that revision is appended to `rollout.argoproj.io/revision-history` (comma-separated, oldest first) — Argo
    appends it on any change, also when only a copied annotation changed.
    """
    changes = {k: v for k, v in _copied_annotations(ctx).items() if rs.annotations.get(k) != v}
    old_text = rs.annotations.get(REVISION_ANNOTATION)
    old = _revision_of(old_text)
    if old == -1:
        return {}  # Argo logs "OldRevision not int" and leaves the ReplicaSet alone
    if (old or 0) < new_revision:
        changes[REVISION_ANNOTATION] = str(new_revision)
    if old_text is not None and changes:
        history = rs.annotations.get(REVISION_HISTORY_ANNOTATION) or ""
        changes[REVISION_HISTORY_ANNOTATION] = f"{history},{old_text}" if history else old_text
    return changes


ANTI_AFFINITY_TOPOLOGY_KEY = "kubernetes.io/hostname"


def replica_set_affinity(ctx: Context, template: JSON) -> JSON | None:
    """The new ReplicaSet's pod affinity (`GenerateReplicaSetAffinity`, utils/replicaset/replicaset.go): the pod
    template's own, plus, with `antiAffinity` (the canary's, else the blue-green's, when it names a kind) and a
    stable ReplicaSet other than the new one, a term keeping the new pods off the nodes of the stable ones:
    `rollouts-pod-template-hash In [stableRS]` in the Rollout's namespace, topology `kubernetes.io/hostname`;
    weighted (`preferredDuringSchedulingIgnoredDuringExecution.weight`) or required. None: no affinity at all."""
    spec = template.get("spec") or {}
    affinity = spec.get("affinity") if isinstance(spec, dict) else None
    strategy = _anti_affinity(ctx)
    stable = ctx.status.stable_rs
    if strategy is None or not stable or stable == ctx.pod_hash:
        return affinity if isinstance(affinity, dict) else None
    rule: JSON = {
        "labelSelector": {
            "matchExpressions": [{"key": POD_TEMPLATE_HASH_LABEL, "operator": "In", "values": [stable]}]
        },
        "namespaces": [ctx.namespace],
        "topologyKey": ANTI_AFFINITY_TOPOLOGY_KEY,
    }
    out: JSON = copy_json(affinity) if isinstance(affinity, dict) else {}
    anti: JSON = dict(out.get("podAntiAffinity") or {})
    preferred = strategy.preferred_during_scheduling_ignored_during_execution
    if preferred is not None:
        terms = list(anti.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
        anti["preferredDuringSchedulingIgnoredDuringExecution"] = [
            *terms,
            {"weight": int(preferred.weight), "podAffinityTerm": rule},
        ]
    else:
        terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        anti["requiredDuringSchedulingIgnoredDuringExecution"] = [*terms, rule]
    out["podAntiAffinity"] = anti
    return out


def _anti_affinity(ctx: Context) -> Any:
    """`GetRolloutAffinity`: the canary's antiAffinity, else the blue-green's, when it names a kind."""
    strategy = ctx.canary.anti_affinity if ctx.canary is not None else None
    if strategy is None and ctx.bluegreen is not None:
        strategy = ctx.bluegreen.anti_affinity
    if strategy is not None and (
        strategy.preferred_during_scheduling_ignored_during_execution is None
        and strategy.required_during_scheduling_ignored_during_execution is None
    ):
        return None
    return strategy


def injected_term_outdated(ctx: Context, rs: ReplicaSetState) -> bool:
    """`IfInjectedAntiAffinityRuleNeedsUpdate`: the ReplicaSet's injected anti-affinity term keeps its pods off a
    ReplicaSet that is no longer the stable one (the stored stableRS differs and is not the new hash)."""
    strategy = _anti_affinity(ctx)
    stable = ctx.status.stable_rs or ""
    if strategy is None or stable == ctx.pod_hash:
        return False
    anti = ((rs.template.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}
    if strategy.preferred_during_scheduling_ignored_during_execution is not None:
        terms = [
            t.get("podAffinityTerm") or {}
            for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
    else:
        terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    for term in terms:
        exprs = (term.get("labelSelector") or {}).get("matchExpressions") or []
        if any(
            e.get("key") == POD_TEMPLATE_HASH_LABEL for e in exprs
        ):  # HasInjectedAntiAffinityRule: the first
            return any(
                e.get("key") == POD_TEMPLATE_HASH_LABEL and e.get("values") and e["values"][0] != stable
                for e in exprs
            )
    return False


def _sync_spec(ctx: Context, rs: ReplicaSetState, annotations_changed: bool) -> None:
    """`syncReplicaSetRevision`: when the annotations, minReadySeconds or the injected anti-affinity term are
    out of date, the ReplicaSet gets the Rollout's minReadySeconds and a freshly generated affinity (against
    the current stable ReplicaSet) in the same update; only what differs is written."""
    min_ready = ctx.spec.min_ready_seconds or 0
    if not (annotations_changed or rs.min_ready_seconds != min_ready or injected_term_outdated(ctx, rs)):
        return
    current = (rs.template.get("spec") or {}).get("affinity")
    wanted = replica_set_affinity(ctx, ctx.spec.template or {})
    if rs.min_ready_seconds == min_ready and current == wanted:
        return
    ctx.actions.append(
        UpdateReplicaSetSpec(rs.name, min_ready, copy_json(wanted) if wanted else None, current is not None)
    )


def ensure_new_rs(ctx: Context) -> None:
    """`getAllReplicaSetsAndSyncRevision` + `createDesiredReplicaSet`: create `<rollout>-<hash>` at 0 replicas.

    The revision is max(revision of the other RSs) + 1. A rollback (the template of an existing RS) creates
    nothing; that RS's revision is raised to max + 1 instead and its previous revision kept in
    `rollout.argoproj.io/revision-history`, as Argo does (docs/semantics/controller.md#rollback, rollout/sync.go syncReplicaSetRevision).
    A new RS carries the Rollout's annotations, its revision and `rollout.argoproj.io/desired-replicas`."""
    new_revision = max((rs.revision for rs in ctx.all_rss if rs is not ctx.new_rs), default=0) + 1
    if ctx.new_rs is not None:
        changes = synced_annotations(ctx, ctx.new_rs, new_revision)
        _sync_spec(ctx, ctx.new_rs, bool(changes))
        if changes:
            ctx.actions.append(UpdateReplicaSetMeta(ctx.new_rs.name, annotations=dict(changes)))
            # the rest of the pass (run names, messages) already sees the new revision, as Argo's does
            annotations = {**ctx.new_rs.annotations, **changes}
            revision = _revision_of(annotations.get(REVISION_ANNOTATION)) or 0
            synced = replace(ctx.new_rs, annotations=annotations, revision=max(revision, 0))
            if ctx.stable_rs is ctx.new_rs:
                ctx.stable_rs = synced
            ctx.all_rss = [synced if rs is ctx.new_rs else rs for rs in ctx.all_rss]
            ctx.new_rs = synced
        return
    template = copy_json(ctx.spec.template or {})  # the pod template as written
    meta = dict(template.get("metadata") or {})
    labels = {**(meta.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: ctx.pod_hash}
    template["metadata"] = {**meta, "labels": labels}
    injected = ephemeral.inject(ctx, template)
    affinity = replica_set_affinity(ctx, template)
    if affinity is not None:
        template["spec"] = {**(template.get("spec") or {}), "affinity": affinity}
    selector = ctx.spec.selector.to_wire() if ctx.spec.selector is not None else {}
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH_LABEL: ctx.pod_hash}
    name = f"{ctx.name}-{ctx.pod_hash}"
    revision = new_revision
    annotations = {
        **_copied_annotations(ctx),
        REVISION_ANNOTATION: str(revision),
        DESIRED_REPLICAS_ANNOTATION: str(ctx.replicas),
        **injected,
    }
    ctx.actions.append(
        CreateReplicaSet(
            name=name,
            pod_template_hash=ctx.pod_hash,
            replicas=0,
            template=template,
            selector=selector,
            labels=labels,
            annotations=annotations,
            min_ready_seconds=ctx.spec.min_ready_seconds or 0,
        )
    )
    ctx.new_rs = ReplicaSetState(
        name=name,
        pod_template_hash=ctx.pod_hash,
        spec_replicas=0,
        replicas=0,
        ready_replicas=0,
        available_replicas=0,
        revision=revision,
        created=ctx.now,
        template=template,
        labels=labels,
        annotations=annotations,
        min_ready_seconds=ctx.spec.min_ready_seconds or 0,
    )
    ctx.new_rs_created = True
    ctx.event("NewReplicaSetCreated", f"Created ReplicaSet {name} (revision {revision})")


def base_status(ctx: Context, st: JSON) -> None:
    """`calculateBaseStatus` + the canary count fields of `syncRolloutStatusCanary`."""
    rss = ctx.all_rss
    st["currentPodHash"] = ctx.pod_hash
    st["replicas"] = sum(rs.replicas for rs in rss)
    st["updatedReplicas"] = ctx.new_rs.replicas if ctx.new_rs is not None else 0
    st["readyReplicas"] = sum(rs.ready_replicas for rs in rss)
    st["availableReplicas"] = sum(rs.available_replicas for rs in rss)
    st["HPAReplicas"] = st["replicas"]
    st["selector"] = format_selector(ctx.spec.selector)
    if ctx.stable_hash:
        st["stableRS"] = ctx.stable_hash
    if ctx.status.promote_full and ctx.pod_hash != ctx.stable_hash:
        st["promoteFull"] = True
    else:
        st.pop("promoteFull", None)


def format_selector(selector: LabelSelector | None, extra: Mapping[str, str] | None = None) -> str:
    """`metav1.FormatLabelSelector` for matchLabels (with `extra` labels over them) and matchExpressions (sorted
    like k8s' labels.Selector)."""
    labels = {**((selector.match_labels if selector is not None else None) or {}), **(extra or {})}
    parts = [f"{k}={v}" for k, v in labels.items()]
    for expr in (selector.match_expressions if selector is not None else None) or []:
        key, op, values = expr.key, expr.operator, sorted(expr.values or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts))


# ---------------------------------------------------------------------------------------------------------------
# scaling
# ---------------------------------------------------------------------------------------------------------------


def desired_replicas_stale(ctx: Context, rs: ReplicaSetState) -> bool:
    """`ReplicasAnnotationsNeedUpdate`: `rollout.argoproj.io/desired-replicas` is not the Rollout's replicas.

    (Argo also calls it stale when the Rollout has 0 replicas and the RS a scale-down deadline, which makes it
    rewrite such an RS on every reconcile; that write changes nothing and is left out here.)"""
    return rs.annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(ctx.replicas)


def is_saturated(ctx: Context, rs: ReplicaSetState | None) -> bool:
    """`annotations.IsSaturated`: the RS and its desired-replicas annotation both say `replicas`, all available."""
    if rs is None:
        return False
    return (
        rs.spec_replicas == ctx.replicas
        and rs.annotations.get(DESIRED_REPLICAS_ANNOTATION) == str(ctx.replicas)
        and rs.available_replicas == ctx.replicas
    )


def scale(
    ctx: Context, rs: ReplicaSetState, replicas: int, annotations: dict[str, str | None] | None = None
) -> bool:
    """`scaleReplicaSetAndRecordEvent`: emit a scale when the size or the desired-replicas annotation differs.

    Every scale writes `rollout.argoproj.io/desired-replicas` (the Rollout's replicas) in the same write; scaling
    to 0 also drops a scale-down-deadline annotation. Returns whether the size changes."""
    if rs.spec_replicas == replicas and not annotations and not desired_replicas_stale(ctx, rs):
        return False
    ann = dict(annotations or {})
    ann[DESIRED_REPLICAS_ANNOTATION] = str(ctx.replicas)
    if (
        replicas == 0
        and SCALE_DOWN_DEADLINE_ANNOTATION in rs.annotations
        and not should_delay_scale_down_on_abort(ctx)
    ):
        ann[SCALE_DOWN_DEADLINE_ANNOTATION] = None
    if rs is ctx.new_rs and ctx.new_rs_created:
        # The RS is created in this very plan: create it at the target size instead of a second write.
        ctx.actions[:] = [
            CreateReplicaSet(**{**a.__dict__, "replicas": replicas})
            if isinstance(a, CreateReplicaSet) and a.name == rs.name
            else a
            for a in ctx.actions
        ]
        return replicas != 0
    ctx.actions.append(ScaleReplicaSet(rs.name, replicas, ann))
    if rs.spec_replicas != replicas:
        direction = "up" if replicas > rs.spec_replicas else "down"
        ctx.event(
            "ScalingReplicaSet",
            f"Scaled {direction} ReplicaSet {rs.name} (revision {rs.revision}) from {rs.spec_replicas} to {replicas}",
        )
    return rs.spec_replicas != replicas


def _set_deadline(ctx: Context, rs: ReplicaSetState, seconds: int) -> None:
    ctx.actions.append(
        UpdateReplicaSetMeta(
            rs.name,
            annotations={SCALE_DOWN_DEADLINE_ANNOTATION: format_time(ctx.now + timedelta(seconds=seconds))},
        )
    )
    ctx.requeue.append(float(seconds))


def _remove_deadline(ctx: Context, rs: ReplicaSetState | None) -> None:
    if rs is not None and SCALE_DOWN_DEADLINE_ANNOTATION in rs.annotations:
        ctx.actions.append(UpdateReplicaSetMeta(rs.name, annotations={SCALE_DOWN_DEADLINE_ANNOTATION: None}))


def should_delay_scale_down_on_abort(ctx: Context) -> bool:
    """`shouldDelayScaleDownOnAbort` (docs/semantics/controller.md#abort)."""
    if not ctx.aborted or ctx.stable_rs is None:
        return False
    if ctx.canary is not None and ctx.traffic_routing is None:
        return False
    if ctx.abort_scale_down_delay() is None:
        return False
    explicit = ctx.spec.abort_scale_down_delay_seconds_or_default()[1]
    return not (ctx.dynamic_stable_scale and not explicit)


def remove_scale_down_deadlines(ctx: Context, keep_new: bool = False) -> None:
    """`removeScaleDownDeadlines`: the new and stable RSs are not going away (`keep_new`: see bluegreen)."""
    if not keep_new and not should_delay_scale_down_on_abort(ctx):
        _remove_deadline(ctx, ctx.new_rs)
    if ctx.stable_rs is not None and ctx.stable_rs is not ctx.new_rs:
        _remove_deadline(ctx, ctx.stable_rs)


def reconcile_new_rs(ctx: Context, desired: int) -> bool:
    """`reconcileNewReplicaSet`, including the abort scale-down delay of the canary/preview RS (docs/semantics/controller.md#abort)."""
    rs = ctx.new_rs
    if rs is None:
        return False
    if should_delay_scale_down_on_abort(ctx):
        delay = ctx.abort_scale_down_delay()
        deadline = scale_down_deadline(rs)
        if deadline is not None:
            if deadline > ctx.now:
                ctx.requeue_at(deadline)
                scale(
                    ctx, rs, rs.spec_replicas
                )  # `syncNewRSReplicasAnnotation`: size kept, annotation current
                return False
            desired = 0
        elif delay is not None:
            scale(ctx, rs, rs.spec_replicas)  # `syncNewRSReplicasAnnotation`
            stable = ctx.stable_rs
            if stable is not None and stable.available_replicas >= ctx.replicas:
                _set_deadline(ctx, rs, delay)
            return False
    scaled = scale(ctx, rs, desired)
    workload.on_new_replica_set(ctx, rs, desired)
    return scaled


def scale_down_delay_helper(ctx: Context, rs: ReplicaSetState, annotated: int, keep: int) -> tuple[int, int]:
    """`scaleDownDelayHelper`: annotate a deadline, keep the pods until it passes, honour the revision limit."""
    strategy = ctx.canary if ctx.canary is not None else ctx.bluegreen
    limit = strategy.scale_down_delay_revision_limit if strategy is not None else None
    limit = INT32_MAX if limit is None else limit
    deadline = scale_down_deadline(rs)
    if deadline is None and rs.spec_replicas > 0:
        if annotated < limit:
            annotated += 1
            delay = ctx.scale_down_delay()
            if delay > 0:
                _set_deadline(ctx, rs, delay)
                return annotated, rs.spec_replicas
            return annotated, 0
        return annotated, 0
    if deadline is not None:
        annotated += 1
        if annotated > limit:
            return annotated, 0
        if deadline > ctx.now:
            ctx.requeue_at(deadline)
            return annotated, keep
    return annotated, 0


def is_referenced(ctx: Context, rs: ReplicaSetState) -> bool:
    """`isReplicaSetReferenced`: still named by the status or selected by one of the rollout's Services."""
    h = rs.pod_template_hash
    if not h:
        return False
    st = ctx.status
    bg = st.blue_green
    refs = [st.stable_rs, st.current_pod_hash, bg.active_selector, bg.preview_selector]
    weights = st.canary.weights
    if weights is not None:
        refs += [weights.canary.pod_template_hash, weights.stable.pod_template_hash]
    if h in refs:
        return True
    names: list[str | None] = []
    if ctx.canary is not None:
        names = [ctx.canary.canary_service, ctx.canary.stable_service]
    elif ctx.bluegreen is not None:
        names = [ctx.bluegreen.active_service, ctx.bluegreen.preview_service]
    # Services as this pass leaves them: a selector switched by this plan no longer holds the old pods
    planned = {a.service: a.pod_template_hash for a in ctx.actions if isinstance(a, SetServiceSelector)}
    for name in names:
        svc = ctx.observed.services.get(name) if name else None
        if svc is not None and planned.get(svc.name, svc.selector.get(POD_TEMPLATE_HASH_LABEL, "")) == h:
            return True
    return False


def scale_down_old_canary(ctx: Context) -> bool:
    """`scaleDownOldReplicaSetsForCanary` (+ `reconcileOtherReplicaSets`)."""
    olds = [rs for rs in ctx.other_rss if rs.spec_replicas > 0]
    if not olds:
        return False
    available = sum(rs.available_replicas for rs in ctx.all_rss)
    min_available = ctx.replicas - max_unavailable(ctx.observed.rollout.spec)
    max_scale_down = available - min_available
    if max_scale_down <= 0 and ctx.traffic_routing is None:
        return False
    scaled = False
    annotated = 0
    promoted = ctx.fully_promoted
    for rs in sorted(olds, key=lambda r: r.revision, reverse=True):
        if ctx.traffic_routing is not None and is_referenced(ctx, rs):
            continue
        if ctx.traffic_routing is None:
            if max_scale_down <= 0:
                break
            desired = rs.spec_replicas - max_scale_down if rs.spec_replicas > max_scale_down else 0
        elif promoted or scale_down_deadline(rs) is not None:
            if ctx.dynamic_stable_scale:
                desired = 0
            else:
                annotated, desired = scale_down_delay_helper(ctx, rs, annotated, rs.spec_replicas)
        else:
            desired = 0
        if rs.spec_replicas == desired:
            continue
        scaled |= scale(ctx, rs, desired)
        max_scale_down -= rs.spec_replicas - desired
    return scaled


def revision_history_limit(ctx: Context) -> None:
    """`reconcileRevisionHistoryLimit`: delete the oldest fully scaled-down RSs beyond revisionHistoryLimit."""
    limit = ctx.spec.revision_history_limit_or_default()
    olds = sorted(ctx.other_rss, key=lambda r: (r.created, r.name))
    for rs in olds[: max(len(olds) - limit, 0)]:
        if rs.replicas == 0 and rs.spec_replicas == 0:
            ctx.actions.append(DeleteReplicaSet(rs.name))
