"""What the HTTP metric providers share (Datadog, New Relic, Graphite, InfluxDB, Wavefront): an aiohttp session
whose every request is admitted by the shared caps under one deadline (`HttpVendorProvider.exchange`), the answer
read up to the size cap, and the sentences and scrubbing of their messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from yarl import URL

from analysis.models import Measurement
from analysis.providers.base import PooledSession
from analysis.providers.credentials import Credentials
from analysis.providers.throttling import LimiterRegistry
from analysis.providers.web import _MAX_BODY, _read_body
from analysis.redaction import redact

__all__ = [
    "MAX_BODY",
    "Answer",
    "ExchangeFailed",
    "HttpVendorProvider",
    "display_address",
    "excerpt",
    "retry_note",
    "scrub",
]

MAX_BODY = _MAX_BODY


@dataclass(frozen=True)
class Answer:
    """A backend's HTTP answer: status, reason phrase, headers, and the body up to the size cap."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def too_large(self) -> bool:
        return len(self.body) > MAX_BODY

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class ExchangeFailed(Exception):
    """No answer: refused by a cap, timed out, or the connection failed. The message is the measurement's."""


class HttpVendorProvider(PooledSession):
    """One aiohttp session (at most `connections` sockets); every request admitted by the shared `limiters`
    and bounded, admission included, by one deadline."""

    def __init__(self, *, limiters: LimiterRegistry, credentials: Credentials, connections: int = 8) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self.limiters = limiters
        self.credentials = credentials
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def exchange(
        self,
        method: str,
        url: URL,
        *,
        address: str,
        headers: Mapping[str, str],
        data: bytes | None,
        seconds: float,
        label: str,
        shown: str | None = None,
    ) -> Answer:
        """One request to `url` (admitted as `address`) within `seconds`, admission included; raises
        `ExchangeFailed` when there is no answer. `shown`: how messages name the target (default: the URL
        without its query)."""
        timeout = seconds
        admission = self.limiters.admit(address)
        if shown is None:
            shown = f"{url.scheme}://{url.raw_authority}{url.raw_path}"
        try:
            async with (
                asyncio.timeout(timeout),
                admission,
                self._client().request(
                    method,
                    url,
                    headers=dict(headers),
                    data=data,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response,
            ):
                body = await _read_body(response.content)
                return Answer(response.status, response.reason or "", response.headers, body)
        except TimeoutError:
            if admission.waiting_for is not None:
                self.limiters.observe("refused", admission.waiting_for, admission.tenant)
                raise ExchangeFailed(admission.describe_refusal(timeout)) from None
            raise ExchangeFailed(f"{label} request to {shown} timed out after {timeout:g}s") from None
        except aiohttp.ClientError as e:
            raise ExchangeFailed(f"{label} request to {shown} failed: {str(e) or type(e).__name__}") from None
        except Exception as e:  # a library bug must not take the run down
            raise ExchangeFailed(f"{label} request to {shown} failed: {type(e).__name__}: {e}") from None


def excerpt(text: str, limit: int = 300) -> str:
    """At most `limit` characters of `text` on one line, with ``…`` when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def retry_note(answer: Answer) -> str:
    """`` (Retry-After: 30)`` when the answer says when to come back (429, 503), else ''."""
    after = answer.headers.get("Retry-After")
    return f" (Retry-After: {excerpt(after, 64)})" if after else ""


def display_address(address: str) -> str:
    """`address` without the password of its user part, for messages."""
    parts = urlsplit(address)
    if parts.password is None:
        return address
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:*****@{host}", parts.path, parts.query, parts.fragment))


def scrub(measurement: Measurement, secrets: Sequence[str]) -> Measurement:
    """`measurement` with every form of each secret removed from its message, value, metadata and the
    strings of its result (a backend may echo a key back in an error body or a facet name)."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return measurement
    update: dict[str, Any] = {}
    if measurement.message:
        update["message"] = redact(measurement.message, secrets)
    if measurement.value:
        update["value"] = redact(measurement.value, secrets)
    if measurement.metadata:
        update["metadata"] = {k: redact(v, secrets) for k, v in measurement.metadata.items()}
    if not update:
        return measurement
    scrubbed = measurement.model_copy(update=update)
    if measurement.has_result:
        scrubbed.with_result(_scrub_value(measurement.result, secrets))
    return scrubbed


def _scrub_value(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_scrub_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), secrets): _scrub_value(v, secrets) for k, v in value.items()}
    return value
