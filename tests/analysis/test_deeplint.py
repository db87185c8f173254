"""Deep lint of analysis templates (analysis/deeplint.py): each finding's code, severity and field path, in
`kubectl rollouts lint` and `rollouts analyze --lint`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from analysis.cli import analyze
from analysis.deeplint import template_findings
from analysis.models import AnalysisTemplate
from rollouts.plugin.linting import lint_report

Q = 'sum(rate(http_requests_total{service="{{args.service}}",status=~"2.."}[5m])) / sum(rate(http_requests_total{service="{{args.service}}"}[5m]))'


def template(metric: dict[str, Any], args: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "t"},
        "spec": {"args": args if args is not None else [{"name": "service"}], "metrics": [metric]},
    }


def prom(query: str = Q, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "m", "successCondition": "len(result) == 0 || result[0] >= 0.99"}
    return {**base, "provider": {"prometheus": {"address": "http://p:9090", "query": query}}, **fields}


def findings(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    spec = AnalysisTemplate.model_validate(doc).spec
    return [(f.code, f.severity, f.path) for f in template_findings(spec)]


def test_a_sound_template_has_no_finding() -> None:
    assert findings(template(prom())) == []


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (template(prom("sum(rate(x[5m])")), ("AL001", "error", "spec.metrics[0].provider.prometheus.query")),
        (template(prom(Q.replace("service=", "service~="))), ("AL001", "error", "spec.metrics[0].provider.prometheus.query")),
        (template(prom(Q + ' * {{args.scale}}')), ("AL002", "error", "spec.metrics[0]")),
        (template(prom(), args=[{"name": "service"}, {"name": "spare"}]), ("AL003", "warning", "spec.args[1]")),
        (template(prom(successCondition="true")), ("AL004", "warning", "spec.metrics[0].successCondition")),
        (template(prom(failureCondition="result[0] > 1 && result[0] < 0")), ("AL005", "warning", "spec.metrics[0].failureCondition")),
        (template(prom(successCondition="result[0] >= 0.99")), ("AL006", "warning", "spec.metrics[0].successCondition")),
        (template(prom(interval="30s")), ("AL007", "warning", "spec.metrics[0].interval")),
    ],
    ids=["promql-syntax", "promql-matcher", "undeclared-arg", "unused-arg", "always-true", "never-true", "unguarded-index", "interval-vs-range"],
)  # fmt: skip
def test_findings(doc: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert expected in findings(doc)


def test_messages_say_what_and_why() -> None:
    spec = AnalysisTemplate.model_validate(template(prom("sum(rate(x[5m])", interval="30s"), args=[])).spec
    (syntax,) = template_findings(spec)
    assert str(syntax) == (
        "spec.metrics[0].provider.prometheus.query: the PromQL does not parse: unclosed left parenthesis [AL001]"
    )
    spec = AnalysisTemplate.model_validate(template(prom(interval="30s", failureLimit=3))).spec
    (overlap,) = template_findings(spec)
    assert overlap.message == (
        "interval 30s is shorter than the query's range [5m]: successive measurements see mostly the same data, "
        "so one bad stretch counts in up to 10 measurements against failureLimit 3"
    )


@pytest.mark.parametrize(
    ("query", "condition"),
    [
        ("(sum(rate(x[5m])) or vector(0))", "result[0] < 5"),  # cannot be empty
        ("sum(rate(x[5m]))", "len(result) == 0 || result[0] < 5"),  # guarded
        ("sum(rate(x[5m]))", "default(result[0], 0) < 5"),
        ("sum(rate(x[{{args.window}}]))", "len(result) == 0 || result[0] < 5"),  # a range from an argument
    ],
)
def test_no_false_alarms(query: str, condition: str) -> None:
    args = [{"name": "window"}] if "window" in query else []
    assert findings(template(prom(query, successCondition=condition), args=args)) == []


def test_the_judges_queries_are_parsed_too() -> None:
    metric = {
        "name": "j",
        "successCondition": 'result.verdict == "pass"',
        "provider": {
            "plugin": {"rollouts/judge": {"canary": "sum(rate(x[1m]", "baseline": "sum(rate(y[1m]))"}}
        },
    }
    assert findings(template(metric, args=[])) == [
        ("AL001", "error", "spec.metrics[0].provider.plugin.rollouts/judge.canary")
    ]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        (" + ".join(f'sum(rate(x{{i="{i}"}}[5m]))' for i in range(5000)), "characters, more than 8192"),
        (" + ".join("x" for _ in range(300)), "299 operators, more than 200"),
        ("(" * 1000 + "x" + ")" * 1000, "1000 parentheses, more than 200"),
    ],
    ids=["long", "operators", "nesting"],
)
def test_a_hostile_query_is_not_parsed(query: str, why: str) -> None:
    """The parser's cost grows with the square of the operators (5,000 terms crashed it): bounded first."""
    spec = AnalysisTemplate.model_validate(template(prom(query), args=[])).spec
    (finding,) = template_findings(spec)
    assert (finding.code, finding.severity) == ("AL009", "warning")
    assert why in finding.message


def test_operators_inside_label_values_do_not_count() -> None:
    query = 'sum(rate(x{path="' + "/a-b+c*d" * 200 + '"}[5m]))'
    assert findings(template(prom(query), args=[])) == []


def _rollout(analysis_at: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"setWeight": 20}]
    canary: dict[str, Any] = {"steps": steps}
    if analysis_at == "step":
        steps.append({"analysis": {"templates": [{"templateName": "t"}]}})
    else:
        canary["analysis"] = {"templates": [{"templateName": "t"}]}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r"},
        "spec": {
            "selector": {"matchLabels": {"app": "r"}},
            "template": {
                "metadata": {"labels": {"app": "r"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            "strategy": {"canary": canary},
        },
    }


@pytest.mark.parametrize(
    ("where", "count", "warned"), [("step", None, True), ("step", 5, False), ("background", None, False)]
)
def test_a_metric_that_never_completes_where_the_rollout_waits(
    where: str, count: int | None, warned: bool
) -> None:
    metric = prom(interval="5m", successCondition="len(result) == 0 || result[0] >= 0.99")
    if count is not None:
        metric["count"] = count
    _, warnings = lint_report([_rollout(where), template(metric, args=[{"name": "service", "value": "s"}])])
    al008 = [w for w in warnings if w.endswith("[AL008]")]
    assert bool(al008) == warned, warnings
    if warned:
        assert al008 == [
            'Rollout "r": spec.strategy.canary.steps[1].analysis.templates[0]: AnalysisTemplate "t" metric "m" '
            "(spec.metrics[0]) has an interval and no count: it runs until terminated, and the rollout waits here "
            "until someone terminates it [AL008]"
        ]


def test_lint_fails_on_a_deep_error_and_warns_otherwise() -> None:
    problems, warnings = lint_report([template(prom("sum(rate(x[5m])", successCondition="true"), args=[])])
    assert problems == [
        'AnalysisTemplate "t": spec.metrics[0].provider.prometheus.query: the PromQL does not parse: unclosed left '
        "parenthesis [AL001]"
    ]
    assert [w.rsplit(" ", 1)[-1] for w in warnings] == ["[AL004]"]


def test_analyze_lint(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.yaml", tmp_path / "good.yaml"
    bad.write_text(yaml.safe_dump(template(prom("sum(rate(x[5m])"), args=[])))
    good.write_text(yaml.safe_dump(template(prom())))
    failed = CliRunner().invoke(analyze, ["--lint", "-f", str(bad)])
    passed = CliRunner().invoke(analyze, ["--lint", "-f", str(good)])
    assert failed.exit_code == 1
    assert failed.stdout == (
        f'{bad}: AnalysisTemplate "t": error: spec.metrics[0].provider.prometheus.query: the PromQL does not parse: '
        "unclosed left parenthesis [AL001]\n"
    )
    assert (passed.exit_code, passed.stdout) == (0, "1 template(s) checked: no errors\n")
