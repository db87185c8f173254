"""Ephemeral metadata against the sandbox with the real reconciler (docs/semantics/controller.md#ephemeral-metadata):
the pods carry `stableMetadata` or `canaryMetadata` by role, and at promotion the canary pods are relabelled in
place (the same pods, not new ones) while a label someone else set on them is left alone."""

from __future__ import annotations

from typing import Any

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import PODS, REPLICA_SETS, ROLLOUTS
from rollouts.models.vocabulary import EPHEMERAL_METADATA_ANNOTATION, POD_TEMPLATE_HASH_LABEL
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture

KEY = (NS, "shop")


def rollout(image: str = "shop:1") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {"containers": [{"name": "shop", "image": image}]},
            },
            "strategy": {
                "canary": {
                    "canaryMetadata": {"labels": {"role": "canary"}, "annotations": {"note": "new"}},
                    "stableMetadata": {"labels": {"role": "stable"}},
                    "steps": [{"setWeight": 50}, {"pause": {}}],
                }
            },
        },
    }


async def pods_by_hash(client: KubeClient) -> dict[str, dict[str, dict[str, Any]]]:
    """pod-template hash → pod name → metadata (labels, annotations) of the live pods."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for pod in (await client.list(PODS, NS, label_selector=POD_TEMPLATE_HASH_LABEL)).items:
        if (pod["metadata"].get("deletionTimestamp")) is None:
            meta = pod["metadata"]
            out.setdefault(meta["labels"][POD_TEMPLATE_HASH_LABEL], {})[meta["name"]] = meta
    return out


def roles(pods: dict[str, dict[str, Any]]) -> set[str | None]:
    return {meta["labels"].get("role") for meta in pods.values()}


async def test_pods_carry_their_roles_metadata_and_are_relabelled_in_place_at_promotion(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    await create_all(client, [rollout()])
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    first = await drive_rollout(reconciler, client, time.advance, KEY, healthy_on())
    stable = first["status"]["stableRS"]
    assert roles((await pods_by_hash(client))[stable]) == {"stable"}

    await client.patch(
        ROLLOUTS,
        "shop",
        {"spec": {"template": {"spec": {"containers": [{"name": "shop", "image": "shop:2"}]}}}},
        NS,
    )
    paused = await drive_rollout(
        reconciler,
        client,
        time.advance,
        KEY,
        lambda r: (
            (r.get("status") or {}).get("phase") == "Paused"
            and len((r.get("status") or {}).get("pauseConditions") or []) > 0
        ),
    )
    canary = paused["status"]["currentPodHash"]
    for _ in range(3):  # the canary pods come up and are synced
        await reconciler.reconcile(KEY)
    pods = await pods_by_hash(client)
    assert roles(pods[canary]) == {"canary"} and roles(pods[stable]) == {"stable"}
    assert {meta["annotations"].get("note") for meta in pods[canary].values()} == {"new"}
    canary_pods = set(pods[canary])
    # someone else's label on a canary pod stays
    some_pod = sorted(canary_pods)[0]
    await client.patch(PODS, some_pod, {"metadata": {"labels": {"team": "payments"}}}, NS)

    await client.patch_status(ROLLOUTS, "shop", {"status": {"promoteFull": True}}, NS)
    await drive_rollout(reconciler, client, time.advance, KEY, healthy_on(canary))
    for _ in range(3):
        await reconciler.reconcile(KEY)
    pods = await pods_by_hash(client)
    assert canary_pods <= set(pods[canary])  # the same pods: relabelled, not replaced
    for name in canary_pods:
        labels, annotations = pods[canary][name]["labels"], pods[canary][name].get("annotations") or {}
        assert labels["role"] == "stable" and "note" not in annotations
    assert pods[canary][some_pod]["labels"]["team"] == "payments"
    rs = await client.get(REPLICA_SETS, f"shop-{canary}", NS)
    assert rs["spec"]["template"]["metadata"]["labels"]["role"] == "stable"
    assert rs["metadata"]["annotations"][EPHEMERAL_METADATA_ANNOTATION] == '{"labels":{"role":"stable"}}'
    old = await client.get(REPLICA_SETS, f"shop-{stable}", NS)
    assert "role" not in old["spec"]["template"]["metadata"]["labels"]
    assert EPHEMERAL_METADATA_ANNOTATION not in (old["metadata"].get("annotations") or {})
