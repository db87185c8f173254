"""The CRDs in crds/ are generated from the models (drift test) and accept the example manifests."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.models import AnalysisRunSpec, Measurement, Metric
from analysis.providers.base import BaseProvider
from analysis.runner import VirtualClock, run_to_completion
from rollouts import crdgen

ROOT = Path(__file__).resolve().parents[1]
CRDS = {c["spec"]["names"]["kind"]: c for c in crdgen.all_crds()}


def schema(kind: str) -> dict[str, Any]:
    return CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_crd_files_match_the_models() -> None:
    """Drift test: run `python -m rollouts.crdgen` after changing a model."""
    expected = crdgen.expected_files()
    on_disk = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    assert sorted(on_disk) == sorted(expected)
    for name, content in expected.items():
        assert on_disk[name] == content, f"crds/{name} is out of date: run `python -m rollouts.crdgen`"


def test_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--check", "--dir", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert crdgen.main(["--dir", str(tmp_path)]) == 0
    assert crdgen.main(["--check", "--dir", str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("kind", "plural", "short", "scope", "subresources"),
    [
        pytest.param("AnalysisTemplate", "analysistemplates", ["at"], "Namespaced", set(), id="at"),
        pytest.param(
            "ClusterAnalysisTemplate", "clusteranalysistemplates", ["cat"], "Cluster", set(), id="cat"
        ),
        pytest.param("AnalysisRun", "analysisruns", ["ar"], "Namespaced", set(), id="ar"),
        pytest.param("Experiment", "experiments", ["exp"], "Namespaced", set(), id="exp"),
        pytest.param("Rollout", "rollouts", ["ro"], "Namespaced", {"status", "scale"}, id="ro"),
    ],
)
def test_names_scope_subresources(
    kind: str, plural: str, short: list[str], scope: str, subresources: set[str]
) -> None:
    crd = CRDS[kind]
    assert crd["metadata"]["name"] == f"{plural}.argoproj.io"
    assert crd["spec"]["names"]["shortNames"] == short
    assert crd["spec"]["scope"] == scope
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert set(version.get("subresources", {})) == subresources


def test_analysis_run_printer_columns() -> None:
    columns = CRDS["AnalysisRun"]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(c["name"], c["jsonPath"]) for c in columns] == [
        ("Status", ".status.phase"),
        ("Age", ".metadata.creationTimestamp"),
    ]


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key in ("properties",):
            for name, child in node.get(key, {}).items():
                out.extend(_walk(child, f"{path}.{name}"))
        if isinstance(node.get("items"), dict):
            out.extend(_walk(node["items"], f"{path}[]"))
        if isinstance(node.get("additionalProperties"), dict):
            out.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    return out


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schemas_are_structural(kind: str) -> None:
    """Every node has a type (or int-or-string / preserve-unknown-fields), no refs, no defaults, no null unions."""
    for path, node in _walk(schema(kind)):
        assert "$ref" not in node and "default" not in node and "title" not in node, path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string") is True, path
        assert (
            "type" in node
            or node.get("x-kubernetes-int-or-string")
            or node.get("x-kubernetes-preserve-unknown-fields")
        ), path
        assert not ("properties" in node and "additionalProperties" in node), path


def test_schema_markers() -> None:
    metric = schema("AnalysisTemplate")["properties"]["spec"]["properties"]["metrics"]["items"]["properties"]
    assert metric["count"]["x-kubernetes-int-or-string"] is True
    assert metric["failureLimit"]["x-kubernetes-int-or-string"] is True
    job = metric["provider"]["properties"]["job"]["properties"]
    assert job["spec"] == {"x-kubernetes-preserve-unknown-fields": True, "type": "object"}
    assert metric["provider"]["properties"]["kayenta"]["x-kubernetes-preserve-unknown-fields"] is True


def _examples() -> list[Any]:
    params = []
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and doc.get("kind") in CRDS:
                params.append(pytest.param(doc, id=f"{path.relative_to(ROOT / 'examples')}#{i}"))
    return params


@pytest.mark.parametrize("doc", _examples())
def test_examples_validate_without_pruning(doc: dict[str, Any]) -> None:
    errors, pruned = crdgen.validate(schema(doc["kind"]), doc)
    assert errors == []
    assert pruned == []


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        pytest.param(
            {"kind": "AnalysisTemplate", "spec": {"metrics": [{"name": "m", "count": 1.5, "provider": {}}]}},
            "<root>.spec.metrics[0].count: must be an integer or a string",
            id="int-or-string",
        ),
        pytest.param({"kind": "AnalysisTemplate"}, "<root>.spec: required", id="spec-required"),
        pytest.param(
            {"kind": "AnalysisRun", "spec": {"metrics": []}, "status": {"phase": 3}},
            "<root>.status.phase: must be of type string",
            id="phase-type",
        ),
        pytest.param(
            {"kind": "AnalysisRun", "spec": {"metrics": []}, "status": {"startedAt": "yesterday"}},
            "<root>.status.startedAt: must be an RFC 3339 date-time",
            id="date-time",
        ),
    ],
)
def test_validate_reports_errors(doc: dict[str, Any], error: str) -> None:
    errors, _ = crdgen.validate(schema(doc["kind"]), doc)
    assert error in errors


def test_runner_status_is_kept_by_the_schema() -> None:
    """A status written by the runner loses nothing to pruning (every field is in the AnalysisRun schema)."""

    class Provider(BaseProvider):
        kind = "prometheus"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            return Measurement(value="[1]", metadata={"warnings": '"w"'}).with_result([1.0])

        def metadata(self, metric: Metric) -> dict[str, str] | None:
            return {"ResolvedPrometheusQuery": "q"}

    spec = AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {"name": "m", "count": 2, "interval": "1s", "provider": {"prometheus": {"query": "q"}}},
                {"name": "d", "successCondition": "false", "provider": {"prometheus": {"query": "q"}}},
            ],
            "dryRun": [{"metricName": "d"}],
        }
    )
    status = asyncio.run(
        run_to_completion(spec, {"prometheus": Provider()}, VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    )
    doc = {"kind": "AnalysisRun", "spec": spec.to_wire(), "status": status.to_wire()}
    assert crdgen.validate(schema("AnalysisRun"), doc) == ([], [])


# --- the same shape as Argo Rollouts' published CRDs (manifests/crds/ at the pinned commit) ----------------


def _argo_version(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return dict(version)


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_matches_argo_names_columns_subresources(kind: str, argo_crds: dict[str, Any]) -> None:
    """Names, shortNames, categories, scope, versions, printer columns and subresources are Argo's, so that
    kubectl, Argo CD and an Argo controller see the same API on either set (no status subresource for
    AnalysisRun and Experiment: their controllers write status with the object)."""
    ours, argo = CRDS[kind], argo_crds[kind]
    assert ours["metadata"]["name"] == argo["metadata"]["name"]
    assert ours["spec"]["names"] == argo["spec"]["names"]
    assert ours["spec"]["scope"] == argo["spec"]["scope"]
    for key in ("preserveUnknownFields", "conversion"):
        assert ours["spec"].get(key) == argo["spec"].get(key), key
    mine, theirs = _argo_version(ours), _argo_version(argo)
    for key in ("name", "served", "storage", "additionalPrinterColumns", "deprecated"):
        assert mine.get(key) == theirs.get(key), key
    assert (mine.get("subresources") or {}) == (theirs.get("subresources") or {})


def _nodes(node: Any, path: str = "") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(node, dict):
        return out
    out[path] = node
    for name, child in (node.get("properties") or {}).items():
        out.update(_nodes(child, f"{path}.{name}"))
    if isinstance(node.get("items"), dict):
        out.update(_nodes(node["items"], f"{path}[]"))
    if isinstance(node.get("additionalProperties"), dict):
        out.update(_nodes(node["additionalProperties"], f"{path}{{}}"))
    return out


def _opaque(nodes: dict[str, dict[str, Any]], path: str) -> bool:
    """Whether `path` lies in (or is) a node that keeps whatever it is given."""
    while True:
        node = nodes.get(path)
        if node is not None and node.get("x-kubernetes-preserve-unknown-fields"):
            return True
        if not path:
            return False
        path = path[: max(path.rfind("."), path.rfind("["), path.rfind("{"), 0)]


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_accepts_what_argo_accepts(kind: str, argo_crds: dict[str, Any]) -> None:
    """Every field of Argo's schema is kept by ours (declared, or inside an opaque node) with a compatible type,
    and ours requires nothing, restricts no value and adds no rule that Argo's does not: an object Argo's API
    server stores, ours stores too (an Argo controller works on our CRDs)."""
    ours = _nodes(schema(kind))
    argo = _nodes(_argo_version(argo_crds[kind])["schema"]["openAPIV3Schema"])
    for path, theirs in argo.items():
        if not path or (_opaque(ours, path) and path not in ours):
            continue
        assert path in ours, f"{kind}{path}: in Argo's schema, pruned by ours"
        mine = ours[path]
        if mine.get("x-kubernetes-preserve-unknown-fields") and "type" not in mine:
            continue
        if theirs.get("x-kubernetes-int-or-string"):
            assert mine.get("x-kubernetes-int-or-string"), f"{kind}{path}: int-or-string in Argo's"
        else:
            assert mine.get("type") == theirs.get("type"), f"{kind}{path}: type"
        extra = set(mine.get("required") or ()) - set(theirs.get("required") or ())
        assert not extra, f"{kind}{path}: ours requires {sorted(extra)}, Argo's does not"
    for path, mine in ours.items():
        assert "enum" not in mine, f"{kind}{path}: an enum Argo's schema does not have"
        rules = mine.get("x-kubernetes-validations")
        if rules:
            assert rules == argo[path].get("x-kubernetes-validations"), f"{kind}{path}: rules"


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_argo_schema_keeps_every_field_of_ours(kind: str, argo_crds: dict[str, Any]) -> None:
    """The reverse: every field our schema declares is declared by Argo's too (or opaque there), so objects
    this controller writes lose nothing when the cluster carries Argo's CRDs."""
    ours = _nodes(schema(kind))
    argo = _nodes(_argo_version(argo_crds[kind])["schema"]["openAPIV3Schema"])
    missing = [path for path in ours if path and path not in argo and not _opaque(argo, path)]
    assert missing == []


def test_objects_argo_writes_fit_our_schemas() -> None:
    """Argo's examples, its e2e manifests and the objects its controller wrote (status included, the fixtures
    of its kubectl plugin): our schemas reject and prune nothing that Argo's own schemas keep."""
    from tests.fixtures.argo_sources import (
        ARGO_ROLLOUTS,
        ARGO_ROLLOUTS_COMMIT,
        argo_file,
        argo_files,
        load_argo_crds,
    )

    argo = {k: v["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for k, v in load_argo_crds().items()}
    prefixes = ("examples", "test/e2e", "pkg/kubectl-argo-rollouts/info/testdata")
    checked, problems = 0, []
    for source in argo_files(ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, prefixes, ".yaml"):
        try:
            docs = list(yaml.safe_load_all(argo_file(source)))
        except yaml.YAMLError:
            continue  # templated files ({{ }}) are not YAML
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in CRDS:
                continue
            if not str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
                continue
            checked += 1
            their_errors, their_pruned = crdgen.validate(argo[doc["kind"]], doc)
            errors, pruned = crdgen.validate(schema(doc["kind"]), doc)
            problems += [f"{source.path}: {e}" for e in errors if e not in their_errors]
            problems += [f"{source.path}: pruned {p}" for p in pruned if p not in their_pruned]
    assert checked > 100  # the mirror at the pinned commit holds about 140 such objects
    assert problems == []
