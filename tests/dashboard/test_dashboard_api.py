"""The dashboard's server against the sandbox with the real controller, through HTTP: the JSON of the three
pages, the change stream, the actions (with an RBAC refusal), and the guards (Host, Origin, content type)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from rollouts.dashboard.command import serve
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import ROLLOUTS
from rollouts.sandbox import Sandbox
from tests.controller.driving import running_controller

NS = "shop"


def rollout(name: str, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"{name}:1"}]},
            },
            "strategy": {"canary": {"steps": steps or [{"setWeight": 20}, {"pause": {}}]}},
        },
    }


class Served:
    def __init__(
        self, url: str, client: KubeClient, session: aiohttp.ClientSession, sandbox: Sandbox
    ) -> None:
        self.sandbox = sandbox
        self.url = url
        self.client = client
        self.session = session

    async def get(self, path: str) -> Any:
        async with self.session.get(self.url + path) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, **headers: str) -> tuple[int, Any]:
        async with self.session.post(self.url + path, json=body or {}, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def served(async_sandbox: Sandbox) -> AsyncIterator[Served]:
    async with running_controller(async_sandbox.url) as client:
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve(
                KubeClient(settings_for_url(async_sandbox.url), qps=0),
                namespace=NS,
                all_namespaces=False,
                context="sandbox",
                address="127.0.0.1",
                port=0,
                ready=ready,
                stop=stop,
            )
        )
        url = (await asyncio.wait_for(ready, 30)).rstrip("/")
        async with aiohttp.ClientSession() as session:
            yield Served(url, client, session, async_sandbox)
        stop.set()
        await task


async def until(cond: Any, limit: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        value = await cond()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_the_pages_json_and_an_action(served: Served) -> None:
    await served.client.create(ROLLOUTS, rollout("web"), NS)
    await served.client.create(ROLLOUTS, rollout("api"), NS)

    async def both_healthy() -> bool:
        rows = (await served.get("/api/v1/rollouts"))["rollouts"]
        return [(r["name"], r["status"]) for r in rows] == [("api", "Healthy"), ("web", "Healthy")]

    await until(both_healthy)
    page = await served.get("/api/v1/namespaces/shop/rollouts/web")
    assert page["rollout"]["images"] == ["web:1"] and page["rollout"]["strategy"] == "Canary"
    (rs,) = page["rollout"]["replicaSets"]
    assert rs["stable"] and rs["revision"] == 1 and len(rs["pods"]) == 2
    assert [s["state"] for s in page["steps"]] == ["done", "done"]
    # a new image: the rollout pauses at step 2, seen in the page's JSON
    status, said = await served.post(
        "/api/v1/namespaces/shop/rollouts/web/actions/set-image", {"container": "app", "image": "web:2"}
    )
    assert status == 200 and said == {"message": 'rollout "web" image updated'}

    async def paused() -> bool:
        p = await served.get("/api/v1/namespaces/shop/rollouts/web")
        return [s["state"] for s in p["steps"]] == ["done", "current"] and p["rollout"]["status"] == "Paused"

    await until(paused)
    status, said = await served.post("/api/v1/namespaces/shop/rollouts/web/actions/promote")
    assert status == 200 and said == {"message": "rollout 'web' promoted"}

    async def promoted() -> bool:
        p = await served.get("/api/v1/namespaces/shop/rollouts/web")
        return p["rollout"]["status"] == "Healthy" and p["rollout"]["images"] == ["web:2"]

    await until(promoted)


async def test_changes_are_pushed_as_server_sent_events(served: Served) -> None:
    async with served.session.get(served.url + "/api/v1/events") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        await served.client.create(ROLLOUTS, rollout("web"), NS)
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(20):
            async for line in stream.content:
                text = line.decode().strip()
                if text.startswith("data: ") and text != "data: {}":
                    seen.append(json.loads(text[6:]))
                    if any(c["kind"] == "Pod" and c.get("rollout") == "web" for c in seen):
                        break
    assert {"kind": "Rollout", "namespace": NS, "name": "web", "rollout": "web"} in seen


async def test_guards_and_refusals(served: Served) -> None:
    await served.client.create(ROLLOUTS, rollout("web"), NS)
    # a user whose Role may not patch Rollouts: the API server's own sentence, as such
    served.sandbox.set_faults(forbid=["patch rollouts", "patch rollouts/status"])
    status, said = await served.post("/api/v1/namespaces/shop/rollouts/web/actions/abort")
    assert status == 403
    assert said == {
        "error": 'Not allowed: rollouts.argoproj.io "web" is forbidden: User "sandbox-user" cannot patch '
        'resource "rollouts/status" in API group "argoproj.io" in the namespace "shop"'
    }
    served.sandbox.set_faults(forbid=[])
    status, said = await served.post(
        "/api/v1/namespaces/shop/rollouts/web/actions/abort", Origin="http://evil.example"
    )
    assert status == 403 and "own page" in said["error"]
    async with served.session.post(
        served.url + "/api/v1/namespaces/shop/rollouts/web/actions/abort",
        data="x=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert resp.status == 415
    async with served.session.get(served.url + "/api/v1/rollouts", headers={"Host": "evil.example"}) as resp:
        assert resp.status == 421
    status, said = await served.post("/api/v1/namespaces/shop/rollouts/nope/actions/abort")
    assert status == 404 and said == {"error": 'rollouts.argoproj.io "nope" not found'}
    status, said = await served.post("/api/v1/namespaces/shop/rollouts/web/actions/launch")
    assert status == 404 and "the actions are promote" in said["error"]
    status, said = await served.post("/api/v1/namespaces/shop/rollouts/web/actions/set-image", {"image": "x"})
    assert status == 400 and said == {"error": "set-image needs a container and an image"}
    async with served.session.get(served.url + "/static/..%2Fdata.py") as resp:
        assert resp.status == 404
    async with served.session.get(served.url + "/") as resp:
        assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
