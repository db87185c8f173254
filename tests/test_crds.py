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
        pytest.param("AnalysisRun", "analysisruns", ["ar"], "Namespaced", {"status"}, id="ar"),
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
            {"kind": "AnalysisRun", "spec": {"metrics": []}, "status": {"phase": "Bogus"}},
            "<root>.status.phase: must be one of ['Pending', 'Running', 'Successful', 'Failed', 'Error', 'Inconclusive']",
            id="phase-enum",
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
