"""The canary `experiment` step against the sandbox, with the real Rollout and Experiment reconcilers taking turns
(docs/semantics/experiments.md#experiment-step): the Experiment is made from the stable and canary ReplicaSets,
named and labelled as Argo names it, recorded in `status.canary.currentExperiment`, and the step completes when it
succeeds; a failed one aborts the rollout with Argo's message and terminates nothing that is finished; weights in
the templates reach the Istio VirtualService while the Experiment runs."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

from rollouts.controller.experimenting import ExperimentReconciler
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    EXPERIMENTS,
    REPLICA_SETS,
    ROLLOUTS,
    VIRTUAL_SERVICES,
)
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL
from rollouts.plugin.fetching import read_tree
from rollouts.plugin.info import build_rollout_info
from rollouts.plugin.render import render_rollout
from rollouts.sandbox.running import Sandbox
from tests.controller.test_experiments import ANALYSIS_TEMPLATE
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, seed_canary  # noqa: F401 - env is a fixture

EXPERIMENT_STEP = {
    "experiment": {
        "duration": "1m",
        "templates": [
            {"name": "baseline", "specRef": "stable", "replicas": 1},
            {"name": "canary", "specRef": "canary", "replicas": 1},
        ],
    }
}


def rollout(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {"containers": [{"name": "shop", "image": "shop:1"}]},
            },
            "strategy": {"canary": {"steps": list(steps)}},
        },
    }


class Driver:
    """The Rollout and its Experiments reconciled in turns on one injected clock."""

    def __init__(self, client: KubeClient, name: str) -> None:
        self.client, self.name = client, name
        self.time = ManualTime()
        self.rollouts = RolloutReconciler(client, clock=self.time)
        self.experiments = ExperimentReconciler(client, clock=self.time)

    async def until(self, cond: Any, limit: int = 300) -> dict[str, Any]:
        ro: dict[str, Any] = {}
        for _ in range(limit):
            waits = [await self.rollouts.reconcile((NS, self.name))]
            for ex in (await self.client.list(EXPERIMENTS, NS)).items:
                waits.append(await self.experiments.reconcile((NS, ex["metadata"]["name"])))
            ro = await self.client.get(ROLLOUTS, self.name, NS)
            if cond(ro):
                return ro
            later = [w for w in waits if w is not None and w > 0.5]
            if later and all(w is None or w > 0.5 for w in waits):
                self.time.advance(min(later) + 0.001)
            else:
                self.time.advance(0.001)
                await asyncio.sleep(0.01)
        raise AssertionError(f"not reached: {ro.get('status')}")


def status_of(ro: dict[str, Any]) -> dict[str, Any]:
    return ro.get("status") or {}


def healthy(ro: dict[str, Any]) -> bool:
    s = status_of(ro)
    return s.get("phase") == "Healthy" and s.get("stableRS") == s.get("currentPodHash")


async def update(client: KubeClient, name: str, image: str = "shop:2") -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "shop", "image": image}]}}}}
    await client.patch(ROLLOUTS, name, body, NS)


async def test_an_experiment_step_runs_the_stable_and_canary_side_by_side_and_completes(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    await create_all(client, [rollout({"setWeight": 25}, EXPERIMENT_STEP, {"pause": {}})])
    drive = Driver(client, "shop")
    first = await drive.until(healthy)
    stable = status_of(first)["stableRS"]
    await update(client, "shop")
    running = await drive.until(lambda ro: bool((status_of(ro).get("canary") or {}).get("currentExperiment")))
    canary = status_of(running)["currentPodHash"]
    name = status_of(running)["canary"]["currentExperiment"]
    assert name == f"shop-{canary}-2-1"  # <rollout>-<pod hash>-<revision>-<step index>
    ex = await client.get(EXPERIMENTS, name, NS)
    (owner,) = ex["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Rollout", "shop", True)
    assert ex["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] == canary
    assert ex["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "2"
    templates = {t["name"]: t for t in ex["spec"]["templates"]}
    assert templates["baseline"]["template"]["spec"]["containers"][0]["image"] == "shop:1"
    assert templates["canary"]["template"]["spec"]["containers"][0]["image"] == "shop:2"
    assert templates["baseline"]["selector"]["matchLabels"] == {
        "app": "shop",
        POD_TEMPLATE_HASH_LABEL: stable,
    }
    paused = await drive.until(lambda ro: status_of(ro).get("currentStepIndex") == 2)
    assert "currentExperiment" not in (status_of(paused).get("canary") or {})
    assert (await client.get(EXPERIMENTS, name, NS))["status"]["phase"] == "Successful"
    rs = await client.get(REPLICA_SETS, f"{name}-canary", NS)
    assert (
        rs["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] == canary
    )  # the same template, the same hash (Argo's)


async def test_a_failed_experiment_aborts_the_rollout_with_argos_message(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    await client.create(ANALYSIS_TEMPLATES, copy.deepcopy(ANALYSIS_TEMPLATE), NS)
    step = copy.deepcopy(EXPERIMENT_STEP)
    step["experiment"]["duration"] = "10m"
    step["experiment"]["analyses"] = [
        {
            "name": "compare",
            "templateName": "compare-hashes",
            "args": [
                {"name": "baseline-hash", "value": "{{templates.baseline.podTemplateHash}}"},
                {"name": "canary-hash", "value": "{{templates.canary.podTemplateHash}}"},
            ],
        }
    ]
    await create_all(client, [rollout({"setWeight": 25}, step, {"pause": {}})])
    drive = Driver(client, "shop")
    await drive.until(healthy)
    await update(client, "shop")
    running = await drive.until(lambda ro: bool((status_of(ro).get("canary") or {}).get("currentExperiment")))
    name = status_of(running)["canary"]["currentExperiment"]
    run_name = f"{name}-compare"
    for _ in range(100):
        if [r for r in (await client.list(ANALYSIS_RUNS, NS)).items if r["metadata"]["name"] == run_name]:
            break
        await drive.until(lambda ro: True, limit=1)
    await client.patch(
        ANALYSIS_RUNS, run_name, {"status": {"phase": "Failed", "message": "canary is worse"}}, NS
    )
    aborted = await drive.until(lambda ro: status_of(ro).get("phase") == "Degraded")
    assert status_of(aborted)["message"] == (
        "RolloutAborted: Rollout aborted update to revision 2: Experiment analysis phase is error/failed: "
        "canary is worse"
    )  # the Experiment's message is its failed run's (experiment.go), and the Rollout's abort carries it
    assert (await client.get(EXPERIMENTS, name, NS))["status"]["phase"] == "Failed"


async def test_experiment_weights_reach_the_virtual_service_while_it_runs(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    docs = seed_canary()
    for doc in docs:
        if doc["kind"] == "Rollout":
            canary = doc["spec"]["strategy"]["canary"]
            canary.pop("analysis", None)
            step = copy.deepcopy(EXPERIMENT_STEP)
            for t in step["experiment"]["templates"]:
                t["weight"] = 10
            canary["steps"] = [{"setWeight": 20}, step, {"pause": {}}]
    await create_all(client, docs)
    drive = Driver(client, "api-server")
    await drive.until(healthy)
    body = {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}}
    await client.patch(ROLLOUTS, "api-server", body, NS)

    def weighted(ro: dict[str, Any]) -> bool:
        return bool(((status_of(ro).get("canary") or {}).get("weights") or {}).get("additional"))

    ro = await drive.until(weighted)
    weights = status_of(ro)["canary"]["weights"]
    assert weights["canary"]["weight"] == 20 and weights["stable"]["weight"] == 60
    assert sorted(d["weight"] for d in weights["additional"]) == [10, 10]
    vs = await client.get(VIRTUAL_SERVICES, "api-server-vsvc", NS)
    hosts = {d["destination"]["host"]: d.get("weight") for d in vs["spec"]["http"][0]["route"]}
    services = {d["serviceName"] for d in weights["additional"]}
    assert {hosts[s] for s in services} == {10} and hosts["api-server-stable"] == 60
    done = await drive.until(lambda r: status_of(r).get("currentStepIndex") == 2)
    assert "additional" not in status_of(done)["canary"]["weights"]


async def test_get_rollout_draws_the_experiment_under_its_revision(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    """`kubectl rollouts get rollout`: the Experiment, its ReplicaSets and pods, under the revision it belongs to
    (Argo's rollout info `getExperimentInfo`)."""
    _, client = env
    await create_all(client, [rollout({"setWeight": 25}, EXPERIMENT_STEP, {"pause": {}})])
    drive = Driver(client, "shop")
    await drive.until(healthy)
    await update(client, "shop")
    running = await drive.until(lambda ro: bool((status_of(ro).get("canary") or {}).get("currentExperiment")))
    name = status_of(running)["canary"]["currentExperiment"]
    await drive.until(lambda ro: True, limit=3)  # its pods come up
    tree = await read_tree(client, NS, "shop")
    ro, rss, pods, runs, experiments = tree.lists()
    text = render_rollout(build_rollout_info(ro, rss, pods, runs, datetime.now(UTC), experiments)).plain
    lines = [line.split() for line in text.splitlines()]
    revision_2 = next(i for i, parts in enumerate(lines) if "revision:2" in " ".join(parts))
    revision_1 = next(i for i, parts in enumerate(lines) if "revision:1" in " ".join(parts))
    experiment_line = next(i for i, parts in enumerate(lines) if name in parts and "Experiment" in parts)
    assert revision_2 < experiment_line < revision_1
    below = [" ".join(parts) for parts in lines[experiment_line + 1 : revision_1]]
    assert any(f"{name}-baseline" in line and "ReplicaSet" in line for line in below)
    assert any(f"{name}-canary" in line and "ReplicaSet" in line for line in below)
    assert any("Pod" in line for line in below)
