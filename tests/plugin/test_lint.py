"""`lint -f FILE`: strict offline validation, and references between the objects of one file (docs/semantics/plugin.md#plugin-commands)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from rollouts.cli import cli
from rollouts.plugin.linting import lint_documents, lint_report


def advisory_free(warnings: list[str]) -> list[str]:
    """The warnings without the deep lint's advice (`[AL0nn]`, analysis.deeplint), which has its own tests."""
    return [w for w in warnings if not re.search(r"\[AL0\d\d\]$", w)]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> list[Any]:
    docs: list[Any] = []
    for path in sorted((EXAMPLES / name).glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def find(docs: list[Any], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_examples_are_clean(name: str) -> None:
    assert lint_documents(example(name)) == []


def _istio() -> list[Any]:
    return example("istio-canary")


def _unknown_rollout_field(docs: list[Any]) -> None:
    find(docs, "Rollout")["spec"]["strategy"]["canary"]["stepz"] = []


def _unknown_metric_field(docs: list[Any]) -> None:
    find(docs, "AnalysisTemplate", "success-rate")["spec"]["metrics"][0]["succesCondition"] = "true"


def _service_labels(docs: list[Any]) -> None:
    find(docs, "Service", "api-server-canary")["spec"]["selector"]["app"] = "other"


def _missing_route(docs: list[Any]) -> None:
    find(docs, "Rollout")["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualServices"][0][
        "routes"
    ] = ["secondary"]


def _missing_template(docs: list[Any]) -> None:
    docs.remove(find(docs, "AnalysisTemplate", "latency"))


def _missing_arg(docs: list[Any]) -> None:
    find(docs, "Rollout")["spec"]["strategy"]["canary"]["analysis"]["args"] = []


def _bad_weight(docs: list[Any]) -> None:
    find(docs, "Rollout")["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 150


def _bad_condition(docs: list[Any]) -> None:
    find(docs, "AnalysisTemplate", "success-rate")["spec"]["metrics"][0]["successCondition"] = (
        "result[0] >>= 1"
    )


def _bad_limits(docs: list[Any]) -> None:
    metric = find(docs, "AnalysisTemplate", "success-rate")["spec"]["metrics"][0]
    metric["count"] = 2


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _unknown_rollout_field,
            'Rollout "api-server": spec.strategy.canary.stepz: unknown field',
            id="unknown-field",
        ),
        pytest.param(
            _unknown_metric_field,
            'AnalysisTemplate "success-rate": spec.metrics[0].succesCondition: unknown field',
            id="unknown-metric-field",
        ),
        pytest.param(
            _service_labels,
            'Rollout "api-server": spec.strategy.canary.canaryService: Invalid value: "api-server-canary": '
            'Service "api-server-canary" has unmatch label "app" in rollout',
            id="service-selector",
        ),
        pytest.param(
            _missing_route,
            'Rollout "api-server": spec.strategy.canary.trafficRouting.istio.virtualServices[0].name: Istio '
            "VirtualService \"api-server-vsvc\": HTTP Route 'secondary' is not found in the defined Virtual Service.",
            id="virtualservice-route",
        ),
        pytest.param(
            _missing_arg,
            'Rollout "api-server": spec.strategy.canary.analysis.templates: Invalid value: '
            '"templateNames: [success-rate latency]": args.service-name was not resolved',
            id="template-argument",
        ),
        pytest.param(
            _bad_weight,
            'Rollout "api-server": spec.strategy.canary.steps[0].setWeight: Invalid value: 150: SetWeight needs to be between 0 and 100',
            id="argo-validation",
        ),
        pytest.param(
            _bad_condition,
            'AnalysisTemplate "success-rate": spec.metrics[0].successCondition:',
            id="condition-syntax",
        ),
        pytest.param(
            _bad_limits,
            'AnalysisTemplate "success-rate": spec.metrics[0].count: count (2) must be >= failureLimit + consecutiveSuccessLimit (3 + 0) if both >= 0',
            id="metric-limits",
        ),
    ],
)
def test_problems(mutate: Any, expected: str) -> None:
    docs = _istio()
    mutate(docs)
    problems = lint_documents(docs)
    assert any(p.startswith(expected) for p in problems), problems


def test_template_defined_elsewhere_is_a_warning() -> None:
    docs = _istio()
    _missing_template(docs)
    problems, warnings = lint_report(docs)
    assert problems == []
    assert advisory_free(warnings) == [
        'Rollout "api-server": spec.strategy.canary.analysis.templates[1]: AnalysisTemplate "latency" is not in this file'
    ]


def test_features_the_controller_refuses_are_warnings() -> None:
    """Valid for Argo, refused by this controller (InvalidSpec): lint says so without failing."""
    docs = _istio()
    find(docs, "Rollout")["spec"]["strategy"]["canary"]["steps"].insert(
        1, {"plugin": {"name": "x", "config": {}}}
    )
    problems, warnings = lint_report(docs)
    assert problems == []
    assert advisory_free(warnings) == [
        'Rollout "api-server": not supported by this controller yet: '
        "spec.strategy.canary.steps[1].plugin: Forbidden: plugin steps are not supported yet; Argo's plugins are "
        "Go binaries served over its Go plugin RPC, which this controller cannot load"
    ]


def test_lint_command(tmp_path: Path) -> None:
    docs = _istio()
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    clean = CliRunner().invoke(cli, ["lint", "-f", str(path)])
    # no problem: exit 0; on stderr only the deep lint's advice on the seed's templates (result[0] unguarded,
    # an interval shorter than the rate window)
    assert clean.exit_code == 0 and clean.stdout == ""
    assert sorted(re.findall(r"\[(AL0\d\d)\]$", clean.stderr, re.M)) == ["AL006", "AL006", "AL007", "AL007"]
    _unknown_rollout_field(docs)
    _service_labels(docs)
    path.write_text(yaml.safe_dump_all(docs))
    bad = CliRunner().invoke(cli, ["lint", "-f", str(path)])
    assert bad.exit_code == 1
    lines = advisory_free(bad.output.splitlines())
    assert len(lines) == 3 and lines[-1] == f"Error: {path}: 2 problems"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("kind: [unclosed", "not valid YAML", id="yaml"),
        pytest.param(None, "No such file or directory", id="missing-file"),
    ],
)
def test_lint_bad_input_is_one_line(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "x.yaml"
    if content is not None:
        path.write_text(content)
    result = CliRunner().invoke(cli, ["lint", "-f", str(path)])
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output
