"""Which AnalysisRuns a Rollout must have right now, and what their outcome does to it (docs/semantics/controller.md#rollout-analysis, docs/semantics/controller.md#bluegreen, docs/semantics/analysis.md#analysis-args).

Where it sits: called by `canary` (step and background runs) and `bluegreen` (pre/post-promotion runs) once per
pass, after Services/traffic and before scaling, like Argo's `reconcileAnalysisRuns` (`rollout/analysis.go`).
The *current* runs are those named in the stored status (`canary.currentStepAnalysisRunStatus`, …). Missing
ones are created (`CreateAnalysisRun` with the merged template spec, Argo's names, labels and revision
annotation); superseded ones are terminated (`spec.terminate`); old ones beyond the history limits deleted.
A Failed/Error run requests an abort with Argo's message, an Inconclusive one an `InconclusiveAnalysisRun`
pause. A referenced template that does not exist is a `SpecError` (shown as an InvalidSpec condition).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from analysis import args as analysis_args
from analysis.models import (
    AnalysisPhase,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    DryRun,
    MeasurementRetention,
)
from rollouts.models import AnalysisRunArgument, RolloutAnalysis, RolloutAnalysisRunStatus
from rollouts.models.vocabulary import (
    BLUE_GREEN_PAUSE,
    CANARY_PAUSE_STEP,
    INCONCLUSIVE_ANALYSIS,
    INSTANCE_ID_LABEL,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    ROLLOUT_TYPE_LABEL,
    STEP_INDEX_LABEL,
)
from rollouts.strategy.context import Context, copy_json
from rollouts.strategy.errors import SpecError
from rollouts.strategy.memo import Memo, canonical_key, json_key, memoized
from rollouts.strategy.plan import (
    JSON,
    AnalysisRunState,
    CreateAnalysisRun,
    DeleteAnalysisRun,
    TerminateAnalysisRun,
)
from rollouts.strategy.promotion import is_fast_rollback
from rollouts.strategy.status import analysis_run_status

STEP, BACKGROUND, PRE, POST = "Step", "Background", "PrePromotion", "PostPromotion"


# ---------------------------------------------------------------------------------------------------------------
# templates and args
# ---------------------------------------------------------------------------------------------------------------


def _template(ctx: Context, name: str, cluster_scope: bool, path: str) -> JSON:
    if cluster_scope:
        spec = ctx.observed.templates.get(("ClusterAnalysisTemplate", "", name))
        kind = "ClusterAnalysisTemplate"
    else:
        tpl = ctx.observed.templates
        spec = tpl.get(("AnalysisTemplate", ctx.namespace or "default", name)) or tpl.get(
            ("AnalysisTemplate", "", name)
        )
        kind = "AnalysisTemplate"
    if spec is None:
        raise SpecError(f"{path}: Invalid value: \"{name}\": {kind} '{name}' not found")
    return spec


_Ref = tuple[str, bool]
"""A template reference: (templateName, clusterScope)."""


def _refs(analysis: RolloutAnalysis) -> list[_Ref]:
    return [(ref.template_name, ref.is_cluster_scope) for ref in analysis.templates or []]


def _nested_refs(spec: JSON) -> list[_Ref]:
    """The `templates` an AnalysisTemplate spec composes (wire JSON: templates are read as written)."""
    return [
        (str(r.get("templateName") or ""), bool(r.get("clusterScope")))
        for r in spec.get("templates") or []
        if isinstance(r, dict)
    ]


def _collect(
    ctx: Context,
    refs: list[_Ref],
    path: str,
    seen: set[str],
    out: list[JSON],
    cluster: list[bool] | None = None,
) -> None:
    """The referenced template specs, nested `templates` included, each once (`getAnalysisTemplatesFromRefs`)."""
    for name, cluster_scope in refs:
        key = f"{cluster_scope}/{name}"
        spec = _template(ctx, name, cluster_scope, path)
        if key in seen:
            continue
        seen.add(key)
        out.append(spec)
        if cluster is not None:
            cluster.append(cluster_scope)
        inner = _nested_refs(spec)
        if inner:
            _collect(ctx, inner, path, seen, out, cluster)


def _analysis_refs(ctx: Context) -> list[tuple[str, RolloutAnalysis]]:
    """(field path, RolloutAnalysis) of every analysis the strategy runs, in the order Argo reads them
    (`getReferencedRolloutAnalyses`: pre- then post-promotion; every step's, then the background one)."""
    refs: list[tuple[str, RolloutAnalysis]] = []
    if ctx.bluegreen is not None:
        bg = ctx.bluegreen
        for key, analysis in (
            ("prePromotionAnalysis", bg.pre_promotion_analysis),
            ("postPromotionAnalysis", bg.post_promotion_analysis),
        ):
            if analysis is not None:
                refs.append((f"spec.strategy.blueGreen.{key}.templates", analysis))
    elif ctx.canary is not None:
        for i, step in enumerate(ctx.steps):
            if step.analysis is not None:
                refs.append((f"spec.strategy.canary.steps[{i}].analysis.templates", step.analysis))
        if ctx.canary.analysis is not None:
            refs.append(("spec.strategy.canary.analysis.templates", ctx.canary.analysis))
    return refs


Referenced = list[tuple[str, RolloutAnalysis, list[JSON], list[bool]]]
"""Per analysis the strategy runs: (field path, RolloutAnalysis, template specs, whether each is cluster-scoped)."""


def referenced_templates(ctx: Context, *, skip_missing: bool = False) -> tuple[Referenced, str | None]:
    """The templates every analysis references, nested ones included, or the first that does not exist (checked
    every pass, like Argo's `getReferencedAnalysisTemplates`). `skip_missing` (lint, whose file may not hold
    every template): an analysis with a template not in `ctx.observed.templates` is left out instead."""
    found: Referenced = []
    for path, analysis in _analysis_refs(ctx):
        specs: list[JSON] = []
        cluster: list[bool] = []
        try:
            _collect(ctx, _refs(analysis), path, set(), specs, cluster)
        except SpecError as e:
            if not skip_missing:
                return found, str(e)
            continue
        found.append((path, analysis, specs, cluster))
    return found, None


def _template_names(analysis: RolloutAnalysis) -> str:
    return " ".join(ref.template_name for ref in analysis.templates or [])


def template_merge_error(ctx: Context, referenced: Referenced) -> str | None:
    """The first analysis whose templates (`referenced_templates`, all existing) do not merge into a run
    (`ValidateAnalysisTemplatesWithType`: duplicate metric names, conflicting or unresolved args)."""
    try:
        for path, analysis, specs, cluster in referenced:
            _flatten_metrics(specs, analysis, path)
            args = [_dummy_arg(ctx, a) for a in analysis.args or []]
            key = canonical_key([specs, cluster, args])
            error = _merge_error(key)
            if error:
                raise SpecError(
                    f'{path}: Invalid value: "templateNames: [{_template_names(analysis)}]": {error}'
                )
    except SpecError as e:
        return str(e)
    return None


def _dummy_arg(ctx: Context, arg: AnalysisRunArgument) -> JSON:
    """`buildAnalysisArgs` of the reference validation: valueFrom resolved against dummy hashes."""
    vf = arg.value_from
    value = arg.value if arg.value is not None else ""
    if vf is not None and vf.pod_template_hash_value == "Latest":
        value = "dummy-new-hash"
    elif vf is not None and vf.pod_template_hash_value == "Stable":
        value = "dummy-stable-hash"
    elif vf is not None and vf.field_ref is not None:
        try:
            value = _field_ref(ctx, vf.field_ref.field_path)
        except SpecError:
            value = ""
    return {"name": arg.name, "value": value}


@memoized(1024)
def _merge_error(key: str) -> str:
    """The merge error `NewAnalysisRunFromTemplates` would raise for these templates and args ('' if none).

    Memoised on the canonical JSON of its inputs: the controller validates the same references every pass."""
    specs, cluster, args = json.loads(key)
    try:
        analysis_args.build_run_spec(
            [AnalysisTemplate.from_wire({"spec": sp}) for sp, c in zip(specs, cluster, strict=True) if not c],
            [
                ClusterAnalysisTemplate.from_wire({"spec": sp})
                for sp, c in zip(specs, cluster, strict=True)
                if c
            ],
            [Argument.from_wire(a) for a in args],
        )
    except analysis_args.ArgsError as e:
        return str(e)
    except ValidationError as e:
        return str(e).splitlines()[0]
    return ""


_FIELD_INDEX = re.compile(r"^(.*)\[(.*)\]$")


def _field_ref(ctx: Context, path: str) -> str:
    """`fieldRef.fieldPath` against the Rollout: downward-API `metadata.…`, else a walk of the Rollout's JSON as
    written (Argo marshals the Rollout and walks it; docs/semantics/objects.md#rollout-spec)."""
    if path.startswith("metadata"):
        meta = ctx.rollout.metadata
        m = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
        if m:
            found = (meta.labels if m.group(1) == "labels" else meta.annotations) or {}
            return str(found.get(m.group(2), ""))
        if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
            value = {
                "metadata.name": meta.name,
                "metadata.namespace": meta.namespace,
                "metadata.uid": meta.uid,
            }
            return str(value[path] or "")
        raise SpecError(f"unsupported fieldPath: {path}")
    node: Any = ctx.observed.rollout_raw
    for part in path.split("."):
        m = _FIELD_INDEX.match(part)
        if m:
            key, index = m.group(1), m.group(2)
            node = node.get(key) if isinstance(node, dict) else None
            if not index.isdigit():
                raise SpecError(f"invalid index '{index}'")
            if not isinstance(node, list) or int(index) >= len(node):
                raise SpecError(f"index {index} out of range")
            node = node[int(index)]
        else:
            if not isinstance(node, dict) or part not in node:
                raise SpecError(f"invalid path {path} in rollout")
            node = node[part]
    if isinstance(node, dict | list):
        raise SpecError(f"path {path} in rollout must terminate in a primitive value")
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def rollout_args(ctx: Context, args: list[AnalysisRunArgument]) -> list[JSON]:
    """`BuildArgumentsForRolloutAnalysisRun`: every arg gets a value (valueFrom resolved now)."""
    out: list[JSON] = []
    for arg in args:
        value = arg.value if arg.value is not None else ""
        vf = arg.value_from
        if vf is not None and vf.pod_template_hash_value == "Latest":
            value = ctx.new_rs.pod_template_hash if ctx.new_rs else ""
        elif vf is not None and vf.pod_template_hash_value == "Stable":
            value = ctx.stable_rs.pod_template_hash if ctx.stable_rs else ""
        elif vf is not None and vf.field_ref is not None:
            value = _field_ref(ctx, vf.field_ref.field_path)
        out.append({"name": arg.name, "value": value})
    return out


def _flatten_metrics(specs: list[JSON], analysis: RolloutAnalysis, path: str) -> list[JSON]:
    """`FlattenTemplates` metrics: concatenated; a duplicate name is Argo's reference-validation error."""
    metrics: list[JSON] = []
    names: set[str] = set()
    for spec in specs:
        for metric in spec.get("metrics") or []:
            if metric.get("name") in names:
                raise SpecError(
                    f'{path}: Invalid value: "templateNames: [{_template_names(analysis)}]": '
                    f"two metrics have the same name '{metric.get('name')}'"
                )
            names.add(metric.get("name"))
            metrics.append(metric)
    return metrics


# AnalysisRun specs by the exact JSON of what they are built from: a pass that creates a run is repeated with
# the same inputs until the run is observed, and building one (typed templates, args merge) is costly.
_RUN_SPECS: Memo[JSON] = Memo(256)


def build_run_spec(ctx: Context, analysis: RolloutAnalysis, path: str) -> JSON:
    """The AnalysisRun spec (`NewAnalysisRunFromTemplates`, docs/semantics/analysis.md#analysis-args) via `analysis.args.build_run_spec`.

    Args come from the Rollout with every `valueFrom` resolved now (`BuildArgumentsForRolloutAnalysisRun`);
    a merge error (conflicting values, an arg left unresolved, duplicate rules) is a `SpecError`."""
    specs: list[JSON] = []
    cluster: list[bool] = []
    _collect(ctx, _refs(analysis), path, set(), specs, cluster)
    _flatten_metrics(specs, analysis, path)
    try:
        args = rollout_args(ctx, list(analysis.args or []))
        dry_run = [d.metric_name for d in analysis.dry_run or []]
        retention = [[r.metric_name, r.limit] for r in analysis.measurement_retention or []]
        # everything the spec is built from below, so a hit is exactly what building it again would give
        key = json_key([specs, cluster, args, dry_run, retention])
        cached = _RUN_SPECS.get(key)
        if cached is not None:
            hit: JSON = copy_json(cached)
            return hit
        templates = [
            AnalysisTemplate.from_wire({"spec": sp}) for sp, c in zip(specs, cluster, strict=True) if not c
        ]
        cluster_templates = [
            ClusterAnalysisTemplate.from_wire({"spec": sp}) for sp, c in zip(specs, cluster, strict=True) if c
        ]
        run_spec = analysis_args.build_run_spec(
            templates,
            cluster_templates,
            [Argument.from_wire(a) for a in args],
            [DryRun(metric_name=name) for name in dry_run],
            [MeasurementRetention(metric_name=name, limit=limit) for name, limit in retention],
        )
    except (analysis_args.ArgsError, ValidationError) as e:
        message = str(e).splitlines()[0] if isinstance(e, ValidationError) else str(e)
        raise SpecError(
            f'{path}: Invalid value: "templateNames: [{_template_names(analysis)}]": {message}'
        ) from e
    wire: JSON = run_spec.to_wire()
    _RUN_SPECS.put(key, copy_json(wire))
    return wire


# ---------------------------------------------------------------------------------------------------------------
# current runs
# ---------------------------------------------------------------------------------------------------------------


def _runs_by_name(ctx: Context) -> dict[str, AnalysisRunState]:
    return {r.name: r for r in ctx.observed.analysis_runs}


def current_run(ctx: Context, stored: RolloutAnalysisRunStatus | None) -> AnalysisRunState | None:
    """The observed run the stored status names (`currentStepAnalysisRunStatus`, …), if it exists."""
    name = stored.name if stored is not None else ""
    return _runs_by_name(ctx).get(name) if name else None


def current_step_run(ctx: Context) -> AnalysisRunState | None:
    return current_run(ctx, ctx.status.canary.current_step_analysis_run_status)


def _needs_new(ctx: Context, run: AnalysisRunState | None) -> bool:
    """`needsNewAnalysisRun`."""
    if run is None:
        return True
    if (
        ctx.status.controller_pause
        and ctx.pause_condition(CANARY_PAUSE_STEP) is None
        and ctx.pause_condition(BLUE_GREEN_PAUSE) is None
    ):
        return run.phase == AnalysisPhase.INCONCLUSIVE
    return ctx.status.aborted_at is not None


def _terminate(ctx: Context, run: AnalysisRunState | None) -> None:
    if run is not None and not run.terminate and not AnalysisPhase.is_completed(run.phase):
        ctx.actions.append(TerminateAnalysisRun(run.name))


def _create(
    ctx: Context, analysis: RolloutAnalysis, infix: str, rtype: str, path: str, index: int | None = None
) -> JSON:
    """`createAnalysisRun`: name `<rollout>-<podhash>-<revision>[-<infix>]`, `.N` on collision."""
    pod_hash = ctx.new_rs.pod_template_hash if ctx.new_rs else ctx.pod_hash
    revision = str(ctx.revision)
    base = "-".join([ctx.name, pod_hash, revision] + ([infix] if infix else []))
    existing = _runs_by_name(ctx)
    name, n = base, 0
    while name in existing:
        run = existing[name]
        # an equal run that is still going is reused (a pass whose status write was lost creates no twin)
        if (
            not AnalysisPhase.is_completed(run.phase)
            and not run.terminate
            and run.rollout_type == rtype
            and run.pod_template_hash == pod_hash
        ):
            return analysis_run_status(run)
        n += 1
        name = f"{base}.{n}"
    labels: dict[str, str] = {POD_TEMPLATE_HASH_LABEL: pod_hash, ROLLOUT_TYPE_LABEL: rtype}
    if index is not None:
        labels[STEP_INDEX_LABEL] = str(index)
    meta = analysis.analysis_run_metadata
    labels.update((meta.labels if meta is not None else None) or {})
    selector = ctx.spec.selector
    labels.update((selector.match_labels if selector is not None else None) or {})
    instance_id = (ctx.rollout.metadata.labels or {}).get(INSTANCE_ID_LABEL)
    if instance_id:
        labels[INSTANCE_ID_LABEL] = instance_id  # the run is handled by the same controller instance
    annotations = {REVISION_ANNOTATION: revision, **((meta.annotations if meta is not None else None) or {})}
    spec = build_run_spec(ctx, analysis, path)
    ctx.actions.append(CreateAnalysisRun(name, spec, labels, annotations))
    return {"name": name, "status": ""}


def _outcome(ctx: Context, run: AnalysisRunState | None, label: str) -> None:
    if run is None:
        return
    if run.phase == AnalysisPhase.INCONCLUSIVE:
        ctx.pause(INCONCLUSIVE_ANALYSIS)
    elif run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        message = f"{label} analysis phase error/failed"
        if run.message:
            message += f": {run.message}"
        ctx.abort(message)


def _emit_change(
    ctx: Context, prev: RolloutAnalysisRunStatus | None, run: AnalysisRunState | None, rtype: str
) -> None:
    """`emitAnalysisRunStatusChanges`: event `AnalysisRun<Phase>` when a current run's phase changes."""
    if run is None or not run.phase:
        return
    if prev is None or (prev.name == run.name and prev.status != run.phase):
        before = prev.status if prev is not None else "NoPreviousStatus"
        ctx.event(
            f"AnalysisRun{run.phase}",
            f"{rtype} Analysis Run '{run.name}' Status New: '{run.phase}' Previous: '{before}'",
            warning=run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR),
        )


def _cleanup(ctx: Context, current_names: set[str]) -> None:
    """Terminate non-current runs; delete the oldest beyond the history limits (rollout spec.analysis)."""
    others = [r for r in ctx.observed.analysis_runs if r.name not in current_names]
    for run in others:
        _terminate(ctx, run)
    ok_limit = ctx.spec.successful_run_history_limit()
    bad_limit = ctx.spec.unsuccessful_run_history_limit()
    live_hashes = {rs.pod_template_hash for rs in ctx.all_rss}
    ok = sorted(
        (r for r in others if r.phase == AnalysisPhase.SUCCESSFUL),
        key=lambda r: (r.created, r.name),
        reverse=True,
    )
    bad = sorted(
        (
            r
            for r in others
            if r.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)
        ),
        key=lambda r: (r.created, r.name),
        reverse=True,
    )
    for group, limit in ((ok, ok_limit), (bad, bad_limit)):
        for run in group[limit:]:
            ctx.actions.append(DeleteAnalysisRun(run.name))
    deleted = {r.name for group, limit in ((ok, ok_limit), (bad, bad_limit)) for r in group[limit:]}
    for run in others:
        # runs of a ReplicaSet that no longer exists go with it (reconcileRevisionHistoryLimit)
        gone = run.pod_template_hash and run.pod_template_hash not in live_hashes
        if gone and AnalysisPhase.is_completed(run.phase) and run.name not in deleted:
            ctx.actions.append(DeleteAnalysisRun(run.name))


def _set(section: JSON, key: str, value: JSON | None) -> None:
    if value is None:
        section.pop(key, None)
    else:
        section[key] = value


def reconcile_canary_runs(ctx: Context, st: JSON) -> None:
    """Step and background runs of a canary (docs/semantics/controller.md#rollout-analysis)."""
    can = st.setdefault("canary", {})
    prev = ctx.status.canary
    step_run = current_step_run(ctx)
    bg_run = current_run(ctx, prev.current_background_analysis_run_status)
    cancel = (
        ctx.fully_promoted
        or ctx.aborted
        or ctx.status.promote_full
        or is_fast_rollback(ctx)
        or not ctx.stable_hash
    )
    if cancel:
        _terminate(ctx, step_run)
        _terminate(ctx, bg_run)
        can.pop("currentStepAnalysisRunStatus", None)
        can.pop("currentBackgroundAnalysisRunStatus", None)
        _cleanup(ctx, set())
        return
    step_status = _reconcile_step_run(ctx, step_run)
    bg_status = _reconcile_background_run(ctx, bg_run)
    _set(can, "currentStepAnalysisRunStatus", step_status)
    _set(can, "currentBackgroundAnalysisRunStatus", bg_status)
    _emit_change(ctx, prev.current_step_analysis_run_status, step_run if step_status else None, STEP)
    _emit_change(ctx, prev.current_background_analysis_run_status, bg_run if bg_status else None, BACKGROUND)
    _cleanup(ctx, {s["name"] for s in (step_status, bg_status) if s})


def _reconcile_step_run(ctx: Context, run: AnalysisRunState | None) -> JSON | None:
    step, idx = ctx.current_step()
    if ctx.status.pause_conditions or ctx.status.abort:
        return analysis_run_status(run) if run is not None else None
    analysis = step.analysis if step is not None else None
    from_prev = (
        analysis is not None and run is not None and run.step_index is not None and run.step_index != idx
    )
    if analysis is None or not analysis.templates or idx is None or from_prev:
        _terminate(ctx, run)
        return None
    if _needs_new(ctx, run):
        path = f"spec.strategy.canary.steps[{idx}].analysis.templates"
        return _create(ctx, analysis, str(idx), STEP, path, idx)
    _outcome(ctx, run, "Step-based")
    return analysis_run_status(run) if run is not None else None


def _before_starting_step(ctx: Context) -> bool:
    analysis = ctx.canary.analysis if ctx.canary is not None else None
    start = analysis.starting_step if analysis is not None else None
    _, idx = ctx.current_step()
    return start is not None and idx is not None and idx < start


def _reconcile_background_run(ctx: Context, run: AnalysisRunState | None) -> JSON | None:
    analysis = ctx.canary.analysis if ctx.canary is not None else None
    if analysis is None or not analysis.templates:
        _terminate(ctx, run)
        return None
    if (
        ctx.fully_promoted
        or not ctx.stable_hash
        or not ctx.status.current_pod_hash
        or _before_starting_step(ctx)
    ):
        return None
    if ctx.pause_condition(INCONCLUSIVE_ANALYSIS) is not None:
        return analysis_run_status(run) if run is not None else None
    if _needs_new(ctx, run):
        return _create(ctx, analysis, "", BACKGROUND, "spec.strategy.canary.analysis.templates")
    _outcome(ctx, run, "Background")
    return analysis_run_status(run) if run is not None else None


# ---------------------------------------------------------------------------------------------------------------
# blue-green
# ---------------------------------------------------------------------------------------------------------------


def reconcile_bluegreen_runs(
    ctx: Context, st: JSON, pre_ready: bool, post_ready: bool, fast_rollback: bool
) -> None:
    """Pre- and post-promotion runs (docs/semantics/controller.md#bluegreen steps 2 and 5). `*_ready` are Argo's skip conditions inverted."""
    bg = st.setdefault("blueGreen", {})
    spec = ctx.bluegreen
    assert spec is not None  # called for a blue-green Rollout only
    prev = ctx.status.blue_green
    pre = current_run(ctx, prev.pre_promotion_analysis_run_status)
    post = current_run(ctx, prev.post_promotion_analysis_run_status)
    cancel = ctx.fully_promoted or ctx.aborted or ctx.status.promote_full or fast_rollback
    cancel = cancel or not ctx.stable_hash
    if cancel:
        _terminate(ctx, pre)
        _terminate(ctx, post)
        _cleanup(ctx, {r.name for r in (pre, post) if r is not None})
        return
    pre_status = _reconcile_bg_run(ctx, spec.pre_promotion_analysis, pre, pre_ready, "pre", PRE)
    post_status = _reconcile_bg_run(ctx, spec.post_promotion_analysis, post, post_ready, "post", POST)
    _set(bg, "prePromotionAnalysisRunStatus", pre_status)
    _set(bg, "postPromotionAnalysisRunStatus", post_status)
    _emit_change(ctx, prev.pre_promotion_analysis_run_status, pre if pre_status else None, PRE)
    _emit_change(ctx, prev.post_promotion_analysis_run_status, post if post_status else None, POST)
    _cleanup(ctx, {s["name"] for s in (pre_status, post_status) if s})


def _reconcile_bg_run(
    ctx: Context,
    analysis: RolloutAnalysis | None,
    run: AnalysisRunState | None,
    ready: bool,
    infix: str,
    rtype: str,
) -> JSON | None:
    if analysis is None or not analysis.templates:
        _terminate(ctx, run)
        return None
    if not ready and run is None:
        return None
    if not ready:
        _terminate(ctx, run)
        return analysis_run_status(run) if run is not None else None
    if ctx.pause_condition(INCONCLUSIVE_ANALYSIS) is not None:
        return analysis_run_status(run) if run is not None else None
    if _needs_new(ctx, run):
        key = "prePromotionAnalysis" if infix == "pre" else "postPromotionAnalysis"
        return _create(ctx, analysis, infix, rtype, f"spec.strategy.blueGreen.{key}.templates")
    label = "Blue/green pre-promotion" if infix == "pre" else "Blue/green post-promotion"
    _outcome(ctx, run, label)
    return analysis_run_status(run) if run is not None else None
