"""Fairness between namespaces in the controller's AnalysisRun queue (rollouts.controller.queueing).

The manager runs in-process with its real AnalysisRun reconciler against the sandbox. Team A's nine runs
measure an HTTP endpoint that does not answer until the test lets it; team B's run measures a healthy one.
Before the queue was fair, team A's runs took every analysis worker (each waiting on its hanging query) and
team B's run waited behind them in one FIFO until team A's queries timed out. Now team A holds at most its
share of the workers (`--analysis-namespace-workers`, a third by default) and team B's run completes while
team A's queries are all still hanging: an ordering, not a timing, so a loaded machine cannot fake it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import ANALYSIS_RUNS


class Endpoint:
    """A loopback JSON endpoint; when `hanging`, each request waits until `release` is set."""

    def __init__(self, hanging: bool) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.open = 0
        self.peak_open = 0
        self.answered = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint.lock:
                    endpoint.open += 1
                    endpoint.peak_open = max(endpoint.peak_open, endpoint.open)
                try:
                    if hanging:
                        endpoint.release.wait(120)
                    body = b'{"ok": true}'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with endpoint.lock:
                        endpoint.open -= 1
                        endpoint.answered += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoints() -> Iterator[Callable[[bool], Endpoint]]:
    made: list[Endpoint] = []

    def make(hanging: bool) -> Endpoint:
        made.append(Endpoint(hanging))
        return made[-1]

    yield make
    for e in made:
        e.close()


def run(namespace: str, name: str, url: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "metrics": [
                {
                    "name": "ok",
                    "successCondition": "result.ok == true",
                    "provider": {"web": {"url": url, "jsonPath": "{$}", "timeoutSeconds": 60}},
                }
            ]
        },
    }


async def phase(kube: KubeClient, namespace: str, name: str) -> str:
    obj = await kube.get(ANALYSIS_RUNS, name, namespace=namespace)
    return str((obj.get("status") or {}).get("phase") or "")


async def test_a_namespace_with_hanging_queries_leaves_workers_to_the_others(
    kube: KubeClient, endpoints: Callable[[bool], Endpoint]
) -> None:
    hanging, healthy = endpoints(True), endpoints(False)
    config = ControllerConfig(
        leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1", analysis_workers=6
    )
    assert config.namespace_workers("AnalysisRuns") == 2  # a third of the workers
    manager = Manager(kube, config, registry=CollectorRegistry(), rollout_reconciler=None)
    for i in range(9):
        await kube.create(ANALYSIS_RUNS, run("team-a", f"slow-{i}", hanging.url))
    await manager.start()
    try:
        await asyncio.wait_for(manager.leading.wait(), 10)
        async with asyncio.timeout(30):
            while hanging.open < 2:  # noqa: ASYNC110 - driven by the manager's workers
                await asyncio.sleep(0.01)
        await kube.create(ANALYSIS_RUNS, run("team-b", "fast", healthy.url))
        async with asyncio.timeout(30):
            while await phase(kube, "team-b", "fast") != "Successful":  # noqa: ASYNC110 - polled over HTTP
                await asyncio.sleep(0.05)
        assert hanging.answered == 0  # team B finished while every query of team A was still hanging
        assert hanging.peak_open == 2  # team A never held more than its share of the workers
        assert manager.analysis_queue.busy("team-a") == 2
    finally:
        hanging.release.set()
        await manager.stop(grace=1)
