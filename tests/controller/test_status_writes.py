"""Status written the way the installed CRD takes it (rollouts.kube.discovering), on the sandbox through the real
client: under Argo's CRDs (AnalysisRun without a status subresource), under ours, and with CRDs replaced while
the client runs. Also the refused-write record and its metric/log line (never a silent retry loop)."""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from loguru import logger
from prometheus_client import CollectorRegistry

from rollouts.controller.metrics import ControllerMetrics
from rollouts.kube import errors
from rollouts.kube.client import KubeClient, RequestRecord, expecting
from rollouts.kube.discovering import Discovery, status_kept, status_only
from rollouts.kube.resources import ANALYSIS_RUNS, ROLLOUTS
from rollouts.sandbox import Sandbox
from rollouts.sandbox.crds import traffic_crds
from tests.controller.test_kube_client import rollout

NS = "default"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def analysis_run(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}]},
    }


def install(sb: Sandbox, crds: list[dict[str, Any]]) -> None:
    for crd in crds:
        sb.create(copy.deepcopy(crd))


def replace_crd(sb: Sandbox, crd: dict[str, Any]) -> None:
    """PUT a CRD as `kubectl replace` would: the objects of the kind stay, the served shape changes."""
    current = sb.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"], "")
    assert current is not None
    body = {**copy.deepcopy(crd), "metadata": {**crd["metadata"], **_rv(current)}}
    rt = sb.store.registry.by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    sb.call(sb.store.replace, rt, "", crd["metadata"]["name"], body)


def _rv(obj: dict[str, Any]) -> dict[str, Any]:
    return {"resourceVersion": obj["metadata"]["resourceVersion"]}


def with_status_subresource(crd: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(crd)
    out["spec"]["versions"][0]["subresources"] = {"status": {}}
    return out


async def kube_patch(sb: Sandbox, path: str, body: dict[str, Any]) -> None:
    """A merge patch over HTTP, as another controller (Argo's) sends it."""
    import asyncio

    def send() -> None:
        request = urllib.request.Request(
            sb.url + path,
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    await asyncio.to_thread(send)


def status_writes(sb: Sandbox, name: str) -> list[tuple[str, str, int]]:
    return [
        (r.verb, r.subresource, r.status)
        for r in sb.requests.records(resource="analysisruns", name=name, writes=True)
        if r.verb == "patch"
    ]


@pytest.fixture
def records(kube: KubeClient) -> list[RequestRecord]:
    seen: list[RequestRecord] = []
    kube.add_hook(seen.append)
    return seen


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip()), level="WARNING", format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)


@pytest.mark.sandbox(install_crds=False)
async def test_under_argos_crds_status_goes_with_the_object_and_only_status(
    async_sandbox: Sandbox, kube: KubeClient, argo_crds: dict[str, Any], records: list[RequestRecord]
) -> None:
    """Argo's AnalysisRun CRD has no status subresource: discovery says so, the status is written with the
    object (no 404 first), and nothing but status changes even when the patch carried more."""
    install(async_sandbox, [*traffic_crds(), *argo_crds.values()])
    await kube.create(ANALYSIS_RUNS, analysis_run("ar"), NS)
    patch = {"status": {"phase": "Running", "message": "m"}, "spec": {"terminate": True}}
    answer = await kube.patch_status(ANALYSIS_RUNS, "ar", patch, NS)
    assert answer["status"] == {"phase": "Running", "message": "m"}
    assert "terminate" not in answer["spec"]
    stored = await kube.get(ANALYSIS_RUNS, "ar", NS)
    assert stored["status"]["phase"] == "Running"
    assert status_writes(async_sandbox, "ar") == [("patch", "", 200)]
    assert not [r for r in records if r.refused]
    # The Rollout CRD of Argo has one: its status still goes to the subresource.
    await kube.create(ROLLOUTS, rollout("ro"))
    await kube.patch_status(ROLLOUTS, "ro", {"status": {"phase": "Paused"}}, NS)
    assert [r.subresource for r in async_sandbox.requests.records(resource="rollouts", verb="patch")] == [
        "status"
    ]
    assert kube.discovery.fetches == 1  # one resource list for argoproj.io/v1alpha1, then the cache


async def test_under_our_crds_analysis_run_has_no_status_subresource(
    async_sandbox: Sandbox, kube: KubeClient
) -> None:
    await kube.create(ANALYSIS_RUNS, analysis_run("ar"), NS)
    assert not await kube.discovery.has_status(ANALYSIS_RUNS)
    assert await kube.discovery.has_status(ROLLOUTS)
    await kube.patch_status(ANALYSIS_RUNS, "ar", {"status": {"phase": "Successful"}}, NS)
    assert (await kube.get(ANALYSIS_RUNS, "ar", NS))["status"] == {"phase": "Successful"}
    assert status_writes(async_sandbox, "ar") == [("patch", "", 200)]


async def test_crds_replaced_while_running_are_detected_both_ways(
    async_sandbox: Sandbox,
    kube: KubeClient,
    records: list[RequestRecord],
    argo_crds: dict[str, Any],
) -> None:
    """A CRD that gains a status subresource (the main-resource write comes back without the status) and one
    that loses it (404 on /status) are both re-detected; every write lands, none is silently lost."""
    kube.discovery.min_interval = 0.0
    argo_ar = argo_crds["AnalysisRun"]
    replace_crd(async_sandbox, with_status_subresource(argo_ar))
    await kube.create(ANALYSIS_RUNS, analysis_run("ar"), NS)
    await kube.patch_status(ANALYSIS_RUNS, "ar", {"status": {"phase": "Running"}}, NS)
    assert status_writes(async_sandbox, "ar") == [("patch", "status", 200)]

    replace_crd(async_sandbox, argo_ar)  # loses the subresource: /status answers 404
    answer = await kube.patch_status(ANALYSIS_RUNS, "ar", {"status": {"message": "a"}}, NS)
    assert answer["status"] == {"phase": "Running", "message": "a"}
    assert status_writes(async_sandbox, "ar")[1:] == [("patch", "status", 404), ("patch", "", 200)]
    refused = [r for r in records if r.refused]
    assert [(r.kind, r.verb, r.subresource, r.status_code) for r in refused] == [
        ("AnalysisRun", "Patch", "status", 404)
    ]

    replace_crd(async_sandbox, with_status_subresource(argo_ar))  # gains it: the object write keeps no status
    answer = await kube.patch_status(ANALYSIS_RUNS, "ar", {"status": {"message": "b"}}, NS)
    assert answer["status"] == {"phase": "Running", "message": "b"}
    assert status_writes(async_sandbox, "ar")[3:] == [("patch", "", 200), ("patch", "status", 200)]
    assert (await kube.get(ANALYSIS_RUNS, "ar", NS))["status"]["message"] == "b"


async def test_a_deleted_object_is_still_not_found(kube: KubeClient, async_sandbox: Sandbox) -> None:
    await kube.create(ROLLOUTS, rollout("gone"))
    await kube.delete(ROLLOUTS, "gone", NS)
    with pytest.raises(errors.NotFound):
        await kube.patch_status(ROLLOUTS, "gone", {"status": {"phase": "Paused"}}, NS)
    with pytest.raises(errors.NotFound):
        await kube.patch_status(ANALYSIS_RUNS, "gone", {"status": {"phase": "Error"}}, NS)


async def test_replace_status_without_subresource_is_guarded(kube: KubeClient) -> None:
    created = await kube.create(ANALYSIS_RUNS, analysis_run("ar"), NS)
    body = {**created, "status": {"phase": "Running"}, "spec": {"metrics": []}}
    replaced = await kube.replace_status(ANALYSIS_RUNS, body, NS)
    assert replaced["status"] == {"phase": "Running"}
    assert replaced["spec"]["metrics"] == created["spec"]["metrics"]  # only the status was replaced
    with pytest.raises(errors.Conflict):
        await kube.replace_status(ANALYSIS_RUNS, {**created, "status": {"phase": "Error"}}, NS)


async def test_refused_writes_are_counted_and_logged_once_each(kube: KubeClient, warnings: list[str]) -> None:
    """Every refused write: one WARNING line naming the object, the verb, the code and the server's message,
    and `controller_write_refused_total{kind,verb,code}`; a refusal the caller declared expected is neither."""
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    kube.add_hook(metrics.on_request)
    await kube.create(ROLLOUTS, rollout("a"))
    with pytest.raises(errors.AlreadyExists):
        await kube.create(ROLLOUTS, rollout("a"))
    with expecting(409), pytest.raises(errors.AlreadyExists):
        await kube.create(ROLLOUTS, rollout("a"))
    with expecting(404), pytest.raises(errors.NotFound):
        await kube.delete(ROLLOUTS, "nope", NS)
    with pytest.raises(errors.NotFound):
        await kube.patch(ROLLOUTS, "nope", {"spec": {"paused": True}}, NS)

    def count(verb: str, code: str) -> float | None:
        return registry.get_sample_value(
            "controller_write_refused_total", {"kind": "Rollout", "verb": verb, "code": code}
        )

    assert (count("Create", "409"), count("Patch", "404"), count("Delete", "404")) == (1.0, 1.0, None)
    assert len(warnings) == 2
    assert warnings[0].startswith("API server refused Create of Rollout default/a: 409 AlreadyExists")
    assert warnings[1].startswith("API server refused Patch of Rollout default/nope: 404 NotFound")
    assert '"nope" not found' in warnings[1]


async def test_discovery_unreadable_assumes_the_subresource(warnings: list[str]) -> None:
    """A resource list that cannot be read (RBAC, outage): the status subresource is assumed (built-in kinds all
    have one), it is said once, and the list is asked again only after `min_interval`."""
    calls: list[tuple[str, str]] = []
    now = [0.0]

    async def fetch(group: str, version: str) -> dict[str, Any]:
        calls.append((group, version))
        raise errors.Forbidden("get /apis/argoproj.io/v1alpha1: forbidden", status=403)

    discovery = Discovery(fetch, min_interval=5.0, clock=lambda: now[0])
    assert await discovery.has_status(ANALYSIS_RUNS)
    assert await discovery.has_status(ROLLOUTS)
    assert await discovery.refresh(ANALYSIS_RUNS)
    assert len(calls) == 1
    now[0] = 6.0
    assert await discovery.refresh(ANALYSIS_RUNS)
    assert len(calls) == 2
    assert "cannot read the API server's resource list for argoproj.io/v1alpha1" in warnings[0]


@pytest.mark.parametrize(
    ("patch", "patch_type", "expected"),
    [
        pytest.param({"status": {"a": 1}, "metadata": {"labels": {"x": "y"}}}, "merge", {"status": {"a": 1}}),
        pytest.param({"spec": {"x": 1}}, "merge", {}, id="nothing-of-status"),
        pytest.param(
            [{"op": "add", "path": "/status", "value": {}}, {"op": "remove", "path": "/spec/x"}],
            "json",
            [{"op": "add", "path": "/status", "value": {}}],
            id="json",
        ),
        pytest.param(
            [{"op": "add", "path": "/statusx", "value": 1}], "json", [], id="json-prefix-is-not-status"
        ),
    ],
)
def test_status_only(patch: Any, patch_type: str, expected: Any) -> None:
    assert status_only(patch, patch_type) == expected


@pytest.mark.parametrize(
    ("sent", "answer", "lost"),
    [
        pytest.param({"phase": "Running"}, {"phase": "Running", "x": 1}, [], id="kept"),
        pytest.param({"phase": None}, {"x": 1}, [], id="removed"),
        pytest.param({"phase": None}, {"phase": "Running"}, ["phase"], id="not-removed"),
        pytest.param({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, ["a.c"], id="nested-field-pruned"),
        pytest.param({"a": {"b": 1}}, {}, ["a"], id="object-missing"),
        pytest.param({"a": [1, 2]}, {"a": [1]}, ["a"], id="lists-whole"),
    ],
)
def test_status_kept(sent: dict[str, Any], answer: dict[str, Any], lost: list[str]) -> None:
    assert status_kept(sent, answer) == lost


async def test_status_argo_wrote_with_the_object_is_kept_under_our_crds(
    kube: KubeClient, async_sandbox: Sandbox
) -> None:
    """Argo's controller writes AnalysisRun status as a merge patch of the object (analysis/sync.go,
    `persistAnalysisRunStatus`): under our CRDs (no status subresource, as Argo's) that status is kept whole,
    and a Rollout status Argo wrote through its subresource is kept whole too."""
    from tests.fixtures.argo_sources import ARGO_WRITTEN_ANALYSIS_RUN, ARGO_WRITTEN_ROLLOUT, argo_file

    for source, resource in ((ARGO_WRITTEN_ANALYSIS_RUN, ANALYSIS_RUNS), (ARGO_WRITTEN_ROLLOUT, ROLLOUTS)):
        written = yaml.safe_load(argo_file(source))
        meta = {
            k: v
            for k, v in written["metadata"].items()
            if k in ("name", "namespace", "labels", "annotations")
        }
        await kube.create(
            resource,
            {
                "apiVersion": written["apiVersion"],
                "kind": written["kind"],
                "metadata": meta,
                "spec": written["spec"],
            },
        )
        path = resource.path(meta["namespace"], meta["name"])
        if resource is ROLLOUTS:
            path += "/status"
        await kube_patch(async_sandbox, path, {"status": written["status"]})
        stored = await kube.get(resource, meta["name"], meta["namespace"])
        assert stored["status"] == written["status"]
        assert stored["spec"] == written["spec"]
