"""The outbox: notifications owed, kept on the Rollout itself so that a controller restart or a new leader
neither loses nor repeats one (pure; docs/notifications.md#exactly-once).

Argo Rollouts sends from its event recorder, in memory: a crash between the status write and the send loses
the notification. Here a reconcile pass that emits Events with subscribers writes, **after its actions and
before its status write** (in the Rollout metadata patch the pass may make anyway, guarded by the same
resourceVersion), one annotation per notification owed:

    rollouts.argoproj.io/notify.<id>: {"t": trigger, "c": condition, "s": service, "r": recipient, "tp": [templates],
                                       "o": oncePer value, "n": config namespace, "e": reason, "b": status digest before,
                                       "l": 1 when the pass writes no status, "at": unix time}

The delivery lane removes the annotation once the receiver accepted it (or it was given up, said in a Warning
Event). The `id` is a digest of the Rollout's uid, the Event, the status before the pass and the destination:
the same transition decided again (after a 409, or after a crash before the status write) has the same id, so
it is owed once. On every pass, an entry that no lane is sending is looked at (`recoverable`):

* the status digest differs from `b` (the status write landed; later passes may have moved it on), or the pass
  wrote no status (`l`): the notification is owed, it is sent;
* the status is still the one before the pass: the transition has not happened (yet); the pass that makes it
  will find the same id; an entry left so for `STALE_AFTER` seconds is dropped.

What remains: a crash after the receiver accepted and before the annotation is removed sends it again on
restart, with the same id as idempotency key (PagerDuty `dedup_key`, Opsgenie `alias`, email `Message-ID`,
webhook `X-Rollouts-Notification-Id`), so receivers that deduplicate show it once.

`oncePer` (notifications-engine's per-value deduplication) is kept in Argo's own annotation
`notified.notifications.argoproj.io`: a JSON map of `<trigger>:[<condition>]:<value>:<service>:<recipient>` to
the unix time it was sent, bounded to `MAX_NOTIFIED` entries (the oldest go first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rollouts.models.vocabulary import NOTIFY_OUTBOX_PREFIX
from rollouts.notifications.triggers import Destination, Fired

PENDING_PREFIX = NOTIFY_OUTBOX_PREFIX
NOTIFIED_ANNOTATION = "notified.notifications.argoproj.io"
MAX_NOTIFIED = 200
STALE_AFTER = 600.0


@dataclass(frozen=True)
class Entry:
    """One notification owed."""

    id: str
    trigger: str
    condition: int
    templates: tuple[str, ...]
    destination: Destination
    once_per: str
    config_namespace: str
    reason: str
    event_type: str
    before: str
    no_status: bool
    at: float

    @property
    def annotation(self) -> str:
        return PENDING_PREFIX + self.id

    @property
    def once_key(self) -> str:
        d = self.destination
        return f"{self.trigger}:[{self.condition}]:{self.once_per}:{d.service}:{d.recipient}"

    def encode(self) -> str:
        return json.dumps(
            {
                "t": self.trigger,
                "c": self.condition,
                "s": self.destination.service,
                "r": self.destination.recipient,
                "tp": list(self.templates),
                "o": self.once_per,
                "n": self.config_namespace,
                "e": self.reason,
                "et": self.event_type,
                "b": self.before,
                "l": 1 if self.no_status else 0,
                "at": round(self.at, 3),
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def decode(cls, key: str, value: str) -> Entry | None:
        """None when the annotation is not one of ours or cannot be read (it is then removed as garbage)."""
        try:
            d = json.loads(value)
            return cls(
                id=key[len(PENDING_PREFIX) :],
                trigger=str(d["t"]),
                condition=int(d["c"]),
                templates=tuple(str(t) for t in d["tp"]),
                destination=Destination(str(d["s"]), str(d["r"])),
                once_per=str(d.get("o") or ""),
                config_namespace=str(d["n"]),
                reason=str(d.get("e") or ""),
                event_type=str(d.get("et") or "Normal"),
                before=str(d["b"]),
                no_status=bool(d.get("l")),
                at=float(d["at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def status_digest(status: Mapping[str, Any] | None) -> str:
    """A digest of a status as the API server keeps it (null members dropped, keys sorted)."""
    text = json.dumps(_canonical(status or {}), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def entries_for(
    obj: Mapping[str, Any],
    fired: list[Fired],
    *,
    config_namespace: str,
    reason: str,
    event_type: str,
    message: str,
    before: str,
    no_status: bool,
    now: float,
) -> list[Entry]:
    """The outbox entries for the conditions that fired on one Event."""
    uid = str((obj.get("metadata") or {}).get("uid") or "")
    out = []
    for f in fired:
        seed = "\x00".join(
            (
                uid,
                reason,
                message,
                before,
                f.trigger,
                str(f.condition),
                f.destination.service,
                f.destination.recipient,
                config_namespace,
            )
        )
        out.append(
            Entry(
                id=hashlib.sha1(seed.encode()).hexdigest()[:16],
                trigger=f.trigger,
                condition=f.condition,
                templates=f.templates,
                destination=f.destination,
                once_per=f.once_per,
                config_namespace=config_namespace,
                reason=reason,
                event_type=event_type,
                before=before,
                no_status=no_status,
                at=now,
            )
        )
    return out


def pending(obj: Mapping[str, Any]) -> dict[str, Entry | None]:
    """The annotation key of every outbox entry on the object (None: unreadable, to be removed)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return {k: Entry.decode(k, str(v)) for k, v in annotations.items() if str(k).startswith(PENDING_PREFIX)}


def recoverable(entry: Entry, status: Mapping[str, Any] | None, now: float) -> str:
    """'send' (owed), 'wait' (its transition has not landed yet) or 'drop' (it never landed: stale)."""
    if entry.no_status or status_digest(status) != entry.before:
        return "send"
    return "drop" if now - entry.at > STALE_AFTER else "wait"


def notified(obj: Mapping[str, Any]) -> dict[str, float]:
    """The oncePer ledger (unreadable → empty, as the engine treats it)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(NOTIFIED_ANNOTATION)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def with_notified(ledger: Mapping[str, float], key: str, now: float) -> str:
    """The ledger with `key` added, the oldest entries dropped past MAX_NOTIFIED, as the annotation value."""
    merged = {**ledger, key: now}
    kept = sorted(merged.items(), key=lambda kv: kv[1])[-MAX_NOTIFIED:]
    return json.dumps({k: int(v) for k, v in kept}, sort_keys=True, separators=(",", ":"))
