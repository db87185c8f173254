"""Analysis models: wire round trip (docs/semantics/objects.md#analysis-objects), EffectiveCount (docs/semantics/objects.md#analysis-objects), metric validation messages (docs/semantics/analysis.md#metric-validation)."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.models import (
    AnalysisPhase,
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    Measurement,
    Metric,
    SpecError,
    metric_errors,
    validate_metrics,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROM = {"prometheus": {"address": "http://p:9090", "query": "up"}}


def metric(**fields: Any) -> Metric:
    data: dict[str, Any] = {"name": "m", "provider": PROM}
    data.update(fields)
    if data["provider"] is None:
        del data["provider"]
    return Metric.model_validate(data)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("istio-canary/success-rate.yaml", id="seed-success-rate"),
        pytest.param("istio-canary/latency.yaml", id="seed-latency"),
        pytest.param("bluegreen/smoke-tests.yaml", id="seed-smoke-tests"),
    ],
)
def test_seed_templates_load_validate_and_round_trip(path: str) -> None:
    raw = yaml.safe_load((EXAMPLES / path).read_text())
    template = AnalysisTemplate.model_validate(raw)
    validate_metrics(template.spec.metrics)
    assert template.to_wire() == raw


def test_every_a3_field_round_trips_in_camel_case() -> None:
    raw = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "r", "namespace": "ns", "labels": {"a": "b"}},
        "spec": {
            "metrics": [
                {
                    "name": "p",
                    "interval": "1m",
                    "initialDelay": "30s",
                    "count": "{{args.n}}",
                    "successCondition": "result[0] > 1",
                    "failureCondition": "result[0] < 0",
                    "failureLimit": 2,
                    "inconclusiveLimit": 1,
                    "consecutiveErrorLimit": 3,
                    "consecutiveSuccessLimit": 1,
                    "provider": {
                        "prometheus": {
                            "address": "http://p",
                            "query": "q",
                            "authentication": {
                                "sigv4": {"region": "r", "profile": "p", "roleArn": "a"},
                                "oauth2": {
                                    "tokenUrl": "t",
                                    "clientId": "c",
                                    "clientSecret": "s",
                                    "scopes": ["x"],
                                },
                                "basicAuth": {"username": "u", "password": "pw"},
                            },
                            "timeout": 5,
                            "insecure": True,
                            "headers": [{"key": "k", "value": "v"}],
                            "rangeQuery": {"start": "now() - duration('5m')", "end": "now()", "step": "1m"},
                        }
                    },
                },
                {
                    "name": "w",
                    "provider": {
                        "web": {
                            "url": "http://x",
                            "method": "POST",
                            "headers": [{"key": "k", "value": "v"}],
                            "body": "b",
                            "jsonBody": {"a": [1, 2]},
                            "timeoutSeconds": 3,
                            "jsonPath": "{$.a}",
                            "insecure": False,
                        }
                    },
                },
                {
                    "name": "j",
                    "provider": {"job": {"metadata": {"labels": {"x": "y"}}, "spec": {"template": {}}}},
                },
                {"name": "d", "provider": {"datadog": {"query": "avg:x", "apiVersion": "v2"}}},
            ],
            "args": [
                {"name": "a", "value": "1"},
                {"name": "s", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}},
                {"name": "f", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "terminate": True,
            "dryRun": [{"metricName": ".*"}],
            "measurementRetention": [{"metricName": "p", "limit": 20}],
            "ttlStrategy": {"secondsAfterCompletion": 1, "secondsAfterFailure": 2, "secondsAfterSuccess": 3},
        },
        "status": {
            "phase": "Running",
            "message": "m",
            "startedAt": "2024-01-01T00:00:00Z",
            "completedAt": "2024-01-01T00:05:00Z",
            "runSummary": {"count": 1, "successful": 1, "failed": 0, "inconclusive": 0, "error": 0},
            "dryRunSummary": {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0},
            "metricResults": [
                {
                    "name": "p",
                    "phase": "Running",
                    "message": "x",
                    "count": 1,
                    "successful": 1,
                    "failed": 0,
                    "inconclusive": 0,
                    "error": 0,
                    "consecutiveError": 0,
                    "consecutiveSuccess": 1,
                    "dryRun": True,
                    "metadata": {"ResolvedPrometheusQuery": "q"},
                    "measurements": [
                        {
                            "phase": "Successful",
                            "message": "ok",
                            "startedAt": "2024-01-01T00:00:00Z",
                            "finishedAt": "2024-01-01T00:00:01Z",
                            "value": "[1.5]",
                            "metadata": {"warnings": '"w"'},
                            "resumeAt": "2024-01-01T00:01:00Z",
                        }
                    ],
                }
            ],
        },
    }
    run = AnalysisRun.model_validate(raw)
    assert run.to_wire() == raw
    assert run.spec.metrics[3].provider.kind == "datadog"
    assert run.status is not None and run.status.phase is AnalysisPhase.RUNNING


def test_unknown_fields_are_ignored() -> None:
    t = ClusterAnalysisTemplate.model_validate(
        {"kind": "ClusterAnalysisTemplate", "spec": {"metrics": [], "futureField": 1}, "extra": {}}
    )
    assert t.to_wire()["spec"] == {"metrics": []}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, 1, id="a3-no-count-no-interval-once"),
        pytest.param({"interval": "1m"}, None, id="a3-no-count-with-interval-forever"),
        pytest.param({"count": 0, "interval": "1m"}, None, id="a3-count-0-is-unset"),
        pytest.param({"count": 5, "interval": "1m"}, 5, id="a3-count"),
        pytest.param({"count": "7", "interval": "1m"}, 7, id="a3-count-string"),
    ],
)
def test_effective_count(fields: dict[str, Any], expected: int | None) -> None:
    assert metric(**fields).effective_count() == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"consecutiveSuccessLimit": -1}, "consecutiveSuccessLimit must be >= 0", id="b8-success-limit-neg"
        ),
        pytest.param(
            {"failureLimit": -2}, "failureLimit must be >= 0, or -1 to be disabled", id="b8-failure-limit"
        ),
        pytest.param(
            {"failureLimit": -1},
            "failureLimit and consecutiveSuccessLimit cannot both be disabled",
            id="b8-both-disabled",
        ),
        pytest.param({"inconclusiveLimit": -1}, "inconclusiveLimit must be >= 0", id="b8-inconclusive-neg"),
        pytest.param(
            {"consecutiveErrorLimit": -1}, "consecutiveErrorLimit must be >= 0", id="b8-error-limit-neg"
        ),
        pytest.param(
            {"count": 3, "interval": "1m", "failureLimit": 2, "consecutiveSuccessLimit": 2},
            "count (3) must be >= failureLimit + consecutiveSuccessLimit (2 + 2) if both >= 0",
            id="b8-count-vs-limits",
        ),
        pytest.param(
            {"count": 1, "failureLimit": -1, "consecutiveSuccessLimit": 2},
            "count must be >= consecutiveSuccessLimit",
            id="b8-count-vs-success-limit",
        ),
        pytest.param(
            {"count": 2, "interval": "1m", "inconclusiveLimit": 3},
            "count must be >= inconclusiveLimit",
            id="b8-count-vs-inconclusive",
        ),
        pytest.param({"count": 2}, "interval must be specified when count > 1", id="b8-count-needs-interval"),
        pytest.param(
            {"interval": "1d"},
            'invalid interval string: time: unknown unit "d" in duration "1d"',
            id="b8-bad-interval",
        ),
        pytest.param(
            {"initialDelay": "soon"},
            'invalid startDelay string: time: invalid duration "soon"',
            id="b8-bad-initial-delay",
        ),
        pytest.param({"provider": {}}, "no provider specified", id="b8-no-provider"),
        pytest.param({"provider": None}, "no provider specified", id="b8-provider-key-missing"),
        pytest.param(
            {"provider": {**PROM, "web": {"url": "http://x"}}},
            "multiple providers specified",
            id="b8-two-providers",
        ),
        pytest.param(
            {"provider": {"plugin": {"a/x": {}, "b/y": {}}}},
            "multiple providers specified",
            id="b8-two-plugins",
        ),
        pytest.param(
            {"failureLimit": "three"}, "failureLimit must be an integer, got 'three'", id="not-an-int"
        ),
    ],
)
def test_validation_messages(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as err:
        validate_metrics([metric(**fields)])
    assert str(err.value) == f"metrics[0]: {message}"


def test_validation_no_metrics_and_duplicates() -> None:
    assert metric_errors([]) == ["no metrics specified"]
    assert metric_errors([metric(), metric()]) == ["metrics[1]: duplicate name 'm'"]
    assert metric_errors([metric(), metric(name="n", count=3)]) == [
        "metrics[1]: interval must be specified when count > 1"
    ]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            {"failureLimit": -1, "consecutiveSuccessLimit": 2}, id="b8-failure-disabled-success-set"
        ),
        pytest.param(
            {"count": 4, "interval": "5s", "failureLimit": 2, "consecutiveSuccessLimit": 2}, id="b8-equal"
        ),
        pytest.param({"count": 1, "failureLimit": 1}, id="b8-single-count-no-interval"),
        pytest.param({"consecutiveErrorLimit": 0}, id="b8-error-limit-zero"),
    ],
)
def test_valid_metrics(fields: dict[str, Any]) -> None:
    validate_metrics([metric(**fields)])


def test_measurement_result_is_private_and_not_serialized() -> None:
    m = Measurement(phase=AnalysisPhase.SUCCESSFUL, value="[1]")
    assert not m.has_result
    m.with_result([1.0])
    assert m.has_result and m.result == [1.0]
    assert m.to_wire() == {"phase": "Successful", "value": "[1]"}
    assert m.model_copy().result == [1.0]
    assert AnalysisPhase.INCONCLUSIVE.completed and not AnalysisPhase.RUNNING.completed
