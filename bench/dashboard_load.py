"""How fast the dashboard's pages load with many rollouts in the namespace (docs/dashboard.md).

Not a test: it prints figures. The sandbox with the real controller (in this process) runs `--rollouts`
canaries of one replica each to Healthy; the dashboard serves the namespace; then, in headless Chromium
(Debian's package, through Playwright):

* the list page: from navigation to every row drawn (the table has `--rollouts` rows), p50/p95 over `--loads`
  loads;
* one rollout's page: from navigation to its steps and ReplicaSets drawn;
* the JSON alone (`GET /api/v1/rollouts`, `GET …/rollouts/NAME`), server time p50/p95 over 50 requests.

Targets (issue): list under 1 s, one rollout under 300 ms.

    .venv/bin/python bench/dashboard_load.py                 # 1,000 rollouts
    .venv/bin/python bench/dashboard_load.py --rollouts 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollouts.dashboard.command import serve  # noqa: E402
from rollouts.kube.client import KubeClient  # noqa: E402
from rollouts.kube.config import settings_for_url  # noqa: E402
from rollouts.kube.resources import ROLLOUTS  # noqa: E402
from rollouts.sandbox import Sandbox  # noqa: E402
from tests.controller.driving import running_controller  # noqa: E402

NS = "bench"


def rollout(i: int) -> dict[str, Any]:
    name = f"app-{i:04d}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"registry/{name}:1.0"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}},
        },
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    from loguru import logger
    from playwright.async_api import async_playwright

    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    sandbox = Sandbox(pod_ready_delay=0.0)
    await sandbox.start_async()
    try:
        async with running_controller(sandbox.url) as client:
            started = time.perf_counter()
            for i in range(args.rollouts):
                await client.create(ROLLOUTS, rollout(i), NS)
            while True:
                items = (await client.list(ROLLOUTS, NS)).items
                healthy = sum(1 for r in items if (r.get("status") or {}).get("phase") == "Healthy")
                if healthy == args.rollouts:
                    break
                await asyncio.sleep(1.0)
            print(f"{args.rollouts} rollouts Healthy in {time.perf_counter() - started:.0f} s")
            ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            stop = asyncio.Event()
            task = asyncio.create_task(
                serve(
                    KubeClient(settings_for_url(sandbox.url), qps=0),
                    namespace=NS,
                    all_namespaces=False,
                    context="sandbox",
                    address="127.0.0.1",
                    port=0,
                    ready=ready,
                    stop=stop,
                )
            )
            url = await ready
            async with aiohttp.ClientSession() as http:
                for path in ("api/v1/rollouts", f"api/v1/namespaces/{NS}/rollouts/app-0007"):
                    times = []
                    for _ in range(50):
                        t0 = time.perf_counter()
                        async with http.get(url + path) as resp:
                            await resp.read()
                        times.append((time.perf_counter() - t0) * 1e3)
                    print(
                        f"GET /{path}: p50 {statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms"
                    )
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                # the page's own CSP forbids eval, which Playwright's wait_for_function uses: bypassed for timing
                page = await browser.new_page(bypass_csp=True)
                lists, ones = [], []
                rows = page.locator('[data-testid="rollout-row"]')
                drawn = 0
                for _ in range(args.loads):  # each a fresh load of the page, from a blank tab
                    await page.goto("about:blank")
                    t0 = time.perf_counter()
                    await page.goto(url + "#/", wait_until="commit")
                    await page.wait_for_function(
                        f"document.querySelectorAll('[data-testid=\"rollout-row\"]').length === {args.rollouts}"
                    )
                    lists.append((time.perf_counter() - t0) * 1e3)
                    drawn = await rows.count()
                    await page.goto("about:blank")
                    t0 = time.perf_counter()
                    await page.goto(url + f"#/rollouts/{NS}/app-0007", wait_until="commit")
                    await page.wait_for_selector('[data-testid="replicaset"]')
                    ones.append((time.perf_counter() - t0) * 1e3)
                print(f"rows drawn: {drawn}")
                print(
                    f"list page ({args.rollouts} rollouts): p50 {statistics.median(lists):.0f} ms, "
                    f"p95 {pct(lists, 0.95):.0f} ms (target < 1000 ms)"
                )
                print(
                    f"rollout page: p50 {statistics.median(ones):.0f} ms, p95 {pct(ones, 0.95):.0f} ms "
                    "(target < 300 ms)"
                )
                await browser.close()
            stop.set()
            await task
    finally:
        await sandbox.stop_async()


if __name__ == "__main__":
    asyncio.run(main())
