"""Apply: the last step of a reconcile — turn a `Plan`'s actions into API calls, then write ONE status patch.

observe → decide → apply. Every action is executed idempotently, so applying the same plan twice (after a crash,
or on a stale cache) changes nothing:

* CreateReplicaSet: created with an ownerReference to the Rollout (controller, blockOwnerDeletion); if the name
  exists and is ours it is left alone, if it has no controller it is adopted, otherwise it is an error.
* ScaleReplicaSet / UpdateReplicaSetMeta / SetServiceSelector / TerminateAnalysisRun: merge patches of absolute
  values ("replicas = 3", "selector hash = abc"); a None annotation or label removes it.
* EditRouter: PUT guarded by the resourceVersion the decision was made from (409 → the reconcile re-reads).
* CreateAnalysisRun: ownerReference to the Rollout; an existing run with the same owner and spec that is not
  finished is reused, any other collision gets `.1`, `.2`, … (docs/semantics/controller.md#rollout-analysis).
* Delete*: a missing object is already deleted.

Then the status: `status_patch(old, new)` is the JSON merge patch from the stored status to the plan's status
(nulls for removed keys; `{}` when equal, and then nothing is written). It carries `observedGeneration` and is
guarded by the Rollout's resourceVersion: a 409 means the Rollout moved on (a user's abort/promote, or our own
cache was stale) and surfaces as `Conflict` for the reconciler to re-read and decide again. The status is
written the way the Rollout CRD takes it (`KubeClient.patch_status`). Events are emitted after the status is
written, so a retried pass does not repeat them; they go to the event recorder's queue
(`rollouts.controller.recording`), which writes them in the background: emitting never waits on the API server.

Notifications (`rollouts.notifications`): when the pass's Events owe notifications, their outbox entries go
into the Rollout's metadata patch (before the status write, guarded by the same resourceVersion) and are handed
to the notifier once the status write landed (docs/notifications.md#exactly-once).

Refusals that are ordinary outcomes here (409 AlreadyExists on a create that is then adopted or reused, 404 on a
delete or on terminating a run already gone) are declared with `expecting`, so only real refusals are logged
and counted as refused writes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from analysis.models import AnalysisPhase
from rollouts.controller.recording import DroppedHook, EventHook, EventRecorder
from rollouts.kube.client import KubeClient, expecting
from rollouts.kube.errors import AlreadyExists, Conflict, KubeError, NotFound, TooManyRequests
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    DEPLOYMENTS,
    EXPERIMENTS,
    PODS,
    REPLICA_SETS,
    ROLLOUTS,
    SERVICES,
    Resource,
    lookup,
)
from rollouts.models.vocabulary import (
    EPHEMERAL_METADATA_ANNOTATION,
    EXPERIMENT_TEMPLATE_ANNOTATION,
    MANAGED_BY_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
)
from rollouts.notifications.delivering import Notifier
from rollouts.notifications.outbox import Entry
from rollouts.strategy import ephemeral
from rollouts.strategy.plan import (
    JSON,
    Action,
    CreateAnalysisRun,
    CreateExperiment,
    CreateReplicaSet,
    CreateService,
    DeleteAnalysisRun,
    DeleteExperiment,
    DeleteReplicaSet,
    DeleteService,
    EmitEvent,
    EvictPod,
    Plan,
    ScaleDeployment,
    ScaleReplicaSet,
    SetServiceSelector,
    SyncPodMetadata,
    TerminateAnalysisRun,
    TerminateExperiment,
    UpdateReplicaSetMeta,
    UpdateReplicaSetSpec,
)
from rollouts.traffic.base import EditRouter

POD_PATCHES = 10  # pods relabelled at once (Argo's --ephemeral-metadata-threads default)

MAX_NAME_COLLISIONS = 10

__all__ = ["DroppedHook", "EventHook"]  # re-exported: the Applier's hooks are the recorder's

WrittenHook = Callable[[Resource, JSON], None]  # an object as the API server returned it after our write


class AdoptionError(KubeError):
    """An object with the name we need is controlled by someone else."""


# ---------------------------------------------------------------------------------------------------------------
# PURE: the status diff
# ---------------------------------------------------------------------------------------------------------------


def merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> JSON:
    """The RFC 7386 merge patch that turns `old` into `new`; `{}` when they are equal.

    Removed keys become None; nested objects are diffed; lists and scalars are replaced whole.

    >>> merge_diff({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 2}, "e": [1]})
    {'b': {'d': None}, 'e': [1]}
    """
    patch: JSON = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key, _MISSING) if key in old else _MISSING
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            sub = merge_diff(before, value)
            if sub:
                patch[key] = sub
        elif before is _MISSING or before != value:
            if value is None and before is _MISSING:
                continue  # absent and null read the same in a merge patch
            patch[key] = _drop_nulls(value) if isinstance(value, Mapping) else value
    return patch


_MISSING: Any = object()


def _drop_nulls(value: Mapping[str, Any]) -> JSON:
    """A new sub-object written through a merge patch: nulls in it would mean "delete", so leave them out."""
    return {k: (_drop_nulls(v) if isinstance(v, Mapping) else v) for k, v in value.items() if v is not None}


def desired_status(rollout_raw: Mapping[str, Any], new_status: Mapping[str, Any]) -> JSON:
    """The plan's status with `observedGeneration` (a string, as Argo stores it, docs/semantics/objects.md#rollout-status) filled in
    for a Rollout (an Experiment's status has none)."""
    status = dict(new_status)
    if "observedGeneration" not in status and (rollout_raw.get("kind") or "Rollout") == "Rollout":
        generation = (rollout_raw.get("metadata") or {}).get("generation")
        if generation is not None:
            status["observedGeneration"] = str(generation)
    return status


def status_patch(rollout_raw: Mapping[str, Any], new_status: Mapping[str, Any]) -> JSON:
    """`{"status": diff}` from the stored status to `new_status`; `{}` when nothing changes."""
    diff = merge_diff(rollout_raw.get("status") or {}, desired_status(rollout_raw, new_status))
    return {"status": diff} if diff else {}


def owner_reference(rollout_raw: Mapping[str, Any]) -> JSON:
    """The controller ownerReference to the object being reconciled (a Rollout, or an Experiment)."""
    meta = rollout_raw.get("metadata") or {}
    return {
        "apiVersion": str(rollout_raw.get("apiVersion") or ROLLOUTS.api_version),
        "kind": str(rollout_raw.get("kind") or "Rollout"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def replica_set_body(rollout_raw: Mapping[str, Any], action: CreateReplicaSet) -> JSON:
    meta = rollout_raw.get("metadata") or {}
    spec: JSON = {
        "replicas": action.replicas,
        "selector": action.selector,
        "template": action.template,
    }
    if action.min_ready_seconds:
        spec["minReadySeconds"] = action.min_ready_seconds
    return {
        "apiVersion": REPLICA_SETS.api_version,
        "kind": "ReplicaSet",
        "metadata": {
            "name": action.name,
            "namespace": meta.get("namespace"),
            "labels": {**action.labels, POD_TEMPLATE_HASH_LABEL: action.pod_template_hash},
            "annotations": dict(action.annotations),
            "ownerReferences": [owner_reference(rollout_raw)],
        },
        "spec": spec,
    }


def analysis_run_body(rollout_raw: Mapping[str, Any], action: CreateAnalysisRun, name: str) -> JSON:
    meta = rollout_raw.get("metadata") or {}
    return {
        "apiVersion": ANALYSIS_RUNS.api_version,
        "kind": "AnalysisRun",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace"),
            "labels": dict(action.labels),
            "annotations": dict(action.annotations),
            "ownerReferences": [owner_reference(rollout_raw)],
        },
        "spec": action.spec,
    }


# ---------------------------------------------------------------------------------------------------------------
# The applier
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    """What one `apply` did: API writes made, and the Rollout as stored after the status patch (None = no patch)."""

    writes: int = 0
    rollout: JSON | None = None
    created_runs: dict[str, str] = field(default_factory=dict)  # planned name -> actual name
    created_experiments: dict[str, str] = field(default_factory=dict)  # planned name -> actual name


class Applier:
    """Executes plans for one controller process (stateless between calls)."""

    def __init__(
        self,
        client: KubeClient,
        *,
        component: str = "rollouts-controller",
        on_event: EventHook | None = None,
        on_written: WrittenHook | None = None,
        on_event_dropped: DroppedHook | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        events: EventRecorder | None = None,
        owner: Resource = ROLLOUTS,
    ) -> None:
        """`events`: the recorder the plans' Events go to (the manager's, shared by every reconciler); without
        one the Applier makes its own, counting through `on_event` and `on_event_dropped`. `owner`: the kind
        whose status the plans write (Rollouts, or Experiments)."""
        self.client = client
        self.owner = owner
        self.component = component
        self.api = _Recording(client, on_written)
        self.clock = clock
        self.notifier: Notifier | None = None  # set by the manager when notifications are configured
        self.events = events or EventRecorder(
            client, component, on_event=on_event, on_dropped=on_event_dropped, clock=clock
        )

    async def apply(self, rollout_raw: JSON, plan: Plan) -> ApplyResult:
        """Actions (in order, events last), then the status patch. Raises `Conflict` when the Rollout moved on."""
        result = ApplyResult()
        events = [a for a in plan.actions if isinstance(a, EmitEvent)]
        for action in plan.actions:
            if not isinstance(action, EmitEvent):
                await self.apply_action(rollout_raw, action, result)
        annotations = dict(plan.rollout_annotations)
        owed = self._owed_notifications(rollout_raw, plan, events, result)
        added = {e.annotation: e.encode() for e in owed if e.annotation not in _annotations(rollout_raw)}
        annotations.update(added)
        annotated = None
        if annotations:
            annotated = await self.annotate_rollout(rollout_raw, annotations)
            result.writes += 1
            meta = {
                **(rollout_raw.get("metadata") or {}),
                "resourceVersion": _rv(annotated).get("resourceVersion"),
            }
            rollout_raw = {**rollout_raw, "metadata": meta}
        try:
            result.rollout = await self.write_status(rollout_raw, _named_as_created(plan.new_status, result))
        except Conflict:
            if (
                added
            ):  # this transition did not land: what it owed is withdrawn (the re-decided pass owes anew)
                await self._withdraw_owed(rollout_raw, list(added))
            raise
        if result.rollout is not None:
            result.writes += 1
        else:
            result.rollout = annotated
        for event in events:
            self.emit(rollout_raw, event)
            result.writes += 1
        if owed and self.notifier is not None:
            self.notifier.dispatch(result.rollout or rollout_raw, owed)
        return result

    def _owed_notifications(
        self, rollout_raw: JSON, plan: Plan, events: list[EmitEvent], result: ApplyResult
    ) -> list[Entry]:
        """The notifications this pass's Events owe (docs/notifications.md#exactly-once): written in the
        Rollout's metadata patch before its status write, sent once that write landed."""
        if self.notifier is None or not events or self.owner is not ROLLOUTS:
            return []
        if not self.notifier.concerns(rollout_raw):  # most Rollouts: no status diff computed for nothing
            return []
        no_status = not status_patch(rollout_raw, _named_as_created(plan.new_status, result))
        return self.notifier.prepare(
            rollout_raw, [(e.type, e.reason, e.message) for e in events], no_status=no_status
        )

    async def _withdraw_owed(self, rollout_raw: JSON, keys: list[str]) -> None:
        """The outbox entries this pass wrote, removed after its status write was refused with 409: the status
        may since have been changed by someone else (`kubectl argo rollouts abort`), and an entry left would
        then be sent for a transition that never happened (docs/notifications.md#exactly-once)."""
        meta = rollout_raw.get("metadata") or {}
        try:
            with expecting(404):
                await self.api.patch(
                    ROLLOUTS,
                    str(meta.get("name")),
                    {"metadata": {"annotations": dict.fromkeys(keys)}},
                    meta.get("namespace"),
                )
        except NotFound:
            return
        except KubeError as e:
            logger.warning(
                "rollout {}/{}: the notifications of a status write that did not land were not withdrawn: {}",
                meta.get("namespace"),
                meta.get("name"),
                e,
            )

    async def write_status(self, rollout_raw: JSON, new_status: Mapping[str, Any]) -> JSON | None:
        """ONE merge patch of the status subresource, guarded by resourceVersion; None when nothing changed."""
        patch = status_patch(rollout_raw, new_status)
        if not patch:
            return None
        meta = rollout_raw.get("metadata") or {}
        return await self.api.patch_status(
            self.owner,
            str(meta.get("name")),
            patch,
            meta.get("namespace"),
            resource_version=meta.get("resourceVersion"),
        )

    async def annotate_rollout(self, rollout_raw: JSON, annotations: Mapping[str, str]) -> JSON:
        """A merge patch of the Rollout's own annotations (the workloadRef's generation), guarded by its
        resourceVersion like the status write that follows it."""
        meta = rollout_raw.get("metadata") or {}
        return await self.api.patch(
            ROLLOUTS,
            str(meta.get("name")),
            {"metadata": {"annotations": dict(annotations)}},
            meta.get("namespace"),
            resource_version=meta.get("resourceVersion"),
        )

    async def apply_action(
        self, rollout_raw: JSON, action: Action, result: ApplyResult | None = None
    ) -> None:
        result = result if result is not None else ApplyResult()
        ns = (rollout_raw.get("metadata") or {}).get("namespace")
        match action:
            case CreateReplicaSet():
                await self._create_replica_set(rollout_raw, action)
            case ScaleReplicaSet(name=name, replicas=replicas, annotations=annotations):
                patch: JSON = {"spec": {"replicas": replicas}}
                if annotations:
                    patch["metadata"] = {"annotations": dict(annotations)}
                await self.api.patch(REPLICA_SETS, name, patch, ns)
            case UpdateReplicaSetMeta(name=name, labels=labels, annotations=annotations):
                meta: JSON = {}
                if labels:
                    meta["labels"] = dict(labels)
                if annotations:
                    meta["annotations"] = dict(annotations)
                if not meta:
                    return
                await self.api.patch(REPLICA_SETS, name, {"metadata": meta}, ns)
            case UpdateReplicaSetSpec(name=name, min_ready_seconds=min_ready, affinity=affinity):
                ops: list[JSON] = [{"op": "add", "path": "/spec/minReadySeconds", "value": min_ready}]
                if affinity is not None:
                    ops.append({"op": "add", "path": "/spec/template/spec/affinity", "value": affinity})
                elif action.had_affinity:
                    ops.append({"op": "remove", "path": "/spec/template/spec/affinity"})
                await self.api.patch(REPLICA_SETS, name, ops, ns, patch_type="json")
            case DeleteReplicaSet(name=name):
                await self._delete(REPLICA_SETS, name, ns)
            case CreateExperiment():
                result.created_experiments[action.name] = await self._create_experiment(rollout_raw, action)
            case DeleteExperiment(name=name):
                await self._delete(EXPERIMENTS, name, ns)
            case TerminateExperiment(name=name):
                try:
                    with expecting(404):
                        await self.api.patch(EXPERIMENTS, name, {"spec": {"terminate": True}}, ns)
                except NotFound:
                    return
            case CreateService():
                await self._create_service(rollout_raw, action)
            case DeleteService(name=name):
                await self._delete(SERVICES, name, ns)
            case EvictPod(name=name):
                await self._evict(rollout_raw, name)
            case SyncPodMetadata():
                await self._sync_pod_metadata(ns, action)
            case ScaleDeployment(name=name, replicas=replicas):
                await self.api.patch(DEPLOYMENTS, name, {"spec": {"replicas": replicas}}, ns)
            case SetServiceSelector(service=service, pod_template_hash=pod_hash, rollout=rollout_name):
                await self.api.patch(
                    SERVICES,
                    service,
                    {
                        "metadata": {"annotations": {MANAGED_BY_ANNOTATION: rollout_name}},
                        "spec": {"selector": {POD_TEMPLATE_HASH_LABEL: pod_hash}},
                    },
                    ns,
                )
            case EditRouter():
                await self._edit_router(action)
            case CreateAnalysisRun():
                result.created_runs[action.name] = await self._create_analysis_run(rollout_raw, action)
            case TerminateAnalysisRun(name=name):
                try:
                    with expecting(404):
                        await self.api.patch(ANALYSIS_RUNS, name, {"spec": {"terminate": True}}, ns)
                except NotFound:
                    return
            case DeleteAnalysisRun(name=name):
                await self._delete(ANALYSIS_RUNS, name, ns)
            case EmitEvent():
                self.emit(rollout_raw, action)
        result.writes += 1

    def emit(self, rollout_raw: JSON, action: EmitEvent) -> None:
        """A core/v1 Event on the Rollout, queued for the recorder (never waits, never fails the pass)."""
        self.events.emit(rollout_raw, action.type, action.reason, action.message)

    # ------------------------------------------------------------------------------------------------ helpers

    async def _create_experiment(self, rollout_raw: JSON, action: CreateExperiment) -> str:
        """`createExperimentWithCollisionHandling`: the Experiment under its planned name; an unfinished one of
        that name, the Rollout's, with the same spec, is taken as it is; otherwise `<name>-1`, `<name>-2`, …"""
        meta = rollout_raw.get("metadata") or {}
        ns, uid = meta.get("namespace"), str(meta.get("uid") or "")
        body_meta = action.body.get("metadata") or {}
        for attempt in range(MAX_NAME_COLLISIONS + 1):
            name = action.name if attempt == 0 else f"{action.name}-{attempt}"
            body: JSON = {
                "apiVersion": EXPERIMENTS.api_version,
                "kind": "Experiment",
                "metadata": {
                    **body_meta,
                    "name": name,
                    "namespace": ns,
                    "ownerReferences": [owner_reference(rollout_raw)],
                },
                "spec": action.body.get("spec") or {},
            }
            try:
                with expecting(409):
                    await self.api.create(EXPERIMENTS, body, ns)
                return name
            except AlreadyExists:
                existing = await self.api.get_or_none(EXPERIMENTS, name, ns)
                if existing is None:
                    continue
                phase = str((existing.get("status") or {}).get("phase") or "")
                same = {**(existing.get("spec") or {}), "terminate": False} == {
                    **body["spec"],
                    "terminate": False,
                }
                if (
                    _controller_uid(existing) == uid
                    and same
                    and phase not in ("Successful", "Failed", "Error", "Inconclusive")
                ):
                    return name
        raise KubeError(
            f"Experiment {ns}/{action.name}: {MAX_NAME_COLLISIONS} name collisions; delete old experiments",
            status=409,
            reason="AlreadyExists",
        )

    async def _create_service(self, owner_raw: JSON, action: CreateService) -> None:
        """A Service owned by `owner_raw` (an Experiment template's). One of that name already there is fine when
        it is ours for the same template; anyone else's is refused (Argo's `CreateService`)."""
        meta = owner_raw.get("metadata") or {}
        ns = meta.get("namespace")
        body: JSON = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": action.name,
                "namespace": ns,
                "annotations": dict(action.annotations),
                "ownerReferences": [owner_reference(owner_raw)],
            },
            "spec": {"selector": dict(action.selector), "ports": [dict(p) for p in action.ports]},
        }
        try:
            with expecting(409):
                await self.api.create(SERVICES, body, ns)
        except AlreadyExists:
            existing = await self.api.get_or_none(SERVICES, action.name, ns) or {}
            annotations = (existing.get("metadata") or {}).get("annotations") or {}
            template = action.annotations.get(EXPERIMENT_TEMPLATE_ANNOTATION, "")
            if _controller_uid(existing) != str(meta.get("uid") or "") or (
                annotations.get(EXPERIMENT_TEMPLATE_ANNOTATION) != template
            ):
                raise KubeError(
                    f"service {action.name} already exists and is not owned by experiment template {template}",
                    status=409,
                    reason="AlreadyExists",
                ) from None

    async def _evict(self, rollout_raw: JSON, name: str) -> None:
        """docs/semantics/controller.md#restart: one pod older than spec.restartAt. A PodDisruptionBudget that
        forbids it now (429) is said at warning level and the pod is tried again on a later pass."""
        meta = rollout_raw.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        try:
            with expecting(404):
                await self.client.evict(name, namespace)
        except NotFound:
            return
        except TooManyRequests as e:
            logger.bind(rollout=f"{namespace}/{meta.get('name')}").warning(
                "rollout {}/{}: pod {} not evicted for the restart yet: {}",
                namespace,
                meta.get("name"),
                name,
                e.message,
            )
            return
        logger.bind(rollout=f"{namespace}/{meta.get('name')}").info(
            "rollout {}/{}: evicted pod {} (created before spec.restartAt)", namespace, meta.get("name"), name
        )

    async def _sync_pod_metadata(self, namespace: str | None, action: SyncPodMetadata) -> None:
        """docs/semantics/controller.md#ephemeral-metadata: the ReplicaSet's template first (pods created meanwhile
        get the metadata), then its pods (merge patches, at most `POD_PATCHES` at once; a pod gone is skipped),
        then the record of what was injected (last: a pass after a failure here syncs the pods again)."""
        template: JSON = {}
        if action.labels:
            template["labels"] = dict(action.labels)
        if action.annotations:
            template["annotations"] = dict(action.annotations)
        if template:
            await self.api.patch(
                REPLICA_SETS, action.replica_set, {"spec": {"template": {"metadata": template}}}, namespace
            )
        if action.pods:
            answer = await self.client.list(
                PODS, namespace, label_selector=f"{POD_TEMPLATE_HASH_LABEL}={action.pod_template_hash}"
            )
            owned = [pod for pod in answer.items if _controlled_by(pod, "ReplicaSet", action.replica_set)]
            limit = asyncio.Semaphore(POD_PATCHES)

            async def relabel(pod: JSON) -> None:
                meta = pod.get("metadata") or {}
                patch = ephemeral.sync(
                    meta.get("labels") or {}, meta.get("annotations") or {}, action.existing, action.desired
                )
                if not patch:
                    return
                body: JSON = {}
                if patch.labels:
                    body["labels"] = patch.labels
                if patch.annotations:
                    body["annotations"] = patch.annotations
                async with limit:
                    with contextlib.suppress(NotFound), expecting(404):
                        await self.api.patch(PODS, str(meta.get("name")), {"metadata": body}, namespace)

            await asyncio.gather(*(relabel(pod) for pod in owned))
        await self.api.patch(
            REPLICA_SETS,
            action.replica_set,
            {"metadata": {"annotations": {EPHEMERAL_METADATA_ANNOTATION: action.record}}},
            namespace,
        )

    async def _delete(self, resource: Any, name: str, namespace: str | None) -> None:
        with contextlib.suppress(NotFound), expecting(404):
            await self.api.delete(resource, name, namespace)

    async def _create_replica_set(self, rollout_raw: JSON, action: CreateReplicaSet) -> None:
        body = replica_set_body(rollout_raw, action)
        ns = body["metadata"]["namespace"]
        try:
            with expecting(409):
                await self.api.create(REPLICA_SETS, body, ns)
            return
        except AlreadyExists:
            existing = await self.api.get(REPLICA_SETS, action.name, ns)
        uid = str((rollout_raw.get("metadata") or {}).get("uid") or "")
        owner = _controller_uid(existing)
        if owner == uid:
            return  # ours already (a retried pass, or a stale cache)
        if owner is None:
            refs = [
                *((existing.get("metadata") or {}).get("ownerReferences") or []),
                owner_reference(rollout_raw),
            ]
            await self.api.patch(
                REPLICA_SETS,
                action.name,
                {"metadata": {"ownerReferences": refs}},
                ns,
                resource_version=(existing.get("metadata") or {}).get("resourceVersion"),
            )
            logger.info("adopted ReplicaSet {}/{}", ns, action.name)
            return
        raise AdoptionError(
            f"ReplicaSet {ns}/{action.name} exists and is controlled by another owner (uid {owner}); "
            "delete it or change the rollout's pod template",
            status=409,
            reason="AlreadyExists",
        )

    async def _edit_router(self, action: EditRouter) -> None:
        resource = lookup(action.kind, action.api_version)
        if action.delete:
            await self._delete(resource, action.name, action.namespace)
            return
        if action.obj is None:
            return
        if action.create:
            try:
                with expecting(409):
                    await self.api.create(resource, action.obj, action.namespace)
            except AlreadyExists:
                current = await self.api.get(resource, action.name, action.namespace)
                body = {**action.obj, "metadata": {**action.obj.get("metadata", {}), **_rv(current)}}
                await self.api.replace(resource, body, action.namespace)
            return
        await self.api.replace(resource, action.obj, action.namespace)

    async def _create_analysis_run(self, rollout_raw: JSON, action: CreateAnalysisRun) -> str:
        """Create the run under its planned name; reuse an equal unfinished run of ours; else `.1`, `.2`, …"""
        ns = (rollout_raw.get("metadata") or {}).get("namespace")
        uid = str((rollout_raw.get("metadata") or {}).get("uid") or "")
        for attempt in range(MAX_NAME_COLLISIONS + 1):
            name = action.name if attempt == 0 else f"{action.name}.{attempt}"
            try:
                with expecting(409):
                    await self.api.create(ANALYSIS_RUNS, analysis_run_body(rollout_raw, action, name), ns)
                return name
            except AlreadyExists:
                existing = await self.api.get_or_none(ANALYSIS_RUNS, name, ns)
                if existing is None:
                    continue
                if _controller_uid(existing) == uid and _same_run(existing, action):
                    return name
        raise KubeError(
            f"AnalysisRun {ns}/{action.name}: {MAX_NAME_COLLISIONS} name collisions; delete old runs",
            status=409,
            reason="AlreadyExists",
        )


class _Recording:
    """The client's write verbs, reporting every object the API server returns to `hook` (see `Freshest`)."""

    def __init__(self, client: KubeClient, hook: WrittenHook | None) -> None:
        self.client = client
        self.hook = hook
        self.get = client.get
        self.get_or_none = client.get_or_none
        self.delete = client.delete

    def _seen(self, resource: Resource, obj: JSON) -> JSON:
        if self.hook is not None and isinstance(obj, dict) and obj.get("metadata"):
            self.hook(resource, obj)
        return obj

    async def create(
        self, resource: Resource, body: JSON, namespace: str | None = None, *, retry: bool = False
    ) -> JSON:
        return self._seen(resource, await self.client.create(resource, body, namespace, retry=retry))

    async def replace(self, resource: Resource, body: JSON, namespace: str | None = None) -> JSON:
        return self._seen(resource, await self.client.replace(resource, body, namespace))

    async def patch(
        self, resource: Resource, name: str, patch: JSON | list[JSON], namespace: str | None = None, **kw: Any
    ) -> JSON:
        return self._seen(resource, await self.client.patch(resource, name, patch, namespace, **kw))

    async def patch_status(
        self, resource: Resource, name: str, patch: JSON, namespace: str | None = None, **kw: Any
    ) -> JSON:
        return self._seen(resource, await self.client.patch_status(resource, name, patch, namespace, **kw))


def _named_as_created(status: JSON, result: ApplyResult) -> JSON:
    """The status naming the Experiment as created (a taken name gets `-1`, `-2`, …)."""
    canary = status.get("canary")
    current = canary.get("currentExperiment") if isinstance(canary, dict) else None
    actual = result.created_experiments.get(str(current)) if current else None
    if not actual or actual == current:
        return status
    return {**status, "canary": {**canary, "currentExperiment": actual}}  # type: ignore[dict-item]


def _controlled_by(obj: Mapping[str, Any], kind: str, name: str) -> bool:
    return any(
        isinstance(ref, Mapping)
        and ref.get("controller")
        and ref.get("kind") == kind
        and ref.get("name") == name
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or ()
    )


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _rv(obj: Mapping[str, Any]) -> JSON:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return {"resourceVersion": rv} if rv else {}


def _same_run(existing: Mapping[str, Any], action: CreateAnalysisRun) -> bool:
    """An existing run is reusable when it is not finished and runs the same spec with the same labels."""
    if AnalysisPhase.is_completed((existing.get("status") or {}).get("phase")):
        return False
    spec = dict(existing.get("spec") or {})
    spec.pop("terminate", None)
    wanted = dict(action.spec)
    wanted.pop("terminate", None)
    labels = (existing.get("metadata") or {}).get("labels") or {}
    return spec == wanted and all(labels.get(k) == v for k, v in action.labels.items())
