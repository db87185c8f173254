"""Secrets from `secretKeyRef` never reach a status, in any encoding a backend may echo them back in.

First the rule itself (`analysis.args.redact`) over every encoding, then end to end: a run whose web and
Prometheus metrics send a secret to loopback servers that echo the request back (headers as JSON, the query
in an error body, the Basic credentials), reconciled by the runner; the status written must hold no form of
the secret, while the measurements still say what happened.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest

from analysis.args import dict_secret_resolver
from analysis.models import AnalysisPhase, AnalysisRun
from analysis.providers.registry import ProviderOptions, Providers
from analysis.redaction import REDACTED, redact, secret_forms
from analysis.runner import reconcile_run

SECRET = 'p@ss "w0rd"\\with/slash+plus é'  # quotes, a backslash, a slash, a plus, a space and non-ASCII


def b64(text: str, *, urlsafe: bool = False, padded: bool = True) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    out = encode(text.encode()).decode()
    return out if padded else out.rstrip("=")


ENCODINGS = {
    "raw": SECRET,
    "json-escaped": json.dumps(SECRET)[1:-1],
    "json-ascii-escaped": json.dumps(SECRET, ensure_ascii=True)[1:-1],
    "go-json-html-escaped": json.dumps("<" + SECRET + ">")[1:-1]
    .replace("<", "\\u003c")
    .replace(">", "\\u003e"),
    "url-quote": quote(SECRET),
    "url-quote-no-safe": quote(SECRET, safe=""),
    "url-quote-plus": quote_plus(SECRET),
    "url-query-keeping-@/+": quote_plus(SECRET, safe="@/+"),  # what aiohttp's URL library sends
    "url-lowercase-hex": quote(SECRET, safe="").lower().replace("p%40ss", "p%40ss"),
    "base64": b64(SECRET),
    "base64-unpadded": b64(SECRET, padded=False),
    "base64-urlsafe": b64(SECRET, urlsafe=True),
    "base64-urlsafe-unpadded": b64(SECRET, urlsafe=True, padded=False),
    "basic-auth-offset-0": b64("abc:" + SECRET),  # the password of `Authorization: Basic …`, each alignment
    "basic-auth-offset-1": b64("user:" + SECRET),
    "basic-auth-offset-2": b64("users:" + SECRET),
    "basic-auth-urlsafe": b64("u:" + SECRET, urlsafe=True),
}


@pytest.mark.parametrize("encoded", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_every_encoding_is_redacted(encoded: str) -> None:
    text = f"the backend said: {encoded} (end)"
    out = redact(text, [SECRET])
    assert REDACTED in out
    assert out.startswith("the backend said: ") and out.endswith(" (end)")  # the rest is kept
    for form in ENCODINGS.values():
        assert form not in out
    # what is left of a base64 run cannot be decoded back into the secret
    assert "w0rd" not in out and "slash" not in out


def test_text_without_the_secret_is_unchanged() -> None:
    text = 'result [0.995] from http://prometheus:9090 with "quotes" and \\ backslashes'
    assert redact(text, [SECRET]) == text
    assert redact(text, []) == text
    assert redact(text, [""]) == text


def test_short_secrets_are_redacted_raw_but_not_as_base64_fragments() -> None:
    """A 3-byte secret's base64 run inside a longer blob is 2–4 characters: removing those would shred honest
    text, so only the whole forms are redacted."""
    assert redact("token=abc", ["abc"]) == "token=*****"
    assert all(len(f) >= 3 for f in secret_forms("abc"))


# --- end to end: echoing backends -----------------------------------------------------------------------


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers with what it was sent: headers and query as JSON (200), or in an error body (400 on /api)."""

    def do_GET(self) -> None:
        headers = dict(self.headers.items())
        if self.path.startswith("/api/v1/query"):
            query = unquote(self.path.partition("query=")[2].replace("+", " "))
            body = json.dumps(
                {"status": "error", "errorType": "bad_data", "error": f"cannot parse {query!r}"}
            )
            self._answer(400, body.encode())
        elif self.path.startswith("/text"):
            self._answer(200, f"not json: {headers.get('Authorization')}".encode())
        else:
            self._answer(200, json.dumps({"headers": headers, "path": self.path}).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def secret_run(url: str) -> AnalysisRun:
    def web(name: str, path: str, json_path: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "successCondition": "true",
            "provider": {"web": {"url": url + path, "jsonPath": json_path, **extra}},
        }

    bearer = [{"key": "Authorization", "value": "Bearer {{args.token}}"}]
    return AnalysisRun.model_validate(
        {
            "metadata": {"name": "r", "namespace": "team-a"},
            "spec": {
                "args": [
                    {"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                    {"name": "password", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                ],
                "metrics": [
                    web(
                        "echoed-header", "/echo?t={{args.token}}", "{$.headers.Authorization}", headers=bearer
                    ),
                    web("echoed-everything", "/echo?t={{args.token}}", "{$}", headers=bearer),
                    web("echoed-in-error", "/text", "{$}", headers=bearer),
                    web("url-encoded-in-value", "/echo?t={{args.token}}", "{$.path}"),
                    {
                        "name": "prometheus-error-body",
                        "successCondition": "true",
                        "provider": {
                            "prometheus": {
                                "address": url,
                                "query": 'up{token="{{args.token}}"}',
                                "authentication": {
                                    "basicAuth": {"username": "user", "password": "{{args.password}}"}
                                },
                            }
                        },
                    },
                ],
            },
        }
    )


async def test_a_run_echoed_by_its_backends_keeps_no_secret(echo_url: str) -> None:
    token, password = SECRET, "another-s3cret-value"
    resolver = dict_secret_resolver({"creds": {"token": token, "password": password}})
    async with Providers(ProviderOptions(rate=None)) as providers:
        step = await reconcile_run(secret_run(echo_url), providers, datetime.now(UTC), resolver)
    wire = json.dumps(step.status.to_wire(), ensure_ascii=False)
    for secret in (token, password):
        for form in [*secret_forms(secret), json.dumps(secret)[1:-1]]:
            assert form not in wire, f"{form!r} of a secret is in the status"
    results = {r.name: r.measurements[-1] for r in step.status.metric_results or []}
    # The measurements still say what happened, with the secret blanked out.
    assert results["echoed-header"].phase is AnalysisPhase.SUCCESSFUL
    assert results["echoed-header"].value == f"Bearer {REDACTED}"
    assert REDACTED in (results["echoed-everything"].value or "")
    assert results["echoed-in-error"].phase is AnalysisPhase.ERROR
    assert "Could not parse JSON body" in (results["echoed-in-error"].message or "")
    assert REDACTED in (results["echoed-in-error"].message or "")
    assert results["url-encoded-in-value"].value == f"/echo?t={REDACTED}"
    prometheus = results["prometheus-error-body"]
    assert prometheus.phase is AnalysisPhase.ERROR and (prometheus.message or "").startswith(
        "bad_data: cannot parse"
    )
    assert REDACTED in (prometheus.message or "")
