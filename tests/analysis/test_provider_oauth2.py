"""Prometheus `authentication.oauth2`: client credentials fetched, cached and refreshed as Argo's Go client does.

A loopback token endpoint records every token request; a loopback proxy in front of a real Prometheus records
the Authorization header each query arrives with. Argo builds the client with golang.org/x/oauth2's
`clientcredentials` (metricproviders/prometheus/prometheus.go); the exact request checked here is that
library's (internal/token.go: `newTokenRequest`, `RetrieveToken`; token.go: expiry delta 10 s).
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from analysis.args import dict_secret_resolver
from analysis.models import AnalysisPhase, AnalysisRun, Metric
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.registry import ProviderOptions, Providers
from analysis.runner import reconcile_run
from tests.fixtures.prometheus import PER_REQUEST, PrometheusServer, unused_url

pytestmark = pytest.mark.prometheus

QUERY = 'sum(rate(http_requests_total{service="api-server-canary",status=~"2.."}[5m])) / sum(rate(http_requests_total{service="api-server-canary"}[5m]))'


@dataclass
class TokenEndpoint:
    """What the token endpoint answers (`mode`) and what it was asked (method, path, headers, form body)."""

    mode: str = "ok"  # ok | basic-refused | error | form
    expires_in: int = 3600
    requests: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def token_endpoint() -> Iterator[Callable[[TokenEndpoint], str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(endpoint: TokenEndpoint) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                endpoint.requests.append((self.command, self.path, dict(self.headers.items()), body))
                number = len(endpoint.requests)
                if endpoint.mode == "error":
                    self.answer(400, {"error": "invalid_client", "error_description": "bad secret"})
                elif endpoint.mode == "basic-refused" and "Authorization" in self.headers:
                    self.answer(401, {"error": "invalid_client"})
                elif endpoint.mode == "form":
                    text = f"access_token=form-{number}&token_type=bearer&expires_in={endpoint.expires_in}"
                    self.answer(200, text, "text/plain")
                else:
                    token = {"access_token": f"tok-{number}", "token_type": "bearer"}
                    self.answer(200, {**token, "expires_in": endpoint.expires_in})

            def answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server, url = serve(Handler)
        servers.append(server)
        return url + "/oauth/token"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recording_proxy(prometheus: PrometheusServer) -> Iterator[tuple[str, list[str]]]:
    """A proxy in front of the real Prometheus: (its URL, the Authorization header of every query)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization") or "")
            with urllib.request.urlopen(prometheus.url + self.path, timeout=10) as upstream:
                data = upstream.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server, url = serve(Handler)
    yield url, seen
    server.shutdown()
    server.server_close()


def oauth_metric(address: str, token_url: str, **oauth: Any) -> Metric:
    config = {"tokenUrl": token_url, "clientId": "my client", "clientSecret": "s3cr/t+&=", **oauth}
    return Metric.model_validate(
        {
            "name": "m",
            "provider": {
                "prometheus": {"address": address, "query": QUERY, "authentication": {"oauth2": config}}
            },
        }
    )


@pytest.fixture
async def provider() -> Any:
    p = PrometheusProvider(environ={}, governance=PER_REQUEST)
    yield p
    p.close()


async def test_token_request_and_bearer_header(
    provider: PrometheusProvider,
    token_endpoint: Callable[[TokenEndpoint], str],
    recording_proxy: tuple[str, list[str]],
) -> None:
    endpoint = TokenEndpoint()
    proxy, seen = recording_proxy
    metric = oauth_metric(proxy, token_endpoint(endpoint), scopes=["read", "write metrics"])
    for _ in range(3):
        m = await provider.measure(metric)
        assert (m.phase, m.value) == (None, "[0.995]"), m
    assert len(endpoint.requests) == 1  # cached until expiry
    method, path, headers, body = endpoint.requests[0]
    assert (method, path) == ("POST", "/oauth/token")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    # url.Values.Encode: keys sorted, values query-escaped; the scopes joined by one space
    assert body == "grant_type=client_credentials&scope=read+write+metrics"
    # AuthStyleInHeader first, id and secret each url.QueryEscape'd
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"my+client:s3cr%2Ft%2B%26%3D").decode()
    assert seen == ["Bearer tok-1"] * 3


async def test_no_scope_means_no_scope_field(
    provider: PrometheusProvider,
    token_endpoint: Callable[[TokenEndpoint], str],
    recording_proxy: tuple[str, list[str]],
) -> None:
    endpoint = TokenEndpoint()
    m = await provider.measure(oauth_metric(recording_proxy[0], token_endpoint(endpoint)))
    assert m.value == "[0.995]"
    assert endpoint.requests[0][3] == "grant_type=client_credentials"


async def test_an_expiring_token_is_fetched_again(
    provider: PrometheusProvider,
    token_endpoint: Callable[[TokenEndpoint], str],
    recording_proxy: tuple[str, list[str]],
) -> None:
    """A token is used until 10 s before it expires (Go's expiryDelta): one for 10 s is never reused."""
    endpoint = TokenEndpoint(expires_in=10)
    proxy, seen = recording_proxy
    metric = oauth_metric(proxy, token_endpoint(endpoint))
    for _ in range(2):
        assert (await provider.measure(metric)).value == "[0.995]"
    assert len(endpoint.requests) == 2
    assert seen == ["Bearer tok-1", "Bearer tok-2"]


async def test_credentials_move_to_the_form_when_basic_is_refused(
    provider: PrometheusProvider,
    token_endpoint: Callable[[TokenEndpoint], str],
    recording_proxy: tuple[str, list[str]],
) -> None:
    endpoint = TokenEndpoint(mode="basic-refused", expires_in=10)
    proxy, seen = recording_proxy
    metric = oauth_metric(proxy, token_endpoint(endpoint))
    for _ in range(2):
        assert (await provider.measure(metric)).value == "[0.995]"
    # probe: header, then form; the next fetch goes straight to the style that worked
    styles = ["Authorization" in headers for _, _, headers, _ in endpoint.requests]
    assert styles == [True, False, False]
    form = parse_qs(endpoint.requests[1][3])
    assert form == {
        "client_id": ["my client"],
        "client_secret": ["s3cr/t+&="],
        "grant_type": ["client_credentials"],
    }
    assert seen == ["Bearer tok-2", "Bearer tok-3"]


async def test_a_form_encoded_token_answer(
    provider: PrometheusProvider,
    token_endpoint: Callable[[TokenEndpoint], str],
    recording_proxy: tuple[str, list[str]],
) -> None:
    proxy, seen = recording_proxy
    m = await provider.measure(oauth_metric(proxy, token_endpoint(TokenEndpoint(mode="form"))))
    assert m.value == "[0.995]"
    assert seen == ["Bearer form-1"]


async def test_a_refused_token_is_an_error_in_the_librarys_words(
    provider: PrometheusProvider,
    token_endpoint: Callable[[TokenEndpoint], str],
    recording_proxy: tuple[str, list[str]],
) -> None:
    endpoint = TokenEndpoint(mode="error")
    proxy, seen = recording_proxy
    m = await provider.measure(oauth_metric(proxy, token_endpoint(endpoint)))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message == f'prometheus query failed at {proxy}: oauth2: "invalid_client" "bad secret"'
    assert len(endpoint.requests) == 2 and seen == []  # both styles tried, no query sent without a token


async def test_an_unreachable_token_endpoint_is_named(
    provider: PrometheusProvider, prometheus: PrometheusServer
) -> None:
    token_url = f"{unused_url()}/token"
    m = await provider.measure(oauth_metric(prometheus.url, token_url))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message == (
        f"prometheus query failed at {prometheus.url}: oauth2: cannot fetch token from {token_url}: "
        "[Errno 111] Connection refused"
    )


@pytest.mark.parametrize(
    "oauth",
    [
        pytest.param({"clientId": ""}, id="no-client-id"),
        pytest.param({"clientSecret": ""}, id="no-client-secret"),
    ],
)
async def test_missing_credentials_are_argos_config_error(
    provider: PrometheusProvider, oauth: dict[str, str]
) -> None:
    m = await provider.measure(oauth_metric("http://127.0.0.1:1", "http://127.0.0.1:1/token", **oauth))
    assert (m.phase, m.message) == (
        AnalysisPhase.ERROR,
        "missing mandatory parameter in metric for OAuth2 setup",
    )


async def test_the_client_secret_comes_from_a_secret_and_never_shows(
    token_endpoint: Callable[[TokenEndpoint], str], recording_proxy: tuple[str, list[str]]
) -> None:
    endpoint = TokenEndpoint()
    proxy, seen = recording_proxy
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "r", "namespace": "team-a"},
            "spec": {
                "args": [
                    {
                        "name": "secret",
                        "valueFrom": {"secretKeyRef": {"name": "oauth", "key": "clientSecret"}},
                    }
                ],
                "metrics": [
                    {
                        "name": "m",
                        "successCondition": "result[0] >= 0.99",
                        "provider": {
                            "prometheus": {
                                "address": proxy,
                                "query": QUERY,
                                "authentication": {
                                    "oauth2": {
                                        "tokenUrl": token_endpoint(endpoint),
                                        "clientId": "c",
                                        "clientSecret": "{{args.secret}}",
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    async with Providers(ProviderOptions(rate=None, governance=PER_REQUEST)) as providers:
        step = await reconcile_run(
            run,
            providers,
            datetime.now(UTC),
            dict_secret_resolver({"oauth": {"clientSecret": "from-the-secret"}}),
        )
    (result,) = step.status.metric_results or []
    assert result.measurements[0].phase is AnalysisPhase.SUCCESSFUL
    assert (
        endpoint.requests[0][2]["Authorization"] == "Basic " + base64.b64encode(b"c:from-the-secret").decode()
    )
    assert seen == ["Bearer tok-1"]
    assert "from-the-secret" not in json.dumps(step.status.to_wire())
