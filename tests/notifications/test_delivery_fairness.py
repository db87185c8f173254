"""One namespace never fills the notification queue for the others, and rendering happens off the loop."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from rollouts.notifications.config import NotificationConfig, load_config
from rollouts.notifications.delivering import Notifier, NotifierOptions
from tests.notifications.fakes import Static, no_patch


def rollout(namespace: str, i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"r{i}",
            "namespace": namespace,
            "uid": f"{namespace}-{i}",
            "annotations": {"notifications.argoproj.io/subscribe.on-rollout-completed.hook": ""},
        },
        "status": {"phase": "Healthy"},
    }


async def test_one_namespace_never_fills_the_queue_for_the_others() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.path)
        await release.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    cfg = load_config(
        "argo-rollouts",
        {
            "service.webhook.hook": f"url: http://127.0.0.1:{port}\n",
            "template.t": "webhook:\n  hook:\n    method: POST\n    path: /{{.rollout.metadata.namespace}}\n",
            "trigger.on-rollout-completed": "- send: [t]\n",
        },
        {},
    )
    notifier = Notifier(
        Static(cfg),
        no_patch,
        registry=CollectorRegistry(),
        options=NotifierOptions(queue_size=8, service_concurrency=8),
    )
    try:
        for i in range(10):  # a noisy namespace: 10 notifications, its share is 2 (a quarter of 8)
            obj = rollout("noisy", i)
            notifier.dispatch(
                obj, notifier.prepare(obj, [("Normal", "RolloutCompleted", "done")], no_status=True)
            )
        quiet = rollout("quiet", 0)
        notifier.dispatch(
            quiet, notifier.prepare(quiet, [("Normal", "RolloutCompleted", "done")], no_status=True)
        )
        assert notifier.busy == 3  # 2 of the noisy namespace's, and the quiet one's
        assert notifier.metrics.dropped.labels("queue_full")._value.get() == 8  # left in their outboxes
        for _ in range(200):
            if "/quiet" in seen:
                break
            await asyncio.sleep(0.01)
        assert "/quiet" in seen
    finally:
        release.set()
        await notifier.idle(5)
        await notifier.stop()
        await runner.cleanup()


async def test_an_entry_waits_in_the_outbox_until_its_config_is_loaded() -> None:
    """A new process's first passes may come before its config watch has listed: nothing is dropped."""
    patches: list[dict[str, str | None]] = []

    async def patch(namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        patches.append(annotations)

    received: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    cfg = load_config(
        "argo-rollouts",
        {
            "service.webhook.hook": f"url: http://127.0.0.1:{runner.addresses[0][1]}\n",
            "template.t": "webhook:\n  hook:\n    method: POST\n    path: /sent\n",
            "trigger.on-rollout-completed": "- send: [t]\n",
        },
        {},
    )
    loaded = Static(cfg)
    entries = Notifier(loaded, no_patch, registry=CollectorRegistry()).prepare(
        rollout("shop", 1), [("Normal", "RolloutCompleted", "done")], no_status=True
    )
    obj = rollout("shop", 1)
    obj["metadata"]["annotations"].update({e.annotation: e.encode() for e in entries})

    class NotYet:
        def __init__(self) -> None:
            self.configs: list[NotificationConfig] = []

        def configs_for(self, namespace: str) -> list[NotificationConfig]:
            return self.configs

        def any_subscriptions(self) -> bool:
            return False

    source = NotYet()
    notifier = Notifier(source, patch, registry=CollectorRegistry())
    try:
        notifier.recover(obj)  # the restarted process's first pass: no config yet
        await notifier.idle(5)
        assert received == [] and patches == []  # not sent, not removed
        source.configs = [cfg]  # the watch has listed
        notifier.recover(obj)
        await notifier.idle(5)
        assert received == ["/sent"] and patches == [{entries[0].annotation: None}]
    finally:
        await notifier.stop()
        await runner.cleanup()
