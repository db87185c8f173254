"""What the dashboard shows, from watched caches (docs/dashboard.md).

Where it sits: between the API server and the pages. Informers (`rollouts.controller.watching`, the same the
controller uses) keep the Rollouts, their ReplicaSets and pods (those labelled `rollouts-pod-template-hash`),
AnalysisRuns and Experiments of the namespace (or of all, with `-A`) in memory, so a page is built without a
request to the API server: the list from the Rollouts alone, a rollout's page from its owned objects, found
through owner uids, and an analysis run's page from the run. The views reuse the plugin's: the list row of
`list rollouts`, the tree of `get rollout` (`build_rollout_info`), the run of `get analysisrun`
(`analysis_run_view`, with the verdict's reason), so the three faces say the same things.

Every change the watches see is handed to `Changes` subscribers (the pages' event streams), with the Rollout
it concerns when the owner chain says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from rollouts.controller.watching import Informer
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import ANALYSIS_RUNS, EXPERIMENTS, PODS, REPLICA_SETS, ROLLOUTS, Resource
from rollouts.models.steps import CanaryStep
from rollouts.models.vocabulary import CANARY_PAUSE_STEP, POD_TEMPLATE_HASH_LABEL, format_time, parse_time
from rollouts.plugin.info import actual_weight, build_rollout_info, icon_for
from rollouts.plugin.phases import age, current_step_index, rollout_phase
from rollouts.plugin.render import list_rows
from rollouts.plugin.render_analysis import analysis_run_view
from rollouts.strategy.steps import pause_ends, step_string

Obj = dict[str, Any]
Listener = Callable[[Obj], None]
KINDS: dict[str, Resource] = {
    "Rollout": ROLLOUTS,
    "ReplicaSet": REPLICA_SETS,
    "Pod": PODS,
    "AnalysisRun": ANALYSIS_RUNS,
    "Experiment": EXPERIMENTS,
}
ACTIONS = ("promote", "promote-full", "abort", "retry", "pause", "restart", "set-image")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _owners(obj: Mapping[str, Any]) -> list[str]:
    return [str(r.get("uid")) for r in _meta(obj).get("ownerReferences") or [] if isinstance(r, Mapping)]


class Cluster:
    """The watched objects of one namespace (None: all) and the views built from them."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str | None,
        *,
        watch_timeout: int = 300,
        analysis_chart: Callable[..., str] | None = None,
    ) -> None:
        self.namespace = namespace
        self.chart = analysis_chart
        common: dict[str, Any] = {"namespace": namespace, "watch_timeout": watch_timeout}
        self.informers: dict[str, Informer] = {
            "Rollout": Informer(client, ROLLOUTS, **common),
            "ReplicaSet": Informer(client, REPLICA_SETS, label_selector=POD_TEMPLATE_HASH_LABEL, **common),
            "Pod": Informer(client, PODS, label_selector=POD_TEMPLATE_HASH_LABEL, **common),
            "AnalysisRun": Informer(client, ANALYSIS_RUNS, **common),
            "Experiment": Informer(client, EXPERIMENTS, **common),
        }
        self.listeners: set[Listener] = set()
        for kind, informer in self.informers.items():
            informer.add_handler(self._handler(kind))

    def _handler(self, kind: str) -> Callable[[str, Obj, Obj | None], None]:
        def on(etype: str, obj: Obj, old: Obj | None) -> None:
            if etype == "RESYNC" or not self.listeners:
                return
            meta = _meta(obj)
            change: Obj = {
                "kind": kind,
                "namespace": meta.get("namespace") or "",
                "name": meta.get("name") or "",
            }
            rollout = self.rollout_of(obj, kind)
            if rollout:
                change["rollout"] = rollout
            for listener in list(self.listeners):
                listener(change)

        return on

    def rollout_of(self, obj: Mapping[str, Any], kind: str) -> str:
        """The name of the Rollout an object belongs to (itself, its owner, its ReplicaSet's owner), or ''."""
        if kind == "Rollout":
            return str(_meta(obj).get("name") or "")
        for ref in _meta(obj).get("ownerReferences") or []:
            if not isinstance(ref, Mapping):
                continue
            if ref.get("kind") == "Rollout":
                return str(ref.get("name") or "")
            if ref.get("kind") in ("ReplicaSet", "Experiment"):
                owner_kind = str(ref.get("kind"))
                owner = self.informers[owner_kind].store.get(
                    str(_meta(obj).get("namespace") or ""), str(ref.get("name"))
                )
                if owner is not None:
                    return self.rollout_of(owner, owner_kind)
        return ""

    async def start(self, within: float = 30.0) -> None:
        for informer in self.informers.values():
            informer.start()
        try:
            async with asyncio.timeout(within):  # not wait_for: it can lose a cancellation in Python 3.11
                for informer in self.informers.values():
                    await informer.wait_synced()
        except TimeoutError:
            logger.warning(
                "dashboard: the caches are not synced after {} s; pages show what is known", within
            )

    async def stop(self) -> None:
        for informer in self.informers.values():
            await informer.stop()

    # -------------------------------------------------------------------------------------------- views

    def namespaces(self) -> list[str]:
        return sorted({str(_meta(r).get("namespace") or "") for r in self.informers["Rollout"].store})

    def rollout(self, namespace: str, name: str) -> Obj | None:
        return self.informers["Rollout"].store.get(namespace, name)

    def run(self, namespace: str, name: str) -> Obj | None:
        return self.informers["AnalysisRun"].store.get(namespace, name)

    def list_view(self, namespace: str | None, now: datetime | None = None) -> Obj:
        """The list page: one row per Rollout (from the Rollout alone: no owned object is read)."""
        now = now or datetime.now(UTC)
        rows = [
            row_view(ro, now)
            for ro in self.informers["Rollout"].store
            if not namespace or _meta(ro).get("namespace") == namespace
        ]
        rows.sort(key=lambda r: (r["namespace"], r["name"]))
        return {"namespaces": self.namespaces(), "rollouts": rows}

    def _owned(self, kind: str, namespace: str, uids: set[str]) -> list[Obj]:
        return [
            o
            for o in self.informers[kind].store
            if _meta(o).get("namespace") == namespace and uids.intersection(_owners(o))
        ]

    def rollout_view(self, namespace: str, name: str, now: datetime | None = None) -> Obj | None:
        """The rollout page: `get rollout`'s tree, its steps, Services and weights, its runs."""
        ro = self.rollout(namespace, name)
        if ro is None:
            return None
        now = now or datetime.now(UTC)
        uid = str(_meta(ro).get("uid") or "")
        experiments = self._owned("Experiment", namespace, {uid})
        owners = {uid, *(str(_meta(e).get("uid")) for e in experiments)}
        replicasets = self._owned("ReplicaSet", namespace, owners)
        pods = self._owned("Pod", namespace, {str(_meta(rs).get("uid")) for rs in replicasets})
        runs = self._owned("AnalysisRun", namespace, owners)
        info = build_rollout_info(ro, replicasets, pods, runs, now, experiments)
        row = row_view(ro, now)
        row["actualWeight"] = (
            info.actual_weight
        )  # with the ReplicaSets: counted from the pods without a router
        rollout: Obj = {
            **row,
            "replicaSets": [_camel(dataclasses.asdict(rs)) for rs in info.replica_sets],
            "containers": [
                {"name": c.get("name"), "image": c.get("image")}
                for c in (((ro.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
                or []
                if isinstance(c, Mapping)
            ],
        }
        return {
            "rollout": rollout,
            "steps": steps_view(ro, now),
            "services": services_view(ro),
            "analysisRuns": [_camel(dataclasses.asdict(r)) for r in info.analysis_runs],
            "actions": list(ACTIONS),
        }

    def run_view(self, namespace: str, name: str) -> Obj | None:
        """The analysis run page: `get analysisrun`'s view, each metric with its chart."""
        run = self.run(namespace, name)
        if run is None:
            return None
        view = analysis_run_view(run)
        args = {
            str(a.get("name")): str(a.get("value"))
            for a in (run.get("spec") or {}).get("args") or []
            if isinstance(a, Mapping) and isinstance(a.get("value"), str)
        }
        for metric in view["metrics"]:
            metric["chart"] = self.chart(metric, args=args) if self.chart is not None else ""
        return view


def row_view(ro: Mapping[str, Any], now: datetime) -> Obj:
    """One line of the list (`list rollouts`' columns, the images, the actual weight, the age)."""
    row = list_rows(dict(ro))
    phase, message = rollout_phase(dict(ro))
    status = ro.get("status") or {}
    containers = (((ro.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    return {
        "name": row["name"],
        "namespace": row["namespace"],
        "strategy": row["strategy"] if row["strategy"] != "unknown" else "",
        "status": phase,
        "icon": icon_for(phase),
        "message": message,
        "step": row["step"] if row["step"] != "-" else "",
        "setWeight": row["setWeight"] if row["setWeight"] != "-" else "",
        "actualWeight": actual_weight(dict(ro), None),  # the ReplicaSets are not read for a list row
        "images": [str(c.get("image") or "") for c in containers or [] if isinstance(c, Mapping)],
        "desired": row["desired"],
        "current": int(status.get("replicas") or 0),
        "updated": row["upToDate"],
        "ready": int(status.get("readyReplicas") or 0),
        "available": row["available"],
        "age": age(dict(ro), now),
    }


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel_key(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def steps_view(ro: Mapping[str, Any], now: datetime) -> list[Obj]:
    """The canary steps with their state; a timed pause in progress carries when it ends."""
    canary = ((ro.get("spec") or {}).get("strategy") or {}).get("canary")
    if not isinstance(canary, Mapping):
        return []
    raw_steps = canary.get("steps") or []
    index = current_step_index(dict(ro))
    status = ro.get("status") or {}
    out: list[Obj] = []
    for i, raw in enumerate(raw_steps):
        try:
            step = CanaryStep.model_validate(raw)
            text = step_string(step)
        except Exception:  # an invalid step: the controller says why (InvalidSpec); here it is shown as is
            step, text = None, str(raw)[:80]
        if step is not None and step.analysis is not None:
            names = [t.template_name for t in step.analysis.templates or [] if t.template_name]
            text = "analysis: " + ", ".join(names) if names else text
        state = "pending" if index is None or i > index else ("current" if i == index else "done")
        ends = None
        if state == "current" and step is not None and step.pause is not None:
            for cond in status.get("pauseConditions") or []:
                started = parse_time(cond.get("startTime")) if isinstance(cond, Mapping) else None
                if started is not None and cond.get("reason") == CANARY_PAUSE_STEP:
                    expiry = pause_ends(started, step.pause)  # the controller's own rule
                    ends = format_time(expiry) if expiry is not None else None
        out.append({"index": i, "text": text, "state": state, "pauseEndsAt": ends})
    return out


def services_view(ro: Mapping[str, Any]) -> list[Obj]:
    """The Services the strategy names, with the weight the status records for each role."""
    strategy = (ro.get("spec") or {}).get("strategy") or {}
    weights = (((ro.get("status") or {}).get("canary") or {}).get("weights")) or {}
    out: list[Obj] = []
    canary = strategy.get("canary")
    if isinstance(canary, Mapping):
        for role, key in (("stable", "stableService"), ("canary", "canaryService")):
            if canary.get(key):
                weight = (weights.get(role) or {}).get("weight")
                out.append({"role": role, "name": canary[key], "weight": weight})
    blue = strategy.get("blueGreen")
    if isinstance(blue, Mapping):
        for role, key in (("active", "activeService"), ("preview", "previewService")):
            if blue.get(key):
                out.append({"role": role, "name": blue[key], "weight": None})
    return out
