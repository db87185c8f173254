"""The email notification service (`service.email[.<name>]`), as notifications-engine's email.go sends it
through gomail, with aiosmtplib.

Where it sits: built by `rollouts.notifications.services.build_service`; one `send` is one SMTP session.

Options: host, port, from, username, password, html, insecure_skip_verify, and our extension ca_cert (PEM
certificates to trust, for a relay with a private CA). Like gomail: port 465 is TLS from the first byte, any
other port upgrades with STARTTLS when the server offers it, and credentials are used only when both username
and password are set and the server offers AUTH. Unlike gomail, the password is never sent over a connection
that is not encrypted, except to a loopback address (Go's PLAIN auth has the same rule).

The recipient is one address or several separated by commas (spaces around them are trimmed, as in the
engine). Subject: the template's `email.subject` (empty without one); body: `email.body`, else `message`;
text/html when `html` is true, else text/plain, UTF-8.

Our addition: a `Message-ID` made from the idempotency key, `<key@domain of from>` (characters a Message-ID
cannot hold are replaced, and a digest of the key added), so a resend carries the same Message-ID and mail
systems and readers can tell it is one message.

Failures: a refused connection, a timeout, a dropped connection and SMTP 4xx answers are retryable; SMTP 5xx
answers (a refused recipient, sender or password, a rejected message) and a certificate that is not trusted
are not. A message that some recipients took and others refused raises too, so the failure is seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

import aiohttp
import aiosmtplib

from rollouts.notifications.servicebase import (
    Options,
    SendError,
    excerpt,
    message_of,
    secrets_of,
    template_section,
    text,
)

__all__ = ["EmailService", "message_id"]

_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def message_id(idempotency_key: str, sender: str) -> str:
    """The Message-ID for one notification: the same key gives the same Message-ID."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "rollouts.invalid"
    local = _UNSAFE.sub("-", idempotency_key).strip(".") or "notification"
    if local != idempotency_key:
        local += "." + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"<{local}@{domain}>"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmailService:
    type = "email"

    def __init__(self, name: str, opts: Options) -> None:
        self.name = name
        self.host = opts.string("host", required=True)
        self.port = opts.integer("port", required=True)
        self.sender = opts.string("from", required=True)
        self.username = opts.string("username")
        self.password = opts.string("password")
        self.html = opts.boolean("html")
        self.tls = opts.tls("insecure_skip_verify", "ca_cert")
        self.secrets = secrets_of([self.password])

    def _message(self, notification: Mapping[str, Any], to: list[str], idempotency_key: str) -> EmailMessage:
        section = template_section(notification, "email")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(to)
        mail["Subject"] = text(section, "subject")
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(idempotency_key, self.sender)
        body = text(section, "body") or message_of(notification)
        mail.set_content(body, subtype="html" if self.html else "plain", charset="utf-8")
        return mail

    async def send(
        self,
        notification: Mapping[str, Any],
        recipient: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,  # noqa: ASYNC109 (the delivery layer's contract: one attempt's budget)
        idempotency_key: str,
    ) -> None:
        to = [address.strip() for address in recipient.split(",") if address.strip()]
        what = f"SMTP server {self.host}:{self.port}"
        if not to:
            raise SendError(f"The email recipient {recipient!r} holds no address.", retryable=False)
        mail = self._message(notification, to, idempotency_key)
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=timeout,
            use_tls=self.port == 465,
            start_tls=None if self.port != 465 else False,
            validate_certs=self.tls is not False,
            tls_context=self.tls if isinstance(self.tls, ssl.SSLContext) else None,
        )
        try:
            async with asyncio.timeout(timeout):
                await self._session(client, mail, to, what)
        except SendError:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise self._refused(what, [(r.recipient, r.code, r.message) for r in exc.recipients]) from None
        except aiosmtplib.SMTPResponseException as exc:
            said = excerpt(exc.message, self.secrets)
            raise SendError(
                f"{what} answered {exc.code} {said}.", retryable=400 <= exc.code < 500, status=exc.code
            ) from None
        except (ssl.SSLCertVerificationError, ssl.CertificateError):
            raise SendError(
                f"{what} presented a TLS certificate that is not trusted (set insecure_skip_verify, or ca_cert).",
                retryable=False,
            ) from None
        except aiosmtplib.SMTPNotSupported as exc:
            raise SendError(
                f"{what} does not support {excerpt(str(exc), self.secrets)}.", retryable=False
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise SendError(
                    f"{what} presented a TLS certificate that is not trusted (set insecure_skip_verify, or ca_cert).",
                    retryable=False,
                ) from None
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            if isinstance(exc, ConnectionRefusedError) or isinstance(cause, ConnectionRefusedError):
                reason = "connection refused"
            raise SendError(f"{what} could not take the message ({reason}).", retryable=True) from None
        finally:
            client.close()

    async def _session(self, client: aiosmtplib.SMTP, mail: EmailMessage, to: list[str], what: str) -> None:
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # after STARTTLS the server's extensions are asked again
            await client.ehlo()
        if self.username and self.password and client.supports_extension("auth"):
            if not client.is_connected or not (
                client.get_transport_info("sslcontext") or _is_loopback(self.host)
            ):
                raise SendError(f"{what} offers no TLS, so the password is not sent to it.", retryable=False)
            await client.login(self.username, self.password)
        errors, _ = await client.send_message(mail, recipients=to)
        if errors:
            raise self._refused(what, [(address, code, said) for address, (code, said) in errors.items()])
        await client.quit()

    def _refused(self, what: str, refused: list[tuple[str, int, str]]) -> SendError:
        names = ", ".join(
            f"{address} ({code} {excerpt(said, self.secrets, 80)})" for address, code, said in refused
        )
        temporary = all(400 <= code < 500 for _, code, _ in refused)
        code = refused[0][1] if refused else None
        return SendError(f"{what} refused recipients {names}.", retryable=temporary, status=code)
