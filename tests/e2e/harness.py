"""End-to-end harness: the sandbox in a thread, the REAL controller as a subprocess, recorders, the override.

The scenarios (tests/e2e/test_*.py) load the seed's manifests from `examples/`, shorten their durations with
`shorten` (the documented override, see docs/controller.md), create them in a sandbox, run
`python -m rollouts.cli controller --server URL --no-leader-elect --metrics-port 0 --healthz-port 0` and watch
what happens through a listener on the sandbox's store (every committed change, in order, nothing missed):

* `Recorder.weights(vs)` — the canary weight of a VirtualService after each change (consecutive duplicates
  dropped), e.g. `[0, 5, 20, 50, 80, 100, 0]`;
* `Recorder.steps(rollout)` — the sequence of `status.currentStepIndex`;
* `Recorder.health(rollout)` — the seed's Argo CD Lua health check (section 2.4) run with `lupa` on every
  version of the Rollout object (consecutive duplicates dropped).

`running_stack(..., crds=[...])` installs the given CRDs (e.g. Argo Rollouts' published ones, read from the
mirror) instead of the project's; `Controller.metrics()` reads the process's `/metrics`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rollouts.sandbox.running import Sandbox
from tests.fixtures.argocd_health import LuaHealthCheck

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SEED = Path("/work/shared/seed/000_4b1152d041b161da.txt")
NS = "production"


# ---------------------------------------------------------------------------------------------------------------
# Manifests and the documented duration override
# ---------------------------------------------------------------------------------------------------------------


def load(*names: str) -> list[dict[str, Any]]:
    """Documents of `examples/<name>` files (e.g. "istio-canary/rollout.yaml") or whole folders."""
    docs: list[dict[str, Any]] = []
    for name in names:
        path = EXAMPLES / name
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            docs += [d for d in yaml.safe_load_all(file.read_text()) if d]
    return docs


@dataclass(frozen=True)
class Override:
    """How the scenarios shorten the seed's durations (documented in docs/controller.md).

    * every `pause.duration` of a canary step becomes `pause` (indefinite pauses stay indefinite);
    * every metric `interval` becomes `interval`; a metric `count` is kept;
    * `scaleDownDelaySeconds` / `abortScaleDownDelaySeconds` become `scale_down_delay` /
      `abort_scale_down_delay` (canary and blue-green);
    * every Prometheus `address` becomes `prometheus` (the test's real Prometheus), every web metric URL
      argument `preview-url` becomes `preview_url` (the test's HTTP server);
    * `replicas` becomes `replicas` when set (pods are simulated; fewer make the run faster).
    """

    pause: str = "1s"
    interval: str = "1s"
    scale_down_delay: int = 2
    abort_scale_down_delay: int = 2
    prometheus: str | None = None
    preview_url: str | None = None
    replicas: int | None = None
    first_pause: str | None = None  # a different first pause (e.g. long, to catch an abort on step 1)


def shorten(docs: list[dict[str, Any]], o: Override) -> list[dict[str, Any]]:
    out = copy.deepcopy(docs)
    for doc in out:
        spec = doc.get("spec") or {}
        if doc["kind"] == "Rollout":
            if o.replicas is not None:
                spec["replicas"] = o.replicas
            canary = spec["strategy"].get("canary")
            if canary is not None:
                first = True
                for step in canary.get("steps") or []:
                    if isinstance(step.get("pause"), dict) and "duration" in step["pause"]:
                        step["pause"]["duration"] = o.first_pause if first and o.first_pause else o.pause
                        first = False
                canary["scaleDownDelaySeconds"] = o.scale_down_delay
                canary["abortScaleDownDelaySeconds"] = o.abort_scale_down_delay
            blue_green = spec["strategy"].get("blueGreen")
            if blue_green is not None:
                blue_green["scaleDownDelaySeconds"] = o.scale_down_delay
                blue_green["abortScaleDownDelaySeconds"] = o.abort_scale_down_delay
                for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
                    for arg in (blue_green.get(key) or {}).get("args") or []:
                        if arg.get("name") == "preview-url" and o.preview_url:
                            arg["value"] = o.preview_url
        elif doc["kind"] in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
            for metric in spec.get("metrics") or []:
                if "interval" in metric:
                    metric["interval"] = o.interval
                prometheus = (metric.get("provider") or {}).get("prometheus")
                if prometheus is not None and o.prometheus:
                    prometheus["address"] = o.prometheus
    return out


def seed_health_script() -> str:
    """The seed's Argo CD health check for argoproj.io/Rollout (section 2.4), verbatim."""
    text = SEED.read_text()
    start = text.index("resource.customizations.health.argoproj.io_Rollout: |")
    body = text[start:].split("\n", 1)[1]
    end = body.index("resource.customizations.health.")
    return body[:end]


class ArgoCDHealth:
    """Runs the seed's Lua health check on Rollout objects as Argo CD would (`tests.fixtures.argocd_health`)."""

    def __init__(self) -> None:
        self.check = LuaHealthCheck(seed_health_script())

    def __call__(self, obj: dict[str, Any]) -> str | None:
        return self.check(obj).status or None  # an empty answer: no health status at all


# ---------------------------------------------------------------------------------------------------------------
# Recording every change in the sandbox
# ---------------------------------------------------------------------------------------------------------------


def canary_weight(vs: dict[str, Any], canary_host: str = "api-server-canary") -> int:
    for route in (vs.get("spec") or {}).get("http") or []:
        for dest in route.get("route") or []:
            if dest.get("destination", {}).get("host") == canary_host:
                return int(dest.get("weight") or 0)
    return 0


def _dedup(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


@dataclass
class Recorder:
    """Listens to the sandbox's store: every committed version of the objects the scenarios look at."""

    rollouts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    virtual_services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)  # wall time of each Rollout version
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, sandbox: Sandbox) -> None:
        sandbox.call(sandbox.store.listeners.append, self.on_event)

    def on_event(self, key: tuple[str, str], event: Any) -> None:
        kind = {
            ("argoproj.io", "rollouts"): self.rollouts,
            ("networking.istio.io", "virtualservices"): self.virtual_services,
            ("", "services"): self.services,
        }.get(tuple(key))  # type: ignore[call-overload]
        if kind is None or event.type == "DELETED":
            return
        obj = copy.deepcopy(event.obj)
        with self.lock:
            kind.setdefault(obj["metadata"]["name"], []).append(obj)
            if kind is self.rollouts:
                self.times.setdefault(obj["metadata"]["name"], []).append(time.time())

    def weights(self, vs: str = "api-server-vsvc", canary_host: str = "api-server-canary") -> list[int]:
        with self.lock:
            return _dedup([canary_weight(v, canary_host) for v in self.virtual_services.get(vs, [])])

    def steps(self, rollout: str) -> list[int | None]:
        with self.lock:
            return _dedup(
                [(r.get("status") or {}).get("currentStepIndex") for r in self.rollouts.get(rollout, [])]
            )

    def pause_exits(self, rollout: str) -> list[tuple[int, float, float]]:
        """For every step taken off a pause step: (pause step index, its CanaryPauseStep startTime + the
        pause duration, the wall time the index moved on), both as Unix seconds."""
        from datetime import datetime

        with self.lock:
            versions = list(zip(self.times.get(rollout, []), self.rollouts.get(rollout, []), strict=True))
        out = []
        for (_, before), (when, after) in itertools.pairwise(versions):
            old, new = (before.get("status") or {}), (after.get("status") or {})
            index = old.get("currentStepIndex")
            if index is None or new.get("currentStepIndex") != index + 1:
                continue
            step = before["spec"]["strategy"]["canary"]["steps"][index]
            conditions = [c for c in old.get("pauseConditions") or [] if c["reason"] == "CanaryPauseStep"]
            if "pause" not in step or not conditions:
                continue
            start = datetime.fromisoformat(conditions[0]["startTime"].replace("Z", "+00:00")).timestamp()
            seconds = float(str(step["pause"]["duration"]).rstrip("s"))
            out.append((index, start + seconds, when))
        return out

    def health(self, rollout: str, check: Callable[[dict[str, Any]], Any]) -> list[Any]:
        with self.lock:
            versions = list(self.rollouts.get(rollout, []))
        return _dedup([check(r) for r in versions])

    def selectors(self, service: str) -> list[str | None]:
        with self.lock:
            return _dedup(
                [
                    (s.get("spec") or {}).get("selector", {}).get("rollouts-pod-template-hash")
                    for s in self.services.get(service, [])
                ]
            )


# ---------------------------------------------------------------------------------------------------------------
# The controller process
# ---------------------------------------------------------------------------------------------------------------


class Controller:
    """`rollouts controller` as a subprocess against `server`; its output goes to `log`."""

    def __init__(self, server: str, log: Path, *extra: str) -> None:
        self.server = server
        self.log = log
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Controller:
        args = [
            sys.executable,
            "-m",
            "rollouts.cli",
            "controller",
            "--server",
            self.server,
            "--no-leader-elect",
            "--metrics-port",
            "0",
            "--healthz-port",
            "0",
            "--bind",
            "127.0.0.1",
            "--log-level",
            "debug",
            *self.extra,
        ]
        with self.log.open("ab") as out:
            out.write(f"--- start #{self.starts + 1}\n".encode())
            out.flush()
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=_env())
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease release, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def metrics(self) -> dict[str, float]:
        """The controller's `/metrics` (address from its start line) as `{'name{label="v",…}': value}`."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families

        found = re.findall(r"metrics (http://\S+/metrics)", self.output())
        assert found, "the controller has not printed its metrics address yet"
        with urllib.request.urlopen(found[-1], timeout=10) as response:
            text = response.read().decode()
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out

    def counted(self, name: str) -> float:
        """The sum of a counter's samples (e.g. `controller_write_refused_total`)."""
        return sum(v for k, v in self.metrics().items() if k.startswith(name + "{"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS", None)
    return env


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    controller: Controller | None = None,
    interval: float = 0.05,
) -> Any:
    """Poll `predicate` until truthy; on timeout fail with `what` and the controller's last log lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if (
            controller is not None
            and controller.process is not None
            and controller.process.poll() is not None
        ):
            raise AssertionError(
                f"controller exited ({controller.process.returncode}) while waiting for {what}:\n"
                + _tail(controller.output())
            )
        time.sleep(interval)
    tail = _tail(controller.output()) if controller is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def status_of(sandbox: Sandbox, name: str, namespace: str = NS) -> dict[str, Any]:
    obj = sandbox.get("argoproj.io/v1alpha1", "Rollout", name, namespace)
    return (obj or {}).get("status") or {}


def create_all(sandbox: Sandbox, docs: list[dict[str, Any]], namespace: str = NS) -> None:
    for doc in docs:
        sandbox.create(doc, namespace)


def merge_patch(sandbox: Sandbox, path: str, body: dict[str, Any], attempts: int = 20) -> dict[str, Any]:
    """A JSON merge patch over HTTP (as kubectl and the plugin send it); retried when faults are injected."""
    import json
    import urllib.error
    import urllib.request

    for attempt in range(attempts):
        request = urllib.request.Request(
            f"{sandbox.url}{path}",
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result: dict[str, Any] = json.loads(response.read())
                return result
        except urllib.error.HTTPError as e:
            if e.code not in (429, 500) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def patch_status(sandbox: Sandbox, name: str, patch: dict[str, Any], namespace: str = NS) -> None:
    """What `kubectl argo rollouts retry/promote/abort` send: a merge patch of the status subresource."""
    merge_patch(
        sandbox,
        f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{name}/status",
        {"status": patch},
    )


def set_image(sandbox: Sandbox, name: str, image: str, namespace: str = NS) -> None:
    """What `kubectl argo rollouts set image` changes: the first container's image."""
    obj = sandbox.get("argoproj.io/v1alpha1", "Rollout", name, namespace)
    assert obj is not None
    container = obj["spec"]["template"]["spec"]["containers"][0]["name"]
    body = {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}
    merge_patch(sandbox, f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{name}", body)


def point_templates_at(
    sandbox: Sandbox, prometheus: str, names: tuple[str, ...], namespace: str = NS
) -> None:
    """Change the Prometheus address of AnalysisTemplates (e.g. "the metrics recover")."""
    for name in names:
        template = sandbox.get("argoproj.io/v1alpha1", "AnalysisTemplate", name, namespace)
        assert template is not None
        metrics = template["spec"]["metrics"]
        for metric in metrics:
            metric["provider"]["prometheus"]["address"] = prometheus
        path = f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/analysistemplates/{name}"
        merge_patch(sandbox, path, {"spec": {"metrics": metrics}})


def hash_of_image(sandbox: Sandbox, rollout: str, image: str, namespace: str = NS) -> str | None:
    for rs in sandbox.list("apps/v1", "ReplicaSet", namespace):
        containers = rs["spec"]["template"]["spec"].get("containers") or []
        owners = [o.get("name") for o in rs["metadata"].get("ownerReferences") or []]
        if rollout in owners and containers and containers[0].get("image") == image:
            return str(rs["metadata"]["labels"]["rollouts-pod-template-hash"])
    return None


def replicas_of(sandbox: Sandbox, rs_hash: str, rollout: str, namespace: str = NS) -> int:
    rs = sandbox.get("apps/v1", "ReplicaSet", f"{rollout}-{rs_hash}", namespace)
    return int(((rs or {}).get("spec") or {}).get("replicas") or 0)


@dataclass
class Stack:
    sandbox: Sandbox
    controller: Controller
    recorder: Recorder


@contextlib.contextmanager
def running_stack(
    tmp_path: Path,
    docs: list[dict[str, Any]],
    crds: list[dict[str, Any]] | None = None,
    **sandbox_options: Any,
) -> Iterator[Stack]:
    """A sandbox with `docs` created, the recorder attached, and the controller running; all stopped after.

    With `crds`, the sandbox starts without the project's CRDs and gets these (plus the traffic routers')."""
    if crds is not None:
        sandbox_options["install_crds"] = False
    sandbox = Sandbox(pod_ready_delay=0.05, **sandbox_options).start()
    controller = Controller(sandbox.url, tmp_path / "controller.log")
    try:
        if crds is not None:
            from rollouts.sandbox.crds import traffic_crds

            for crd in [*traffic_crds(), *crds]:
                sandbox.create(copy.deepcopy(crd))
        recorder = Recorder()
        recorder.attach(sandbox)
        create_all(sandbox, docs)
        controller.start()
        yield Stack(sandbox, controller, recorder)
    finally:
        controller.stop()
        sandbox.stop()


def rollout_healthy_on(sandbox: Sandbox, name: str, pod_hash: str) -> Callable[[], bool]:
    def check() -> bool:
        st = status_of(sandbox, name)
        return bool(
            st.get("phase") == "Healthy" and st.get("stableRS") == pod_hash == st.get("currentPodHash")
        )

    return check


HASH = re.compile(r"^[a-z0-9]+$")
