"""Jobs and Deployments in the simulated cluster: the Job controller's and the Deployment controller's share.

Where it sits: called by `simulating.Simulator` when a Job or a Deployment (or one of its ReplicaSets)
changes. A Job starts at once and, after `sandbox.rollouts.io/job-duration` (or the sandbox default), ends as
`sandbox.rollouts.io/job-outcome` says, with the status fields and conditions of the real Job controller
(no pods are created for Jobs). A Deployment gets one ReplicaSet per pod template, labelled
`pod-template-hash`; the current one is scaled to `spec.replicas` and older ones to 0 at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Protocol

from rollouts.sandbox.objects import (
    DEPLOY,
    JOB,
    JOB_DURATION,
    JOB_OUTCOME,
    RS,
    annotation,
    get_path,
    meta,
    parse_duration,
    set_path,
    timestamp,
)
from rollouts.sandbox.storeview import Key, Obj
from rollouts.sandbox.storing import Store


class SimulatorView(Protocol):
    """What these reconcilers use of `rollouts.sandbox.simulating.Simulator` (which calls them)."""

    store: Store
    time_scale: float
    job_duration: float
    loop: asyncio.AbstractEventLoop | None
    job_due: dict[str, float]
    errors: list[str]

    def later(self, delay: float, item: tuple[Key, str, str]) -> None: ...
    def owned(self, owner: Obj, key: Key) -> list[Obj]: ...


def reconcile_job(sim: SimulatorView, ns: str, name: str) -> None:
    """Start a Job, then finish it after its duration with its scripted outcome."""
    job = sim.store.find(JOB, ns, name)
    if job is None or meta(job).get("deletionTimestamp") or sim.loop is None:
        return
    status = job.get("status") or {}
    if any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or []
    ):
        return
    if get_path(job, ".spec.suspend"):
        return
    now = timestamp()
    if not status.get("startTime"):
        sim.store.put_status(
            JOB, ns, name, {"startTime": now, "active": 1, "ready": 0, "uncountedTerminatedPods": {}}
        )
        duration_text = annotation(job, JOB_DURATION)
        try:
            duration = parse_duration(duration_text) if duration_text else sim.job_duration
        except ValueError as e:
            sim.errors.append(f"job {ns}/{name}: {e}")
            duration = sim.job_duration
        sim.job_due[meta(job).get("uid", "")] = sim.loop.time() + duration * sim.time_scale
        sim.later(duration, (JOB, ns, name))
        return
    uid = meta(job).get("uid", "")
    left = sim.job_due.get(uid, 0.0) - sim.loop.time()
    if left > 0.001:
        sim.later(left / (sim.time_scale or 1.0), (JOB, ns, name))
        return
    sim.job_due.pop(uid, None)
    outcome = (annotation(job, JOB_OUTCOME) or "succeeded").lower()
    base = {"startTime": status["startTime"], "ready": 0, "uncountedTerminatedPods": {}}
    if outcome == "failed":
        new = dict(
            base,
            failed=1,
            conditions=[
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
            ],
        )
    else:
        new = dict(
            base,
            succeeded=1,
            completionTime=now,
            conditions=[
                {
                    "type": "SuccessCriteriaMet",
                    "status": "True",
                    "reason": "CompletionsReached",
                    "message": "Reached expected number of succeeded pods",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Complete",
                    "status": "True",
                    "reason": "CompletionsReached",
                    "message": "Reached expected number of succeeded pods",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
            ],
        )
    sim.store.put_status(JOB, ns, name, new)


def reconcile_deployment(sim: SimulatorView, ns: str, name: str) -> None:
    """One ReplicaSet per pod template: scale the current one up and the others to zero; aggregate status."""
    dep = sim.store.find(DEPLOY, ns, name)
    if dep is None or meta(dep).get("deletionTimestamp"):
        return
    rs_rt = sim.store.registry.preferred(*RS)
    assert rs_rt is not None
    template = get_path(dep, ".spec.template") or {}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
    want = get_path(dep, ".spec.replicas")
    want = want if isinstance(want, int) else 1
    owned = sim.owned(dep, RS)
    current = None
    for rs in owned:
        if (meta(rs).get("labels") or {}).get("pod-template-hash") == digest:
            current = rs
        elif get_path(rs, ".spec.replicas") != 0:
            sim.store.patch(
                rs_rt, ns, meta(rs)["name"], "application/merge-patch+json", {"spec": {"replicas": 0}}
            )
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
        "uid": meta(dep)["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    orphan = sim.store.find(RS, ns, f"{name}-{digest}") if current is None else None
    if orphan is not None and not any(r.get("controller") for r in meta(orphan).get("ownerReferences") or []):
        # Left behind by a Deployment deleted with propagationPolicy=Orphan: adopted, as the real controller does.
        refs = [*(meta(orphan).get("ownerReferences") or []), owner]
        current = sim.store.patch(
            rs_rt,
            ns,
            meta(orphan)["name"],
            "application/merge-patch+json",
            {"metadata": {"ownerReferences": refs}},
        )[0]
        owned.append(current)
    if current is None:
        labels = dict((template.get("metadata") or {}).get("labels") or {}, **{"pod-template-hash": digest})
        tmpl = set_path(template, ".metadata.labels", labels)
        selector = dict(get_path(dep, ".spec.selector") or {})
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{"pod-template-hash": digest})
        current = sim.store.create(
            rs_rt,
            ns,
            {
                "metadata": {
                    "name": f"{name}-{digest}",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "spec": {
                    "replicas": want,
                    "selector": selector,
                    "template": tmpl,
                    "minReadySeconds": get_path(dep, ".spec.minReadySeconds") or 0,
                },
            },
        )
        owned.append(current)
    elif get_path(current, ".spec.replicas") != want:
        sim.store.patch(
            rs_rt, ns, meta(current)["name"], "application/merge-patch+json", {"spec": {"replicas": want}}
        )
    total = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0}
    for rs in sim.owned(dep, RS):
        for k in total:
            total[k] += get_path(rs, f".status.{k}") or 0
    cur = sim.store.find(RS, ns, meta(current)["name"]) or current
    updated = get_path(cur, ".status.replicas") or 0
    status: dict[str, Any] = {
        "observedGeneration": meta(dep).get("generation", 1),
        "replicas": total["replicas"],
    }
    if updated:
        status["updatedReplicas"] = updated
    for k in ("readyReplicas", "availableReplicas"):
        if total[k]:
            status[k] = total[k]
    unavailable = total["replicas"] - total["availableReplicas"]
    if unavailable > 0:
        status["unavailableReplicas"] = unavailable
    avail = total["availableReplicas"] >= want
    old_conditions = {c.get("type"): c for c in get_path(dep, ".status.conditions") or []}
    prev = old_conditions.get("Available")
    cond_status = "True" if avail else "False"
    stamp = prev.get("lastTransitionTime") if prev and prev.get("status") == cond_status else timestamp()
    status["conditions"] = [
        {
            "type": "Available",
            "status": cond_status,
            "reason": "MinimumReplicasAvailable" if avail else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if avail
            else "Deployment does not have minimum availability.",
            "lastTransitionTime": stamp,
            "lastUpdateTime": stamp,
        }
    ]
    if status != (dep.get("status") or {}):
        sim.store.put_status(DEPLOY, ns, name, status)
