"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright, against the
sandbox with the real controller. The list shows the rollouts; a canary is seen advancing live, paused, and
promoted by the Promote button; an aborted rollout's analysis page draws the failing measurements and says
why. Screenshots of the three pages are written to build/screenshots/ for a reviewer."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from rollouts.dashboard.command import serve
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import ANALYSIS_TEMPLATES, ROLLOUTS
from rollouts.sandbox import Sandbox
from tests.controller.driving import running_controller

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium package"),
]
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
NS = "shop"


def rollout(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"registry/{name}:1.0"}]},
            },
            "strategy": {"canary": {"steps": steps}},
        },
    }


def error_rate_template(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate", "namespace": NS},
        "spec": {
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": "1s",
                    "count": 4,
                    "failureLimit": 2,
                    "successCondition": "result >= 0.95",
                    "provider": {"web": {"url": url, "jsonPath": "{$.value}"}},
                }
            ]
        },
    }


class Metric:
    """The application's success rate, as a JSON endpoint: 0.99 until `bad`, then 0.62, 0.58, …"""

    def __init__(self) -> None:
        self.bad = False
        self.n = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.n += 1
        return web.json_response({"value": 0.62 - 0.04 * (self.n % 3) if self.bad else 0.99})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/"


@pytest.fixture
async def world(async_sandbox: Sandbox) -> AsyncIterator[tuple[str, KubeClient, Metric]]:
    metric = Metric()
    await metric.start()
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
        url = await asyncio.wait_for(ready, 30)
        try:
            yield url, client, metric
        finally:
            stop.set()
            await task
            assert metric.runner is not None
            await metric.runner.cleanup()


async def set_image(client: KubeClient, name: str, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    await client.patch(ROLLOUTS, name, patch, NS)


async def test_the_dashboard_in_a_browser(world: tuple[str, KubeClient, Metric]) -> None:
    from playwright.async_api import async_playwright, expect

    url, client, metric = world
    await client.create(ANALYSIS_TEMPLATES, error_rate_template(metric.url), NS)
    await client.create(ROLLOUTS, rollout("web", [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]), NS)
    await client.create(ROLLOUTS, rollout("api", [{"setWeight": 50}, {"pause": {"duration": "1h"}}]), NS)
    analysis = {"analysis": {"templates": [{"templateName": "success-rate"}]}}
    await client.create(ROLLOUTS, rollout("checkout", [{"setWeight": 20}, analysis, {"setWeight": 100}]), NS)
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        # 1. the list shows the three rollouts, going Healthy live
        await page.goto(url)
        rows = page.get_by_test_id("rollout-row")
        await expect(rows).to_have_count(3, timeout=20_000)
        for name in ("api", "checkout", "web"):
            await expect(page.locator(f'[data-testid="rollout-row"][data-name="{name}"]')).to_have_attribute(
                "data-status", "Healthy", timeout=20_000
            )
        await page.get_by_label("Filter rollouts").fill("chec")
        await expect(rows).to_have_count(1)
        await page.get_by_label("Filter rollouts").fill("")
        await page.screenshot(path=str(SHOTS / "dashboard-list.png"), full_page=True)

        # 2. a canary seen advancing live: the page is open when the new version is released
        await page.get_by_role("link", name="web", exact=True).click()
        await expect(page.get_by_test_id("rollout-name")).to_have_text("web")
        await set_image(client, "web", "registry/web:2.0")
        current = page.locator('#steps li[aria-current="step"]')
        await expect(current).to_contain_text("pause", timeout=20_000)
        await expect(page.get_by_test_id("rollout-status")).to_contain_text("Paused", timeout=20_000)
        await expect(page.get_by_test_id("replicaset")).to_have_count(2, timeout=20_000)
        await page.screenshot(path=str(SHOTS / "dashboard-rollout.png"), full_page=True)
        # Promote, pressed in the page, with its confirmation
        await page.get_by_role("button", name="Promote", exact=True).click()
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.get_by_test_id("status-region")).to_contain_text("rollout 'web' promoted")
        await expect(page.get_by_test_id("rollout-status")).to_contain_text("Healthy", timeout=30_000)
        await expect(page.locator('#steps li[data-state="done"]')).to_have_count(3)
        ro = await client.get(ROLLOUTS, "web", NS)
        assert ro["status"]["stableRS"] == ro["status"]["currentPodHash"]

        # 3. a bad release aborted by its analysis: the run's page draws the failing measurements and says why
        metric.bad = True
        await page.goto(url + f"#/rollouts/{NS}/checkout")
        await set_image(client, "checkout", "registry/checkout:2.0")
        await expect(page.get_by_test_id("rollout-status")).to_contain_text("Degraded", timeout=40_000)
        await expect(page.get_by_test_id("analysisrun-row")).to_have_count(1, timeout=20_000)
        await page.get_by_test_id("analysisrun-row").get_by_role("link").click()
        await expect(page.get_by_test_id("analysisrun-phase")).to_contain_text("Failed", timeout=20_000)
        chart = page.locator('[data-testid="metric-chart"][data-metric="success-rate"] svg')
        await expect(chart).to_have_count(1)
        failed_points = chart.locator(".mc-points .mc-failed")
        assert await failed_points.count() == 3  # the three failed measurements, drawn
        await expect(chart.locator(".mc-threshold")).to_have_count(1)  # the line of result >= 0.95
        reason = page.get_by_test_id("metric-reason")
        await expect(reason).to_contain_text("failed (3) > failureLimit (2)")
        await page.screenshot(path=str(SHOTS / "dashboard-analysisrun.png"), full_page=True)
        await page.emulate_media(color_scheme="dark")
        await page.screenshot(path=str(SHOTS / "dashboard-analysisrun-dark.png"), full_page=True)

        # keyboard: every action reachable by Tab on the rollout page
        await page.goto(url + f"#/rollouts/{NS}/web")
        await expect(page.get_by_role("button", name="Abort", exact=True)).to_be_visible()
        focused: set[str] = set()
        for _ in range(40):
            await page.keyboard.press("Tab")
            focused.add(
                await page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
            )
        assert {"Promote", "Promote full", "Abort", "Retry", "Pause", "Restart", "Set image"} <= focused
        assert errors == [], errors
        await browser.close()
