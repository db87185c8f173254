"""Notification services against real loopback receivers (tests/notifications/receivers.py): each test reads
the exact request a stand-in for Slack, Teams, PagerDuty, Opsgenie or a webhook received, or the message a real
SMTP server (STARTTLS with a trustme CA, AUTH) accepted, and the SendError (retryable or not, and free of
secrets) for receivers that refuse, fail, are slow or are down.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import trustme

from rollouts.notifications.emailing import message_id
from rollouts.notifications.services import (
    SERVICE_TYPES,
    OpsgenieService,
    PagerDutyV2Service,
    SendError,
    Service,
    ServiceConfigError,
    build_service,
)
from tests.notifications.receivers import Answer, HttpReceiver, SmtpReceiver, free_port

TOKEN = "xoxb-secret-slack-token-123"
PASSWORD = "hunter2-smtp-password"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000042"
GENIE_KEY = "genie-api-key-abcdef"
PD_TOKEN = "pd-rest-token-zyx"
BASIC_PASSWORD = "basic-auth-password-777"
KEY = "rollout/default/demo/on-rollout-completed/3"

SECRETS = (TOKEN, PASSWORD, ROUTING_KEY, GENIE_KEY, PD_TOKEN, BASIC_PASSWORD)


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    server = HttpReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


async def send(
    service: Service,
    session: aiohttp.ClientSession,
    notification: dict[str, Any],
    recipient: str = "",
    seconds: float = 5.0,
) -> None:
    await service.send(notification, recipient, session=session, timeout=seconds, idempotency_key=KEY)


async def failure(
    service: Service,
    session: aiohttp.ClientSession,
    notification: dict[str, Any],
    recipient: str = "",
    seconds: float = 5.0,
) -> SendError:
    with pytest.raises(SendError) as caught:
        await send(service, session, notification, recipient, seconds)
    err = caught.value
    for secret in (*SECRETS, *service.secrets):
        assert secret not in str(err)
    return err


# ---------------------------------------------------------------------------------------------------------
# build_service


@pytest.mark.parametrize(
    ("key", "options", "kind", "name"),
    [
        pytest.param("service.slack", {"token": TOKEN}, "slack", "slack", id="slack"),
        pytest.param(
            "service.webhook.github", {"url": "https://api.github.com"}, "webhook", "github", id="webhook"
        ),
        pytest.param(
            "service.teams", {"recipientUrls": {"ops": "https://x.test/h"}}, "teams", "teams", id="teams"
        ),
        pytest.param(
            "service.teams-workflows.ops",
            {"recipientUrls": {"a": "https://x.test/h"}},
            "teams-workflows",
            "ops",
            id="teams-workflows",
        ),
        pytest.param(
            "service.email.gmail",
            {"host": "smtp.test", "port": 587, "from": "a@b.test"},
            "email",
            "gmail",
            id="email",
        ),
        pytest.param(
            "service.pagerdutyv2",
            {"serviceKeys": {"svc": ROUTING_KEY}},
            "pagerdutyv2",
            "pagerdutyv2",
            id="pdv2",
        ),
        pytest.param(
            "service.pagerduty", {"token": PD_TOKEN, "from": "me@x.test"}, "pagerduty", "pagerduty", id="pd"
        ),
        pytest.param(
            "service.opsgenie", {"apiKeys": {"team": GENIE_KEY}}, "opsgenie", "opsgenie", id="opsgenie"
        ),
    ],
)
def test_build_names_the_service_after_the_key(
    key: str, options: dict[str, Any], kind: str, name: str
) -> None:
    service = build_service(key, options)
    assert (service.type, service.name) == (kind, name)
    assert service.type in SERVICE_TYPES


@pytest.mark.parametrize(
    ("key", "options", "words"),
    [
        pytest.param(
            "service.github", {}, ["service.github", "'github'", "slack", "webhook", "opsgenie"], id="unknown"
        ),
        pytest.param("service", {}, ["'service'", "service.<type>"], id="no-type"),
        pytest.param(
            "service.webhook.a.b", {"url": "http://x"}, ["service.<type>.<name>"], id="too-many-dots"
        ),
        pytest.param("service.webhook.x", {}, ["service.webhook.x", "url"], id="webhook-no-url"),
        pytest.param(
            "service.webhook.x", {"url": "ftp://x"}, ["service.webhook.x", "url", "http"], id="webhook-ftp"
        ),
        pytest.param(
            "service.webhook.x",
            {"url": "http://x", "headers": {"a": "b"}},
            ["headers", "list of maps"],
            id="headers",
        ),
        pytest.param(
            "service.webhook.x",
            {"url": "http://x", "insecureSkipVerify": "yes"},
            ["insecureSkipVerify"],
            id="bool",
        ),
        pytest.param(
            "service.webhook.x", {"url": "http://x", "caCert": "nope"}, ["caCert", "PEM"], id="ca-cert"
        ),
        pytest.param(
            "service.slack", {"username": "bot"}, ["service.slack", "token", "webhookURL"], id="slack-token"
        ),
        pytest.param("service.teams", {}, ["service.teams", "recipientUrls"], id="teams-urls"),
        pytest.param(
            "service.teams", {"recipientUrls": ["x"]}, ["recipientUrls", "map"], id="teams-urls-list"
        ),
        pytest.param(
            "service.email", {"port": 25, "from": "a@b"}, ["service.email", "host"], id="email-host"
        ),
        pytest.param(
            "service.email",
            {"host": "h", "port": "smtp", "from": "a@b"},
            ["service.email", "port"],
            id="email-port",
        ),
        pytest.param("service.email", {"host": "h", "port": 25}, ["service.email", "from"], id="email-from"),
        pytest.param("service.pagerdutyv2", {}, ["service.pagerdutyv2", "serviceKeys"], id="pdv2-keys"),
        pytest.param("service.pagerduty", {"from": "a@b"}, ["service.pagerduty", "token"], id="pd-token"),
        pytest.param(
            "service.opsgenie", {"apiUrl": "api.opsgenie.com"}, ["service.opsgenie", "apiKeys"], id="og-keys"
        ),
        pytest.param("service.slack", ["token"], ["service.slack", "map"], id="not-a-map"),
    ],
)
def test_build_refuses_bad_entries_naming_key_and_field(key: str, options: Any, words: list[str]) -> None:
    with pytest.raises(ServiceConfigError) as caught:
        build_service(key, options)
    for word in words:
        assert word in str(caught.value)


def test_options_match_field_names_case_insensitively_like_the_engine() -> None:
    service = build_service(
        "service.pagerdutyv2", {"ServiceKeys": {"svc": ROUTING_KEY}, "apiurl": "http://pd.test"}
    )
    assert service.secrets == (ROUTING_KEY,)
    assert isinstance(service, PagerDutyV2Service) and service.api_url == "http://pd.test"


@pytest.mark.parametrize(
    ("key", "options", "secrets"),
    [
        pytest.param(
            "service.slack",
            {"token": TOKEN, "signingSecret": "sign-secret", "webhookURL": "https://hooks.test/T/B/abc"},
            {TOKEN, "sign-secret", "https://hooks.test/T/B/abc"},
            id="slack",
        ),
        pytest.param(
            "service.webhook.x",
            {
                "url": "https://u:pw-in-url@x.test/p?token=q-secret",
                "headers": [
                    {"name": "Authorization", "value": "token gh"},
                    {"name": "Content-Type", "value": "a/b"},
                ],
                "basicAuth": {"username": "u", "password": BASIC_PASSWORD},
            },
            {"token gh", BASIC_PASSWORD, "pw-in-url", "q-secret"},
            id="webhook",
        ),
        pytest.param(
            "service.teams",
            {"recipientUrls": {"a": "https://x.test/1", "b": "https://x.test/2"}},
            {"https://x.test/1", "https://x.test/2"},
            id="teams",
        ),
        pytest.param(
            "service.email",
            {"host": "h", "port": 25, "from": "a@b", "username": "u", "password": PASSWORD},
            {PASSWORD},
            id="email",
        ),
        pytest.param("service.pagerdutyv2", {"serviceKeys": {"a": ROUTING_KEY}}, {ROUTING_KEY}, id="pdv2"),
        pytest.param("service.pagerduty", {"token": PD_TOKEN, "from": "a@b"}, {PD_TOKEN}, id="pd"),
        pytest.param("service.opsgenie", {"apiKeys": {"t": GENIE_KEY}}, {GENIE_KEY}, id="opsgenie"),
    ],
)
def test_secrets_lists_every_secret_of_the_options(
    key: str, options: dict[str, Any], secrets: set[str]
) -> None:
    assert set(build_service(key, options).secrets) == secrets


# ---------------------------------------------------------------------------------------------------------
# webhook


async def test_webhook_sends_the_templates_method_path_body_and_headers(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service(
        "service.webhook.github",
        {
            "url": receiver.url + "/api/",
            "headers": [
                {"name": "Content-Type", "value": "application/json"},
                {"name": "X-Extra", "value": "one"},
                {"name": "x-extra", "value": "two"},
                {"name": "Authorization", "value": "token replaced-by-basic"},
            ],
            "basicAuth": {"username": "bot", "password": BASIC_PASSWORD},
        },
    )
    body = '{"state": "success"}'
    template = {
        "message": "m",
        "webhook": {"github": {"method": "POST", "path": "/repos/a/b/statuses/c1", "body": body}},
    }
    await send(service, session, template)
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == (
        "POST",
        "/api/repos/a/b/statuses/c1",
        body.encode(),
    )
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["x-extra"] == "two"
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"bot:{BASIC_PASSWORD}".encode()).decode()
    )
    assert request.headers["X-Rollouts-Notification-Id"] == KEY


async def test_webhook_without_its_template_entry_gets_the_message_no_content_type(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service("service.webhook", {"url": receiver.url + "/hook"})
    await send(
        service, session, {"message": "Rollout demo completed", "webhook": {"other": {"method": "POST"}}}
    )
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("GET", "/hook", b"Rollout demo completed")
    assert "Content-Type" not in request.headers


async def test_webhook_keeps_a_configured_notification_id_header(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    headers = [{"name": "x-rollouts-notification-id", "value": "theirs"}]
    service = build_service("service.webhook.w", {"url": receiver.url, "headers": headers})
    await send(service, session, {"webhook": {"w": {"method": "put", "body": ""}}})
    [request] = receiver.requests
    assert request.method == "PUT"
    assert request.headers["X-Rollouts-Notification-Id"] == "theirs"


@pytest.mark.parametrize(
    ("answer", "retryable", "status", "words"),
    [
        pytest.param(Answer(500, "boom"), True, 500, ["HTTP 500", "boom"], id="500"),
        pytest.param(Answer(503), True, 503, ["HTTP 503"], id="503"),
        pytest.param(Answer(408), True, 408, ["HTTP 408"], id="408"),
        pytest.param(
            Answer(429, headers={"Retry-After": "7"}), True, 429, ["HTTP 429", "Retry-After 7 s"], id="429"
        ),
        pytest.param(Answer(400, "bad body"), False, 400, ["HTTP 400", "bad body"], id="400"),
        pytest.param(Answer(404), False, 404, ["HTTP 404"], id="404"),
        pytest.param(
            Answer(401, f"wrong password {BASIC_PASSWORD}"), False, 401, ["HTTP 401", "***"], id="echo"
        ),
    ],
)
async def test_webhook_status_mapping(
    receiver: HttpReceiver,
    session: aiohttp.ClientSession,
    answer: Answer,
    retryable: bool,
    status: int,
    words: list[str],
) -> None:
    service = build_service(
        "service.webhook.w",
        {
            "url": receiver.url + "/x?token=q-secret",
            "basicAuth": {"username": "u", "password": BASIC_PASSWORD},
        },
    )
    receiver.answer(answer)
    err = await failure(service, session, {"message": "m"})
    assert (err.retryable, err.status) == (retryable, status)
    for word in words:
        assert word in str(err)
    assert "q-secret" not in str(err)
    assert err.retry_after == (7.0 if status == 429 else None)


async def test_a_receiver_that_is_down_is_retryable(session: aiohttp.ClientSession) -> None:
    port = free_port()
    service = build_service("service.webhook.w", {"url": f"http://127.0.0.1:{port}/x?token=q-secret"})
    err = await failure(service, session, {"message": "m"})
    assert err.retryable and err.status is None
    assert "connection refused" in str(err) and "q-secret" not in str(err)


async def test_a_slow_receiver_times_out_retryably(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service("service.webhook.w", {"url": receiver.url})
    receiver.answer(Answer(200, delay=2.0))
    err = await failure(service, session, {"message": "m"}, seconds=0.3)
    assert err.retryable and "within 0.3 s" in str(err)


@pytest.mark.parametrize(
    ("options", "ok"),
    [
        pytest.param({"caCert": "CA"}, True, id="ca-cert"),
        pytest.param({"insecureSkipVerify": True}, True, id="insecure"),
        pytest.param({}, False, id="untrusted"),
    ],
)
async def test_webhook_over_tls(
    ca: trustme.CA,
    server_tls: ssl.SSLContext,
    session: aiohttp.ClientSession,
    options: dict[str, Any],
    ok: bool,
) -> None:
    server = HttpReceiver()
    url = await server.start(server_tls)
    try:
        if "caCert" in options:
            options = {"caCert": ca.cert_pem.bytes().decode()}
        service = build_service("service.webhook.w", {"url": url, **options})
        if ok:
            await send(service, session, {"message": "over tls"})
            assert server.requests[0].body == b"over tls"
        else:
            err = await failure(service, session, {"message": "m"})
            assert not err.retryable and "not trusted" in str(err)
    finally:
        await server.stop()


# ---------------------------------------------------------------------------------------------------------
# slack


def slack_ok(channel: str = "C0123") -> Answer:
    return Answer(200, json.dumps({"ok": True, "channel": channel, "ts": "1700000000.000100"}))


async def test_slack_posts_the_form_slack_go_sends(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service(
        "service.slack",
        {
            "token": TOKEN,
            "apiURL": receiver.url + "/api",
            "username": "argo",
            "icon": ":rocket:",
            "disableUnfurl": True,
        },
    )
    receiver.default = slack_ok()
    attachments = '[{"title": "demo", "color": "#18be52", "fields": [{"title": "Status", "value": "ok"}]}]'
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]'
    await send(
        service,
        session,
        {"message": "Rollout done", "slack": {"attachments": attachments, "blocks": blocks}},
        "#deploys",
    )
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "token": TOKEN,
        "channel": "#deploys",
        "text": "Rollout done",
        "username": "argo",
        "icon_emoji": ":rocket:",
        "attachments": json.dumps(json.loads(attachments), separators=(",", ":")),
        "blocks": json.dumps(json.loads(blocks), separators=(",", ":")),
        "unfurl_links": "false",
        "unfurl_media": "false",
    }
    keys = [pair.split("=")[0] for pair in request.body.decode().split("&")]
    assert keys == sorted(keys)  # Go's url.Values.Encode


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param({"message": "m"}, {"text": "m", "username": "argo"}, id="no-slack-section"),
        pytest.param(
            {"message": "m", "slack": {}}, {"text": "m", "username": "argo", "attachments": "[]"}, id="empty"
        ),
        pytest.param(
            {"message": "m", "slack": {"username": "t", "icon": "https://img.test/i.png"}},
            {"text": "m", "username": "t", "icon_url": "https://img.test/i.png", "attachments": "[]"},
            id="template-overrides",
        ),
        pytest.param(
            {"message": "m", "slack": {"icon": "not-an-icon"}},
            {"text": "m", "username": "argo", "attachments": "[]"},
            id="bad-icon-dropped",
        ),
    ],
)
async def test_slack_message_fields(
    receiver: HttpReceiver, session: aiohttp.ClientSession, template: dict[str, Any], expected: dict[str, str]
) -> None:
    service = build_service(
        "service.slack", {"token": TOKEN, "apiURL": receiver.url + "/", "username": "argo"}
    )
    receiver.default = slack_ok()
    await send(service, session, template, "C1")
    form = receiver.requests[0].form()
    assert {k: v for k, v in form.items() if k not in ("token", "channel")} == expected


@pytest.mark.parametrize("field", ["attachments", "blocks"])
async def test_slack_invalid_json_is_not_retryable_and_sends_nothing(
    receiver: HttpReceiver, session: aiohttp.ClientSession, field: str
) -> None:
    service = build_service("service.slack", {"token": TOKEN, "apiURL": receiver.url + "/"})
    err = await failure(service, session, {"message": "m", "slack": {field: '[{"title": }]'}}, "C1")
    assert not err.retryable and f"slack.{field}" in str(err) and "not valid JSON" in str(err)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("answer", "retryable", "words"),
    [
        pytest.param(
            Answer(200, '{"ok": false, "error": "channel_not_found"}'),
            False,
            ["channel_not_found"],
            id="ok-false",
        ),
        pytest.param(
            Answer(200, '{"ok": false, "error": "invalid_auth"}'), False, ["invalid_auth"], id="auth"
        ),
        pytest.param(
            Answer(200, '{"ok": false, "error": "ratelimited"}'), True, ["ratelimited"], id="ratelimited"
        ),
        pytest.param(
            Answer(429, headers={"Retry-After": "30"}), True, ["HTTP 429", "Retry-After 30 s"], id="429"
        ),
        pytest.param(Answer(500, "<html>"), True, ["HTTP 500"], id="500"),
        pytest.param(
            Answer(200, f'{{"ok": false, "error": "bad token {TOKEN}"}}'), False, ["***"], id="echo"
        ),
    ],
)
async def test_slack_refusals(
    receiver: HttpReceiver, session: aiohttp.ClientSession, answer: Answer, retryable: bool, words: list[str]
) -> None:
    service = build_service("service.slack", {"token": TOKEN, "apiURL": receiver.url + "/"})
    receiver.answer(answer)
    err = await failure(service, session, {"message": "m"}, "#deploys")
    assert err.retryable is retryable
    for word in words:
        assert word in str(err)


class SlackThreads:
    """A Slack stand-in that hands out a new ts per chat.postMessage."""

    def __init__(self, receiver: HttpReceiver) -> None:
        self.count = 0
        receiver.respond = self.respond

    def respond(self, request: Any) -> Answer:
        self.count += 1
        return Answer(200, json.dumps({"ok": True, "channel": "C777", "ts": f"17.{self.count:04d}"}))


@pytest.mark.parametrize(
    ("policy", "second"),
    [
        pytest.param(
            "Post", [("chat.postMessage", {"thread_ts": "17.0001", "reply_broadcast": "true"})], id="post"
        ),
        pytest.param(
            "Update",
            [
                (
                    "chat.update",
                    {"channel": "C777", "ts": "17.0001", "as_user": "true", "thread_ts": "17.0001"},
                )
            ],
            id="update",
        ),
        pytest.param(
            "PostAndUpdate",
            [
                ("chat.postMessage", {"thread_ts": "17.0001", "reply_broadcast": "true"}),
                ("chat.update", {"channel": "C777", "ts": "17.0001", "as_user": "true"}),
            ],
            id="post-and-update",
        ),
    ],
)
async def test_slack_grouping_key_threads_and_delivery_policy(
    receiver: HttpReceiver,
    session: aiohttp.ClientSession,
    policy: str,
    second: list[tuple[str, dict[str, str]]],
) -> None:
    SlackThreads(receiver)
    service = build_service("service.slack", {"token": TOKEN, "apiURL": receiver.url + "/"})
    slack = {"groupingKey": "demo-rev-3", "notifyBroadcast": True, "deliveryPolicy": policy}
    await send(service, session, {"message": "first", "slack": slack}, "#deploys")
    await send(service, session, {"message": "second", "slack": slack}, "#deploys")
    first, *rest = receiver.requests
    assert first.path == "/chat.postMessage" and "thread_ts" not in first.form()
    assert first.form()["reply_broadcast"] == "true"
    assert [r.path.lstrip("/") for r in rest] == [method for method, _ in second]
    for request, (_, fields) in zip(rest, second, strict=True):
        form = request.form()
        assert form["text"] == "second"
        assert {k: form.get(k) for k in fields} == fields


async def test_slack_without_grouping_key_never_threads(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    SlackThreads(receiver)
    service = build_service("service.slack", {"token": TOKEN, "apiURL": receiver.url + "/"})
    for _ in range(2):
        await send(service, session, {"message": "m", "slack": {"deliveryPolicy": "Update"}}, "#x")
    assert [("thread_ts" in r.form(), r.path) for r in receiver.requests] == [
        (False, "/chat.postMessage")
    ] * 2


async def test_slack_incoming_webhook(receiver: HttpReceiver, session: aiohttp.ClientSession) -> None:
    hook = receiver.url + "/services/T000/B000/XXXXSECRET"
    service = build_service("service.slack.hook", {"webhookURL": hook})
    receiver.answer(Answer(200, "ok"))
    await send(service, session, {"message": "hello", "slack": {"attachments": '[{"text": "a"}]'}}, "ignored")
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/services/T000/B000/XXXXSECRET")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"text": "hello", "attachments": [{"text": "a"}]}
    receiver.answer(Answer(404, "no_service"))
    err = await failure(service, session, {"message": "m"})
    assert not err.retryable and "no_service" in str(err) and "XXXXSECRET" not in str(err)


# ---------------------------------------------------------------------------------------------------------
# teams and teams-workflows


async def test_teams_posts_the_engines_message_card(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service("service.teams", {"recipientUrls": {"ops": receiver.url + "/webhookb2/abc"}})
    receiver.default = Answer(200, "1")
    teams = {
        "title": "Rollout demo",
        "summary": "demo done",
        "themeColor": "#000080",
        "sections": '[{"activityTitle": "x"}]',
        "facts": '[{"name": "Revision", "value": "3"}]',
        "potentialAction": '[{"@type": "OpenUri", "name": "Open", "targets": [{"os": "default", "uri": "https://a"}]}]',
    }
    await send(service, session, {"message": "Rollout completed", "teams": teams}, "ops")
    [request] = receiver.requests
    assert (request.method, request.path, request.headers["Content-Type"]) == (
        "POST",
        "/webhookb2/abc",
        "application/json",
    )
    assert list(request.json()) == [
        "@type",
        "context",
        "title",
        "summary",
        "text",
        "themeColor",
        "potentialAction",
        "sections",
    ]
    assert request.json() == {
        "@type": "MessageCard",
        "context": "https://schema.org/extensions",
        "title": "Rollout demo",
        "summary": "demo done",
        "text": "Rollout completed",
        "themeColor": "#000080",
        "potentialAction": [
            {"@type": "OpenUri", "name": "Open", "targets": [{"os": "default", "uri": "https://a"}]}
        ],
        "sections": [{"activityTitle": "x"}, {"facts": [{"name": "Revision", "value": "3"}]}],
    }


async def test_teams_template_is_sent_verbatim(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service("service.teams", {"recipientUrls": {"ops": receiver.url + "/h"}})
    receiver.default = Answer(200, "1")
    await send(service, session, {"message": "m", "teams": {"template": '{"custom": true}'}}, "ops")
    assert receiver.requests[0].body == b'{"custom": true}'


@pytest.mark.parametrize(
    ("answer", "recipient", "retryable", "words"),
    [
        pytest.param(Answer(200, ""), "ops", False, ["empty body", "instead of 1"], id="not-1"),
        pytest.param(
            Answer(200, "Microsoft Teams endpoint returned HTTP error 429"),
            "ops",
            True,
            ["HTTP error 429"],
            id="429-in-body",
        ),
        pytest.param(Answer(400, "Summary or Text is required."), "ops", False, ["HTTP 400"], id="400"),
        pytest.param(Answer(200, "1"), "dev", False, ["'dev'", "no webhook URL"], id="unknown-channel"),
    ],
)
async def test_teams_failures(
    receiver: HttpReceiver,
    session: aiohttp.ClientSession,
    answer: Answer,
    recipient: str,
    retryable: bool,
    words: list[str],
) -> None:
    service = build_service(
        "service.teams", {"recipientUrls": {"ops": receiver.url + "/webhookb2/SECRETPATH"}}
    )
    receiver.answer(answer)
    err = await failure(service, session, {"message": "m"}, recipient)
    assert err.retryable is retryable
    for word in words:
        assert word in str(err)
    assert "SECRETPATH" not in str(err)


async def test_teams_workflows_posts_the_engines_adaptive_card(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    url = receiver.url + "/powerautomate/automations/direct/workflows/abc"
    service = build_service("service.teams-workflows", {"recipientUrls": {"ops": url}})
    receiver.default = Answer(202)
    teams = {
        "title": "Rollout demo",
        "themeColor": "Good",
        "facts": '[{"name": "Revision", "value": 3}]',
        "sections": '[{"facts": [{"name": "Image", "value": "nginx:1.27"}]}]',
        "potentialAction": '[{"@type": "OpenUri", "name": "Open", "targets": [{"uri": "https://a"}]}]',
    }
    await send(service, session, {"message": "done", "teams-workflows": teams}, "ops")
    assert receiver.requests[0].json() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "Rollout demo",
                            "size": "Large",
                            "weight": "Bolder",
                            "color": "Good",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": "done", "wrap": True},
                        {"type": "FactSet", "facts": [{"title": "Revision", "value": "3"}]},
                        {"type": "FactSet", "facts": [{"title": "Image", "value": "nginx:1.27"}]},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://a"}],
                },
            }
        ],
    }
    await send(
        service,
        session,
        {"message": "m", "teams-workflows": {"adaptiveCard": '{"type": "AdaptiveCard"}'}},
        "ops",
    )
    assert receiver.requests[1].json()["attachments"][0]["content"] == {"type": "AdaptiveCard"}


async def test_teams_workflows_refuses_a_connector_url(
    receiver: HttpReceiver, session: aiohttp.ClientSession
) -> None:
    service = build_service(
        "service.teams-workflows", {"recipientUrls": {"ops": receiver.url + "/webhookb2/x"}}
    )
    err = await failure(service, session, {"message": "m"}, "ops")
    assert not err.retryable and "Power Automate" in str(err)
    assert receiver.requests == []


# ---------------------------------------------------------------------------------------------------------
# pagerduty v2, pagerduty, opsgenie


async def test_pagerdutyv2_enqueues_the_event(receiver: HttpReceiver, session: aiohttp.ClientSession) -> None:
    service = build_service(
        "service.pagerdutyv2", {"serviceKeys": {"checkout": ROUTING_KEY}, "apiURL": receiver.url}
    )
    receiver.default = Answer(202, '{"status": "success", "message": "Event processed", "dedup_key": "k"}')
    template = {
        "message": "Rollout aborted",
        "pagerdutyv2": {
            "summary": "demo aborted",
            "severity": "critical",
            "source": "demo",
            "component": "web",
            "url": "https://argo/x",
        },
    }
    await send(service, session, template, "checkout")
    [request] = receiver.requests
    assert (request.method, request.path, request.headers["Content-Type"]) == (
        "POST",
        "/v2/enqueue",
        "application/json",
    )
    assert request.json() == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": KEY,
        "client": "ArgoCD",
        "client_url": "https://argo/x",
        "payload": {"summary": "demo aborted", "source": "demo", "severity": "critical", "component": "web"},
    }
    await send(
        service,
        session,
        {"message": "fallback", "pagerdutyv2": {"dedupKey": "mine", "severity": "info"}},
        "checkout",
    )
    event = receiver.requests[1].json()
    assert (event["dedup_key"], event["payload"]["summary"]) == ("mine", "fallback")


@pytest.mark.parametrize(
    ("answer", "template", "recipient", "retryable", "words"),
    [
        pytest.param(
            Answer(
                400,
                json.dumps(
                    {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": [f"bad key {ROUTING_KEY}"],
                    }
                ),
            ),
            {"pagerdutyv2": {}},
            "checkout",
            False,
            ["HTTP 400", "Event object is invalid", "bad key ***"],
            id="400",
        ),
        pytest.param(Answer(429), {"pagerdutyv2": {}}, "checkout", True, ["HTTP 429"], id="429"),
        pytest.param(
            Answer(202), {"message": "m"}, "checkout", False, ["no pagerdutyv2 section"], id="no-section"
        ),
        pytest.param(Answer(202), {"pagerdutyv2": {}}, "other", False, ["'other'"], id="unknown-service"),
    ],
)
async def test_pagerdutyv2_failures(
    receiver: HttpReceiver,
    session: aiohttp.ClientSession,
    answer: Answer,
    template: dict[str, Any],
    recipient: str,
    retryable: bool,
    words: list[str],
) -> None:
    service = build_service(
        "service.pagerdutyv2", {"serviceKeys": {"checkout": ROUTING_KEY}, "apiURL": receiver.url}
    )
    receiver.answer(answer)
    err = await failure(service, session, template, recipient)
    assert err.retryable is retryable
    for word in words:
        assert word in str(err)


async def test_pagerduty_creates_an_incident(receiver: HttpReceiver, session: aiohttp.ClientSession) -> None:
    service = build_service(
        "service.pagerduty", {"token": PD_TOKEN, "from": "ops@x.test", "apiURL": receiver.url}
    )
    receiver.default = Answer(201, '{"incident": {"id": "Q1"}}')
    pd = {"title": "Rollout demo aborted", "body": "details", "urgency": "high", "priorityID": "P53"}
    await send(service, session, {"message": "m", "pagerduty": pd}, "PSVC1")
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/incidents")
    assert {k: request.headers[k] for k in ("Accept", "Authorization", "From", "Content-Type")} == {
        "Accept": "application/vnd.pagerduty+json;version=2",
        "Authorization": f"Token token={PD_TOKEN}",
        "From": "ops@x.test",
        "Content-Type": "application/json",
    }
    assert request.json() == {
        "incident": {
            "type": "incident",
            "title": "Rollout demo aborted",
            "service": {"id": "PSVC1", "type": "service_reference"},
            "priority": {"id": "P53", "type": "priority"},
            "urgency": "high",
            "incident_key": KEY,
            "body": {"type": "incident_details", "details": "details"},
        }
    }
    receiver.answer(Answer(401, json.dumps({"error": {"message": "Unauthorized", "code": 2006}})))
    err = await failure(service, session, {"message": "m"}, "PSVC1")
    assert not err.retryable and "Unauthorized" in str(err)


async def test_opsgenie_creates_an_alert(receiver: HttpReceiver, session: aiohttp.ClientSession) -> None:
    service = build_service("service.opsgenie", {"apiUrl": receiver.url, "apiKeys": {"sre": GENIE_KEY}})
    receiver.default = Answer(202, '{"result": "Request will be processed", "requestId": "r"}')
    og = {
        "description": "Rollout demo aborted at step 3",
        "priority": "P1",
        "note": "from rollouts",
        "actions": ["Restart"],
        "tags": ["critical"],
        "details": {"env": "prod"},
        "entity": "demo",
        "user": "argo",
        "visibleTo": [{"Id": "team-1", "Type": "team"}, {"Username": "a@b.test", "Type": "user"}],
    }
    await send(service, session, {"message": "Rollout demo aborted", "opsgenie": og}, "sre")
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/v2/alerts")
    assert request.headers["Authorization"] == f"GenieKey {GENIE_KEY}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.json() == {
        "message": "Rollout demo aborted",
        "alias": KEY,
        "description": "Rollout demo aborted at step 3",
        "responders": [{"type": "team", "id": "sre"}],
        "visibleTo": [{"type": "team", "id": "team-1"}, {"type": "user", "username": "a@b.test"}],
        "actions": ["Restart"],
        "tags": ["critical"],
        "details": {"env": "prod"},
        "entity": "demo",
        "source": "Argo CD",
        "priority": "P1",
        "user": "argo",
        "note": "from rollouts",
    }
    await send(service, session, {"message": "plain"}, "sre")
    assert receiver.requests[1].json() == {
        "message": "plain",
        "alias": KEY,
        "responders": [{"type": "team", "id": "sre"}],
        "source": "Argo CD",
    }


@pytest.mark.parametrize(
    ("answer", "template", "recipient", "retryable", "words"),
    [
        pytest.param(
            Answer(422, json.dumps({"message": f"Key {GENIE_KEY} is invalid", "took": 0.0})),
            {"message": "m"},
            "sre",
            False,
            ["HTTP 422", "Key *** is invalid"],
            id="422",
        ),
        pytest.param(Answer(502), {"message": "m"}, "sre", True, ["HTTP 502"], id="502"),
        pytest.param(
            Answer(202),
            {"message": "m", "opsgenie": {"priority": "P1"}},
            "sre",
            False,
            ["description"],
            id="no-desc",
        ),
        pytest.param(Answer(202), {"message": "m"}, "dev", False, ["'dev'"], id="unknown-team"),
        pytest.param(Answer(202), {"email": {}}, "sre", False, ["no message"], id="no-message"),
    ],
)
async def test_opsgenie_failures(
    receiver: HttpReceiver,
    session: aiohttp.ClientSession,
    answer: Answer,
    template: dict[str, Any],
    recipient: str,
    retryable: bool,
    words: list[str],
) -> None:
    service = build_service("service.opsgenie", {"apiUrl": receiver.url, "apiKeys": {"sre": GENIE_KEY}})
    receiver.answer(answer)
    err = await failure(service, session, template, recipient)
    assert err.retryable is retryable
    for word in words:
        assert word in str(err)


def test_opsgenie_api_url_without_scheme_is_https() -> None:
    service = build_service(
        "service.opsgenie", {"apiUrl": "api.eu.opsgenie.com", "apiKeys": {"t": GENIE_KEY}}
    )
    assert isinstance(service, OpsgenieService) and service.api_url == "https://api.eu.opsgenie.com"


# ---------------------------------------------------------------------------------------------------------
# email


@pytest.fixture
def smtp(server_tls: ssl.SSLContext) -> Iterator[SmtpReceiver]:
    server = SmtpReceiver(server_tls, {"argo": PASSWORD})
    server.controller.start()
    yield server
    server.controller.stop()


def email_options(smtp: SmtpReceiver, ca: trustme.CA, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": smtp.port,
        "from": "Argo Rollouts <rollouts@example.test>",
        "username": "argo",
        "password": PASSWORD,
        "ca_cert": ca.cert_pem.bytes().decode(),
        **extra,
    }


async def test_email_over_starttls_with_auth(
    smtp: SmtpReceiver, ca: trustme.CA, session: aiohttp.ClientSession
) -> None:
    service = build_service("service.email.relay", email_options(smtp, ca))
    template = {
        "message": "plain message",
        "email": {"subject": "Rollout demo completed", "body": "All steps done."},
    }
    await send(service, session, template, "a@example.test, b@example.test")
    [received] = smtp.received
    assert received.tls and received.login == "argo"
    assert received.mail_from == "rollouts@example.test"
    assert received.rcpt_tos == ["a@example.test", "b@example.test"]
    message = received.message
    assert message["From"] == "Argo Rollouts <rollouts@example.test>"
    assert message["To"] == "a@example.test, b@example.test"
    assert message["Subject"] == "Rollout demo completed"
    assert message["Message-ID"] == message_id(KEY, "rollouts@example.test")
    assert message["Message-ID"].endswith("@example.test>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "All steps done."


async def test_email_html_body_falls_back_to_the_message(
    smtp: SmtpReceiver, ca: trustme.CA, session: aiohttp.ClientSession
) -> None:
    service = build_service("service.email", email_options(smtp, ca, html=True))
    await send(service, session, {"message": "<b>done</b>"}, "a@example.test")
    message = smtp.received[0].message
    assert (message.get_content_type(), message.get_content().strip(), message["Subject"]) == (
        "text/html",
        "<b>done</b>",
        "",
    )


async def test_email_insecure_skip_verify_and_untrusted_certificate(
    smtp: SmtpReceiver, ca: trustme.CA, session: aiohttp.ClientSession
) -> None:
    options = email_options(smtp, ca)
    del options["ca_cert"]
    err = await failure(build_service("service.email", options), session, {"message": "m"}, "a@example.test")
    assert not err.retryable and "not trusted" in str(err)
    await send(
        build_service("service.email", {**options, "insecure_skip_verify": True}),
        session,
        {"message": "m"},
        "a@example.test",
    )
    assert smtp.received[0].tls


def test_message_id_is_stable_and_well_formed() -> None:
    assert message_id("abc-1", "x@d.test") == "<abc-1@d.test>"
    odd = message_id("rollout/ns name/3", "Name <x@d.test>")
    assert odd == message_id("rollout/ns name/3", "x@d.test")
    assert " " not in odd and odd.startswith("<rollout/ns-name/3.") and odd.endswith("@d.test>")


@pytest.mark.parametrize(
    ("setup", "recipient", "retryable", "status", "words"),
    [
        pytest.param({"password": "wrong"}, "a@example.test", False, 535, ["535"], id="bad-password"),
        pytest.param(
            {"refuse": {"nobody@example.test": "550 5.1.1 No such user"}},
            "nobody@example.test",
            False,
            550,
            ["nobody@example.test", "550"],
            id="refused-5xx",
        ),
        pytest.param(
            {"refuse": {"busy@example.test": "450 4.2.1 Mailbox busy"}},
            "busy@example.test",
            True,
            450,
            ["busy@example.test", "450"],
            id="refused-4xx",
        ),
        pytest.param(
            {"refuse": {"nobody@example.test": "550 5.1.1 No such user"}},
            "a@example.test, nobody@example.test",
            False,
            550,
            ["nobody@example.test"],
            id="partly-refused",
        ),
        pytest.param({"delay": 2.0}, "a@example.test", True, None, ["timed out"], id="slow"),
        pytest.param({}, " , ", False, None, ["no address"], id="no-address"),
    ],
)
async def test_email_failures(
    smtp: SmtpReceiver,
    ca: trustme.CA,
    session: aiohttp.ClientSession,
    setup: dict[str, Any],
    recipient: str,
    retryable: bool,
    status: int | None,
    words: list[str],
) -> None:
    smtp.handler.refuse = setup.get("refuse", {})
    smtp.handler.data_delay = setup.get("delay", 0.0)
    options = email_options(smtp, ca)
    if "password" in setup:
        options["password"] = setup["password"]
    err = await failure(
        build_service("service.email", options), session, {"message": "m"}, recipient, seconds=0.8
    )
    assert (err.retryable, err.status) == (retryable, status)
    for word in words:
        assert word in str(err)


async def test_email_server_down_is_retryable(ca: trustme.CA, session: aiohttp.ClientSession) -> None:
    options = {"host": "127.0.0.1", "port": free_port(), "from": "r@example.test", "password": PASSWORD}
    err = await failure(build_service("service.email", options), session, {"message": "m"}, "a@example.test")
    assert err.retryable and "connection refused" in str(err)
