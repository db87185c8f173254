"""PURE: removing secret values from what the engine writes, in every form a backend may echo them back in.

Used by the runner (`analysis.runner`) on every measurement message, value and metadata of a run that has
`secretKeyRef` arguments, and on the run's own error message, before anything reaches a status, a log line or
the CLI's output. `analysis.args` re-exports `redact` and `REDACTED`, where the arguments are resolved.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "redact", "secret_forms"]

REDACTED = "*****"
_MIN_EMBEDDED_BASE64 = 8  # shortest base64 run of a secret inside a longer blob that is worth redacting


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every (non-empty) secret value in `text` with ``*****``, in every form a backend may echo it in.

    The forms (`secret_forms`): the value itself; JSON-escaped (with and without ``\\uXXXX`` escapes, and
    with Go's HTML escapes of ``<>&``); Python-escaped (a `repr` in a message); URL-encoded by any encoder (``quote`` and ``quote_plus``); each of these also of
    the value's UTF-8 bytes read as Latin-1 (a server echoing a header it decoded so); base64 standard and
    URL-safe, with and without padding; and the run of base64 characters the secret always produces inside a
    longer base64 value, at each of the three byte alignments (the password in an echoed
    ``Authorization: Basic base64(user:password)``), for secrets long enough that such a run cannot be
    mistaken for other text.

    >>> redact('auth "Basic dXNlcjpzM2NyZXQtdmFsdWU=" sent', ["s3cret-value"])
    'auth "Basic dXNlcjp*****U=" sent'
    """
    for secret in secrets:
        if secret:
            for form in secret_forms(secret):
                if form in text:
                    text = text.replace(form, REDACTED)
            text = _url_encoded(secret).sub(REDACTED, text)
    return text


def _hex_byte(byte: int) -> str:
    """A regular expression for `%XX` of `byte`, in either case."""
    return "%" + "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{byte:02X}")


@lru_cache(maxsize=256)
def _url_encoded(secret: str) -> re.Pattern[str]:
    """The secret URL-encoded by any encoder: each character as itself or as its percent-encoded UTF-8
    bytes (either case), a space also as ``+`` — encoders differ in which characters they leave alone."""
    parts = []
    for char in secret:
        options = [re.escape(char), "".join(_hex_byte(b) for b in char.encode())]
        if char == " ":
            options.append(r"\+")
        parts.append("(?:" + "|".join(options) + ")")
    return re.compile("".join(parts))


@lru_cache(maxsize=256)
def secret_forms(secret: str) -> tuple[str, ...]:
    """Every encoding of `secret` that `redact` removes, longest first (so no longer form is left half-done)."""
    forms: set[str] = set()
    # A server that reads the UTF-8 bytes of a header as Latin-1 (HTTP's historical charset, what Python's
    # http.server does) echoes a non-ASCII secret as mojibake: that is a form of it too.
    for text in {secret, secret.encode().decode("latin-1")}:
        forms.update((text, quote(text, safe=""), quote(text), quote_plus(text), repr(text)[1:-1]))
        for ascii_only in (True, False):
            escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
            forms.add(escaped)
            forms.add(escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    raw = secret.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        forms.update((whole, whole.rstrip("=")))
        for offset in (0, 1, 2):  # the secret's first byte at this position of a 3-byte group
            encoded = encode(b"\0" * offset + raw).decode()
            first = -(-8 * offset // 6)  # the first character made of the secret's bits only
            last = 8 * (offset + len(raw)) // 6  # one past the last such character
            core = encoded[first:last]
            if len(core) >= _MIN_EMBEDDED_BASE64:
                forms.add(core)
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))
