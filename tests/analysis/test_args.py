"""Arguments (docs/semantics/analysis.md#analysis-args): substitution, template merging, caller overrides, secrets and redaction."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from analysis.args import (
    ArgsError,
    build_run_spec,
    dict_secret_resolver,
    flatten_templates,
    merge_args,
    redact,
    resolve_metric,
    resolve_metrics_without_secrets,
    resolve_secret_args,
    resolve_template,
)
from analysis.models import AnalysisTemplate, Argument, ClusterAnalysisTemplate, DryRun, Metric

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def template(
    name: str, metrics: list[str], args: list[dict[str, Any]] | None = None, **spec: Any
) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "metrics": [{"name": m, "provider": {"prometheus": {"query": "up"}}} for m in metrics],
                "args": args or [],
                **spec,
            },
        }
    )


def arg(name: str, value: str | None = None, **extra: Any) -> Argument:
    return Argument.model_validate({"name": name, "value": value, **extra})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("{{args.svc}}", "api", id="b7-plain"),
        pytest.param("{{ args.svc }}", "api", id="b7-trimmed-tag"),
        pytest.param('x{svc="{{args.svc}}"}[5m]', 'x{svc="api"}[5m]', id="b7-inside-promql"),
        pytest.param("no tags", "no tags", id="b7-no-tags"),
        pytest.param("{{args.svc}}-{{args.ns}}", "api-prod", id="b7-two-tags"),
        pytest.param("{{args.quote}}", 'a"b\nc', id="b7-special-characters-kept-verbatim"),
    ],
)
def test_resolve_template(text: str, expected: str) -> None:
    assert resolve_template(text, {"args.svc": "api", "args.ns": "prod", "args.quote": 'a"b\nc'}) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{{args.nope}}", "failed to resolve {{args.nope}}", id="b7-unknown-arg"),
        pytest.param("{{ other }}", "failed to resolve {{ other }}", id="b7-unknown-tag-as-written"),
        pytest.param(
            "a{{args.svc",
            'Cannot find end tag="}}" in the template="a{{args.svc" starting from "args.svc"',
            id="b7-missing-end-tag",
        ),
    ],
)
def test_resolve_template_errors(text: str, message: str) -> None:
    with pytest.raises(ArgsError) as err:
        resolve_template(text, {"args.svc": "api"})
    assert str(err.value) == message


def test_resolve_metric_every_string_field() -> None:
    metric = Metric.model_validate(
        {
            "name": "m",
            "count": "{{args.n}}",
            "interval": "{{args.every}}",
            "successCondition": "result[0] >= {{args.min}}",
            "provider": {
                "prometheus": {
                    "address": "{{args.addr}}",
                    "query": 'up{job="{{args.job}}"}',
                    "headers": [{"key": "X-Team", "value": "{{args.job}}"}],
                }
            },
        }
    )
    values = {"n": "3", "every": "30s", "min": "0.99", "addr": "http://p:9090", "job": 'a"b'}
    resolved = resolve_metric(metric, [arg(k, v) for k, v in values.items()])
    assert resolved.count_value() == 3
    assert resolved.interval == "30s"
    assert resolved.success_condition == "result[0] >= 0.99"
    prom = resolved.provider.prometheus
    assert prom is not None and prom.address == "http://p:9090"
    assert prom.query == 'up{job="a"b"}'
    assert prom.headers is not None and prom.headers[0].value == 'a"b'


def test_resolve_metric_unsupplied_argument() -> None:
    metric = Metric.model_validate({"name": "m", "provider": {"prometheus": {"query": "{{args.x}}"}}})
    with pytest.raises(ArgsError, match='argument "x" was not supplied'):
        resolve_metric(metric, [arg("x")])


def test_resolve_without_secrets_uses_placeholder() -> None:
    metric = Metric.model_validate({"name": "m", "provider": {"web": {"url": "http://x/{{args.token}}"}}})
    secret = arg("token", valueFrom={"secretKeyRef": {"name": "s", "key": "k"}})
    [resolved] = resolve_metrics_without_secrets([metric], [secret])
    assert resolved.provider.web is not None and resolved.provider.web.url == "http://x/temp-for-secret"


async def test_secret_args_resolved_and_listed_for_redaction() -> None:
    resolver = dict_secret_resolver({"db": {"password": "hunter2"}})
    args = [arg("a", "1"), arg("pw", valueFrom={"secretKeyRef": {"name": "db", "key": "password"}})]
    resolved, secrets = await resolve_secret_args(args, resolver)
    assert [(a.name, a.value) for a in resolved] == [("a", "1"), ("pw", "hunter2")]
    assert secrets == ["hunter2"]
    assert redact("auth failed for hunter2 (hunter2)", secrets) == "auth failed for ***** (*****)"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        pytest.param({"name": "nope", "key": "k"}, 'secrets "nope" not found', id="b7-secret-not-found"),
        pytest.param(
            {"name": "db", "key": "k"}, "key 'k' does not exist in secret 'db'", id="b7-key-missing"
        ),
    ],
)
async def test_secret_errors(ref: dict[str, str], message: str) -> None:
    resolver = dict_secret_resolver({"db": {"password": "x"}})
    with pytest.raises(ArgsError) as err:
        await resolve_secret_args([arg("pw", valueFrom={"secretKeyRef": ref})], resolver)
    assert str(err.value) == message


async def test_secret_without_resolver_is_a_clear_error() -> None:
    with pytest.raises(ArgsError, match="no secret resolver is configured"):
        await resolve_secret_args([arg("pw", valueFrom={"secretKeyRef": {"name": "s", "key": "k"}})], None)


def test_flatten_duplicate_metric_names() -> None:
    with pytest.raises(ArgsError, match="two metrics have the same name 'm'"):
        flatten_templates([template("a", ["m"]), template("b", ["m"])])


def test_flatten_conflicting_arg_values() -> None:
    with pytest.raises(ArgsError) as err:
        flatten_templates(
            [
                template("a", ["x"], [{"name": "n", "value": "1"}]),
                template("b", ["y"], [{"name": "n", "value": "2"}]),
            ]
        )
    assert str(err.value) == "Argument `n` specified multiple times with different values: '1', '2'"


def test_flatten_placeholder_does_not_replace_value_and_value_fills_placeholder() -> None:
    flat = flatten_templates(
        [template("a", ["x"], [{"name": "n"}, {"name": "m", "value": "5"}])],
        [
            ClusterAnalysisTemplate.model_validate(
                {"spec": {"metrics": [], "args": [{"name": "n", "value": "7"}, {"name": "m"}]}}
            )
        ],
    )
    assert [(a.name, a.value) for a in flat.args] == [("n", "7"), ("m", "5")]


def test_flatten_duplicate_dry_run_rules() -> None:
    with pytest.raises(ArgsError, match="two Dry-Run metric rules have the same name 'x'"):
        flatten_templates(
            [
                template("a", ["x"], dryRun=[{"metricName": "x"}]),
                template("b", ["y"], dryRun=[{"metricName": "x"}]),
            ]
        )


@pytest.mark.parametrize(
    ("incoming", "template_args", "expected"),
    [
        pytest.param([arg("svc", "api")], [arg("svc")], [("svc", "api")], id="b7-caller-fills-placeholder"),
        pytest.param([arg("svc", "api")], [arg("svc", "web")], [("svc", "api")], id="b7-caller-overrides"),
        pytest.param(
            [arg("extra", "1")], [arg("svc", "web")], [("svc", "web")], id="b7-extra-incoming-dropped"
        ),
        pytest.param(
            [arg("svc")], [arg("svc", "web")], [("svc", "web")], id="b7-empty-incoming-keeps-template"
        ),
    ],
)
def test_merge_args(
    incoming: list[Argument], template_args: list[Argument], expected: list[tuple[str, str]]
) -> None:
    assert [(a.name, a.value) for a in merge_args(incoming, template_args)] == expected


def test_merge_args_unresolved() -> None:
    with pytest.raises(ArgsError) as err:
        merge_args([], [arg("service-name")])
    assert str(err.value) == "args.service-name was not resolved"


def test_merge_args_value_from_counts_as_resolved() -> None:
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    [merged] = merge_args([arg("pw", valueFrom=ref)], [arg("pw")])
    assert merged.value_from is not None and merged.value is None


def test_build_run_spec_from_seed_templates() -> None:
    """The seed's canary: success-rate + latency merged with the Rollout's service-name (docs/semantics/analysis.md#analysis-args)."""
    templates = [
        AnalysisTemplate.model_validate(yaml.safe_load((EXAMPLES / "istio-canary" / f).read_text()))
        for f in ("success-rate.yaml", "latency.yaml")
    ]
    spec = build_run_spec(
        templates, args=[arg("service-name", "api-server-canary")], dry_run=[DryRun(metric_name="lat")]
    )
    assert [m.name for m in spec.metrics] == ["success-rate", "p99-latency"]
    assert [(a.name, a.value) for a in spec.args or []] == [("service-name", "api-server-canary")]
    [resolved, _] = resolve_metrics_without_secrets(spec.metrics, spec.args)
    assert resolved.provider.prometheus is not None
    assert 'service="api-server-canary"' in (resolved.provider.prometheus.query or "")
    assert [d.metric_name for d in spec.dry_run or []] == ["lat"]


def test_build_run_spec_missing_argument() -> None:
    with pytest.raises(ArgsError, match=r"args\.service-name was not resolved"):
        build_run_spec([template("t", ["m"], [{"name": "service-name"}])])


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30), st.text(max_size=30))
def test_substitution_is_verbatim(prefix: str, value: str) -> None:
    """Whatever the value (quotes, newlines, braces), it lands verbatim in the field (JSON-escaped round trip)."""
    assert resolve_template(prefix + "{{args.v}}" + prefix, {"args.v": value}) == prefix + value + prefix
