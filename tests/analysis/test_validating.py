"""One verdict on analysis objects (`analysis.validating`): what `lint` and `analyze` accept, the runner runs.

Argo's own manifests read from its mirror (tests/fixtures/argo.py): limits written as ``{{args.x}}`` (Argo's
e2e fixtures) and a template made only of other templates (Argo's analysis docs) are valid. The rules this
project adds to Argo's docs/semantics/analysis.md#metric-validation (README, deliberate differences) are refused with the field named, before and after
substitution alike.
"""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from analysis.args import build_run_spec
from analysis.models import AnalysisPhase, AnalysisTemplate, Argument
from analysis.runner import reconcile_run
from analysis.validating import check_object
from tests.fixtures.argo import ARGO_ROLLOUTS, argo_file

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def template(*metrics: dict[str, Any], **spec: Any) -> dict[str, Any]:
    full = [
        {"name": f"m{i}", "provider": {"prometheus": {"query": "up"}}, **m} for i, m in enumerate(metrics)
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "t"},
        "spec": {"metrics": full, **spec},
    }


def problems(doc: dict[str, Any]) -> list[str]:
    return [str(p) for p in check_object(doc)[1]]


def argo_documents(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(argo_file(ARGO_ROLLOUTS, path)) if d]


@pytest.mark.parametrize(
    "path", ["test/e2e/functional/rollout-secret.yaml", "test/e2e/functional/analysistemplate-sleep-job.yaml"]
)
def test_argo_e2e_templates_with_placeholder_limits_are_valid(path: str) -> None:
    """`count: "{{args.analysis-runs}}"`, `failureLimit: "{{args.failure-limit}}"`: intstr in Argo's types."""
    (doc,) = [d for d in argo_documents(path) if d["kind"] == "AnalysisTemplate"]
    assert re.search(r'(count|failureLimit): "\{\{args\.', argo_file(ARGO_ROLLOUTS, path))
    assert problems(doc) == []


def test_argo_docs_composed_template_is_valid() -> None:
    """docs/features/analysis.md: `rates` is made only of `templates` (success-rate and error-rate)."""
    text = argo_file(ARGO_ROLLOUTS, "docs/features/analysis.md")
    blocks = [textwrap.dedent(b) for b in re.findall(r"```yaml[^\n]*\n(.*?)```", text, re.S)]
    docs = [d for b in blocks if "name: rates" in b for d in yaml.safe_load_all(b) if d]
    rates = next(d for d in docs if d["metadata"]["name"] == "rates" and "metrics" not in d["spec"])
    assert len(rates["spec"]["templates"]) == 2
    assert problems(rates) == []
    assert problems({**rates, "spec": {"args": rates["spec"]["args"]}}) == [
        "spec.metrics: no metrics specified"
    ]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        pytest.param(
            {"count": -1},
            "spec.metrics[0].count: count must be >= 0 (a negative count would end the metric after one "
            "measurement)",
            id="negative-count",
        ),
        pytest.param(
            {"interval": "0s"},
            'spec.metrics[0].interval: interval must be greater than 0, got "0s" (it would measure without pause)',
            id="zero-interval",
        ),
        pytest.param(
            {"interval": "-5s", "count": 3},
            'spec.metrics[0].interval: interval must be greater than 0, got "-5s" (it would measure without pause)',
            id="negative-interval",
        ),
        pytest.param(
            {"provider": {"prometheus": {"address": "http://p:9090"}}},
            "spec.metrics[0].provider.prometheus.query: prometheus query must be specified (the PromQL "
            "expression to evaluate)",
            id="prometheus-without-query",
        ),
        pytest.param(
            {"provider": {"prometheus": {"query": "up", "timeout": -1}}},
            "spec.metrics[0].provider.prometheus.timeout: prometheus timeout should not be negative",
            id="negative-timeout",
        ),
        pytest.param(
            {"count": 2, "failureLimit": 3, "interval": "1m"},
            "spec.metrics[0].count: count (2) must be >= failureLimit + consecutiveSuccessLimit (3 + 0) if both >= 0",
            id="argo-count-rule",
        ),
        pytest.param(
            {"successCondition": "result[0] >>= {{args.min}}"},
            'spec.metrics[0].successCondition: "result[0] >>= {{args.min}}" does not compile:',
            id="condition",
        ),
    ],
)
def test_metric_rules(metric: dict[str, Any], expected: str) -> None:
    (found,) = problems(template(metric))
    assert found.startswith(expected), found


@pytest.mark.parametrize(
    "metric",
    [
        pytest.param({"count": "{{args.n}}"}, id="count-placeholder-without-interval"),
        pytest.param({"count": 2, "failureLimit": "{{args.f}}", "interval": "1m"}, id="limit-placeholder"),
        pytest.param({"interval": "{{args.every}}", "count": "{{args.n}}"}, id="interval-placeholder"),
        pytest.param({"successCondition": "result[0] >= {{args.min}}"}, id="condition-placeholder"),
        pytest.param({"interval": "1m", "count": 0}, id="count-zero-runs-forever"),
        pytest.param({"initialDelay": "-1m"}, id="negative-delay-is-no-delay"),
    ],
)
def test_valid_metrics(metric: dict[str, Any]) -> None:
    assert problems(template(metric)) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "Bad_Name", 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain', id="chars"
        ),
        pytest.param(
            "a" * 300,
            'metadata.name: Invalid value: "' + "a" * 300 + '": must be no more than 253',
            id="long",
        ),
        pytest.param(None, "metadata.name: Required value: name or generateName is required", id="missing"),
    ],
)
def test_names(name: str | None, expected: str) -> None:
    doc = template({})
    doc["metadata"] = {} if name is None else {"name": name}
    (found,) = problems(doc)
    assert found.startswith(expected), found


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "count must be >= 0 (a negative count would end the metric after one measurement)"),
        ("abc", "count must be an integer, got 'abc'"),
    ],
)
async def test_the_runner_applies_the_same_rules_after_substitution(value: str, message: str) -> None:
    """What lint cannot know (a placeholder) the controller checks once the arguments are in: same words."""
    doc = template({"count": "{{args.n}}", "interval": "1m"}, args=[{"name": "n"}])
    assert problems(doc) == []
    spec = build_run_spec([AnalysisTemplate.model_validate(doc)], args=[Argument(name="n", value=value)])
    step = await reconcile_run(spec, {}, T0)
    assert (step.status.phase, step.status.message) == (
        AnalysisPhase.ERROR,
        f"Analysis spec invalid: metrics[0]: {message}",
    )


def test_parse_errors_are_located() -> None:
    doc = template({"count": [1]})
    obj, found = check_object(doc)
    assert obj is None
    assert [str(p) for p in found] == ["spec.metrics[0].count: Input should be a valid integer"]
    assert [str(p) for p in check_object({"kind": "Rollout"})[1]] == ['kind: unknown kind "Rollout"']
