"""The demo's notification: a webhook on loopback that prints what it receives, and the notification config
that points the controller at it (the ConfigMap and Secret an administrator writes, in the controller's
namespace), so that the bad canary's abort is seen arriving as a team's chat would see it.

The api-server Rollout subscribes as a user would, with Argo's annotation
`notifications.argoproj.io/subscribe.on-rollout-aborted.demo-webhook: ""`; the template is Argo's catalog
`rollout-aborted` with a webhook section added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

CONTROLLER_NAMESPACE = "argo-rollouts"
SUBSCRIPTION = "notifications.argoproj.io/subscribe.on-rollout-aborted.demo-webhook"
TOKEN = "demo-webhook-token"

TEMPLATE = """\
message: Rollout {{.rollout.metadata.name}} has been aborted.
webhook:
  demo-webhook:
    method: POST
    path: /rollouts/{{.rollout.metadata.name}}
    body: |
      {"text": "Rollout {{.rollout.metadata.name}} has been aborted.", "message": {{toJson .rollout.status.message}}}
"""


class WebhookPrinter:
    """The receiver: each request is said in the demo's story and kept."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.received: list[dict[str, Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        authorized = request.headers.get("Authorization") == f"Bearer {TOKEN}"
        self.received.append({"path": request.path, "body": body, "authorized": authorized})
        shown = body.get("text") if isinstance(body, dict) else text
        self.say(f"webhook received {request.method} {request.path}: {shown}")
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def config_objects(self) -> list[dict[str, Any]]:
        """The ConfigMap and Secret in the controller's namespace."""
        service = (
            f"url: http://127.0.0.1:{self.port}\n"
            "headers:\n- name: Content-Type\n  value: application/json\n"
            "- name: Authorization\n  value: Bearer $webhook-token\n"
        )
        return [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "argo-rollouts-notification-configmap",
                    "namespace": CONTROLLER_NAMESPACE,
                },
                "data": {
                    "service.webhook.demo-webhook": service,
                    "template.rollout-aborted": TEMPLATE,
                    "trigger.on-rollout-aborted": "- send: [rollout-aborted]\n",
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "argo-rollouts-notification-secret", "namespace": CONTROLLER_NAMESPACE},
                "data": {"webhook-token": base64.b64encode(TOKEN.encode()).decode()},
            },
        ]

    def aborts_of(self, rollout: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == f"/rollouts/{rollout}"]
