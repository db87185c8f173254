"""SigV4 signing and the AWS credential chain: the AWS documentation's test vector, a verifier written here from
the specification, botocore's signer (when installed), a loopback server that checks what arrives, and STS
(AssumeRole, web identity) in moto's server (when installed)."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests

from analysis.providers.sigv4 import (
    AwsCredentials,
    CredentialChain,
    SigV4Error,
    SigV4Signer,
    canonical_url,
    resolve_region,
    sign_request,
)
from tests.fixtures.prometheus import unused_url

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def reference_signature(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, secret: str, region: str, service: str
) -> str:
    """The signature of a received request, computed from the AWS specification as a server does: the path
    and the query as they arrived, the headers the Authorization header names."""
    match = AUTHORIZATION.match(headers["Authorization"])
    assert match is not None, headers["Authorization"]
    path, _, query = raw_path.partition("?")
    canonical_path = quote(path or "/", safe="/~")
    pairs = sorted(
        (quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
        for k, _, v in (p.partition("=") for p in query.split("&") if p)
    )
    lowered = {k.lower(): v for k, v in headers.items()}
    names = match["signed"].split(";")
    canonical = "\n".join(
        [
            method,
            canonical_path,
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{n}:{' '.join(lowered[n].split())}\n" for n in names),
            match["signed"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    amz_date = lowered["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    text = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def isolated(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment that reaches no real AWS configuration: no shared files, no instance metadata."""
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


# --- signing ---------------------------------------------------------------------------------


def test_the_aws_documentation_vector() -> None:
    """`get-vanilla` of the AWS Signature Version 4 test suite."""
    credentials = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    headers = sign_request(
        "GET",
        "https://example.amazonaws.com/",
        {},
        b"",
        credentials,
        "us-east-1",
        "service",
        datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert headers == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }


CASES = [
    pytest.param(
        "GET",
        "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/api/v1/query?query=sum(rate(x[5m])) by (a)&time=12.5",
        {},
        b"",
        None,
        id="amp-instant-query",
    ),
    pytest.param(
        "GET",
        "http://127.0.0.1:8080/a%20b/./c/../d/?b=2&a=1&a=0&e=",
        {"X-Amz-Target": "Service.Op"},
        b"",
        "session-token",
        id="path-dots-repeated-keys-session-token",
    ),
    pytest.param(
        "POST",
        "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-2/api/v1/query_range",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"query=up+%2B+1&start=1&end=2&step=15",
        None,
        id="post-form",
    ),
    pytest.param("GET", "https://h:8443/api/v1/query?query=up%2B1", {}, b"", None, id="port-and-plus"),
]


@pytest.mark.parametrize(("method", "url", "headers", "body", "token"), CASES)
def test_same_signature_as_botocore(
    method: str, url: str, headers: dict[str, str], body: bytes, token: str | None
) -> None:
    auth = pytest.importorskip("botocore.auth")
    awsrequest = pytest.importorskip("botocore.awsrequest")
    botocredentials = pytest.importorskip("botocore.credentials")
    target = canonical_url(url)
    request = awsrequest.AWSRequest(method=method, url=target, data=body, headers=dict(headers))
    auth.SigV4Auth(botocredentials.Credentials("AKID", "SECRET", token), "aps", "us-west-2").add_auth(request)
    now = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    ours = sign_request(
        method, target, headers, body, AwsCredentials("AKID", "SECRET", token), "us-west-2", "aps", now
    )
    assert ours["Authorization"] == request.headers["Authorization"]
    if token:
        assert ours["X-Amz-Security-Token"] == token == request.headers["X-Amz-Security-Token"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://h/q?query=sum(x) by (a)", "https://h/q?query=sum%28x%29%20by%20%28a%29", id="reserved"
        ),
        pytest.param("https://h/q?b=2&a=1", "https://h/q?a=1&b=2", id="sorted"),
        pytest.param("https://h/q?query=a+b", "https://h/q?query=a%20b", id="plus-is-space"),
        pytest.param("https://h/q", "https://h/q", id="no-query"),
        pytest.param("https://h/q?x=%7E-_.", "https://h/q?x=~-_.", id="unreserved"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


Seen = list[tuple[str, str, dict[str, str], bytes]]


@pytest.fixture
def checking_server() -> Iterator[tuple[str, Seen]]:
    """A loopback server that records each request as it arrived (raw path, headers, body)."""
    seen: Seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen.append((self.command, self.path, dict(self.headers.items()), body))
            payload = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("method", "path", "body", "token"),
    [
        pytest.param(
            "GET",
            "/workspaces/ws-1/api/v1/query?query=sum(rate(http_requests_total[5m])) by (code)",
            b"",
            None,
            id="get",
        ),
        pytest.param(
            "GET",
            "/workspaces/ws-1/api/v1/query?query=up&time=1700000000.5",
            b"",
            "tok/en+=",
            id="session-token",
        ),
        pytest.param("POST", "/workspaces/ws-1/api/v1/query", b"query=up&time=1", None, id="post"),
    ],
)
def test_what_arrives_verifies(
    checking_server: tuple[str, Seen], tmp_path: Path, method: str, path: str, body: bytes, token: str | None
) -> None:
    base, seen = checking_server
    environ = isolated(tmp_path, AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="s3cr3t/KEY+value")
    if token:
        environ["AWS_SESSION_TOKEN"] = token
    signer = SigV4Signer(region="us-west-2", environ=environ)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    url, added = signer.prepare(method, base + path, headers, body)
    response = requests.request(method, url, data=body or None, headers={**headers, **added}, timeout=10)
    assert response.status_code == 200
    (got_method, raw_path, got_headers, got_body) = seen[-1]
    match = AUTHORIZATION.match(got_headers["Authorization"])
    assert match is not None
    assert (match["key"], match["region"], match["service"]) == ("AKIAEXAMPLE", "us-west-2", "aps")
    assert match["date"] == got_headers["X-Amz-Date"][:8]
    assert re.fullmatch(r"\d{8}T\d{6}Z", got_headers["X-Amz-Date"])
    signed = match["signed"].split(";")
    assert {"host", "x-amz-date"} <= set(signed)
    if token:
        assert got_headers["X-Amz-Security-Token"] == token
        assert "x-amz-security-token" in signed
    else:
        assert "X-Amz-Security-Token" not in got_headers
    expected = reference_signature(
        got_method, raw_path, got_headers, got_body, "s3cr3t/KEY+value", "us-west-2", "aps"
    )
    assert match["signature"] == expected


def test_a_changed_query_no_longer_verifies(checking_server: tuple[str, Seen], tmp_path: Path) -> None:
    base, seen = checking_server
    environ = isolated(tmp_path, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="SECRET")
    url, added = SigV4Signer(region="us-east-1", environ=environ).prepare("GET", base + "/q?query=up")
    requests.get(url.replace("query=up", "query=down"), headers=added, timeout=10)
    _, raw_path, got_headers, body = seen[-1]
    match = AUTHORIZATION.match(got_headers["Authorization"])
    assert match is not None
    assert match["signature"] != reference_signature(
        "GET", raw_path, got_headers, body, "SECRET", "us-east-1", "aps"
    )


# --- region and credentials ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "env", "config", "expected"),
    [
        pytest.param("eu-west-3", {"AWS_REGION": "us-east-1"}, "", "eu-west-3", id="metric-wins"),
        pytest.param(
            None, {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "x"}, "", "us-east-2", id="AWS_REGION"
        ),
        pytest.param(None, {"AWS_DEFAULT_REGION": "ap-south-1"}, "", "ap-south-1", id="AWS_DEFAULT_REGION"),
        pytest.param(None, {}, "[default]\nregion = sa-east-1\n", "sa-east-1", id="config-file"),
        pytest.param(
            None, {"AWS_PROFILE": "p"}, "[profile p]\nregion = ca-central-1\n", "ca-central-1", id="profile"
        ),
        pytest.param(None, {}, "", None, id="none"),
    ],
)
def test_region(
    tmp_path: Path, explicit: str | None, env: dict[str, str], config: str, expected: str | None
) -> None:
    (tmp_path / "config").write_text(config)
    assert resolve_region(isolated(tmp_path, **env), explicit) == expected


def test_no_region_is_argos_sentence(tmp_path: Path) -> None:
    signer = SigV4Signer(environ=isolated(tmp_path, AWS_ACCESS_KEY_ID="A", AWS_SECRET_ACCESS_KEY="S"))
    with pytest.raises(SigV4Error, match=r"^region not configured in sigv4 or in default credentials chain$"):
        signer.sign("GET", "https://aps-workspaces.us-east-1.amazonaws.com/")


def test_no_credentials_names_the_sources_tried(tmp_path: Path) -> None:
    signer = SigV4Signer(region="us-east-1", environ=isolated(tmp_path))
    with pytest.raises(SigV4Error) as caught:
        signer.sign("GET", "https://aps-workspaces.us-east-1.amazonaws.com/")
    message = str(caught.value)
    assert message.startswith("could not get SigV4 credentials: no AWS credentials found")
    for source in ("AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "'default'", "EC2 instance role"):
        assert source in message


@pytest.mark.parametrize(
    ("env", "files", "expected"),
    [
        pytest.param(
            {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"},
            {"credentials": "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = f\n"},
            ("AKENV", "t", "environment"),
            id="environment-before-files",
        ),
        pytest.param(
            {},
            {"credentials": "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = f\n"},
            ("AKFILE", None, "profile default"),
            id="default-profile",
        ),
        pytest.param(
            {"AWS_PROFILE": "ci"},
            {
                "credentials": "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = d\n"
                "[ci]\naws_access_key_id = AKCI\naws_secret_access_key = c\naws_session_token = tok\n"
            },
            ("AKCI", "tok", "profile ci"),
            id="AWS_PROFILE",
        ),
        pytest.param(
            {},
            {"config": "[default]\naws_access_key_id = AKCONF\naws_secret_access_key = c\n"},
            ("AKCONF", None, "profile default"),
            id="keys-in-the-config-file",
        ),
    ],
)
def test_chain_order(
    tmp_path: Path, env: dict[str, str], files: dict[str, str], expected: tuple[Any, ...]
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = CredentialChain(isolated(tmp_path, **env)).resolve(5)
    assert (found.access_key, found.token, found.source) == expected


def test_an_explicit_profile_comes_before_the_environment(tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text("[amp]\naws_access_key_id = AKAMP\naws_secret_access_key = a\n")
    environ = isolated(tmp_path, AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="e")
    signer = SigV4Signer(region="us-east-1", profile="amp", environ=environ)
    assert signer.credentials().access_key == "AKAMP"
    assert "Credential=AKAMP/" in signer.sign("GET", "https://h/")["Authorization"]


@pytest.mark.parametrize(
    ("credentials_file", "message"),
    [
        pytest.param("", "the AWS profile 'amp' is in neither", id="missing"),
        pytest.param("[amp]\nregion = x\n", "the AWS profile 'amp' has no credentials", id="no-keys"),
        pytest.param(
            "[amp]\ncredential_process = /bin/true\n",
            "the AWS profile 'amp' uses credential_process",
            id="process",
        ),
    ],
)
def test_an_unusable_explicit_profile(tmp_path: Path, credentials_file: str, message: str) -> None:
    (tmp_path / "credentials").write_text(credentials_file)
    signer = SigV4Signer(region="us-east-1", profile="amp", environ=isolated(tmp_path))
    with pytest.raises(SigV4Error, match="^could not get SigV4 credentials: " + re.escape(message)):
        signer.credentials()


@pytest.fixture
def container_endpoint() -> Iterator[tuple[str, list[dict[str, str]], dict[str, Any]]]:
    """A container credentials endpoint (ECS, EKS Pod Identity) on loopback; `answer` sets what it returns."""
    asked: list[dict[str, str]] = []
    answer: dict[str, Any] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(dict(self.headers.items()))
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/creds", asked, answer
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("expires_in", "fetches"),
    [
        pytest.param(timedelta(hours=1), 1, id="cached"),
        pytest.param(timedelta(minutes=2), 3, id="about-to-expire"),
    ],
)
def test_container_credentials_cached_until_near_expiry(
    tmp_path: Path,
    container_endpoint: tuple[str, list[dict[str, str]], dict[str, Any]],
    expires_in: timedelta,
    fetches: int,
) -> None:
    url, asked, answer = container_endpoint
    expiration = (datetime.now(UTC) + expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer.update(AccessKeyId="ASIACONTAINER", SecretAccessKey="cs", Token="ctok", Expiration=expiration)
    (tmp_path / "token").write_text("pod-identity-token\n")
    environ = isolated(
        tmp_path,
        AWS_CONTAINER_CREDENTIALS_FULL_URI=url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(tmp_path / "token"),
    )
    signer = SigV4Signer(region="us-east-1", environ=environ)
    for _ in range(3):
        headers = signer.sign("GET", "https://aps-workspaces.us-east-1.amazonaws.com/")
        assert headers["X-Amz-Security-Token"] == "ctok"
        assert "Credential=ASIACONTAINER/" in headers["Authorization"]
    assert len(asked) == fetches
    assert asked[0]["Authorization"] == "pod-identity-token"


# --- STS in moto's server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


ROLE = "arn:aws:iam::123456789012:role/amp-query"


def test_role_arn_assumes_the_role(tmp_path: Path, moto_endpoint: str) -> None:
    environ = isolated(
        tmp_path,
        AWS_ACCESS_KEY_ID="AKIABASE",
        AWS_SECRET_ACCESS_KEY="base",
        AWS_ENDPOINT_URL_STS=moto_endpoint,
    )
    signer = SigV4Signer(region="us-east-1", role_arn=ROLE, environ=environ)
    credentials = signer.credentials()
    assert credentials.access_key != "AKIABASE"
    assert credentials.token
    assert credentials.expires is not None and credentials.expires > datetime.now(UTC)
    assert credentials.source == f"role {ROLE}"
    headers = signer.sign(
        "GET", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws/api/v1/query?query=up"
    )
    assert f"Credential={credentials.access_key}/" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == credentials.token
    assert signer.credentials() is credentials  # cached


def test_web_identity_from_the_environment(tmp_path: Path, moto_endpoint: str) -> None:
    (tmp_path / "token").write_text("eyJhbGciOi.irsa.token")
    environ = isolated(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "token"),
        AWS_ROLE_ARN=ROLE,
        AWS_ENDPOINT_URL_STS=moto_endpoint,
    )
    found = CredentialChain(environ).resolve(10, "us-east-1")
    assert found.token and found.access_key
    assert found.source == f"web identity token ({ROLE})"


def test_profile_with_source_profile_assumes_its_role(tmp_path: Path, moto_endpoint: str) -> None:
    (tmp_path / "credentials").write_text("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = b\n")
    (tmp_path / "config").write_text(
        f"[profile amp]\nrole_arn = {ROLE}\nsource_profile = base\nregion = us-east-1\n"
    )
    signer = SigV4Signer(profile="amp", environ=isolated(tmp_path, AWS_ENDPOINT_URL_STS=moto_endpoint))
    assert signer.region == "us-east-1"
    assert signer.credentials().source == f"role {ROLE}"


def test_an_unreachable_sts_is_named_without_the_keys(tmp_path: Path) -> None:
    secret = "do-not-show-this-secret"
    environ = isolated(
        tmp_path,
        AWS_ACCESS_KEY_ID="AKIABASE",
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_ENDPOINT_URL_STS=unused_url(),
    )
    signer = SigV4Signer(region="us-east-1", role_arn=ROLE, environ=environ)
    with pytest.raises(SigV4Error) as caught:
        signer.sign("GET", "https://h/")
    message = str(caught.value)
    assert message.startswith(f"could not get SigV4 credentials: STS AssumeRole of {ROLE} failed: ")
    assert "Connection refused" in message
    assert secret not in message and "AKIABASE" not in message


def test_a_refused_assume_role_says_sts_words(tmp_path: Path, checking_server: tuple[str, Seen]) -> None:
    """An STS error answer: its Code and Message, and the request was signed for sts."""
    base, seen = checking_server

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(("POST", self.path, dict(self.headers.items()), self.rfile.read(length)))
            payload = (
                b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                b"<Code>AccessDenied</Code><Message>not authorized to perform: sts:AssumeRole</Message></Error>"
                b"<RequestId>r-1</RequestId></ErrorResponse>"
            )
            self.send_response(403)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        environ = isolated(
            tmp_path,
            AWS_ACCESS_KEY_ID="AKIABASE",
            AWS_SECRET_ACCESS_KEY="b",
            AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{server.server_address[1]}",
        )
        with pytest.raises(SigV4Error) as caught:
            SigV4Signer(region="eu-west-1", role_arn=ROLE, environ=environ).credentials()
    finally:
        server.shutdown()
        server.server_close()
    assert str(caught.value) == (
        f"could not get SigV4 credentials: STS AssumeRole of {ROLE} failed: StatusCode: 403, "
        "AccessDenied: not authorized to perform: sts:AssumeRole"
    )
    _, raw_path, headers, body = seen[-1]
    match = AUTHORIZATION.match(headers["Authorization"])
    assert match is not None and (match["region"], match["service"]) == ("eu-west-1", "sts")
    assert match["signature"] == reference_signature("POST", raw_path, headers, body, "b", "eu-west-1", "sts")
    assert b"Action=AssumeRole" in body and b"DurationSeconds=900" in body
    assert urlsplit(base).hostname == "127.0.0.1"
