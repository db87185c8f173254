"""A Prometheus metric with `authentication.sigv4` (Amazon Managed Prometheus) through the provider: the request
that reaches the server carries a SigV4 signature a server verifies from the AWS specification; without a region
or credentials the measurement is an Error in Argo's words, and the circuit breaker is not told."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.models import AnalysisPhase, Metric
from analysis.providers.prometheus import PrometheusProvider
from tests.analysis.test_provider_sigv4 import (
    AUTHORIZATION,
    Seen,
    checking_server,  # noqa: F401 - a fixture
    isolated,
    reference_signature,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def metric(address: str, **sigv4: Any) -> Metric:
    return Metric.model_validate(
        {
            "name": "m",
            "successCondition": "len(result) == 0",
            "provider": {
                "prometheus": {
                    "address": address,
                    "query": 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
                    "authentication": {"sigv4": sigv4},
                }
            },
        }
    )


@pytest.fixture
def aws_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield isolated(tmp_path, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY=SECRET)


async def test_a_sigv4_metric_is_signed_as_amazon_managed_prometheus_verifies(
    checking_server: tuple[str, Seen],  # noqa: F811
    aws_env: dict[str, str],
) -> None:
    url, seen = checking_server
    provider = PrometheusProvider(environ=aws_env)
    try:
        m = await provider.measure(metric(f"{url}/workspaces/aps-workspaces-ws-1", region="eu-west-1"))
    finally:
        provider.close()
    assert m.phase is None and m.value == "[]", m.message  # an answer, assessed by the runner
    ((method, raw_path, headers, body),) = seen
    match = AUTHORIZATION.match(headers["Authorization"])
    assert match is not None and match["region"] == "eu-west-1" and match["service"] == "aps"
    assert match["key"] == "AKIDEXAMPLE"
    assert match["signature"] == reference_signature(
        method, raw_path, headers, body, SECRET, "eu-west-1", "aps"
    )
    assert SECRET not in str(headers)


async def test_without_a_region_the_measurement_says_so(
    checking_server: tuple[str, Seen],  # noqa: F811
    tmp_path: Path,
) -> None:
    url, seen = checking_server
    env = isolated(tmp_path, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY=SECRET)
    provider = PrometheusProvider(environ=env)
    try:
        m = await provider.measure(metric(f"{url}/workspaces/aps-workspaces-ws-1", profile="nope"))
    finally:
        provider.close()
    assert m.phase == AnalysisPhase.ERROR and seen == []
    assert m.message is not None and SECRET not in m.message
    assert (
        provider.breakers.refusal(f"{url}/workspaces/aps-workspaces-ws-1") is None
    )  # not the backend's fault
