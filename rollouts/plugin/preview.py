"""The plan of a Rollout: what it will do, step by step, computed without a cluster (`rollouts plan`).

A reviewer reads it in a pull request: for a canary, each step with its setWeight, the steady-state canary and
stable pod counts (the docs/semantics/controller.md#basic-canary arithmetic of `rollouts.strategy.counts`, basic or traffic-routed), the traffic
split, pauses and their durations, analyses with their templates and arguments, and where background analysis
starts; for blue-green, the preview → promotion → active sequence. Pure: `build_plan(rollout)` returns a
JSON-ready dict (``-o json``). The command (reading the file, the same validation as the controller, the
warnings) is `rollouts.plugin.planning`, and the text it prints is `rollouts.plugin.render_plan`.

Linear in the number of steps: the pods of each step are computed on one working copy of the Rollout whose
step list is just what decides that step's weight (the last setWeight and the setCanaryScale in force), so a
1,000-step canary plans in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollouts.models import (
    AnalysisRunArgument,
    CanaryStep,
    Rollout,
    RolloutAnalysis,
    RolloutTrafficRouting,
    TrafficWeights,
)
from rollouts.models.observed import RS
from rollouts.strategy import counts as arith
from rollouts.strategy.weights import get_canary_replicas_or_weight, max_surge, max_unavailable
from rollouts.traffic import unsupported_routers

__all__ = ["args_text", "build_plan", "duration_text"]

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# Building the plan (pure)
# ---------------------------------------------------------------------------------------------------------------


def _args(args: Sequence[AnalysisRunArgument] | None, ro: Rollout) -> list[JSON]:
    out = []
    for arg in args or []:
        item: JSON = {"name": arg.name}
        if arg.value is not None:
            item["value"] = arg.value
        elif arg.value_from is not None and arg.value_from.pod_template_hash_value:
            which = "new" if arg.value_from.pod_template_hash_value == "Latest" else "stable"
            item["value"] = f"<{which} pod-template hash>"
        elif arg.value_from is not None and arg.value_from.field_ref is not None:
            path = arg.value_from.field_ref.field_path
            item["value"] = _field_value(ro, path)
            item["fieldRef"] = path
        else:
            item["value"] = None  # the template's default (or an error when the run is created)
        out.append(item)
    return out


def _field_value(ro: Rollout, path: str) -> str:
    """A best-effort value of a fieldRef from the manifest (``<fieldPath>`` when unknown until run time)."""
    meta = ro.metadata
    simple = {"metadata.name": meta.name, "metadata.namespace": meta.namespace or "default"}
    if path in simple:
        return str(simple[path])
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            value = (getattr(meta, kind) or {}).get(path[len(prefix) : -2])
            if value is not None:
                return str(value)
    return f"<{path}>"


def _analysis(analysis: RolloutAnalysis, ro: Rollout) -> JSON:
    return {
        "templates": [
            {"name": t.template_name, "clusterScope": t.is_cluster_scope} for t in analysis.templates or []
        ],
        "args": _args(analysis.args, ro),
    }


def duration_text(seconds: int) -> str:
    """Compact: 90 → ``1m30s``, 1800 → ``30m``, 3600 → ``1h``, 0 → ``0s``."""
    if seconds <= 0:
        return f"{seconds}s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v)


def _describe(step: CanaryStep, ro: Rollout) -> tuple[str, JSON]:
    """(one-line description, machine details) of a step."""
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}", {"setWeight": step.set_weight}
    if step.pause is not None:
        if step.pause.is_indefinite:
            return "pause until promoted", {"pause": {"untilPromoted": True}}
        secs = step.pause.duration_seconds()
        return f"pause {duration_text(secs)}", {"pause": {"seconds": secs, "duration": step.pause.duration}}
    if step.analysis is not None:
        a = _analysis(step.analysis, ro)
        names = ", ".join(t["name"] for t in a["templates"])
        return f"analysis {names}", {"analysis": a}
    if step.experiment is not None:
        e = step.experiment
        names = ", ".join(f"{t.name} ({t.spec_ref})" for t in e.templates)
        text = f"experiment {names}" + (f" for {e.duration}" if e.duration else "")
        analyses = [a.template_name for a in e.analyses or []]
        if analyses:
            text += f", analyses {', '.join(analyses)}"
        return text, {"experiment": e.to_wire()}
    if step.set_canary_scale is not None:
        s = step.set_canary_scale
        if s.match_traffic_weight:
            text = "setCanaryScale matchTrafficWeight"
        elif s.replicas is not None:
            text = f"setCanaryScale replicas {s.replicas}"
        else:
            text = f"setCanaryScale weight {s.weight}"
        return text, {"setCanaryScale": s.to_wire()}
    if step.set_header_route is not None:
        h = step.set_header_route
        if h.match is None:
            return f"remove header route {h.name}", {"setHeaderRoute": h.to_wire()}
        matches = ", ".join(f"{m.header_name}={_match_text(m.header_value)}" for m in h.match)
        return f"header route {h.name}: {matches} → canary", {"setHeaderRoute": h.to_wire()}
    if step.set_mirror_route is not None:
        m = step.set_mirror_route
        if m.match is None:
            return f"remove mirror route {m.name}", {"setMirrorRoute": m.to_wire()}
        pct = 100 if m.percentage is None else m.percentage
        return f"mirror route {m.name}: {pct}% of matching traffic copied to canary", {
            "setMirrorRoute": m.to_wire()
        }
    if step.plugin is not None:
        return f"plugin {step.plugin.name}", {"plugin": step.plugin.to_wire()}
    return "(empty step)", {}


def _match_text(value: Any) -> str:
    if value is None:
        return "?"
    for kind in ("exact", "prefix", "regex"):
        v = getattr(value, kind, None)
        if v:
            return v if kind == "exact" else f"{kind}:{v}"
    return "?"


def args_text(args: list[JSON]) -> str:
    if not args:
        return ""
    shown = (f"{a['name']}={'<template default>' if a['value'] is None else a['value']}" for a in args)
    return " (" + ", ".join(shown) + ")"


def _working_copy(ro: Rollout) -> Rollout:
    """One copy of the Rollout, mid-update (a stable and a canary ReplicaSet), for `_steady_counts` to edit."""
    r = ro.model_copy(deep=True)
    r.status.stable_rs, r.status.current_pod_hash = "stable", "canary"
    return r


def _in_force(steps: Sequence[CanaryStep]) -> list[list[CanaryStep]]:
    """For each step, the shortest step list that gives the same weight and scale at its last index: the last
    setWeight so far and the setCanaryScale in force (none after a matchTrafficWeight one) — what
    `get_current_set_weight` and `use_set_canary_scale` look back for."""
    out: list[list[CanaryStep]] = []
    weight: CanaryStep | None = None
    scale: CanaryStep | None = None
    for step in steps:
        if step.set_weight is not None:
            weight = step
        if step.set_canary_scale is not None:
            scale = None if step.set_canary_scale.match_traffic_weight else step
        out.append([s for s in (weight, scale) if s is not None] or [step])
    return out


def _steady_counts(r: Rollout, steps: list[CanaryStep], previous: tuple[int, int]) -> tuple[int, int]:
    """Canary and stable pods once the rollout has settled on the last of `steps` (every pod available).

    `r` is the working copy (`_working_copy`); its canary steps are replaced by `steps` (see `_in_force`)."""
    assert r.spec.strategy.canary is not None
    r.spec.strategy.canary.steps = steps
    r.status.current_step_index = len(steps) - 1
    routed = r.spec.traffic_routing is not None
    canary, stable = previous
    for _ in range(200):  # each pass moves toward the target within maxSurge/maxUnavailable
        weights = None
        if routed:
            _, w = get_canary_replicas_or_weight(r, None, None)
            weights = TrafficWeights.model_validate(
                {"canary": {"weight": w}, "stable": {"weight": r.spec.max_traffic_weight() - w}}
            )
        new = arith.desired_canary_counts(
            r, RS("canary", canary, canary), RS("stable", stable, stable), (), weights
        )
        if new == (canary, stable):
            break
        canary, stable = new
    return canary, stable


def _routing_names(tr: RolloutTrafficRouting | None) -> list[str]:
    if tr is None:
        return []
    return [k for k in tr.kinds() if k != "plugins"] + [f"plugin {name}" for name in tr.plugins or {}]


def _canary_abort(ro: Rollout) -> JSON:
    """docs/semantics/controller.md#abort: weight 0; the canary kept up for abortScaleDownDelaySeconds with traffic routing."""
    if ro.spec.traffic_routing is None:
        return {
            "step": "the canary is scaled to 0 and the stable back to all replicas, within maxSurge/maxUnavailable",
            "abortScaleDownDelaySeconds": 0,
        }
    delay, _ = ro.spec.abort_scale_down_delay_seconds_or_default()
    when = "never (abortScaleDownDelaySeconds: 0)" if delay is None else f"after {duration_text(delay)}"
    return {
        "step": f"all traffic back to the stable pods; the canary ReplicaSet is scaled down {when}",
        "abortScaleDownDelaySeconds": delay,
    }


def _canary_plan(ro: Rollout) -> JSON:
    c = ro.spec.strategy.canary
    assert c is not None
    replicas = ro.spec.replicas_or_default()
    max_weight = ro.spec.max_traffic_weight()
    tr = c.traffic_routing
    routed = tr is not None
    background = c.analysis
    start = (background.starting_step or 0) if background is not None else None
    counts = (0, replicas)
    rows: list[JSON] = []
    weight = 0
    steps = ro.spec.steps
    work = _working_copy(ro)
    for i, (step, in_force) in enumerate(zip(steps, _in_force(steps), strict=True)):
        text, details = _describe(step, ro)
        counts = _steady_counts(work, in_force, counts)
        if step.set_weight is not None:
            weight = step.set_weight
        canary_pods, stable_pods = counts
        row: JSON = {
            "index": i,
            "step": text,
            **details,
            "canaryPods": canary_pods,
            "stablePods": stable_pods,
        }
        if routed:
            row["traffic"] = {"canary": weight, "stable": max_weight - weight}
            extra = {
                t.name: t.weight for t in (step.experiment.templates if step.experiment else []) if t.weight
            }
            if extra:  # while the Experiment runs its templates take their weights from the stable share
                row["traffic"] = {
                    "canary": weight,
                    "stable": max_weight - weight - sum(extra.values()),
                    "experiment": extra,
                }
        else:
            total = canary_pods + stable_pods
            share = round(100 * canary_pods / total) if total else 0
            row["traffic"] = {"canary": share, "stable": 100 - share, "byPodCount": True}
        if step.experiment is not None:
            row["experimentPods"] = {
                t.name: {"replicas": t.replicas if t.replicas is not None else 1, "specRef": t.spec_ref}
                for t in step.experiment.templates
            }
        if start is not None and i == start:
            row["backgroundAnalysisStarts"] = True
        rows.append(row)
    timed = sum(
        s.pause.duration_seconds() for s in steps if s.pause is not None and not s.pause.is_indefinite
    )
    waits = [
        "promotion" if s.pause is not None else s.kind
        for s in steps
        if (s.pause is not None and s.pause.is_indefinite) or s.analysis or s.experiment
    ]
    out: JSON = {
        "strategy": "canary",
        "replicas": replicas,
        "trafficRouting": _routing_names(tr),
        "services": {"canary": c.canary_service or "", "stable": c.stable_service or ""},
        "maxSurge": max_surge(ro.spec),
        "maxUnavailable": max_unavailable(ro.spec),
        "steps": rows,
        "promotion": {
            "canaryPods": replicas,
            "stablePods": 0,
            "scaleDownDelaySeconds": ro.spec.scale_down_delay_seconds_or_default(),
        },
        "unsupportedTrafficRouting": unsupported_routers(ro),
        "onAbort": _canary_abort(ro),
        "minimumPauseSeconds": timed,
        "waitsFor": sorted(set(waits)),
    }
    if background is not None:
        out["backgroundAnalysis"] = {**_analysis(background, ro), "startingStep": start}
    return out


def _blue_green_plan(ro: Rollout) -> JSON:
    bg = ro.spec.strategy.blue_green
    assert bg is not None
    replicas = ro.spec.replicas_or_default()
    preview_count = replicas if bg.preview_replica_count is None else bg.preview_replica_count
    seq: list[JSON] = []
    preview = bg.preview_service or ""
    seq.append(
        {
            "step": f"create the new ReplicaSet with {preview_count} pod(s)"
            + (f"; {preview} → new pods" if preview else ""),
            "newPods": preview_count,
            "activePods": replicas,
        }
    )
    if bg.pre_promotion_analysis is not None:
        a = _analysis(bg.pre_promotion_analysis, ro)
        names = ", ".join(t["name"] for t in a["templates"])
        seq.append({"step": f"pre-promotion analysis {names}{args_text(a['args'])}", "analysis": a})
    if not ro.spec.auto_promotion_enabled_or_default():
        seq.append({"step": "pause until promoted (BlueGreenPause)", "pause": {"untilPromoted": True}})
    elif bg.auto_promotion_seconds:
        secs = bg.auto_promotion_seconds
        seq.append({"step": f"pause, auto-promote after {duration_text(secs)}", "pause": {"seconds": secs}})
    if preview_count != replicas:
        seq.append(
            {
                "step": f"scale the new ReplicaSet to {replicas} pods",
                "newPods": replicas,
                "activePods": replicas,
            }
        )
    seq.append({"step": f"switch {bg.active_service} → new pods", "switch": bg.active_service})
    if bg.post_promotion_analysis is not None:
        a = _analysis(bg.post_promotion_analysis, ro)
        names = ", ".join(t["name"] for t in a["templates"])
        seq.append({"step": f"post-promotion analysis {names}{args_text(a['args'])}", "analysis": a})
    delay = ro.spec.scale_down_delay_seconds_or_default()
    when = (
        "after post-promotion analysis succeeds"
        if bg.post_promotion_analysis is not None and bg.scale_down_delay_seconds is None
        else f"after {duration_text(delay)}"
    )
    seq.append({"step": f"scale the old ReplicaSet down {when}", "scaleDownDelaySeconds": delay})
    abort_delay, _ = ro.spec.abort_scale_down_delay_seconds_or_default()
    return {
        "strategy": "blueGreen",
        "replicas": replicas,
        "services": {"active": bg.active_service, "preview": preview},
        "sequence": seq,
        "onAbort": {
            "step": f"{bg.active_service} back to the stable pods; new ReplicaSet scaled down "
            + ("never" if abort_delay is None else f"after {duration_text(abort_delay)}"),
            "abortScaleDownDelaySeconds": abort_delay,
        },
    }


def build_plan(ro: Rollout, replicas: int | None = None, warnings: Sequence[str] = ()) -> JSON:
    """The plan of a validated Rollout as a JSON-ready dict (``replicas`` overrides spec.replicas; `warnings`,
    what the controller will refuse or ignore, are carried along for the reader)."""
    if replicas is not None:
        ro = ro.model_copy(deep=True)
        ro.spec.replicas = replicas
    body = _canary_plan(ro) if ro.is_canary else _blue_green_plan(ro)
    return {"rollout": ro.name, "namespace": ro.namespace or "default", **body, "warnings": list(warnings)}
