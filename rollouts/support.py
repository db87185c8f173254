"""What this controller does not do yet: the one list, read by the controller, `lint` and `plan` alike.

Argo accepts everything listed here; this controller either **refuses** it (the feature changes what the rollout
does — a router it cannot drive, a step that would never complete — so the Rollout gets an ``InvalidSpec``
condition naming the field, as Argo does for an invalid spec) or **ignores** it (the feature does not change
traffic or promotion — notifications, the scale-down of a workload that is not a Deployment — so the rollout goes on, and the controller
says so: a Warning Event ``FeatureIgnored``, a warning log line and the `rollout_unsupported_feature` metric).
`lint` and `plan` print the same sentences as warnings. Metric providers are listed with the providers
(`analysis.providers.registry`, which `analysis` cannot import from here).

Pure: `rollout_findings(rollout)` reads the wire Rollout (any shape: a field of the wrong type is simply not a
finding) and returns `Finding`s in a fixed order; `Finding.message` is the sentence everyone prints.

    >>> [f.message for f in rollout_findings({"spec": {"strategy": {"canary": {"steps": [{"plugin": {}}]}}}})][0][:70]
    'spec.strategy.canary.steps[0].plugin: Forbidden: plugin steps are not '
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FEATURES",
    "IGNORED_EVENT_REASON",
    "SUPPORTED_ROUTERS",
    "Feature",
    "Finding",
    "object_findings",
    "refused_message",
    "rollout_findings",
    "router_refusal",
]

GATEWAY_API_PLUGIN = "argoproj-labs/gatewayAPI"
ROUTERS = ("istio", "nginx", "alb", "smi", "ambassador", "appMesh", "traefik", "apisix", "plugins")
"""The keys of Argo's trafficRouting that name a router (the others, managedRoutes and maxTrafficWeight, are
settings)."""
SUPPORTED_ROUTERS = (
    "istio",
    "smi",
    "nginx",
    "alb",
    "traefik",
    "apisix",
    "ambassador",
    "appMesh",
    f"plugins/{GATEWAY_API_PLUGIN}",
)
IGNORED_EVENT_REASON = "FeatureIgnored"


@dataclass(frozen=True)
class Feature:
    """One Argo feature this controller does not implement; `refused` says which of the two treatments."""

    key: str
    """Stable name, the `feature` label of the metric (``workloadRef``, ``trafficRouting.alb``)."""
    refused: bool
    text: str
    """The sentence after the field path, e.g. ``Forbidden: plugin steps are not supported yet; …``."""


@dataclass(frozen=True)
class Finding:
    """A feature found at a field of one object."""

    path: str
    feature: Feature

    @property
    def refused(self) -> bool:
        return self.feature.refused

    @property
    def message(self) -> str:
        return f"{self.path}: {self.feature.text}"


def _ignored(key: str, what: str, consequence: str) -> Feature:
    return Feature(key, False, f"{what} not supported yet and ignored: {consequence}")


def _refused(key: str, what: str, advice: str = "") -> Feature:
    return Feature(key, True, f"Forbidden: {what} not supported yet" + (f"; {advice}" if advice else ""))


WORKLOAD_SCALE_DOWN = _ignored(
    "workloadRefScaleDown",
    "scaleDown of a workload other than a Deployment is",
    "only a Deployment is scaled down; this object keeps its pods",
)
# Argo runs step and traffic-router plugins as Go binaries it downloads and talks to over hashicorp/go-plugin's
# RPC (Go's net/rpc encoding): a Python process can neither load them nor speak that protocol, so they stay refused.
PLUGIN_RPC = "Argo's plugins are Go binaries served over its Go plugin RPC, which this controller cannot load"
PLUGIN_STEP = _refused("pluginStep", "plugin steps are", PLUGIN_RPC)

FEATURES: tuple[Feature, ...] = (
    WORKLOAD_SCALE_DOWN,
    PLUGIN_STEP,
)
"""Every feature but the traffic routers, which `router_feature` makes one per router name."""


def router_feature(router: str) -> Feature:
    """The refusal of one trafficRouting entry (``alb``, ``plugins/acme/router``)."""
    drives = f"this controller drives {', '.join(SUPPORTED_ROUTERS)}"
    if router.startswith("plugins/"):
        drives = f"{PLUGIN_RPC}; {drives}"
    return _refused(f"trafficRouting.{router}", f"{router} traffic routing is", drives)


def _router_finding(router: str) -> Finding:
    """``alb`` → the finding at trafficRouting.alb; ``plugins/acme/x`` → at trafficRouting.plugins.acme/x."""
    field = f"plugins.{router.removeprefix('plugins/')}" if router.startswith("plugins/") else router
    return Finding(f"spec.strategy.canary.trafficRouting.{field}", router_feature(router))


def router_refusal(routers: list[str]) -> str:
    """The sentence for a Rollout routed through `routers` this controller cannot drive (the first one)."""
    return refused_message([_router_finding(r) for r in routers])


def refused_message(findings: list[Finding]) -> str:
    """The InvalidSpec text for the first refused finding ('' when none is refused)."""
    return next((f.message for f in findings if f.refused), "")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _routers(canary: Mapping[str, Any]) -> Iterator[Finding]:
    routing = _map(canary.get("trafficRouting"))
    for key in ROUTERS:
        if routing.get(key) is None:
            continue
        if key == "plugins":
            for name in _map(routing.get("plugins")):
                if name != GATEWAY_API_PLUGIN:
                    yield _router_finding(f"plugins/{name}")
        elif key not in SUPPORTED_ROUTERS:
            yield _router_finding(key)


def rollout_findings(rollout: Mapping[str, Any]) -> list[Finding]:
    """Every unsupported feature a wire Rollout uses, refused ones first."""
    spec = _map(rollout.get("spec"))
    strategy = _map(spec.get("strategy"))
    canary = _map(strategy.get("canary"))
    found: list[Finding] = []
    ref = _map(spec.get("workloadRef"))
    if ref.get("scaleDown") not in (None, "", "never") and ref.get("kind") != "Deployment":
        found.append(Finding("spec.workloadRef.scaleDown", WORKLOAD_SCALE_DOWN))
    for i, step in enumerate(_list(canary.get("steps"))):
        for key, feature in (("plugin", PLUGIN_STEP),):
            if isinstance(step, Mapping) and key in step:
                found.append(Finding(f"spec.strategy.canary.steps[{i}].{key}", feature))
    found += _routers(canary)
    return sorted(found, key=lambda f: not f.refused)


def object_findings(obj: Mapping[str, Any]) -> list[Finding]:
    """The findings of any argoproj.io object (a Rollout's features; every other kind is run as Argo runs it)."""
    if obj.get("kind") == "Rollout":
        return rollout_findings(obj)
    return []
