"""The sandbox as an object: start it (in a background thread or in the running loop), use it, stop it.

Where it sits: the outermost layer, used by tests (`tests/fixtures/sandbox.py`), by `rollouts sandbox`
(`cli.py`) and by `rollouts demo`. It owns the aiohttp server, the store, the simulator, the faults and the
request log, and exposes thread-safe helpers so synchronous tests can read and write objects directly.

    with Sandbox(pod_ready_delay=0.05) as sb:           # background thread, port 0
        sb.url, sb.kubeconfig_path                      # e.g. http://127.0.0.1:40123, /tmp/…/kubeconfig
        sb.requests.count(verb="patch", resource="rollouts")

    async with Sandbox() as sb:                         # in the running loop (async tests)
        ...
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import fields
from dataclasses import replace as with_changes
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from rollouts.sandbox import errors, exposing
from rollouts.sandbox.crds import _default_crds
from rollouts.sandbox.faults import Faults, RequestLog
from rollouts.sandbox.guarding import Connections, GuardedSite
from rollouts.sandbox.limits import MAX_REQUEST_BYTES
from rollouts.sandbox.persisting import load_state, save_state
from rollouts.sandbox.resources import CRD_KEY
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.serving import Api
from rollouts.sandbox.simulating import Simulator
from rollouts.sandbox.storeview import Obj
from rollouts.sandbox.storing import Store
from rollouts.sandbox.view import SandboxOptions
from rollouts.sandbox.watching import Watcher

T = TypeVar("T")
log = logging.getLogger(__name__)


class Sandbox:
    """An embedded Kubernetes API server on loopback, with a workload simulator."""

    def __init__(self, options: SandboxOptions | None = None, **overrides: Any) -> None:
        names = {f.name for f in fields(SandboxOptions)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown sandbox option(s) {unknown}; valid: {sorted(names)}")
        opts = with_changes(options or SandboxOptions(), **overrides)  # the caller's options stay as given
        if isinstance(opts.faults, dict):
            opts.faults = Faults(**opts.faults)
        self.options = opts
        self.faults: Faults = opts.faults
        self.requests = RequestLog(opts.request_log_size)
        self.store = Store(
            history=opts.history,
            seed=opts.seed,
            auto_namespaces=opts.auto_namespaces,
            watch_buffer_events=opts.watch_buffer_events,
            watch_buffer_bytes=opts.watch_buffer_bytes,
        )
        if opts.install_crds:
            ext = self.store.registry.preferred(*CRD_KEY)
            assert ext is not None
            for crd in _default_crds():
                self.store.create(ext, "", crd, internal=True)
        if opts.state_file is not None and Path(opts.state_file).exists():
            load_state(self.store, Path(opts.state_file))
        self.simulator = (
            Simulator(
                self.store,
                pod_ready_delay=opts.pod_ready_delay,
                job_duration=opts.job_duration,
                time_scale=opts.time_scale,
            )
            if opts.simulate
            else None
        )
        self.watchers: set[Watcher] = set()
        self.connections = Connections(
            max_connections=opts.max_connections,
            header_timeout=opts.header_timeout,
            refusals=self.store.counters,
        )
        self.trim_pending: asyncio.TimerHandle | None = None  # see streaming: freed memory goes back, once
        # Whether the server listens beyond loopback (then it warns, and hides Secret data from admin views).
        self.exposed = not exposing.is_loopback(opts.host)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._kubeconfig: Path | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the sandbox is not started: call start() or use it as a context manager")
        host = exposing.advertised_host(self.options.host, self.options.advertise_host)
        return f"http://{exposing.url_host(host)}:{self.port}"

    async def start_async(self) -> Sandbox:
        """Serve from the running event loop (for async code and tests)."""
        self.loop = asyncio.get_running_loop()
        # aiohttp refuses a body of client_max_size bytes or more; the API server accepts exactly 3 MiB.
        app = web.Application(client_max_size=MAX_REQUEST_BYTES + 1)
        app.router.add_route("*", r"/{tail:[\s\S]*}", Api(self).handle)  # newlines too
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.5,
            keepalive_timeout=self.options.idle_timeout,
        )
        await self._runner.setup()
        site = GuardedSite(self._runner, self.options.host, self.options.port, self.connections)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = int(site.sockets[0].getsockname()[1])
        if self.exposed:
            log.warning("%s", exposing.warning(self.options.host, self.port, self.url))
        if self.simulator is not None:
            self.simulator.start(self.loop)
        return self

    async def stop_async(self) -> None:
        self.connections.close()
        if self.trim_pending is not None:
            self.trim_pending.cancel()
            self.trim_pending = None
        if self.simulator is not None:
            self.simulator.stop()
        for w in list(self.watchers):
            w.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.options.state_file is not None:
            save_state(self.store, Path(self.options.state_file))
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def start(self) -> Sandbox:
        """Serve from a background thread with its own event loop (for synchronous code and tests)."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as e:
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"sandbox-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Sandbox:
        return await self.start_async()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    # ------------------------------------------------------------------ client configuration
    def kubeconfig(self, context: str = "sandbox", namespace: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": "sandbox"}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
            ],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path, context: str = "sandbox") -> Path:
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(self.kubeconfig(context), sort_keys=False))
        tmp.replace(path)  # atomic: a kubectl started meanwhile never reads half a file
        return path

    @property
    def kubeconfig_path(self) -> Path:
        """A kubeconfig for this sandbox, written on first use to a temporary directory removed at stop."""
        if self._kubeconfig is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="rollouts-sandbox-")
            self._kubeconfig = self.write_kubeconfig(Path(self._tmpdir.name) / "kubeconfig")
        return self._kubeconfig

    # ------------------------------------------------------------------ thread-safe object access
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the sandbox's loop thread (directly when already there) and return its result."""
        loop = self.loop
        if loop is None or not loop.is_running():
            return fn(*args, **kwargs)
        try:
            if asyncio.get_running_loop() is loop:
                return fn(*args, **kwargs)
        except RuntimeError:
            pass

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(30)

    def _type(self, api_version: str, kind: str) -> Any:
        rt = self.store.registry.by_kind(api_version, kind)
        if rt is None:
            raise errors.ApiError(404, "NotFound", f"no resource serves {kind} in {api_version}")
        return rt

    def create(self, obj: Obj, namespace: str = "default") -> Obj:
        """Create an object (by its apiVersion/kind) as a client would; returns a copy of the stored object."""
        rt = self._type(obj.get("apiVersion", ""), obj.get("kind", ""))
        ns = (obj.get("metadata") or {}).get("namespace") or namespace
        body = json.loads(json.dumps(obj))
        return _copy(self.call(self.store.create, rt, ns, body))

    def get(self, api_version: str, kind: str, name: str, namespace: str = "default") -> Obj | None:
        rt = self._type(api_version, kind)
        ns = namespace if rt.namespaced else ""
        found = self.call(self.store.find, rt.key, ns, name)
        return None if found is None else _copy(found)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Obj]:
        rt = self._type(api_version, kind)
        items, _, _ = self.call(self.store.select, rt, namespace, Selector(label_selector))
        return [_copy(o) for o in items]

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "default") -> Obj:
        rt = self._type(api_version, kind)
        return _copy(self.call(self.store.delete, rt, namespace, name))

    def set_faults(self, **changes: Any) -> None:
        self.call(self.faults.update, **changes)


def _copy(obj: Obj) -> Obj:
    copied: Obj = json.loads(
        json.dumps(obj)
    )  # a deep copy that is also a JSON round-trip, as a client would see it
    return copied
