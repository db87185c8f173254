"""`lint` of a notification config: the ConfigMap `argo-rollouts-notification-configmap` in a file is read
as the controller reads it (`rollouts.notifications.config`), and the file's Rollouts are checked against it.

Problems (they fail `lint`): a key the controller would leave out (a template that does not parse, a trigger
without `send`, a service it cannot build). Warnings: a `$key` the file's Secret lacks (only when the Secret is
in the file), a Rollout subscribed to a trigger or service the config does not define, a trigger sending a
template that does not exist, and a template that fails when rendered for one of the file's Rollouts (Go
templates fail at execution: `len .rollout.spec.strategy.canary.steps` for a blue-green Rollout).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rollouts.notifications.config import CONFIG_MAP_NAME, SECRET_NAME, NotificationConfig, load_config
from rollouts.notifications.delivering import render
from rollouts.notifications.gotemplates import TemplateError, time_functions
from rollouts.notifications.triggers import annotation_subscriptions

SUBJECT = f'ConfigMap "{CONFIG_MAP_NAME}"'


def _meta(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = doc.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def is_config(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "ConfigMap" and _meta(doc).get("name") == CONFIG_MAP_NAME


def lint_notifications(docs: list[Mapping[str, Any]], problems: list[str], warnings: list[str]) -> None:
    """Add the file's notification-config problems and warnings (nothing when it has no such ConfigMap)."""
    config = next((d for d in docs if is_config(d)), None)
    if config is None:
        return
    secret = next(
        (d for d in docs if d.get("kind") == "Secret" and _meta(d).get("name") == SECRET_NAME), None
    )
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    secret_data = dict((secret or {}).get("data") or {})
    for key, value in dict((secret or {}).get("stringData") or {}).items():  # as `kubectl apply` would
        secret_data[key] = base64.b64encode(str(value).encode()).decode()
    cfg = load_config(str(_meta(config).get("namespace") or "argo-rollouts"), data, secret_data)
    for error in cfg.errors:
        if " does not have (kept as written)" in error:
            if secret is not None:
                warnings.append(f"{SUBJECT}: {error}")
        elif "not base64" in error:
            problems.append(f'Secret "{SECRET_NAME}": {error}')
        else:
            problems.append(f"{SUBJECT}: {error}")
    for trigger, conditions in sorted(cfg.triggers.items()):
        for cond in conditions:
            for template in cond.send:
                if template not in cfg.templates and f"template.{template}" not in (data or {}):
                    warnings.append(
                        f"{SUBJECT}: trigger.{trigger} condition [{cond.index}] sends template {template!r}, "
                        "which the ConfigMap does not define"
                    )
    for doc in docs:
        if doc.get("kind") == "Rollout":
            _lint_rollout(doc, cfg, warnings)


def _lint_rollout(doc: Mapping[str, Any], cfg: NotificationConfig, warnings: list[str]) -> None:
    name = str(_meta(doc).get("name") or "")
    subject = f'Rollout "{name}"'
    found, errors = annotation_subscriptions(_meta(doc).get("annotations") or {})
    warnings += [f"{subject}: {e}" for e in errors]
    triggers: set[str] = set()
    said: set[str] = set()  # one warning per trigger or service, however many recipients subscribe
    for trigger, service, _ in found:
        if trigger and trigger not in cfg.triggers:
            said.add(f"{subject}: subscribed to {trigger}, which {CONFIG_MAP_NAME} does not define")
        if service not in cfg.services:
            said.add(
                f"{subject}: subscribed with service {service!r}, which {CONFIG_MAP_NAME} does not define"
            )
        triggers.update(
            [trigger] if trigger else cfg.service_default_triggers.get(service, cfg.default_triggers)
        )
    warnings += sorted(said)
    data = {
        "rollout": doc,
        "analysisRuns": [],
        "secrets": {},
        "time": time_functions(lambda: datetime.now(UTC)),
        "recipient": "",
        "serviceType": "",
    }
    for trigger in sorted(triggers):
        for cond in cfg.triggers.get(trigger, ()):
            for template in cond.send:
                tree = cfg.templates.get(template)
                if tree is None:
                    continue
                try:
                    render(tree, data)
                except TemplateError as e:
                    warnings.append(
                        f"{subject}: template {template!r} (sent by {trigger}) fails for this Rollout: {e}"
                    )
