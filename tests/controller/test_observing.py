"""The observer against the sandbox: what a Rollout owns and names, read through the real client."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.controller.observing import ClientSource, observe
from rollouts.kube import KubeClient, settings_for_url
from rollouts.kube.resources import ANALYSIS_RUNS, REPLICA_SETS, lookup
from rollouts.models import Rollout
from rollouts.sandbox.running import Sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "istio-canary"
NS = "production"


def docs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return out


@pytest.fixture
async def client() -> AsyncIterator[KubeClient]:
    async with Sandbox(pod_ready_delay=0.0) as sandbox:
        kube = KubeClient(settings_for_url(sandbox.url))
        try:
            yield kube
        finally:
            await kube.close()


def owner(rollout: dict[str, Any]) -> list[dict[str, Any]]:
    meta = rollout["metadata"]
    return [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
        }
    ]


async def test_observe_the_seed_canary(client: KubeClient) -> None:
    created = {}
    for doc in docs():
        created[doc["kind"], doc["metadata"]["name"]] = await client.create(
            lookup(doc["kind"], doc["apiVersion"]), copy.deepcopy(doc), NS
        )
    rollout = created["Rollout", "api-server"]
    template = {
        "metadata": {"labels": {"app": "api-server", "rollouts-pod-template-hash": "abc"}},
        "spec": {},
    }
    ours = {
        "metadata": {
            "name": "api-server-abc",
            "labels": {"app": "api-server", "rollouts-pod-template-hash": "abc"},
            "annotations": {"rollout.argoproj.io/revision": "2"},
            "ownerReferences": owner(rollout),
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "template": template,
        },
    }
    theirs = copy.deepcopy(ours)
    theirs["metadata"].update(name="api-server-other", ownerReferences=[])
    for rs in (ours, theirs):
        await client.create(REPLICA_SETS, rs, NS)
    run = {
        "metadata": {
            "name": "api-server-abc-2",
            "labels": {
                "app": "api-server",
                "rollout-type": "Background",
                "rollouts-pod-template-hash": "abc",
            },
            "ownerReferences": owner(rollout),
        },
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}]},
    }
    await client.create(ANALYSIS_RUNS, run, NS)

    observed = await observe(ClientSource(client), rollout, Rollout.from_wire(rollout))
    assert [rs.name for rs in observed.replica_sets] == ["api-server-abc"]
    assert observed.replica_sets[0].revision == 2
    assert [(r.name, r.rollout_type, r.phase) for r in observed.analysis_runs] == [
        ("api-server-abc-2", "Background", "Pending")
    ]
    assert sorted(observed.services) == ["api-server-canary", "api-server-stable"]
    (router,) = observed.routers.values()
    assert router["metadata"]["name"] == "api-server-vsvc"
    assert sorted(name for _, _, name in observed.templates) == ["latency", "success-rate"]
    assert observed.templates["AnalysisTemplate", NS, "latency"]["metrics"][0]["name"] == "p99-latency"


async def test_missing_references_are_absent_not_errors(client: KubeClient) -> None:
    """A missing Service or template is observed as absent: `decide` turns that into InvalidSpec."""
    rollout_doc = next(d for d in docs() if d["kind"] == "Rollout")
    rollout = await client.create(lookup("Rollout"), copy.deepcopy(rollout_doc), NS)
    observed = await observe(ClientSource(client), rollout, Rollout.from_wire(rollout))
    assert observed.services == {}
    assert observed.routers == {}
    assert observed.templates == {}
    assert observed.replica_sets == ()


async def test_templates_named_by_templates_are_observed(client: KubeClient) -> None:
    """docs/semantics/objects.md#analysis-objects `spec.templates`: a template may combine others; those are fetched too (a cycle ends)."""
    rollout_doc = next(d for d in docs() if d["kind"] == "Rollout")
    rollout_doc["spec"]["strategy"]["canary"]["analysis"]["templates"] = [{"templateName": "combined"}]
    rollout = await client.create(lookup("Rollout"), copy.deepcopy(rollout_doc), NS)
    template = lookup("AnalysisTemplate")
    cluster_template = lookup("ClusterAnalysisTemplate")
    await client.create(
        template,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "combined"},
            "spec": {
                "templates": [
                    {"templateName": "success-rate"},
                    {"templateName": "shared", "clusterScope": True},
                ]
            },
        },
        NS,
    )
    success = next(
        d for d in docs() if d["kind"] == "AnalysisTemplate" and d["metadata"]["name"] == "success-rate"
    )
    await client.create(template, copy.deepcopy(success), NS)
    await client.create(
        cluster_template,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ClusterAnalysisTemplate",
            "metadata": {"name": "shared"},
            "spec": {"templates": [{"templateName": "combined"}], "metrics": []},
        },
    )
    observed = await observe(ClientSource(client), rollout, Rollout.from_wire(rollout))
    assert sorted(observed.templates) == [
        ("AnalysisTemplate", NS, "combined"),
        ("AnalysisTemplate", NS, "success-rate"),
        ("ClusterAnalysisTemplate", "", "shared"),
    ]
