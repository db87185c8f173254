"""The dashboard's HTTP server: the page (static files shipped in the package), the JSON it reads, a
Server-Sent Events stream of changes, and the actions (docs/dashboard.md).

    GET  /                                              the page (index.html, app.js, app.css)
    GET  /api/v1/context                                kubeconfig context, namespace, all-namespaces
    GET  /api/v1/rollouts?namespace=NS                  the list
    GET  /api/v1/namespaces/NS/rollouts/NAME            a rollout
    GET  /api/v1/namespaces/NS/analysisruns/NAME        an analysis run, each metric with its chart (SVG)
    GET  /api/v1/events?namespace=NS                    text/event-stream: `change` events from the watches
    POST /api/v1/namespaces/NS/rollouts/NAME/actions/A  promote, promote-full, abort, retry, pause, restart,
                                                        set-image ({"container", "image"})

Actions run the plugin's own code (`rollouts.plugin.mutating`) with the user's kubeconfig credentials; a
refusal of the API server comes back with its status and sentence (403: "Not allowed: …"). The server
answers only requests whose `Host` is the address it listens on (or `localhost`), and takes actions only as
`application/json` from its own origin: a web page on another site can neither read the dashboard through a
DNS name pointed at 127.0.0.1 nor make the browser press its buttons.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

from aiohttp import web
from loguru import logger

from rollouts.dashboard.data import ACTIONS, Cluster
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import Forbidden, KubeError, NotFound
from rollouts.plugin import mutating
from rollouts.plugin.intents import IntentError
from rollouts.plugin.session import PluginError

STATIC = resources.files("rollouts.dashboard") / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
DEBOUNCE = 0.1  # seconds: changes seen together go to the page as one batch
MAX_WAITING = 1000  # changes waiting for one page; past it the page is told to reload everything


class Dashboard:
    def __init__(
        self,
        client: KubeClient,
        cluster: Cluster,
        *,
        namespace: str,
        all_namespaces: bool,
        context: str,
        host: str,
        port: int,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.namespace = namespace
        self.all_namespaces = all_namespaces
        self.context = context
        self.host = host
        self.port = port
        self.app = web.Application(middlewares=[self._guard])
        r = self.app.router
        r.add_get("/", self.index)
        r.add_get("/static/{name}", self.static)
        r.add_get("/api/v1/context", self.context_view)
        r.add_get("/api/v1/rollouts", self.rollouts)
        r.add_get("/api/v1/namespaces/{ns}/rollouts/{name}", self.rollout)
        r.add_get("/api/v1/namespaces/{ns}/analysisruns/{name}", self.analysis_run)
        r.add_get("/api/v1/events", self.events)
        r.add_post("/api/v1/namespaces/{ns}/rollouts/{name}/actions/{action}", self.action)

    # ------------------------------------------------------------------------------------------ guards

    def _allowed_hosts(self, port: int) -> set[str]:
        names = {self.host, "localhost", "127.0.0.1", "[::1]"}
        return {f"{h}:{port}" for h in names} | names

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        port = (
            self.port or (request.transport.get_extra_info("sockname") or ("", 0))[1]
            if request.transport
            else 0
        )
        if self.host not in ("0.0.0.0", "::") and request.host not in self._allowed_hosts(port):
            return _error(421, f"this dashboard answers requests for {self.host}:{port}, not {request.host}")
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin is not None and origin.split("://", 1)[-1] != request.host:
                return _error(403, f"actions are taken only from the dashboard's own page, not from {origin}")
            if request.content_type != "application/json":
                return _error(415, "actions are sent as application/json")
        return await handler(request)

    # ------------------------------------------------------------------------------------------- pages

    async def index(self, request: web.Request) -> web.StreamResponse:
        return await self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return await self._file(request.match_info["name"])

    async def _file(self, name: str) -> web.StreamResponse:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or ".." in name or suffix not in CONTENT_TYPES:
            return _error(404, f"no such file: {name}")
        path = STATIC / name
        if not path.is_file():
            return _error(404, f"no such file: {name}")
        return web.Response(
            body=path.read_bytes(),
            content_type=CONTENT_TYPES[suffix],
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # -------------------------------------------------------------------------------------------- JSON

    def _namespace(self, request: web.Request) -> str | None:
        asked = request.query.get("namespace")
        if asked:
            return asked
        return None if self.all_namespaces else self.namespace

    async def context_view(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "context": self.context,
                "namespace": "" if self.all_namespaces else self.namespace,
                "allNamespaces": self.all_namespaces,
                "readOnly": False,
            }
        )

    async def rollouts(self, request: web.Request) -> web.Response:
        return web.json_response(self.cluster.list_view(self._namespace(request)))

    async def rollout(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        view = self.cluster.rollout_view(ns, name)
        if view is None:
            return _error(404, f'rollouts.argoproj.io "{name}" not found in namespace {ns}')
        return web.json_response(view)

    async def analysis_run(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        view = self.cluster.run_view(ns, name)
        if view is None:
            return _error(404, f'analysisruns.argoproj.io "{name}" not found in namespace {ns}')
        return web.json_response(view)

    # ------------------------------------------------------------------------------------------ events

    async def events(self, request: web.Request) -> web.StreamResponse:
        """`change` events (JSON: kind, namespace, name, rollout) for the namespace asked; `reload` when the
        page fell too far behind. A comment line every 15 s keeps proxies from closing the stream."""
        namespace = self._namespace(request)
        waiting: list[dict[str, Any]] = []
        overflow = False
        wake = asyncio.Event()

        def listener(change: dict[str, Any]) -> None:
            nonlocal overflow
            if namespace and change.get("namespace") != namespace:
                return
            if len(waiting) >= MAX_WAITING:
                overflow = True
            else:
                waiting.append(change)
            wake.set()

        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        self.cluster.listeners.add(listener)
        try:
            await response.write(b"retry: 2000\n\n")
            while True:
                try:
                    await asyncio.wait_for(wake.wait(), 15.0)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await asyncio.sleep(DEBOUNCE)
                wake.clear()
                batch, waiting[:] = list(waiting), []
                if overflow:
                    overflow = False
                    await response.write(b"event: reload\ndata: {}\n\n")
                    continue
                seen: set[tuple[str, str, str]] = set()
                for change in batch:
                    key = (change["kind"], change["namespace"], change["name"])
                    if key in seen:
                        continue
                    seen.add(key)
                    await response.write(f"event: change\ndata: {json.dumps(change)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.cluster.listeners.discard(listener)
        return response

    # ----------------------------------------------------------------------------------------- actions

    async def action(self, request: web.Request) -> web.Response:
        ns, name, action = request.match_info["ns"], request.match_info["name"], request.match_info["action"]
        if action not in ACTIONS:
            return _error(404, f"no action {action!r}; the actions are {', '.join(ACTIONS)}")
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return _error(400, "the request body is not JSON")
        body = body if isinstance(body, Mapping) else {}
        try:
            message = await self._run(action, ns, name, body)
        except Forbidden as e:
            return _error(403, f"Not allowed: {_said(e)}")
        except NotFound:
            return _error(404, f'rollouts.argoproj.io "{name}" not found')
        except KubeError as e:
            return _error(e.status or 502, _said(e))
        except (IntentError, PluginError, ValueError) as e:
            said = str(getattr(e, "message", None) or e)
            return _error(404 if said.endswith(" not found") else 400, said)
        logger.info("dashboard: {} {}/{}: {}", action, ns, name, message)
        return web.json_response({"message": message})

    async def _run(self, action: str, ns: str, name: str, body: Mapping[str, Any]) -> str:
        c = self.client
        if action == "promote":
            return await mutating.promote_rollout(c, ns, name)
        if action == "promote-full":
            return await mutating.promote_rollout(c, ns, name, full=True)
        if action == "abort":
            return await mutating.abort_rollout(c, ns, name)
        if action == "retry":
            return await mutating.retry_a_rollout(c, ns, name)
        if action == "pause":
            return await mutating.pause_rollout(c, ns, name)
        if action == "restart":
            return await mutating.restart_rollout(c, ns, name)
        container, image = str(body.get("container") or ""), str(body.get("image") or "")
        if not container or not image:
            raise ValueError("set-image needs a container and an image")
        return await mutating.set_rollout_image(c, ns, name, container, image)


def _said(e: KubeError) -> str:
    message = e.body.get("message") if isinstance(e.body, dict) else None
    return str(message or e.message)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
