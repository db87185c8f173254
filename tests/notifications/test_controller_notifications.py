"""Notifications sent by the reconciler on the sandbox, to a real HTTP receiver on loopback
(docs/notifications.md): each of Argo's built-in triggers at the moment Argo sends it, exactly once, across a
crash between the status write and the send and across a status write that did not land; a receiver that
answers 500, is down, or is slow; secrets never in what is said."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from loguru import logger
from prometheus_client import CollectorRegistry

from rollouts.controller.notifying import annotation_patcher
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.errors import Conflict
from rollouts.kube.resources import EVENTS, ROLLOUTS
from rollouts.notifications.config import NotificationConfig, load_config
from rollouts.notifications.delivering import MAX_OUTBOX_BYTES, Notifier, NotifierOptions
from rollouts.notifications.outbox import NOTIFIED_ANNOTATION, PENDING_PREFIX
from rollouts.sandbox.running import Sandbox
from tests.controller.test_reconciling import ManualTime, env  # noqa: F401 - env is a fixture
from tests.notifications.fakes import Static

NS = "production"
KEY = (NS, "web")
TOKEN = "tok-3f9a77c1d2"
TRIGGERS = (
    "on-rollout-updated",
    "on-rollout-step-completed",
    "on-rollout-paused",
    "on-rollout-completed",
    "on-rollout-aborted",
    "on-scaling-replica-set",
    "on-analysis-run-running",
    "on-analysis-run-failed",
    "on-analysis-run-error",
)


class Receiver:
    """A webhook receiver on loopback: records each request; `answers` is consumed one per request (status
    codes; 0 = sleep `slow` seconds first), then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.slow = 0.0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        answer = self.answers.pop(0) if self.answers else 200
        if answer == 0:
            await asyncio.sleep(self.slow)
            answer = 200
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": json.loads(body) if body else None,
                "status": answer,
            }
        )
        return web.Response(status=answer, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def accepted(self) -> list[str]:
        return [r["body"]["trigger"] for r in self.requests if r["status"] == 200]


@pytest.fixture(autouse=True)
async def notifiers() -> AsyncIterator[list[Notifier]]:
    """Every notifier a test makes is stopped at its end (its HTTP session closed)."""
    made: list[Notifier] = []
    MADE.append(made)
    yield made
    MADE.pop()
    for n in made:
        await n.stop(grace=0)


MADE: list[list[Notifier]] = []


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


def config(port: int) -> NotificationConfig:
    data = {
        "service.webhook.hooks": f"url: http://127.0.0.1:{port}\n"
        "headers:\n- name: Content-Type\n  value: application/json\n- name: Authorization\n  value: Bearer $token\n",
    }
    for trigger in TRIGGERS:
        data[f"template.{trigger}"] = (
            f'webhook:\n  hooks:\n    body: |\n      {{"trigger": "{trigger}", "name": "{{{{.rollout.metadata.name}}}}", '
            '"phase": "{{.rollout.status.phase}}", "step": "{{.rollout.status.currentStepIndex}}"}\n'
            "    method: POST\n    path: /rollouts/{{.rollout.metadata.name}}\n"
        )
        data[f"trigger.{trigger}"] = f"- send: [{trigger}]\n"
    cfg = load_config("argo-rollouts", data, {"token": base64.b64encode(TOKEN.encode()).decode()})
    assert cfg.errors == []
    return cfg


def rollout(triggers: tuple[str, ...] = TRIGGERS) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "web",
            "annotations": {f"notifications.argoproj.io/subscribe.{t}.hooks": "" for t in triggers},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
        },
    }


def notifier(client: KubeClient, cfg: NotificationConfig, **options: Any) -> tuple[Notifier, list[str]]:
    warned: list[str] = []
    n = Notifier(
        Static(cfg),
        annotation_patcher(client),
        warn_event=lambda obj, reason, message: warned.append(f"{reason}: {message}"),
        registry=CollectorRegistry(),
        options=NotifierOptions(**{"backoff": 0.01, "timeout": 5.0, **options}),
    )
    MADE[-1].append(n)
    return n, warned


async def passes(reconciler: RolloutReconciler, time: ManualTime, n: int = 40) -> None:
    for _ in range(n):
        requeue = await reconciler.reconcile(KEY)
        if requeue is not None and requeue > 0.5:
            time.advance(requeue)
        await asyncio.sleep(0.01)


async def reasons(client: KubeClient) -> list[str]:
    events = (await client.list(EVENTS, NS)).items
    return sorted(e["reason"] for e in events for _ in range(int(e.get("count") or 1)))


async def pending(client: KubeClient) -> list[str]:
    meta = (await client.get(ROLLOUTS, "web", NS))["metadata"]
    return [k for k in meta.get("annotations") or {} if k.startswith(PENDING_PREFIX)]


async def set_image(client: KubeClient, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    await client.patch(ROLLOUTS, "web", patch, NS)


async def test_each_trigger_is_sent_once_when_argo_sends_it(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    receiver: Receiver,
) -> None:
    _, client = env
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    reconciler.applier.notifier, warned = notifier(client, config(receiver.port))
    await client.create(ROLLOUTS, rollout(), NS)
    await passes(reconciler, time)
    await set_image(client, "web:2")
    await passes(reconciler, time)  # to the pause step
    await client.patch(ROLLOUTS, "web", {"status": {"pauseConditions": None}}, NS, subresource="status")
    await passes(reconciler, time)
    await reconciler.applier.notifier.idle()
    event_triggers = sorted(
        "on-" + "-".join(w.lower() for w in _split_camel(r))
        for r in await reasons(client)
        if "on-" + "-".join(w.lower() for w in _split_camel(r)) in TRIGGERS
    )
    # one notification per Event of a subscribed trigger, no more, no less, in the order they happened
    assert sorted(receiver.accepted()) == event_triggers
    order = [t for t in receiver.accepted() if t != "on-scaling-replica-set"]
    assert order == [
        "on-rollout-updated",  # revision 1
        "on-rollout-completed",
        "on-rollout-updated",  # revision 2
        "on-rollout-step-completed",  # setWeight 50
        "on-rollout-paused",
        "on-rollout-step-completed",  # the pause, once resumed
        "on-rollout-completed",
    ]
    assert {
        "on-rollout-updated",
        "on-rollout-step-completed",
        "on-rollout-paused",
        "on-rollout-completed",
    } <= set(event_triggers)
    assert receiver.accepted().count("on-rollout-updated") == 2  # revision 1, then 2
    first = receiver.requests[0]
    assert first["method"] == "POST" and first["path"] == "/rollouts/web"
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert first["headers"]["X-Rollouts-Notification-Id"]
    assert await pending(client) == [] and warned == []


def _split_camel(reason: str) -> list[str]:
    words, word = [], ""
    for ch in reason:
        if ch.isupper() and word:
            words.append(word)
            word = ""
        word += ch
    return [*words, word]


async def test_a_crash_between_the_status_write_and_the_send_sends_it_once_on_restart(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    receiver: Receiver,
) -> None:
    _, client = env
    time = ManualTime()
    cfg = config(receiver.port)
    reconciler = RolloutReconciler(client, clock=time)
    crashed, _ = notifier(client, cfg)
    crashed.dispatch = lambda obj, entries: None  # type: ignore[method-assign]  # the process died here
    reconciler.applier.notifier = crashed
    await client.create(ROLLOUTS, rollout(("on-rollout-completed",)), NS)
    for _ in range(10):
        await reconciler.reconcile(KEY)
    assert len(await pending(client)) == 1 and receiver.requests == []
    # a new process: its first pass over the Rollout finds the owed notification and sends it, once
    restarted = RolloutReconciler(client, clock=time)
    restarted.applier.notifier, _ = notifier(client, cfg)
    for _ in range(5):
        await restarted.reconcile(KEY)
        await restarted.applier.notifier.idle()
    assert receiver.accepted() == ["on-rollout-completed"]
    assert await pending(client) == []


async def test_a_status_write_that_did_not_land_owes_nothing_until_the_transition_happens(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    receiver: Receiver,
) -> None:
    _, client = env
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    reconciler.applier.notifier, _ = notifier(client, config(receiver.port))
    real = reconciler.applier.write_status
    failures = {"left": 1}

    async def flaky(raw: dict[str, Any], status: Any) -> Any:
        if status.get("phase") == "Healthy" and failures["left"]:
            failures["left"] -= 1
            raise Conflict("the Rollout moved on")  # after the outbox write, before the status landed
        return await real(raw, status)

    reconciler.applier.write_status = flaky  # type: ignore[method-assign]
    await client.create(ROLLOUTS, rollout(("on-rollout-completed",)), NS)
    for _ in range(15):
        await reconciler.reconcile(KEY)
        await reconciler.applier.notifier.idle()
    assert failures["left"] == 0
    assert (await client.get(ROLLOUTS, "web", NS))["status"]["phase"] == "Healthy"
    assert receiver.accepted() == ["on-rollout-completed"]  # once, though decided twice
    assert await pending(client) == []


async def test_a_status_write_refused_because_someone_changed_the_status_owes_nothing(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    receiver: Receiver,
) -> None:
    """The 409 comes from a status change of someone else's (a CLI's status patch): the entry the refused pass
    wrote is for a transition that never happened; the re-decided pass owes its own, sent once."""
    _, client = env
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    reconciler.applier.notifier, _ = notifier(client, config(receiver.port))
    real = reconciler.applier.write_status
    failures = {"left": 1}

    async def refused(raw: dict[str, Any], status: Any) -> Any:
        if failures["left"] and await pending(client):  # after the outbox write, before the status write
            failures["left"] -= 1
            await client.patch(ROLLOUTS, "web", {"status": {"message": "edited"}}, NS, subresource="status")
            raise Conflict("the Rollout moved on")
        return await real(raw, status)

    reconciler.applier.write_status = refused  # type: ignore[method-assign]
    await client.create(ROLLOUTS, rollout(("on-rollout-completed",)), NS)
    for _ in range(15):
        await reconciler.reconcile(KEY)
        await reconciler.applier.notifier.idle()
    assert failures["left"] == 0
    assert (await client.get(ROLLOUTS, "web", NS))["status"]["phase"] == "Healthy"
    assert receiver.accepted() == ["on-rollout-completed"]
    assert await pending(client) == []


async def test_a_receiver_that_fails_is_retried_then_given_up_with_a_warning_event(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    receiver: Receiver,
) -> None:
    _, client = env
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    n, warned = notifier(client, config(receiver.port), attempts=3)
    reconciler.applier.notifier = n
    receiver.answers = [500, 503]  # then 200: delivered on the third attempt
    await client.create(ROLLOUTS, rollout(("on-rollout-updated",)), NS)
    await passes(reconciler, time, 10)
    await n.idle()
    assert [r["status"] for r in receiver.requests] == [500, 503, 200] and warned == []
    assert n.metrics.retries.labels("hooks")._value.get() == 2
    # now it answers 500 every time: given up after 3 attempts, said once, without the token
    receiver.answers = [500] * 10
    await set_image(client, "web:2")
    await passes(reconciler, time, 10)
    await n.idle()
    assert len(warned) == 1 and warned[0].startswith("NotificationFailed: notification on-rollout-updated")
    assert "after 3 attempts" in warned[0] and "500" in warned[0] and TOKEN not in warned[0]
    assert n.metrics.error.labels(NS, "web", "Normal", "RolloutUpdated")._value.get() == 1
    assert await pending(client) == []


async def test_a_receiver_that_is_down_or_slow_never_slows_the_rollout(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    receiver: Receiver,
) -> None:
    _, client = env
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    n, _ = notifier(client, config(receiver.port), timeout=30.0)
    reconciler.applier.notifier = n
    receiver.answers = [0] * 20
    receiver.slow = 3.0
    await client.create(ROLLOUTS, rollout(), NS)
    for _ in range(20):
        await reconciler.reconcile(KEY)
        if (await client.get(ROLLOUTS, "web", NS)).get("status", {}).get("phase") == "Healthy":
            break
        await asyncio.sleep(0.01)
    # Healthy while every notification is still waiting for the receiver's answer
    assert (await client.get(ROLLOUTS, "web", NS))["status"]["phase"] == "Healthy"
    assert receiver.requests == [] and n.busy >= 2
    await n.idle(within=10)
    assert sorted(receiver.accepted()) == sorted(
        ["on-rollout-updated", "on-rollout-completed"]
        + [t for t in receiver.accepted() if t == "on-scaling-replica-set"]
    )
    await n.stop()


def _direct(cfg: NotificationConfig) -> tuple[Notifier, list[dict[str, Any]], list[str]]:
    """A notifier whose annotation patches are recorded, not sent."""
    patches: list[dict[str, Any]] = []
    warned: list[str] = []

    async def patch(namespace: str, name: str, annotations: dict[str, Any]) -> None:
        patches.append(annotations)

    n = Notifier(
        Static(cfg),
        patch,
        warn_event=lambda obj, reason, message: warned.append(message),
        registry=CollectorRegistry(),
        options=NotifierOptions(backoff=0.01, timeout=5.0),
    )
    MADE[-1].append(n)
    return n, patches, warned


def _subscribed(value: str, trigger: str = "on-rollout-updated") -> dict[str, Any]:
    obj = rollout((trigger,))
    obj["metadata"].update(namespace=NS, uid="u-1")
    obj["metadata"]["annotations"] = {f"notifications.argoproj.io/subscribe.{trigger}.hooks": value}
    obj["status"] = {"phase": "Progressing"}
    return obj


async def test_once_per_sends_once_however_the_deliveries_race(receiver: Receiver) -> None:
    """Two destinations delivered at once, and the same oncePer value owed again before the first send was
    recorded on the Rollout: each destination told once, and the ledger written holds both."""
    cfg = config(receiver.port)
    once = "rollout.spec.template.spec.containers[0].image"
    cfg.triggers["on-rollout-updated"] = (replace(cfg.triggers["on-rollout-updated"][0], once_per=once),)
    n, patches, _ = _direct(cfg)
    obj = _subscribed("a;b")
    first = n.prepare(obj, [("Normal", "RolloutUpdated", "Rollout updated to revision 2")], no_status=False)
    again = n.prepare(obj, [("Normal", "RolloutUpdated", "Rollout updated to revision 3")], no_status=False)
    assert len(first) == len(again) == 2
    n.dispatch(obj, first)
    n.dispatch(obj, again)  # the same snapshot: its ledger does not have the first sends yet
    await n.idle()
    assert receiver.accepted() == ["on-rollout-updated", "on-rollout-updated"]
    ledgers = [json.loads(p[NOTIFIED_ANNOTATION]) for p in patches if NOTIFIED_ANNOTATION in p]
    assert len(ledgers[-1]) == 2


async def test_a_condition_error_quoting_a_secret_is_said_redacted(receiver: Receiver) -> None:
    cfg = config(receiver.port)
    cfg.triggers["on-rollout-updated"] = (
        replace(cfg.triggers["on-rollout-updated"][0], when="int(secrets.token) > 0"),
    )
    n, _, _ = _direct(cfg)
    said: list[str] = []
    sink = logger.add(lambda m: said.append(str(m)), level="WARNING")
    try:
        n.prepare(_subscribed(""), [("Normal", "RolloutUpdated", "revision 2")], no_status=False)
    finally:
        logger.remove(sink)
    assert said and "strconv.Atoi" in said[0] and TOKEN not in "".join(said)


async def test_too_many_destinations_never_overflow_the_rollouts_annotations(receiver: Receiver) -> None:
    n, _, _ = _direct(config(receiver.port))
    obj = _subscribed(";".join(f"recipient-{i}" for i in range(900)))
    owed = n.prepare(obj, [("Normal", "RolloutUpdated", "revision 2")], no_status=False)
    assert 0 < len(owed) < 900
    assert sum(len(e.annotation) + len(e.encode()) for e in owed) <= MAX_OUTBOX_BYTES
    assert n.metrics.dropped.labels("outbox_full")._value.get() == 900 - len(owed)
    # what is already written stays owed, however full
    written = {**obj["metadata"]["annotations"], **{e.annotation: e.encode() for e in owed}}
    full = {**obj, "metadata": {**obj["metadata"], "annotations": written}}
    again = n.prepare(full, [("Normal", "RolloutUpdated", "revision 2")], no_status=False)
    assert [e.id for e in again] == [e.id for e in owed]


async def test_a_fault_while_sending_is_given_up_once_not_raised(receiver: Receiver) -> None:
    n, patches, warned = _direct(config(receiver.port))
    obj = _subscribed("")
    owed = n.prepare(obj, [("Normal", "RolloutUpdated", "revision 2")], no_status=False)

    def broken(*args: Any) -> Any:
        raise RuntimeError(f"a bug near {TOKEN}")

    n._render = broken  # type: ignore[method-assign]
    n.dispatch(obj, owed)
    await n.idle()
    assert len(warned) == 1 and "RuntimeError" in warned[0] and TOKEN not in warned[0]
    assert patches == [{owed[0].annotation: None}]
