"""Observe: the first step of a reconcile — read a Rollout and what it owns into a `strategy.plan.Observed`.

observe → decide → apply. This module turns API objects (wire JSON dicts, read from the watch caches or the API
server) into the frozen values the pure strategy core reads: the Rollout (model and raw JSON), the ReplicaSets
and AnalysisRuns it owns (by ownerReference uid, found by the rollout's selector labels), the Services it names,
its traffic-router objects and the analysis templates it references. Nothing here decides anything; nothing here
writes. Parsing is tolerant: a missing or malformed annotation reads as "absent", never as a crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from rollouts.kube.errors import NotFound
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    EXPERIMENTS,
    PODS,
    REPLICA_SETS,
    SERVICES,
    Resource,
    lookup,
)
from rollouts.models import Rollout
from rollouts.models.vocabulary import (
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    ROLLOUT_TYPE_LABEL,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    STEP_INDEX_LABEL,
    parse_time,
)
from rollouts.strategy.plan import (
    JSON,
    AnalysisRunState,
    ExperimentState,
    ExperimentTemplateState,
    Observed,
    PodState,
    ReplicaSetState,
)
from rollouts.strategy.references import service_state
from rollouts.traffic import TrafficRoutingError, dependent_router_refs, router_refs

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

RouterRef = tuple[str, str, str, str]  # (apiVersion, kind, namespace, name)
TemplateRef = tuple[str, str, str]  # ("AnalysisTemplate", ns, name) | ("ClusterAnalysisTemplate", "", name)


class ObjectSource(Protocol):
    """Where observed objects come from: the watch caches, or the API client itself (same shape)."""

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> JSON:
        """The object, or raises `rollouts.kube.errors.NotFound`."""
        ...

    async def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[JSON]:
        """The objects matching `label_selector` (all when None)."""
        ...


# ---------------------------------------------------------------------------------------------------------------
# Pure parsing: one API object → one state value
# ---------------------------------------------------------------------------------------------------------------


def parse_int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def owner_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the controlling owner (ownerReference with controller=true), if any."""
    for ref in _meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def is_owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return bool(uid) and owner_uid(obj) == uid


def parse_replica_set(obj: Mapping[str, Any]) -> ReplicaSetState:
    """A ReplicaSet reduced to what `decide` reads (revision and scale-down-deadline from annotations)."""
    meta = _meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    labels = _str_map(meta.get("labels"))
    annotations = _str_map(meta.get("annotations"))
    template = spec.get("template") or {}
    pod_hash = labels.get(POD_TEMPLATE_HASH_LABEL) or _str_map(
        (template.get("metadata") or {}).get("labels")
    ).get(POD_TEMPLATE_HASH_LABEL, "")
    return ReplicaSetState(
        name=str(meta.get("name", "")),
        pod_template_hash=pod_hash,
        spec_replicas=parse_int(spec.get("replicas"), 1),
        replicas=parse_int(status.get("replicas")),
        ready_replicas=parse_int(status.get("readyReplicas")),
        available_replicas=parse_int(status.get("availableReplicas")),
        revision=parse_int(annotations.get(REVISION_ANNOTATION)),
        created=parse_time(meta.get("creationTimestamp")) or EPOCH,
        template=dict(template),
        scale_down_deadline=parse_time(annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION)),
        labels=labels,
        annotations=annotations,
        min_ready_seconds=parse_int(spec.get("minReadySeconds")),
    )


def parse_analysis_run(obj: Mapping[str, Any]) -> AnalysisRunState:
    """An AnalysisRun reduced to its phase and the labels that say which part of the rollout created it."""
    meta = _meta(obj)
    labels = _str_map(meta.get("labels"))
    annotations = _str_map(meta.get("annotations"))
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    step = labels.get(STEP_INDEX_LABEL)
    return AnalysisRunState(
        name=str(meta.get("name", "")),
        phase=str(status.get("phase") or "Pending"),
        message=str(status.get("message") or ""),
        rollout_type=labels.get(ROLLOUT_TYPE_LABEL, ""),
        pod_template_hash=labels.get(POD_TEMPLATE_HASH_LABEL, ""),
        created=parse_time(meta.get("creationTimestamp")) or EPOCH,
        step_index=parse_int(step) if step is not None and step.lstrip("-").isdigit() else None,
        terminate=bool(spec.get("terminate")),
        revision=parse_int(annotations.get(REVISION_ANNOTATION)),
    )


def parse_pod(obj: Mapping[str, Any]) -> PodState:
    """A pod reduced to what the restarter reads: when it was created, since when it is Ready."""
    meta = _meta(obj)
    created = parse_time(meta.get("creationTimestamp")) or EPOCH
    ready_since = None
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == "Ready" and cond.get("status") == "True":
            ready_since = parse_time(cond.get("lastTransitionTime")) or created
    return PodState(
        name=str(meta.get("name", "")),
        created=created,
        ready_since=ready_since,
        deleting=bool(meta.get("deletionTimestamp")),
    )


def parse_experiment(obj: Mapping[str, Any]) -> ExperimentState:
    """An Experiment reduced to what its Rollout reads: phase, message, terminate, the templates' Services."""
    meta = _meta(obj)
    status = obj.get("status") or {}
    templates = tuple(
        ExperimentTemplateState(
            name=str(t.get("name") or ""),
            service_name=str(t.get("serviceName") or ""),
            pod_template_hash=str(t.get("podTemplateHash") or ""),
        )
        for t in status.get("templateStatuses") or ()
        if isinstance(t, Mapping)
    )
    return ExperimentState(
        name=str(meta.get("name", "")),
        phase=str(status.get("phase") or ""),
        message=str(status.get("message") or ""),
        terminate=bool((obj.get("spec") or {}).get("terminate")),
        templates=templates,
        created=parse_time(meta.get("creationTimestamp")),
        pod_template_hash=_str_map(meta.get("labels")).get(POD_TEMPLATE_HASH_LABEL),
    )


def runs_experiments(raw: Mapping[str, Any]) -> bool:
    """The Rollout has an experiment step, or records an Experiment: only then are Experiments read."""
    canary, _ = _strategy(raw)
    if any(isinstance(s, Mapping) and s.get("experiment") is not None for s in canary.get("steps") or ()):
        return True
    return bool(((raw.get("status") or {}).get("canary") or {}).get("currentExperiment"))


def restart_pending(raw: Mapping[str, Any], now: datetime) -> bool:
    """A restart is due and not yet acknowledged (`restarts.needs_restart`): only then are the pods read."""
    spec, status = raw.get("spec") or {}, raw.get("status") or {}
    restart_at = parse_time(spec.get("restartAt")) if isinstance(spec, Mapping) else None
    restarted_at = parse_time(status.get("restartedAt")) if isinstance(status, Mapping) else None
    return restart_at is not None and restart_at != restarted_at and restart_at < now


def _controller_name(obj: Mapping[str, Any], kind: str) -> str | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") and ref.get("kind") == kind:
            return str(ref.get("name") or "")
    return None


# ---------------------------------------------------------------------------------------------------------------
# What a Rollout references (read from its raw JSON, so an invalid spec still gets observed)
# ---------------------------------------------------------------------------------------------------------------


def _strategy(raw: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    strategy = (raw.get("spec") or {}).get("strategy") or {}
    canary = strategy.get("canary") if isinstance(strategy.get("canary"), Mapping) else {}
    blue_green = strategy.get("blueGreen") if isinstance(strategy.get("blueGreen"), Mapping) else {}
    return canary or {}, blue_green or {}


def service_names(raw: Mapping[str, Any]) -> list[str]:
    """canary/stable (and ping/pong) Services of a canary; active/preview of a blue-green."""
    canary, blue_green = _strategy(raw)
    ping_pong = canary.get("pingPong") or {}
    names = [
        canary.get("canaryService"),
        canary.get("stableService"),
        ping_pong.get("pingService") if isinstance(ping_pong, Mapping) else None,
        ping_pong.get("pongService") if isinstance(ping_pong, Mapping) else None,
        blue_green.get("activeService"),
        blue_green.get("previewService"),
    ]
    return sorted({n for n in names if isinstance(n, str) and n})


def _analysis_blocks(raw: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    canary, blue_green = _strategy(raw)
    for block in (
        canary.get("analysis"),
        blue_green.get("prePromotionAnalysis"),
        blue_green.get("postPromotionAnalysis"),
    ):
        if isinstance(block, Mapping):
            yield block
    for step in canary.get("steps") or ():
        if not isinstance(step, Mapping):
            continue
        if isinstance(step.get("analysis"), Mapping):
            yield step["analysis"]
        experiment = step.get("experiment")
        if isinstance(experiment, Mapping):
            for analysis in experiment.get("analyses") or ():
                if isinstance(analysis, Mapping):
                    yield {"templates": [analysis]}


def template_refs(raw: Mapping[str, Any]) -> list[TemplateRef]:
    """Every (Cluster)AnalysisTemplate the rollout names, in the rollout's namespace or cluster-wide."""
    namespace = str(_meta(raw).get("namespace") or "default")
    refs: set[TemplateRef] = set()
    for block in _analysis_blocks(raw):
        for ref in block.get("templates") or ():
            if not isinstance(ref, Mapping) or not isinstance(ref.get("templateName"), str):
                continue
            if ref.get("clusterScope"):
                refs.add(("ClusterAnalysisTemplate", "", ref["templateName"]))
            else:
                refs.add(("AnalysisTemplate", namespace, ref["templateName"]))
    return sorted(refs)


MAX_TEMPLATE_NESTING = 8  # levels of `spec.templates` followed; a cycle stops at names already fetched


def nested_template_refs(template: Mapping[str, Any], namespace: str) -> list[TemplateRef]:
    """The templates an (Cluster)AnalysisTemplate names in its own `spec.templates`."""
    refs: list[TemplateRef] = []
    for ref in (template.get("spec") or {}).get("templates") or ():
        if isinstance(ref, Mapping) and isinstance(ref.get("templateName"), str):
            if ref.get("clusterScope"):
                refs.append(("ClusterAnalysisTemplate", "", ref["templateName"]))
            else:
                refs.append(("AnalysisTemplate", namespace, ref["templateName"]))
    return refs


def router_refs_of(model: Rollout | None) -> list[RouterRef]:
    """The router objects to fetch (`rollouts.traffic.router_refs`); none when the spec did not parse, or when
    its trafficRouting does not name routers in a form they can be read from: the strategy core reports either
    as InvalidSpec (`route_edits` raises the same `TrafficRoutingError`, naming the field) and edits no router."""
    if model is None:
        return []
    try:
        return list(router_refs(model))
    except TrafficRoutingError:
        return []


def selector_string(raw: Mapping[str, Any]) -> str | None:
    """`spec.selector.matchLabels` as a label selector string (`app=api-server`), None when absent."""
    selector = ((raw.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not isinstance(selector, Mapping) or not selector:
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# ---------------------------------------------------------------------------------------------------------------
# Observation
# ---------------------------------------------------------------------------------------------------------------


def build_observed(
    rollout_raw: JSON,
    model: Rollout,
    *,
    replica_sets: Iterable[Mapping[str, Any]] = (),
    analysis_runs: Iterable[Mapping[str, Any]] = (),
    services: Iterable[Mapping[str, Any]] = (),
    routers: Mapping[RouterRef, JSON] | None = None,
    templates: Mapping[TemplateRef, JSON] | None = None,
    cross_namespace_routing: bool = False,
    pods: Iterable[Mapping[str, Any]] | None = None,
    experiments: Iterable[Mapping[str, Any]] = (),
) -> Observed:
    """PURE: the `Observed` of a rollout from already-fetched objects; keeps only what the rollout controls."""
    uid = str(_meta(rollout_raw).get("uid") or "")
    owned_rs = sorted(
        (parse_replica_set(rs) for rs in replica_sets if is_owned_by(rs, uid) and not _deleting(rs)),
        key=lambda r: (r.revision, r.created, r.name),
    )
    owned_runs = sorted(
        (parse_analysis_run(run) for run in analysis_runs if is_owned_by(run, uid)),
        key=lambda r: (r.created, r.name),
    )
    names = {rs.name for rs in owned_rs}
    return Observed(
        pods=None
        if pods is None
        else tuple(parse_pod(p) for p in pods if _controller_name(p, "ReplicaSet") in names),
        experiments=tuple(
            sorted(
                (parse_experiment(e) for e in experiments if is_owned_by(e, uid) and not _deleting(e)),
                key=lambda e: (e.created or EPOCH, e.name),
            )
        ),
        rollout=model,
        rollout_raw=rollout_raw,
        replica_sets=tuple(owned_rs),
        analysis_runs=tuple(owned_runs),
        services={svc.name: svc for svc in map(service_state, services)},
        routers=dict(routers or {}),
        templates=dict(templates or {}),
        cross_namespace_routing=cross_namespace_routing,
    )


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


async def _get_or_none(
    source: ObjectSource, resource: Resource, name: str, namespace: str | None
) -> JSON | None:
    try:
        return await source.get(resource, name, namespace)
    except NotFound:
        return None


async def observe(
    source: ObjectSource,
    rollout_raw: JSON,
    model: Rollout,
    *,
    cross_namespace_routing: bool = False,
) -> Observed:
    """Read everything the rollout owns or names from `source` (concurrently) and build the `Observed`.

    `model` is the parsed `rollouts.models.Rollout` (a Rollout whose spec does not parse is never observed: the
    reconciler reports InvalidSpec from `rollout_raw` first). Unless `cross_namespace_routing` (the controller's
    --allow-cross-namespace-routing), router objects named in another namespace are not read at all: the
    strategy core refuses such a Rollout, and nothing of another namespace's objects reaches its status.
    """
    namespace = str(_meta(rollout_raw).get("namespace") or "default")
    selector = selector_string(rollout_raw)
    svc_names = service_names(rollout_raw)
    router_list = [ref for ref in router_refs_of(model) if cross_namespace_routing or ref[2] == namespace]
    template_list = template_refs(rollout_raw)

    async def fetch_router(ref: RouterRef) -> JSON | None:
        api_version, kind, ns, name = ref
        try:
            resource = lookup(kind, api_version)
        except KeyError:
            return None
        return await _get_or_none(source, resource, name, ns)

    async def fetch_template(ref: TemplateRef) -> JSON | None:
        kind, ns, name = ref
        if kind == "ClusterAnalysisTemplate":
            return await _get_or_none(source, CLUSTER_ANALYSIS_TEMPLATES, name, None)
        return await _get_or_none(source, ANALYSIS_TEMPLATES, name, ns)

    rs_task = source.list(REPLICA_SETS, namespace, label_selector=selector) if selector else _empty()
    run_task = source.list(ANALYSIS_RUNS, namespace, label_selector=selector) if selector else _empty()
    restarting = bool(selector) and restart_pending(rollout_raw, datetime.now(UTC))
    pod_task = source.list(PODS, namespace, label_selector=selector) if restarting else _empty()
    experiment_task = source.list(EXPERIMENTS, namespace) if runs_experiments(rollout_raw) else _empty()
    results = await asyncio.gather(
        rs_task,
        run_task,
        pod_task,
        asyncio.gather(*(_get_or_none(source, SERVICES, n, namespace) for n in svc_names)),
        asyncio.gather(*(fetch_router(r) for r in router_list)),
        asyncio.gather(*(fetch_template(t) for t in template_list)),
    )
    replica_sets, runs, pod_objs, svc_objs, router_objs, template_objs = results
    experiment_objs = await experiment_task  # only a Rollout with an experiment step reads them
    routers = {ref: obj for ref, obj in zip(router_list, router_objs, strict=True) if obj is not None}
    if model is not None:  # objects the routers read name (App Mesh: the VirtualService's VirtualRouter)
        dependent = [
            key
            for key in dependent_router_refs(model, routers)
            if cross_namespace_routing or key[2] == namespace
        ]
        for key, found in zip(
            dependent, await asyncio.gather(*(fetch_router(r) for r in dependent)), strict=True
        ):
            if found is not None:
                routers[key] = found
    fetched = {ref: obj for ref, obj in zip(template_list, template_objs, strict=True) if obj is not None}
    # A template may itself name templates (`spec.templates`, docs/semantics/objects.md#analysis-objects): fetch those too, a level at a time.
    for _ in range(MAX_TEMPLATE_NESTING):
        nested = sorted(
            {r for obj in fetched.values() for r in nested_template_refs(obj, namespace)} - set(template_list)
        )
        if not nested:
            break
        template_list = [*template_list, *nested]
        for ref, obj in zip(nested, await asyncio.gather(*(fetch_template(t) for t in nested)), strict=True):
            if obj is not None:
                fetched[ref] = obj
    return build_observed(
        rollout_raw,
        model,
        replica_sets=replica_sets,
        analysis_runs=runs,
        services=[s for s in svc_objs if s is not None],
        routers=routers,
        templates={ref: dict(obj.get("spec") or {}) for ref, obj in fetched.items()},
        cross_namespace_routing=cross_namespace_routing,
        pods=pod_objs if restarting else None,
        experiments=experiment_objs,
    )


async def _empty() -> list[JSON]:
    return []


class ClientSource:
    """An `ObjectSource` reading straight from the API server (used to re-read after a 409, and in tests)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> JSON:
        result: JSON = await self.client.get(resource, name, namespace)
        return result

    async def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[JSON]:
        answer = await self.client.list(resource, namespace, label_selector=label_selector)
        items: list[JSON] = answer.items if hasattr(answer, "items") else list(answer)
        return items
