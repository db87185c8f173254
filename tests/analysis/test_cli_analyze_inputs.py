"""`rollouts analyze` on templates Argo accepts (composed, limits from arguments) and on files that are not
templates at all (not UTF-8, nested too deep): exit 2 with one line, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from analysis.cli import analyze
from tests.fixtures.prometheus import unused_url

PARTS = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: {name}}}
spec:
  args: [{{name: service-name}}, {{name: runs, value: "1"}}]
  metrics:
  - name: {name}
    count: "{{{{args.runs}}}}"
    failureLimit: "{{{{args.runs}}}}"
    provider:
      prometheus:
        query: up{{service="{{{{args.service-name}}}}"}}
"""
COMPOSED = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: rates}
spec:
  args: [{name: service-name}]
  templates:
  - templateName: success-rate
  - templateName: error-rate
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(analyze, list(args))


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_a_composed_template_runs_the_metrics_of_its_parts(tmp_path: Path) -> None:
    """docs/features/analysis.md: a template of `templates` only; the run has every metric of the parts."""
    parts = write(
        tmp_path, "parts.yaml", PARTS.format(name="success-rate") + "---\n" + PARTS.format(name="error-rate")
    )
    rates = write(tmp_path, "rates.yaml", COMPOSED)
    address = unused_url()
    result = invoke("-f", rates, "-f", parts, "--template", "rates", "-a", "service-name=api",
                    "--prometheus", address, "--at", "now", "-o", "json")  # fmt: skip
    assert result.exit_code == 3, result.output  # Prometheus is down: Error, but both metrics were measured
    status = json.loads(result.stdout)
    assert [m["name"] for m in status["metricResults"]] == ["success-rate", "error-rate"]


def test_a_part_missing_from_the_files_is_named(tmp_path: Path) -> None:
    rates = write(tmp_path, "rates.yaml", COMPOSED + "---\n" + PARTS.format(name="success-rate"))
    result = invoke("-f", rates, "--template", "rates", "-a", "service-name=api", "--at", "now")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f'error: {rates}: AnalysisTemplate "rates": spec.templates[1]: AnalysisTemplate "error-rate" is not in '
        "the files given: add its file with another -f"
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(
            b"\xff\xfe kind", "not UTF-8 text (byte 0xff at offset 0); save it as UTF-8", id="utf16"
        ),
        pytest.param("spec: " + "[" * 3000, "nested more than 100 levels deep", id="deep"),
        pytest.param("a: &a [x, x]\nb: [*a, *a]\n", "document 1: missing kind", id="no-kind"),
        pytest.param(
            PARTS.format(name="m").replace('count: "{{args.runs}}"', "count: -1"),
            "spec.metrics[0] (m).count: count must be >= 0",
            id="negative-count",
        ),
        pytest.param(
            PARTS.format(name="m").replace("query: up", "timeout: -1\n        query: up"),
            "spec.metrics[0] (m).provider.prometheus.timeout: prometheus timeout should not be negative",
            id="negative-timeout",
        ),
        pytest.param(
            PARTS.format(name="Not_A_Name"),
            'metadata.name: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain',
            id="bad-name",
        ),
    ],
)
def test_bad_files_are_one_line(tmp_path: Path, content: str | bytes, fragment: str) -> None:
    path = write(tmp_path, "t.yaml", content)
    result = invoke("-f", path, "-a", "service-name=api", "--at", "now")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}") and fragment in line, line
