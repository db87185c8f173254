"""What every notification service shares (`rollouts.notifications.services` builds them): the two errors, the
`Service` protocol, reading a `service.*` entry the way notifications-engine's decoder does, and one HTTP attempt
turned into success or a `SendError` that says whether trying again can help.

Where it sits: below `services`, `slack` and `emailing`, which import it (and never each other's internals), so
the package has no import cycle. It does no logging: the delivery layer logs, after redacting `Service.secrets`.

Reading options like the engine: the engine decodes a `service.*` entry with sigs.k8s.io/yaml, that is Go's
encoding/json, which matches field names case-insensitively (`apiurl` sets `apiURL`) and ignores unknown fields.
`Options` does the same; a field of the wrong type is a `ServiceConfigError` naming the key and the field, at
build time, where the engine would fail every send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import aiohttp

__all__ = ["SendError", "Service", "ServiceConfigError"]


class ServiceConfigError(ValueError):
    """A `service.*` entry that cannot be used; the sentence names the ConfigMap key and the field."""


class SendError(Exception):
    """One attempt that failed. `retryable` says whether the same request may succeed later (timeouts, refused
    connections, HTTP 408/429/5xx, SMTP 4xx); `status` is the HTTP status or SMTP code when there was one, and
    `retry_after` the seconds the receiver asked to wait (HTTP Retry-After), when it did. The message is one
    sentence and never holds a secret of the service's options."""

    retry_after: float | None = None

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class Service(Protocol):
    """A configured notification service: `send` makes one attempt and raises `SendError` when it fails."""

    type: str
    name: str
    secrets: tuple[str, ...]

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None: ...


def lookup(mapping: Mapping[str, Any], field: str) -> Any:
    """`mapping[field]` matched as Go's encoding/json does: exactly, else case-insensitively; None if absent."""
    if field in mapping:
        return mapping[field]
    folded = field.casefold()
    for key, value in mapping.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


class Options:
    """The options of one `service.*` entry, read with the entry's key at hand for error sentences."""

    def __init__(self, key: str, data: Mapping[str, Any], prefix: str = "") -> None:
        self.key = key
        self.data = data
        self.prefix = prefix

    def _where(self, field: str) -> str:
        return f"{self.key} field {self.prefix}{field}"

    def _missing(self, field: str) -> ServiceConfigError:
        return ServiceConfigError(f"{self.key} has no {self.prefix}{field}, which this service requires.")

    def string(self, field: str, *, required: bool = False, default: str = "") -> str:
        value = lookup(self.data, field)
        if value is None or value == "":
            if required:
                raise self._missing(field)
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ServiceConfigError(f"{self._where(field)} must be a string, not {type(value).__name__}.")
        return str(value)

    def boolean(self, field: str) -> bool:
        value = lookup(self.data, field)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ServiceConfigError(f"{self._where(field)} must be true or false, not {value!r}.")

    def integer(self, field: str, *, required: bool = False, default: int = 0) -> int:
        value = lookup(self.data, field)
        if value is None or value == "":
            if required:
                raise self._missing(field)
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise ServiceConfigError(f"{self._where(field)} must be a whole number, not {value!r}.")

    def string_map(self, field: str, *, required: bool = False) -> dict[str, str]:
        value = lookup(self.data, field)
        if not value:
            if required:
                raise self._missing(field)
            return {}
        if not isinstance(value, Mapping):
            raise ServiceConfigError(f"{self._where(field)} must be a map of names to strings.")
        result: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise ServiceConfigError(f"{self._where(field)}.{name} must be a string.")
            result[str(name)] = str(item)
        return result

    def section(self, field: str) -> Options | None:
        value = lookup(self.data, field)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ServiceConfigError(f"{self._where(field)} must be a map.")
        return Options(self.key, value, f"{self.prefix}{field}.")

    def sections(self, field: str) -> list[Options]:
        value = lookup(self.data, field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise ServiceConfigError(f"{self._where(field)} must be a list of maps.")
        return [Options(self.key, item, f"{self.prefix}{field}[{i}].") for i, item in enumerate(value)]

    def tls(self, insecure_field: str, ca_field: str) -> ssl.SSLContext | bool:
        """What aiohttp's `ssl=` (and the SMTP client) should use: False to skip verification, a context trusting
        `ca_field`'s PEM certificates (our extension, for private CAs), else True (the system's trust store)."""
        if self.boolean(insecure_field):
            return False
        pem = self.string(ca_field)
        if not pem:
            return True
        try:
            return ssl.create_default_context(cadata=pem)
        except (ssl.SSLError, ValueError):
            raise ServiceConfigError(f"{self._where(ca_field)} is not a PEM certificate.") from None


def template_section(notification: Mapping[str, Any], field: str) -> Mapping[str, Any] | None:
    """The template's section for one service type (`slack`, `email`, ...), None when the template has none."""
    value = lookup(notification, field)
    return value if isinstance(value, Mapping) else None


def text(section: Mapping[str, Any] | None, field: str) -> str:
    """A rendered template string field; absent or null is the empty string, as in the engine's structs."""
    if section is None:
        return ""
    value = lookup(section, field)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def message_of(notification: Mapping[str, Any]) -> str:
    return text(notification, "message")


def secrets_of(values: Iterable[str]) -> tuple[str, ...]:
    """The non-empty secret values, longest first (so redacting one never leaves part of a longer one)."""
    return tuple(sorted({v for v in values if v}, key=len, reverse=True))


def scrub(value: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            value = value.replace(secret, "***")
    return value


def excerpt(body: bytes | str, secrets: Iterable[str], limit: int = 200) -> str:
    """A receiver's answer as a short one-line quote with the service's secrets replaced by ***."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    flat = scrub(" ".join(raw.split()), secrets)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def retryable_status(status: int) -> bool:
    """HTTP 408, 429 and 5xx may succeed later; any other 4xx will not."""
    return status in (408, 429) or status >= 500


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def status_error(what: str, status: int, detail: str, headers: Mapping[str, str] | None = None) -> SendError:
    """The SendError for an HTTP answer that is not a success; `detail` must already be scrubbed."""
    wait = retry_after(headers) if headers is not None else None
    suffix = f" (Retry-After {wait:g} s)" if wait is not None else ""
    quoted = f": {detail}" if detail else ""
    err = SendError(
        f"{what} answered HTTP {status}{quoted}{suffix}.", retryable=retryable_status(status), status=status
    )
    err.retry_after = wait
    return err


def _connect_reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    return (error.strerror or type(error).__name__).split(" [")[0]


@contextlib.asynccontextmanager
async def attempt(what: str, seconds: float) -> AsyncIterator[None]:
    """Bound one attempt by `seconds` and turn transport failures into SendErrors naming `what` (never a
    URL, whose path or query may hold a secret)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise SendError(f"{what} did not answer within {seconds:g} s.", retryable=True) from None
    except aiohttp.ClientConnectorCertificateError:
        raise SendError(
            f"{what} presented a TLS certificate that is not trusted (set insecureSkipVerify, or caCert).",
            retryable=False,
        ) from None
    except aiohttp.ClientConnectorError as exc:
        raise SendError(
            f"{what} could not be reached at {exc.host}:{exc.port} ({_connect_reason(exc.os_error)}).",
            retryable=True,
        ) from None
    except aiohttp.InvalidURL:
        raise SendError(f"{what} has a URL that is not valid.", retryable=False) from None
    except aiohttp.ServerDisconnectedError:
        raise SendError(f"{what} closed the connection before answering.", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise SendError(f"{what} failed ({type(exc).__name__}).", retryable=True) from None


async def http_request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    tls: ssl.SSLContext | bool,
    skip_auto_headers: Iterable[str] = (),
) -> tuple[int, bytes, Mapping[str, str]]:
    """One request; the status, the body and the headers of the answer (the caller classifies them)."""
    async with session.request(
        method, url, headers=dict(headers), data=body, ssl=tls, skip_auto_headers=tuple(skip_auto_headers)
    ) as response:
        return response.status, await response.read(), response.headers


def json_field(raw: str, field: str, kind: type = list) -> Any:
    """A template field holding JSON (Slack attachments, Teams sections, ...), decoded; a SendError that will
    not heal by retrying when it is not JSON of the expected kind (the template must be fixed)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SendError(
            f"The template's {field} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).",
            retryable=False,
        ) from None
    if not isinstance(value, kind):
        noun = "list" if kind is list else "object"
        raise SendError(
            f"The template's {field} must be a JSON {noun}, not {type(value).__name__}.", retryable=False
        )
    return value
