"""The model behind `get rollout`: a Rollout and what it owns, reduced to what the screen shows.

`fetching.py` reads the rollout, its ReplicaSets, their Pods and its AnalysisRuns; `build_rollout_info` turns
those dicts into plain dataclasses (health of each ReplicaSet and Pod, tags stable/canary/active/preview,
measurement counts of each run, revisions), following Argo's `pkg/kubectl-argo-rollouts/info` so the tree reads
the same (docs/semantics/plugin.md#get-rollout-output). `render.py` draws it; `-o json` serialises it with `asdict`. Pure: `now` is injected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollouts.models.vocabulary import (
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    parse_time,
)
from rollouts.plugin.phases import (
    age,
    current_set_weight,
    current_step_index,
    get,
    human_duration,
    max_traffic_weight,
    rollout_phase,
    step_text,
)

__all__ = [
    "AnalysisRunInfo",
    "ImageInfo",
    "JobInfo",
    "PodInfo",
    "ReplicaSetInfo",
    "RolloutInfo",
    "build_rollout_info",
    "icon_for",
]


# Status icons (docs/semantics/plugin.md#get-rollout-output; Argo info/info.go)
ICONS = {
    "Progressing": "◌",
    "Error": "⚠",
    "InvalidSpec": "⚠",
    "Paused": "॥",
    "Healthy": "✔",
    "Successful": "✔",
    "Degraded": "✖",
    "Failed": "✖",
    "ReplicaFailure": "✖",
    "Unknown": "?",
    "Inconclusive": "?",
    "ScaledDown": "•",
    "Running": "◌",
    "Pending": "◷",
}


def icon_for(status: str) -> str:
    return ICONS.get(status, " ")


@dataclass
class PodInfo:
    name: str
    status: str
    icon: str
    ready: str
    restarts: int
    age: str


@dataclass
class ReplicaSetInfo:
    name: str
    uid: str
    revision: int
    status: str
    icon: str
    replicas: int
    available: int
    age: str
    stable: bool = False
    canary: bool = False
    active: bool = False
    preview: bool = False
    ping: bool = False
    pong: bool = False
    delay: str = ""  # remaining scale-down delay ("passed" once over)
    images: list[str] = field(default_factory=list)
    pods: list[PodInfo] = field(default_factory=list)


@dataclass
class JobInfo:
    name: str
    status: str
    icon: str
    age: str


@dataclass
class AnalysisRunInfo:
    name: str
    revision: int
    status: str
    icon: str
    age: str
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    jobs: list[JobInfo] = field(default_factory=list)


@dataclass
class ExperimentNode:
    """An Experiment of the Rollout in `get rollout`'s tree, under its revision, with what it owns."""

    name: str
    revision: int
    status: str
    icon: str
    age: str
    replica_sets: list[ReplicaSetInfo] = field(default_factory=list)
    analysis_runs: list[AnalysisRunInfo] = field(default_factory=list)


@dataclass
class ImageInfo:
    image: str
    tags: list[str]


@dataclass
class RolloutInfo:
    name: str
    namespace: str
    status: str
    message: str
    icon: str
    age: str
    strategy: str
    step: str
    set_weight: str
    actual_weight: str
    images: list[ImageInfo]
    desired: int
    current: int
    updated: int
    ready: int
    available: int
    replica_sets: list[ReplicaSetInfo]
    analysis_runs: list[AnalysisRunInfo]
    experiments: list[ExperimentNode] = field(default_factory=list)

    def revisions(self) -> list[int]:
        """Every revision seen on a ReplicaSet, Experiment or AnalysisRun, newest first."""
        revs = {rs.revision for rs in self.replica_sets} | {ar.revision for ar in self.analysis_runs}
        revs |= {ex.revision for ex in self.experiments}
        return sorted(revs, reverse=True)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _revision(obj: dict[str, Any]) -> int:
    return _int((get(obj, "metadata", "annotations") or {}).get(REVISION_ANNOTATION))


def _owned_by(obj: dict[str, Any], uids: set[str]) -> str | None:
    for ref in get(obj, "metadata", "ownerReferences") or []:
        if ref.get("uid") in uids:
            return str(ref["uid"])
    return None


def replicaset_health(rs: dict[str, Any]) -> str:
    """Argo's getReplicaSetHealth: Progressing until observed and available, then Healthy or ScaledDown."""
    spec_replicas = get(rs, "spec", "replicas")
    if _int(get(rs, "metadata", "generation")) <= _int(get(rs, "status", "observedGeneration")):
        for cond in get(rs, "status", "conditions") or []:
            if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                return "ReplicaFailure"
        if spec_replicas is not None and _int(get(rs, "status", "availableReplicas")) < _int(spec_replicas):
            return "Progressing"
    else:
        return "Progressing"
    if spec_replicas is not None and _int(spec_replicas) == 0:
        return "ScaledDown"
    return "Healthy"


def _pod_icon(status: str) -> str:
    if status.startswith("Init:"):
        return "◌"
    if status.startswith(("Signal:", "ExitCode:")):
        return "✖"
    if status.endswith("Error") or status.startswith("Err"):
        return "⚠"
    return {
        "Pending": "◌",
        "Terminating": "◌",
        "ContainerCreating": "◌",
        "Running": "✔",
        "Completed": "✔",
        "Failed": "✖",
        "InvalidImageName": "✖",
        "CrashLoopBackOff": "✖",
        "ImagePullBackOff": "⚠",
        "RegistryUnavailable": "⚠",
        "Unknown": "?",
    }.get(status, " ")


def pod_status(pod: dict[str, Any]) -> tuple[str, str, int]:
    """(status, ready "x/y", restarts) as `kubectl get pods` shows them (Argo's newPodInfo)."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    restarts = 0
    initializing = False
    sidecars = {c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}
    init_specs = spec.get("initContainers") or []
    for i, ctr in enumerate(status.get("initContainerStatuses") or []):
        restarts += _int(ctr.get("restartCount"))
        state = ctr.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and _int(terminated.get("exitCode")) == 0:
            continue
        if terminated:
            if not terminated.get("reason"):
                sig = _int(terminated.get("signal"))
                reason = f"Init:Signal:{sig}" if sig else f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + str(terminated["reason"])
            initializing = True
        elif ctr.get("name") in sidecars and ctr.get("started"):
            if ctr.get("ready"):
                continue
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
            initializing = True
        else:
            reason = f"Init:{i}/{len(init_specs)}"
            initializing = True
        break
    ready = 0
    if not initializing:
        restarts = 0
        has_running = False
        for ctr in reversed(status.get("containerStatuses") or []):
            restarts += _int(ctr.get("restartCount"))
            state = ctr.get("state") or {}
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated:
                sig = _int(terminated.get("signal"))
                reason = f"Signal:{sig}" if sig else f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif ctr.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running"
    if get(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, f"{ready}/{len(spec.get('containers') or [])}", restarts


def _replicaset_infos(
    ro: dict[str, Any], replicasets: list[dict[str, Any]], pods: list[dict[str, Any]], now: datetime
) -> list[ReplicaSetInfo]:
    uid = str(get(ro, "metadata", "uid") or "")
    status = ro.get("status") or {}
    canary = get(ro, "spec", "strategy", "canary")
    blue_green = get(ro, "spec", "strategy", "blueGreen")
    ping_pong = canary is not None and canary.get("pingPong") is not None
    stable_is_ping = get(status, "canary", "stablePingPong") == "ping"
    infos: list[ReplicaSetInfo] = []
    for rs in replicasets:
        if _owned_by(rs, {uid}) is None:
            continue
        health = replicaset_health(rs)
        info = ReplicaSetInfo(
            name=str(get(rs, "metadata", "name")),
            uid=str(get(rs, "metadata", "uid") or ""),
            revision=_revision(rs),
            status=health,
            icon=icon_for(health),
            replicas=_int(get(rs, "status", "replicas")),
            available=_int(get(rs, "status", "availableReplicas")),
            age=age(rs, now),
        )
        pod_hash = (get(rs, "metadata", "labels") or {}).get(POD_TEMPLATE_HASH_LABEL, "")
        if canary is not None:
            if status.get("stableRS") == pod_hash:
                info.stable = True
                info.ping, info.pong = (stable_is_ping, not stable_is_ping) if ping_pong else (False, False)
            elif status.get("currentPodHash") == pod_hash:
                info.canary = True
                info.ping, info.pong = (not stable_is_ping, stable_is_ping) if ping_pong else (False, False)
        if blue_green is not None:
            info.stable = status.get("stableRS") == pod_hash
            if get(status, "blueGreen", "activeSelector") == pod_hash:
                info.active = True
            elif get(status, "blueGreen", "previewSelector") == pod_hash:
                info.preview = True
        deadline = parse_time((get(rs, "metadata", "annotations") or {}).get(SCALE_DOWN_DEADLINE_ANNOTATION))
        if deadline is not None:
            info.delay = "passed" if deadline < now else human_duration(deadline - now)
        info.images = [str(c.get("image")) for c in get(rs, "spec", "template", "spec", "containers") or []]
        infos.append(info)
    infos.sort(key=lambda i: (-i.revision, i.name))
    by_uid = {i.uid: i for i in infos}
    owned_pods: dict[str, list[tuple[str, PodInfo]]] = {}
    for pod in pods:
        owner = _owned_by(pod, set(by_uid))
        if owner is None:
            continue
        reason, ready, restarts = pod_status(pod)
        pod_info = PodInfo(
            str(get(pod, "metadata", "name")), reason, _pod_icon(reason), ready, restarts, age(pod, now)
        )
        created = str(get(pod, "metadata", "creationTimestamp") or "")
        owned_pods.setdefault(owner, []).append((created, pod_info))
    for owner, entries in owned_pods.items():
        entries.sort(key=lambda e: (parse_time(e[0]) or datetime.min.replace(tzinfo=now.tzinfo), e[1].name))
        by_uid[owner].pods = [p for _, p in entries]
    return infos


def _analysis_run_infos(
    ro: dict[str, Any], runs: list[dict[str, Any]], now: datetime
) -> list[AnalysisRunInfo]:
    uid = str(get(ro, "metadata", "uid") or "")
    infos: list[tuple[str, AnalysisRunInfo]] = []
    for run in runs:
        if _owned_by(run, {uid}) is None:
            continue
        phase = str(get(run, "status", "phase") or "")
        info = AnalysisRunInfo(
            name=str(get(run, "metadata", "name")),
            revision=_revision(run),
            status=phase,
            icon=icon_for(phase),
            age=age(run, now),
        )
        for result in get(run, "status", "metricResults") or []:
            info.successful += _int(result.get("successful"))
            info.failed += _int(result.get("failed"))
            info.inconclusive += _int(result.get("inconclusive"))
            info.error += _int(result.get("error"))
            for m in result.get("measurements") or []:
                job = (m.get("metadata") or {}).get("job-name")
                if job:
                    started = parse_time(m.get("startedAt"))
                    job_age = human_duration(now - started) if started else "<unknown>"
                    m_phase = str(m.get("phase") or "")
                    info.jobs.append(JobInfo(str(job), m_phase, icon_for(m_phase), job_age))
        infos.append((str(get(run, "metadata", "creationTimestamp") or ""), info))
    # revision desc, creation asc, name desc (Argo's analysisrun_info.go ordering)
    infos.sort(key=lambda e: e[1].name, reverse=True)
    infos.sort(key=lambda e: (-e[1].revision, parse_time(e[0]) or datetime.min.replace(tzinfo=now.tzinfo)))
    return [i for _, i in infos]


def _images(replica_sets: list[ReplicaSetInfo]) -> list[ImageInfo]:
    """Images of ReplicaSets that have pods, tagged; an image seen twice gets the sorted union of its tags."""
    merged: dict[str, list[str]] = {}
    for rs in replica_sets:
        if rs.replicas <= 0:
            continue
        flags = (
            ("canary", rs.canary),
            ("stable", rs.stable),
            ("active", rs.active),
            ("preview", rs.preview),
            ("ping", rs.ping),
            ("pong", rs.pong),
        )
        tags = [t for t, on in flags if on]
        for image in rs.images:
            if image in merged:
                merged[image] = sorted(set(merged[image]) | set(tags))
            else:
                merged[image] = tags
    return [ImageInfo(image, tags) for image, tags in sorted(merged.items())]


def _experiment_nodes(
    experiments: list[dict[str, Any]],
    replicasets: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    analysis_runs: list[dict[str, Any]],
    now: datetime,
) -> list[ExperimentNode]:
    """`getExperimentInfo`: each Experiment with its own ReplicaSets (and pods) and runs, newest first."""
    nodes = []
    for ex in experiments:
        phase = str(get(ex, "status", "phase") or "Pending")
        nodes.append(
            ExperimentNode(
                name=str(get(ex, "metadata", "name")),
                revision=_revision(ex),
                status=phase,
                icon=icon_for(phase),
                age=age(ex, now),
                replica_sets=sorted(_replicaset_infos(ex, replicasets, pods, now), key=lambda r: r.name),
                analysis_runs=_analysis_run_infos(ex, analysis_runs, now),
            )
        )
    return sorted(nodes, key=lambda n: (-n.revision, n.name))


def actual_weight(ro: dict[str, Any], canary_available: int | None) -> str:
    """`get rollout`'s ACTUAL WEIGHT of a canary (Argo's rollout info): the maximum once the steps are done; with a
    traffic router, the weight the status records (the set weight before it records one); without one, the canary
    ReplicaSet's share of the available pods (`canary_available`: its available pods; None when the ReplicaSets
    were not read, and then ''). '' for a blue-green Rollout."""
    canary = get(ro, "spec", "strategy", "canary")
    if canary is None:
        return ""
    status = ro.get("status") or {}
    index = current_step_index(ro)
    if index is None or index >= len(canary.get("steps") or []):
        return str(max_traffic_weight(ro))
    available = _int(status.get("availableReplicas"))
    if available <= 0:
        return "0"
    if canary.get("trafficRouting") is None:
        if canary_available is None:
            return ""
        return str(canary_available * max_traffic_weight(ro) // available)
    weight = get(status, "canary", "weights", "canary", "weight")
    return str(_int(weight)) if get(status, "canary", "weights") else str(current_set_weight(ro))


def build_rollout_info(
    ro: dict[str, Any],
    replicasets: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    analysis_runs: list[dict[str, Any]],
    now: datetime,
    experiments: list[dict[str, Any]] | None = None,
) -> RolloutInfo:
    """Everything `get rollout` shows, from the rollout and the objects read for it."""
    status = ro.get("status") or {}
    replica_sets = _replicaset_infos(ro, replicasets, pods, now)
    phase, message = rollout_phase(ro)
    canary = get(ro, "spec", "strategy", "canary")
    strategy, step, set_weight, actual = "", "", "", ""
    if canary is not None:
        strategy = "Canary"
        step = step_text(ro)
        set_weight = str(current_set_weight(ro))
        canaries = [rs.available for rs in replica_sets if rs.canary]
        actual = actual_weight(ro, canaries[-1] if canaries else 0)
    elif get(ro, "spec", "strategy", "blueGreen") is not None:
        strategy = "BlueGreen"
    spec_replicas = get(ro, "spec", "replicas")
    return RolloutInfo(
        name=str(get(ro, "metadata", "name")),
        namespace=str(get(ro, "metadata", "namespace") or ""),
        status=phase,
        message=message,
        icon=icon_for(phase),
        age=age(ro, now),
        strategy=strategy,
        step=step,
        set_weight=set_weight,
        actual_weight=actual,
        images=_images(replica_sets),
        desired=_int(spec_replicas) if spec_replicas is not None else 1,
        current=_int(status.get("replicas")),
        updated=_int(status.get("updatedReplicas")),
        ready=_int(status.get("readyReplicas")),
        available=_int(status.get("availableReplicas")),
        replica_sets=replica_sets,
        analysis_runs=_analysis_run_infos(ro, analysis_runs, now),
        experiments=_experiment_nodes(experiments or [], replicasets, pods, analysis_runs, now),
    )
