"""The Slack notification service (`service.slack[.<name>]`), as notifications-engine's slack.go sends it.

Where it sits: built by `rollouts.notifications.services.build_service`; one `send` is one attempt.

Options: token (the bot's OAuth token), apiURL (default https://slack.com/api/), username, icon (`:emoji:` or
an http(s) image URL), disableUnfurl, insecureSkipVerify, signingSecret (kept for redaction; sending does not
use it), channels (accepted, unused, as in the engine). The recipient is the channel.

The request is slack-go's: a form POST of `chat.postMessage` with token, channel, text (the template's
`message`), username and icon_emoji/icon_url (template `slack.username`/`slack.icon` first), and, when the
template has a `slack` section, attachments (`[]` when it has none) and blocks (when it has some), both the
template's JSON strings re-encoded compactly (field order and unknown fields are kept, where slack-go's structs
would reorder and drop them); an invalid one is a SendError that retrying cannot heal, naming the field.

Threads, as the engine's threaded client: the first message sent with a `slack.groupingKey` to a channel
starts a thread whose timestamp is remembered in this process (keyed by API URL, channel and grouping key, and
shared by every Slack service like the engine's package-level state); later ones with that key go to the
thread (`thread_ts`, and `reply_broadcast` when `slack.notifyBroadcast`). `slack.deliveryPolicy`: Post (the
default, and any unknown value) posts every time; Update posts the first message and then rewrites it with
`chat.update`; PostAndUpdate posts into the thread and also rewrites the first message. Like the engine's, the
remembered threads are lost when the controller restarts.

Answers: Slack says HTTP 200 with `{"ok": false, "error": ...}` when it refuses; that is a SendError which is
retryable only for `ratelimited` and Slack's own transient errors (internal_error, fatal_error,
service_unavailable, request_timeout). HTTP 429 is retryable and carries Retry-After in `retry_after`.

Our extension, `webhookURL`: a Slack incoming webhook. With it the service needs no token and posts JSON
{"text", "attachments", "blocks"} (the last two only when the template has them) to that URL, which fixes the
channel (the recipient is unused, and threads are not available: webhooks do not return a message timestamp).
The webhook answers `ok`, or a non-2xx status with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from rollouts.notifications.servicebase import (
    Options,
    SendError,
    ServiceConfigError,
    attempt,
    excerpt,
    http_request,
    json_field,
    lookup,
    message_of,
    retry_after,
    secrets_of,
    status_error,
    template_section,
    text,
)

__all__ = ["SlackService"]

DEFAULT_API_URL = "https://slack.com/api/"
_EMOJI = re.compile(r"^:.+:$")
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_POLICIES = frozenset({"Post", "PostAndUpdate", "Update"})

#: (api url, channel, grouping key) → the timestamp of the thread's first message
_THREADS: dict[tuple[str, str, str], str] = {}
#: (api url, channel as subscribed) → the channel ID Slack answered (chat.update needs the ID)
_CHANNEL_IDS: dict[tuple[str, str], str] = {}


def _icon_field(icon: str) -> tuple[str, str] | None:
    if _EMOJI.match(icon):
        return "icon_emoji", icon
    parts = urlsplit(icon)
    if parts.scheme in ("http", "https") and parts.netloc:
        return "icon_url", icon
    return None  # the engine logs a warning and sends no icon


class SlackService:
    type = "slack"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.token = opts.string("token")
        self.webhook_url = opts.string("webhookURL")
        if not self.token and not self.webhook_url:
            raise ServiceConfigError(f"{opts.key} has neither token nor webhookURL; Slack needs one of them.")
        if self.webhook_url and urlsplit(self.webhook_url).scheme not in ("http", "https"):
            raise ServiceConfigError(f"{opts.key} field webhookURL must be an http:// or https:// URL.")
        api_url = opts.string("apiURL", default=DEFAULT_API_URL)
        if urlsplit(api_url).scheme not in ("http", "https"):
            raise ServiceConfigError(f"{opts.key} field apiURL must be an http:// or https:// URL.")
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.username = opts.string("username")
        self.icon = opts.string("icon")
        self.disable_unfurl = opts.boolean("disableUnfurl")
        self.tls = opts.tls("insecureSkipVerify", "caCert")
        self.secrets = secrets_of([self.token, opts.string("signingSecret"), self.webhook_url])

    def _fields(self, notification: Mapping[str, Any], section: Mapping[str, Any] | None) -> dict[str, str]:
        """The message's form fields, as the engine's buildMessageOptions."""
        fields = {"text": message_of(notification)}
        username = text(section, "username") or self.username
        if username:
            fields["username"] = username
        icon = _icon_field(text(section, "icon") or self.icon)
        if icon is not None:
            fields[icon[0]] = icon[1]
        if section is not None:
            raw = text(section, "attachments")
            attachments = json_field(raw, "slack.attachments") if raw else []
            fields["attachments"] = json.dumps(attachments, separators=(",", ":"), ensure_ascii=False)
            raw = text(section, "blocks")
            if raw:
                blocks = json_field(raw, "slack.blocks")
                fields["blocks"] = json.dumps(blocks, separators=(",", ":"), ensure_ascii=False)
        if self.disable_unfurl:
            fields |= {"unfurl_links": "false", "unfurl_media": "false"}
        return fields

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        section = template_section(notification, "slack")
        if self.webhook_url:
            await self._send_webhook(notification, section, session, timeout)
            return
        fields = self._fields(notification, section)
        grouping = text(section, "groupingKey")
        broadcast = bool(lookup(section, "notifyBroadcast")) if section is not None else False
        policy = text(section, "deliveryPolicy")
        policy = policy if policy in _POLICIES else "Post"
        thread_key = (self.api_url, recipient, grouping)
        ts = _THREADS.get(thread_key, "") if grouping else ""
        if ts:
            fields["thread_ts"] = ts
        async with attempt(f"Slack ({recipient})", timeout):
            if not ts or policy in ("Post", "PostAndUpdate"):
                post = fields | ({"reply_broadcast": "true"} if broadcast else {})
                answer = await self._call(session, "chat.postMessage", recipient, post)
                if grouping and not ts and isinstance(answer.get("ts"), str):
                    _THREADS[thread_key] = answer["ts"]
                if isinstance(answer.get("channel"), str):
                    _CHANNEL_IDS[(self.api_url, recipient)] = answer["channel"]
            if ts and policy in ("Update", "PostAndUpdate"):
                channel = _CHANNEL_IDS.get((self.api_url, recipient), recipient)
                await self._call(session, "chat.update", channel, fields | {"ts": ts, "as_user": "true"})

    async def _call(
        self, session: aiohttp.ClientSession, method: str, channel: str, fields: Mapping[str, str]
    ) -> Mapping[str, Any]:
        """One Web API call (form-encoded, fields sorted as Go's url.Values.Encode); Slack's JSON answer."""
        form = {"token": self.token, "channel": channel, **fields}
        what = f"Slack {method} to {channel!r}"
        status, answer, headers = await http_request(
            session,
            "POST",
            self.api_url + method,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(sorted(form.items())).encode(),
            tls=self.tls,
        )
        if not 200 <= status <= 299:
            raise status_error(what, status, excerpt(answer, self.secrets), headers)
        try:
            data = json.loads(answer)
        except ValueError:
            raise SendError(
                f"{what} answered something that is not JSON.", retryable=True, status=status
            ) from None
        if not isinstance(data, Mapping):
            raise SendError(f"{what} answered JSON that is not an object.", retryable=True, status=status)
        if data.get("ok") is not True:
            error = excerpt(str(data.get("error") or "unknown_error"), self.secrets)
            err = SendError(
                f"{what} was refused by Slack: {error}.", retryable=error in _TRANSIENT, status=status
            )
            err.retry_after = retry_after(headers)
            raise err
        return data

    async def _send_webhook(
        self,
        notification: Mapping[str, Any],
        section: Mapping[str, Any] | None,
        session: aiohttp.ClientSession,
        seconds: float,
    ) -> None:
        payload: dict[str, Any] = {"text": message_of(notification)}
        for field in ("attachments", "blocks"):
            raw = text(section, field)
            if raw:
                payload[field] = json_field(raw, f"slack.{field}")
        what = f"Slack incoming webhook of service {self.name!r}"
        async with attempt(what, seconds):
            status, answer, headers = await http_request(
                session,
                "POST",
                self.webhook_url,
                headers={"Content-Type": "application/json"},
                body=json.dumps(payload).encode(),
                tls=self.tls,
            )
        if not 200 <= status <= 299:
            raise status_error(what, status, excerpt(answer, self.secrets), headers)
