"""Notifications from the whole controller: the config read from its ConfigMap and Secret (watched: an edit
takes effect without a restart), and a controller process killed while its notification was at the receiver
(the next process sends it again with the same id, once)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rollouts.kube.resources import CONFIG_MAPS, ROLLOUTS, SECRETS
from rollouts.notifications.outbox import PENDING_PREFIX
from rollouts.sandbox import Sandbox
from tests.controller.driving import running_controller
from tests.controller.processes import controllers, wait

CONTROLLER_NS = "argo-rollouts"
NS = "shop"
TOKEN = "hook-token-77d1e0"


class Hook:
    """A webhook receiver in a thread (the controller may be another process); `hold` makes each request wait
    until `release` is set, as a receiver that is slow to answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hold = False
        self.release = threading.Event()
        self.entered = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.entered.set()
                if hook.hold:
                    hook.release.wait(30)
                hook.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"null")}
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def config_objects(port: int, message: str = "completed") -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argo-rollouts-notification-configmap", "namespace": CONTROLLER_NS},
            "data": {
                "service.webhook.hooks": f"url: http://127.0.0.1:{port}\n"
                "headers:\n- name: Authorization\n  value: Bearer $hook-token\n",
                "template.done": "webhook:\n  hooks:\n    method: POST\n    path: /{{.rollout.metadata.name}}\n"
                "    body: |\n"
                f'      {{"text": "{message} '
                '{{index .rollout.metadata.annotations "rollout.argoproj.io/revision"}}"}\n',
                "trigger.on-rollout-completed": "- send: [done]\n",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argo-rollouts-notification-secret", "namespace": CONTROLLER_NS},
            "data": {"hook-token": base64.b64encode(TOKEN.encode()).decode()},
        },
    ]


def rollout(image: str = "web:1") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "web",
            "namespace": NS,
            "annotations": {"notifications.argoproj.io/subscribe.on-rollout-completed.hooks": ""},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }


def owed(sandbox: Sandbox) -> list[str]:
    ro = sandbox.get(ROLLOUTS.api_version, "Rollout", "web", NS) or {}
    return [k for k in (ro.get("metadata") or {}).get("annotations") or {} if k.startswith(PENDING_PREFIX)]


async def test_the_config_is_read_from_its_configmap_and_reloaded_on_edit(
    async_sandbox: Sandbox, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", CONTROLLER_NS)
    async with running_controller(async_sandbox.url) as client:
        for doc in config_objects(hook.port, "completed"):
            await client.create(CONFIG_MAPS if doc["kind"] == "ConfigMap" else SECRETS, doc, CONTROLLER_NS)
        await client.create(ROLLOUTS, rollout(), NS)
        await _until(lambda: len(hook.requests) == 1)
        assert hook.requests[0]["body"] == {"text": "completed 1"}
        assert hook.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
        # the administrator edits the template: the next notification says the new words, no restart
        cm = await client.get(CONFIG_MAPS, "argo-rollouts-notification-configmap", CONTROLLER_NS)
        cm["data"] = config_objects(hook.port, "done, revision")[0]["data"]
        await client.replace(CONFIG_MAPS, cm, CONTROLLER_NS)
        await asyncio_sleep(0.5)
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}}
        await client.patch(ROLLOUTS, "web", patch, NS)
        await _until(lambda: len(hook.requests) == 2, 30)
        assert hook.requests[1]["body"] == {"text": "done, revision 2"}
        await _until(lambda: not owed(async_sandbox))


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def _until(cond: Any, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio_sleep(0.05)


@pytest.mark.slow
def test_a_controller_killed_while_its_notification_was_at_the_receiver(
    sandbox: Sandbox, hook: Hook, tmp_path: Path
) -> None:
    """The first process dies (SIGKILL) while the receiver holds its request: it never learns the answer. The
    next process finds the entry still owed on the Rollout and sends it again, with the same id, once."""
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kc")
    for doc in config_objects(hook.port):
        sandbox.create(doc, CONTROLLER_NS)
    sandbox.create(rollout(), NS)
    hook.hold = True
    env = {"POD_NAMESPACE": CONTROLLER_NS}
    with controllers(kubeconfig, "first", args=("--no-leader-elect",), env=env) as (first,):
        assert hook.entered.wait(30), "the first controller never sent"
        first.process.kill()
        first.process.wait(10)
    assert len(owed(sandbox)) == 1  # still owed: the sender died before the answer
    hook.release.set()
    assert wait(lambda: len(hook.requests) == 1, 10)
    with controllers(kubeconfig, "second", args=("--no-leader-elect",), env=env):
        assert wait(lambda: len(hook.requests) == 2 and not owed(sandbox), 30), hook.requests
        time.sleep(2.0)  # passes go on: nothing more is sent
    first_id, second_id = (r["headers"]["X-Rollouts-Notification-Id"] for r in hook.requests)
    assert first_id == second_id and len(hook.requests) == 2
    assert hook.requests[0]["body"] == hook.requests[1]["body"] == {"text": "completed 1"}
