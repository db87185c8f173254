"""`create -f FILE` and `create analysisrun --from-file FILE`: the file is read and checked before the cluster is
asked, with the same reader and validation as `lint` (`analysis.reading`, `analysis.validating`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugin.conftest import Cluster

TEMPLATE: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "smoke"},
    "spec": {
        "args": [{"name": "service-name"}],
        "metrics": [
            {
                "name": "up",
                "count": "{{args.runs}}",
                "provider": {
                    "prometheus": {"address": "http://p:9090", "query": "up{job='{{args.service-name}}'}"}
                },
            }
        ],
    },
}


def write(tmp_path: Path, content: str | bytes) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_create_from_files(cluster: Cluster, tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(TEMPLATE))
    result = cluster.run("create", "-f", path)
    assert (result.exit_code, result.output) == (0, "analysistemplate.argoproj.io/smoke created\n")
    run = cluster.run("create", "analysisrun", "--from-file", path, "-a", "service-name=api", "--name", "now")
    assert (run.exit_code, run.output) == (0, "analysisrun.argoproj.io/now created\n")
    assert cluster.get("AnalysisRun", "now")["spec"]["args"] == [{"name": "service-name", "value": "api"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"kind: \xff",
            "manifest.yaml: not UTF-8 text (byte 0xff at offset 6); save it as UTF-8",
            id="bytes",
        ),
        pytest.param("", "manifest.yaml: expected one Kubernetes object, found 0 documents", id="empty"),
        pytest.param("a: [" * 200, "manifest.yaml: nested more than 100 levels deep at line 1", id="deep"),
        pytest.param(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
            "manifest.yaml: creates of v1/Service unsupported",
            id="foreign-kind",
        ),
    ],
)
def test_bad_files_fail_before_any_request(
    cluster: Cluster, tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = write(tmp_path, content)
    before = len(cluster.requests())
    result = cluster.run("create", "-f", path)
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path}/{message}\n"
    assert len(cluster.requests()) == before


def test_a_template_file_is_validated_as_lint_validates_it(cluster: Cluster, tmp_path: Path) -> None:
    bad = {
        **TEMPLATE,
        "spec": {**TEMPLATE["spec"], "metrics": [{**TEMPLATE["spec"]["metrics"][0], "count": -1}]},
    }
    path = write(tmp_path, yaml.safe_dump(bad))
    before = len(cluster.requests())
    result = cluster.run("create", "analysisrun", "--from-file", path, "-a", "service-name=api")
    assert result.exit_code == 1
    assert result.output == (
        f'Error: {path}: AnalysisTemplate "smoke": spec.metrics[0].count: count must be >= 0 (a negative count '
        "would end the metric after one measurement)\n"
    )
    assert len(cluster.requests()) == before
