"""In-memory world for driving `decide` over many passes: apply a Plan's actions, make pods available.

Used by the strategy tests: a `World` holds the Rollout's wire JSON and the objects it owns; `step(now)` runs
one decide → apply pass; `settle(now)` repeats passes (making pods available in between) until nothing changes.
Time never passes by itself: tests move `now` explicitly, so pauses and delays are exact and instantaneous.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from rollouts.models import Rollout
from rollouts.models.vocabulary import (
    EPHEMERAL_METADATA_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    parse_time,
)
from rollouts.strategy import decide
from rollouts.strategy.plan import (
    Action,
    AnalysisRunState,
    CreateAnalysisRun,
    CreateExperiment,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteExperiment,
    DeleteReplicaSet,
    EmitEvent,
    ExperimentState,
    Observed,
    Plan,
    ReplicaSetState,
    ScaleReplicaSet,
    ServiceState,
    SetServiceSelector,
    SyncPodMetadata,
    TerminateAnalysisRun,
    TerminateExperiment,
    UpdateReplicaSetMeta,
    UpdateReplicaSetSpec,
)

ROOT = Path(__file__).resolve().parents[2]


def load_yaml(rel: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / rel).read_text()) if d]


@dataclass
class World:
    rollout: dict[str, Any]
    replica_sets: dict[str, ReplicaSetState] = field(default_factory=dict)
    services: dict[str, ServiceState] = field(default_factory=dict)
    runs: dict[str, AnalysisRunState] = field(default_factory=dict)
    run_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    routers: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    experiments: dict[str, ExperimentState] = field(default_factory=dict)
    experiment_bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[EmitEvent] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    auto_available: bool = True

    # -- building -------------------------------------------------------------------------------------------------
    @classmethod
    def from_files(cls, rollout: str, *others: str) -> World:
        ro = load_yaml(rollout)[0]
        ro.setdefault("metadata", {}).setdefault("generation", 1)
        world = cls(rollout=ro)
        ns = ro["metadata"].get("namespace", "")
        for rel in others:
            for doc in load_yaml(rel):
                kind, name = doc.get("kind"), doc["metadata"]["name"]
                if kind == "Service":
                    sel = doc.get("spec", {}).get("selector", {})
                    world.services[name] = ServiceState(name, sel, doc["metadata"].get("annotations", {}))
                elif kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
                    tns = "" if kind == "ClusterAnalysisTemplate" else ns
                    world.templates[(kind, tns, name)] = doc["spec"]
                else:
                    key = (
                        str(doc["apiVersion"]),
                        str(kind),
                        str(doc["metadata"].get("namespace", ns)),
                        str(name),
                    )
                    world.routers[key] = doc
        return world

    def observed(self) -> Observed:
        return Observed(
            rollout=Rollout.model_validate(self.rollout),
            rollout_raw=self.rollout,
            replica_sets=tuple(self.replica_sets.values()),
            analysis_runs=tuple(self.runs.values()),
            services=dict(self.services),
            routers=dict(self.routers),
            templates=dict(self.templates),
            experiments=tuple(self.experiments.values()),
        )

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.rollout.setdefault("status", {})
        return status

    # -- edits by "users" -----------------------------------------------------------------------------------------
    def set_image(self, image: str) -> None:
        self.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.bump_generation()

    def bump_generation(self) -> None:
        self.rollout["metadata"]["generation"] = self.rollout["metadata"].get("generation", 1) + 1

    def patch_status(self, **fields: Any) -> None:
        for k, v in fields.items():
            if v is None:
                self.status.pop(k, None)
            else:
                self.status[k] = v

    def set_run_phase(self, name: str, phase: str, message: str = "") -> None:
        self.runs[name] = replace(self.runs[name], phase=phase, message=message)

    # -- applying -------------------------------------------------------------------------------------------------
    def apply(self, plan: Plan, now: datetime | None = None) -> None:
        if now is not None:
            self._clock = now
        self.plans.append(plan)
        for action in plan.actions:
            self.apply_action(action)
        if plan.rollout_annotations:  # the Applier's metadata patch of the Rollout
            meta = self.rollout.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), **plan.rollout_annotations}
        self.rollout["status"] = copy.deepcopy(plan.new_status)

    def apply_action(self, a: Action) -> None:
        if isinstance(a, CreateReplicaSet):
            if a.name not in self.replica_sets:
                self.replica_sets[a.name] = ReplicaSetState(
                    name=a.name,
                    pod_template_hash=a.pod_template_hash,
                    spec_replicas=a.replicas,
                    replicas=0,
                    ready_replicas=0,
                    available_replicas=0,
                    revision=int(a.annotations.get("rollout.argoproj.io/revision", "0")),
                    created=self._clock,
                    template=copy.deepcopy(a.template),
                    labels=dict(a.labels),
                    annotations=dict(a.annotations),
                    min_ready_seconds=a.min_ready_seconds,
                )
        elif isinstance(a, ScaleReplicaSet | UpdateReplicaSetMeta):
            rs = self.replica_sets[a.name]
            ann = dict(rs.annotations)
            for k, v in a.annotations.items():
                if v is None:
                    ann.pop(k, None)
                else:
                    ann[k] = v
            rev = int(ann.get("rollout.argoproj.io/revision", rs.revision))
            spec = a.replicas if isinstance(a, ScaleReplicaSet) else rs.spec_replicas
            self.replica_sets[a.name] = replace(
                rs,
                spec_replicas=spec,
                annotations=ann,
                revision=rev,
                scale_down_deadline=parse_time(ann.get(SCALE_DOWN_DEADLINE_ANNOTATION)),
            )
        elif isinstance(a, DeleteReplicaSet):
            self.replica_sets.pop(a.name, None)
        elif isinstance(a, UpdateReplicaSetSpec):
            rs = self.replica_sets[a.name]
            template = copy.deepcopy(rs.template)
            if a.affinity is None:
                template.setdefault("spec", {}).pop("affinity", None)
            else:
                template.setdefault("spec", {})["affinity"] = copy.deepcopy(a.affinity)
            self.replica_sets[a.name] = replace(rs, template=template, min_ready_seconds=a.min_ready_seconds)
        elif isinstance(
            a, SyncPodMetadata
        ):  # the ReplicaSet's template and record (its pods are not modelled)
            rs = self.replica_sets[a.replica_set]
            template = copy.deepcopy(rs.template)
            meta = template.setdefault("metadata", {})
            for key, patch in (("labels", a.labels), ("annotations", a.annotations)):
                merged = {**(meta.get(key) or {}), **{k: v for k, v in patch.items() if v is not None}}
                meta[key] = {k: v for k, v in merged.items() if patch.get(k, "") is not None}
            ann = {**rs.annotations, EPHEMERAL_METADATA_ANNOTATION: a.record}
            self.replica_sets[a.replica_set] = replace(
                rs, template=template, annotations={k: v for k, v in ann.items() if v is not None}
            )
        elif isinstance(a, SetServiceSelector):
            svc = self.services[a.service]
            sel = {**svc.selector, POD_TEMPLATE_HASH_LABEL: a.pod_template_hash}
            ann = {**svc.annotations, "argo-rollouts.argoproj.io/managed-by-rollouts": a.rollout}
            self.services[a.service] = ServiceState(a.service, sel, ann)
        elif isinstance(a, CreateAnalysisRun):
            if a.name not in self.runs:
                step = a.labels.get("step-index")
                self.runs[a.name] = AnalysisRunState(
                    name=a.name,
                    phase="Running",
                    message="",
                    rollout_type=a.labels["rollout-type"],
                    pod_template_hash=a.labels[POD_TEMPLATE_HASH_LABEL],
                    created=self._clock,
                    step_index=int(step) if step is not None else None,
                    revision=int(a.annotations.get("rollout.argoproj.io/revision", "0")),
                )
                self.run_specs[a.name] = a.spec
        elif isinstance(a, TerminateAnalysisRun):
            run = self.runs[a.name]
            phase = "Successful" if run.phase in ("Running", "Pending", "") else run.phase
            self.runs[a.name] = replace(run, terminate=True, phase=phase)
        elif isinstance(a, DeleteAnalysisRun):
            self.runs.pop(a.name, None)
        elif isinstance(a, EmitEvent):
            self.events.append(a)
        elif isinstance(a, CreateExperiment):  # the Experiment controller has not looked at it yet
            self.experiments.setdefault(a.name, ExperimentState(name=a.name, phase=""))
            self.experiment_bodies[a.name] = a.body
        elif isinstance(a, DeleteExperiment):
            self.experiments.pop(a.name, None)
        elif isinstance(a, TerminateExperiment):
            self.experiments[a.name] = replace(self.experiments[a.name], terminate=True)
        else:  # EditRouter
            key = (a.api_version, a.kind, a.namespace, a.name)
            if a.delete:
                self.routers.pop(key, None)
            elif a.obj is not None:
                self.routers[key] = a.obj

    def make_available(self) -> None:
        """The ReplicaSet controller and kubelet: every RS's pods exist and are available."""
        for name, rs in list(self.replica_sets.items()):
            n = rs.spec_replicas
            self.replica_sets[name] = replace(rs, replicas=n, ready_replicas=n, available_replicas=n)

    # -- driving --------------------------------------------------------------------------------------------------
    _clock: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def step(self, now: datetime) -> Plan:
        self._clock = now
        plan = decide(self.observed(), now)
        self.apply(plan, now)
        if self.auto_available:
            self.make_available()
        return plan

    def settle(self, now: datetime, max_passes: int = 50) -> Plan:
        """Passes until a pass changes nothing (no non-event action and the same status)."""
        for _ in range(max_passes):
            before = (copy.deepcopy(self.status), dict(self.replica_sets))
            plan = self.step(now)
            effects = [a for a in plan.actions if not isinstance(a, EmitEvent)]
            if not effects and before == (self.status, self.replica_sets):
                return plan
        raise AssertionError(f"no fixpoint after {max_passes} passes; last plan: {self.plans[-1]}")

    # -- reading --------------------------------------------------------------------------------------------------
    def rs_by_hash(self, h: str) -> ReplicaSetState:
        return next(rs for rs in self.replica_sets.values() if rs.pod_template_hash == h)

    def weight(self) -> int | None:
        w = self.status.get("canary", {}).get("weights")
        return None if w is None else int(w["canary"]["weight"])

    def event_messages(self, reason: str | None = None) -> list[str]:
        return [e.message for e in self.events if reason is None or e.reason == reason]
