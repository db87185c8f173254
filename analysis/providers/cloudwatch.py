"""The CloudWatch metric provider: one `measure()` = one CloudWatch ``GetMetricData`` call.

Sits at the edge of the analysis pipeline like the Prometheus and web providers: the runner hands it a metric
whose arguments are substituted, it returns a `Measurement` with the value string and the parsed result, and
`assess` evaluates the conditions. It follows Argo's `metricproviders/cloudwatch/cloudwatch.go` and
`docs/analysis/cloudwatch.md`:

* ``cloudWatch: {interval, metricDataQueries}``: `interval` a Go duration (default ``5m``), the queries
  Argo's `CloudWatchMetricDataQuery` (`id`, `expression`, `label`, `metricStat` {`metric` {`namespace`,
  `metricName`, `dimensions` [{`name`, `value`}]}, `period`, `stat`, `unit`}, `period`, `returnData`;
  a period may be a number or a string of digits, as Kubernetes' IntOrString);
* one GetMetricData over [now - interval, now]; at a past instant `at` (a replay) over
  [at - interval, at]: CloudWatch keeps its data, so a replay gets the past's answer;
* the result the conditions see is Argo's `MetricDataResults`, one object per returned query with the AWS
  SDK's field names: ``Id``, ``Label``, ``Values`` (floats), ``Timestamps`` (instants), ``StatusCode``
  (``Complete``, ``PartialData``, …) and ``Messages`` [{``Code``, ``Value``}], so Argo's
  ``len(result[0].Values) >= 5 and all(result[0].Values, {# <= 0.01})`` works unchanged;
* the value string is Go's ``fmt.Sprintf("%+v", values)`` of the values of each result:
  ``[[0.1 0.2 0.3]]``, ``[[]]`` for a query without data, ``[]`` without results;
* the answer's messages go into ``metadata["messages"]``; `metadata()` is None, as Argo's `GetMetadata`;
* every failure is an Error measurement worded as the AWS SDK for Go words it, which is what Argo shows:
  ``operation error CloudWatch: GetMetricData, https response error StatusCode: 400, RequestID: …, api
  error ValidationError: …``; a configuration that cannot be sent names its field
  (``cloudWatch.metricDataQueries[1].metricStat.stat: …``).

Credentials and region come from the AWS default chain (`sigv4`): ``AWS_ACCESS_KEY_ID``/
``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, a web identity token (EKS IRSA), the shared files, the
container or instance endpoints; ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``, or the profile's region). The
endpoint is the constructor's `endpoint_url`, else ``AWS_ENDPOINT_URL_CLOUDWATCH``, else
``AWS_ENDPOINT_URL``, else ``https://monitoring.<region>.amazonaws.com``. No key ever appears in a message.

The request is the Query protocol (a form POST, an XML answer) signed with SigV4 (service ``monitoring``) and
sent through one aiohttp session per event loop, after an admission by the namespace's and the endpoint's caps
(`throttling`); one deadline (`timeout`, default 30 s) covers the caps, fetching credentials (in a thread:
files, STS, metadata endpoints) and the exchange.
"""

from __future__ import annotations

import asyncio
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from analysis.durations import DurationError, parse_go_duration
from analysis.models import Measurement, Metric
from analysis.providers.base import (
    BaseProvider,
    PooledSession,
    error_measurement,
    off_loop,
    short_cause,
    value_measurement,
)
from analysis.providers.credentials import Credentials
from analysis.providers.sigv4 import SigV4Error, SigV4Signer, service_endpoint
from analysis.providers.throttling import LimiterRegistry

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_TIMEOUT_SECONDS",
    "CloudWatchConfigError",
    "CloudWatchProvider",
    "CloudWatchQuery",
    "format_values",
    "go_float",
    "parse_cloudwatch",
]

DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
_OPERATION = "operation error CloudWatch: GetMetricData"
_FIELD = "cloudWatch"


class CloudWatchConfigError(ValueError):
    """A `cloudWatch` section that cannot be sent; the message names the field."""


@dataclass(frozen=True)
class CloudWatchQuery:
    """`cloudWatch` parsed: the interval and the GetMetricData form fields of the queries."""

    interval: timedelta
    fields: tuple[tuple[str, str], ...]

    def form(self, start: datetime, end: datetime) -> dict[str, str]:
        """The form of the GetMetricData call over [start, end]."""
        return {
            "Action": "GetMetricData",
            "Version": "2010-08-01",
            "StartTime": _iso(start),
            "EndTime": _iso(end),
            **dict(self.fields),
        }


def _iso(instant: datetime) -> str:
    """An instant as the AWS SDK for Go writes one (`smithytime.FormatDateTime`, milliseconds, UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


# --- configuration ---------------------------------------------------------------------------


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CloudWatchConfigError(f"{where}: must be a string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CloudWatchConfigError(f"{where}: must be an object, got {_kind(value)}")
    return value


def _int_or_string(value: Any, where: str) -> int:
    """Kubernetes' IntOrString as Argo reads it (`IntValue()`): a whole number, or a string of one."""
    if isinstance(value, bool):
        raise CloudWatchConfigError(f"{where}: must be a whole number of seconds, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    else:
        raise CloudWatchConfigError(f"{where}: must be a whole number of seconds, got {value!r}")
    if number <= 0:
        raise CloudWatchConfigError(f"{where}: must be a positive number of seconds, got {number}")
    return number


def parse_cloudwatch(raw: Any) -> CloudWatchQuery:
    """`metric.provider.cloudWatch` (a plain object) → `CloudWatchQuery`; `CloudWatchConfigError` names the
    field that is wrong."""
    config = _object(raw, _FIELD)
    interval = DEFAULT_INTERVAL
    if config.get("interval") not in (None, ""):
        text = _string(config["interval"], f"{_FIELD}.interval")
        try:
            interval = parse_go_duration(text)
        except DurationError as e:
            raise CloudWatchConfigError(f"{_FIELD}.interval: {e}") from None
        if interval <= timedelta(0):
            raise CloudWatchConfigError(f"{_FIELD}.interval: must be positive, got {text!r}")
    queries = config.get("metricDataQueries")
    if queries is None:
        raise CloudWatchConfigError(f"{_FIELD}.metricDataQueries: Required value")
    if not isinstance(queries, list):
        raise CloudWatchConfigError(f"{_FIELD}.metricDataQueries: must be a list, got {_kind(queries)}")
    if not queries:
        raise CloudWatchConfigError(f"{_FIELD}.metricDataQueries: at least one query is needed")
    if len(queries) > 500:
        raise CloudWatchConfigError(
            f"{_FIELD}.metricDataQueries: CloudWatch takes at most 500 queries, got {len(queries)}"
        )
    fields: list[tuple[str, str]] = []
    for i, query in enumerate(queries):
        fields.extend(_query_fields(query, i))
    return CloudWatchQuery(interval, tuple(fields))


def _query_fields(raw: Any, i: int) -> list[tuple[str, str]]:
    where = f"{_FIELD}.metricDataQueries[{i}]"
    query = _object(raw, where)
    prefix = f"MetricDataQueries.member.{i + 1}."
    fields: list[tuple[str, str]] = []
    identifier = query.get("id")
    if identifier in (None, ""):
        raise CloudWatchConfigError(f"{where}.id: Required value")
    fields.append((prefix + "Id", _string(identifier, f"{where}.id")))
    expression = query.get("expression")
    stat = query.get("metricStat")
    if expression is not None and stat is not None:
        raise CloudWatchConfigError(f"{where}: set either expression or metricStat, not both")
    if expression is None and stat is None:
        raise CloudWatchConfigError(f"{where}: set expression or metricStat")
    if expression is not None:
        fields.append((prefix + "Expression", _string(expression, f"{where}.expression")))
    if stat is not None:
        fields.extend(_stat_fields(stat, f"{where}.metricStat", prefix + "MetricStat."))
    if query.get("label") is not None:
        fields.append((prefix + "Label", _string(query["label"], f"{where}.label")))
    if query.get("period") is not None:
        fields.append((prefix + "Period", str(_int_or_string(query["period"], f"{where}.period"))))
    if query.get("returnData") is not None:
        flag = query["returnData"]
        if not isinstance(flag, bool):
            raise CloudWatchConfigError(f"{where}.returnData: must be true or false, got {_kind(flag)}")
        fields.append((prefix + "ReturnData", "true" if flag else "false"))
    return fields


def _stat_fields(raw: Any, where: str, prefix: str) -> list[tuple[str, str]]:
    stat = _object(raw, where)
    fields: list[tuple[str, str]] = []
    metric = _object(stat.get("metric") or {}, f"{where}.metric")
    if metric.get("namespace") is not None:
        fields.append(
            (prefix + "Metric.Namespace", _string(metric["namespace"], f"{where}.metric.namespace"))
        )
    name = metric.get("metricName")
    if name in (None, ""):
        raise CloudWatchConfigError(f"{where}.metric.metricName: Required value")
    fields.append((prefix + "Metric.MetricName", _string(name, f"{where}.metric.metricName")))
    dimensions = metric.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, list):
            raise CloudWatchConfigError(f"{where}.metric.dimensions: must be a list, got {_kind(dimensions)}")
        for j, raw_dimension in enumerate(dimensions):
            at = f"{where}.metric.dimensions[{j}]"
            dimension = _object(raw_dimension, at)
            member = f"{prefix}Metric.Dimensions.member.{j + 1}."
            fields.append((member + "Name", _string(dimension.get("name", ""), f"{at}.name")))
            fields.append((member + "Value", _string(dimension.get("value", ""), f"{at}.value")))
    if stat.get("period") is None:
        raise CloudWatchConfigError(f"{where}.period: Required value")
    fields.append((prefix + "Period", str(_int_or_string(stat["period"], f"{where}.period"))))
    if stat.get("stat") in (None, ""):
        raise CloudWatchConfigError(f"{where}.stat: Required value")
    fields.append((prefix + "Stat", _string(stat["stat"], f"{where}.stat")))
    if stat.get("unit") not in (None, ""):
        fields.append((prefix + "Unit", _string(stat["unit"], f"{where}.unit")))
    return fields


# --- the answer ------------------------------------------------------------------------------


def go_float(value: float) -> str:
    """A float as Go's ``%v`` prints it (``strconv.FormatFloat(v, 'g', -1, 64)``).

    >>> [go_float(v) for v in (0.1, 100.0, 123456.0, 1e6, 1234567.0, 0.0001, 0.00001, -2.5, float("inf"))]
    ['0.1', '100', '123456', '1e+06', '1.234567e+06', '0.0001', '1e-05', '-2.5', '+Inf']
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = list(digit_tuple)
    assert isinstance(exponent, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    while len(digits) > 1 and digits[0] == 0:
        digits.pop(0)
    text = "".join(map(str, digits))
    count = len(digits)
    point = count + exponent  # digits before the decimal point
    magnitude = point - 1
    minus = "-" if sign else ""
    if magnitude < -4 or magnitude >= 6:
        mantissa = text[0] + ("." + text[1:] if count > 1 else "")
        return f"{minus}{mantissa}e{'-' if magnitude < 0 else '+'}{abs(magnitude):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= count:
        return f"{minus}{text}{'0' * (point - count)}"
    return f"{minus}{text[:point]}.{text[point:]}"


def format_values(results: list[dict[str, Any]]) -> str:
    """Argo's value string: ``fmt.Sprintf("%+v", [][]float64)`` of each result's values."""
    return "[" + " ".join("[" + " ".join(go_float(v) for v in r["Values"]) + "]" for r in results) + "]"


def _child(element: ET.Element, name: str) -> ET.Element | None:
    found = element.find(_NS + name)
    return found if found is not None else element.find(name)


def _text(element: ET.Element, name: str) -> str:
    found = _child(element, name)
    return (found.text or "").strip() if found is not None else ""


def _members(element: ET.Element | None) -> list[ET.Element]:
    if element is None:
        return []
    return [child for child in element if child.tag.rsplit("}", 1)[-1] == "member"]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _messages(element: ET.Element | None) -> list[dict[str, str]]:
    return [{"Code": _text(m, "Code"), "Value": _text(m, "Value")} for m in _members(element)]


def _parse_answer(root: ET.Element) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(MetricDataResults, Messages) of a GetMetricData answer."""
    result = _child(root, "GetMetricDataResult")
    if result is None:
        raise ValueError("no GetMetricDataResult in the answer")
    results: list[dict[str, Any]] = []
    for member in _members(_child(result, "MetricDataResults")):
        results.append(
            {
                "Id": _text(member, "Id"),
                "Label": _text(member, "Label"),
                "Timestamps": [
                    _instant((t.text or "").strip()) for t in _members(_child(member, "Timestamps"))
                ],
                "Values": [float((v.text or "").strip()) for v in _members(_child(member, "Values"))],
                "StatusCode": _text(member, "StatusCode"),
                "Messages": _messages(_child(member, "Messages")),
            }
        )
    return results, _messages(_child(result, "Messages"))


def _format_messages(messages: list[dict[str, str]]) -> str:
    """The answer's messages as Argo's ``fmt.Sprintf("%+v", result.Messages)``, with the values rather than
    Go's pointers: ``[{Code:Maths1 Value:…}]``."""
    return "[" + " ".join(f"{{Code:{m['Code']} Value:{m['Value']}}}" for m in messages) + "]"


def _api_error(status: int, request_id: str, raw: bytes) -> str:
    """An error answer in the AWS SDK for Go's words."""
    head = f"{_OPERATION}, https response error StatusCode: {status}, RequestID: {request_id}, "
    try:
        root = _xml(raw)
    except (ET.ParseError, ValueError):
        excerpt = " ".join(raw[:200].decode("utf-8", "replace").split())
        return head + (excerpt or "(empty body)")
    code = message = ""
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "Code" and not code:
            code = (element.text or "").strip()
        elif tag == "Message" and not message:
            message = (element.text or "").strip()
        elif tag == "RequestId" and not request_id:
            request_id = (element.text or "").strip()
            head = f"{_OPERATION}, https response error StatusCode: {status}, RequestID: {request_id}, "
    if not code:
        excerpt = " ".join(raw[:200].decode("utf-8", "replace").split())
        return head + (excerpt or "(empty body)")
    return head + f"api error {code}: {message}"


def _xml(raw: bytes) -> ET.Element:
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ValueError("an XML document with a DOCTYPE is not read")
    return ET.fromstring(raw)


async def _read_body(content: aiohttp.StreamReader) -> bytes:
    """The body up to `MAX_ANSWER_BYTES` + 1 bytes (`read(n)` returns what has arrived: loop)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_ANSWER_BYTES:
        chunk = await content.read(MAX_ANSWER_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class CloudWatchProvider(PooledSession, BaseProvider):
    """`provider.cloudWatch` metrics. One instance per event loop; share `limiters` with the other providers.

    `credentials.environ` is where the AWS variables are read (the process's environment by default);
    `endpoint_url` replaces the service's endpoint (a local CloudWatch); `timeout` bounds one measurement."""

    kind = "cloudWatch"

    def __init__(
        self,
        *,
        limiters: LimiterRegistry,
        credentials: Credentials,
        endpoint_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        connections: int | None = None,
    ) -> None:
        self.limiters = limiters
        self.credentials = credentials
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.timeout = timeout
        self.connections = connections or max(1, limiters.default.concurrency) * 4
        self._signer = SigV4Signer(environ=credentials.environ, service="monitoring")
        self._session: aiohttp.ClientSession | None = None

    def endpoint(self) -> str:
        """The endpoint asked (`SigV4Error` without a region and without an endpoint override)."""
        if self.endpoint_url:
            return self.endpoint_url
        return service_endpoint(self.credentials.environ, "CLOUDWATCH", "monitoring", self._signer.region)

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        raw = metric.provider.cloud_watch
        if raw is None:
            return error_measurement(f"metric '{metric.name}' has no cloudWatch provider")
        try:
            query = parse_cloudwatch(raw)
        except CloudWatchConfigError as e:
            return error_measurement(str(e))
        end = at if at is not None else datetime.now(UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        try:
            endpoint = self.endpoint()
            region = self._signer.region
        except SigV4Error as e:
            return error_measurement(
                f"{_OPERATION}, failed to resolve service endpoint, an AWS region is required, but was not "
                f"found (set AWS_REGION): {e}"
            )
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return error_measurement(
                f"{_OPERATION}, the CloudWatch endpoint is not a http(s) URL: {endpoint!r}"
            )
        url = endpoint + "/" if not parts.path else endpoint
        body = urlencode(query.form(end - query.interval, end)).encode()
        return await self._call(url, body, region)

    async def _call(self, url: str, body: bytes, region: str) -> Measurement:
        timeout = self.timeout
        admission = self.limiters.admit(url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout(timeout), admission:
                headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
                remaining = max(deadline - loop.time(), 0.001)
                try:
                    signed = await asyncio.to_thread(
                        self._signer.sign, "POST", url, headers, body, timeout=remaining
                    )
                except SigV4Error as e:
                    return error_measurement(f"{_OPERATION}, get identity: get credentials: {e}")
                headers.update(signed)
                async with self._client().post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=max(deadline - loop.time(), 0.001)),
                    allow_redirects=False,
                ) as response:
                    raw = await _read_body(response.content)
                    status = response.status
                    request_id = response.headers.get("x-amzn-RequestId", "")
        except TimeoutError:
            if admission.waiting_for is not None:
                self.limiters.observe("refused", admission.waiting_for, admission.tenant)
                return error_measurement(admission.describe_refusal(timeout))
            return error_measurement(f"{_OPERATION}, request to {url} timed out after {timeout:g}s")
        except aiohttp.ClientError as e:
            return error_measurement(f'{_OPERATION}, request send failed, Post "{url}": {short_cause(e)}')
        except Exception as e:  # a library bug must not take the run down
            return error_measurement(f"{_OPERATION}, request to {url} failed: {type(e).__name__}: {e}")
        if status != 200:
            return error_measurement(_api_error(status, request_id, raw))
        if len(raw) > MAX_ANSWER_BYTES:
            return error_measurement(
                f"{_OPERATION}, the answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB: "
                "narrow the queries or the interval"
            )
        try:
            results, messages = _parse_answer(await off_loop(_xml, raw))
        except (ET.ParseError, ValueError) as e:
            excerpt = " ".join(raw[:200].decode("utf-8", "replace").split())
            return error_measurement(
                f"{_OPERATION}, deserialization failed: {e}: {excerpt or '(empty body)'}"
            )
        measurement = value_measurement(format_values(results))
        if messages:
            measurement.metadata = {"messages": _format_messages(messages)}
        return measurement.with_result(results)
