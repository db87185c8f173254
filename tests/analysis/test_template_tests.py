"""`rollouts analyze test FILE...`: template unit tests on scripted query results (analysis/testing.py).

The runs are the engine's own on a virtual clock, so these tests check the harness (value forms, where a run
stops, what is compared, promtool's output and exit codes), not the engine's rules, which have their own."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from analysis.cli import analyze

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(analyze, ["test", *args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, template: dict[str, Any], tests: list[dict[str, Any]], **extra: Any) -> Path:
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(template))
    path = tmp_path / "t.test.yaml"
    path.write_text(yaml.safe_dump({"templates": ["t.yaml"], "tests": tests, **extra}))
    return path


def template(*metrics: dict[str, Any], args: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"metrics": list(metrics)}
    if args:
        spec["args"] = args
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "t"},
        "spec": spec,
    }


def prom(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"prometheus": {"address": "http://p:9090", "query": "q"}}, **fields}


def test_the_seed_templates_tests_pass() -> None:
    code, out, _ = run(str(EXAMPLES / "istio-canary" / "tests" / "success-rate.test.yaml"))
    assert (code, out) == (
        0,
        f"Unit Testing:  {EXAMPLES / 'istio-canary' / 'tests' / 'success-rate.test.yaml'}\n  SUCCESS\n",
    )


def test_a_wrong_expectation_fails_with_what_differed(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "istio-canary" / "success-rate.yaml", tmp_path / "success-rate.yaml")
    path = tmp_path / "wrong.test.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "templates": ["success-rate.yaml"],
                "args": {"service-name": "api-server-canary"},
                "tests": [
                    {
                        "name": "believes the canary survives",
                        "values": {"success-rate": [[0.995], [0.97], [0.96], [0.95], [0.94]]},
                        "expect": {
                            "phase": "Successful",
                            "metrics": {
                                "success-rate": {"failed": 3, "phases": ["Successful", "Successful"]}
                            },
                        },
                    },
                    {"name": "passes", "values": {"success-rate": [[0.995]]}, "expect": {"phase": "Running"}},
                ],
            }
        )
    )
    code, out, _ = run(str(path))
    assert code == 1
    assert out.splitlines() == [
        f"Unit Testing:  {path}",
        "  FAILED:",
        "    believes the canary survives:",
        "      phase: expected Successful, got Failed",
        "      metric success-rate failed: expected 3, got 4",
        "      metric success-rate phases: expected [Successful, Successful], got [Successful, Failed, Failed, "
        "Failed, Failed]",
    ]


@pytest.mark.parametrize(
    ("condition", "value", "phase"),
    [
        ("result == 0.5", 0.5, "Successful"),  # a number is a scalar
        ("result[0] == 0.5", [0.5], "Successful"),  # a list is a vector
        ("len(result) == 2 && result[1] > 1", [0.5, 2], "Successful"),
        ("result[0] >= 0.99", ["NaN"], "Failed"),  # NaN compares false
        ("isInf(result)", "+Inf", "Successful"),
        ("len(result) == 0", None, "Successful"),  # null: an empty answer
        ('result.verdict == "pass"', {"verdict": "pass"}, "Successful"),  # an object: web, the judge
        ("result[0] > 0", {"error": "connection refused"}, "Error"),
    ],
)
def test_value_forms(tmp_path: Path, condition: str, value: Any, phase: str) -> None:
    tests = [
        {
            "name": "one",
            "values": {"m": [value]},
            "expect": {"metrics": {"m": {"phases": [phase]}}},
        }
    ]
    path = write(tmp_path, template(prom("m", count=1, successCondition=condition)), tests)
    code, out, _ = run(str(path))
    assert code == 0, out


def test_the_run_is_the_engines_with_delays_limits_and_dry_run(tmp_path: Path) -> None:
    metrics = [
        prom("counted", count=3, interval="1m", initialDelay="30s", successCondition="result[0] > 0"),
        prom("dry", count=3, interval="1m", successCondition="result[0] > 0"),
    ]
    doc = template(*metrics)
    doc["spec"]["dryRun"] = [{"metricName": "dry"}]
    tests = [
        {
            "name": "counted metric completes, the dry-run one fails (at once: failureLimit 0) without failing the run",
            "values": {"counted": [[1], [1], [1]], "dry": [[0], [0], [0]]},
            "expect": {
                "phase": "Successful",
                "metrics": {
                    "counted": {"phase": "Successful", "count": 3},
                    "dry": {"phase": "Failed", "failed": 1},
                },
            },
        }
    ]
    code, out, _ = run(str(write(tmp_path, doc, tests)))
    assert code == 0, out


def test_arguments_and_secret_arguments_come_from_the_file(tmp_path: Path) -> None:
    args: list[dict[str, Any]] = [
        {"name": "threshold"},
        {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    metric = prom("m", count=1, successCondition="result[0] > {{args.threshold}}")
    metric["provider"]["prometheus"]["headers"] = [{"key": "Authorization", "value": "Bearer {{args.token}}"}]
    tests = [
        {"name": "above", "values": {"m": [[0.5]]}, "expect": {"phase": "Successful"}},
        {
            "name": "below",
            "args": {"threshold": "0.9"},
            "values": {"m": [[0.5]]},
            "expect": {"phase": "Failed"},
        },
    ]
    path = write(tmp_path, template(metric, args=args), tests, args={"threshold": "0.1", "token": "t0ken"})
    code, out, _ = run(str(path))
    assert code == 0, out


@pytest.mark.parametrize(
    ("tests", "extra", "message"),
    [
        ([{"name": "x", "values": {"m": [[1]]}, "expect": {"phase": "Runing"}}], {},
         "tests[0].expect.phase: Input should be 'Pending', 'Running', 'Successful', 'Failed', 'Error' or 'Inconclusive'"),
        ([{"name": "x", "values": {"m": [True]}, "expect": {}}], {},
         "tests[0] (x): values.m[0]: expected a number, NaN, a list, null or {error: …}, got True"),
        ([{"name": "x", "values": {"n": [[1]]}, "expect": {}}], {},
         "tests[0] (x): values.n: no metric of that name (metrics: m)"),
        ([{"name": "x", "values": {}, "expect": {}}], {},
         "tests[0] (x): values: no values for metric 'm' (every metric needs its own)"),
        ([{"name": "x", "values": {"m": [[1]]}, "expect": {"metrics": {"n": {"phase": "Failed"}}}}], {},
         "tests[0] (x): expect.metrics.n: no metric of that name (metrics: m)"),
        ([{"name": "x", "values": {"m": [[1]]}, "expect": {}, "expected": {}}], {},
         "tests[0].expected: Extra inputs are not permitted"),
        ([{"name": "x", "values": {"m": [[1]]}, "expect": {}}], {"args": {"nope": "1"}},
         "tests[0] (x): args: nope: no selected template declares an argument of that name (declared: none)"),
        ([], {}, "tests: List should have at least 1 item"),
    ],
    ids=["phase", "value", "unknown-metric", "missing-values", "unknown-expect", "extra-field", "unknown-arg", "no-tests"],
)  # fmt: skip
def test_a_bad_file_exits_2_naming_the_field(
    tmp_path: Path, tests: list[dict[str, Any]], extra: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, template(prom("m", count=1)), tests, **extra)
    code, _, err = run(str(path))
    assert code == 2
    assert f"{path}: {message}" in err, err


def test_a_missing_template_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "t.test.yaml"
    path.write_text(
        yaml.safe_dump({"templates": ["gone.yaml"], "tests": [{"name": "x", "values": {}, "expect": {}}]})
    )
    code, _, err = run(str(path))
    assert code == 2 and "gone.yaml: cannot read the file" in err


def test_hostile_sizes_are_refused(tmp_path: Path) -> None:
    tests = [{"name": "x", "values": {"m": [[1]] * 10_001}, "expect": {}}]
    code, _, err = run(
        str(write(tmp_path, template(prom("m", interval="1s", successCondition="true")), tests))
    )
    assert code == 2 and "values.m: more than 10000 values" in err
