"""The InfluxDB metric provider: one `measure()` = one Flux query through InfluxDB's v2 query API.

Follows Argo's `metricproviders/influxdb/influxdb.go` and the influxdb-client-go v2 `QueryAPI.Query` it calls
(api/query.go, api/http/service.go, api/http/error.go):

* ``influxdb: {profile, query}``: `query` is Flux; `profile` names the Secret holding the connection,
  default ``influxdb``, read in the controller's namespace (`POD_NAMESPACE`, default ``argo-rollouts``), keys
  ``address``, ``authToken`` and ``org``. A Secret without all three is an Error measurement ``authToken, org,
  or address not found``.
* The request: ``POST <address>/api/v2/query?org=<org>`` (the address resolved as a URL reference, like the
  Go client: ``http://host:8086`` → ``/api/v2/query``), headers ``Authorization: Token <authToken>``,
  ``Content-Type: application/json``, ``Accept-Encoding: gzip``, body ``{"dialect": {"annotations":
  ["datatype", "group", "default"], "delimiter": ",", "header": true}, "query": <query>, "type": "flux"}``.
  Argo's deadline is 30 s (`TIMEOUT_SECONDS`); here it covers the admission (`throttling`) too.
* The answer is annotated CSV. The result is the ``_value`` of every record of every table, in order, typed
  by the ``#datatype`` annotation (``#default`` filling empty cells): double → float, long/unsignedLong →
  int, boolean → bool, string → str, dateTime → datetime, duration → timedelta, a missing value → None. So
  conditions read ``result[0] <= 0.01``. The value string is Go's ``fmt.Sprint`` of that list:
  ``[0.005 12 true]``. No record is an Error measurement ``no results returned from flux query``.
* A non-2xx answer is an Error measurement worded as the Go client words it: ``<code>: <message>`` from
  InfluxDB's JSON error (``invalid: compilation failed: …``, ``unauthorized: unauthorized access``),
  ``too many requests: exceeded rate limit`` for a bare 429, ``unavailable: service temporarily
  unavailable`` for a bare 503, with `` (Retry-After: N)`` when the server says when to come back.
  An error table inside a 200 answer (a query that failed while streaming) is an Error measurement with its
  message and reference.

Replay (``at``): the query API's ``now`` field (“the time that should be reported as now in the query”) is
set to `at`, so ``now()`` and every relative range (``range(start: -15m)``) are evaluated at that instant.
A query that names absolute times is answered about those times, as it would be live.

Without a cluster (`rollouts analyze`: `Credentials` has no Secret lookup) the connection comes from the
environment, whatever the profile: ``INFLUXDB_ADDRESS``, ``INFLUXDB_TOKEN``, ``INFLUXDB_ORG`` (or the
``influx`` CLI's ``INFLUX_HOST``, ``INFLUX_TOKEN``, ``INFLUX_ORG``).

The token is never written anywhere: messages, values and results are scrubbed of it (`scrub`).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, urljoin, urlsplit

from yarl import URL

from analysis.durations import DurationError, format_go_duration, parse_go_duration
from analysis.models import Measurement, Metric
from analysis.providers.base import error_measurement, value_measurement
from analysis.providers.credentials import CredentialsError
from analysis.providers.graphite import VendorProvider
from analysis.providers.vendor import Answer, ExchangeFailed, display_address, excerpt, retry_note, scrub

__all__ = [
    "ADDRESS_ENV",
    "DEFAULT_PROFILE",
    "ORG_ENV",
    "TIMEOUT_SECONDS",
    "TOKEN_ENV",
    "FluxError",
    "InfluxConnection",
    "InfluxdbProvider",
    "flux_values",
    "go_sprint",
    "query_body",
]

DEFAULT_PROFILE = "influxdb"
"""Argo's DefaultInfluxdbTokensSecretName."""
TIMEOUT_SECONDS = 30.0
"""Argo's defaultQueryTimeout."""
ADDRESS_ENV = ("INFLUXDB_ADDRESS", "INFLUX_HOST")
TOKEN_ENV = ("INFLUXDB_TOKEN", "INFLUX_TOKEN")
ORG_ENV = ("INFLUXDB_ORG", "INFLUX_ORG")
_MISSING = "authToken, org, or address not found"


class FluxError(ValueError):
    """An annotated-CSV answer that cannot be read, or one carrying a query error."""


@dataclass(frozen=True)
class InfluxConnection:
    """Where and as whom to query: the Secret's ``address``, ``authToken`` and ``org``."""

    address: str
    token: str
    org: str

    def __repr__(self) -> str:  # never the token
        return f"InfluxConnection(address={self.address!r}, org={self.org!r})"


def query_body(query: str, at: datetime | None = None) -> bytes:
    """The JSON body the Go client sends (`domain.Query` with `DefaultDialect`), plus ``now`` for a replay."""
    body: dict[str, Any] = {
        "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": True}
    }
    if at is not None:
        body["now"] = _rfc3339_nano(at)
    body["query"] = query
    body["type"] = "flux"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def query_url(address: str, org: str) -> URL:
    """``<address>/api/v2/query?org=<org>``, the address resolved as the Go client resolves it."""
    base = urljoin(address, "api/v2/")
    return URL(base.rstrip("/") + "/query?org=" + quote_plus(org, safe=""), encoded=True)


def _rfc3339_nano(at: datetime) -> str:
    """Go's RFC3339Nano in UTC: ``2024-05-01T10:00:00Z``, ``2024-05-01T10:00:00.25Z``."""
    at = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += "." + f"{at.microsecond:06d}".rstrip("0")
    return text + "Z"


_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _parse_time(text: str) -> datetime:
    found = _DATETIME.fullmatch(text)
    if found is None:
        raise FluxError(f'parsing time "{text}" as RFC3339: cannot parse')
    day, clock, fraction, zone = found.groups()
    micro = (fraction or ".")[1:7].ljust(6, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    return datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}").astimezone(UTC)


def _to_value(text: str, datatype: str, column: str) -> Any:
    """One cell as the Go client's `toValue` converts it; '' → None."""
    if text == "":
        return None
    try:
        if datatype == "string":
            return text
        if datatype == "double":
            return float(text)
        if datatype == "boolean":
            return text.lower() != "false"
        if datatype in ("long", "unsignedLong"):
            return int(text, 10)
        if datatype in ("dateTime:RFC3339", "dateTime:RFC3339Nano"):
            return _parse_time(text)
        if datatype == "duration":
            return parse_go_duration(text)
        if datatype == "base64Binary":
            return base64.b64decode(text, validate=True)
    except (ValueError, DurationError) as e:
        raise FluxError(f"{column}: cannot read {text!r} as {datatype}: {e}") from None
    raise FluxError(f"{column} has unknown data type {datatype}")


def flux_values(text: str) -> list[Any]:
    """The ``_value`` of every record of an annotated-CSV answer (the Go client's QueryTableResult.Next
    state machine); raises `FluxError` for an error table or an answer that is not annotated CSV.

    >>> flux_values("#datatype,string,long,double\\n#group,false,false,false\\n#default,_result,,\\n"
    ...             ",result,table,_value\\n,,0,0.5\\n,,0,\\n")
    [0.5, None]
    """
    names: list[str] = []
    types: list[str] = []
    defaults: list[str] = []
    columns = -1  # no table yet
    state = "normal"  # normal | annotation | header | error
    datatype_seen = False
    values: list[Any] = []
    value_column: int | None = None
    for row in csv.reader(io.StringIO(text, newline="")):
        if len(row) <= 1:
            continue
        if row[0].startswith("#") and state == "normal":
            columns = len(row) - 1
            names, types, defaults = [""] * columns, [""] * columns, [""] * columns
            value_column, datatype_seen, state = None, False, "annotation"
        if columns < 0:
            raise FluxError("parsing error, annotations not found")
        if len(row) - 1 != columns:
            raise FluxError(
                f"parsing error, row has different number of columns than the table: {len(row) - 1} vs {columns}"
            )
        cells = row[1:]
        if row[0] == "#datatype":
            types, datatype_seen = cells, True
        elif row[0] == "#default":
            defaults = cells
        elif row[0].startswith("#"):
            pass  # #group and unknown annotations
        elif row[0] != "":
            pass  # not a data row (the Go client ignores it too)
        elif state == "annotation" or state == "header":
            if state == "annotation" and not datatype_seen:
                raise FluxError("parsing error, datatype annotation not found")
            if cells[0] == "error":
                state = "error"
            else:
                names = cells
                value_column = names.index("_value") if "_value" in names else None
                state = "normal"
        elif state == "error":
            message = cells[0] or "unknown query error"
            reference = f",{cells[1]}" if len(cells) > 1 and cells[1] else ""
            raise FluxError(f"{message}{reference}")
        elif value_column is None:
            values.append(None)
        else:
            cell = cells[value_column] or defaults[value_column]
            values.append(_to_value(cell, types[value_column], "_value"))
    return values


def go_sprint(values: Sequence[Any]) -> str:
    """Go's ``fmt.Sprint`` of an `[]any`: ``[0.5 12 true <nil> 1.2e+06]``.

    >>> go_sprint([0.5, 12, True, None, 1.2e6, "ok", 1e-05, float("nan")])
    '[0.5 12 true <nil> 1.2e+06 ok 1e-05 NaN]'
    """
    return "[" + " ".join(_go_value(v) for v in values) + "]"


def _go_value(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            + ("." + f"{value.microsecond:06d}".rstrip("0") if value.microsecond else "")
            + " +0000 UTC"
        )
    if isinstance(value, timedelta):
        return format_go_duration(value)
    if isinstance(value, bytes):
        return "[" + " ".join(str(b) for b in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (strconv 'g', shortest digits): the exponent form when the decimal exponent
    is below -4 or at least 6 (``1e-05``, ``1.234567e+06``), else plain (``0.0001``, ``123456``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits = Decimal(repr(value))
    exponent = digits.adjusted()
    if exponent < -4 or exponent >= 6:
        sign, numerals, _ = digits.as_tuple()
        mantissa = "".join(str(d) for d in numerals).rstrip("0") or "0"
        head = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
        return f"{'-' if sign else ''}{head}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    text = format(digits, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def error_of(answer: Answer) -> str:
    """A non-2xx answer worded as the Go client's `http.Error` (service.go parseHTTPError, error.go)."""
    media = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    code = message = ""
    if media == "application/json" and answer.body.strip():
        try:
            document = json.loads(answer.body)
        except (ValueError, RecursionError) as e:
            return f"{e}{retry_note(answer)}"
        if isinstance(document, dict):
            code = str(document.get("code") or "")
            message = str(document.get("message") or "")
    elif media != "application/json":
        code, message = f"{answer.status} {answer.reason}".strip(), excerpt(answer.text())
    if not code and not message:
        if answer.status == 429:
            code, message = "too many requests", "exceeded rate limit"
        elif answer.status == 503:
            code, message = "unavailable", "service temporarily unavailable"
        else:
            code, message = (
                f"{answer.status} {answer.reason}".strip(),
                answer.headers.get("X-Influxdb-Error", ""),
            )
    if code and message:
        text = f"{code}: {excerpt(message)}"
    elif message:
        text = excerpt(message)
    else:
        text = f"Unexpected status code {answer.status}"
    return text + retry_note(answer)


class InfluxdbProvider(VendorProvider):
    """`provider.influxdb` metrics. One instance per event loop; share `limiters` with the other providers."""

    kind = "influxdb"
    label = "InfluxDB"
    timeout = TIMEOUT_SECONDS

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        config = metric.provider.influxdb
        if config is None:
            return error_measurement(f"metric '{metric.name}' has no influxdb provider")
        query = config.get("query")
        profile = config.get("profile") or DEFAULT_PROFILE
        if not isinstance(query, str) or not query.strip():
            return error_measurement("influxdb.query is required: a Flux query")
        if not isinstance(profile, str):
            return error_measurement("influxdb.profile must be the name of a Secret")
        try:
            connection = await self.connection(profile)
        except CredentialsError as e:
            return error_measurement(str(e))
        if isinstance(connection, str):
            return error_measurement(connection)
        measurement = await self._query(connection, query, at)
        return scrub(measurement, [connection.token])

    async def connection(self, profile: str) -> InfluxConnection | str:
        """The profile's connection, or the sentence saying why there is none. Raises CredentialsError."""
        credentials = self.credentials
        if credentials.lookup is None:
            address, token, org = (
                credentials.env(*ADDRESS_ENV),
                credentials.env(*TOKEN_ENV),
                credentials.env(*ORG_ENV),
            )
            if not (address and token and org):
                return (
                    f"{_MISSING}: without a cluster the InfluxDB connection comes from the environment "
                    f"({ADDRESS_ENV[0]}, {TOKEN_ENV[0]} and {ORG_ENV[0]})"
                )
            return InfluxConnection(address, token, org)
        data = await credentials.secret(profile)
        where = f"{credentials.namespace}/{profile}"
        if data is None:
            return f'secrets "{profile}" not found: the Secret {where} holds the InfluxDB address, authToken and org'
        address, token, org = data.get("address", ""), data.get("authToken", ""), data.get("org", "")
        if not (address and token and org):
            return f"{_MISSING} in the Secret {where}"
        return InfluxConnection(address, token, org)

    async def _query(self, connection: InfluxConnection, query: str, at: datetime | None) -> Measurement:
        address = connection.address.strip()
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return error_measurement(f"InfluxDB address {display_address(address)} is not a http(s) URL")
        headers = {
            "Authorization": f"Token {connection.token}",
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip",
        }
        try:
            answer = await self._exchange(
                "POST",
                query_url(address, connection.org),
                address=address,
                headers=headers,
                data=query_body(query, at),
            )
        except ExchangeFailed as e:
            return error_measurement(str(e))
        if answer.too_large:
            return self._too_large(address)
        if not 200 <= answer.status < 300:
            return error_measurement(error_of(answer))
        # Reading up to 10 MiB of CSV (a million records) and writing their value string takes seconds of
        # CPU: in a worker thread, so the event loop keeps serving every other namespace meanwhile.
        return await asyncio.to_thread(_shaped, answer.body)


def _shaped(body: bytes) -> Measurement:
    """The measurement of a 2xx answer's annotated CSV."""
    try:
        values = flux_values(body.decode("utf-8", errors="replace"))
    except FluxError as e:
        return error_measurement(str(e))
    except csv.Error as e:
        return error_measurement(f"InfluxDB answer is not CSV: {e}")
    if not values:
        return error_measurement("no results returned from flux query")
    return value_measurement(go_sprint(values)).with_result(values)
