"""Reading analysis manifests from files, with one-line errors that name the file, the object and the field.

The first stage of `rollouts analyze` (and of any offline tool): YAML files, possibly multi-document, are
parsed into `AnalysisTemplate` / `ClusterAnalysisTemplate` / `AnalysisRun` models (`analysis.models`) and
checked the way Argo checks a run before it starts (metric validation §b.8, conditions that compile §b.2).
Problems raise `ManifestError` whose message is a single line such as

    success-rate.yaml: AnalysisTemplate "success-rate": spec.metrics[0] (success-rate).failureLimit: failureLimit must be >= 0, or -1 to be disabled

so the CLI can print it and exit 2 without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from analysis.conditions import check_syntax
from analysis.models import (
    AnalysisRun,
    AnalysisTemplate,
    AnalysisTemplateSpec,
    ClusterAnalysisTemplate,
    Metric,
    SpecError,
    validate_metric,
)

__all__ = ["LoadedTemplate", "ManifestError", "check_metrics", "load_templates", "select_templates"]

ANALYSIS_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun")
_UNION_TAGS = frozenset({"int", "str", "float", "bool", "dict", "list", "none"})

# Which field a §b.8 validation message is about (Argo's messages do not say it in a fixed place).
_FIELD_OF_MESSAGE = (
    ("consecutiveSuccessLimit", "consecutiveSuccessLimit"),
    ("failureLimit and", "failureLimit"),
    ("failureLimit", "failureLimit"),
    ("inconclusiveLimit", "inconclusiveLimit"),
    ("consecutiveErrorLimit", "consecutiveErrorLimit"),
    ("count", "count"),
    ("interval", "interval"),
    ("startDelay", "initialDelay"),
    ("provider", "provider"),
)


class ManifestError(ValueError):
    """Bad input in a manifest file; `str()` is the one-line message for the user."""


@dataclass(frozen=True)
class LoadedTemplate:
    """A template (or a run's spec) read from `source`, with the label used in messages."""

    source: str
    kind: str
    name: str
    spec: AnalysisTemplateSpec
    args: dict[str, str | None]

    @property
    def label(self) -> str:
        return f'{self.source}: {self.kind} "{self.name}"'


def _field_path(loc: Sequence[int | str], document: Any) -> str:
    parts: list[str] = []
    items = list(loc)
    while items and isinstance(items[-1], str) and items[-1] in _UNION_TAGS:
        items.pop()
    node = document
    for item in items:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label += f" ({node['name']})"
            parts.append(label)
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(document)"


def _parse_document(source: str, index: int, document: Any) -> LoadedTemplate | None:
    where = f"{source}: document {index + 1}"
    if document is None:
        return None
    if not isinstance(document, dict):
        raise ManifestError(f"{where}: expected a mapping with apiVersion, kind, metadata and spec")
    kind = document.get("kind")
    name = (
        (document.get("metadata") or {}).get("name") if isinstance(document.get("metadata"), dict) else None
    )
    if kind not in ANALYSIS_KINDS:
        what = f'unknown kind "{kind}"' if kind else "missing kind"
        raise ManifestError(
            f"{where}{f' ({name})' if name else ''}: {what}: rollouts analyze reads "
            "AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun documents"
        )
    label = f'{source}: {kind} "{name or f"document {index + 1}"}"'
    try:
        obj: AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun
        if kind == "AnalysisTemplate":
            obj = AnalysisTemplate.model_validate(document)
        elif kind == "ClusterAnalysisTemplate":
            obj = ClusterAnalysisTemplate.model_validate(document)
        else:
            obj = AnalysisRun.model_validate(document)
    except ValidationError as e:
        error = e.errors()[0]
        path = _field_path(error["loc"], document)
        raise ManifestError(f"{label}: {path}: {error['msg']}") from None
    spec = obj.spec
    if isinstance(spec, AnalysisTemplateSpec):
        template_spec = spec
    else:  # an AnalysisRun: its spec has the same metrics/args/dryRun/measurementRetention
        template_spec = AnalysisTemplateSpec.model_validate(spec.model_dump(by_alias=True, exclude_none=True))
    args = {a.name: a.value for a in template_spec.args or ()}
    return LoadedTemplate(source, kind, name or f"document {index + 1}", template_spec, args)


def load_templates(paths: Iterable[str | Path]) -> list[LoadedTemplate]:
    """Every analysis document of every file, in order. Raises `ManifestError` for the first problem."""
    loaded: list[LoadedTemplate] = []
    for path in paths:
        source = str(path)
        try:
            text = Path(path).read_text() if source != "-" else _stdin()
        except OSError as e:
            raise ManifestError(f"{source}: cannot read the file: {e.strerror or e}") from None
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ManifestError(f"{source}: malformed YAML{at}: {problem}") from None
        count = 0
        for index, document in enumerate(documents):
            template = _parse_document(source, index, document)
            if template is not None:
                loaded.append(template)
                count += 1
        if count == 0:
            raise ManifestError(
                f"{source}: no AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun in the file"
            )
    return loaded


def _stdin() -> str:
    import sys

    return sys.stdin.read()


def select_templates(templates: Sequence[LoadedTemplate], names: Sequence[str]) -> list[LoadedTemplate]:
    """The templates named (all when `names` is empty), in the order given; unknown names are an error."""
    if not names:
        return list(templates)
    chosen: list[LoadedTemplate] = []
    for name in names:
        matches = [t for t in templates if t.name == name]
        if not matches:
            found = ", ".join(sorted({t.name for t in templates})) or "none"
            raise ManifestError(
                f"--template {name}: no template of that name in the files given (found: {found})"
            )
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def _field_of(message: str) -> str:
    for needle, field in _FIELD_OF_MESSAGE:
        if needle in message:
            return field
    return ""


def check_metrics(template: LoadedTemplate) -> None:
    """§b.8 validation and condition compilation (§b.2) of one template, as `ManifestError`s naming the field.

    Metrics whose fields still hold `{{args.*}}` placeholders are checked again after substitution by the run.
    """
    metrics = template.spec.metrics
    if not metrics:
        raise ManifestError(f"{template.label}: spec.metrics: no metrics specified")
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        where = f"{template.label}: spec.metrics[{i}] ({metric.name})"
        if metric.name in seen:
            raise ManifestError(f"{where}.name: duplicate name '{metric.name}'")
        seen.add(metric.name)
        if not _has_placeholder(metric):
            try:
                validate_metric(metric)
            except SpecError as e:
                field = _field_of(str(e))
                raise ManifestError(f"{where}{'.' + field if field else ''}: {e}") from None
        for field_name, expr in (
            ("successCondition", metric.success_condition),
            ("failureCondition", metric.failure_condition),
        ):
            if expr and "{{" not in expr:
                problem = check_syntax(expr)
                if problem:
                    raise ManifestError(f'{where}.{field_name}: "{expr}" does not compile: {problem}')


def _has_placeholder(metric: Metric) -> bool:
    return any(
        isinstance(v, str) and "{{" in v
        for v in (
            metric.count,
            metric.failure_limit,
            metric.inconclusive_limit,
            metric.consecutive_error_limit,
            metric.consecutive_success_limit,
            metric.interval,
            metric.initial_delay,
        )
    )
