"""OAuth2 client credentials for the Prometheus provider (`authentication.oauth2`), as Argo fetches them.

Sits inside the Prometheus provider's HTTP leg: a `TokenSource` belongs to one connection (one metric
configuration) and is asked for a token by the query thread right before each query. Argo's provider builds a
`golang.org/x/oauth2/clientcredentials` client (metricproviders/prometheus/prometheus.go); this follows that
library exactly, so a token endpoint that works with Argo works here:

* the token request is ``POST tokenUrl`` with ``Content-Type: application/x-www-form-urlencoded`` and the form
  ``grant_type=client_credentials`` plus ``scope`` = the scopes joined by one space (omitted when there are
  none), keys sorted as Go's ``url.Values.Encode`` sorts them;
* the client is authenticated first with HTTP Basic (client id and secret each query-escaped), and when that
  attempt fails, once more with ``client_id``/``client_secret`` in the form; the style that worked is kept;
* the answer is JSON, or a query string when the endpoint says ``application/x-www-form-urlencoded`` or
  ``text/plain``; a non-2xx answer or an ``error`` field fails with the library's wording
  (``oauth2: "invalid_client" "bad secret"``), a missing ``access_token`` too;
* the token is kept until 10 s before ``expires_in`` runs out (forever without ``expires_in``), then fetched
  again; the query carries ``Authorization: <token_type> <access_token>``, the type normalised as Go's
  ``Token.Type`` does (``bearer`` → ``Bearer``; empty → ``Bearer``).

The metric's `headers` also go on the token request, as Argo's round tripper sets them on every request of the
client. The token request runs under the query's `SocketDeadline` (it uses the same guarded session), so a
slow token endpoint is stopped by the measurement's timeout like a slow Prometheus.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode

import requests

from analysis.providers.base import short_cause

__all__ = ["EXPIRY_DELTA_SECONDS", "OAuth2Config", "TokenError", "TokenSource", "token_type"]

EXPIRY_DELTA_SECONDS = 10.0  # golang.org/x/oauth2 token.go: defaultExpiryDelta
_MAX_TOKEN_BODY = 1 << 20  # what the Go library reads of a token answer


class TokenError(Exception):
    """No token: the message is the Go library's (``oauth2: …``)."""


@dataclass(frozen=True)
class OAuth2Config:
    """`authentication.oauth2` with its values resolved (hashable: it identifies the connection)."""

    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()


def token_type(kind: str) -> str:
    """The scheme of the Authorization header for a `token_type` (Go's `Token.Type`).

    >>> [token_type(t) for t in ("", "bearer", "MAC", "basic", "DPoP")]
    ['Bearer', 'Bearer', 'MAC', 'Basic', 'DPoP']
    """
    lowered = kind.lower()
    if lowered in ("", "bearer"):
        return "Bearer"
    if lowered == "mac":
        return "MAC"
    if lowered == "basic":
        return "Basic"
    return kind


@dataclass(frozen=True)
class _Token:
    authorization: str
    expires: float | None  # time.monotonic() instant, None: never


class TokenSource:
    """Fetches, caches and refreshes one client's token; used from query threads (thread-safe)."""

    def __init__(self, config: OAuth2Config, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.config = config
        self.headers = tuple(headers)
        self._token: _Token | None = None
        self._in_params: bool | None = None  # the client authentication style that worked (None: probe)
        self._lock = threading.Lock()
        self.fetches = 0  # token requests that returned a token (for tests and benchmarks)

    def authorization(self, session: requests.Session, timeout: float, **settings: Any) -> str:
        """The Authorization header value, from the cache or from a new token request."""
        token = self._token
        if token is not None and _valid(token):
            return token.authorization
        if not self._lock.acquire(timeout=timeout):
            raise TokenError("oauth2: cannot fetch token: timed out waiting for another token request")
        try:
            token = self._token
            if token is None or not _valid(token):
                token = self._token = self._fetch(session, timeout, settings)
            return token.authorization
        finally:
            self._lock.release()

    def _fetch(self, session: requests.Session, timeout: float, settings: dict[str, Any]) -> _Token:
        if self._in_params is not None:
            return self._request(session, timeout, settings, in_params=self._in_params)
        try:
            token = self._request(session, timeout, settings, in_params=False)
            in_params = False
        except (TokenError, requests.RequestException):
            # The library's auto-detection: a server that refuses Basic may want the credentials in the form.
            token = self._request(session, timeout, settings, in_params=True)
            in_params = True
        self._in_params = in_params
        return token

    def _request(
        self, session: requests.Session, timeout: float, settings: dict[str, Any], *, in_params: bool
    ) -> _Token:
        config = self.config
        form = {"grant_type": "client_credentials"}
        if config.scopes:
            form["scope"] = " ".join(config.scopes)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if in_params:
            if config.client_id:
                form["client_id"] = config.client_id
            if config.client_secret:
                form["client_secret"] = config.client_secret
        else:
            pair = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        for key, value in self.headers:  # Argo's header round tripper runs on the token request too
            headers[key] = value
        body = urlencode(sorted(form.items()))
        settings = {**settings, "stream": True}
        try:
            response = session.post(config.token_url, data=body, headers=headers, timeout=timeout, **settings)
            try:
                raw = response.raw.read(_MAX_TOKEN_BODY, decode_content=True) or b""
            finally:
                response.close()
        except (requests.RequestException, OSError, ValueError) as e:
            # Go names the token endpoint in the error (`Post "<tokenUrl>": dial tcp …`): so do we, rather
            # than let it read as a failure of the Prometheus address.
            raise TokenError(
                f"oauth2: cannot fetch token from {config.token_url}: {short_cause(e)}"
            ) from None
        token = _parse(response, raw)
        self.fetches += 1
        return token


def _valid(token: _Token) -> bool:
    return token.expires is None or token.expires - EXPIRY_DELTA_SECONDS > time.monotonic()


def _parse(response: requests.Response, raw: bytes) -> _Token:
    """The token of an answer, or `TokenError` worded as golang.org/x/oauth2 internal/token.go words it."""
    failed = not 200 <= response.status_code <= 299
    content = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    text = raw.decode("utf-8", "replace")
    fields: dict[str, Any]
    if content in ("application/x-www-form-urlencoded", "text/plain"):
        fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    else:
        try:
            decoded = json.loads(text)
        except ValueError as e:
            if failed:
                raise TokenError(_cannot_fetch(response, text)) from None
            raise TokenError(f"oauth2: cannot parse json: {e}") from None
        fields = decoded if isinstance(decoded, dict) else {}
    code = str(fields.get("error") or "")
    if code:
        message = f"oauth2: {json.dumps(code)}"
        for extra in ("error_description", "error_uri"):
            if fields.get(extra):
                message += f" {json.dumps(str(fields[extra]))}"
        raise TokenError(message)
    if failed:
        raise TokenError(_cannot_fetch(response, text))
    access = str(fields.get("access_token") or "")
    if not access:
        raise TokenError("oauth2: server response missing access_token")
    try:
        expires_in = int(fields.get("expires_in") or 0)
    except (TypeError, ValueError):
        expires_in = 0
    expires = time.monotonic() + expires_in if expires_in else None
    return _Token(f"{token_type(str(fields.get('token_type') or ''))} {access}", expires)


def _cannot_fetch(response: requests.Response, text: str) -> str:
    status = f"{response.status_code} {response.reason or ''}".strip()
    excerpt = " ".join(text.split())
    if len(excerpt) > 300:
        excerpt = excerpt[:300] + "…"
    return f"oauth2: cannot fetch token: {status} Response: {excerpt}"
