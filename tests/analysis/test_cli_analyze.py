"""`rollouts analyze`: bad input (exit 2, one line naming file/object/field), modes and exit codes.

Runs against a real Prometheus (tests/fixtures/prometheus.py) for the measuring cases; the replays of the
seed's own templates live in test_seed_templates.py.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from analysis.cli import analyze, parse_time
from tests.fixtures.prometheus import PrometheusServer, unused_url

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: {name}
spec:
  args:
  - name: service-name
  metrics:
  - name: {name}
    {extra}
    provider:
      prometheus:
        address: http://prometheus.invalid:9090
        query: {query}
"""

GOOD = TEMPLATE.format(
    name="success-rate",
    extra="successCondition: result[0] >= 0.99",
    query="scalar(vector(1)) * 0 + 0.995  # {{args.service-name}}",
)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(analyze, list(args))


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def assert_bad_input(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def metric_yaml(**fields: Any) -> str:
    body = "\n".join(f"    {k}: {v}" for k, v in fields.items())
    return TEMPLATE.format(name="m", extra=body.strip(), query="up")


@pytest.mark.parametrize(
    ("document", "fragments"),
    [
        pytest.param(
            "kind: AnalysisTemplate\nspec: [unclosed\n", ("not valid YAML at line",), id="malformed-yaml"
        ),
        pytest.param(
            "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: api}\nspec: {}\n",
            ('unknown kind "Rollout"', "document 1 (api)"),
            id="unknown-kind",
        ),
        pytest.param(
            TEMPLATE.format(name="m", extra="interval: 1m", query="up").replace(
                "    provider:\n", "    provider:\n      web: {url: 'http://x'}\n"
            ),
            ('AnalysisTemplate "m"', "spec.metrics[0] (m).provider", "multiple providers specified"),
            id="two-providers",
        ),
        pytest.param(
            metric_yaml(failureLimit=-2),
            ("spec.metrics[0] (m).failureLimit", "failureLimit must be >= 0, or -1 to be disabled"),
            id="negative-failure-limit",
        ),
        pytest.param(
            metric_yaml(inconclusiveLimit=-1),
            ("spec.metrics[0] (m).inconclusiveLimit", "inconclusiveLimit must be >= 0"),
            id="negative-inconclusive-limit",
        ),
        pytest.param(
            metric_yaml(interval="1x"),
            (
                "spec.metrics[0] (m).interval",
                'invalid interval string: time: unknown unit "x" in duration "1x"',
            ),
            id="bad-interval",
        ),
        pytest.param(
            metric_yaml(successCondition='"result[0] >="'),
            ("spec.metrics[0] (m).successCondition", "does not compile"),
            id="condition-does-not-compile",
        ),
        pytest.param(
            metric_yaml(failureCondition='"bogus > 1"'),
            ("spec.metrics[0] (m).failureCondition", "unknown name bogus"),
            id="condition-unknown-name",
        ),
        pytest.param(
            metric_yaml(count="[1]"),
            ("spec.metrics[0] (m).count", "valid integer"),
            id="count-wrong-type",
        ),
        pytest.param(
            "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: x}\nspec: {metrics: []}\n",
            ('AnalysisTemplate "x"', "no metrics specified"),
            id="no-metrics",
        ),
    ],
)
def test_bad_manifests(tmp_path: Path, document: str, fragments: tuple[str, ...]) -> None:
    path = write(tmp_path, document)
    result = invoke("-f", path, "-a", "service-name=api", "--at", "now")
    assert_bad_input(result, path, *fragments)


def test_missing_argument_names_the_template_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert_bad_input(
        invoke("-f", path, "--at", "now"),
        path,
        'AnalysisTemplate "success-rate"',
        "spec.args[0] (service-name)",
        "-a service-name=VALUE",
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(("--at", "yesterday"), ("--at 'yesterday'", "RFC 3339"), id="bad-time"),
        pytest.param(("--at", "now", "--from", "-1h"), ("--at cannot be combined",), id="at-and-from"),
        pytest.param(("--to", "now"), ("--to needs --from",), id="to-alone"),
        pytest.param(("--from", "-1h", "--to", "-2h"), ("replay window is empty",), id="empty-window"),
        pytest.param(
            ("--template", "nope"), ("--template nope", "found: success-rate"), id="unknown-template"
        ),
        pytest.param(("-a", "service-name"), ("expected NAME=VALUE",), id="arg-without-value"),
        pytest.param(("-a", "other=1"), ("-a other", "declared: service-name"), id="undeclared-arg"),
        pytest.param(
            ("--prometheus", "localhost:9090"), ("--prometheus", "http(s) URL"), id="bad-prometheus"
        ),
    ],
)
def test_bad_options(tmp_path: Path, args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    path = write(tmp_path, GOOD)
    defaults = () if "-a" in args else ("-a", "service-name=x")
    assert_bad_input(invoke("-f", path, *defaults, *args), *fragments)


def test_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    result = invoke("-f", missing)
    assert result.exit_code == 2 and "nope.yaml" in result.stderr


def test_parse_time_forms() -> None:
    now = parse_time("2024-01-01T01:00:00Z", parse_time("now", __import__("datetime").datetime.now()))
    assert parse_time("now", now) == now
    assert parse_time("-30m", now) == now - timedelta(minutes=30)
    assert parse_time("now-2h", now) == now - timedelta(hours=2)
    assert parse_time("+5m", now) == now + timedelta(minutes=5)
    assert parse_time("2024-01-01T00:30:00+00:00", now) == now - timedelta(minutes=30)


# --- measuring against a real Prometheus -----------------------------------------------------------------

SCALAR_TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: probe
spec:
  metrics:
  - name: probe
    successCondition: {success}
    provider:
      prometheus:
        address: {address}
        query: '{query}'
"""


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("query", "success", "code", "phase"),
    [
        pytest.param("vector(0.995)", "result[0] >= 0.99", 0, "Successful", id="successful-0"),
        pytest.param("vector(0.5)", "result[0] >= 0.99", 1, "Failed", id="failed-1"),
        pytest.param("vector(1)", "result[3] >= 0.99", 3, "Error", id="error-3"),
        pytest.param("vector(0)/0", "result[0] >= 0.99", 1, "Failed", id="nan-success-only-fails"),
    ],
)
def test_exit_codes_at_an_instant(
    tmp_path: Path, prometheus: PrometheusServer, query: str, success: str, code: int, phase: str
) -> None:
    path = write(
        tmp_path, SCALAR_TEMPLATE.format(success=json.dumps(success), address=prometheus.url, query=query)
    )
    result = invoke("-f", path, "--at", "now", "-o", "json")
    assert result.exit_code == code, result.output + result.stderr
    status = json.loads(result.stdout)
    assert status["phase"] == phase


@pytest.mark.prometheus
def test_inconclusive_exit_code(tmp_path: Path, prometheus: PrometheusServer) -> None:
    doc = SCALAR_TEMPLATE.format(
        success='"result[0] > 1"', address=prometheus.url, query="vector(1)"
    ).replace("    provider:", "    failureCondition: result[0] < 1\n    provider:")
    result = invoke("-f", write(tmp_path, doc), "--at", "now")
    assert result.exit_code == 4, result.output
    assert "Verdict: Inconclusive" in result.stdout


@pytest.mark.prometheus
def test_prometheus_override_and_text_output(tmp_path: Path, prometheus: PrometheusServer) -> None:
    doc = SCALAR_TEMPLATE.format(success='"result[0] >= 0.99"', address=unused_url(), query="vector(0.995)")
    path = write(tmp_path, doc)
    down = invoke("-f", path, "--at", "now")
    assert down.exit_code == 3 and "Connection refused" in down.stdout
    up = invoke("-f", path, "--at", "now", "--prometheus", prometheus.url)
    assert up.exit_code == 0, up.output
    assert "[0.995]" in up.stdout and "Verdict: Successful" in up.stdout
    assert "\x1b[" not in up.stdout  # no colour when not a terminal


@pytest.mark.prometheus
def test_live_ctrl_c_terminates_the_run_and_prints_it(tmp_path: Path, prometheus: PrometheusServer) -> None:
    doc = SCALAR_TEMPLATE.format(success='"result[0] >= 0.99"', address=prometheus.url, query="vector(0.995)")
    path = write(tmp_path, doc.replace("    successCondition:", "    interval: 1h\n    successCondition:"))
    process = subprocess.Popen(
        [sys.executable, "-m", "rollouts.cli", "analyze", "-f", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "Successful" not in seen and time.monotonic() < deadline:  # the first live measurement
            ready, _, _ = select.select([process.stderr], [], [], 1)
            if ready:
                seen += process.stderr.readline()
        assert "probe  [0.995]  Successful" in seen, seen
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Verdict: Successful" in stdout and "Run Terminated" in stdout


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "when",
    [
        pytest.param(("--at", "-5m"), id="at-relative"),
        pytest.param(("--from", "-3m", "--to", "-1m"), id="window-relative"),
        pytest.param(("--from=-3m", "--to", "now"), id="glued"),
    ],
)
def test_relative_times_are_values_not_options(
    tmp_path: Path, prometheus: PrometheusServer, when: tuple[str, ...]
) -> None:
    doc = SCALAR_TEMPLATE.format(success='"result[0] >= 0.99"', address=prometheus.url, query="vector(0.995)")
    result = invoke("-f", write(tmp_path, doc), *when, "-o", "json")
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(result.stdout)["phase"] == "Successful"
