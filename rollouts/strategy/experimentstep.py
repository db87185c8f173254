"""The canary `experiment` step: an Experiment of the stable and canary pod templates, side by side, that the step
waits for. docs/semantics/experiments.md#experiment-step. PURE.

Argo: rollout/experiment.go (`GetExperimentFromTemplate`, `reconcileExperiments`, `cancelExperiments`),
rollout/canary.go (`completedCurrentCanaryStep`), utils/experiment/filter.go (`GetCurrentExperiment`). The
Experiment is named `<rollout>-<pod hash>-<revision>-<step index>` and owned by the Rollout; the Rollout records it
in `status.canary.currentExperiment` while it runs. Successful: the step is complete. Failed or Error: the Rollout
aborts (`Experiment analysis phase is error/failed[: message]`). Inconclusive: the Rollout pauses
(`InconclusiveExperiment`). An abort or a full promotion terminates every Experiment the Rollout runs; leaving the
step terminates its Experiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rollouts.models import CanaryStep
from rollouts.models.vocabulary import (
    INCONCLUSIVE_ANALYSIS,
    INCONCLUSIVE_EXPERIMENT,
    INSTANCE_ID_LABEL,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
)
from rollouts.strategy.analysisruns import rollout_args
from rollouts.strategy.context import copy_json
from rollouts.strategy.plan import (
    JSON,
    CreateExperiment,
    DeleteExperiment,
    ExperimentState,
    ReplicaSetState,
    TerminateExperiment,
)

if TYPE_CHECKING:
    from rollouts.strategy.context import Context

__all__ = ["experiment_body", "reconcile_experiments", "step_completed"]

FINISHED = ("Successful", "Failed", "Error", "Inconclusive")


def step_completed(ctx: Context) -> bool:
    """`completedCurrentCanaryStep` for an experiment step: its Experiment is Successful."""
    ex = ctx.current_experiment()
    return ex is not None and ex.phase == "Successful"


def _template_from(ctx: Context, rs: ReplicaSetState, step_template: Any) -> JSON:
    """One Experiment template from the ReplicaSet its `specRef` names (its pod template and selector: the
    Rollout's with the ReplicaSet's hash), the step's `selector` instead when given, and its labels/annotations."""
    template: JSON = copy_json(rs.template)
    meta = template.setdefault("metadata", {})
    if step_template.selector is not None:
        selector: JSON = step_template.selector.to_wire()
    else:
        selector = ctx.spec.selector.to_wire() if ctx.spec.selector is not None else {}
        selector["matchLabels"] = {
            **(selector.get("matchLabels") or {}),
            POD_TEMPLATE_HASH_LABEL: rs.pod_template_hash,
        }
    extra = step_template.metadata
    if extra is not None and extra.labels:
        meta["labels"] = {**(meta.get("labels") or {}), **extra.labels}
        selector.setdefault("matchLabels", {}).update(extra.labels)
    if extra is not None and extra.annotations:
        meta["annotations"] = {**(meta.get("annotations") or {}), **extra.annotations}
    out: JSON = {"name": step_template.name, "template": template, "selector": selector}
    if step_template.replicas is not None:
        out["replicas"] = step_template.replicas
    if step_template.weight is not None or step_template.service is not None:
        service = step_template.service.name if step_template.service is not None else None
        out["service"] = {"name": service} if service else {}
    return out


def experiment_body(ctx: Context, step: CanaryStep, index: int) -> tuple[str, JSON]:
    """`GetExperimentFromTemplate`: (name, the Experiment's metadata and spec)."""
    exp = step.experiment
    assert exp is not None and ctx.new_rs is not None and ctx.stable_rs is not None
    revision = str(ctx.revision)
    name = f"{ctx.name}-{ctx.pod_hash}-{revision}-{index}"
    labels = {**(ctx.rollout.metadata.labels or {}), POD_TEMPLATE_HASH_LABEL: ctx.pod_hash}
    instance = (ctx.rollout.metadata.labels or {}).get(INSTANCE_ID_LABEL)
    if instance:
        labels[INSTANCE_ID_LABEL] = instance
    spec: JSON = {"templates": []}
    if exp.duration:
        spec["duration"] = exp.duration
    if ctx.spec.progress_deadline_seconds is not None:
        spec["progressDeadlineSeconds"] = ctx.spec.progress_deadline_seconds
    if exp.dry_run:
        spec["dryRun"] = [d.to_wire() for d in exp.dry_run]
    if exp.analysis_run_metadata is not None:
        spec["analysisRunMetadata"] = exp.analysis_run_metadata.to_wire()
    if exp.scale_down_delay_seconds is not None:
        spec["scaleDownDelaySeconds"] = exp.scale_down_delay_seconds
    for t in exp.templates:
        rs = ctx.new_rs if t.spec_ref == "canary" else ctx.stable_rs
        entry = _template_from(ctx, rs, t)
        entry["minReadySeconds"] = rs.min_ready_seconds
        if not entry["minReadySeconds"]:
            entry.pop("minReadySeconds")
        spec["templates"].append(entry)
    analyses = []
    for a in exp.analyses or []:
        ref: JSON = {
            "name": a.name,
            "templateName": a.template_name,
            "args": rollout_args(ctx, list(a.args or [])),
        }
        if a.cluster_scope:
            ref["clusterScope"] = True
        if a.required_for_completion:
            ref["requiredForCompletion"] = True
        analyses.append(ref)
    if analyses:
        spec["analyses"] = analyses
    body = {"metadata": {"labels": labels, "annotations": {REVISION_ANNOTATION: revision}}, "spec": spec}
    return name, body


def _terminate(ctx: Context, experiments: Sequence[ExperimentState | None]) -> None:
    """`cancelExperiments`: every one not terminated yet and not finished."""
    for ex in experiments:
        if ex is not None and not ex.terminate and ex.phase not in FINISHED:
            ctx.actions.append(TerminateExperiment(ex.name))


def reconcile_experiments(ctx: Context, st: JSON) -> None:
    """`reconcileExperiments`."""
    current = ctx.current_experiment()
    others = [e for e in ctx.observed.experiments if current is None or e.name != current.name]
    if ctx.aborted or ctx.status.promote_full:
        _terminate(ctx, [*others, current])
        return
    if ctx.pause_condition(INCONCLUSIVE_ANALYSIS) is not None:
        return
    step, idx = ctx.current_step()
    if step is not None and step.experiment is not None and idx is not None:
        if current is None:
            if ctx.stable_rs is None or ctx.new_rs is None:
                return  # "Cannot create experiment until stableRS exists"
            name, body = experiment_body(ctx, step, idx)
            ctx.actions.append(CreateExperiment(name, body))
            ctx.event("ExperimentCreated", f"Created Experiment '{name}'")
            current = ExperimentState(name=name, phase="")
        if current.phase == "Inconclusive":
            ctx.pause(INCONCLUSIVE_EXPERIMENT)
        elif current.phase in ("Error", "Failed"):
            message = "Experiment analysis phase is error/failed"
            if current.message:
                message += f": {current.message}"
            ctx.abort(message)
        elif current.phase != "Successful":
            st.setdefault("canary", {})["currentExperiment"] = current.name
    elif current is not None:
        others.append(current)  # the step is left: its Experiment ends
    _terminate(ctx, others)
    for ex in _to_delete(ctx, others):
        ctx.actions.append(DeleteExperiment(ex.name))


def _to_delete(ctx: Context, experiments: Sequence[ExperimentState]) -> list[ExperimentState]:
    """`FilterExperimentsToDelete`: newest first, an Experiment without the pod-hash label or whose ReplicaSet is
    gone is deleted; of the others, the finished ones beyond the Rollout's run history limits
    (`spec.analysis.successfulRunHistoryLimit` / `unsuccessfulRunHistoryLimit`, 5 each by default)."""
    hashes = {rs.pod_template_hash for rs in ctx.all_rss}
    kept = {"Successful": 0, "Unsuccessful": 0}
    limits = {
        "Successful": ctx.spec.successful_run_history_limit(),
        "Unsuccessful": ctx.spec.unsuccessful_run_history_limit(),
    }
    doomed: list[ExperimentState] = []
    for ex in sorted(experiments, key=lambda e: (e.created is not None, e.created, e.name), reverse=True):
        if ex.pod_template_hash is None or ex.pod_template_hash not in hashes:
            doomed.append(ex)
            continue
        kind = "Successful" if ex.phase == "Successful" else ("Unsuccessful" if ex.phase in FINISHED else "")
        if not kind:
            continue
        if kept[kind] < limits[kind]:
            kept[kind] += 1
        else:
            doomed.append(ex)
    return doomed
