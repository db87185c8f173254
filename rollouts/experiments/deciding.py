"""`decide_experiment(observed, now) -> Plan`: one pass over an Experiment. PURE.

docs/semantics/experiments.md#experiment-templates, #experiment-analyses, docs/semantics/experiments.md#experiment-phase.

Argo: experiments/controller.go (`syncHandler`), experiments/experiment.go (`reconcile`, `reconcileTemplate`,
`reconcileAnalysisRun`, `calculateStatus`, `assessTemplates`, `assessAnalysisRuns`, `calculateEnqueueDuration`),
experiments/replicaset.go, experiments/service.go, experiments/conditions.go, utils/experiment/experiment.go,
utils/conditions/experiments.go (`VerifyExperimentSpec`, the conditions), utils/template/template.go
(`ResolveExperimentArgsValue`).

Each template of `spec.templates` runs as a ReplicaSet `<experiment>-<template>` (and, with `service`, a Service
for its pods); once every template has its pods available the Experiment is Running (`status.availableAt`) and
its `analyses` start as AnalysisRuns `<experiment>-<analysis>`. It ends Successful when `duration` has passed
with every template available (or when the runs `requiredForCompletion` succeeded), Failed / Error /
Inconclusive with the worst run or template, and on `terminate`. Then its ReplicaSets are scaled to 0 after
`scaleDownDelaySeconds` and its runs terminated. The same Experiment decided twice from the same objects gives
the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from analysis import args as analysis_args
from analysis.durations import parse_go_duration
from analysis.models import AnalysisTemplate, Argument, ClusterAnalysisTemplate, DryRun, MeasurementRetention
from rollouts.models.experiment import Experiment, ExperimentAnalysisTemplateRef, TemplateSpec
from rollouts.models.vocabulary import (
    EXPERIMENT_OWNER_ANNOTATION,
    EXPERIMENT_TEMPLATE_ANNOTATION,
    INSTANCE_ID_LABEL,
    POD_TEMPLATE_HASH_LABEL,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    format_time,
    parse_time,
)
from rollouts.strategy.hashing import pod_template_hash
from rollouts.strategy.plan import (
    JSON,
    Action,
    AnalysisRunState,
    CreateAnalysisRun,
    CreateReplicaSet,
    CreateService,
    DeleteService,
    EmitEvent,
    Plan,
    ReplicaSetState,
    ScaleReplicaSet,
    TerminateAnalysisRun,
    UpdateReplicaSetMeta,
)

__all__ = ["ExperimentObserved", "decide_experiment", "is_terminating", "verify_spec"]

COMPLETED = ("Successful", "Failed", "Error", "Inconclusive")
TEMPLATE_ORDER = ("Successful", "Running", "Progressing", "Error", "Failed")  # TemplateIsWorse
# analysisutil.analysisStatusOrder, best to worst
ANALYSIS_ORDER = ("Successful", "Running", "Pending", "Inconclusive", "Error", "Failed")
REQUIRED_COMPLETED = "Required AnalysisRuns completed"

TemplateRef = tuple[str, str, str]  # ("AnalysisTemplate", ns, name) | ("ClusterAnalysisTemplate", "", name)


@dataclass(frozen=True)
class ExperimentObserved:
    """What a pass over an Experiment reads: the Experiment, and what it owns or names."""

    experiment: Experiment
    raw: JSON
    replica_sets: Mapping[str, ReplicaSetState] = field(default_factory=dict)  # by template name
    services: Mapping[str, str] = field(default_factory=dict)  # template name -> the Service it owns
    runs: Mapping[str, AnalysisRunState] = field(default_factory=dict)  # by run name
    templates: Mapping[TemplateRef, JSON] = field(
        default_factory=dict
    )  # analysis templates that exist (specs)


# ---------------------------------------------------------------------------------------------------------------
# Status helpers (utils/experiment/experiment.go)
# ---------------------------------------------------------------------------------------------------------------


def _by_name(items: Any) -> dict[str, JSON]:
    return {str(i.get("name")): dict(i) for i in items or [] if isinstance(i, Mapping)}


def _completed(phase: str) -> bool:
    return phase in COMPLETED


def _worse(order: tuple[str, ...], current: str, new: str) -> bool:
    ci = order.index(current) if current in order else 0
    ni = order.index(new) if new in order else 0
    return ni > ci


def required_runs_successful(ex: Experiment, status: Mapping[str, Any]) -> bool:
    """`RequiredAnalysisRunsSuccessful`: there are required runs and every one is Successful."""
    runs = _by_name(status.get("analysisRuns"))
    required = [a for a in ex.spec.analyses or [] if a.required_for_completion]
    return bool(required) and all((runs.get(a.name) or {}).get("phase") == "Successful" for a in required)


def is_terminating(ex: Experiment, status: Mapping[str, Any]) -> bool:
    """`IsTerminating`: asked to, finished, a template Failed/Error, a run Failed/Error/Inconclusive, or the
    required runs all Successful."""
    if ex.spec.terminate or _completed(str(status.get("phase") or "")):
        return True
    if any(t.get("status") in ("Failed", "Error") for t in status.get("templateStatuses") or []):
        return True
    if any(r.get("phase") in ("Failed", "Error", "Inconclusive") for r in status.get("analysisRuns") or []):
        return True
    return required_runs_successful(ex, status)


def _duration(ex: Experiment) -> timedelta | None:
    if not ex.spec.duration:
        return None
    try:
        return parse_go_duration(ex.spec.duration)
    except ValueError:
        return None


def passed_duration(ex: Experiment, status: Mapping[str, Any], now: datetime) -> tuple[bool, timedelta]:
    """`PassedDurations`: (duration elapsed since availableAt, time left)."""
    duration = _duration(ex)
    available_at = parse_time(status.get("availableAt"))
    if duration is None or available_at is None:
        return False, timedelta(0)
    ends = available_at + duration
    return now > ends, ends - now


def desired_replicas(ex: Experiment, status: Mapping[str, Any], template: TemplateSpec) -> int:
    """`CalculateTemplateReplicasCount`: 0 once the Experiment is over (or ending) or the template is done."""
    if is_terminating(ex, status):
        return 0
    ts = _by_name(status.get("templateStatuses")).get(template.name)
    if ts is not None and ts.get("status") in ("Successful", "Failed", "Error"):
        return 0
    return template.replicas_or_default()


# ---------------------------------------------------------------------------------------------------------------
# Validation (utils/conditions/experiments.go VerifyExperimentSpec)
# ---------------------------------------------------------------------------------------------------------------


def verify_spec(ex: Experiment) -> str | None:
    """The InvalidSpec message of the first problem, or None."""
    seen: set[str] = set()
    deadline = ex.spec.progress_deadline_seconds_or_default()
    for i, template in enumerate(ex.spec.templates):
        if template.selector is None:
            return f"Rollout has missing field '.Spec.Templates[{i}].Selector'"  # Argo's MissingFieldMessage, as is
        if not (template.selector.match_labels or template.selector.match_expressions):
            return f"This experiment is selecting all pods at index {i}. A non-empty selector is required."
        if (template.min_ready_seconds or 0) > deadline:
            return f"MinReadySeconds cannot be longer than ProgressDeadlineSeconds. Check template index {i}"
        if not template.name:
            return f"Experiment {ex.name} has empty template name at index {i}"
        if template.name in seen:
            return f"Experiment {ex.name} has repeated template name '{template.name}' in templates"
        seen.add(template.name)
    return None


def _set_condition(status: JSON, type_: str, value: str, reason: str, message: str, now: str) -> None:
    """`SetExperimentCondition`: kept as is when status and reason are the same; the transition time kept when
    only the reason changes."""
    conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    current = next((c for c in conditions if c.get("type") == type_), None)
    if current is not None and current.get("status") == value and current.get("reason") == reason:
        return
    new = {
        "type": type_,
        "status": value,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }
    if current is not None and current.get("status") == value:
        new["lastTransitionTime"] = current.get("lastTransitionTime", now)
    status["conditions"] = [c for c in conditions if c.get("type") != type_] + [new]


def _remove_condition(status: JSON, type_: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


# ---------------------------------------------------------------------------------------------------------------
# The pass
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Pass:
    observed: ExperimentObserved
    now: datetime
    stored: JSON
    status: JSON
    actions: list[Action] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    requeue: list[float] = field(default_factory=list)

    @property
    def ex(self) -> Experiment:
        return self.observed.experiment

    @property
    def stamp(self) -> str:
        return format_time(self.now)

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(EmitEvent("Warning" if warning else "Normal", reason, message))

    def requeue_at(self, when: datetime) -> None:
        self.requeue.append(max((when - self.now).total_seconds(), 0.0))


def _rs_template(ex: Experiment, template: TemplateSpec, collision: int | None) -> tuple[JSON, str]:
    """`newReplicaSetFromTemplate`: the template without a hash label, hashed, then labelled with the hash."""
    pod = dict(template.template or {})
    meta = dict(pod.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != POD_TEMPLATE_HASH_LABEL}
    meta["labels"] = labels
    pod["metadata"] = meta
    pod_hash = pod_template_hash(pod, collision)
    pod = {**pod, "metadata": {**meta, "labels": {**labels, POD_TEMPLATE_HASH_LABEL: pod_hash}}}
    return pod, pod_hash


def _reconcile_template(p: _Pass, template: TemplateSpec) -> None:
    ex, observed = p.ex, p.observed
    statuses = _by_name(p.status.get("templateStatuses"))
    ts = statuses.get(template.name) or {"name": template.name}
    prev = dict(ts)
    desired = desired_replicas(ex, p.stored, template)
    rs = observed.replica_sets.get(template.name)
    counts = (0, 0, 0)
    deadline: datetime | None = None
    if rs is None:
        collision = ts.get("collisionCount") if isinstance(ts.get("collisionCount"), int) else None
        pod, pod_hash = _rs_template(ex, template, collision)
        selector = template.selector.to_wire() if template.selector is not None else {}
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
        name = f"{ex.name}-{template.name}"
        p.actions.append(
            CreateReplicaSet(
                name=name,
                pod_template_hash=pod_hash,
                replicas=desired,
                template=pod,
                selector=selector,
                labels=dict(pod["metadata"]["labels"]),
                annotations={
                    EXPERIMENT_OWNER_ANNOTATION: ex.name,
                    EXPERIMENT_TEMPLATE_ANNOTATION: template.name,
                },
                min_ready_seconds=template.min_ready_seconds or 0,
            )
        )
        if desired > 0:
            p.event("NewReplicaSetCreated", f'Created new replica set "{name}" with size {desired}')
        ts["lastTransitionTime"] = p.stamp
    else:
        _reconcile_service(p, template, rs, desired, ts)
        spec_replicas = rs.spec_replicas
        if desired == 0:
            deadline = _scale_down_delay(p, rs)
        if spec_replicas != desired:
            target = desired
            if desired == 0 and deadline is not None and deadline > p.now:
                p.requeue_at(deadline)  # the ReplicaSet keeps its pods until the scale-down deadline
                target = template.replicas_or_default()
            if target != spec_replicas:
                verb = "up" if spec_replicas < target else "down"
                p.actions.append(ScaleReplicaSet(rs.name, target))
                p.event(
                    "ScalingReplicaSet",
                    f"Scaled {verb} ReplicaSet {rs.name} from {spec_replicas} to {target}",
                )
            ts["lastTransitionTime"] = p.stamp
        counts = (rs.replicas, rs.ready_replicas, rs.available_replicas)
    replicas, ready, available = counts
    ts.update(replicas=replicas, updatedReplicas=replicas, readyReplicas=ready, availableReplicas=available)
    if any(
        prev.get(k, 0) != ts[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    ):
        ts["lastTransitionTime"] = p.stamp
    if ts.get("status") not in ("Successful", "Failed", "Error"):
        terminating = is_terminating(ex, p.stored)
        if desired == available:
            passed, _ = passed_duration(ex, p.stored, p.now)
            ts["status"] = "Successful" if passed or terminating else "Running"
        else:
            since = parse_time(ts.get("lastTransitionTime")) or p.now
            seconds = ex.spec.progress_deadline_seconds_or_default()
            if p.now > since + timedelta(seconds=seconds):
                ts["status"] = "Failed"
                ts["message"] = f"Template '{template.name}' exceeded its progressDeadlineSeconds ({seconds})"
            elif terminating:
                ts["status"] = "Successful"
            else:
                ts["status"] = "Progressing"
    if prev.get("status") != ts.get("status"):
        message = f"Template '{template.name}' transitioned from {prev.get('status', '')} -> {ts['status']}"
        if ts.get("message"):
            message += f": {ts['message']}"
        p.event("Template" + ts["status"], message, warning=ts["status"] in ("Failed", "Error"))
    statuses[template.name] = {k: v for k, v in ts.items() if v is not None}
    p.status["templateStatuses"] = _ordered(p.status.get("templateStatuses"), statuses)


def _ordered(previous: Any, by_name: dict[str, JSON]) -> list[JSON]:
    """`SetTemplateStatus` / `SetAnalysisRunStatus`: updated in place, new ones appended."""
    names = [str(i.get("name")) for i in previous or [] if isinstance(i, Mapping)]
    names += [n for n in by_name if n not in names]
    return [by_name[n] for n in names if n in by_name]


def _scale_down_delay(p: _Pass, rs: ReplicaSetState) -> datetime | None:
    """`addScaleDownDelay`: the deadline annotation set once (removed when the delay is 0); returns it."""
    delay = p.ex.spec.scale_down_delay_seconds_or_default()
    if delay == 0:
        if SCALE_DOWN_DEADLINE_ANNOTATION in rs.annotations:
            p.actions.append(
                UpdateReplicaSetMeta(rs.name, annotations={SCALE_DOWN_DEADLINE_ANNOTATION: None})
            )
        return None
    if rs.scale_down_deadline is not None or SCALE_DOWN_DEADLINE_ANNOTATION in rs.annotations:
        return rs.scale_down_deadline
    deadline = p.now + timedelta(seconds=delay)
    p.actions.append(
        UpdateReplicaSetMeta(rs.name, annotations={SCALE_DOWN_DEADLINE_ANNOTATION: format_time(deadline)})
    )
    return deadline


def _ports(rs: ReplicaSetState) -> list[JSON]:
    out: list[JSON] = []
    for container in (rs.template.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            number = port.get("containerPort")
            entry: JSON = {"protocol": port.get("protocol") or "TCP", "port": number, "targetPort": number}
            if port.get("name"):
                entry["name"] = port["name"]
            out.append(entry)
    return out


def _reconcile_service(p: _Pass, template: TemplateSpec, rs: ReplicaSetState, desired: int, ts: JSON) -> None:
    """The template's Service: created while it wants pods (named `service.name`, else like the ReplicaSet,
    selecting its pods), deleted once it has none available, or when the template no longer asks for one."""
    owned = p.observed.services.get(template.name)
    if template.service is not None:
        if desired != 0:
            ports = _ports(rs)
            if owned is None and ports:
                name = template.service.name or rs.name
                p.actions.append(
                    CreateService(
                        name=name,
                        selector=dict(rs.labels) or {POD_TEMPLATE_HASH_LABEL: rs.pod_template_hash},
                        ports=tuple(ports),
                        annotations={
                            EXPERIMENT_OWNER_ANNOTATION: p.ex.name,
                            EXPERIMENT_TEMPLATE_ANNOTATION: template.name,
                        },
                    )
                )
                ts["serviceName"] = name
                ts["podTemplateHash"] = rs.pod_template_hash
            return
        if rs.available_replicas != 0:
            return
    if owned is not None:
        p.actions.append(DeleteService(owned))
        ts.pop("serviceName", None)
        ts.pop("podTemplateHash", None)


# ---------------------------------------------------------------------------------------------------------------
# Analyses
# ---------------------------------------------------------------------------------------------------------------

_TAG = re.compile(r"\{\{(.*?)\}\}")


def _resolve_arg(p: _Pass, value: str) -> str:
    """`ResolveExperimentArgsValue`: {{templates.<t>.podTemplateHash}}, {{templates.<t>.replicaset.name}},
    {{experiment.availableAt}}, {{experiment.finishedAt}}; anything else is an error."""
    values: dict[str, str] = {}
    available_at = parse_time(p.status.get("availableAt"))
    if available_at is not None:
        values["experiment.availableAt"] = format_time(available_at)
        duration = _duration(p.ex)
        if duration is not None:
            values["experiment.finishedAt"] = format_time(available_at + duration)
    for template in p.ex.spec.templates:
        rs = p.observed.replica_sets.get(template.name)
        if rs is not None:
            values[f"templates.{template.name}.podTemplateHash"] = rs.pod_template_hash
            values[f"templates.{template.name}.replicaset.name"] = rs.name

    def sub(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag not in values:
            raise ValueError(f"failed to resolve {{{{{match.group(1)}}}}}")
        return values[tag]

    return _TAG.sub(sub, value)


def _template_key(ex: Experiment, analysis: ExperimentAnalysisTemplateRef) -> TemplateRef:
    if analysis.cluster_scope:
        return ("ClusterAnalysisTemplate", "", analysis.template_name)
    return ("AnalysisTemplate", ex.namespace, analysis.template_name)


def _not_found(key: TemplateRef) -> str:
    resource = "clusteranalysistemplates" if key[0] == "ClusterAnalysisTemplate" else "analysistemplates"
    return f'{resource}.argoproj.io "{key[2]}" not found'


def _collect(p: _Pass, key: TemplateRef, seen: set[TemplateRef], out: list[tuple[JSON, bool]]) -> None:
    """The template and the ones it names (`spec.templates`), each once."""
    if key in seen:
        return
    seen.add(key)
    spec = p.observed.templates.get(key)
    if spec is None:
        raise ValueError(_not_found(key))
    out.append((dict(spec), key[0] == "ClusterAnalysisTemplate"))
    for ref in spec.get("templates") or []:
        if isinstance(ref, Mapping) and isinstance(ref.get("templateName"), str):
            nested: TemplateRef = (
                ("ClusterAnalysisTemplate", "", ref["templateName"])
                if ref.get("clusterScope")
                else ("AnalysisTemplate", p.ex.namespace, ref["templateName"])
            )
            _collect(p, nested, seen, out)


def _run_spec(p: _Pass, analysis: ExperimentAnalysisTemplateRef) -> JSON:
    """`newAnalysisRun`: the templates' metrics with the analysis's args (resolved against the Experiment)."""
    collected: list[tuple[JSON, bool]] = []
    _collect(p, _template_key(p.ex, analysis), set(), collected)
    args = [
        Argument.from_wire(
            {"name": a.name, **({"value": _resolve_arg(p, a.value)} if a.value is not None else {})}
        )
        for a in analysis.args or []
    ]
    try:
        spec = analysis_args.build_run_spec(
            [AnalysisTemplate.from_wire({"spec": s}) for s, cluster in collected if not cluster],
            [ClusterAnalysisTemplate.from_wire({"spec": s}) for s, cluster in collected if cluster],
            args,
            [DryRun(metric_name=d.metric_name) for d in p.ex.spec.dry_run or []],
            [
                MeasurementRetention(metric_name=m.metric_name, limit=m.limit)
                for m in p.ex.spec.measurement_retention or []
            ],
        )
    except (analysis_args.ArgsError, ValidationError) as e:
        raise ValueError(str(e).splitlines()[0]) from e
    wire: JSON = spec.to_wire()
    return wire


def _reconcile_analysis(p: _Pass, analysis: ExperimentAnalysisTemplateRef) -> None:
    runs = _by_name(p.status.get("analysisRuns"))
    prev = runs.get(analysis.name) or {"name": analysis.name}
    new = dict(prev)
    terminating = is_terminating(p.ex, p.stored)
    if p.stored.get("availableAt") is None:
        key = _template_key(p.ex, analysis)
        if key not in p.observed.templates:
            kind = "ClusterAnalysisTemplate" if key[0] == "ClusterAnalysisTemplate" else "AnalysisTemplate"
            new["phase"] = "Error"
            new["message"] = f"{kind} verification failed for analysis '{analysis.name}': {_not_found(key)}"
    elif not prev.get("analysisRun"):
        if not terminating:
            try:
                spec = _run_spec(p, analysis)
            except ValueError as e:
                new["phase"] = "Error"
                new["message"] = f"Failed to create AnalysisRun for analysis '{analysis.name}': {e}"
            else:
                name = f"{p.ex.name}-{analysis.name}"
                labels, annotations = _run_metadata(p.ex)
                p.actions.append(
                    CreateAnalysisRun(name=name, spec=spec, labels=labels, annotations=annotations)
                )
                new["phase"] = "Pending"
                new["analysisRun"] = name
    elif not _completed(str(prev.get("phase") or "")):
        run = p.observed.runs.get(str(prev["analysisRun"]))
        if run is None:
            new["phase"] = "Error"
            new["message"] = f'analysisruns.argoproj.io "{prev["analysisRun"]}" not found'
        elif terminating:
            if not _completed(run.phase) and not run.terminate:
                p.event("AnalysisRunTerminating", f"Terminating {analysis.name} ({run.name})")
                p.actions.append(TerminateAnalysisRun(run.name))
        else:
            new["phase"] = run.phase
            if run.message:
                new["message"] = run.message
            else:
                new.pop("message", None)
    if prev.get("phase") != new.get("phase") and new.get("phase"):
        message = f"AnalysisRun '{analysis.name}' transitioned from {prev.get('phase', '')} -> {new['phase']}"
        if new.get("message"):
            message += f": {new['message']}"
        warn = new["phase"] in ("Failed", "Error", "Inconclusive")
        p.event("AnalysisRun" + new["phase"], message, warning=warn)
    runs[analysis.name] = new
    p.status["analysisRuns"] = _ordered(p.status.get("analysisRuns"), runs)


def _run_metadata(ex: Experiment) -> tuple[dict[str, str], dict[str, str]]:
    labels: dict[str, str] = {}
    instance = (ex.metadata.labels or {}).get(INSTANCE_ID_LABEL)
    if instance:
        labels[INSTANCE_ID_LABEL] = instance
    meta = ex.spec.analysis_run_metadata
    labels.update((meta.labels if meta is not None else None) or {})
    annotations = dict((meta.annotations if meta is not None else None) or {})
    return labels, annotations


# ---------------------------------------------------------------------------------------------------------------
# The Experiment's phase (calculateStatus)
# ---------------------------------------------------------------------------------------------------------------


def _assess_templates(p: _Pass) -> tuple[str, str]:
    worst, message = "Successful", ""
    statuses = _by_name(p.status.get("templateStatuses"))
    for template in p.ex.spec.templates:
        ts = statuses.get(template.name)
        if ts is None:
            if _worse(TEMPLATE_ORDER, worst, "Progressing"):
                worst = "Progressing"
        elif _worse(TEMPLATE_ORDER, worst, str(ts.get("status") or "")):
            worst, message = str(ts.get("status")), str(ts.get("message") or "")
    phase = {"Progressing": "Pending", "Failed": "Failed", "Error": "Error", "Successful": "Successful"}
    return phase.get(worst, "Running"), message


def _assess_runs(p: _Pass) -> tuple[str, str]:
    worst, message = "Successful", ""
    runs = _by_name(p.status.get("analysisRuns"))
    for analysis in p.ex.spec.analyses or []:
        run = runs.get(analysis.name) or {}
        if _worse(ANALYSIS_ORDER, worst, str(run.get("phase") or "")):
            worst, message = str(run.get("phase")), str(run.get("message") or "")
    if required_runs_successful(p.ex, p.status) and _worse(ANALYSIS_ORDER, worst, "Running"):
        return "Successful", REQUIRED_COMPLETED
    return ("Running" if worst == "Pending" else worst), message


def _calculate_status(p: _Pass) -> None:
    st = p.status
    phase = str(st.get("phase") or "")
    if phase == "":
        st["phase"] = "Pending"
    elif phase in ("Pending", "Running"):
        templates, template_message = _assess_templates(p)
        runs, runs_message = _assess_runs(p)
        if templates == "Running" and st.get("availableAt") is None:
            st["availableAt"] = p.stamp
        has_required = any(a.required_for_completion for a in p.ex.spec.analyses or [])
        if _completed(templates):
            if templates == "Successful" and (_completed(runs) or has_required):
                st["phase"], message = runs, runs_message
            else:
                st["phase"], message = templates, template_message
        elif (_completed(runs) and runs != "Successful") or required_runs_successful(p.ex, st):
            st["phase"], message = runs, runs_message
        else:
            st["phase"], message = templates, template_message
        if message:
            st["message"] = message
        else:
            st.pop("message", None)
    _conditions(p)


def _conditions(p: _Pass) -> None:
    """`calculateExperimentConditions` (the InvalidSpec one is removed once the spec is valid)."""
    st, name = p.status, p.ex.name
    _remove_condition(st, "InvalidSpec")
    if st.get("phase") == "Successful":
        _set_condition(st, "Progressing", "False", "ExperimentCompleted",
                       f'Experiment "{name}" has successfully ran and completed.', p.stamp)  # fmt: skip
    elif _progressing(p):
        current = next((c for c in p.stored.get("conditions") or [] if c.get("type") == "Progressing"), None)
        new = {"type": "Progressing", "status": "True", "lastUpdateTime": p.stamp, "lastTransitionTime": p.stamp,
               "reason": "ReplicaSetUpdated", "message": f'Experiment "{name}" is progressing.'}  # fmt: skip
        if current is not None and current.get("status") == "True":
            new["lastTransitionTime"] = current.get("lastTransitionTime", p.stamp)
        st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != "Progressing"] + [new]
    elif p.stored.get("availableAt") is not None and not passed_duration(p.ex, p.stored, p.now)[0]:
        _set_condition(
            st, "Progressing", "True", "NewReplicaSetAvailable", f'Experiment "{name}" is running.', p.stamp
        )


def _progressing(p: _Pass) -> bool:
    """`ExperimentProgressing`: a template status appeared, or a template's counts changed."""
    old, new = _by_name(p.stored.get("templateStatuses")), _by_name(p.status.get("templateStatuses"))
    if len(old) < len(new):
        return True
    keys = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    return any(n in new and any(o.get(k, 0) != new[n].get(k, 0) for k in keys) for n, o in old.items())


def _enqueue_after(p: _Pass) -> None:
    """`calculateEnqueueDuration`: when the duration ends, or a template's progress deadline passes."""
    if is_terminating(p.ex, p.status):
        return
    passed, left = passed_duration(p.ex, p.status, p.now)
    if p.status.get("availableAt") is not None and p.ex.spec.duration and not passed:
        p.requeue.append(max(left.total_seconds(), 0.0))
    seconds = p.ex.spec.progress_deadline_seconds_or_default()
    statuses = _by_name(p.status.get("templateStatuses"))
    for template in p.ex.spec.templates:
        ts = statuses.get(template.name)
        if ts is None or ts.get("status") not in ("Progressing", "Running"):
            continue
        since = parse_time(ts.get("lastTransitionTime"))
        if ts.get("availableReplicas", 0) != desired_replicas(p.ex, p.status, template) and since is not None:
            p.requeue_at(since + timedelta(seconds=seconds))


def decide_experiment(observed: ExperimentObserved, now: datetime) -> Plan:
    """The plan for one pass over one Experiment (its status as Argo writes it, and what to create or change)."""
    ex = observed.experiment
    stored: JSON = dict(ex.status or {})
    status: JSON = dict(stored)
    p = _Pass(observed, now, stored, status)
    invalid = verify_spec(ex)
    if invalid is not None:
        previous = next((c for c in stored.get("conditions") or [] if c.get("type") == "InvalidSpec"), None)
        if previous is None or previous.get("message") != invalid:
            _remove_condition(status, "InvalidSpec")
            _set_condition(status, "InvalidSpec", "True", "InvalidSpec", invalid, p.stamp)
            p.event("InvalidSpec", invalid, warning=True)
        return Plan(new_status=status, actions=tuple(p.events))
    for template in ex.spec.templates:
        _reconcile_template(p, template)
    for analysis in ex.spec.analyses or []:
        _reconcile_analysis(p, analysis)
    _calculate_status(p)
    _enqueue_after(p)
    if stored.get("phase") != status.get("phase"):  # recordEvent
        reason = "Experiment" + str(status["phase"])
        message = f"Experiment transitioned from {stored.get('phase', '')} -> {status['phase']}"
        p.event(reason, message, warning=status["phase"] in ("Error", "Failed", "Inconclusive"))
    return Plan(
        new_status=status,
        actions=(*p.actions, *p.events),
        requeue_after=min(p.requeue) if p.requeue else None,
    )
