"""`rollouts analyze` with arguments read from Secrets, and which unresolved argument an error names.

Secret arguments (`valueFrom.secretKeyRef`) take their value from `-a NAME=VALUE` or `--arg-file NAME=PATH`;
the value reaches the backend and is shown as ***** everywhere (text and JSON output). The argument-order
table follows Argo's utils/analysis/helpers.go: `FlattenTemplates` appends AnalysisTemplates' args, then
ClusterAnalysisTemplates', and `MergeArgs`/`ResolveArgs` name the first one left without a value.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from analysis.cli import analyze
from analysis.execution import ExecutionError, build_run
from analysis.manifests import load_templates
from tests.fixtures.prometheus import PrometheusServer

SECRET = "tok-3f9a2b7c1d"

SECRET_TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: gated
spec:
  args:
  - name: api-token
    valueFrom:
      secretKeyRef: {name: prometheus-credentials, key: token}
  metrics:
  - name: gated
    successCondition: result[0] >= 0.99
    provider:
      prometheus:
        address: http://prometheus.invalid:9090
        query: "vector(0.995) # {{args.api-token}}"
        headers:
        - key: X-Token
          value: "{{args.api-token}}"
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(analyze, list(args))


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.prometheus
@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("source", ["arg", "arg-file"])
def test_a_secret_argument_from_the_command_line(
    prometheus: PrometheusServer, tmp_path: Path, output: str, source: str
) -> None:
    template = write(tmp_path, SECRET_TEMPLATE)
    if source == "arg":
        given = ["-a", f"api-token={SECRET}"]
    else:
        token_file = tmp_path / "token"
        token_file.write_text(SECRET + "\n")
        given = ["--arg-file", f"api-token={token_file}"]
    result = invoke("-f", template, *given, "--prometheus", prometheus.url, "--at", "now", "-o", output)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    if output == "json":
        status = json.loads(result.output)
        assert status["phase"] == "Successful"
        (metric,) = status["metricResults"]
        assert metric["metadata"]["ResolvedPrometheusQuery"] == "vector(0.995) # *****"
    else:
        assert "query: vector(0.995) # *****" in result.output


def test_a_secret_argument_without_a_value_is_bad_input(tmp_path: Path) -> None:
    result = invoke("-f", write(tmp_path, SECRET_TEMPLATE), "--at", "now")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f'error: {tmp_path / "t.yaml"}: AnalysisTemplate "gated": spec.args[0] (api-token) is read from Secret '
        "'prometheus-credentials' key 'token', which rollouts analyze does not read: pass -a api-token=VALUE "
        "or --arg-file api-token=PATH"
    )


@pytest.mark.parametrize(
    ("flag", "fragment"),
    [
        pytest.param("api-token", "expected NAME=PATH", id="no-path"),
        pytest.param(
            "api-token=/nonexistent/token", "cannot read the file: No such file or directory", id="missing"
        ),
    ],
)
def test_arg_file_errors(tmp_path: Path, flag: str, fragment: str) -> None:
    result = invoke("-f", write(tmp_path, SECRET_TEMPLATE), "--arg-file", flag, "--at", "now")
    assert result.exit_code == 2
    assert fragment in result.output and result.output.startswith("error: --arg-file ")


def test_help_tells_how_to_pass_a_secret() -> None:
    result = invoke("--help")
    assert "--arg-file" in result.output and "Secret" in result.output


# --- which unresolved argument an error names ----------------------------------------------------------


def template(kind: str, name: str, args: list[str]) -> str:
    lines = "\n".join(f"  - name: {a}" for a in args)
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: {kind}
metadata:
  name: {name}
spec:
  args:
{lines}
  metrics:
  - name: {name}-metric
    provider:
      prometheus:
        address: http://prometheus.invalid:9090
        query: vector(1)
"""


@pytest.mark.parametrize(
    ("documents", "given", "named"),
    [
        pytest.param([("AnalysisTemplate", "a", ["x", "y"])], {}, "x", id="first-of-one-template"),
        pytest.param([("AnalysisTemplate", "a", ["x", "y"])], {"x": "1"}, "y", id="given-ones-skipped"),
        pytest.param(
            [("ClusterAnalysisTemplate", "c", ["z"]), ("AnalysisTemplate", "a", ["y"])],
            {},
            "y",
            id="namespaced-before-cluster-whatever-the-file-order",
        ),
        pytest.param(
            [("AnalysisTemplate", "a", ["y"]), ("AnalysisTemplate", "b", ["x", "y"])],
            {},
            "y",
            id="first-appearance-across-templates",
        ),
        pytest.param(
            [("ClusterAnalysisTemplate", "c", ["w", "z"]), ("ClusterAnalysisTemplate", "d", ["a"])],
            {"w": "1"},
            "z",
            id="cluster-templates-in-order",
        ),
    ],
)
def test_the_unresolved_argument_named_is_argos(
    tmp_path: Path, documents: list[tuple[str, str, list[str]]], given: dict[str, str], named: str
) -> None:
    path = write(tmp_path, "---\n".join(template(*d) for d in documents))
    with pytest.raises(ExecutionError) as raised:
        build_run(load_templates([path]), given)
    assert f"({named}): no value: pass -a {named}=VALUE" in str(raised.value)
