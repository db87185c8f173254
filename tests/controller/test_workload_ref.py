"""`spec.workloadRef` against the sandbox with the real reconciler (docs/semantics/controller.md#workload-ref).

The example of examples/workload-ref/ (a Deployment `web` with 4 replicas, its Service, a Rollout naming the
Deployment): the Rollout's first ReplicaSet is made from the Deployment's pod template, the Deployment's pods are
handed over as `scaleDown` says, a change of the Deployment's template is a new revision that goes through the
canary steps, the Rollout carries the Deployment's generation (annotation and status) so that Argo CD's health
check reads it as Healthy, and a reference that cannot be resolved is an InvalidSpec naming the field.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import DEPLOYMENTS, POD_TEMPLATES, REPLICA_SETS, ROLLOUTS
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL, WORKLOAD_GENERATION_ANNOTATION
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture
from tests.fixtures.argocd_health import Health, builtin_check

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload-ref" / "rollout.yaml"
KEY = (NS, "web")


def docs(scale_down: str | None = "progressively") -> list[dict[str, Any]]:
    out = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d]
    for doc in out:
        if doc["kind"] == "Rollout":
            if scale_down is None:
                doc["spec"]["workloadRef"].pop("scaleDown")
            else:
                doc["spec"]["workloadRef"]["scaleDown"] = scale_down
    return out


async def deployment_ready(sandbox: Sandbox, client: KubeClient) -> None:
    """Wait for the sandbox's Deployment controller to have the 4 pods of `web` ready."""
    for _ in range(500):
        status = (await client.get(DEPLOYMENTS, "web", NS)).get("status") or {}
        if status.get("readyReplicas") == 4:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the Deployment never became ready")


async def deploy(
    sandbox: Sandbox, client: KubeClient, objects: list[dict[str, Any]]
) -> tuple[RolloutReconciler, ManualTime, list[int], dict[str, Any]]:
    """The Deployment up, then the Rollout driven to Healthy; returns the Deployment's replicas seen after each
    pass (changes only) and the final Rollout."""
    await create_all(client, [d for d in objects if d["kind"] != "Rollout"])
    await deployment_ready(sandbox, client)
    await create_all(client, [d for d in objects if d["kind"] == "Rollout"])
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    seen: list[int] = []

    async def note() -> None:
        replicas = (await client.get(DEPLOYMENTS, "web", NS))["spec"]["replicas"]
        if not seen or seen[-1] != replicas:
            seen.append(replicas)

    rollout = await drive_rollout(reconciler, client, time.advance, KEY, healthy_on(), note)
    return reconciler, time, seen, rollout


async def test_the_first_revision_is_made_from_the_deployment_and_takes_its_pods_over_progressively(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    sandbox, client = env
    reconciler, _, seen, rollout = await deploy(sandbox, client, docs("progressively"))
    deployment = await client.get(DEPLOYMENTS, "web", NS)
    (rs,) = (await client.list(REPLICA_SETS, NS, label_selector=POD_TEMPLATE_HASH_LABEL)).items
    template = copy.deepcopy(rs["spec"]["template"])
    template["metadata"]["labels"].pop(POD_TEMPLATE_HASH_LABEL)
    assert template == deployment["spec"]["template"]  # the Deployment's template, hash label added
    assert rs["spec"]["selector"]["matchLabels"] == {
        "app": "web",
        POD_TEMPLATE_HASH_LABEL: rollout["status"]["currentPodHash"],
    }
    # The Deployment gives up its pods as the Rollout's become ready (the sandbox makes them ready together; the
    # intermediate sizes are the table of tests/strategy/test_workload.py), and has none once it is Healthy.
    for _ in range(3):
        await reconciler.reconcile(KEY)
        replicas = (await client.get(DEPLOYMENTS, "web", NS))["spec"]["replicas"]
        if seen[-1] != replicas:
            seen.append(replicas)
    assert seen[0] == 4 and seen[-1] == 0 and seen == sorted(seen, reverse=True), seen
    await reconciler.reconcile(
        KEY
    )  # the pass after the scale-down: it takes in the Deployment's new generation
    rollout = await client.get(ROLLOUTS, "web", NS)
    deployment = await client.get(DEPLOYMENTS, "web", NS)
    generation = str(deployment["metadata"]["generation"])
    assert rollout["metadata"]["annotations"][WORKLOAD_GENERATION_ANNOTATION] == generation
    assert rollout["status"]["workloadObservedGeneration"] == generation
    assert rollout["status"]["selector"] == "app=web"
    assert builtin_check("Rollout")(rollout) == Health("Healthy", "")


async def test_a_change_of_the_deployments_template_is_a_new_revision_through_the_steps(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    sandbox, client = env
    reconciler, time, _, first = await deploy(sandbox, client, docs("progressively"))
    for _ in range(2):  # the handover ends on the passes after Healthy (the Deployment to 0)
        await reconciler.reconcile(KEY)
    await client.patch(
        DEPLOYMENTS,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}},
        NS,
        patch_type="strategic",
    )
    paused = await drive_rollout(
        reconciler, client, time.advance, KEY, lambda r: (r.get("status") or {}).get("phase") == "Paused"
    )
    status = paused["status"]
    assert status["currentPodHash"] != first["status"]["currentPodHash"]
    assert status["currentStepIndex"] == 1 and status["stableRS"] == first["status"]["stableRS"]
    canary = await client.get(REPLICA_SETS, f"web-{status['currentPodHash']}", NS)
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert canary["spec"]["replicas"] == 1  # setWeight 25 of 4
    deployment = await client.get(DEPLOYMENTS, "web", NS)
    assert deployment["spec"]["replicas"] == 0  # only the first revision moves pods
    assert status["workloadObservedGeneration"] == str(deployment["metadata"]["generation"])
    assert builtin_check("Rollout")(paused).status == "Suspended"
    await client.patch_status(ROLLOUTS, "web", {"status": {"promoteFull": True}}, NS)
    done = await drive_rollout(reconciler, client, time.advance, KEY, healthy_on(status["currentPodHash"]))
    assert done["status"]["stableRS"] == status["currentPodHash"]


async def test_onsuccess_keeps_the_deployment_until_the_rollout_is_healthy(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    sandbox, client = env
    reconciler, _, seen, _ = await deploy(sandbox, client, docs("onsuccess"))
    assert seen == [4]  # untouched while revision 1 came up: scaled on the pass that reads the stored Healthy
    await reconciler.reconcile(KEY)
    assert (await client.get(DEPLOYMENTS, "web", NS))["spec"]["replicas"] == 0


@pytest.mark.parametrize("scale_down", [None, "never"])
async def test_never_leaves_the_deployment_alone(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    scale_down: str | None,
) -> None:
    sandbox, client = env
    reconciler, _, seen, _ = await deploy(sandbox, client, docs(scale_down))
    for _ in range(3):
        await reconciler.reconcile(KEY)
    assert seen == [4]
    assert (await client.get(DEPLOYMENTS, "web", NS))["spec"]["replicas"] == 4


async def test_a_pod_template_object_is_a_workload_too(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    objects = docs(None)
    deployment = next(d for d in objects if d["kind"] == "Deployment")
    rollout = next(d for d in objects if d["kind"] == "Rollout")
    rollout["spec"]["workloadRef"] = {"apiVersion": "v1", "kind": "PodTemplate", "name": "web"}
    rollout["spec"]["selector"] = {"matchLabels": {"app": "web"}}  # a PodTemplate has no selector
    pod_template = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "web"},
        "template": deployment["spec"]["template"],
    }
    await client.create(POD_TEMPLATES, pod_template, NS)
    await create_all(client, [rollout])
    time = ManualTime()
    done = await drive_rollout(RolloutReconciler(client, clock=time), client, time.advance, KEY, healthy_on())
    rs = await client.get(REPLICA_SETS, f"web-{done['status']['currentPodHash']}", NS)
    assert rs["spec"]["template"]["spec"] == deployment["spec"]["template"]["spec"]


def _condition(rollout: dict[str, Any]) -> str:
    (condition,) = [c for c in rollout["status"]["conditions"] if c["type"] == "InvalidSpec"]
    return str(condition["message"])


async def test_a_missing_deployment_is_invalid_spec_until_it_exists(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    objects = docs()
    await create_all(client, [d for d in objects if d["kind"] == "Rollout"])
    reconciler = RolloutReconciler(client, clock=ManualTime())
    await reconciler.reconcile(KEY)
    rollout = await client.get(ROLLOUTS, "web", NS)
    assert rollout["status"]["phase"] == "Degraded"
    assert _condition(rollout) == (
        'The Rollout "web" is invalid: spec.workloadRef.name: Invalid value: "web": deployments.apps "web" not found'
    )  # the field, and the API server's NotFound sentence that Argo's condition carries
    await create_all(client, [d for d in objects if d["kind"] == "Deployment"])
    await reconciler.reconcile(KEY)
    rollout = await client.get(ROLLOUTS, "web", NS)
    assert not [c for c in rollout["status"]["conditions"] if c["type"] == "InvalidSpec"]
    assert rollout["status"]["phase"] != "Degraded"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"workloadRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"}},
            'spec.workloadRef.kind: Invalid value: "StatefulSet": workload of type apps/StatefulSet is not supported',
        ),
        (
            {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment"}},
            "spec.workloadRef.name: Required value: workloadRef must name an object",
        ),
        (
            {"template": {"metadata": {"labels": {"app": "web"}}}},
            "spec.template: Invalid value: template must be empty for workload reference rollout",
        ),
    ],
    ids=["unsupported-kind", "no-name", "template-beside-it"],
)
async def test_a_reference_that_cannot_be_resolved_is_invalid_spec(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    change: dict[str, Any],
    message: str,
) -> None:
    _, client = env
    objects = docs()
    for doc in objects:
        if doc["kind"] == "Rollout":
            doc["spec"].update(change)
    await create_all(client, objects)
    await RolloutReconciler(client, clock=ManualTime()).reconcile(KEY)
    assert _condition(await client.get(ROLLOUTS, "web", NS)) == f'The Rollout "web" is invalid: {message}'
