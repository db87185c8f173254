"""The notification configuration as Argo reads it: the ConfigMap `argo-rollouts-notification-configmap` and the
Secret `argo-rollouts-notification-secret` (docs/notifications.md#configuration).

Pure: the controller hands in the two objects' `data` (the Secret's base64 as the API server gives it) and gets
a `NotificationConfig`. Keys, as notifications-engine parses them (`pkg/api/config.go`):

* `template.<name>`: YAML, every string of it a Go template (`message`, `email.subject`, `slack.attachments`, …);
* `trigger.<name>`: YAML list of conditions `{when, send, oncePer, description}`;
* `service.<type>` or `service.<type>.<name>`: YAML options, `$key` references replaced by the Secret's value of
  `key` (a reference to a missing key stays as written, with a finding);
* `defaultTriggers` and `defaultTriggers.<service>`: YAML lists of trigger names;
* `subscriptions`: YAML list of `{recipients: ["slack:channel"], triggers: [...], selector: "label=value"}`.

One difference, deliberate: the engine refuses the whole ConfigMap when one key does not parse; here the key is
left out and said in `errors` (one sentence naming the key), and everything else keeps working.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from analysis.redaction import redact
from rollouts.notifications.gotemplates import GoTemplate, TemplateError
from rollouts.notifications.services import Service, ServiceConfigError, build_service

CONFIG_MAP_NAME = "argo-rollouts-notification-configmap"
SECRET_NAME = "argo-rollouts-notification-secret"
DEFAULT_NAMESPACE = "argo-rollouts"
MAX_KEY_BYTES = 262_144  # one ConfigMap value; the API server's whole-object limit is 1 MiB
_SECRET_REF = re.compile(r"\$[\w-]+")


@dataclass(frozen=True)
class Condition:
    """One condition of a trigger: `when` (an expr-lang predicate; empty = always, as Argo Rollouts sends)."""

    when: str
    send: tuple[str, ...]
    once_per: str = ""
    description: str = ""
    index: int = 0


@dataclass(frozen=True)
class Subscription:
    """One entry of the config's `subscriptions` list."""

    recipients: tuple[tuple[str, str], ...]  # (service, recipient)
    triggers: tuple[str, ...]
    selector: Mapping[str, str]  # label equality requirements (`a=b,c=d`)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.selector.items())


@dataclass
class NotificationConfig:
    """What one ConfigMap/Secret pair configures. `errors`: one sentence per key left out."""

    namespace: str
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → parsed templates tree
    triggers: dict[str, tuple[Condition, ...]] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    default_triggers: tuple[str, ...] = ()
    service_default_triggers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subscriptions: tuple[Subscription, ...] = ()
    secrets: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every value that must never be printed: the Secret's values and the services' own secrets."""
        values = {v for v in self.secrets.values() if len(v) >= 4}
        for service in self.services.values():
            values.update(s for s in service.secrets if s)
        return tuple(sorted(values, key=len, reverse=True))


def decode_secret(data: Mapping[str, Any] | None) -> tuple[dict[str, str], list[str]]:
    """A Secret's `data` (base64) as text; undecodable entries are left out with a sentence."""
    out: dict[str, str] = {}
    errors: list[str] = []
    for key, value in (data or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            errors.append(f"secret {SECRET_NAME} key {key!r} is not base64 of UTF-8 text: left out")
    return out, errors


def _yaml(key: str, text: str) -> Any:
    if len(text.encode("utf-8", "replace")) > MAX_KEY_BYTES:
        raise ValueError(f"is larger than {MAX_KEY_BYTES} bytes")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ValueError(f"is not valid YAML{where}: {problem}") from None


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def parse_template(name: str, tree: Any, path: str = "") -> Any:
    """Every string of a template's YAML compiled as a Go template (raises TemplateError naming the field)."""
    if isinstance(tree, str):
        return GoTemplate.parse(f"{name}{'.' + path if path else ''}", tree)
    if isinstance(tree, Mapping):
        return {str(k): parse_template(name, v, f"{path}.{k}" if path else str(k)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [parse_template(name, v, f"{path}[{i}]") for i, v in enumerate(tree)]
    return tree


def _conditions(value: Any) -> tuple[Condition, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("must be a non-empty list of conditions {when, send}")
    out: list[Condition] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValueError(f"condition [{i}] must be a map with when and send")
        send = _string_list(item.get("send"), f"condition [{i}] send")
        if not send:
            raise ValueError(f"condition [{i}] sends no template (send is empty)")
        when = item.get("when") or ""
        once = item.get("oncePer") or ""
        if not isinstance(when, str) or not isinstance(once, str):
            raise ValueError(f"condition [{i}] when and oncePer must be strings")
        out.append(
            Condition(
                when=when,
                send=send,
                once_per=once,
                description=str(item.get("description") or ""),
                index=i,
            )
        )
    return tuple(out)


def _selector(text: Any) -> dict[str, str]:
    if text in (None, ""):
        return {}
    if not isinstance(text, str):
        raise ValueError("selector must be a string such as 'team=payments'")
    out: dict[str, str] = {}
    for part in text.split(","):
        k, sep, v = part.partition("=")
        if not sep or not k.strip():
            raise ValueError(f"selector {text!r}: only label=value terms (comma-separated) are supported")
        out[k.strip()] = v.strip().removeprefix("=").strip()
    return out


def _subscriptions(value: Any) -> tuple[Subscription, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("must be a list of {recipients, triggers, selector}")
    out: list[Subscription] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValueError(f"entry [{i}] must be a map")
        recipients = []
        for r in _string_list(item.get("recipients"), f"entry [{i}] recipients"):
            service, _, recipient = r.partition(":")
            recipients.append((service, recipient))
        out.append(
            Subscription(
                tuple(recipients),
                _string_list(item.get("triggers"), f"entry [{i}] triggers"),
                _selector(item.get("selector")),
            )
        )
    return tuple(out)


def resolve_secrets(tree: Any, secrets: Mapping[str, str], missing: set[str]) -> Any:
    """`$key` in every string replaced by the Secret's value (`replaceStringSecret`); unknown keys kept."""
    if isinstance(tree, str):

        def sub(m: re.Match[str]) -> str:
            key = m.group(0)[1:]
            if key in secrets:
                return secrets[key]
            missing.add(key)
            return m.group(0)

        return _SECRET_REF.sub(sub, tree)
    if isinstance(tree, Mapping):
        return {k: resolve_secrets(v, secrets, missing) for k, v in tree.items()}
    if isinstance(tree, list):
        return [resolve_secrets(v, secrets, missing) for v in tree]
    return tree


def load_config(
    namespace: str, config_data: Mapping[str, Any] | None, secret_data: Mapping[str, Any] | None
) -> NotificationConfig:
    """Parse the pair; never raises: what does not parse is left out and said in `errors`."""
    secrets, errors = decode_secret(secret_data)
    cfg = NotificationConfig(namespace=namespace, secrets=secrets, errors=errors)
    where = f"{namespace}/{CONFIG_MAP_NAME}"
    for key in sorted(config_data or {}):
        text = (config_data or {})[key]
        if not isinstance(text, str):
            continue
        try:
            _load_key(cfg, key, text)
        except TemplateError as e:
            cfg.errors.append(f"{where} key {key}: the template does not parse: {e}; it is left out")
        except (ValueError, ServiceConfigError) as e:  # an option's value may be a `$key` of the Secret
            cfg.errors.append(redact(f"{where} key {key} {e}; it is left out", cfg.secret_values))
    return cfg


def _load_key(cfg: NotificationConfig, key: str, text: str) -> None:
    parts = key.split(".")
    if key.startswith("template."):
        tree = _yaml(key, text)
        if not isinstance(tree, Mapping):
            raise ValueError("must be a YAML map (message, slack, email, …)")
        cfg.templates[".".join(parts[1:])] = parse_template(".".join(parts[1:]), tree)
    elif key.startswith("trigger."):
        cfg.triggers[".".join(parts[1:])] = _conditions(_yaml(key, text))
    elif key.startswith("service."):
        if len(parts) not in (2, 3):
            raise ValueError("is not of the form service.<type> or service.<type>.<name>")
        options = _yaml(key, text) or {}
        if not isinstance(options, Mapping):
            raise ValueError("must be a YAML map of the service's options")
        missing: set[str] = set()
        resolved = resolve_secrets(options, cfg.secrets, missing)
        if missing:
            cfg.errors.append(
                f"{cfg.namespace}/{CONFIG_MAP_NAME} key {key} refers to "
                + ", ".join(f"${m}" for m in sorted(missing))
                + f", which {SECRET_NAME} does not have (kept as written)"
            )
        service = build_service(key, resolved)
        cfg.services[service.name] = service
    elif key == "defaultTriggers":
        cfg.default_triggers = _string_list(_yaml(key, text), "defaultTriggers")
    elif key.startswith("defaultTriggers."):
        cfg.service_default_triggers[".".join(parts[1:])] = _string_list(_yaml(key, text), key)
    elif key == "subscriptions":
        cfg.subscriptions = _subscriptions(_yaml(key, text))
