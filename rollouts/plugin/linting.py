"""`lint -f FILE`: offline, strict validation of Rollouts and analysis templates, and of what they reference.

Every document of the file is read; for Rollouts, AnalysisTemplates and ClusterAnalysisTemplates an unknown
field is an error (Argo decodes strictly), then the models' own rules apply — `rollouts.validation` for a
Rollout (Argo's messages), `analysis.models.metric_errors` and the condition compiler for templates. Finally
the objects of the same file are checked against each other: Services a rollout names must select its pods,
a VirtualService must have the routes the rollout names, an Ingress must route to the stable service, and a
template a rollout runs must get every argument it needs (a template missing from a file that defines
others is a warning: it may live elsewhere). Pure: `lint_documents(docs)` returns the problems; the command prints them.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from inspect import isclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from analysis.conditions import check_syntax
from analysis.models import AnalysisTemplate, metric_errors
from rollouts.models import Rollout
from rollouts.strategy.deciding import unsupported_features
from rollouts.traffic import cross_namespace_message
from rollouts.validation import errors_from_pydantic, load_rollout

__all__ = ["lint_documents", "lint_report", "lint_text", "unknown_fields"]

POD_HASH_LABEL = "rollouts-pod-template-hash"
_SKIP_TOP = {"metadata", "status"}  # ObjectMeta is Kubernetes', status is written by the controller


def _walk(annotation: Any, value: Any, path: str) -> Iterator[str]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _walk(typing.get_args(annotation)[0], value, path)
        return
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        for option in options:
            o = typing.get_origin(option) or option
            if isinstance(value, dict) and (o is dict or (isclass(o) and issubclass(o, BaseModel))):
                yield from _walk(option, value, path)
                return
            if isinstance(value, list) and o is list:
                yield from _walk(option, value, path)
                return
        return
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation) or (Any,)
        for i, v in enumerate(value):
            yield from _walk(item, v, f"{path}[{i}]")
        return
    if origin is dict and isinstance(value, dict):
        args = typing.get_args(annotation)
        for k, v in value.items():
            yield from _walk(args[1] if len(args) == 2 else Any, v, f"{path}.{k}")
        return
    if isclass(annotation) and issubclass(annotation, BaseModel):
        yield from unknown_fields(annotation, value, path)


def unknown_fields(
    model: type[BaseModel], data: Any, path: str = "", skip: frozenset[str] = frozenset()
) -> list[str]:
    """Paths of fields in `data` that `model` does not declare (by their wire names), recursively."""
    if not isinstance(data, dict) or model.model_config.get("extra") == "allow":
        return []
    fields = {(f.alias or name): f.annotation for name, f in model.model_fields.items()}
    found: list[str] = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key in skip:
            continue
        if key not in fields:
            found.append(where)
        else:
            found.extend(_walk(fields[key], value, where))
    return found


def _name(doc: dict[str, Any]) -> str:
    return str((doc.get("metadata") or {}).get("name") or "")


def _lint_rollout(doc: dict[str, Any]) -> list[str]:
    problems = [f"{p}: unknown field" for p in unknown_fields(Rollout, doc, skip=frozenset(_SKIP_TOP))]
    _, errors = load_rollout(doc)
    return problems + [e.k8s_error() for e in errors]


def _cross_namespace(doc: dict[str, Any]) -> list[str]:
    """A router object in another namespace: refused by a controller without --allow-cross-namespace-routing."""
    model, _ = load_rollout(doc)
    message = cross_namespace_message(model) if model is not None else None
    return [message] if message else []


_PLACEHOLDER = re.compile(r"\{\{\s*[^}]*\}\}")


def _lint_template(doc: dict[str, Any]) -> list[str]:
    problems = [
        f"{p}: unknown field" for p in unknown_fields(AnalysisTemplate, doc, skip=frozenset(_SKIP_TOP))
    ]
    try:
        template = AnalysisTemplate.from_wire({**doc, "kind": "AnalysisTemplate"})
    except ValidationError as e:
        return problems + [str(err) for err in errors_from_pydantic(e)]
    problems += [f"spec.{m}" for m in metric_errors(template.spec.metrics)]
    for i, metric in enumerate(doc.get("spec", {}).get("metrics") or []):
        for key in ("successCondition", "failureCondition"):
            expr = metric.get(key) if isinstance(metric, dict) else None
            if isinstance(expr, str) and expr:
                error = check_syntax(_PLACEHOLDER.sub("0", expr))
                if error:
                    problems.append(f"spec.metrics[{i}].{key}: {error}")
    return problems


def _selector_labels(service: dict[str, Any]) -> dict[str, Any]:
    return dict((service.get("spec") or {}).get("selector") or {})


def _analysis_refs(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, RolloutAnalysis) for every analysis a rollout runs."""
    canary = (spec.get("strategy") or {}).get("canary") or {}
    blue_green = (spec.get("strategy") or {}).get("blueGreen") or {}
    if canary.get("analysis"):
        yield "spec.strategy.canary.analysis", canary["analysis"]
    for i, step in enumerate(canary.get("steps") or []):
        if isinstance(step, dict) and step.get("analysis"):
            yield f"spec.strategy.canary.steps[{i}].analysis", step["analysis"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        if blue_green.get(key):
            yield f"spec.strategy.blueGreen.{key}", blue_green[key]


def _reference_problems(
    ro: dict[str, Any], by_kind: dict[str, dict[str, dict[str, Any]]], warnings: list[str]
) -> list[str]:
    problems: list[str] = []
    spec = ro.get("spec") or {}
    labels = (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}
    strategy = spec.get("strategy") or {}
    canary, blue_green = strategy.get("canary") or {}, strategy.get("blueGreen") or {}
    services = [(f"spec.strategy.canary.{k}", canary.get(k)) for k in ("canaryService", "stableService")] + [
        (f"spec.strategy.blueGreen.{k}", blue_green.get(k)) for k in ("activeService", "previewService")
    ]
    ping_pong = canary.get("pingPong") or {}
    services += [
        (f"spec.strategy.canary.pingPong.{k}", ping_pong.get(k)) for k in ("pingService", "pongService")
    ]
    for path, name in services:
        svc = by_kind.get("Service", {}).get(str(name)) if name else None
        if svc is None:
            continue
        for key, value in _selector_labels(svc).items():
            if key != POD_HASH_LABEL and labels.get(key) != value:
                problems.append(f'{path}: Service "{name}" has unmatch label "{key}" in rollout')
    routing = canary.get("trafficRouting") or {}
    istio = routing.get("istio") or {}
    vss = [istio["virtualService"]] if istio.get("virtualService") else []
    vss += list(istio.get("virtualServices") or [])
    for i, ref in enumerate(vss):
        vs = by_kind.get("VirtualService", {}).get(str(ref.get("name", "")).split("/")[-1])
        if vs is None:
            continue
        http = [r for r in (vs.get("spec") or {}).get("http") or [] if isinstance(r, dict)]
        wanted = ref.get("routes") or []
        if not wanted and len(http) != 1 and not ref.get("tlsRoutes") and not ref.get("tcpRoutes"):
            problems.append(
                f"spec.strategy.canary.trafficRouting.istio.virtualService[{i}].routes: Istio VirtualService "
                f'"{vs["metadata"]["name"]}" has {len(http)} HTTP routes: name the route(s) to use'
            )
        names = {r.get("name") for r in http}
        for route in wanted:
            if route not in names:
                problems.append(
                    f"spec.strategy.canary.trafficRouting.istio.virtualService[{i}].routes: HTTP Route "
                    f'"{route}" is not found in the defined Virtual Service "{vs["metadata"]["name"]}"'
                )
    for router, key in (("nginx", "stableIngress"), ("alb", "ingress")):
        name = (routing.get(router) or {}).get(key)
        ingress = by_kind.get("Ingress", {}).get(str(name)) if name else None
        wanted_svc = (
            canary.get("stableService")
            if router == "nginx"
            else ((routing.get("alb") or {}).get("rootService") or canary.get("stableService"))
        )
        if ingress is not None and wanted_svc and wanted_svc not in _ingress_services(ingress):
            problems.append(
                f'spec.strategy.canary.trafficRouting.{router}.{key}: ingress "{name}" has no rules using '
                f'service "{wanted_svc}" backend'
            )
    templates = by_kind.get("AnalysisTemplate", {})
    cluster_templates = by_kind.get("ClusterAnalysisTemplate", {})
    for path, analysis in _analysis_refs(spec):
        given = {a.get("name") for a in analysis.get("args") or [] if isinstance(a, dict)}
        for j, ref in enumerate(analysis.get("templates") or []):
            pool = cluster_templates if ref.get("clusterScope") else templates
            if not pool:
                continue  # the file defines no templates of this kind: they live elsewhere
            template = pool.get(str(ref.get("templateName")))
            kind = "ClusterAnalysisTemplate" if ref.get("clusterScope") else "AnalysisTemplate"
            if template is None:
                # it may well live in another file: worth a warning, not a failure
                warnings.append(
                    f'{path}.templates[{j}]: {kind} "{ref.get("templateName")}" is not in this file'
                )
                continue
            for arg in (template.get("spec") or {}).get("args") or []:
                needs = arg.get("value") is None and arg.get("valueFrom") is None
                if needs and arg.get("name") not in given:
                    problems.append(
                        f'{path}.args: {kind} "{ref.get("templateName")}" needs argument "{arg.get("name")}"'
                    )
    return problems


def _ingress_services(ingress: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for p in ((rule or {}).get("http") or {}).get("paths") or []:
            backend = (p or {}).get("backend") or {}
            name = (backend.get("service") or {}).get("name") or backend.get("serviceName")
            if name:
                names.add(str(name))
    return names


def lint_documents(docs: list[Any]) -> list[str]:
    """Every problem of a file's documents, each as `<Kind> "<name>": <path>: <message>`."""
    return lint_report(docs)[0]


def lint_report(docs: list[Any]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a file's documents; warnings (e.g. a template defined elsewhere) do not fail."""
    problems: list[str] = []
    warnings: list[str] = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            problems.append(f"document {i + 1}: not a Kubernetes object")
            continue
        by_kind.setdefault(str(doc.get("kind")), {})[_name(doc)] = doc
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        kind, name = str(doc.get("kind")), _name(doc)
        argo = str(doc.get("apiVersion", "")).startswith("argoproj.io/")
        found: list[str] = []
        ro_warnings: list[str] = []
        if argo and kind == "Rollout":
            found = _lint_rollout(doc) + _reference_problems(doc, by_kind, ro_warnings)
            spec = doc.get("spec")
            spec = spec if isinstance(spec, dict) else {}
            ro_warnings += [f"not supported by this controller yet: {w}" for w in unsupported_features(spec)]
            ro_warnings += _cross_namespace(doc)
        elif argo and kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
            found = _lint_template(doc)
        problems += [f'{kind} "{name}": {p}' for p in found]
        warnings += [f'{kind} "{name}": {w}' for w in ro_warnings]
    return problems, warnings


def lint_text(text: str) -> tuple[list[str], list[str]]:
    """Lint a YAML (multi-document) or JSON file's text: (problems, warnings)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        return [f"not valid YAML: {' '.join(str(e).split())}"], []
    return lint_report(docs)
