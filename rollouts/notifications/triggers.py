"""Who is told of an Event, and with which templates: subscriptions and triggers (pure).

Argo Rollouts sends notifications from its event recorder (`utils/record/record.go`, `sendNotifications`):
an Event of reason `RolloutStepCompleted` runs the trigger `on-rollout-step-completed`
(`translateReasonToTrigger`: the reason in kebab case, prefixed `on-`), for the destinations subscribed to
that trigger. Destinations come from (notifications-engine `pkg/subscriptions`):

* the object's annotations `notifications.argoproj.io/subscribe.<trigger>.<service>: r1;r2` (an empty value
  is one destination with no recipient; `subscribe.<service>` with no trigger means the `defaultTriggers`,
  or `defaultTriggers.<service>` when set) and `notifications.argoproj.io/subscriptions` (a YAML list of
  `{trigger: [...], destinations: [{service, recipients}]}`);
* the config's `subscriptions` list, matched by label selector (no `triggers` = the `defaultTriggers`).

A trigger's conditions are then run: a condition without `when` always sends (Argo Rollouts' "empty
condition"), one with `when` sends when the expr-lang predicate is true over `rollout` (the object),
`analysisRuns` (of the current revision), `secrets` (the Secret's values) — evaluated in the analysis
conditions' sandbox and budget. `oncePer` is evaluated too; its value makes the delivery once per value
(`rollouts.notifications.outbox`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from analysis.conditions import ConditionError, evaluate_expression
from rollouts.notifications.config import Condition, NotificationConfig

DOMAIN = "notifications.argoproj.io"
SUBSCRIBE_PREFIX = f"{DOMAIN}/subscribe."
SUBSCRIPTIONS_KEY = f"{DOMAIN}/subscriptions"
_FIRST_CAP = re.compile(r"(.)([A-Z][a-z]+)")
_ALL_CAP = re.compile(r"([a-z0-9])([A-Z])")
# The destinations one object's annotations may subscribe (each trigger × service × recipient counts one). A few
# KiB of YAML with anchors and aliases can describe billions; past this the rest is left out and said.
MAX_DESTINATIONS = 1000


@dataclass(frozen=True, order=True)
class Destination:
    service: str
    recipient: str

    def __str__(self) -> str:
        return f"{self.service}:{self.recipient}" if self.recipient else self.service


@dataclass(frozen=True)
class Fired:
    """A condition that fired: send `templates` to `destination` (`once_per`: the oncePer value, or '')."""

    trigger: str
    condition: int
    templates: tuple[str, ...]
    destination: Destination
    once_per: str = ""


def trigger_of(reason: str) -> str:
    """`translateReasonToTrigger`.

    >>> trigger_of("RolloutStepCompleted"), trigger_of("AnalysisRunFailed"), trigger_of("ScalingReplicaSet")
    ('on-rollout-step-completed', 'on-analysis-run-failed', 'on-scaling-replica-set')
    """
    name = _FIRST_CAP.sub(r"\1-\2", reason)
    return "on-" + _ALL_CAP.sub(r"\1-\2", name).lower()


def _recipients(value: str) -> list[str]:
    if value == "":
        return [""]
    return [r.strip() for r in value.split(";") if r.strip()]


def annotation_subscriptions(
    annotations: Mapping[str, Any],
) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """(trigger or '', service, recipients) for each subscription written on the object, and the sentences
    for those that cannot be read."""
    found: list[tuple[str, str, list[str]]] = []
    errors: list[str] = []
    budget = MAX_DESTINATIONS

    def add(trigger: str, service: str, recipients: list[str]) -> bool:
        nonlocal budget
        if budget <= 0:
            return False
        kept = recipients[:budget]
        budget -= max(len(kept), 1)
        found.append((trigger, service, kept))
        if len(kept) < len(recipients) or budget <= 0:
            errors.append(
                f"the subscriptions of the object name more than {MAX_DESTINATIONS} destinations; "
                "the rest are left out"
            )
            budget = 0
        return budget > 0

    for key in sorted(annotations):
        if budget <= 0:
            break
        value = str(annotations[key] if annotations[key] is not None else "")
        if key.startswith(SUBSCRIBE_PREFIX):
            parts = key[len(SUBSCRIBE_PREFIX) :].split(".")
            trigger, service = (parts[0], parts[1]) if len(parts) >= 2 else ("", parts[0])
            add(trigger, service, _recipients(value))
        elif key == SUBSCRIPTIONS_KEY:
            try:
                entries = yaml.safe_load(value) if value else None
            except yaml.YAMLError:
                entries = None
            if not isinstance(entries, list):
                errors.append(f"annotation {key} is not a YAML list of {{trigger, destinations}}")
                continue
            for entry in entries:
                if budget <= 0:
                    break
                if not isinstance(entry, Mapping):
                    errors.append(f"annotation {key}: an entry is not a map")
                    continue
                triggers = entry.get("trigger") or [""]
                triggers = [triggers] if isinstance(triggers, str) else triggers
                dests = entry.get("destinations") or []
                if not isinstance(triggers, list) or not isinstance(dests, list):
                    errors.append(f"annotation {key}: trigger and destinations must be lists")
                    continue
                for dest in dests:
                    if budget <= 0:
                        break
                    if not isinstance(dest, Mapping) or not dest.get("service"):
                        errors.append(f"annotation {key}: a destination names no service")
                        continue
                    listed = dest.get("recipients") or []  # none: no destination, as in Argo
                    listed = [listed] if isinstance(listed, str) else listed
                    if not isinstance(listed, list):
                        errors.append(f"annotation {key}: recipients must be a list")
                        continue
                    recipients = [str(r) for r in listed[:MAX_DESTINATIONS]]
                    for trigger in triggers:
                        if not add(str(trigger), str(dest["service"]), recipients):
                            break
    return found, errors


def destinations(cfg: NotificationConfig, obj: Mapping[str, Any], trigger: str) -> list[Destination]:
    """Every destination subscribed to `trigger` on this object under this config (deduplicated, sorted)."""
    meta = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    out: set[Destination] = set()
    for sub in cfg.subscriptions:
        triggers = sub.triggers or cfg.default_triggers
        if trigger in triggers and sub.matches(labels):
            out.update(Destination(s, r) for s, r in sub.recipients)
    found, _ = annotation_subscriptions(meta.get("annotations") or {})
    for sub_trigger, service, recipients in found:
        if sub_trigger:
            applies = sub_trigger == trigger
        else:
            applies = trigger in cfg.service_default_triggers.get(service, cfg.default_triggers)
        if applies:
            out.update(Destination(service, r) for r in recipients)
    return sorted(out)


def subscribes(obj: Mapping[str, Any]) -> bool:
    """Whether the object carries any subscription annotation (the cheap test before anything else)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return any(k.startswith(SUBSCRIBE_PREFIX) or k == SUBSCRIPTIONS_KEY for k in annotations)


def run_trigger(
    cfg: NotificationConfig, trigger: str, variables: dict[str, Any], dests: list[Destination]
) -> tuple[list[Fired], list[str]]:
    """The conditions of `trigger` that fire, for each destination; and one sentence per condition that
    could not be evaluated (it does not fire: a broken condition never sends)."""
    conditions: tuple[Condition, ...] = cfg.triggers.get(trigger, ())
    fired: list[Fired] = []
    errors: list[str] = []
    for cond in conditions:
        if cond.when:
            try:
                value = evaluate_expression(cond.when, variables)
            except ConditionError as e:
                errors.append(f"trigger {trigger} condition [{cond.index}] when {cond.when!r}: {e}")
                continue
            if value is not True:
                continue
        once = ""
        if cond.once_per:
            try:
                once = _go_string(evaluate_expression(cond.once_per, variables))
            except ConditionError as e:
                errors.append(f"trigger {trigger} condition [{cond.index}] oncePer {cond.once_per!r}: {e}")
                continue
        fired.extend(Fired(trigger, cond.index, cond.send, d, once) for d in dests)
    return fired, errors


def _go_string(value: Any) -> str:
    """`fmt.Sprintf("%v", val)` for the values an oncePer expression gives (strings and numbers, mostly)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
