"""The Experiment reconciler: observe an Experiment and what it owns, decide (`rollouts.experiments`), apply.

docs/semantics/experiments.md. Its ReplicaSets and Services are found by ownerReference (the Experiment's uid)
and the template annotation Argo puts on them (`experiment.argoproj.io/template-name`); its AnalysisRuns by
ownerReference; the analysis templates it names (and the ones they name) from the read-through caches. The status
is written with one merge patch guarded by the Experiment's resourceVersion (Argo's CRD has no status subresource
for Experiments; the client writes the object's status either way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from pydantic import ValidationError

from rollouts.controller.applying import Applier, ApplyResult
from rollouts.controller.observing import (
    MAX_TEMPLATE_NESTING,
    ClientSource,
    ObjectSource,
    is_owned_by,
    nested_template_refs,
    parse_analysis_run,
    parse_replica_set,
)
from rollouts.controller.reconciling import Freshest
from rollouts.controller.recording import EventRecorder
from rollouts.experiments import ExperimentObserved, decide_experiment
from rollouts.kube.client import KubeClient, expecting
from rollouts.kube.errors import Conflict, Forbidden, Invalid, KubeError, NotFound
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    EXPERIMENTS,
    REPLICA_SETS,
    SERVICES,
)
from rollouts.models.experiment import Experiment
from rollouts.models.vocabulary import (
    EXPERIMENT_OWNER_ANNOTATION,
    EXPERIMENT_TEMPLATE_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
)
from rollouts.strategy.plan import JSON, CreateReplicaSet, EmitEvent

__all__ = ["ExperimentReconciler"]

BACKOFF = 20.0  # seconds before a pass that could not be applied is tried again
CONFLICT_RETRY = 0.5  # seconds before a pass whose status write met a newer version

TemplateRef = tuple[str, str, str]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _template_of(obj: Mapping[str, Any], experiment: str) -> str:
    """The template an owned ReplicaSet or Service belongs to ('' when it does not carry Argo's annotations)."""
    annotations = _meta(obj).get("annotations") or {}
    if annotations.get(EXPERIMENT_OWNER_ANNOTATION) != experiment:
        return ""
    return str(annotations.get(EXPERIMENT_TEMPLATE_ANNOTATION) or "")


def _refs(model: Experiment) -> list[TemplateRef]:
    out: list[TemplateRef] = []
    for analysis in model.spec.analyses or []:
        if analysis.cluster_scope:
            out.append(("ClusterAnalysisTemplate", "", analysis.template_name))
        else:
            out.append(("AnalysisTemplate", model.namespace, analysis.template_name))
    return sorted(set(out))


class ExperimentReconciler:
    """Reconciles Experiments: `await reconcile(key)` → seconds until the next look (None: on the next event)."""

    def __init__(
        self,
        client: KubeClient,
        source: ObjectSource | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        component: str = "rollouts-controller",
        events: EventRecorder | None = None,
    ) -> None:
        self.client = client
        # our own writes win over a cache that has not seen them yet (the next pass would meet a 409 otherwise)
        self.source = Freshest(source or ClientSource(client))
        self.clock = clock
        self.applier = Applier(
            client,
            component=component,
            clock=clock,
            events=events,
            owner=EXPERIMENTS,
            on_written=self.source.remember,
        )

    async def reconcile(self, key: Any) -> float | None:
        namespace, name = (str(key[0]), str(key[1])) if isinstance(key, tuple) else (key.namespace, key.name)
        try:
            raw = dict(await self.source.get(EXPERIMENTS, name, namespace))
        except NotFound:
            return None  # deleted: its ReplicaSets, Services and runs go with it (ownerReferences)
        if _meta(raw).get("deletionTimestamp"):
            return None
        raw.setdefault("apiVersion", EXPERIMENTS.api_version)
        raw.setdefault("kind", "Experiment")
        try:
            model = Experiment.from_wire(raw)
        except ValidationError as e:
            logger.warning(
                "experiment {}/{}: the spec does not load: {}", namespace, name, str(e).splitlines()[0]
            )
            return BACKOFF
        observed = await self.observe(raw, model)
        plan = decide_experiment(observed, self.clock())
        result = ApplyResult()
        status = plan.new_status
        refused: list[str] = []
        try:
            for action in plan.actions:
                if isinstance(action, EmitEvent):
                    continue
                try:
                    await self.applier.apply_action(raw, action, result)
                except (Invalid, Forbidden) as e:
                    if not isinstance(action, CreateReplicaSet):
                        raise
                    # the API server refuses the template (a selector that does not match its labels, say): the
                    # template is in Error, as Argo's createReplicaSetForTemplate leaves it, and so the Experiment
                    template = str(action.annotations.get(EXPERIMENT_TEMPLATE_ANNOTATION) or "")
                    status = _template_error(
                        status,
                        template,
                        f"Failed to create ReplicaSet for template '{template}': {e.message}",
                    )
                    refused.append(template)
        except KubeError as e:
            logger.warning("experiment {}/{}: {}; looking again in {:g}s", namespace, name, e, BACKOFF)
            return BACKOFF
        status = _with_run_names(status, result.created_runs)
        try:
            with expecting(409):
                await self.applier.write_status(raw, status)
        except Conflict:  # someone else moved it on: the next pass decides again on what they wrote
            logger.debug("experiment {}/{}: conflict writing status", namespace, name)
            return CONFLICT_RETRY
        for action in plan.actions:
            if isinstance(action, EmitEvent):
                self.applier.emit(raw, action)
        if refused:
            logger.warning(
                "experiment {}/{}: template(s) {} in Error: their ReplicaSet was refused",
                namespace,
                name,
                ", ".join(refused),
            )
            stored = {
                t.get("name"): t.get("status")
                for t in (raw.get("status") or {}).get("templateStatuses") or []
            }
            # once: the next pass turns the template's Error into the Experiment's; after that, look again slowly
            return 0.0 if any(stored.get(t) != "Error" for t in refused) else BACKOFF
        return plan.requeue_after

    async def observe(self, raw: JSON, model: Experiment) -> ExperimentObserved:
        """What the Experiment owns (ReplicaSets and Services by template, AnalysisRuns by name) and the
        analysis templates it names."""
        namespace, uid = model.namespace, str(model.metadata.uid or "")
        replica_sets = await self.source.list(REPLICA_SETS, namespace, label_selector=POD_TEMPLATE_HASH_LABEL)
        services = await self.source.list(SERVICES, namespace)
        runs = await self.source.list(ANALYSIS_RUNS, namespace)
        names = {t.name for t in model.spec.templates}
        owned_rs = {}
        for rs in replica_sets:
            template = _template_of(rs, model.name)
            if is_owned_by(rs, uid) and template in names and not _meta(rs).get("deletionTimestamp"):
                owned_rs[template] = parse_replica_set(rs)
        owned_services = {}
        for svc in services:
            template = _template_of(svc, model.name)
            if is_owned_by(svc, uid) and template in names:
                owned_services[template] = str(_meta(svc).get("name") or "")
        owned_runs = {
            str(_meta(run).get("name")): parse_analysis_run(run) for run in runs if is_owned_by(run, uid)
        }
        return ExperimentObserved(
            experiment=model,
            raw=raw,
            replica_sets=owned_rs,
            services=owned_services,
            runs=owned_runs,
            templates=await self._templates(model),
        )

    async def _templates(self, model: Experiment) -> dict[TemplateRef, JSON]:
        found: dict[TemplateRef, JSON] = {}
        wanted = _refs(model)
        for _ in range(MAX_TEMPLATE_NESTING):
            missing = [ref for ref in wanted if ref not in found]
            if not missing:
                break
            for ref in missing:
                kind, ns, name = ref
                try:
                    if kind == "ClusterAnalysisTemplate":
                        obj = await self.source.get(CLUSTER_ANALYSIS_TEMPLATES, name, None)
                    else:
                        obj = await self.source.get(ANALYSIS_TEMPLATES, name, ns)
                except NotFound:
                    found[ref] = {}
                    continue
                found[ref] = dict(obj.get("spec") or {})
                wanted += [r for r in nested_template_refs(obj, model.namespace) if r not in wanted]
        return {ref: spec for ref, spec in found.items() if spec}


def _template_error(status: JSON, template: str, message: str) -> JSON:
    """The status with `template`'s entry in Error (`createReplicaSetForTemplate`)."""
    entries = []
    for entry in status.get("templateStatuses") or []:
        if entry.get("name") == template:
            entry = {**entry, "status": "Error", "message": message}
        entries.append(entry)
    return {**status, "templateStatuses": entries}


def _with_run_names(status: JSON, created: Mapping[str, str]) -> JSON:
    """The status with each run's actual name (a name taken by someone else's run gets `.1`, `.2`, …)."""
    if not any(planned != actual for planned, actual in created.items()):
        return status
    runs = [
        {**run, "analysisRun": created.get(str(run.get("analysisRun")), run.get("analysisRun"))}
        for run in status.get("analysisRuns") or []
    ]
    return {**status, "analysisRuns": runs}
