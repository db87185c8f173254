"""CustomResourceDefinitions generated from the pydantic models: ``crds/*.yaml`` and the sandbox's CRDs.

Where it sits: at build time (``python -m rollouts.crdgen`` writes ``crds/``; ``--check`` fails on drift, and
a test does the same), and at run time for the embedded sandbox (`all_crds()`). The schema of each kind is
the model's JSON schema turned into a Kubernetes *structural* schema:

* ``$ref``s inlined (a recursive reference becomes an opaque object); titles, descriptions (docstrings are
  written for developers) and defaults dropped (the API server would otherwise apply pydantic's defaults to
  stored objects);
* ``anyOf [X, null]`` → X (absent, not null, is how Kubernetes spells optional);
* `IntOrString` → ``x-kubernetes-int-or-string: true``; `RawObject` and free-form maps →
  ``x-kubernetes-preserve-unknown-fields: true``; ``metadata`` → ``type: object`` (the API server owns it);
* anything that is not structural (unions of objects) → an opaque object;
* no ``enum`` and no ``required`` that Argo's CRDs do not have (`API_OPTIONAL`): what Argo's API server accepts,
  ours accepts, and the controller names the bad value in an ``InvalidSpec`` condition instead.

The CRDs are shaped like Argo Rollouts' (``manifests/crds/`` of argo-rollouts), so that an Argo controller works
on ours and ours on Argo's: same names, shortNames, scope, printer columns, subresources — a status subresource
for Rollout only; AnalysisRun and Experiment have none, their controllers write status with the object — and the
same API-level rules (``spec.selector`` of a Rollout is immutable). ``tests/test_crds.py`` compares them with
Argo's published CRDs.

Adding a kind is one `CrdSpec` entry in `REGISTRY`. `validate` checks a manifest against a generated schema
the way the API server would (type errors, required fields; unknown fields reported as pruned).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from analysis.wire import INT_OR_STRING_MARK, PRESERVE_UNKNOWN_MARK

__all__ = ["REGISTRY", "CrdSpec", "all_crds", "crd_for", "main", "structural_schema", "validate"]

Obj = dict[str, Any]
GROUP = "argoproj.io"
VERSION = "v1alpha1"
CRD_DIR = Path(__file__).resolve().parents[1] / "crds"
_AGE = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
    "description": "Time since resource was created",
}
_OPAQUE: Obj = {"type": "object", PRESERVE_UNKNOWN_MARK: True}

#: Fields the models require but the API server does not (Argo's CRDs accept them absent; the controller then
#: reports the object as invalid, naming the field).
API_OPTIONAL = frozenset({"templateName"})

#: Kubernetes validation rules (CEL) the API server applies on update, by dotted path in the schema.
_SELECTOR_IMMUTABLE: Obj = {
    "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": ".spec.selector is immutable"}]
}


@dataclass(frozen=True)
class CrdSpec:
    """One custom resource: names, scope, subresources, printer columns and the model behind its schema."""

    kind: str
    plural: str
    model: str | None
    """``"module:Class"`` of the pydantic model, or None for a schemaless (preserve-unknown) resource."""
    short_names: tuple[str, ...] = ()
    scope: str = "Namespaced"
    status: bool = False
    scale: Mapping[str, str] | None = None
    columns: tuple[Mapping[str, str], ...] = (_AGE,)
    group: str = GROUP
    version: str = VERSION
    required: tuple[str, ...] = ("spec",)
    extra_names: Mapping[str, Any] = field(default_factory=dict)
    rules: Mapping[str, Obj] = field(default_factory=dict)
    """Extra keys merged into the schema node at a dotted path (``"spec.selector"``), e.g. validation rules."""


REGISTRY: list[CrdSpec] = [
    CrdSpec(
        "AnalysisTemplate",
        "analysistemplates",
        "analysis.models:AnalysisTemplate",
        short_names=("at",),
    ),
    CrdSpec(
        "ClusterAnalysisTemplate",
        "clusteranalysistemplates",
        "analysis.models:ClusterAnalysisTemplate",
        short_names=("cat",),
        scope="Cluster",
    ),
    CrdSpec(
        "AnalysisRun",
        "analysisruns",
        "analysis.models:AnalysisRun",
        short_names=("ar",),
        columns=(
            {
                "name": "Status",
                "type": "string",
                "jsonPath": ".status.phase",
                "description": "AnalysisRun status",
            },
            _AGE,
        ),
    ),
    CrdSpec(
        "Rollout",
        "rollouts",
        "rollouts.models:Rollout",
        short_names=("ro",),
        status=True,
        rules={"spec.selector": _SELECTOR_IMMUTABLE},
        scale={
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.HPAReplicas",
            "labelSelectorPath": ".status.selector",
        },
        columns=(
            {
                "name": "Desired",
                "type": "integer",
                "jsonPath": ".spec.replicas",
                "description": "Number of desired pods",
            },
            {
                "name": "Current",
                "type": "integer",
                "jsonPath": ".status.replicas",
                "description": "Total number of non-terminated pods targeted by this rollout",
            },
            {
                "name": "Up-to-date",
                "type": "integer",
                "jsonPath": ".status.updatedReplicas",
                "description": "Total number of non-terminated pods targeted by this rollout that have the desired template spec",
            },
            {
                "name": "Available",
                "type": "integer",
                "jsonPath": ".status.availableReplicas",
                "description": "Total number of available pods (ready for at least minReadySeconds) targeted by this rollout",
            },
            _AGE,
        ),
    ),
    CrdSpec(
        "Experiment",
        "experiments",
        None,
        short_names=("exp",),
        columns=(
            {
                "name": "Status",
                "type": "string",
                "jsonPath": ".status.phase",
                "description": "Experiment status",
            },
            _AGE,
        ),
        required=(),
    ),
]


# --- schema conversion ---------------------------------------------------------------------------


def _resolve(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve(v, defs, seen) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return dict(_OPAQUE)  # recursive type: structural schemas cannot express it
        merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, defs, (*seen, name))
    return {k: _resolve(v, defs, seen) for k, v in node.items()}


def _structural(node: Obj) -> Obj:
    if node.get(INT_OR_STRING_MARK):
        return {INT_OR_STRING_MARK: True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    if node.get(PRESERVE_UNKNOWN_MARK):
        out: Obj = {PRESERVE_UNKNOWN_MARK: True}
        if node.get("type"):
            out["type"] = node["type"]
        return out
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            rest = {k: v for k, v in node.items() if k not in (key, "default", "title")}
            if len(options) == 1:
                return _structural({**options[0], **rest})
            if (
                all(o.get("type") in ("integer", "string") and len(o) == 1 for o in options)
                and len(options) == 2
            ):
                return _structural({**rest, INT_OR_STRING_MARK: True})
            return dict(_OPAQUE)
    if "allOf" in node and len(node["allOf"]) == 1:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return _structural({**node["allOf"][0], **rest})
    out = {}
    kind = node.get("type")
    if kind is None and "properties" in node:
        kind = "object"
    if kind is None and "const" not in node and "enum" not in node:
        return {PRESERVE_UNKNOWN_MARK: True}  # Any
    if "const" in node or "enum" in node:
        out["type"] = kind or "string"  # the values themselves are the controller's to check (no enum)
    elif kind is not None:
        out["type"] = kind
    if kind == "number":
        out["type"] = "number"
    if "format" in node and node["format"] in ("date-time", "int32", "int64", "double", "float"):
        out["format"] = node["format"]
    if kind == "array":
        items = node.get("items")
        out["items"] = _structural(items) if isinstance(items, dict) and items else dict(_OPAQUE)
    if kind == "object":
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if props:
            out["properties"] = {name: _structural(schema) for name, schema in props.items()}
            required = [r for r in node.get("required") or () if r not in API_OPTIONAL]
            if required:
                out["required"] = required
        elif isinstance(extra, dict) and extra:
            out["additionalProperties"] = _structural(extra)
        else:
            out[PRESERVE_UNKNOWN_MARK] = True
    return out


def structural_schema(model: Any, required: tuple[str, ...] = ("spec",)) -> Obj:
    """The openAPIV3Schema of a top-level kind from its pydantic model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    resolved = _resolve({k: v for k, v in raw.items() if k != "$defs"}, defs, ())
    schema = _structural(resolved)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {"type": "object"}
    schema["type"] = "object"
    schema.pop(PRESERVE_UNKNOWN_MARK, None)
    if required:
        schema["required"] = [r for r in required if r in props]
    else:
        schema.pop("required", None)
    return schema


def _model(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def crd_for(spec: CrdSpec) -> Obj:
    """The CustomResourceDefinition of one registry entry."""
    if spec.model is None:
        schema: Obj = {"type": "object", PRESERVE_UNKNOWN_MARK: True}
    else:
        schema = structural_schema(_model(spec.model), spec.required)
    for path, extra in spec.rules.items():
        node = schema
        for name in path.split("."):
            node = node["properties"][name]
        node.update(extra)
    version: Obj = {
        "name": spec.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    subresources: Obj = {}
    if spec.status:
        subresources["status"] = {}
    if spec.scale:
        subresources["scale"] = dict(spec.scale)
    if subresources:
        version["subresources"] = subresources
    if spec.columns:
        version["additionalPrinterColumns"] = [dict(c) for c in spec.columns]
    names: Obj = {
        "kind": spec.kind,
        "listKind": f"{spec.kind}List",
        "plural": spec.plural,
        "singular": spec.kind.lower(),
    }
    if spec.short_names:
        names["shortNames"] = list(spec.short_names)
    names.update(spec.extra_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{spec.plural}.{spec.group}"},
        "spec": {"group": spec.group, "names": names, "scope": spec.scope, "versions": [version]},
    }


def all_crds() -> list[Obj]:
    """Every CRD of the registry (fresh dicts: callers may modify them)."""
    return [crd_for(spec) for spec in REGISTRY]


# --- validation (what the API server would reject or prune) ----------------------------------------


def validate(schema: Obj, value: Any, path: str = "") -> tuple[list[str], list[str]]:
    """Check `value` against a structural schema: (errors, pruned field paths)."""
    errors: list[str] = []
    pruned: list[str] = []
    _check(schema, value, path or "<root>", errors, pruned)
    return errors, pruned


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _is_date_time(value: str) -> bool:
    if "T" not in value.upper():
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


def _check(schema: Obj, value: Any, path: str, errors: list[str], pruned: list[str]) -> None:
    if value is None:
        return  # Kubernetes drops nulls for non-nullable fields
    if schema.get(INT_OR_STRING_MARK):
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors.append(f"{path}: must be an integer or a string")
        return
    kind = schema.get("type")
    if kind is not None:
        expected = _TYPES[kind]
        if (isinstance(value, bool) and kind != "boolean") or not isinstance(value, expected):
            errors.append(f"{path}: must be of type {kind}")
            return
    if schema.get("format") == "date-time" and not _is_date_time(value):
        errors.append(f"{path}: must be an RFC 3339 date-time")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: must be one of {schema['enum']}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{i}]", errors, pruned)
    if kind == "object" or (kind is None and isinstance(value, dict)):
        props = schema.get("properties")
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}.{name}: required")
        if (schema.get(PRESERVE_UNKNOWN_MARK) and props is None) or path == "<root>.metadata":
            return  # the API server owns metadata; preserve-unknown objects keep everything
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                _check(props[key], item, f"{path}.{key}", errors, pruned)
            elif isinstance(extra, dict):
                _check(extra, item, f"{path}.{key}", errors, pruned)
            elif not schema.get(PRESERVE_UNKNOWN_MARK):
                pruned.append(f"{path}.{key}")


# --- files ---------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def render(crd: Obj) -> str:
    return yaml.dump(
        crd, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True
    )


def expected_files() -> dict[str, str]:
    """File name → content of everything ``crds/`` should hold."""
    files: dict[str, str] = {}
    names: list[str] = []
    for crd in all_crds():
        name = f"{crd['metadata']['name']}.yaml"
        files[name] = "# Generated by `python -m rollouts.crdgen` from the models; do not edit.\n" + render(
            crd
        )
        names.append(name)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": names,
    }
    files["kustomization.yaml"] = "# Generated by `python -m rollouts.crdgen`.\n" + render(kustomization)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rollouts.crdgen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if crds/ differs from the models")
    parser.add_argument("--dir", type=Path, default=CRD_DIR, help="output directory (default: crds/)")
    opts = parser.parse_args(argv)
    files = expected_files()
    if opts.check:
        drift = [
            name
            for name, content in files.items()
            if not (opts.dir / name).is_file() or (opts.dir / name).read_text() != content
        ]
        if drift:
            print(
                f"crds/ is out of date ({', '.join(drift)}): run `python -m rollouts.crdgen`", file=sys.stderr
            )
            return 1
        print(f"crds/ matches the models ({len(files)} files)")
        return 0
    opts.dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (opts.dir / name).write_text(content)
    print(f"wrote {len(files)} files to {opts.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
