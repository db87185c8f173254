"""Notification services: a `service.<type>[.<name>]` entry of `argo-rollouts-notification-configmap` built into
an object that sends one rendered template to one recipient, as argoproj/notifications-engine does.

Where it sits: the delivery layer (`delivering`) resolves `$secret` references, renders the template, then calls
`build_service(key, options)` and `Service.send(...)`; it owns retries, backoff, metrics and logging, so each
`send` is exactly one attempt and raises `SendError(retryable=...)`. Slack lives in `slack`, email in
`emailing`, the shared errors and HTTP plumbing in `servicebase`.

Types: webhook, slack, teams, teams-workflows, email, pagerduty, pagerdutyv2, opsgenie (the engine's others,
such as github or mattermost, are refused with the list of these). The request each one sends is the engine's:
same method, path, headers and body fields. Where we differ, on purpose:

- One attempt per `send`: the engine's webhook retries 3 times inside Send (retryWaitMin/retryWaitMax/retryMax
  are accepted and ignored; the caller retries), and every attempt is bounded by `timeout`.
- Idempotency: the caller's `idempotency_key` travels with the request so a resend is recognisable. Webhook:
  header `X-Rollouts-Notification-Id`, unless the entry's `headers` already set a header of that name (theirs
  is sent; the engine sends no such header, so nothing else can conflict). PagerDuty v2: `dedup_key` when the
  template sets no `dedupKey` (PagerDuty then folds resends into one alert). PagerDuty: `incident_key`.
  Opsgenie: `alias` when the template sets none (Opsgenie de-duplicates open alerts by alias). Email: the
  `Message-ID` (see `emailing`). Slack and Teams have no such field.
- Extensions: `apiURL` for pagerduty and pagerdutyv2 (default https://api.pagerduty.com and
  https://events.pagerduty.com), for tests and egress proxies; `caCert` (PEM) next to `insecureSkipVerify`
  on the HTTP services, to trust a private CA; Slack's `webhookURL` (see `slack`); Opsgenie's `apiUrl` may
  carry a scheme (a bare host means https, as in the SDK; the SDK's plain-http test hack is not copied).
- PagerDuty v2: the payload's summary falls back to the template's `message` when `pagerdutyv2.summary` is
  empty. PagerDuty (incidents): `priority` is sent only when the template sets `priorityId`, and the body's type
  is `incident_details` (the engine's carries a stray tab).
- Opsgenie: empty responder fields are left out (the SDK's struct tags send `"username": ""`).
- Webhook: the method is upper-cased. Teams: a 2xx answer other than the connector's `1` is an error as in the
  engine; it is retryable when it reports HTTP 429.
- Failures are sentences without URLs (their paths and queries hold secrets) and with the service's secrets
  replaced by *** in anything the receiver echoed; `Service.secrets` lists them for the caller's redaction.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from rollouts.notifications.emailing import EmailService
from rollouts.notifications.servicebase import (
    Options,
    SendError,
    Service,
    ServiceConfigError,
    attempt,
    excerpt,
    http_request,
    json_field,
    lookup,
    message_of,
    secrets_of,
    status_error,
    template_section,
    text,
)
from rollouts.notifications.slack import SlackService

__all__ = ["SERVICE_TYPES", "SendError", "Service", "ServiceConfigError", "build_service"]

IDEMPOTENCY_HEADER = "X-Rollouts-Notification-Id"
#: header names whose values are not treated as secrets (any other configured header value is one)
_PLAIN_HEADERS = frozenset(
    {"accept", "accept-encoding", "cache-control", "content-encoding", "content-type", "user-agent"}
)


def _http_url(opts: Options, field: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServiceConfigError(f"{opts.key} field {field} must be an http:// or https:// URL.")
    return url


def _url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be secret: the userinfo password and the query's values."""
    parts = urlsplit(url)
    found = [parts.password or ""]
    found.extend(value for _, value in parse_qsl(parts.query))
    return found


def _ok(status: int) -> bool:
    return 200 <= status <= 299


class WebhookService:
    """`service.webhook.<name>`: url, headers [{name, value}], basicAuth {username, password}, insecureSkipVerify.
    Template `webhook.<name>`: method (default GET), path (joined to url with one slash), body. Without that
    template entry the request is a GET of url with the template's `message` as body, as in the engine."""

    type = "webhook"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.url = _http_url(opts, "url", opts.string("url", required=True))
        self.headers: list[tuple[str, str]] = []
        for header in opts.sections("headers"):
            self.headers.append((header.string("name", required=True), header.string("value")))
        self.basic_auth: tuple[str, str] | None = None
        basic = opts.section("basicAuth")
        if basic is not None:
            self.basic_auth = (basic.string("username"), basic.string("password"))
        self.tls = opts.tls("insecureSkipVerify", "caCert")
        values = [v for n, v in self.headers if n.lower() not in _PLAIN_HEADERS]
        values += [self.basic_auth[1]] if self.basic_auth else []
        self.secrets = secrets_of([*values, *_url_secrets(self.url)])

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        body, method, url = message_of(notification), "GET", self.url
        webhooks = template_section(notification, "webhook")
        entry = lookup(webhooks, self.name) if webhooks is not None else None
        if isinstance(entry, Mapping):
            body = text(entry, "body")
            method = text(entry, "method") or method
            path = text(entry, "path")
            if path:
                url = url.rstrip("/") + "/" + path.lstrip("/")
        headers: dict[str, str] = {}
        for name, value in self.headers:  # Go's Header.Set: a later header of the same name replaces it
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        if self.basic_auth is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            token = base64.b64encode(f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        if not any(k.lower() == IDEMPOTENCY_HEADER.lower() for k in headers):
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        what = f"Webhook {self.name!r} ({method.upper()} to {urlsplit(url).hostname})"
        async with attempt(what, timeout):
            status, answer, answer_headers = await http_request(
                session,
                method.upper(),
                url,
                headers=headers,
                body=body.encode(),
                tls=self.tls,
                skip_auto_headers=("Content-Type", "Accept"),  # Go's client sends neither unless configured
            )
        if not _ok(status):
            raise status_error(what, status, excerpt(answer, self.secrets), answer_headers)


def _teams_card(notification: Mapping[str, Any], section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The MessageCard the engine builds (its field is `context`, not `@context`: kept, Teams accepts it)."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "context": "https://schema.org/extensions",
        "title": text(section, "title"),
        "summary": text(section, "summary"),
        "text": text(section, "text") or message_of(notification),
    }
    if text(section, "themeColor"):
        card["themeColor"] = text(section, "themeColor")
    sections: list[Any] = []
    if text(section, "sections"):
        sections = json_field(text(section, "sections"), "teams.sections")
    if text(section, "facts"):
        sections.append({"facts": json_field(text(section, "facts"), "teams.facts")})
    if text(section, "potentialAction"):
        card["potentialAction"] = json_field(text(section, "potentialAction"), "teams.potentialAction")
    if sections:
        card["sections"] = sections
    return card


class TeamsService:
    """`service.teams`: recipientUrls {channel: Office 365 connector URL}; the recipient is the channel name.
    Posts the template's `teams.template` verbatim when set, else the MessageCard built from title, summary,
    text (default: the message), themeColor, sections, facts and potentialAction. The connector answers `1`."""

    type = "teams"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.urls = opts.string_map("recipientUrls", required=True)
        for channel, url in self.urls.items():
            _http_url(opts, f"recipientUrls.{channel}", url)
        self.tls = opts.tls("insecureSkipVerify", "caCert")
        self.secrets = secrets_of(self.urls.values())

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        url = self.urls.get(recipient)
        if url is None:
            raise SendError(
                f"Teams service {self.name!r} has no webhook URL for channel {recipient!r}.", retryable=False
            )
        section = template_section(notification, "teams")
        raw = text(section, "template")
        payload = raw.encode() if raw else json.dumps(_teams_card(notification, section)).encode()
        what = f"Teams channel {recipient!r}"
        async with attempt(what, timeout):
            status, answer, headers = await http_request(
                session, "POST", url, headers={"Content-Type": "application/json"}, body=payload, tls=self.tls
            )
        if not _ok(status):
            raise status_error(what, status, excerpt(answer, self.secrets), headers)
        if answer.strip() != b"1":
            said = excerpt(answer, self.secrets) or "an empty body"
            raise SendError(
                f"{what} answered {said} instead of 1 (a Workflows URL belongs to a teams-workflows service).",
                retryable=b"429" in answer,
                status=status,
            )


#: the engine's check that a teams-workflows URL is a Power Automate one
WORKFLOWS_URL = re.compile(
    r"(?i)(api\.(powerautomate|powerplatform)\.com|flow\.microsoft\.com|webhook\.office\.com/workflows|/powerautomate/)"
)


def _fact_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int | float) else json.dumps(value)


def _fact_set(facts: Any) -> dict[str, Any] | None:
    if not isinstance(facts, list):
        return None
    items = [
        {"title": fact["name"], "value": _fact_value(fact.get("value", ""))}
        for fact in facts
        if isinstance(fact, Mapping) and isinstance(fact.get("name"), str)
    ]
    return {"type": "FactSet", "facts": items} if items else None


def _adaptive_card(notification: Mapping[str, Any], section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The engine's Adaptive Card built from the MessageCard-style fields."""
    body: list[dict[str, Any]] = []
    title, color = text(section, "title"), text(section, "themeColor")
    if title:
        element = {"type": "TextBlock", "text": title, "size": "Large", "weight": "Bolder"}
        body.append({**element, **({"color": color} if color else {}), "wrap": True})
    message = text(section, "text") or message_of(notification)
    if message:
        body.append({"type": "TextBlock", "text": message, "wrap": True})
    if text(section, "facts"):
        facts = _fact_set(json_field(text(section, "facts"), "teams-workflows.facts"))
        body += [facts] if facts else []
    if text(section, "sections"):
        for part in json_field(text(section, "sections"), "teams-workflows.sections"):
            facts = _fact_set(part.get("facts")) if isinstance(part, Mapping) else None
            body += [facts] if facts else []
    card: dict[str, Any] = {"type": "AdaptiveCard", "version": "1.4", "body": body}
    actions = []
    if text(section, "potentialAction"):
        for action in json_field(text(section, "potentialAction"), "teams-workflows.potentialAction"):
            if not isinstance(action, Mapping) or action.get("@type") != "OpenUri":
                continue
            targets = action.get("targets")
            target = targets[0] if isinstance(targets, list) and targets else None
            uri = target.get("uri") if isinstance(target, Mapping) else None
            if isinstance(uri, str) and uri:
                name = action.get("name")
                actions.append({"type": "Action.OpenUrl", **({"title": name} if name else {}), "url": uri})
    if actions:
        card["actions"] = actions
    return card


class TeamsWorkflowsService(TeamsService):
    """`service.teams-workflows`: recipientUrls {channel: Power Automate workflow URL}. Posts a message wrapping
    the template's `teams-workflows.adaptiveCard` verbatim when set, else the Adaptive Card the engine builds
    from title, text, facts, sections and potentialAction. Any 2xx is success."""

    type = "teams-workflows"

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        url = self.urls.get(recipient)
        what = f"Teams Workflows channel {recipient!r}"
        if url is None:
            raise SendError(f"{what} has no webhook URL in service {self.name!r}.", retryable=False)
        host = urlsplit(url).hostname or ""
        if urlsplit(url).scheme != "https" and host != "localhost" and not host.startswith("127."):
            raise SendError(f"{what} has a webhook URL that does not use https.", retryable=False)
        if not WORKFLOWS_URL.search(url):
            raise SendError(
                f"{what} has a webhook URL that is not a Power Automate workflow URL.", retryable=False
            )
        section = template_section(notification, "teams-workflows")
        raw = text(section, "adaptiveCard")
        card = (
            json_field(raw, "teams-workflows.adaptiveCard", object)
            if raw
            else _adaptive_card(notification, section)
        )
        message = {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
        async with attempt(what, timeout):
            status, answer, headers = await http_request(
                session,
                "POST",
                url,
                headers={"Content-Type": "application/json"},
                body=json.dumps(message).encode(),
                tls=self.tls,
            )
        if not _ok(status):
            raise status_error(what, status, excerpt(answer, self.secrets), headers)


def _api_detail(answer: bytes, secrets: tuple[str, ...]) -> str:
    """An API's JSON error (PagerDuty: message + errors; Opsgenie: message) as a short scrubbed quote."""
    try:
        data = json.loads(answer)
    except ValueError:
        return excerpt(answer, secrets)
    if not isinstance(data, Mapping):
        return excerpt(answer, secrets)
    nested = data.get("error")
    error: Mapping[str, Any] = nested if isinstance(nested, Mapping) else data
    parts = [str(error.get("message") or "")]
    errors = error.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(e) for e in errors))
    detail = ": ".join(p for p in parts if p)
    return excerpt(detail, secrets) if detail else excerpt(answer, secrets)


class PagerDutyV2Service:
    """`service.pagerdutyv2`: serviceKeys {name: Events API v2 routing key}; the recipient is the name. Template
    `pagerdutyv2`: summary, severity, source, component, group, class, url (client_url), dedupKey."""

    type = "pagerdutyv2"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.keys = opts.string_map("serviceKeys", required=True)
        self.api_url = _http_url(
            opts, "apiURL", opts.string("apiURL", default="https://events.pagerduty.com")
        )
        self.secrets = secrets_of(self.keys.values())

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        key = self.keys.get(recipient)
        if key is None:
            raise SendError(
                f"PagerDuty service {self.name!r} has no routing key for {recipient!r}.", retryable=False
            )
        section = template_section(notification, "pagerdutyv2")
        if section is None:
            raise SendError(
                "The template has no pagerdutyv2 section, which PagerDuty events need.", retryable=False
            )
        payload = {
            "summary": text(section, "summary") or message_of(notification),
            "source": text(section, "source"),
            "severity": text(section, "severity"),
        }
        payload |= {f: text(section, f) for f in ("component", "group", "class") if text(section, f)}
        event: dict[str, Any] = {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": text(section, "dedupKey") or idempotency_key,
            "client": "ArgoCD",
        }
        if text(section, "url"):
            event["client_url"] = text(section, "url")
        event["payload"] = payload
        what = f"PagerDuty Events API for {recipient!r}"
        async with attempt(what, timeout):
            status, answer, headers = await http_request(
                session,
                "POST",
                self.api_url.rstrip("/") + "/v2/enqueue",
                headers={"Content-Type": "application/json"},
                body=json.dumps(event).encode(),
                tls=True,
            )
        if not _ok(status):
            raise status_error(what, status, _api_detail(answer, self.secrets), headers)


class PagerDutyService:
    """`service.pagerduty`: token (REST API key), from (a PagerDuty user's email), serviceID; the recipient is the
    PagerDuty service ID (serviceID when the recipient is empty). Template `pagerduty`: title, body, urgency,
    priorityId. Creates an incident through POST /incidents."""

    type = "pagerduty"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.token = opts.string("token", required=True)
        self.sender = opts.string("from", required=True)
        self.service_id = opts.string("serviceID")
        self.api_url = _http_url(opts, "apiURL", opts.string("apiURL", default="https://api.pagerduty.com"))
        self.secrets = secrets_of([self.token])

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        section = template_section(notification, "pagerduty")
        incident: dict[str, Any] = {
            "type": "incident",
            "title": text(section, "title") or message_of(notification),
            "service": {"id": recipient or self.service_id, "type": "service_reference"},
        }
        if text(section, "priorityId"):
            incident["priority"] = {"id": text(section, "priorityId"), "type": "priority"}
        if text(section, "urgency"):
            incident["urgency"] = text(section, "urgency")
        incident["incident_key"] = idempotency_key
        if text(section, "body"):
            incident["body"] = {"type": "incident_details", "details": text(section, "body")}
        headers = {
            "Accept": "application/vnd.pagerduty+json;version=2",
            "Authorization": f"Token token={self.token}",
            "From": self.sender,
            "Content-Type": "application/json",
        }
        what = f"PagerDuty REST API for service {recipient or self.service_id!r}"
        async with attempt(what, timeout):
            status, answer, answer_headers = await http_request(
                session,
                "POST",
                self.api_url.rstrip("/") + "/incidents",
                headers=headers,
                body=json.dumps({"incident": incident}).encode(),
                tls=True,
            )
        if not _ok(status):
            raise status_error(what, status, _api_detail(answer, self.secrets), answer_headers)


def _string_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


class OpsgenieService:
    """`service.opsgenie`: apiUrl (default api.opsgenie.com), apiKeys {team: integration API key}; the recipient is
    the team. Template `opsgenie`: description (required when the section is there), priority, alias, note,
    actions, tags, details, entity, visibleTo, user. POST /v2/alerts with `Authorization: GenieKey <key>`."""

    type = "opsgenie"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.keys = opts.string_map("apiKeys", required=True)
        api = opts.string("apiUrl", default="https://api.opsgenie.com")
        self.api_url = _http_url(opts, "apiUrl", api if "://" in api else f"https://{api}")
        self.tls: ssl.SSLContext | bool = opts.tls("insecureSkipVerify", "caCert")
        self.secrets = secrets_of(self.keys.values())

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        key = self.keys.get(recipient)
        if key is None:
            raise SendError(
                f"Opsgenie service {self.name!r} has no API key for team {recipient!r}.", retryable=False
            )
        message = message_of(notification)
        if not message:
            raise SendError("The template has no message, which an Opsgenie alert needs.", retryable=False)
        section = template_section(notification, "opsgenie")
        if section is not None and not text(section, "description"):
            raise SendError("The template's opsgenie section has no description.", retryable=False)
        alert: dict[str, Any] = {"message": message, "alias": text(section, "alias") or idempotency_key}
        alert["description"] = text(section, "description")
        alert["responders"] = [{"type": "team", "id": recipient}]
        visible = []
        responders = lookup(section, "visibleTo") if section is not None else None
        for responder in responders if isinstance(responders, list) else []:
            if isinstance(responder, Mapping):
                fields = {f: text(responder, f) for f in ("type", "name", "id", "username")}
                visible.append({f: v for f, v in fields.items() if v})
        alert["visibleTo"] = visible
        alert["actions"] = _string_list(lookup(section, "actions")) if section is not None else []
        alert["tags"] = _string_list(lookup(section, "tags")) if section is not None else []
        details = lookup(section, "details") if section is not None else None
        alert["details"] = (
            {str(k): text(details, str(k)) for k in details} if isinstance(details, Mapping) else {}
        )
        alert["entity"] = text(section, "entity")
        alert["source"] = "Argo CD"
        for field in ("priority", "user", "note"):
            alert[field] = text(section, field)
        body = {k: v for k, v in alert.items() if v}
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "Authorization": f"GenieKey {key}",
        }
        what = f"Opsgenie for team {recipient!r}"
        async with attempt(what, timeout):
            status, answer, answer_headers = await http_request(
                session,
                "POST",
                self.api_url.rstrip("/") + "/v2/alerts",
                headers=headers,
                body=json.dumps(body).encode(),
                tls=self.tls,
            )
        if not _ok(status):
            raise status_error(what, status, _api_detail(answer, self.secrets), answer_headers)


_BUILDERS: dict[str, Any] = {
    "webhook": WebhookService,
    "slack": SlackService,
    "teams": TeamsService,
    "teams-workflows": TeamsWorkflowsService,
    "email": EmailService,
    "pagerduty": PagerDutyService,
    "pagerdutyv2": PagerDutyV2Service,
    "opsgenie": OpsgenieService,
}

SERVICE_TYPES: frozenset[str] = frozenset(_BUILDERS)


def build_service(key: str, options: Mapping[str, Any]) -> Service:
    """The service a ConfigMap entry describes: `service.<type>` (named after its type) or
    `service.<type>.<name>`; `options` is the entry's YAML, parsed, with its secrets resolved."""
    parts = key.split(".")
    if parts[0] != "service" or len(parts) not in (2, 3) or not all(parts[1:]):
        raise ServiceConfigError(
            f"{key!r} is not a service key; expected service.<type> or service.<type>.<name>."
        )
    kind, name = parts[1], parts[-1]
    builder = _BUILDERS.get(kind)
    if builder is None:
        supported = ", ".join(sorted(SERVICE_TYPES))
        raise ServiceConfigError(
            f"{key} names service type {kind!r}, which is not supported (supported: {supported})."
        )
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ServiceConfigError(f"{key} must hold a YAML map of options, not {type(options).__name__}.")
    service: Service = builder(name, Options(key, options))
    return service
