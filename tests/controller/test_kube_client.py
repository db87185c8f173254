"""The Kubernetes adapter (rollouts.kube) through the real `kubernetes.aio` client against the sandbox server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rollouts.kube import errors
from rollouts.kube.client import KubeClient, RequestRecord, RetryPolicy
from rollouts.kube.config import load_settings, settings_for_url
from rollouts.kube.resources import (
    CONFIG_MAPS,
    LEASES,
    REPLICA_SETS,
    ROLLOUTS,
    VIRTUAL_SERVICES,
    lookup,
)
from rollouts.kube.throttling import TokenBucket
from rollouts.sandbox import Sandbox


def rollout(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}]}},
        },
    }


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"}, "data": data}


async def test_crud_roundtrip(kube: KubeClient) -> None:
    created = await kube.create(ROLLOUTS, rollout("api", app="api"))
    assert created["metadata"]["resourceVersion"]
    assert created["kind"] == "Rollout"
    got = await kube.get(ROLLOUTS, "api", "default")
    assert got["spec"]["strategy"]["canary"]["steps"] == [{"setWeight": 20}]
    got["spec"]["replicas"] = 3
    replaced = await kube.replace(ROLLOUTS, got)
    assert replaced["spec"]["replicas"] == 3
    patched = await kube.patch(ROLLOUTS, "api", {"spec": {"paused": True}}, "default")
    assert patched["spec"]["paused"] is True
    status = await kube.patch_status(ROLLOUTS, "api", {"status": {"phase": "Paused"}}, "default")
    assert status["status"]["phase"] == "Paused"
    await kube.delete(ROLLOUTS, "api", "default")
    with pytest.raises(errors.NotFound) as e:
        await kube.get(ROLLOUTS, "api", "default")
    assert "rollouts default/api" in str(e.value)


async def test_list_with_label_selector_returns_list_resource_version(kube: KubeClient) -> None:
    await kube.create(ROLLOUTS, rollout("a", team="x"))
    await kube.create(ROLLOUTS, rollout("b", team="y"))
    answer = await kube.list(ROLLOUTS, "default", label_selector="team=x")
    assert [o["metadata"]["name"] for o in answer] == ["a"]
    assert answer.resource_version.isdigit()
    everything = await kube.list(ROLLOUTS)  # all namespaces
    assert {o["metadata"]["name"] for o in everything} == {"a", "b"}


async def test_stale_replace_is_conflict_and_duplicate_create_already_exists(kube: KubeClient) -> None:
    first = await kube.create(CONFIG_MAPS, cm("c", a="1"))
    await kube.patch(CONFIG_MAPS, "c", {"data": {"a": "2"}}, "default")
    first["data"] = {"a": "3"}
    with pytest.raises(errors.Conflict):
        await kube.replace(CONFIG_MAPS, first)  # carries the old resourceVersion
    with pytest.raises(errors.AlreadyExists):
        await kube.create(CONFIG_MAPS, cm("c"))


@pytest.mark.parametrize("patch_type", ["merge", "strategic", "json"])
async def test_patch_with_resource_version_precondition(kube: KubeClient, patch_type: Any) -> None:
    obj = await kube.create(CONFIG_MAPS, cm("p", a="1"))
    rv = obj["metadata"]["resourceVersion"]
    body: Any = (
        [{"op": "replace", "path": "/data/a", "value": "2"}] if patch_type == "json" else {"data": {"a": "2"}}
    )
    done = await kube.patch(CONFIG_MAPS, "p", body, "default", patch_type=patch_type, resource_version=rv)
    assert done["data"]["a"] == "2"
    with pytest.raises((errors.Conflict, errors.Invalid)):  # stale rv: 409 (merge) or a failed test op (json)
        await kube.patch(CONFIG_MAPS, "p", body, "default", patch_type=patch_type, resource_version=rv)


async def test_invalid_patch_is_invalid(kube: KubeClient) -> None:
    await kube.create(CONFIG_MAPS, cm("j"))
    with pytest.raises(errors.KubeError) as e:
        await kube.patch(
            CONFIG_MAPS, "j", [{"op": "remove", "path": "/data/nope"}], "default", patch_type="json"
        )
    assert e.value.status in (422, 400, 409)


async def test_watch_streams_and_resumes_from_a_resource_version(kube: KubeClient) -> None:
    listed = await kube.list(CONFIG_MAPS, "default")
    await kube.create(CONFIG_MAPS, cm("w1"))
    await kube.create(CONFIG_MAPS, cm("w2"))
    events: list[tuple[str, str]] = []
    last_rv = ""
    async for etype, obj in kube.watch(
        CONFIG_MAPS,
        "default",
        resource_version=listed.resource_version,
        timeout_seconds=1,
        allow_bookmarks=False,
    ):
        events.append((etype, obj["metadata"]["name"]))
        last_rv = obj["metadata"]["resourceVersion"]
        if len(events) == 1:
            break
    assert events == [("ADDED", "w1")]
    # resume after w1: w2 (already happened) and a later delete arrive, nothing twice
    await kube.delete(CONFIG_MAPS, "w1", "default")
    resumed: list[tuple[str, str]] = []
    async for etype, obj in kube.watch(
        CONFIG_MAPS, "default", resource_version=last_rv, timeout_seconds=1, allow_bookmarks=False
    ):
        resumed.append((etype, obj["metadata"]["name"]))
        if len(resumed) == 2:
            break
    assert resumed == [("ADDED", "w2"), ("DELETED", "w1")]


async def test_watch_ends_after_timeout_seconds(kube: KubeClient) -> None:
    listed = await kube.list(CONFIG_MAPS, "default")
    seen = [
        e
        async for e in kube.watch(
            CONFIG_MAPS,
            "default",
            resource_version=listed.resource_version,
            timeout_seconds=1,
            allow_bookmarks=False,
        )
    ]
    assert seen == []


@pytest.mark.sandbox(history=5)
async def test_watch_from_a_compacted_resource_version_raises_gone(kube: KubeClient) -> None:
    first = await kube.create(CONFIG_MAPS, cm("g0"))
    for i in range(12):
        await kube.patch(CONFIG_MAPS, "g0", {"data": {"i": str(i)}}, "default")
    with pytest.raises(errors.Gone):
        async for _ in kube.watch(
            CONFIG_MAPS, "default", resource_version=first["metadata"]["resourceVersion"], timeout_seconds=2
        ):
            pass


async def test_errors_and_throttling_are_retried_and_counted(async_sandbox: Sandbox) -> None:
    records: list[RequestRecord] = []
    client = KubeClient(
        settings_for_url(async_sandbox.url), qps=0, retry=RetryPolicy(attempts=50, base=0.001, cap=0.002)
    )
    client.add_hook(records.append)
    try:
        await client.create(CONFIG_MAPS, cm("r"))
        async_sandbox.faults.update(error_rate=0.5, throttle_rate=0.0, seed=7, verbs=["get"])
        for _ in range(10):
            assert (await client.get(CONFIG_MAPS, "r", "default"))["metadata"]["name"] == "r"
        codes = {r.status_code for r in records if r.verb == "Get"}
        assert codes == {200, 500}
        assert client.stats.retries == sum(1 for r in records if r.verb == "Get" and r.status_code == 500)
        async_sandbox.faults.update(error_rate=0.0, throttle_rate=0.5, retry_after=0, seed=3, verbs=["get"])
        for _ in range(5):
            await client.get(CONFIG_MAPS, "r", "default")
        assert any(r.status_code == 429 for r in records)
        assert records[0] == RequestRecord("ConfigMap", "default", "r", "Create", 201)
    finally:
        await client.close()


async def test_server_errors_on_create_are_not_retried(async_sandbox: Sandbox) -> None:
    client = KubeClient(settings_for_url(async_sandbox.url), qps=0, retry=RetryPolicy(attempts=5, base=0.001))
    async_sandbox.faults.update(error_rate=1.0, verbs=["create"])
    try:
        with pytest.raises(errors.ServerError):
            await client.create(CONFIG_MAPS, cm("never"))
        assert client.stats.retries == 0
    finally:
        await client.close()


async def test_rate_limiter_paces_requests(async_sandbox: Sandbox) -> None:
    """20 concurrent requests through a bucket of 5 at 50 qps: all served and counted, 15 of them paced."""
    client = KubeClient(settings_for_url(async_sandbox.url), qps=50, burst=5)
    try:
        await asyncio.gather(*(client.list(LEASES, "default") for _ in range(20)))
        assert client.stats.by_verb["List"] == 20
        assert 0 < client.limiter.waited_seconds <= 15 / 50 + 1e-9
    finally:
        await client.close()


class SteppingClock:
    """time.monotonic stand-in whose sleep advances it exactly (no real waiting)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


@pytest.mark.parametrize(
    ("qps", "burst", "requests", "idle", "sleeps"),
    [
        pytest.param(10, 3, 5, 0.0, [0.1, 0.1], id="burst-then-paced"),
        pytest.param(10, 3, 3, 0.0, [], id="within-burst"),
        pytest.param(10, 3, 7, 0.25, [0.05, 0.1], id="refill-after-idle"),
        pytest.param(0, 1, 50, 0.0, [], id="qps-0-unlimited"),
    ],
)
async def test_token_bucket(qps: float, burst: int, requests: int, idle: float, sleeps: list[float]) -> None:
    clock = SteppingClock()
    bucket = TokenBucket(qps, burst, clock=clock, sleep=clock.sleep)
    for i in range(requests):
        if i == burst:
            clock.now += idle
        await bucket.acquire()
    assert clock.sleeps == pytest.approx(sleeps)


async def test_unreachable_server_names_it() -> None:
    client = KubeClient(settings_for_url("http://127.0.0.1:9"), retry=RetryPolicy(attempts=1, base=0.001))
    try:
        with pytest.raises(errors.Unreachable) as e:
            await client.get(REPLICA_SETS, "x", "default")
        assert "http://127.0.0.1:9" in str(e.value)
        assert client.stats.retries == 1
    finally:
        await client.close()


async def test_kubeconfig_with_context_and_namespace(async_sandbox: Sandbox, tmp_path: Path) -> None:
    path = async_sandbox.write_kubeconfig(tmp_path / "kc")
    settings = await load_settings(str(path))
    assert settings.host == async_sandbox.url
    async with KubeClient(settings) as client:
        await client.create(CONFIG_MAPS, cm("via-kubeconfig"))
        assert (await client.get(CONFIG_MAPS, "via-kubeconfig"))["metadata"][
            "namespace"
        ] == settings.namespace


async def test_missing_kubeconfig_and_unknown_context_are_one_line_errors(
    async_sandbox: Sandbox, tmp_path: Path
) -> None:
    with pytest.raises(errors.KubeConfigError, match=r"no kubeconfig found at .*nope"):
        await load_settings(str(tmp_path / "nope"))
    path = async_sandbox.write_kubeconfig(tmp_path / "kc")
    with pytest.raises(errors.KubeConfigError, match=r"context 'other'.*kc"):
        await load_settings(str(path), "other")


@pytest.mark.parametrize(
    ("kind", "api_version", "path"),
    [
        pytest.param("Rollout", None, "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/n", id="rollout"),
        pytest.param("Pod", None, "/api/v1/namespaces/ns/pods/n", id="core"),
        pytest.param(
            "VirtualService",
            "networking.istio.io/v1alpha3",
            "/apis/networking.istio.io/v1alpha3/namespaces/ns/virtualservices/n",
            id="istio-v1alpha3",
        ),
        pytest.param(
            "HTTPRoute", None, "/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes/n", id="gw"
        ),
        pytest.param(
            "ClusterAnalysisTemplate",
            None,
            "/apis/argoproj.io/v1alpha1/clusteranalysistemplates/n",
            id="cluster-scoped",
        ),
    ],
)
def test_resource_table_paths(kind: str, api_version: str | None, path: str) -> None:
    assert lookup(kind, api_version).path("ns", "n") == path


def test_lookup_errors_name_the_kind() -> None:
    with pytest.raises(KeyError, match="unknown kind 'Deploymentt'"):
        lookup("Deploymentt")
    with pytest.raises(KeyError, match=r"networking\.istio\.io"):
        lookup("VirtualService", "split.smi-spec.io/v1alpha2")
    assert VIRTUAL_SERVICES.version == "v1beta1"


async def test_kubeconfig_env_merges_files_and_context_picks_the_namespace(
    async_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KUBECONFIG=a:b merges like kubectl; `--context` selects the cluster and its default namespace."""
    import yaml

    first = async_sandbox.kubeconfig("dev", namespace="team-a")
    second = async_sandbox.kubeconfig("prod", namespace="team-b")
    second["current-context"] = "prod"
    (tmp_path / "a").write_text(yaml.safe_dump(first))
    (tmp_path / "b").write_text(yaml.safe_dump(second))
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    current = await load_settings()
    assert (current.context, current.namespace) == (
        "dev",
        "team-a",
    )  # kubectl: the first current-context wins
    other = await load_settings(context="prod")
    assert (other.context, other.namespace) == ("prod", "team-b")
    chosen = await load_settings(context="dev")
    assert (chosen.context, chosen.namespace, chosen.host) == ("dev", "team-a", async_sandbox.url)
    assert "context dev from" in chosen.describe()
    async with KubeClient(chosen) as client:
        created = await client.create(CONFIG_MAPS, {"metadata": {"name": "in-default-ns"}, "data": {}})
        assert created["metadata"]["namespace"] == "team-a"  # no namespace given: the context's


# ---------------------------------------------------------------------------------------------- the environment


@pytest.mark.parametrize(
    ("host", "environ", "proxy"),
    [
        pytest.param("https://10.0.0.1:443", {}, None, id="none"),
        pytest.param("https://10.0.0.1:443", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128", id="https"),
        pytest.param("https://10.0.0.1", {"https_proxy": "http://p:3128"}, "http://p:3128", id="lower-case"),
        pytest.param(
            "https://10.0.0.1",
            {"https_proxy": "http://lower", "HTTPS_PROXY": "http://upper"},
            "http://lower",
            id="lower-case-wins",
        ),
        pytest.param("http://10.0.0.1", {"HTTPS_PROXY": "http://p:3128"}, None, id="other-scheme"),
        pytest.param("http://10.0.0.1", {"HTTP_PROXY": "http://p:3128"}, "http://p:3128", id="http"),
        pytest.param(
            "https://10.0.0.1",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "10.0.0.0/8"},
            None,
            id="no-proxy-cidr",
        ),
        pytest.param(
            "https://api.corp.example:6443",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": ".corp.example"},
            None,
            id="no-proxy-domain",
        ),
        pytest.param(
            "https://api.other.example",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "corp.example,10.0.0.1"},
            "http://p",
            id="no-proxy-elsewhere",
        ),
        pytest.param(
            "https://10.0.0.1", {"HTTPS_PROXY": "http://p", "NO_PROXY": "*"}, None, id="no-proxy-all"
        ),
    ],
)
def test_the_proxy_for_the_api_server_is_read_from_the_environment(
    host: str, environ: dict[str, str], proxy: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from rollouts.kube.config import env_proxy

    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert env_proxy(host) == proxy


async def test_requests_do_not_reread_the_environment(
    async_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp with `trust_env` re-reads the proxy variables and `~/.netrc` before every request (a sixth of the
    controller's CPU under load); the client reads them once, when it is built."""
    import aiohttp.helpers

    calls: list[str] = []
    for name in ("netrc_from_env", "proxies_from_env"):
        original = getattr(aiohttp.helpers, name)
        monkeypatch.setattr(
            aiohttp.helpers, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k)
        )
    async with KubeClient(settings_for_url(async_sandbox.url)) as client:
        for i in range(5):
            await client.create(CONFIG_MAPS, cm(f"env-{i}"), "default")
            await client.get(CONFIG_MAPS, f"env-{i}", "default")
    assert calls == []


async def test_a_proxy_named_by_the_environment_is_used(
    async_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY (resolved once, when the client is built) still routes requests; NO_PROXY still exempts."""
    from aiohttp import web

    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.Response(status=502, text="proxy says no")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with KubeClient(settings_for_url(async_sandbox.url), retry=RetryPolicy(attempts=0)) as client:
            with pytest.raises(errors.KubeError):
                await client.get(CONFIG_MAPS, "anything", "default")
        assert seen and seen[0].startswith(async_sandbox.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with KubeClient(settings_for_url(async_sandbox.url)) as client:
            await client.create(CONFIG_MAPS, cm("direct"), "default")
        assert len(seen) == 1
    finally:
        await runner.cleanup()
