"""The demo's orchestration: start everything, release versions, watch, summarise, stop everything.

observe → decide → apply runs in the controller *process*, against the sandbox over HTTP with the kubeconfig
the sandbox wrote — exactly as in a cluster. This module only plays the person at the keyboard (applying
manifests, `set image`, `promote`) and the parts of a cluster that are not Kubernetes (the mesh's traffic
split, the application's versions, Prometheus). It reads the sandbox's store directly to route traffic and to
record what happened (weights, phases), and draws the plugin's `get rollout` tree while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from rollouts.demo.notifying import CONTROLLER_NAMESPACE, WebhookPrinter
from rollouts.demo.prometheus import PrometheusProcess, free_port
from rollouts.demo.traffic import BAD, GOOD, LoadGenerator, Profile, Target, VersionServer
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.errors import KubeError
from rollouts.kube.resources import RESOURCES, ROLLOUTS
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL
from rollouts.plugin.fetching import read_tree
from rollouts.plugin.info import build_rollout_info
from rollouts.plugin.render import render_rollout
from rollouts.sandbox import Sandbox

Obj = dict[str, Any]
NAMESPACE = "production"

API_IMAGE = "myregistry.com/api-server"
WEB_IMAGE = "myregistry.com/web-frontend"
# The versions the demo releases, and how each behaves.
VERSIONS: dict[str, Profile] = {
    f"{API_IMAGE}:v2.0.0": GOOD,  # the guide's version: deployed first, becomes the stable one
    f"{API_IMAGE}:v2.1.0": GOOD,  # a good release: promoted step by step
    f"{API_IMAGE}:v2.2.0": BAD,  # a bad release: 20 % errors, slow — analysis aborts it
    f"{WEB_IMAGE}:v3.0.0": GOOD,
    f"{WEB_IMAGE}:v3.1.0": GOOD,
}
SERVICES = {
    "api-server": ("api-server-stable", "api-server-canary"),
    "web-frontend": ("web-frontend-active", "web-frontend-preview"),
}
SCENARIOS = ("canary", "bad-canary", "experiment", "bluegreen")


@dataclass
class Settings:
    scenario: str = "all"
    speed: float = 30.0
    keep: bool = False
    color: bool = True
    live: bool = True
    console: Console | None = None
    pod_ready_delay: float = 0.5
    timeout: float = 600.0  # per scenario, in seconds


@dataclass
class Moment:
    """One line of the story: seconds since the demo started, what happened."""

    at: float
    text: str


@dataclass
class Outcome:
    scenario: str
    rollout: str
    release: str
    phase: str
    ok: bool
    message: str
    weights: list[int] = field(default_factory=list)
    seconds: float = 0.0
    snapshot: Obj = field(default_factory=dict)  # the Rollout when the verdict was reached


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    story: list[Moment] = field(default_factory=list)
    objects: dict[str, Obj] = field(default_factory=dict)  # "Kind/name" -> object as left in the sandbox
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)

    def to_json(self) -> Obj:
        return {
            "ok": self.ok,
            "outcomes": [o.__dict__ for o in self.outcomes],
            "story": [m.__dict__ for m in self.story],
            "objects": self.objects,
            "urls": self.urls,
        }


class Demo:
    """Everything the demo starts, in one place, so that `stop()` can always stop all of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.console = settings.console or Console(no_color=not settings.color, highlight=False)
        self.workdir = Path(tempfile.mkdtemp(prefix="rollouts-demo-"))
        self.report = Report()
        self.started = time.monotonic()
        self.sandbox = Sandbox(pod_ready_delay=settings.pod_ready_delay, seed=7)
        self.versions: dict[str, VersionServer] = {}
        self.prometheus: PrometheusProcess | None = None
        self.controller: subprocess.Popen[bytes] | None = None
        self.client: KubeClient | None = None
        self.loads: list[LoadGenerator] = []
        self.fronts: dict[str, Any] = {}
        self.metrics_url = ""
        self.webhook = WebhookPrinter(self.say)  # the notifications' receiver (`notifying`)
        self._dashboard_stop = asyncio.Event()
        self._dashboard_task: asyncio.Task[None] | None = None
        self._dashboard_client: KubeClient | None = None

    # ------------------------------------------------------------------ lifecycle
    def say(self, text: str) -> None:
        at = time.monotonic() - self.started
        self.report.story.append(Moment(round(at, 1), text))
        self.console.print(Text.assemble((f"[{_clock(at)}] ", "dim"), text))

    async def start(self) -> None:
        for image, profile in VERSIONS.items():
            app = image.rsplit("/", 1)[1].split(":")[0]
            server = VersionServer(app, image.rsplit(":", 1)[1], profile, services=SERVICES[app])
            await server.start()
            self.versions[image] = server
        self.prometheus = PrometheusProcess([f"127.0.0.1:{v.port}" for v in self.versions.values()])
        await asyncio.to_thread(self.prometheus.start)
        await self.sandbox.start_async()
        await self.webhook.start()
        for doc in self.webhook.config_objects():  # before the controller starts: it reads them at once
            self.sandbox.create(doc, CONTROLLER_NAMESPACE)
        kubeconfig = self.sandbox.write_kubeconfig(self.workdir / "kubeconfig")
        metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        log = (self.workdir / "controller.log").open("wb")
        self.controller = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
            [sys.executable, "-m", "rollouts.cli", "controller", "--kubeconfig", str(kubeconfig),
             "--no-leader-elect", "--metrics-port", str(metrics_port), "--healthz-port", "0",
             "--bind", "127.0.0.1", "--log-level", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "POD_NAMESPACE": CONTROLLER_NAMESPACE},
        )  # fmt: skip
        self.client = KubeClient(settings_for_url(self.sandbox.url, NAMESPACE))
        dashboard_url = await self._start_dashboard()
        self.report.urls = {
            "kubeconfig": str(kubeconfig),
            "prometheus": self.prometheus.url,
            "metrics": self.metrics_url,
            "controller_log": str(self.workdir / "controller.log"),
            "webhook": f"http://127.0.0.1:{self.webhook.port}",
            "dashboard": dashboard_url,
        }
        self.console.print(
            Text.assemble(
                ("Sandbox API server  ", "bold"), self.sandbox.url, "\n",
                ("kubeconfig          ", "bold"), str(kubeconfig), "\n",
                ("Prometheus          ", "bold"), self.prometheus.url, "\n",
                ("controller metrics  ", "bold"), self.metrics_url, "\n",
                ("dashboard           ", "bold"), dashboard_url, "\n",
                ("watch along         ", "bold"),
                f"{_plugin_command()} --kubeconfig {kubeconfig} -n {NAMESPACE} get rollout api-server -w",
            )
        )  # fmt: skip

    async def _start_dashboard(self) -> str:
        """`kubectl rollouts dashboard` on the sandbox, on a free loopback port, for the demo's namespace."""
        from rollouts.dashboard.command import serve

        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._dashboard_client = KubeClient(settings_for_url(self.sandbox.url, NAMESPACE))
        self._dashboard_task = asyncio.create_task(
            serve(
                self._dashboard_client,
                namespace=NAMESPACE,
                all_namespaces=False,
                context="sandbox",
                address="127.0.0.1",
                port=0,
                ready=ready,
                stop=self._dashboard_stop,
            )
        )
        return await asyncio.wait_for(ready, 30)

    async def stop(self, keep_logs: bool = False) -> None:
        """Stop everything that was started; the work directory (kubeconfig, controller log) goes too, unless
        `keep_logs` (a scenario failed: the controller's log is the first thing to read)."""
        for load in self.loads:
            await load.stop()
        for front in self.fronts.values():
            await front.stop()
        if self.controller is not None and self.controller.poll() is None:
            self.controller.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.controller.wait, 10)
            except subprocess.TimeoutExpired:
                self.controller.kill()
                await asyncio.to_thread(self.controller.wait)
        if self._dashboard_task is not None:
            self._dashboard_stop.set()
            with contextlib.suppress(Exception):
                await self._dashboard_task
        if self._dashboard_client is not None:
            await self._dashboard_client.close()
        if self.client is not None:
            await self.client.close()
        await self.webhook.stop()
        with contextlib.suppress(Exception):
            await self.sandbox.stop_async()
        if self.prometheus is not None:
            await asyncio.to_thread(self.prometheus.stop)
        for server in self.versions.values():
            await server.stop()
        if keep_logs:
            self.console.print(f"the controller's log is kept in {self.workdir / 'controller.log'}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def controller_failed(self) -> str | None:
        if self.controller is not None and self.controller.poll() is not None:
            log = (self.workdir / "controller.log").read_text(errors="replace").strip().splitlines()
            tail = "\n".join(log[-15:])
            return f"the controller exited with status {self.controller.returncode}:\n{tail}"
        return None

    # ------------------------------------------------------------------ the cluster as the demo sees it
    def obj(self, kind: str, name: str) -> Obj | None:
        rt = RESOURCES[kind]
        return self.sandbox.get(rt.api_version, kind, name, NAMESPACE)

    def _version_behind(self, service: str) -> VersionServer | None:
        svc = self.obj("Service", service)
        if svc is None:
            return None
        selector = (svc.get("spec") or {}).get("selector") or {}
        pod_hash = selector.get(POD_TEMPLATE_HASH_LABEL)
        app = selector.get("app")
        for rs in self.sandbox.list("apps/v1", "ReplicaSet", NAMESPACE, f"app={app}" if app else None):
            labels = (rs.get("metadata") or {}).get("labels") or {}
            if pod_hash is None or labels.get(POD_TEMPLATE_HASH_LABEL) == pod_hash:
                containers = (((rs.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                    "containers"
                )
                image = (containers or [{}])[0].get("image", "")
                if pod_hash is not None or (rs.get("status") or {}).get("availableReplicas"):
                    return self.versions.get(image)
        return None

    def canary_weights(self) -> dict[str, int]:
        """The `primary` route's weights, by destination host (what the mesh would do)."""
        vs = self.obj("VirtualService", "api-server-vsvc") or {}
        weights: dict[str, int] = {}
        for route in (vs.get("spec") or {}).get("http") or []:
            if route.get("name") == "primary":
                for dest in route.get("route") or []:
                    host = str((dest.get("destination") or {}).get("host", "")).split(".")[0]
                    weights[host] = int(dest.get("weight") or 0)
        return weights

    def api_routes(self) -> list[Target]:
        targets = []
        for service, weight in self.canary_weights().items():
            version = self._version_behind(service)
            if version is not None:
                targets.append(Target(service, version.url, weight))
        return targets

    def web_routes(self) -> list[Target]:
        version = self._version_behind("web-frontend-active")
        return [Target("web-frontend-active", version.url, 100)] if version else []

    # ------------------------------------------------------------------ actions of the person at the keyboard
    async def apply(self, doc: Obj) -> None:
        assert self.client is not None
        kind = doc["kind"]
        rt = RESOURCES[kind]
        doc.setdefault("metadata", {})["namespace"] = NAMESPACE
        await self.client.create(rt, doc, NAMESPACE if rt.namespaced else None)

    async def set_image(self, rollout: str, container: str, image: str) -> None:
        assert self.client is not None
        ro = await self.client.get(ROLLOUTS, rollout, NAMESPACE)
        containers = ro["spec"]["template"]["spec"]["containers"]
        patched = [dict(c, image=image) if c["name"] == container else c for c in containers]
        await self.client.patch(
            ROLLOUTS, rollout, {"spec": {"template": {"spec": {"containers": patched}}}}, NAMESPACE
        )

    async def promote(self, rollout: str) -> None:
        assert self.client is not None
        await self.client.patch_status(ROLLOUTS, rollout, {"status": {"pauseConditions": None}}, NAMESPACE)

    # ------------------------------------------------------------------ watching
    async def view(self, rollout: str) -> Text:
        assert self.client is not None
        try:
            tree = await read_tree(self.client, NAMESPACE, rollout)
        except KubeError as e:
            return Text(f"{rollout}: {e}")
        ro, rss, pods, runs, experiments = tree.lists()
        info = build_rollout_info(ro, rss, pods, runs, _utcnow(), experiments)
        return render_rollout(info)

    async def wait_for(
        self,
        rollout: str,
        done: Callable[[Obj], str | None],
        on_tick: Callable[[Obj], None] | None = None,
    ) -> tuple[Obj, str]:
        """Poll the rollout (and redraw its tree) until `done(rollout)` returns a verdict."""
        deadline = time.monotonic() + self.settings.timeout
        live = (
            Live(console=self.console, refresh_per_second=4, transient=True) if self.settings.live else None
        )
        last_draw = 0.0
        with live if live is not None else contextlib.nullcontext():
            while True:
                failure = self.controller_failed()
                if failure:
                    raise DemoError(failure)
                ro = self.obj("Rollout", rollout) or {}
                if on_tick is not None:
                    on_tick(ro)
                verdict = done(ro)
                if verdict is not None:
                    return ro, verdict
                if time.monotonic() > deadline:
                    raise DemoError(f"rollout {rollout!r} did not finish within {self.settings.timeout:.0f}s")
                if live is not None and time.monotonic() - last_draw > 0.5:
                    last_draw = time.monotonic()
                    live.update(Group(await self.view(rollout)))
                await asyncio.sleep(0.1)


class DemoError(RuntimeError):
    """The demo could not reach the end of a scenario (the message says why)."""


def _plugin_command() -> str:
    """`kubectl rollouts` when the plugin is on PATH, else the installed program by its path."""
    if shutil.which("kubectl") and shutil.which("kubectl-rollouts"):
        return "kubectl rollouts"
    return str(Path(sys.executable).parent / "rollouts")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def settled(ro: Obj, image: str) -> bool:
    """The controller has seen the release: the new template is observed and its pods are being rolled."""
    status = ro.get("status") or {}
    containers = ((ro.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
    return containers[0].get("image") == image and str(status.get("observedGeneration")) == str(
        (ro.get("metadata") or {}).get("generation")
    )
