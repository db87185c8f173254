"""The web provider against a real local aiohttp server: jsonPath picks, methods and bodies, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from analysis.models import AnalysisPhase, Metric
from analysis.providers.web import WebProvider, value_string
from tests.fixtures.prometheus import unused_url

Seen = list[tuple[str, dict[str, str], bytes]]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen: Seen = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.method, dict(request.headers), body))
        return web.json_response({"status": "ok", "data": {"ok": True, "rate": 0.97, "items": [1, 2]}})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>", content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/healthz", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/text", text)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def provider() -> AsyncIterator[WebProvider]:
    p = WebProvider()
    yield p
    await p.aclose()


def metric(url: str, **web_config: Any) -> Metric:
    return Metric.model_validate({"name": "smoke", "provider": {"web": {"url": url, **web_config}}})


@pytest.mark.parametrize(
    ("json_path", "value", "result"),
    [
        pytest.param("{$.status}", "ok", "ok", id="string-as-is"),
        pytest.param("{$.data.ok}", "true", True, id="bool"),
        pytest.param("{.data.rate}", "0.97", 0.97, id="number-kubectl-dot"),
        pytest.param("$.data.items", "[1,2]", [1, 2], id="list"),
        pytest.param("{$.data.items[1]}", "2", 2, id="index"),
        pytest.param(None, None, "whole-body", id="default-whole-body"),
    ],
)
async def test_json_path_picks_the_value(
    server: tuple[str, Seen], provider: WebProvider, json_path: str | None, value: str | None, result: Any
) -> None:
    url, _ = server
    config = {} if json_path is None else {"jsonPath": json_path}
    m = await provider.measure(metric(f"{url}/healthz", **config))
    assert m.phase is None and m.has_result
    if result == "whole-body":
        assert m.result["status"] == "ok" and json.loads(m.value or "") == m.result
    else:
        assert (m.value, m.result) == (value, result)


async def test_post_json_body_and_headers(server: tuple[str, Seen], provider: WebProvider) -> None:
    url, seen = server
    m = metric(
        f"{url}/healthz",
        method="POST",
        jsonBody={"probe": [1, 2]},
        headers=[{"key": "X-Token", "value": "abc"}],
        jsonPath="{$.status}",
    )
    assert (await provider.measure(m)).value == "ok"
    method, headers, body = seen[-1]
    assert method == "POST" and json.loads(body) == {"probe": [1, 2]}
    assert headers["X-Token"] == "abc" and headers["Content-Type"] == "application/json"


async def test_put_string_body(server: tuple[str, Seen], provider: WebProvider) -> None:
    url, seen = server
    await provider.measure(metric(f"{url}/healthz", method="PUT", body="hello"))
    assert seen[-1][0] == "PUT" and seen[-1][2] == b"hello"


@pytest.mark.parametrize(
    ("path", "config", "fragment"),
    [
        pytest.param("/status/503", {}, "received non 2xx response code: 503", id="503"),
        pytest.param("/status/404", {}, "received non 2xx response code: 404", id="404"),
        pytest.param("/text", {}, "Could not parse JSON body", id="not-json"),
        pytest.param(
            "/healthz", {"jsonPath": "{$.missing}"}, "Could not find JSONPath in body", id="path-missing"
        ),
        pytest.param("/healthz", {"jsonPath": "{$.[[[}"}, "invalid jsonPath", id="path-invalid"),
        pytest.param("/slow", {"timeoutSeconds": 1}, "timed out after 1s", id="timeout"),
        pytest.param("/healthz", {"body": "x"}, "only sent with POST or PUT", id="body-with-get"),
        pytest.param("/healthz", {"method": "DELETE"}, "not supported", id="method"),
    ],
)
async def test_failures_are_error_measurements(
    server: tuple[str, Seen], provider: WebProvider, path: str, config: dict[str, Any], fragment: str
) -> None:
    url, _ = server
    m = await provider.measure(metric(url + path, **config))
    assert m.phase is AnalysisPhase.ERROR and not m.has_result
    assert fragment in (m.message or ""), m.message


async def test_backend_down(provider: WebProvider) -> None:
    m = await provider.measure(metric(unused_url() + "/healthz"))
    assert m.phase is AnalysisPhase.ERROR and "failed" in (m.message or "")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("ok", "ok", id="str"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(False, "false", id="bool"),
        pytest.param(None, "null", id="null"),
        pytest.param({"a": [1, "b"]}, '{"a":[1,"b"]}', id="object"),
    ],
)
def test_value_string(value: Any, text: str) -> None:
    assert value_string(value) == text


async def test_a_past_instant_cannot_be_measured(server: tuple[str, Seen], provider: WebProvider) -> None:
    url, seen = server
    past = datetime.now(UTC) - timedelta(hours=1)
    m = await provider.measure(metric(f"{url}/healthz"), at=past)
    assert m.phase is AnalysisPhase.ERROR and "can only be measured now" in (m.message or "")
    assert seen == []  # nothing was asked
    assert (await provider.measure(metric(f"{url}/healthz"), at=datetime.now(UTC))).has_result
