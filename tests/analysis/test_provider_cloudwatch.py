"""The CloudWatch provider against moto's CloudWatch server (data put with boto3, when both are installed) and a
loopback server that answers as CloudWatch does (errors, messages, slowness) and checks each request's SigV4
signature: values, empty results, replays, configuration errors naming their field, failures in the AWS SDK
for Go's words, and no secret in any message."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from analysis.conditions import evaluate_condition
from analysis.models import AnalysisPhase, Metric
from analysis.providers.cloudwatch import (
    CloudWatchConfigError,
    CloudWatchProvider,
    format_values,
    go_float,
    parse_cloudwatch,
)
from analysis.providers.credentials import Credentials
from analysis.providers.throttling import LimiterRegistry
from tests.analysis.test_provider_sigv4 import AUTHORIZATION, reference_signature
from tests.fixtures.prometheus import unused_url

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY-cw"


def metric(cloud_watch: Any, name: str = "errors") -> Metric:
    return Metric.model_validate({"name": name, "provider": {"cloudWatch": cloud_watch}})


def stat_query(namespace: str, name: str, stat: str = "Sum", **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", "q"),
        "metricStat": {"metric": {"namespace": namespace, "metricName": name}, "period": 60, "stat": stat},
        **extra,
    }


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials and region in the process's environment; no shared files, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- moto's CloudWatch ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, Any]]:
    """moto's server on a free loopback port, and a boto3 client to put data into it."""
    server_module = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAPUT",
        aws_secret_access_key="put",
    )
    try:
        yield endpoint, client
    finally:
        server.stop()


@pytest.fixture
async def provider(aws_env: None, moto: tuple[str, Any]) -> AsyncIterator[CloudWatchProvider]:
    made = CloudWatchProvider(limiters=LimiterRegistry(), credentials=Credentials(), endpoint_url=moto[0])
    yield made
    await made.aclose()


def put(client: Any, namespace: str, name: str, points: list[tuple[datetime, float]], **extra: Any) -> None:
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": name, "Timestamp": t, "Value": v, "Unit": "Count", **extra} for t, v in points
        ],
    )


async def test_values_as_argo_hands_them_to_conditions(
    provider: CloudWatchProvider, moto: tuple[str, Any]
) -> None:
    namespace = f"app-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    put(
        moto[1],
        namespace,
        "errors",
        [(now - timedelta(minutes=i + 1), v) for i, v in enumerate([1.0, 2.5, 3.0])],
    )
    measurement = await provider.measure(metric({"metricDataQueries": [stat_query(namespace, "errors")]}))
    assert measurement.phase is None, measurement.message
    assert measurement.value == "[[1 2.5 3]]"
    result = measurement.result
    assert [r["Id"] for r in result] == ["q"]
    assert result[0]["Values"] == [1.0, 2.5, 3.0]
    assert result[0]["StatusCode"] == "Complete"
    stamps = result[0]["Timestamps"]  # moto gives the start of each period, newest first
    assert len(stamps) == 3 and stamps == sorted(stamps, reverse=True)
    assert now - timedelta(minutes=2) <= stamps[0] <= now
    assert all(isinstance(t, datetime) for t in result[0]["Timestamps"])
    # Argo's documented conditions, unchanged
    assert evaluate_condition("len(result[0].Values) >= 3 and all(result[0].Values, {# <= 3})", result)
    assert not evaluate_condition("all(result[0].Values, {# <= 0.01})", result)
    assert evaluate_condition("result[0].Values[0] == 1", result)


async def test_dimensions_labels_and_return_data(provider: CloudWatchProvider, moto: tuple[str, Any]) -> None:
    namespace = f"app-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    put(moto[1], namespace, "requests", [(now, 10.0)], Dimensions=[{"Name": "service", "Value": "canary"}])
    put(moto[1], namespace, "requests", [(now, 99.0)], Dimensions=[{"Name": "service", "Value": "stable"}])
    canary = stat_query(namespace, "requests", id="canary", label="the canary")
    canary["metricStat"]["metric"]["dimensions"] = [{"name": "service", "value": "canary"}]
    hidden = stat_query(namespace, "requests", id="hidden", returnData=False)
    measurement = await provider.measure(metric({"interval": "10m", "metricDataQueries": [canary, hidden]}))
    assert measurement.phase is None, measurement.message
    assert [(r["Id"], r["Label"], r["Values"]) for r in measurement.result] == [
        ("canary", "the canary", [10.0])
    ]
    assert measurement.value == "[[10]]"


async def test_no_data_is_an_empty_list(provider: CloudWatchProvider) -> None:
    measurement = await provider.measure(
        metric({"metricDataQueries": [stat_query("nothing-here", "errors")]})
    )
    assert measurement.phase is None, measurement.message
    assert measurement.value == "[[]]"
    assert measurement.result[0]["Values"] == []
    assert not evaluate_condition("len(result[0].Values) >= 5", measurement.result)


@pytest.mark.parametrize(
    ("interval", "offset", "found"),
    [
        pytest.param("10m", timedelta(minutes=1), [7.0], id="inside-the-interval"),
        pytest.param("10m", timedelta(minutes=30), [], id="after-the-interval"),
        pytest.param(None, timedelta(minutes=4), [7.0], id="default-5m-inside"),
        pytest.param(None, timedelta(minutes=6), [], id="default-5m-outside"),
    ],
)
async def test_a_replay_asks_about_the_past(
    provider: CloudWatchProvider,
    moto: tuple[str, Any],
    interval: str | None,
    offset: timedelta,
    found: list[float],
) -> None:
    namespace = f"app-{uuid.uuid4().hex[:8]}"
    then = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    put(moto[1], namespace, "errors", [(then, 7.0)])
    config: dict[str, Any] = {"metricDataQueries": [stat_query(namespace, "errors")]}
    if interval:
        config["interval"] = interval
    measurement = await provider.measure(metric(config), at=then + offset)
    assert measurement.phase is None, measurement.message
    assert measurement.result[0]["Values"] == found
    live = await provider.measure(metric(config))
    assert live.result[0]["Values"] == []


async def test_the_endpoint_from_the_environment(
    aws_env: None, moto: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", unused_url())
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", moto[0])
    made = CloudWatchProvider(limiters=LimiterRegistry(), credentials=Credentials())
    try:
        assert made.endpoint() == moto[0]
        measurement = await made.measure(metric({"metricDataQueries": [stat_query("app-none", "errors")]}))
    finally:
        await made.aclose()
    assert measurement.phase is None, measurement.message


# --- a loopback CloudWatch: signatures, errors, messages ---------------------------------------

Seen = list[tuple[str, dict[str, str], bytes]]

OK = (
    '<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricDataResult>'
    "<MetricDataResults><member><Id>rate</Id><Label>rate</Label>"
    "<Timestamps><member>2024-05-01T10:05:00Z</member><member>2024-05-01T10:00:00Z</member></Timestamps>"
    "<Values><member>0.0029476787030213707</member><member>1000000.0</member></Values>"
    "<StatusCode>PartialData</StatusCode><Messages><member><Code>ArithmeticError</Code>"
    "<Value>One or more data-points have been dropped due to non-numeric values (NaN, -Infinite, +Infinite)</Value>"
    "</member></Messages></member></MetricDataResults>"
    "<Messages><member><Code>MaxQueryTimeRangeExceed</Code><Value>The query range is too long</Value></member>"
    "</Messages></GetMetricDataResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>"
    "</GetMetricDataResponse>"
)
BAD_STAT = (
    '<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type>'
    "<Code>InvalidParameterValue</Code><Message>The value Bogus for parameter "
    "MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic.</Message>"
    "</Error><RequestId>5d1b8a2e</RequestId></ErrorResponse>"
)
BAD_EXPRESSION = (
    '<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type>'
    "<Code>ValidationError</Code><Message>Error in expression 'rate': Unrecognized token ( at position 5</Message>"
    "</Error><RequestId>030a8061-95f5-4a39-8ef8-fd3dc2da8a82</RequestId></ErrorResponse>"
)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[str, Seen, dict[str, Any]]]:
    """A loopback CloudWatch: records each request; `behaviour` picks the answer (ok, error, slow, garbage)."""
    seen: Seen = []
    behaviour: dict[str, Any] = {"answer": "ok"}
    released = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.raw_path, dict(request.headers), body))
        answer = behaviour["answer"]
        if answer == "slow":
            await released.wait()
        if answer == "error":
            return web.Response(status=400, text=BAD_EXPRESSION, content_type="text/xml")
        if answer == "bad-stat":
            return web.Response(status=400, text=BAD_STAT, content_type="text/xml")
        if answer == "garbage":
            return web.Response(status=200, text="<html>a captive portal</html>", content_type="text/html")
        if answer == "bare-500":
            return web.Response(status=503, text="", headers={"x-amzn-RequestId": "r-503"})
        return web.Response(text=OK, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen, behaviour
    released.set()
    await runner.cleanup()


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "AKIATESTING",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


async def measure_with(
    url: str, env: dict[str, str], config: Any, at: datetime | None = None, limit: float = 30.0
) -> Any:
    made = CloudWatchProvider(
        limiters=LimiterRegistry(), credentials=Credentials(environ=env), endpoint_url=url, timeout=limit
    )
    try:
        return await made.measure(metric(config), at=at)
    finally:
        await made.aclose()


ARGO_EXAMPLE = {
    "interval": "30m",
    "metricDataQueries": [
        {"id": "rate", "expression": "errors / requests"},
        {
            "id": "errors",
            "metricStat": {
                "metric": {
                    "namespace": "app",
                    "metricName": "errors",
                    "dimensions": [{"name": "svc", "value": "a"}],
                },
                "period": 300,
                "stat": "Sum",
                "unit": "Count",
            },
            "returnData": False,
        },
        {
            "id": "requests",
            "metricStat": {
                "metric": {"namespace": "app", "metricName": "requests"},
                "period": "300",
                "stat": "Sum",
            },
            "returnData": False,
            "label": "all requests",
        },
    ],
}


@pytest.mark.parametrize(
    "token", [pytest.param(None, id="keys"), pytest.param("FwoGZXIvYXdzE/session", id="session")]
)
async def test_the_request_argo_sends_signed(
    fake: tuple[str, Seen, dict[str, Any]], tmp_path: Path, token: str | None
) -> None:
    url, seen, _ = fake
    env = environ(tmp_path)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    at = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    measurement = await measure_with(url, env, ARGO_EXAMPLE, at=at)
    assert measurement.phase is None, measurement.message
    raw_path, headers, body = seen[-1]
    form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    assert form == {
        "Action": "GetMetricData",
        "Version": "2010-08-01",
        "StartTime": "2024-05-01T10:00:00.000Z",
        "EndTime": "2024-05-01T10:30:00.000Z",
        "MetricDataQueries.member.1.Id": "rate",
        "MetricDataQueries.member.1.Expression": "errors / requests",
        "MetricDataQueries.member.2.Id": "errors",
        "MetricDataQueries.member.2.MetricStat.Metric.Namespace": "app",
        "MetricDataQueries.member.2.MetricStat.Metric.MetricName": "errors",
        "MetricDataQueries.member.2.MetricStat.Metric.Dimensions.member.1.Name": "svc",
        "MetricDataQueries.member.2.MetricStat.Metric.Dimensions.member.1.Value": "a",
        "MetricDataQueries.member.2.MetricStat.Period": "300",
        "MetricDataQueries.member.2.MetricStat.Stat": "Sum",
        "MetricDataQueries.member.2.MetricStat.Unit": "Count",
        "MetricDataQueries.member.2.ReturnData": "false",
        "MetricDataQueries.member.3.Id": "requests",
        "MetricDataQueries.member.3.MetricStat.Metric.Namespace": "app",
        "MetricDataQueries.member.3.MetricStat.Metric.MetricName": "requests",
        "MetricDataQueries.member.3.MetricStat.Period": "300",
        "MetricDataQueries.member.3.MetricStat.Stat": "Sum",
        "MetricDataQueries.member.3.Label": "all requests",
        "MetricDataQueries.member.3.ReturnData": "false",
    }
    match = AUTHORIZATION.match(headers["Authorization"])
    assert match is not None
    assert (match["key"], match["region"], match["service"]) == ("AKIATESTING", "eu-west-1", "monitoring")
    assert match["signature"] == reference_signature(
        "POST", raw_path, headers, body, SECRET, "eu-west-1", "monitoring"
    )
    if token:
        assert headers["X-Amz-Security-Token"] == token
        assert "x-amz-security-token" in match["signed"].split(";")
    else:
        assert "X-Amz-Security-Token" not in headers


async def test_answer_shape_value_string_and_messages(
    fake: tuple[str, Seen, dict[str, Any]], tmp_path: Path
) -> None:
    measurement = await measure_with(fake[0], environ(tmp_path), ARGO_EXAMPLE)
    assert measurement.value == "[[0.0029476787030213707 1e+06]]"
    assert measurement.metadata == {
        "messages": "[{Code:MaxQueryTimeRangeExceed Value:The query range is too long}]"
    }
    (result,) = measurement.result
    assert result["Id"] == "rate" and result["StatusCode"] == "PartialData"
    assert result["Timestamps"] == [
        datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
    ]
    assert result["Messages"][0]["Code"] == "ArithmeticError"
    assert evaluate_condition(
        'result[0].StatusCode == "PartialData" and result[0].Values[1] > 100', measurement.result
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            "error",
            "operation error CloudWatch: GetMetricData, https response error StatusCode: 400, RequestID: "
            "030a8061-95f5-4a39-8ef8-fd3dc2da8a82, api error ValidationError: Error in expression 'rate': "
            "Unrecognized token ( at position 5",
            id="bad-expression",
        ),
        pytest.param(
            "bad-stat",
            "operation error CloudWatch: GetMetricData, https response error StatusCode: 400, RequestID: "
            "5d1b8a2e, api error InvalidParameterValue: The value Bogus for parameter "
            "MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic.",
            id="bad-stat",
        ),
        pytest.param(
            "bare-500",
            "operation error CloudWatch: GetMetricData, https response error StatusCode: 503, RequestID: r-503, "
            "(empty body)",
            id="unavailable",
        ),
        pytest.param(
            "garbage",
            "operation error CloudWatch: GetMetricData, deserialization failed: ",
            id="not-xml",
        ),
    ],
)
async def test_failures_in_the_go_sdks_words(
    fake: tuple[str, Seen, dict[str, Any]], tmp_path: Path, answer: str, message: str
) -> None:
    fake[2]["answer"] = answer
    measurement = await measure_with(
        fake[0], environ(tmp_path), {"metricDataQueries": [{"id": "rate", "expression": "rate(("}]}
    )
    assert measurement.phase == AnalysisPhase.ERROR
    assert measurement.message.startswith(message)
    assert SECRET not in measurement.message and "AKIATESTING" not in measurement.message


async def test_a_slow_cloudwatch_times_out(fake: tuple[str, Seen, dict[str, Any]], tmp_path: Path) -> None:
    fake[2]["answer"] = "slow"
    started = asyncio.get_running_loop().time()
    measurement = await measure_with(fake[0], environ(tmp_path), ARGO_EXAMPLE, limit=0.5)
    assert asyncio.get_running_loop().time() - started < 5
    assert measurement.phase == AnalysisPhase.ERROR
    assert (
        measurement.message
        == f"operation error CloudWatch: GetMetricData, request to {fake[0]}/ timed out after 0.5s"
    )


async def test_an_unreachable_endpoint(tmp_path: Path) -> None:
    url = unused_url()
    measurement = await measure_with(url, environ(tmp_path), ARGO_EXAMPLE)
    assert measurement.phase == AnalysisPhase.ERROR
    assert measurement.message.startswith(
        f'operation error CloudWatch: GetMetricData, request send failed, Post "{url}/": '
    )


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        pytest.param(
            ("AWS_REGION",),
            "operation error CloudWatch: GetMetricData, failed to resolve service endpoint, an AWS region is "
            "required, but was not found (set AWS_REGION)",
            id="no-region",
        ),
        pytest.param(
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            "operation error CloudWatch: GetMetricData, get identity: get credentials: could not get SigV4 "
            "credentials: no AWS credentials found",
            id="no-credentials",
        ),
    ],
)
async def test_missing_region_or_credentials(tmp_path: Path, drop: tuple[str, ...], message: str) -> None:
    env = {k: v for k, v in environ(tmp_path).items() if k not in drop}
    measurement = await measure_with(None, env, ARGO_EXAMPLE)  # type: ignore[arg-type]
    assert measurement.phase == AnalysisPhase.ERROR
    assert measurement.message.startswith(message)
    assert SECRET not in measurement.message


def test_the_default_endpoint_is_regional(tmp_path: Path) -> None:
    made = CloudWatchProvider(limiters=LimiterRegistry(), credentials=Credentials(environ=environ(tmp_path)))
    assert made.endpoint() == "https://monitoring.eu-west-1.amazonaws.com"
    assert made.kind == "cloudWatch" and made.metadata(metric(ARGO_EXAMPLE)) is None


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({}, "cloudWatch.metricDataQueries: Required value", id="no-queries"),
        pytest.param(
            {"metricDataQueries": []},
            "cloudWatch.metricDataQueries: at least one query is needed",
            id="empty",
        ),
        pytest.param(
            {"metricDataQueries": {"id": "a"}},
            "cloudWatch.metricDataQueries: must be a list, got an object",
            id="not-a-list",
        ),
        pytest.param(
            {"interval": "5 minutes", "metricDataQueries": [{"id": "a", "expression": "x"}]},
            'cloudWatch.interval: time: unknown unit " minutes" in duration "5 minutes"',
            id="interval",
        ),
        pytest.param(
            {"metricDataQueries": [{"expression": "x"}]},
            "cloudWatch.metricDataQueries[0].id: Required value",
            id="no-id",
        ),
        pytest.param(
            {"metricDataQueries": [{"id": "a"}]},
            "cloudWatch.metricDataQueries[0]: set expression or metricStat",
            id="neither",
        ),
        pytest.param(
            {"metricDataQueries": [{"id": "a", "expression": "x", "metricStat": {}}]},
            "cloudWatch.metricDataQueries[0]: set either expression or metricStat, not both",
            id="both",
        ),
        pytest.param(
            {
                "metricDataQueries": [
                    {"id": "a", "expression": "x"},
                    {"id": "b", "metricStat": {"metric": {"metricName": "m"}, "period": 60}},
                ]
            },
            "cloudWatch.metricDataQueries[1].metricStat.stat: Required value",
            id="no-stat",
        ),
        pytest.param(
            {
                "metricDataQueries": [
                    {
                        "id": "b",
                        "metricStat": {"metric": {"metricName": "m"}, "period": "five", "stat": "Sum"},
                    }
                ]
            },
            "cloudWatch.metricDataQueries[0].metricStat.period: must be a whole number of seconds, got 'five'",
            id="period-word",
        ),
        pytest.param(
            {"metricDataQueries": [{"id": "b", "metricStat": {"metric": {}, "period": 60, "stat": "Sum"}}]},
            "cloudWatch.metricDataQueries[0].metricStat.metric.metricName: Required value",
            id="no-metric-name",
        ),
        pytest.param(
            {"metricDataQueries": [{"id": "a", "expression": "x", "returnData": "yes"}]},
            "cloudWatch.metricDataQueries[0].returnData: must be true or false, got a string",
            id="return-data",
        ),
        pytest.param(
            {
                "metricDataQueries": [
                    {
                        "id": "b",
                        "metricStat": {
                            "metric": {"metricName": "m", "dimensions": ["svc=a"]},
                            "period": 60,
                            "stat": "Sum",
                        },
                    }
                ]
            },
            "cloudWatch.metricDataQueries[0].metricStat.metric.dimensions[0]: must be an object, got a string",
            id="dimension",
        ),
    ],
)
async def test_configuration_errors_name_the_field(tmp_path: Path, config: Any, message: str) -> None:
    with pytest.raises(CloudWatchConfigError) as caught:
        parse_cloudwatch(config)
    assert str(caught.value) == message
    measurement = await measure_with(unused_url(), environ(tmp_path), config)
    assert (measurement.phase, measurement.message) == (AnalysisPhase.ERROR, message)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(0.1, "0.1", id="tenth"),
        pytest.param(100.0, "100", id="hundred"),
        pytest.param(123456.0, "123456", id="six-digits"),
        pytest.param(1e6, "1e+06", id="million"),
        pytest.param(1234567.0, "1.234567e+06", id="seven-digits"),
        pytest.param(0.0001, "0.0001", id="small"),
        pytest.param(0.00001, "1e-05", id="smaller"),
        pytest.param(-2.5, "-2.5", id="negative"),
        pytest.param(0.0, "0", id="zero"),
        pytest.param(1e21, "1e+21", id="huge"),
        pytest.param(float("nan"), "NaN", id="nan"),
        pytest.param(float("-inf"), "-Inf", id="minus-inf"),
    ],
)
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text


def test_format_values() -> None:
    assert format_values([]) == "[]"
    assert format_values([{"Values": []}]) == "[[]]"
    assert format_values([{"Values": [0.1, 0.2, 0.3]}, {"Values": [1.0]}]) == "[[0.1 0.2 0.3] [1]]"
