"""`lint -f FILE`: offline, strict validation of Rollouts and analysis objects, and of what they reference.

Every document of the file is read (`analysis.reading`: bounded, UTF-8, `kind: List` expanded). For Rollouts,
AnalysisTemplates, ClusterAnalysisTemplates and AnalysisRuns an unknown field is an error (Argo decodes
strictly), then the same validation as the controller's applies — `rollouts.validation` for a Rollout (Argo's
messages), `analysis.validating` for analysis objects — and a `status` (as `kubectl get -o yaml` writes it) is
not read. Then the objects of the file are checked against each other (`references`). What Argo accepts but
this controller refuses or ignores is a warning, from the one list (`rollouts.support`, and the metric
providers of `analysis.providers.registry`), in the words the controller uses.

Pure: `lint_report(docs)` returns (problems, warnings); `lint_file(path)` reads the file too; the command prints.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from inspect import isclass
from typing import Any

from pydantic import BaseModel, ValidationError

from analysis.deeplint import template_findings
from analysis.models import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from analysis.providers.registry import provider_findings
from analysis.reading import ReadError, load_documents, read_documents
from analysis.validating import check_object
from rollouts.experiments import verify_spec
from rollouts.models import Rollout
from rollouts.models.experiment import Experiment
from rollouts.plugin.notifylint import lint_notifications
from rollouts.plugin.references import reference_problems
from rollouts.support import object_findings
from rollouts.traffic import cross_namespace_message
from rollouts.validation import errors_from_pydantic, load_rollout

__all__ = ["lint_documents", "lint_file", "lint_report", "lint_text", "unknown_fields"]

_SKIP_TOP = frozenset({"metadata", "status"})  # ObjectMeta is Kubernetes', status is written by a controller
_STRICT: dict[str, type[BaseModel]] = {
    "Rollout": Rollout,
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}
REFUSED_PREFIX = "not supported by this controller yet: "


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


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    return _text(meta.get("name")) if isinstance(meta, Mapping) else ""


def _is_argo(doc: Mapping[str, Any]) -> bool:
    return _text(doc.get("apiVersion")).startswith("argoproj.io/")


def _lint_rollout(
    doc: Mapping[str, Any], index: Mapping[str, Mapping[str, Mapping[str, Any]]], warnings: list[str]
) -> list[str]:
    problems = [f"{p}: unknown field" for p in unknown_fields(Rollout, doc, skip=_SKIP_TOP)]
    ro, errors = load_rollout(doc)
    problems += [e.k8s_error() for e in errors]
    if ro is not None:
        problems += reference_problems(ro, doc, index, warnings)
        # refused by a controller without --allow-cross-namespace-routing: a warning, as the flag decides
        crossing = cross_namespace_message(ro)
        if crossing:
            warnings.append(crossing)
    return problems


def _lint_analysis(doc: Mapping[str, Any], model: type[BaseModel], warnings: list[str]) -> list[str]:
    problems = [f"{p}: unknown field" for p in unknown_fields(model, doc, skip=_SKIP_TOP)]
    obj, found = check_object(doc)
    problems += [str(p) for p in found]
    if obj is not None:
        warnings += [f"{REFUSED_PREFIX}{w}" for w in provider_findings(obj.spec.metrics)]
        if not found:  # deep lint (analysis.deeplint) reads a spec that passed the rules above
            deep = template_findings(obj.spec)
            problems += [str(f) for f in deep if f.severity == "error"]
            warnings += [str(f) for f in deep if f.severity == "warning"]
    return problems


def _lint_experiment(doc: Mapping[str, Any]) -> list[str]:
    """What the controller would refuse: a spec that does not load, or Argo's `VerifyExperimentSpec` message."""
    try:
        experiment = Experiment.from_wire(doc)
    except ValidationError as e:
        return [str(err) for err in errors_from_pydantic(e)]
    invalid = verify_spec(experiment)
    return [f"spec.templates: {invalid}"] if invalid else []


def _index(docs: list[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    index: dict[str, dict[str, Mapping[str, Any]]] = {}
    for doc in docs:
        kind = _text(doc.get("kind"))
        if kind:
            index.setdefault(kind, {})[_name(doc)] = doc
    return index


def lint_documents(docs: list[Any]) -> list[str]:
    """Every problem of a file's documents, each as `<Kind> "<name>": <path>: <message>`."""
    return lint_report(docs)[0]


def lint_report(docs: list[Any]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a file's documents; warnings (a template defined elsewhere, a feature this
    controller does not support) do not fail."""
    problems: list[str] = []
    warnings: list[str] = []
    objects: list[Mapping[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            problems.append(
                f"document {i + 1}: not a Kubernetes object: expected a mapping with apiVersion and kind"
            )
        elif not _text(doc.get("kind")) or not _text(doc.get("apiVersion")):
            missing = "kind" if not _text(doc.get("kind")) else "apiVersion"
            problems.append(
                f"document {i + 1}: {missing} is missing: every Kubernetes object names its {missing}"
            )
        else:
            objects.append(doc)
    index = _index(objects)
    lint_notifications(objects, problems, warnings)
    for doc in objects:
        if not _is_argo(doc):
            continue
        kind, name = _text(doc.get("kind")), _name(doc)
        found: list[str] = []
        notes: list[str] = []
        body = {k: v for k, v in doc.items() if k != "status"}
        if kind == "Rollout":
            found = _lint_rollout(body, index, notes)
        elif kind in _STRICT:
            found = _lint_analysis(body, _STRICT[kind], notes)
        elif kind == "Experiment":
            found = _lint_experiment(body)
        for finding in object_findings(body):
            notes.append(f"{REFUSED_PREFIX}{finding.message}" if finding.refused else finding.message)
        problems += [f'{kind} "{name}": {p}' for p in found]
        warnings += [f'{kind} "{name}": {w}' for w in notes]
    return problems, warnings


def lint_text(text: str, source: str = "-") -> tuple[list[str], list[str]]:
    """Lint a YAML (multi-document) or JSON file's text: (problems, warnings). Raises `ReadError`."""
    return _report(load_documents(text, source), source)


def lint_file(path: str) -> tuple[list[str], list[str]]:
    """Read and lint one file (``-``: standard input): (problems, warnings). Raises `ReadError`."""
    return _report(read_documents(path), path)


def _report(docs: list[Any], source: str) -> tuple[list[str], list[str]]:
    if not docs:  # nothing to lint is not a clean file: likely the wrong path or an empty pipe
        raise ReadError(f"{source}: no Kubernetes objects in the file")
    return lint_report(docs)
