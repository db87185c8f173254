"""`lint`'s checks between the objects of one file: what a Rollout names must fit what the file defines.

Part of `lint` (`rollouts.plugin.linting` calls `reference_problems` for every Rollout that parses). Argo's
`lint` runs `ValidateRolloutReferencedResources` on the Services, Ingresses and VirtualServices of the file;
these are the same rules, each from its one home where the controller has it too (the Services:
`rollouts.strategy.references.reference_errors`, which `decide` calls on every pass; the analyses whose
templates are all in the file: `rollouts.strategy.analysisruns.template_merge_error`; the VirtualService routes:
`rollouts.traffic.istio.virtual_service_problem`, which the controller applies before every edit; the NGINX
stable Ingress: `rollouts.traffic.nginx.desired_canary_ingress`, which refuses it the same way). Objects of
other kinds are untrusted shapes: every read goes through `_map`/`_list`, so a Service whose `spec` is a list is
simply a Service without a selector, never an AttributeError.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from analysis.deeplint import metric_never_completes
from analysis.models import Metric
from rollouts.models import Rollout
from rollouts.strategy import analysisruns
from rollouts.strategy.context import build_context
from rollouts.strategy.plan import Observed
from rollouts.strategy.references import reference_errors, service_state
from rollouts.traffic import TrafficRoutingError, alb
from rollouts.traffic.base import no_backend_message
from rollouts.traffic.istio import virtual_service_keys, virtual_service_problem
from rollouts.traffic.nginx import desired_canary_ingress

__all__ = ["Index", "reference_problems"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the checks below do not depend on the time
Index = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""kind → name → object, for the objects of the file."""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _service_problems(ro: Rollout, index: Index) -> list[str]:
    """The controller's own rule (`rollouts.strategy.references.reference_errors`) on the Services of the file;
    a Service the file does not define is not checked (it may live elsewhere)."""
    services = {name: service_state(obj) for name, obj in index.get("Service", {}).items()}
    found = reference_errors(ro, services, complete=False)
    return [e if isinstance(e, str) else e.k8s_error() for e in found]


def _virtual_service_problems(ro: Rollout, index: Index) -> list[str]:
    problems: list[str] = []
    for key, entry, field in virtual_service_keys(ro):
        obj = index.get("VirtualService", {}).get(key[3])
        if obj is None:
            continue
        problem = virtual_service_problem(ro, entry, obj)
        if problem:
            problems.append(f'{field}.name: Istio VirtualService "{key[3]}": {problem}')
    return problems


def _as_v1(ingress: Mapping[str, Any]) -> dict[str, Any]:
    """An extensions/v1beta1 Ingress as the API server serves it in networking.k8s.io/v1 (what the controller
    reads): `backend.serviceName` becomes `backend.service.name`."""
    spec = dict(_map(ingress.get("spec")))
    rules = []
    for rule in _list(spec.get("rules")):
        http = dict(_map(_map(rule).get("http")))
        paths = []
        for path in _list(http.get("paths")):
            path = dict(_map(path))
            backend = dict(_map(path.get("backend")))
            if "serviceName" in backend and "service" not in backend:
                backend["service"] = {"name": backend.pop("serviceName")}
            paths.append({**path, "backend": backend})
        rules.append({**_map(rule), "http": {**http, "paths": paths}})
    return {**ingress, "spec": {**spec, "rules": rules}}


def _ingress_problems(ro: Rollout, spec: Mapping[str, Any], index: Index) -> list[str]:
    """NGINX: the controller's own check before it writes the canary Ingress (`desired_canary_ingress`, Argo's
    `ValidateIngress` wording); ALB: the controller's rule (`rollouts.traffic.alb`), for each Ingress of the file
    the Rollout names (one named elsewhere is not this file's to judge)."""
    problems: list[str] = []
    tr = ro.spec.traffic_routing
    names = tr.nginx.all_stable_ingresses() if tr is not None and tr.nginx is not None else []
    for name in names:
        ingress = index.get("Ingress", {}).get(name)
        if ingress is None:
            continue
        try:
            desired_canary_ingress(ro, _as_v1(ingress), name, 0)
        except TrafficRoutingError as exc:
            problems.append(f"spec.strategy.canary.trafficRouting.nginx.stableIngress: {exc.message}")
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            problems.append(
                f'spec.strategy.canary.trafficRouting.nginx.stableIngress: Ingress "{name}" does not have the '
                f"expected shape ({type(exc).__name__}: {exc})"
            )
    if tr is not None and tr.alb is not None:
        wanted = alb.action_service(ro)
        for name, field in alb.ingress_names(ro):
            ingress = index.get("Ingress", {}).get(name)
            if ingress is not None and wanted and not alb.has_rule_with_service(_as_v1(ingress), wanted):
                problems.append(f"{field}: {no_backend_message(name, wanted)}")
    return problems


def _analysis_refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, RolloutAnalysis) for every analysis a rollout runs."""
    strategy = _map(spec.get("strategy"))
    canary, blue_green = _map(strategy.get("canary")), _map(strategy.get("blueGreen"))
    if canary.get("analysis"):
        yield "spec.strategy.canary.analysis", _map(canary["analysis"])
    for i, step in enumerate(_list(canary.get("steps"))):
        if _map(step).get("analysis"):
            yield f"spec.strategy.canary.steps[{i}].analysis", _map(step["analysis"])
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        if blue_green.get(key):
            yield f"spec.strategy.blueGreen.{key}", _map(blue_green[key])


def _template_problems(
    ro: Rollout, document: Mapping[str, Any], index: Index, warnings: list[str]
) -> list[str]:
    """A template the rollout runs that the file does not define, while it defines others of its kind, is a
    warning (it may live elsewhere). The analyses whose templates are all in the file are checked with the
    controller's own rule (`analysisruns.template_merge_error`: duplicate metrics, arguments left unresolved
    or conflicting), as Argo's lint does."""
    for path, analysis in _analysis_refs(_map(document.get("spec"))):
        for j, ref in enumerate(_list(analysis.get("templates"))):
            kind = "ClusterAnalysisTemplate" if _map(ref).get("clusterScope") else "AnalysisTemplate"
            pool = index.get(kind, {})
            name = _text(_map(ref).get("templateName"))
            if pool and name not in pool:
                warnings.append(f'{path}.templates[{j}]: {kind} "{name}" is not in this file')
            elif name in pool and path != "spec.strategy.canary.analysis":
                warnings += _never_completing(f"{path}.templates[{j}]", kind, name, pool[name])
    templates = {
        (kind, "", name): dict(_map(obj.get("spec")))
        for kind in ("AnalysisTemplate", "ClusterAnalysisTemplate")
        for name, obj in index.get(kind, {}).items()
    }
    if not templates:
        return []
    ctx = build_context(Observed(rollout=ro, rollout_raw=dict(document), templates=templates), _EPOCH)
    referenced, _ = analysisruns.referenced_templates(ctx, skip_missing=True)
    error = analysisruns.template_merge_error(ctx, referenced)
    return [error] if error else []


def _never_completing(path: str, kind: str, name: str, template: Mapping[str, Any]) -> list[str]:
    """AL008: a metric that runs until terminated (an interval, no count) where the rollout waits for the
    analysis to end: a step's analysis, pre- or post-promotion analysis (background analysis may run forever)."""
    found = []
    for i, raw in enumerate(_list(_map(template.get("spec")).get("metrics"))):
        try:
            metric = Metric.model_validate(raw)
        except ValidationError:
            continue  # the template's own lint says why
        if metric_never_completes(metric):
            found.append(
                f'{path}: {kind} "{name}" metric "{metric.name}" (spec.metrics[{i}]) has an interval and no count: '
                "it runs until terminated, and the rollout waits here until someone terminates it [AL008]"
            )
    return found


def reference_problems(
    ro: Rollout, document: Mapping[str, Any], index: Index, warnings: list[str]
) -> list[str]:
    """Problems between a parsed Rollout (`ro`, read from `document`) and the objects of its file; a template
    the rollout runs that the file does not define, while it defines others, is added to `warnings`."""
    spec = _map(document.get("spec"))
    return (
        _service_problems(ro, index)
        + _virtual_service_problems(ro, index)
        + _ingress_problems(ro, spec, index)
        + _template_problems(ro, document, index, warnings)
    )
