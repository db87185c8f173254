"""The demo's four stories, each a person's actions and what the system does about them.

- canary: the guide's `api-server` goes from v2.0.0 to a good v2.1.0 — traffic 5 → 20 → 50 → 80 → 100 %,
  background analysis on real Prometheus numbers, Healthy with the new stable version.
- bad-canary: v2.2.0 answers 20 % errors, slowly — the analysis fails at its 4th failed measurement
  (failureLimit 3), the rollout aborts, all traffic returns to the stable version, Degraded; the team's
  webhook, subscribed to `on-rollout-aborted`, prints the notification it receives.
- experiment: v2.2.0 again, judged this time by an experiment step instead of background analysis: a baseline
  (the stable pods) and a canary run side by side, each with 20 % of the traffic on its own Service, and their
  error rates are compared in Prometheus; the canary loses, the Experiment fails, the rollout aborts.
- bluegreen: the guide's `web-frontend` goes to v3.1.0 — preview pods, smoke tests against the preview Service,
  a pause until a person promotes, the active Service switches, post-promotion analysis.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rollouts.demo import manifests
from rollouts.demo.notifying import SUBSCRIPTION
from rollouts.demo.running import API_IMAGE, NAMESPACE, WEB_IMAGE, Demo, DemoError, Outcome, settled
from rollouts.demo.traffic import LoadGenerator, ServiceFront
from rollouts.kube.resources import ANALYSIS_RUNS, RESOURCES
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL, RolloutPhase
from rollouts.plugin.phases import rollout_phase

Obj = dict[str, Any]


def _new_hash(ro: Obj) -> str:
    return str((ro.get("status") or {}).get("currentPodHash") or "")


def _stable_hash(ro: Obj) -> str:
    return str((ro.get("status") or {}).get("stableRS") or "")


def _image(ro: Obj) -> str:
    containers = ((ro.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
    return str(containers[0].get("image", ""))


class Tracker:
    """Narrates a rollout: phase changes, step moves, and the share of traffic the new version receives."""

    def __init__(self, demo: Demo, image: str) -> None:
        self.demo = demo
        self.image = image
        self.shares: list[int] = []
        self.last: tuple[str, str, Any] | None = None

    def new_version_share(self, ro: Obj) -> int | None:
        new = _new_hash(ro)
        if not new:
            return None
        share = 0
        for service, weight in self.demo.canary_weights().items():
            svc = self.demo.obj("Service", service) or {}
            if ((svc.get("spec") or {}).get("selector") or {}).get(POD_TEMPLATE_HASH_LABEL) == new:
                share += weight
        return share

    def tick(self, ro: Obj) -> None:
        if not settled(ro, self.image):
            return
        share = self.new_version_share(ro)
        changed = share is not None and (not self.shares or self.shares[-1] != share)
        if changed and share is not None and (self.shares or share):
            self.shares.append(share)
            self.demo.say(f"{self.image.rsplit(':', 1)[1]} now receives {share} % of the traffic")
        phase, message = rollout_phase(ro)
        step = (ro.get("status") or {}).get("currentStepIndex")
        state = (phase, message, step)
        if state != self.last:
            self.last = state
            steps = len(
                (((ro.get("spec") or {}).get("strategy") or {}).get("canary") or {}).get("steps") or []
            )
            where = f" at step {step}/{steps}" if step is not None and steps else ""
            self.demo.say(f"{ro['metadata']['name']}: {phase}{where}" + (f" — {message}" if message else ""))


async def deploy_api_server(demo: Demo) -> None:
    """The guide's api-server at v2.0.0, its Services, VirtualService and analysis templates."""
    if demo.obj("Rollout", "api-server") is not None:
        return
    speed, prom = demo.settings.speed, demo.report.urls["prometheus"]
    for name in manifests.CANARY_FILES:
        for doc in manifests.load(name):
            await demo.apply(manifests.speed_up(doc, speed, prom))
    rollout = manifests.speed_up(manifests.load(manifests.CANARY_ROLLOUT)[0], speed, prom)
    # the team subscribes to aborts, as with Argo: the webhook prints what it receives (`notifying`)
    rollout["metadata"].setdefault("annotations", {})[SUBSCRIPTION] = ""
    await demo.apply(rollout)
    demo.say(f"applied the guide's api-server canary ({_image(rollout).rsplit(':', 1)[1]}, 10 replicas)")
    load = LoadGenerator(demo.api_routes, rate=20.0, seed=1)
    load.start()
    demo.loads.append(load)
    await demo.wait_for(
        "api-server", lambda ro: "ok" if rollout_phase(ro)[0] == RolloutPhase.HEALTHY else None
    )
    demo.say("api-server is Healthy: v2.0.0 is the stable version and serves all traffic")


async def release_canary(demo: Demo, version: str, good: bool) -> Outcome:
    await deploy_api_server(demo)
    image = f"{API_IMAGE}:{version}"
    started = time.monotonic()
    demo.say(
        f"releasing api-server {version}" + ("" if good else " (a bad build: 20 % errors, ~0.7 s latency)")
    )
    told_before = len(demo.webhook.aborts_of("api-server"))
    await demo.set_image("api-server", "api-server", image)
    tracker = Tracker(demo, image)

    def finished(ro: Obj) -> str | None:
        if not settled(ro, image):
            return None
        phase, _ = rollout_phase(ro)
        if phase == RolloutPhase.DEGRADED:
            return "degraded"
        weights = ((ro.get("status") or {}).get("canary") or {}).get("weights") or {}
        stable_weight = weights.get("stable") or {}
        if (
            phase == RolloutPhase.HEALTHY
            and _stable_hash(ro) == _new_hash(ro)
            and stable_weight.get("podTemplateHash") == _new_hash(ro)
            and stable_weight.get("weight") == 100
        ):
            # promoted, and the route sends everything to the stable Service, which selects the new pods
            return "healthy"
        return None

    ro, verdict = await demo.wait_for("api-server", finished, tracker.tick)
    status = ro.get("status") or {}
    phase, message = rollout_phase(ro)
    if verdict == "degraded":
        # the abort sends traffic back: wait until the route says so
        await _until(demo, lambda: demo.canary_weights().get("api-server-canary", 0) == 0)
        tracker.tick(demo.obj("Rollout", "api-server") or ro)
        weight = demo.canary_weights().get("api-server-canary", 0)
        demo.say(f"aborted: canary weight {weight} %, stable 100 % — {message}")
        try:  # the abort's notification arrives off the reconcile path, within moments
            await _until(demo, lambda: len(demo.webhook.aborts_of("api-server")) > told_before, within=20.0)
        except DemoError:
            message += " (no notification reached the webhook)"
    else:
        demo.say(f"api-server {version} is Healthy and stable (pod hash {_stable_hash(ro)})")
    notified = len(demo.webhook.aborts_of("api-server")) > told_before
    ok = (
        (verdict == "healthy") if good else (verdict == "degraded" and bool(status.get("abort")) and notified)
    )
    return Outcome(
        scenario="canary" if good else "bad-canary",
        rollout="api-server",
        release=version,
        phase=phase,
        ok=ok,
        message=message,
        weights=tracker.shares,
        seconds=round(time.monotonic() - started, 1),
        snapshot=demo.obj("Rollout", "api-server") or ro,
    )


async def release_bluegreen(demo: Demo) -> Outcome:
    speed, prom = demo.settings.speed, demo.report.urls["prometheus"]
    preview = ServiceFront(lambda: _url(demo, "web-frontend-preview"))
    await preview.start()
    demo.fronts["web-frontend-preview"] = preview
    if demo.obj("AnalysisTemplate", "success-rate") is None:
        await demo.apply(manifests.speed_up(manifests.load("success-rate.yaml")[0], speed, prom))
    for name in manifests.BLUEGREEN_FILES:
        for doc in manifests.load(name):
            await demo.apply(manifests.speed_up(doc, speed, prom, preview.url))
    rollout = manifests.speed_up(manifests.load(manifests.BLUEGREEN_ROLLOUT)[0], speed, prom, preview.url)
    await demo.apply(rollout)
    demo.say("applied the guide's web-frontend blue-green (v3.0.0, 5 replicas)")
    load = LoadGenerator(demo.web_routes, rate=10.0, seed=2)
    load.start()
    demo.loads.append(load)
    await demo.wait_for(
        "web-frontend", lambda ro: "ok" if rollout_phase(ro)[0] == RolloutPhase.HEALTHY else None
    )
    demo.say("web-frontend is Healthy: the active Service selects v3.0.0")

    image = f"{WEB_IMAGE}:v3.1.0"
    started = time.monotonic()
    demo.say("releasing web-frontend v3.1.0: new pods behind the preview Service, smoke tests first")
    await demo.set_image("web-frontend", "web", image)
    tracker = Tracker(demo, image)

    def paused(ro: Obj) -> str | None:
        if not settled(ro, image):
            return None
        phase, _ = rollout_phase(ro)
        return (
            "paused"
            if phase == RolloutPhase.PAUSED
            else ("degraded" if phase == RolloutPhase.DEGRADED else None)
        )

    ro, verdict = await demo.wait_for("web-frontend", paused, tracker.tick)
    if verdict != "paused":
        phase, message = rollout_phase(ro)
        return Outcome("bluegreen", "web-frontend", "v3.1.0", phase, False, message)
    demo.say("smoke tests passed; the rollout waits for a person: kubectl rollouts promote web-frontend")
    await asyncio.sleep(max(1.0, 30.0 / speed))
    await demo.promote("web-frontend")
    demo.say("promoted: the active Service switches to v3.1.0, post-promotion analysis starts")

    terminated = False

    async def finish_post_analysis(ro: Obj) -> None:
        # The guide's success-rate metric has an interval and no count: it runs until terminated (as in Argo
        # Rollouts). After a few good measurements the operator ends it: `kubectl rollouts terminate
        # analysisrun`, which completes it Successful.
        nonlocal terminated
        post = ((ro.get("status") or {}).get("blueGreen") or {}).get("postPromotionAnalysisRunStatus") or {}
        name = post.get("name")
        if terminated or not name or demo.client is None:
            return
        run = await demo.client.get(ANALYSIS_RUNS, name, NAMESPACE)
        results = (run.get("status") or {}).get("metricResults") or []
        if results and all(int(r.get("successful") or 0) >= 3 for r in results):
            await demo.client.patch(ANALYSIS_RUNS, name, {"spec": {"terminate": True}}, NAMESPACE)
            terminated = True
            demo.say(
                f"post-promotion analysis {name} looks good after 3 measurements: terminated (Successful)"
            )

    def healthy(ro: Obj) -> str | None:
        if rollout_phase(ro)[0] == RolloutPhase.DEGRADED:
            return "degraded"
        selector = ((ro.get("status") or {}).get("blueGreen") or {}).get("activeSelector")
        if rollout_phase(ro)[0] == RolloutPhase.HEALTHY and selector and selector == _new_hash(ro):
            return "healthy"
        return None

    pending: set[asyncio.Task[None]] = set()

    def on_tick(ro: Obj) -> None:
        tracker.tick(ro)
        if not pending:
            task = asyncio.ensure_future(finish_post_analysis(ro))
            pending.add(task)
            task.add_done_callback(pending.discard)

    ro, verdict = await demo.wait_for("web-frontend", healthy, on_tick)
    phase, message = rollout_phase(ro)
    active = ((ro.get("status") or {}).get("blueGreen") or {}).get("activeSelector")
    if verdict == "healthy":
        demo.say(f"web-frontend v3.1.0 is Healthy: the active Service selects {active}")
    return Outcome(
        "bluegreen", "web-frontend", "v3.1.0", phase, verdict == "healthy", message,
        weights=[0, 100] if verdict == "healthy" else [0],  # blue-green: all at once, at the switch
        seconds=round(time.monotonic() - started, 1), snapshot=ro,
    )  # fmt: skip


def _url(demo: Demo, service: str) -> str | None:
    version = demo._version_behind(service)
    return version.url if version is not None else None


async def _until(demo: Demo, condition: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise DemoError("timed out waiting for the traffic route to change")
        await asyncio.sleep(0.1)


EXPERIMENT_STEP: Obj = {
    "experiment": {
        "duration": "10m",  # ended by its required analysis, not by time
        "templates": [
            {"name": "baseline", "specRef": "stable", "replicas": 1, "weight": 20},
            {"name": "canary", "specRef": "canary", "replicas": 1, "weight": 20},
        ],
        "analyses": [
            {
                "name": "compare",
                "templateName": "canary-vs-baseline",
                "requiredForCompletion": True,
                "args": [
                    {"name": "baseline", "value": "{{templates.baseline.replicaset.name}}"},
                    {"name": "canary", "value": "{{templates.canary.replicaset.name}}"},
                ],
            }
        ],
    }
}


async def release_experiment(demo: Demo) -> Outcome:
    """v2.2.0 judged by an experiment: a baseline and a canary compared on equal footing."""
    await deploy_api_server(demo)
    stable_image = f"{API_IMAGE}:v2.1.0"
    ro = demo.obj("Rollout", "api-server") or {}
    if _image(ro) != stable_image:  # after bad-canary: back to the stable version first (a fast rollback)
        await demo.set_image("api-server", "api-server", stable_image)
        await demo.wait_for(
            "api-server", lambda r: "ok" if rollout_phase(r)[0] == RolloutPhase.HEALTHY else None
        )
    if demo.obj("AnalysisTemplate", "canary-vs-baseline") is None:
        doc = manifests.load("canary-vs-baseline.yaml")[0]
        await demo.apply(manifests.speed_up(doc, demo.settings.speed, demo.report.urls["prometheus"]))
    version = "v2.2.0"
    image = f"{API_IMAGE}:{version}"
    started = time.monotonic()
    demo.say(
        f"releasing api-server {version} again, judged by an experiment: baseline (stable pods) and canary "
        "side by side, 20 % of the traffic each, error rates compared"
    )
    assert demo.client is not None
    # the steps first (the experiment instead of background analysis), then the image, as a person would
    steps = [{"setWeight": 5}, EXPERIMENT_STEP, {"pause": {}}]
    patch = {"spec": {"strategy": {"canary": {"steps": steps, "analysis": None}}}}
    await demo.client.patch(RESOURCES["Rollout"], "api-server", patch, NAMESPACE)
    await demo.set_image("api-server", "api-server", image)
    tracker = Tracker(demo, image)
    announced: set[str] = set()

    def finished(ro: Obj) -> str | None:
        current = ((ro.get("status") or {}).get("canary") or {}).get("currentExperiment")
        if current and current not in announced:
            announced.add(current)
            demo.say(f"experiment {current} runs the baseline and the canary side by side")
        weights = demo.canary_weights()
        if current and any(current in host for host in weights) and "weights" not in announced:
            announced.add("weights")
            demo.say("traffic: " + ", ".join(f"{host} {w} %" for host, w in sorted(weights.items())))
        if not settled(ro, image):
            return None
        phase, _ = rollout_phase(ro)
        if phase == RolloutPhase.DEGRADED:
            return "degraded"
        if (ro.get("status") or {}).get("currentStepIndex") == 2:
            return "passed"
        return None

    ro, verdict = await demo.wait_for("api-server", finished, tracker.tick)
    phase, message = rollout_phase(ro)
    status = ro.get("status") or {}
    if verdict == "degraded":
        await _until(demo, lambda: demo.canary_weights().get("api-server-canary", 0) == 0)
        demo.say(f"aborted: all traffic back to the stable version — {message}")
    else:
        demo.say("the experiment passed: the rollout went on (not expected for this release)")
    return Outcome(
        scenario="experiment",
        rollout="api-server",
        release=version,
        phase=phase,
        ok=verdict == "degraded" and bool(status.get("abort")) and "Experiment" in message,
        message=message,
        weights=tracker.shares,
        seconds=round(time.monotonic() - started, 1),
        snapshot=demo.obj("Rollout", "api-server") or ro,
    )
