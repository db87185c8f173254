"""The metric providers' credentials through the whole controller on the sandbox: a Datadog metric reads the
Secret `datadog` of the controller's namespace (as Argo does) and sends its keys to the address in it; a missing
Secret, or a Secret the controller may not read, is an Error measurement saying which, never a verdict."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from rollouts.kube.resources import ANALYSIS_RUNS, SECRETS
from rollouts.sandbox import Sandbox
from tests.controller.driving import running_controller

CONTROLLER_NS = "argo-rollouts"
NS = "shop"
API_KEY, APP_KEY = "dd-api-5e1f0c", "dd-app-9a7b3d"


class Datadog:
    """Datadog's v1 query API on loopback: the error rate of the last 5 minutes, 0.5 %."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
        )
        if request.headers.get("DD-API-KEY") != API_KEY:
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        return web.json_response(
            {"status": "ok", "series": [{"pointlist": [[1.7e12, 0.004], [1.7e12 + 60000, 0.005]]}]}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v1/query", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"


@pytest.fixture
async def datadog() -> AsyncIterator[Datadog]:
    d = Datadog()
    await d.start()
    yield d
    assert d.runner is not None
    await d.runner.cleanup()


def run(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "metrics": [
                {
                    "name": "error-rate",
                    "successCondition": "result < 0.01",
                    "consecutiveErrorLimit": 0,  # the first Error ends it (Argo would retry it 4 times, 10 s apart)
                    "provider": {
                        "datadog": {"query": "avg:requests.error.rate{service:web}", "interval": "5m"}
                    },
                }
            ]
        },
    }


async def finished(client: Any, name: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            status = (await client.get(ANALYSIS_RUNS, name, NS)).get("status") or {}
            if status.get("phase") in ("Successful", "Failed", "Error", "Inconclusive"):
                return status
            await asyncio.sleep(0.05)


async def test_datadog_credentials_come_from_the_controllers_namespace(
    async_sandbox: Sandbox, datadog: Datadog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", CONTROLLER_NS)
    for name in ("DD_API_KEY", "DD_APP_KEY", "DD_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    async with running_controller(async_sandbox.url) as client:
        # no Secret yet: an Error saying so, not a verdict
        await client.create(ANALYSIS_RUNS, run("before"), NS)
        status = await finished(client, "before")
        assert status["phase"] == "Error", status
        said = status["metricResults"][0]["measurements"][0]["message"]
        assert "datadog" in said.lower() and datadog.requests == []
        secret = {
            "metadata": {"name": "datadog", "namespace": CONTROLLER_NS},
            "data": {
                k: base64.b64encode(v.encode()).decode()
                for k, v in {"address": datadog.url, "api-key": API_KEY, "app-key": APP_KEY}.items()
            },
        }
        await client.create(SECRETS, secret, CONTROLLER_NS)
        await client.create(ANALYSIS_RUNS, run("after"), NS)
        status = await finished(client, "after")
        assert status["phase"] == "Successful", status
        (measurement,) = status["metricResults"][0]["measurements"]
        assert measurement["value"] == "0.005"
        (request,) = datadog.requests
        assert (
            request["headers"]["DD-API-KEY"] == API_KEY
            and request["headers"]["DD-APPLICATION-KEY"] == APP_KEY
        )
        assert request["query"]["query"] == "avg:requests.error.rate{service:web}"
        assert int(request["query"]["to"]) - int(request["query"]["from"]) == 300
        text = str(status)
        assert API_KEY not in text and APP_KEY not in text
