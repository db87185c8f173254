"""What notifications cost the controller, and how fast they arrive (docs/notifications.md).

Not a test: it prints figures.

* `prepare` (called by every reconcile pass that emits Events): µs per call for a Rollout without
  subscriptions (the common case) and per Event for one subscribed to the nine triggers of Argo's catalog on
  Slack and email;
* rendering Argo's catalog templates (message, email subject, Slack attachments): µs per notification;
* delivery of `--notifications` notifications (one per Rollout) to a webhook receiver on loopback: the time
  from `dispatch` to the receiver having them all, notifications per second, and latency p50/p99 — alone, and
  again while another service's receiver holds every request for `--slow` seconds (its notifications must not
  delay the fast one's).

    .venv/bin/python bench/notifications.py
    .venv/bin/python bench/notifications.py --notifications 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollouts.notifications.config import NotificationConfig, load_config  # noqa: E402
from rollouts.notifications.delivering import Notifier, NotifierOptions, render  # noqa: E402

CATALOG = ROOT / "tests" / "notifications" / "fixtures" / "argo-catalog"
TRIGGERS = [
    "on-rollout-completed",
    "on-scaling-replica-set",
    "on-rollout-step-completed",
    "on-rollout-updated",
    "on-rollout-aborted",
    "on-rollout-paused",
    "on-analysis-run-running",
    "on-analysis-run-error",
    "on-analysis-run-failed",
]


class Static:
    def __init__(self, cfg: NotificationConfig) -> None:
        self.cfg = cfg

    def configs_for(self, namespace: str) -> list[NotificationConfig]:
        return [self.cfg]

    def any_subscriptions(self) -> bool:
        return False


async def no_patch(namespace: str, name: str, annotations: dict[str, str | None]) -> None:
    return None


def rollout(i: int, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": f"app-{i}", "namespace": "bench", "uid": f"uid-{i}", "annotations": annotations},
        "spec": {
            "replicas": 5,
            "template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}]}},
        },
        "status": {"phase": "Progressing", "currentStepIndex": 1, "currentPodHash": "abc"},
    }


def catalog_config(extra: dict[str, str]) -> NotificationConfig:
    data: dict[str, str] = {}
    for path in sorted(CATALOG.glob("on-*.yaml")):
        data.update(yaml.safe_load(path.read_text())["data"])
    data["service.slack"] = "token: x\n"
    data["service.email"] = "host: 127.0.0.1\nport: 25\nfrom: a@b.c\n"
    data.update(extra)
    return load_config("argo-rollouts", data, {})


def per_call(fn: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


async def costs() -> None:
    cfg = catalog_config({})
    notifier = Notifier(Static(cfg), no_patch, registry=CollectorRegistry())
    plain = rollout(0, {"team": "payments"})
    events = [("Normal", "RolloutStepCompleted", "Rollout step 1/3 completed (setWeight: 20)")]
    print(
        f"prepare, no subscription:          {per_call(lambda: notifier.prepare(plain, events, no_status=False), 20000):8.1f} µs per pass"
    )
    subscribed = rollout(
        0,
        {f"notifications.argoproj.io/subscribe.{t}.slack": "deploys" for t in TRIGGERS}
        | {f"notifications.argoproj.io/subscribe.{t}.email": "ops@example.com" for t in TRIGGERS},
    )
    us = per_call(lambda: notifier.prepare(subscribed, events, no_status=False), 5000)
    print(f"prepare, 18 subscriptions:         {us:8.1f} µs per Event (2 notifications owed)")
    data = {"rollout": subscribed, "analysisRuns": [], "secrets": {}}
    for name in ("rollout-step-completed", "rollout-aborted"):
        tree = cfg.templates[name]
        print(
            f"render {name + ':':27s}{per_call(lambda tree=tree: render(tree, data), 2000):8.1f} µs per notification"
        )
    await notifier.stop()


class Receiver:
    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.arrived: dict[str, float] = {}
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        if self.hold:
            await asyncio.sleep(self.hold)
        self.arrived[request.path] = time.perf_counter()
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]


async def delivery(n: int, slow: float) -> None:
    fast, held = Receiver(), Receiver(hold=slow)
    await fast.start()
    await held.start()
    template = 'webhook:\n  {s}:\n    method: POST\n    path: /{{{{.rollout.metadata.name}}}}\n    body: \'{{"n": "{{{{.rollout.metadata.name}}}}"}}\'\n'
    cfg = load_config(
        "argo-rollouts",
        {
            "service.webhook.fast": f"url: http://127.0.0.1:{fast.port}\n",
            "service.webhook.held": f"url: http://127.0.0.1:{held.port}\n",
            "template.fast": template.format(s="fast"),
            "template.held": template.format(s="held"),
            "trigger.on-rollout-completed": "- send: [fast, held]\n",
        },
        {},
    )
    assert not cfg.errors, cfg.errors
    for with_slow in (False, True):
        fast.arrived.clear()
        services = ["fast", "held"] if with_slow else ["fast"]
        notifier = Notifier(
            Static(cfg),
            no_patch,
            registry=CollectorRegistry(),
            options=NotifierOptions(timeout=slow + 5, queue_size=n * 3),
        )
        objs = [
            rollout(
                i, {f"notifications.argoproj.io/subscribe.on-rollout-completed.{s}": "" for s in services}
            )
            for i in range(n)
        ]
        sent: dict[str, float] = {}
        started = time.perf_counter()
        for obj in objs:
            entries = notifier.prepare(obj, [("Normal", "RolloutCompleted", "done")], no_status=True)
            sent["/" + obj["metadata"]["name"]] = time.perf_counter()
            notifier.dispatch(obj, entries)
        dispatch_ms = (time.perf_counter() - started) * 1e3
        while len(fast.arrived) < n:  # noqa: ASYNC110 - the receiver fills it
            await asyncio.sleep(0.01)
        took = time.perf_counter() - started
        lat = sorted((fast.arrived[k] - sent[k]) * 1e3 for k in sent)
        label = f"with {n} held {slow:.0f} s by another receiver" if with_slow else "alone"
        print(
            f"delivery of {n} to the webhook, {label}: prepare+dispatch {dispatch_ms:.0f} ms on the loop, "
            f"all arrived in {took:.2f} s ({n / took:.0f}/s), latency p50 {statistics.median(lat):.0f} ms "
            f"p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms"
        )
        await notifier.stop(grace=0)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--slow", type=float, default=3.0)
    args = parser.parse_args()
    await costs()
    await delivery(args.notifications, args.slow)


if __name__ == "__main__":
    asyncio.run(main())
