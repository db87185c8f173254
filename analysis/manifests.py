"""Reading analysis manifests from files, with one-line errors that name the file, the object and the field.

The first stage of `rollouts analyze` (and of any offline tool): YAML files, possibly multi-document, are read
(`analysis.reading`: bounded, UTF-8) and parsed into `AnalysisTemplate` / `ClusterAnalysisTemplate` /
`AnalysisRun` models (`analysis.models`), then checked by `analysis.validating` — the same verdict `lint`
gives and the controller applies (metric validation docs/semantics/analysis.md#metric-validation, conditions that compile docs/semantics/analysis.md#condition-language). Problems raise
`ManifestError` whose message is a single line such as

    success-rate.yaml: AnalysisTemplate "success-rate": spec.metrics[0] (success-rate).failureLimit: failureLimit must be >= 0, or -1 to be disabled

so the CLI can print it and exit 2 without a traceback. A template made of other templates (`spec.templates`)
is expanded with the templates of the files given, each once, as Argo's getAnalysisTemplatesFromRefs does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.models import AnalysisTemplateSpec
from analysis.reading import ReadError, read_documents
from analysis.validating import ANALYSIS_MODELS, Loc, Problem, check_object, spec_problems

__all__ = [
    "LoadedTemplate",
    "ManifestError",
    "check_metrics",
    "expand_templates",
    "load_templates",
    "select_templates",
]

ANALYSIS_KINDS = tuple(ANALYSIS_MODELS)


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
    document: Any = None
    problems: tuple[Problem, ...] = ()
    """What `analysis.validating` found in the object beyond parsing (reported by `check_metrics`)."""

    @property
    def label(self) -> str:
        return f'{self.source}: {self.kind} "{self.name}"'


def _field_path(loc: Loc, document: Any) -> str:
    """``spec.metrics[0] (success-rate).count``: a location with the names of the list items it goes through."""
    parts: list[str] = []
    node = document
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label += f" ({node['name']})"
            else:
                node = None
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
    meta = document.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else None
    if kind not in ANALYSIS_KINDS:
        what = f'unknown kind "{kind}"' if kind else "missing kind"
        raise ManifestError(
            f"{where}{f' ({name})' if name else ''}: {what}: rollouts analyze reads "
            "AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun documents"
        )
    label = f'{source}: {kind} "{name or f"document {index + 1}"}"'
    obj, problems = check_object(document)
    if obj is None:
        raise ManifestError(f"{label}: {_field_path(problems[0].loc, document)}: {problems[0].message}")
    spec = obj.spec
    if isinstance(spec, AnalysisTemplateSpec):
        template_spec = spec
    else:  # an AnalysisRun: its spec has the same metrics/args/dryRun/measurementRetention
        template_spec = AnalysisTemplateSpec.model_validate(spec.model_dump(by_alias=True, exclude_none=True))
    args = {a.name: a.value for a in template_spec.args or ()}
    return LoadedTemplate(
        source, str(kind), name or f"document {index + 1}", template_spec, args, document, tuple(problems)
    )


def load_templates(paths: Iterable[str | Path]) -> list[LoadedTemplate]:
    """Every analysis document of every file, in order. Raises `ManifestError` for the first problem."""
    loaded: list[LoadedTemplate] = []
    for path in paths:
        source = str(path)
        try:
            documents = read_documents(path)
        except ReadError as e:
            raise ManifestError(str(e)) from None
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


def expand_templates(
    chosen: Sequence[LoadedTemplate], available: Sequence[LoadedTemplate]
) -> list[LoadedTemplate]:
    """The chosen templates with those they are made of (`spec.templates`, nested, each once), looked up by
    kind and name among `available`; a reference to a template not given is a `ManifestError`."""
    out: list[LoadedTemplate] = []
    seen: set[tuple[str, str]] = set()

    def visit(template: LoadedTemplate) -> None:
        key = (template.kind, template.name)
        if key in seen:
            return
        seen.add(key)
        out.append(template)
        for j, ref in enumerate(template.spec.templates or ()):
            kind = "ClusterAnalysisTemplate" if ref.cluster_scope else "AnalysisTemplate"
            found = next((t for t in available if t.kind == kind and t.name == ref.template_name), None)
            if found is None:
                raise ManifestError(
                    f'{template.label}: spec.templates[{j}]: {kind} "{ref.template_name}" is not in the files '
                    "given: add its file with another -f"
                )
            visit(found)

    for template in chosen:
        visit(template)
    return out


def check_metrics(template: LoadedTemplate) -> None:
    """The first problem `analysis.validating` found in one template, as a `ManifestError` naming the field.

    Metrics whose fields still hold `{{args.*}}` placeholders are checked again after substitution by the run.
    """
    problems = list(template.problems) if template.document is not None else spec_problems(template.spec)
    if problems:
        where = _field_path(problems[0].loc, template.document)
        raise ManifestError(f"{template.label}: {where}: {problems[0].message}")
