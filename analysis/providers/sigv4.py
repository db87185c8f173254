"""AWS Signature Version 4: request signing and the AWS credential chain, without the AWS SDK.

Used by the Prometheus provider for Amazon Managed Prometheus (`authentication.sigv4` {region, profile,
roleArn}, service ``aps``) and by the CloudWatch provider (service ``monitoring``). It follows what Argo's
`metricproviders/prometheus` gets from prometheus/common's `sigv4.NewSigV4RoundTripper`:

* credentials from the default chain, in the AWS SDK's order: an explicit `profile` first (the shared
  credentials and config files), else the environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
  ``AWS_SESSION_TOKEN``), else a web identity token (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``, EKS
  IRSA), else the ``AWS_PROFILE`` (or ``default``) profile of the shared files, else the container
  credentials endpoint (ECS, EKS Pod Identity), else the EC2 instance metadata service (IMDSv2);
* `roleArn` set: the credentials of the chain assume that role (STS ``AssumeRole``, a session of 15
  minutes, named by the current time in nanoseconds, as Go's `stscreds` does);
* the region from `region`, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, else the profile's ``region``; none:
  ``region not configured in sigv4 or in default credentials chain``;
* no credentials: ``could not get SigV4 credentials: …`` naming each source tried (never a key's value).

Signing is pure (`sign_request`: the canonical request, the string to sign and the derived key of the AWS
documentation); fetching credentials is synchronous (files, STS, the metadata endpoints through urllib) and
meant to run in the caller's worker thread, bounded by the `timeout` it is given. Credentials that expire are
refreshed five minutes before they do; `SigV4Signer` is thread-safe.

Signed headers: ``host``, ``x-amz-date``, ``x-amz-security-token`` (temporary credentials), and the request's
own ``content-type`` and ``x-amz-*`` headers. Headers an HTTP library or a proxy may change on the way
(``user-agent``, ``accept-encoding``, ``connection``) are left out of the signature, as are Argo's denied
``uber-trace-id`` and the SDK's ignored ``authorization``/``user-agent``/``x-amzn-trace-id``.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from analysis.providers.base import short_cause

__all__ = [
    "ALGORITHM",
    "AwsCredentials",
    "CredentialChain",
    "SigV4Error",
    "SigV4Signer",
    "canonical_url",
    "derive_key",
    "resolve_region",
    "service_endpoint",
    "sign_request",
]

ALGORITHM = "AWS4-HMAC-SHA256"
REFRESH_BEFORE = timedelta(minutes=5)  # temporary credentials are fetched again this long before they expire
ASSUME_ROLE_SECONDS = 900  # aws-sdk-go stscreds.DefaultDuration
_MAX_ANSWER = 1 << 20  # what is read of an STS or metadata answer
_IMDS = "http://169.254.169.254"
_ECS = "http://169.254.170.2"
_STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


class SigV4Error(Exception):
    """No signature: no region, no credentials, or a role that could not be assumed. The message is a
    sentence for an Error measurement and never holds a key."""


@dataclass(frozen=True)
class AwsCredentials:
    """One set of AWS credentials; `expires` None: they do not expire. `source` says where they came from."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    expires: datetime | None = None
    source: str = ""

    def fresh(self, now: datetime | None = None) -> bool:
        """Usable for at least `REFRESH_BEFORE` more."""
        return self.expires is None or self.expires - REFRESH_BEFORE > (now or datetime.now(UTC))


# --- signing ---------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def derive_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The signing key of one day, region and service: HMAC chain over ``AWS4<secret>``."""
    key = _hmac(("AWS4" + secret_key).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _canonical_path(path: str) -> str:
    """The URI-encoded path, dot segments removed; every service but S3 encodes the (already encoded) path
    once more, as the SDKs do."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(segments) > 1:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    normalized = "/".join(segments)
    if not normalized.startswith("/"):
        normalized = "/" + normalized
    if path.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_url(url: str) -> str:
    """`url` with its query in SigV4's canonical form (parameters sorted, values encoded as RFC 3986 says:
    ``%20`` for a space, ``%28`` for ``(``): the URL to send, as Go's signer rewrites the request's query
    before signing it, so that the server reads the parameters exactly as they were signed.

    >>> canonical_url("https://h/api/v1/query?query=sum(x)+by+(a)&time=1")
    'https://h/api/v1/query?query=sum%28x%29%20by%20%28a%29&time=1'
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    return parts._replace(query=_canonical_query(parts.query), fragment="").geturl()


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and not (
        (parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)
    ):
        host = f"{host}:{port}"
    return host


_SIGNED_ALWAYS = ("content-type",)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    body: bytes | str | None,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers that sign this request: ``Authorization``, ``X-Amz-Date`` and, for temporary credentials,
    ``X-Amz-Security-Token``. Add them to the request as they are; the request's ``Host`` must be the URL's
    (HTTP libraries send that)."""
    instant = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = instant.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    payload = body.encode() if isinstance(body, str) else (body or b"")
    added = {"X-Amz-Date": amz_date}
    if credentials.token:
        added["X-Amz-Security-Token"] = credentials.token
    signed: dict[str, str] = {"host": _host(url)}
    for key, value in (headers or {}).items():
        lowered = key.lower()
        if lowered in _SIGNED_ALWAYS or (lowered.startswith("x-amz-") and lowered not in signed):
            signed[lowered] = value
    for key, value in added.items():
        signed[key.lower()] = value
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names)
    signed_headers = ";".join(names)
    parts = urlsplit(url)
    canonical = "\n".join(
        (
            method.upper(),
            _canonical_path(parts.path),
            _canonical_query(parts.query),
            canonical_headers,
            signed_headers,
            hashlib.sha256(payload).hexdigest(),
        )
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join((ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()))
    signature = hmac.new(
        derive_key(credentials.secret_key, date, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    added["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return added


# --- configuration ---------------------------------------------------------------------------


def _files(environ: Mapping[str, str]) -> tuple[str, str]:
    home = os.path.expanduser("~")
    credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials")
    config = environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
    return os.path.expanduser(credentials), os.path.expanduser(config)


def _read_ini(path: str) -> configparser.RawConfigParser | None:
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return None
    except (OSError, configparser.Error, UnicodeDecodeError) as e:
        raise SigV4Error(f"the AWS shared file {path} could not be read: {type(e).__name__}") from None
    return parser


def _profile(environ: Mapping[str, str], name: str) -> dict[str, str] | None:
    """The settings of profile `name`: its section of the config file (``[profile name]``, ``[default]``)
    overlaid by its section of the credentials file (``[name]``); None when neither file has it."""
    credentials_path, config_path = _files(environ)
    found: dict[str, str] | None = None
    config = _read_ini(config_path)
    if config is not None:
        for section in (f"profile {name}", name) if name == "default" else (f"profile {name}",):
            if config.has_section(section):
                found = {**(found or {}), **dict(config.items(section))}
                break
    credentials = _read_ini(credentials_path)
    if credentials is not None and credentials.has_section(name):
        found = {**(found or {}), **dict(credentials.items(name))}
    return found


def resolve_region(
    environ: Mapping[str, str], region: str | None = None, profile: str | None = None
) -> str | None:
    """`region`, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, else the profile's ``region``; None: not set."""
    if region:
        return region
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(name):
            return environ[name]
    settings = _profile(environ, profile or environ.get("AWS_PROFILE") or "default")
    if settings and settings.get("region"):
        return settings["region"]
    return None


def service_endpoint(environ: Mapping[str, str], service_env: str, prefix: str, region: str) -> str:
    """A service's endpoint: ``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``, else the regional
    ``https://<prefix>.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in China)."""
    override = environ.get(f"AWS_ENDPOINT_URL_{service_env}") or environ.get("AWS_ENDPOINT_URL")
    if override:
        return override.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{prefix}.{region}.{suffix}"


# --- HTTP for STS and the metadata endpoints ---------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
_PROXIED = urllib.request.build_opener(_NoRedirect())


def _http(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float, *, local: bool
) -> tuple[int, bytes]:
    """(status, body) of one request; a link-local metadata endpoint is never asked through a proxy."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    opener = _OPENER if local else _PROXIED
    try:
        with opener.open(request, timeout=max(timeout, 0.001)) as response:
            return response.status, response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read(_MAX_ANSWER)


def _sts_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _parse_xml(raw: bytes) -> ET.Element:
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ValueError("an XML document with a DOCTYPE is not read")
    return ET.fromstring(raw)


def _sts_error(action: str, status: int, raw: bytes) -> SigV4Error:
    code, message = "", ""
    try:
        root = _parse_xml(raw)
        for element in root.iter():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "Code" and not code:
                code = (element.text or "").strip()
            elif tag == "Message" and not message:
                message = (element.text or "").strip()
    except (ET.ParseError, ValueError):
        message = " ".join(raw[:200].decode("utf-8", "replace").split())
    detail = f"{code}: {message}" if code else message or "(empty body)"
    return SigV4Error(f"STS {action} failed: StatusCode: {status}, {detail}")


def _sts_credentials(action: str, raw: bytes, source: str) -> AwsCredentials:
    try:
        root = _parse_xml(raw)
    except (ET.ParseError, ValueError) as e:
        raise SigV4Error(f"STS {action} answered something that is not XML: {e}") from None
    element = root.find(f".//{_STS_NS}Credentials")
    if element is None:
        element = root.find(".//Credentials")
    if element is None:
        raise SigV4Error(f"STS {action} answered without Credentials")

    def text(name: str) -> str:
        found = element.find(f"{_STS_NS}{name}")
        if found is None:
            found = element.find(name)
        return (found.text or "").strip() if found is not None else ""

    access, secret = text("AccessKeyId"), text("SecretAccessKey")
    if not access or not secret:
        raise SigV4Error(f"STS {action} answered without an access key")
    return AwsCredentials(access, secret, text("SessionToken") or None, _sts_time(text("Expiration")), source)


def assume_role(
    base: AwsCredentials,
    role_arn: str,
    region: str,
    environ: Mapping[str, str],
    timeout: float,
    session_name: str | None = None,
) -> AwsCredentials:
    """STS ``AssumeRole`` of `role_arn` signed with `base` (the regional STS endpoint, or
    ``AWS_ENDPOINT_URL_STS``)."""
    endpoint = service_endpoint(environ, "STS", "sts", region)
    name = session_name or str(time.time_ns())
    body = urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": role_arn,
            "RoleSessionName": name,
            "DurationSeconds": str(ASSUME_ROLE_SECONDS),
        }
    ).encode()
    url = endpoint + "/"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    headers.update(sign_request("POST", url, headers, body, base, region, "sts"))
    try:
        status, raw = _http("POST", url, headers, body, timeout, local=False)
    except (OSError, ValueError) as e:
        raise SigV4Error(f"STS AssumeRole of {role_arn} failed: {short_cause(e)}") from None
    if status != 200:
        raise _sts_error(f"AssumeRole of {role_arn}", status, raw)
    return _sts_credentials("AssumeRole", raw, f"role {role_arn}")


def _web_identity(
    token_file: str,
    role_arn: str,
    session: str | None,
    region: str | None,
    environ: Mapping[str, str],
    timeout: float,
) -> AwsCredentials:
    try:
        with open(token_file, encoding="utf-8") as handle:
            token = handle.read(_MAX_ANSWER).strip()
    except OSError as e:
        raise SigV4Error(
            f"the web identity token file {token_file} could not be read: {type(e).__name__}"
        ) from None
    endpoint = (
        service_endpoint(environ, "STS", "sts", region)
        if region
        else environ.get("AWS_ENDPOINT_URL_STS")
        or environ.get("AWS_ENDPOINT_URL")
        or "https://sts.amazonaws.com"
    ).rstrip("/")
    body = urlencode(
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": role_arn,
            "RoleSessionName": session or str(time.time_ns()),
            "WebIdentityToken": token,
        }
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    try:
        status, raw = _http("POST", endpoint + "/", headers, body, timeout, local=False)
    except (OSError, ValueError) as e:
        raise SigV4Error(f"STS AssumeRoleWithWebIdentity of {role_arn} failed: {short_cause(e)}") from None
    if status != 200:
        raise _sts_error(f"AssumeRoleWithWebIdentity of {role_arn}", status, raw)
    return _sts_credentials("AssumeRoleWithWebIdentity", raw, f"web identity token ({role_arn})")


def _from_json(raw: bytes, source: str) -> AwsCredentials:
    try:
        data = json.loads(raw)
    except ValueError:
        raise SigV4Error(f"the {source} answered something that is not JSON") from None
    if not isinstance(data, dict) or not data.get("AccessKeyId") or not data.get("SecretAccessKey"):
        raise SigV4Error(f"the {source} answered without credentials")
    token = data.get("Token") or data.get("SessionToken")
    return AwsCredentials(
        str(data["AccessKeyId"]),
        str(data["SecretAccessKey"]),
        str(token) if token else None,
        _sts_time(str(data.get("Expiration") or "")),
        source,
    )


def _container(environ: Mapping[str, str], timeout: float) -> AwsCredentials | None:
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not relative and not full:
        return None
    url = _ECS + relative if relative else str(full)
    headers: dict[str, str] = {}
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as handle:
                headers["Authorization"] = handle.read(_MAX_ANSWER).strip()
        except OSError as e:
            raise SigV4Error(
                f"the container authorization token file {token_file} could not be read: {type(e).__name__}"
            ) from None
    elif environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        headers["Authorization"] = environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    try:
        status, raw = _http("GET", url, headers, None, timeout, local=True)
    except (OSError, ValueError) as e:
        raise SigV4Error(f"the container credentials endpoint {url} failed: {short_cause(e)}") from None
    if status != 200:
        raise SigV4Error(f"the container credentials endpoint {url} answered {status}")
    return _from_json(raw, "container credentials endpoint")


def _instance(environ: Mapping[str, str], timeout: float) -> AwsCredentials | None:
    if environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return None
    base = (environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or _IMDS).rstrip("/")
    budget = min(timeout, 2.0)  # the SDKs give up on IMDS quickly off EC2
    try:
        status, token = _http(
            "PUT",
            base + "/latest/api/token",
            {"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
            None,
            budget,
            local=True,
        )
        headers = {"X-aws-ec2-metadata-token": token.decode().strip()} if status == 200 else {}
        path = base + "/latest/meta-data/iam/security-credentials/"
        status, names = _http("GET", path, headers, None, budget, local=True)
        if status != 200:
            return None
        role = names.decode().strip().splitlines()[0] if names.strip() else ""
        if not role:
            return None
        status, raw = _http("GET", path + role, headers, None, budget, local=True)
    except (OSError, ValueError):
        return None
    if status != 200:
        return None
    return _from_json(raw, "EC2 instance metadata service")


class CredentialChain:
    """The AWS default credential chain (see the module's docstring), for `profile` (None: ``AWS_PROFILE``
    or ``default``). `resolve(timeout)` walks it; the caller caches."""

    def __init__(self, environ: Mapping[str, str] | None = None, profile: str | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.profile = profile

    def resolve(self, timeout: float, region: str | None = None) -> AwsCredentials:
        environ = self.environ
        if self.profile:
            found = self._from_profile(self.profile, timeout, region, explicit=True)
            assert found is not None
            return found
        access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if access and secret:
            return AwsCredentials(
                access, secret, environ.get("AWS_SESSION_TOKEN") or None, None, "environment"
            )
        token_file = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        if token_file:
            role = environ.get("AWS_ROLE_ARN")
            if not role:
                raise SigV4Error("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
            return _web_identity(
                token_file, role, environ.get("AWS_ROLE_SESSION_NAME"), region, environ, timeout
            )
        name = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
        found = self._from_profile(name, timeout, region, explicit=name != "default")
        if found is not None:
            return found
        found = _container(environ, timeout) or _instance(environ, timeout)
        if found is not None:
            return found
        credentials_path, config_path = _files(environ)
        raise SigV4Error(
            "no AWS credentials found: none in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
            f"no web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), none for profile {name!r} in {credentials_path} "
            f"or {config_path}, no container credentials endpoint and no EC2 instance role"
        )

    def _from_profile(
        self, name: str, timeout: float, region: str | None, *, explicit: bool, depth: int = 0
    ) -> AwsCredentials | None:
        environ = self.environ
        settings = _profile(environ, name)
        if settings is None:
            if explicit:
                credentials_path, config_path = _files(environ)
                raise SigV4Error(
                    f"the AWS profile {name!r} is in neither {credentials_path} nor {config_path}"
                )
            return None
        access, secret = settings.get("aws_access_key_id"), settings.get("aws_secret_access_key")
        role = settings.get("role_arn")
        region = region or settings.get("region") or resolve_region(environ)
        if role and depth < 5:
            source = settings.get("source_profile")
            if source:
                base = self._from_profile(source, timeout, region, explicit=True, depth=depth + 1)
                assert base is not None
                return assume_role(
                    base, role, region or "us-east-1", environ, timeout, settings.get("role_session_name")
                )
            token_file = settings.get("web_identity_token_file")
            if token_file:
                return _web_identity(
                    token_file, role, settings.get("role_session_name"), region, environ, timeout
                )
            if settings.get("credential_source"):
                base_found = _container(environ, timeout) or _instance(environ, timeout)
                if base_found is None:
                    raise SigV4Error(f"the AWS profile {name!r}: its credential_source gave no credentials")
                return assume_role(base_found, role, region or "us-east-1", environ, timeout)
        if access and secret:
            return AwsCredentials(
                access, secret, settings.get("aws_session_token") or None, None, f"profile {name}"
            )
        if settings.get("credential_process") or settings.get("sso_session") or settings.get("sso_start_url"):
            raise SigV4Error(
                f"the AWS profile {name!r} uses credential_process or SSO, which are not supported"
            )
        if explicit:
            raise SigV4Error(f"the AWS profile {name!r} has no credentials")
        return None


class SigV4Signer:
    """Signs requests for one service and region with the default chain's credentials (and `role_arn`'s).

    `region`/`profile`/`role_arn` are `authentication.sigv4`'s fields; `environ` replaces `os.environ`
    (`Credentials.environ`); `service` is ``aps`` for Amazon Managed Prometheus. Construction does no I/O;
    `sign` (and `credentials`) may read files and ask STS or a metadata endpoint: call them from a worker
    thread. Raises `SigV4Error` with a sentence for the Error measurement."""

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        role_arn: str | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        service: str = "aps",
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.requested_region = region or None
        self.profile = profile or None
        self.role_arn = role_arn or None
        self.service = service
        self._chain = CredentialChain(self.environ, self.profile)
        self._region: str | None = None
        self._credentials: AwsCredentials | None = None
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        """The signing region; `SigV4Error` when neither the metric nor the chain configures one."""
        if self._region is None:
            try:
                found = resolve_region(self.environ, self.requested_region, self.profile)
            except SigV4Error as e:
                raise SigV4Error(
                    f"region not configured in sigv4 or in default credentials chain: {e}"
                ) from None
            if not found:
                raise SigV4Error("region not configured in sigv4 or in default credentials chain")
            self._region = found
        return self._region

    def credentials(self, timeout: float = 10.0) -> AwsCredentials:
        """The credentials to sign with, cached until five minutes before they expire."""
        current = self._credentials
        if current is not None and current.fresh():
            return current
        if not self._lock.acquire(timeout=max(timeout, 0.001)):
            raise SigV4Error(
                "could not get SigV4 credentials: timed out waiting for another credentials request"
            )
        try:
            current = self._credentials
            if current is None or not current.fresh():
                deadline = time.monotonic() + timeout
                region = self.region
                try:
                    base = self._chain.resolve(timeout, region)
                    if self.role_arn:
                        remaining = max(deadline - time.monotonic(), 0.001)
                        base = assume_role(base, self.role_arn, region, self.environ, remaining)
                except SigV4Error as e:
                    raise SigV4Error(f"could not get SigV4 credentials: {e}") from None
                current = self._credentials = base
            return current
        finally:
            self._lock.release()

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        *,
        timeout: float = 10.0,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """The headers to add to this request (``Authorization``, ``X-Amz-Date``, maybe
        ``X-Amz-Security-Token``). Sign last: after every other header is set, and again for each retry.
        The request must be sent to `url` whose query is already canonical (`canonical_url`; `prepare` does
        both)."""
        credentials = self.credentials(timeout)
        return sign_request(method, url, headers, body, credentials, self.region, self.service, now)

    def prepare(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        *,
        timeout: float = 10.0,
        now: datetime | None = None,
    ) -> tuple[str, dict[str, str]]:
        """(the URL to send, the headers to add): `url`'s query made canonical, then signed."""
        target = canonical_url(url)
        return target, self.sign(method, target, headers, body, timeout=timeout, now=now)
