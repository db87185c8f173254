"""`spec.workloadRef`: a Rollout whose pod template lives in a Deployment, ReplicaSet or PodTemplate.

docs/semantics/controller.md#workload-ref. PURE. Argo resolves the reference before every pass
(rollout/templateref.go `Resolve`): the referenced object's pod template (and its selector, when the Rollout has
none) is copied into the Rollout in memory, so a change of the Deployment's template is a new revision exactly
as a change of `spec.template` would be; the Rollout's annotation `rollout.argoproj.io/workload-generation`
carries the object's generation, and `status.workloadObservedGeneration` says which generation the status
describes. `scaleDown` moves the pods from the Deployment to the Rollout (rollout/sync.go `promoteStable`,
rollout/replicaset.go `reconcileNewReplicaSet`, rollout/scale_utils.go `scaleDeployment`):

- ``never`` (or absent): the Deployment is left alone;
- ``onsuccess``: once the first revision is Healthy, the Deployment is scaled to 0;
- ``progressively``: while the first revision comes up, the Deployment keeps ``spec.replicas − readyReplicas``
  of the Rollout's pods (never below 0), and 0 once the Rollout is Healthy.

Only the first revision moves pods (Argo's rule: a first revision that fails and is replaced leaves the
Deployment as it is). Only a Deployment is scaled; a ReplicaSet or PodTemplate reference with `scaleDown` gets a
Warning (`rollouts.support`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rollouts.models.vocabulary import WORKLOAD_GENERATION_ANNOTATION, WORKLOAD_KINDS
from rollouts.strategy.plan import JSON, ReplicaSetState, ScaleDeployment, WorkloadState

if TYPE_CHECKING:
    from rollouts.strategy.context import Context

__all__ = [
    "KINDS",
    "WorkloadRef",
    "WorkloadState",
    "observed_generation",
    "on_new_replica_set",
    "on_promote_stable",
    "reference",
    "resolve",
    "template_is_empty",
    "wanted_annotations",
    "workload_state",
]

SCALE_DOWN_NEVER = "never"
SCALE_DOWN_ON_SUCCESS = "onsuccess"
SCALE_DOWN_PROGRESSIVELY = "progressively"

#: (API group, kind) → (path of the pod template, path of the selector or None): rollout/templateref.go
#: `infoByGroupKind` (the kinds are `WORKLOAD_KINDS`; validation refuses the others).
KINDS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    ("", "PodTemplate"): (("template",), None),
    ("apps", "Deployment"): (("spec", "template"), ("spec", "selector")),
    ("apps", "ReplicaSet"): (("spec", "template"), ("spec", "selector")),
}

#: The plural names the API server's NotFound error names them by (`deployments.apps "web" not found`).
_GROUP_RESOURCE = {
    ("", "PodTemplate"): "podtemplates",
    ("apps", "Deployment"): "deployments.apps",
    ("apps", "ReplicaSet"): "replicasets.apps",
}


@dataclass(frozen=True)
class WorkloadRef:
    """`spec.workloadRef` as written."""

    api_version: str
    kind: str
    name: str
    scale_down: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    @property
    def resolvable(self) -> bool:
        """A name and a kind a template can be taken from (validation reports the others, naming the field)."""
        return bool(self.name) and (self.group, self.kind) in WORKLOAD_KINDS

    def not_found(self) -> str:
        """InvalidSpec when the object does not exist: the field, and the API server's NotFound sentence (what
        Argo's lister returns and Argo's condition says)."""
        resource = _GROUP_RESOURCE.get((self.group, self.kind), self.kind.lower())
        return f'spec.workloadRef.name: Invalid value: "{self.name}": {resource} "{self.name}" not found'


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def reference(raw: Mapping[str, Any]) -> WorkloadRef | None:
    """The Rollout's `spec.workloadRef`, or None when it has none."""
    ref = _map(raw.get("spec")).get("workloadRef")
    if not isinstance(ref, Mapping) or not ref:
        return None
    return WorkloadRef(
        api_version=str(ref.get("apiVersion") or ""),
        kind=str(ref.get("kind") or ""),
        name=str(ref.get("name") or ""),
        scale_down=str(ref.get("scaleDown") or SCALE_DOWN_NEVER),
    )


def template_is_empty(raw: Mapping[str, Any]) -> bool:
    """`RolloutSpec.EmptyTemplate` (types.go): the template has no labels and no annotations. A Rollout with a
    workloadRef and a written template is refused ("template must be empty for workload reference rollout")."""
    meta = _map(_map(_map(raw.get("spec")).get("template")).get("metadata"))
    return not (meta.get("labels") or meta.get("annotations"))


def _at(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = obj
    for key in path:
        value = _map(value).get(key)
    return value


def resolve(raw: Mapping[str, Any], workload: Mapping[str, Any]) -> dict[str, Any]:
    """The Rollout as Argo's `Resolve` leaves it: `spec.template` from the workload, `spec.selector` from it when
    the Rollout has none. `raw` is not changed (a shallow copy down to the spec)."""
    ref = reference(raw)
    assert ref is not None and ref.resolvable, "resolve is called for a supported workloadRef only"
    template_path, selector_path = KINDS[(ref.group, ref.kind)]
    spec = dict(_map(raw.get("spec")))
    template = _at(workload, template_path)
    if isinstance(template, Mapping):
        spec["template"] = template
    if spec.get("selector") is None and selector_path is not None:
        selector = _at(workload, selector_path)
        if isinstance(selector, Mapping):
            spec["selector"] = selector
    return {**raw, "spec": spec}


def workload_state(ref: WorkloadRef, workload: Mapping[str, Any]) -> WorkloadState:
    meta = _map(workload.get("metadata"))
    replicas = _map(workload.get("spec")).get("replicas") if ref.kind == "Deployment" else None
    generation = meta.get("generation")
    return WorkloadState(
        kind=ref.kind,
        name=ref.name,
        generation=generation if isinstance(generation, int) else 0,
        replicas=(replicas if isinstance(replicas, int) else 1) if ref.kind == "Deployment" else None,
    )


def wanted_annotations(raw: Mapping[str, Any], state: WorkloadState | None) -> dict[str, str]:
    """The Rollout annotation to write: the workload's generation, when the stored one differs (Argo patches it
    from its informer's event handler, templateref.go `updateRolloutsReferenceAnnotation`)."""
    if state is None:
        return {}
    stored = _map(_map(raw.get("metadata")).get("annotations")).get(WORKLOAD_GENERATION_ANNOTATION)
    wanted = str(state.generation)
    return {} if stored == wanted else {WORKLOAD_GENERATION_ANNOTATION: wanted}


# ---------------------------------------------------------------------------------------------------------------
# Moving the pods from the Deployment (decide)
# ---------------------------------------------------------------------------------------------------------------


def _scale(ctx: Context, replicas: int) -> None:
    """`scaleDeployment`: the Deployment to `replicas` (never below 0), when it is not there already."""
    state = ctx.observed.workload
    if state is None or state.kind != "Deployment":
        return
    target = max(0, replicas)
    if state.replicas != target:
        ctx.actions.append(ScaleDeployment(state.name, target))


def _scale_down(ctx: Context) -> str:
    ref = reference(ctx.observed.rollout_raw)
    return ref.scale_down if ref is not None else SCALE_DOWN_NEVER


def on_promote_stable(ctx: Context) -> None:
    """End of `promoteStable`: `onsuccess` scales the Deployment to 0 once revision 1 is Healthy (the stored
    phase, as Argo reads it)."""
    if _scale_down(ctx) == SCALE_DOWN_ON_SUCCESS and ctx.revision == 1 and ctx.status.phase == "Healthy":
        _scale(ctx, 0)


def on_new_replica_set(ctx: Context, rs: ReplicaSetState, desired: int) -> None:
    """End of `reconcileNewReplicaSet`: `progressively` hands the Deployment's pods over while revision 1 comes
    up: 0 once Healthy; else `spec.replicas − status.readyReplicas` when the Rollout has ready pods, or when its
    new ReplicaSet is being scaled down (`rs.spec_replicas` is the size before this pass's scaling)."""
    if _scale_down(ctx) != SCALE_DOWN_PROGRESSIVELY or rs.revision != 1:
        return
    if ctx.status.phase == "Healthy":
        _scale(ctx, 0)
    elif ctx.spec.replicas is not None and (ctx.status.ready_replicas > 0 or rs.spec_replicas > desired):
        _scale(ctx, ctx.spec.replicas - ctx.status.ready_replicas)


def observed_generation(ctx: Context, st: JSON) -> None:
    """`status.workloadObservedGeneration` (persistRolloutStatus): the generation resolved this pass."""
    state = ctx.observed.workload
    if state is not None:
        st["workloadObservedGeneration"] = str(state.generation)
    else:
        st.pop("workloadObservedGeneration", None)
