"""Validating analysis objects: one verdict on an AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun for
`kubectl rollouts lint`, `rollouts analyze` and the controller.

Where it sits: after reading (`analysis.reading`) and before anything runs. The metric rules themselves are
`analysis.models.validate_metric` (Argo's docs/semantics/analysis.md#metric-validation rules and messages, plus the few documented stricter ones),
which the runner applies again to every run after its arguments are substituted — so what `lint` and
`analyze` accept is what the controller runs. This module adds what only a whole object has: the object's
name (Kubernetes' rule for names, `analysis.names`), a template made only of other templates (`spec.templates`, valid
without metrics, as in Argo), and condition expressions that must compile (``{{args.x}}`` read as ``0``).

Every problem is a `Problem`: a location (``("spec", "metrics", 0, "count")``) and one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from analysis.conditions import check_syntax
from analysis.models import (
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisTemplate,
    AnalysisTemplateSpec,
    ClusterAnalysisTemplate,
    Metric,
    ObjectMeta,
    SpecError,
    validate_metric,
)
from analysis.names import dns1123_subdomain_problems

__all__ = [
    "ANALYSIS_MODELS",
    "Loc",
    "Problem",
    "check_object",
    "dotted",
    "name_problems",
    "parse_problems",
    "spec_problems",
]

Loc = tuple[str | int, ...]
ANALYSIS_MODELS: dict[str, type[AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun]] = {
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}
_UNION_TAGS = frozenset({"int", "str", "float", "bool", "dict", "list", "none"})
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")


def dotted(loc: Loc) -> str:
    """``("spec", "metrics", 0, "count")`` → ``spec.metrics[0].count``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


@dataclass(frozen=True)
class Problem:
    """One invalid field: where (`loc`) and why (`message`, a sentence)."""

    loc: Loc
    message: str

    @property
    def path(self) -> str:
        return dotted(self.loc)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def name_problems(meta: ObjectMeta, *, generated: bool = False) -> list[Problem]:
    """metadata.name (or, where the API server makes one, generateName) as Kubernetes requires it."""
    if meta.name is None and not (generated and meta.generate_name):
        return [Problem(("metadata", "name"), "Required value: name or generateName is required")]
    if meta.name is None:
        return []
    problems = dns1123_subdomain_problems(meta.name)
    if not problems:
        return []
    return [Problem(("metadata", "name"), f'Invalid value: "{meta.name}": {"; ".join(problems)}')]


def _metric_problems(metric: Metric, loc: Loc) -> list[Problem]:
    problems: list[Problem] = []
    try:
        validate_metric(metric)
    except SpecError as e:
        problems.append(Problem(loc + tuple(e.field.split(".") if e.field else ()), str(e)))
    for key, expr in (
        ("successCondition", metric.success_condition),
        ("failureCondition", metric.failure_condition),
    ):
        if expr:
            error = check_syntax(_PLACEHOLDER.sub("0", expr))
            if error:
                problems.append(Problem((*loc, key), f'"{expr}" does not compile: {error}'))
    return problems


def spec_problems(spec: AnalysisTemplateSpec | AnalysisRunSpec) -> list[Problem]:
    """Every problem of a template's or a run's spec: metrics (all of them), conditions, composition."""
    composed = isinstance(spec, AnalysisTemplateSpec) and bool(spec.templates)
    if not spec.metrics and not composed:
        return [Problem(("spec", "metrics"), "no metrics specified")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, metric in enumerate(spec.metrics):
        loc: Loc = ("spec", "metrics", i)
        if metric.name in seen:
            problems.append(Problem((*loc, "name"), f"duplicate name '{metric.name}'"))
            continue
        seen.add(metric.name)
        problems += _metric_problems(metric, loc)
    return problems


def parse_problems(exc: ValidationError) -> list[Problem]:
    """Pydantic's errors as problems located by wire path (union branch tags dropped), one per location."""
    found: dict[Loc, Problem] = {}
    for err in exc.errors(include_url=False):
        items = list(err["loc"])
        while items and isinstance(items[-1], str) and items[-1] in _UNION_TAGS:
            items.pop()
        loc: Loc = tuple(i for i in items if isinstance(i, int) or i not in _UNION_TAGS)
        if loc in found:
            continue
        message = "Required value" if err["type"] == "missing" else str(err["msg"])
        found[loc] = Problem(loc, message)
    return list(found.values())


def check_object(
    document: Mapping[str, Any],
) -> tuple[AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun | None, list[Problem]]:
    """Parse and validate one analysis object (its `kind` picks the model; its `status` is not read):
    (the model, or None when it does not parse; every problem)."""
    model = ANALYSIS_MODELS.get(str(document.get("kind")))
    if model is None:
        return None, [Problem(("kind",), f'unknown kind "{document.get("kind")}"')]
    body = {k: v for k, v in document.items() if k != "status"}
    try:
        obj = model.model_validate(body)
    except ValidationError as e:
        return None, parse_problems(e)
    problems = name_problems(obj.metadata, generated=isinstance(obj, AnalysisRun))
    return obj, problems + spec_problems(obj.spec)
