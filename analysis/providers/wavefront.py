"""The Wavefront metric provider: one `measure()` = one call of Wavefront's chart API.

Follows Argo's `metricproviders/wavefront/wavefront.go` and the go-wavefront v1.8.1 client it uses (client.go,
query.go):

* ``wavefront: {address, query}``: `address` is the cluster's host (``example.wavefront.com``), `query` a
  Wavefront Query Language expression. The API token is the value of the key named like the address in the
  Secret ``wavefront-api-tokens`` of the controller's namespace (`POD_NAMESPACE`, default ``argo-rollouts``);
  no such key is an Error measurement ``API token not found``.
* The request: ``GET https://<address>/api/v2/chart/api`` with ``Authorization: Bearer <token>``,
  ``Accept: application/json`` and, sorted as Go encodes them, ``autoEvents=false``, ``e=<ms>``, ``g=s``,
  ``i=true``, ``includeObsoleteMetrics=false``, ``listmode=false``, ``p=1``, ``q=<query>``, ``s=<ms>``,
  ``strict=false``: a window of one instant (start = end = the measurement's time in epoch milliseconds,
  whole seconds), at most one point per series, series whose points lie outside the window included.
* The result: for each series, the value of its data point (``[epochSeconds, value]``) closest to the
  measurement's time (the first one on a tie). One series → a float and the value string ``%.2f``
  (``0.97``); several → a list of floats and ``[0.97,0.50]``. The measurement's metadata keeps
  ``timestamps`` (the points' epoch seconds) and ``drift`` (point time − measurement time, seconds), and
  ``warnings`` when Wavefront sent some. No series is an Error measurement ``No TimeSeries found in response
  from Wavefront`` (with Wavefront's ``errorType: errorMessage`` when it gave one).
* A status other than 200 is an Error measurement ``server returned <status>: <body>``, with
  `` (Retry-After: N)`` when the server says when to come back.

Replay (``at``): the chart API answers about any instant: start and end are `at`, and the closest point
is looked for around `at`.

Without a cluster (`rollouts analyze`: `Credentials` has no Secret lookup) the token is ``WAVEFRONT_TOKEN``,
for any address.

An address written with a scheme (``http://127.0.0.1:8080``) is used as written (Argo always prefixes
``https://``, which such an address would break); the Secret's key is still the address as written.
The token is never written anywhere: messages, values and metadata are scrubbed of it (`scrub`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlsplit

from yarl import URL

from analysis.models import Measurement, Metric
from analysis.providers.base import error_measurement, off_loop, value_measurement
from analysis.providers.credentials import CredentialsError
from analysis.providers.graphite import VendorProvider
from analysis.providers.vendor import ExchangeFailed, excerpt, retry_note, scrub

__all__ = [
    "TIMEOUT_SECONDS",
    "TOKENS_SECRET",
    "TOKEN_ENV",
    "WavefrontAnswerError",
    "WavefrontProvider",
    "chart_params",
    "chart_url",
    "closest_points",
]

TOKENS_SECRET = "wavefront-api-tokens"
"""Argo's WavefrontTokensSecretName: key = address, value = API token."""
TOKEN_ENV = "WAVEFRONT_TOKEN"
TIMEOUT_SECONDS = 30.0
"""Argo's client has no timeout at all; a measurement here gives up after 30 s."""
_PATH = "/api/v2/chart/api"


class WavefrontAnswerError(ValueError):
    """A chart API answer that gives no result; the message is the Error measurement's."""


@dataclass(frozen=True)
class _Point:
    value: float
    epoch: int
    drift: int


def chart_params(query: str, instant: datetime) -> list[tuple[str, str]]:
    """The chart API parameters Argo's QueryParams produce for one instant, sorted by key as Go encodes them.

    >>> [kv for kv in chart_params("ts(cpu)", datetime(2024, 1, 1, tzinfo=UTC)) if kv[0] in "qse"]
    [('e', '1704067200000'), ('q', 'ts(cpu)'), ('s', '1704067200000')]
    """
    millis = str(_epoch(instant) * 1000)
    params = {
        "autoEvents": "false",
        "e": millis,
        "g": "s",
        "i": "true",
        "includeObsoleteMetrics": "false",
        "listmode": "false",
        "p": "1",
        "q": query,
        "s": millis,
        "strict": "false",
    }
    return sorted(params.items())


def chart_url(address: str, params: Sequence[tuple[str, str]]) -> URL:
    """``https://<address>/api/v2/chart/api?<params>`` (an address with a scheme is kept as written)."""
    base = address if "://" in address else f"https://{address}"
    parts = urlsplit(base)
    query = "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in params)
    return URL(f"{parts.scheme}://{parts.netloc}{_PATH}?{query}", encoded=True)


def _epoch(instant: datetime) -> int:
    return math.floor((instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)).timestamp())


def closest_points(body: Any, instant: datetime) -> list[_Point]:
    """For each series of a chart API answer, its point closest to `instant` (Argo's findDataPointValue).

    Raises `WavefrontAnswerError` when there is no series, or a series has no point with a value.
    """
    if not isinstance(body, dict):
        raise WavefrontAnswerError(f"Wavefront answer is not an object: {excerpt(json.dumps(body))}")
    series = body.get("timeseries") or []
    if not isinstance(series, list) or not series:
        message = "No TimeSeries found in response from Wavefront"
        kind, said = body.get("errorType"), body.get("errorMessage")
        if said:
            message += f": {kind}: {excerpt(str(said))}" if kind else f": {excerpt(str(said))}"
        raise WavefrontAnswerError(message)
    reference = _epoch(instant)
    points: list[_Point] = []
    for one in series:
        data = one.get("data") if isinstance(one, dict) else None
        best: _Point | None = None
        best_delta = math.inf
        for point in data if isinstance(data, list) else []:
            if isinstance(point, list) and len(point) >= 2 and point[1] is None:
                continue  # a point without a value
            if not (
                isinstance(point, list)
                and len(point) >= 2
                and all(isinstance(x, int | float) and not isinstance(x, bool) for x in point[:2])
            ):
                raise WavefrontAnswerError(f"malformed Wavefront data point {excerpt(json.dumps(point))}")
            delta = point[0] - reference
            if abs(delta) < abs(best_delta):
                best, best_delta = _Point(float(point[1]), int(point[0]), int(delta)), delta
        if best is None:
            label = one.get("label") if isinstance(one, dict) else None
            raise WavefrontAnswerError(
                f"Wavefront timeseries {json.dumps(label or '')} has no data point with a value"
            )
        points.append(best)
    return points


def _two_decimals(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.2f}"


class WavefrontProvider(VendorProvider):
    """`provider.wavefront` metrics. One instance per event loop; share `limiters` with the other providers."""

    kind = "wavefront"
    label = "Wavefront"
    timeout = TIMEOUT_SECONDS

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        config = metric.provider.wavefront
        if config is None:
            return error_measurement(f"metric '{metric.name}' has no wavefront provider")
        address, query = config.get("address"), config.get("query")
        if not isinstance(address, str) or not address.strip():
            return error_measurement(
                "wavefront.address is required: the Wavefront host, e.g. example.wavefront.com"
            )
        if not isinstance(query, str) or not query.strip():
            return error_measurement("wavefront.query is required: a Wavefront query")
        base = address if "://" in address else f"https://{address}"
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return error_measurement(f"Wavefront address {address!r} is not a host name")
        try:
            token = await self.token(address)
        except (CredentialsError, _NoToken) as e:
            return error_measurement(str(e))
        instant = at if at is not None else datetime.now(UTC)
        measurement = await self._query(address, base, query, token, instant)
        return scrub(measurement, [token])

    async def token(self, address: str) -> str:
        """The address' API token. Raises `CredentialsError` (the Secret cannot be read) or `_NoToken`."""
        credentials = self.credentials
        if credentials.lookup is None:
            found = credentials.env(TOKEN_ENV)
            if not found:
                raise _NoToken(f"API token not found: without a cluster it is read from {TOKEN_ENV}")
            return found
        data = await credentials.secret(TOKENS_SECRET)
        where = f"{credentials.namespace}/{TOKENS_SECRET}"
        if data is None:
            raise _NoToken(
                f'secrets "{TOKENS_SECRET}" not found: the Secret {where} holds one API token per address'
            )
        token = data.get(address)
        if not token:
            raise _NoToken(f"API token not found: the Secret {where} has no key {address!r}")
        return token

    async def _query(self, address: str, base: str, query: str, token: str, instant: datetime) -> Measurement:
        url = chart_url(base, chart_params(query, instant))
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        key = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
        try:
            answer = await self._exchange("GET", url, address=key, headers=headers)
        except ExchangeFailed as e:
            return error_measurement(str(e))
        if answer.too_large:
            return self._too_large(key)
        if answer.status != 200:
            status = f"{answer.status} {answer.reason}".strip()
            body = excerpt(answer.text())
            return error_measurement(
                f"server returned {status}" + (f": {body}" if body else "") + retry_note(answer)
            )
        try:
            document = await off_loop(json.loads, answer.body)
        except (ValueError, RecursionError) as e:
            return error_measurement(f"Wavefront answer is not JSON: {e}: {excerpt(answer.text(), 200)}")
        metadata: dict[str, str] = {}
        if isinstance(document, dict) and document.get("warnings"):
            metadata["warnings"] = str(document["warnings"])
        try:
            points = closest_points(document, instant)
        except WavefrontAnswerError as e:
            failed = error_measurement(str(e))
            if metadata:
                failed.metadata = metadata
            return failed
        if len(points) == 1:
            point = points[0]
            result: float | list[float] = point.value
            text = _two_decimals(point.value)
            metadata["timestamps"], metadata["drift"] = str(point.epoch), str(point.drift)
        else:
            result = [p.value for p in points]
            text = "[" + ",".join(_two_decimals(p.value) for p in points) + "]"
            metadata["timestamps"] = "[" + ",".join(str(p.epoch) for p in points) + "]"
            metadata["drift"] = "[" + ",".join(str(p.drift) for p in points) + "]"
        measurement = value_measurement(text).with_result(result)
        measurement.metadata = metadata
        return measurement


class _NoToken(Exception):
    """No API token for the address; the message says where it was looked for."""
