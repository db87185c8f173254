"""Large answers are decoded off the event loop (the loop serves every namespace): a web metric whose endpoint
answers 2 MiB of JSON is decoded in a worker thread, a small answer inline; the verdict is the same."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from analysis.models import Metric
from analysis.providers import base
from analysis.providers.web import WebProvider


@pytest.fixture
async def endpoint() -> AsyncIterator[str]:
    async def big(request: web.Request) -> web.Response:
        return web.json_response({"ok": 0.99, "padding": ["x" * 1000] * 2048})

    async def small(request: web.Request) -> web.Response:
        return web.json_response({"ok": 0.99})

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/small", small)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.mark.parametrize(("path", "in_thread"), [("/big", True), ("/small", False)])
async def test_large_answers_are_decoded_in_a_worker_thread(
    endpoint: str, path: str, in_thread: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = json.loads

    def watched(raw: bytes) -> object:
        threads.append(threading.current_thread().name)
        return real(raw)

    monkeypatch.setattr(base, "OFF_LOOP_BYTES", 262_144)
    provider = WebProvider()
    metric = Metric.model_validate(
        {
            "name": "m",
            "successCondition": "result >= 0.95",
            "provider": {"web": {"url": endpoint + path, "jsonPath": "{$.ok}"}},
        }
    )
    monkeypatch.setattr("analysis.providers.web.json.loads", watched)
    try:
        m = await provider.measure(metric)
    finally:
        await provider.aclose()
    assert m.value == "0.99"
    assert (threads[0] != threading.main_thread().name) is in_thread, threads
