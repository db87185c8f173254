"""Argo Rollouts' notification catalog (the nine triggers and templates of manifests/notifications, copied in
fixtures/argo-catalog) and the README's Slack example, unchanged, through the notifier: each trigger's
Event subscribed to Slack (chat API on a loopback receiver) and email (a real SMTP server with STARTTLS and
AUTH) is rendered and delivered."""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from prometheus_client import CollectorRegistry

from rollouts.notifications.config import NotificationConfig, load_config
from rollouts.notifications.delivering import Notifier, NotifierOptions
from tests.notifications.fakes import Static, no_patch
from tests.notifications.receivers import Answer, HttpReceiver, SmtpReceiver

CATALOG = Path(__file__).parent / "fixtures" / "argo-catalog"
README = Path(__file__).resolve().parents[2] / "README.md"
REASONS = {
    "on-rollout-completed": "RolloutCompleted",
    "on-scaling-replica-set": "ScalingReplicaSet",
    "on-rollout-step-completed": "RolloutStepCompleted",
    "on-rollout-updated": "RolloutUpdated",
    "on-rollout-aborted": "RolloutAborted",
    "on-rollout-paused": "RolloutPaused",
    "on-analysis-run-running": "AnalysisRunRunning",
    "on-analysis-run-error": "AnalysisRunError",
    "on-analysis-run-failed": "AnalysisRunFailed",
}
SLACK_TOKEN = "xoxb-9a8b7c6d5e"
SMTP_PASSWORD = "smtp-pw-1f2e3d"


def catalog_data() -> dict[str, str]:
    data: dict[str, str] = {}
    for path in sorted(CATALOG.glob("on-*.yaml")):
        data.update(yaml.safe_load(path.read_text())["data"])
    return data


def canary() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "api-server",
            "namespace": "shop",
            "uid": "uid-1",
            "annotations": {f"notifications.argoproj.io/subscribe.{t}.slack": "deployments" for t in REASONS}
            | {f"notifications.argoproj.io/subscribe.{t}.email": "ops@example.com" for t in REASONS},
        },
        "spec": {
            "replicas": 5,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "api", "image": "registry/api:2.1"},
                        {"name": "sidecar", "image": "envoy:1.30"},
                    ]
                }
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}]}},
        },
        "status": {"phase": "Progressing", "currentStepIndex": 1, "currentPodHash": "abc", "message": "x"},
    }


@pytest.fixture
async def slack() -> AsyncIterator[HttpReceiver]:
    r = HttpReceiver()
    r.default = Answer(200, json.dumps({"ok": True, "channel": "C1", "ts": "1.1"}))
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def smtp() -> AsyncIterator[tuple[SmtpReceiver, trustme.CA]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = SmtpReceiver(context, {"rollouts": SMTP_PASSWORD})
    server.controller.start()
    yield server, ca
    server.controller.stop()


async def send_all(
    cfg: NotificationConfig, obj: dict[str, Any], reasons: list[str]
) -> tuple[Notifier, list[str]]:
    warned: list[str] = []
    notifier = Notifier(
        Static(cfg),
        no_patch,
        warn_event=lambda o, r, m: warned.append(m),
        registry=CollectorRegistry(),
        options=NotifierOptions(backoff=0.01, attempts=2),
    )
    for reason in reasons:
        entries = notifier.prepare(obj, [("Normal", reason, f"{reason} happened")], no_status=True)
        notifier.dispatch(obj, entries)
    await notifier.idle()
    await notifier.stop()
    return notifier, warned


async def test_argos_catalog_works_unchanged_with_slack_and_email(
    slack: HttpReceiver, smtp: tuple[SmtpReceiver, trustme.CA]
) -> None:
    server, ca = smtp
    data = catalog_data()
    assert len([k for k in data if k.startswith("trigger.")]) == 9
    data["service.slack"] = f"token: $slack-token\napiURL: {slack.url}/api/\n"
    data["service.email"] = (
        f"host: 127.0.0.1\nport: {server.port}\nfrom: rollouts@example.com\nusername: rollouts\n"
        "password: $smtp-password\nca_cert: |\n" + _indent(ca.cert_pem.bytes().decode(), 2)
    )
    secret = {
        "slack-token": base64.b64encode(SLACK_TOKEN.encode()).decode(),
        "smtp-password": base64.b64encode(SMTP_PASSWORD.encode()).decode(),
    }
    cfg = load_config("argo-rollouts", data, secret)
    assert cfg.errors == []
    notifier, warned = await send_all(cfg, canary(), list(REASONS.values()))
    assert warned == []
    assert len(slack.requests) == 9 and len(server.received) == 9
    for request in slack.requests:
        form = request.form()
        assert form["channel"] == "deployments" and form["token"] == SLACK_TOKEN
        (attachment,) = json.loads(form["attachments"])
        assert attachment["title"] == "api-server"
        fields = {f["title"]: f["value"] for f in attachment["fields"]}
        assert fields["Strategy"] == "Canary"
        assert fields["api"] == "registry/api:2.1" and fields["sidecar"] == "envoy:1.30"
    subjects = sorted(str(m.message["Subject"]) for m in server.received)
    assert "Rollout api-server has been aborted." in subjects
    assert "Rollout api-server step number 2/3 has been completed." in subjects
    assert all(m.tls and m.login == "rollouts" and m.rcpt_tos == ["ops@example.com"] for m in server.received)
    assert notifier.metrics.success.labels("shop", "api-server", "Normal", "RolloutAborted")._value.get() == 2


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in text.splitlines())


def readme_slack_example() -> tuple[dict[str, str], str]:
    """The ConfigMap of the README's Slack example, and the recipient its annotation subscribes."""
    text = README.read_text()
    block = re.search(r"apply -f - <<'YAML'\n(.*?)\nYAML\n", text, re.S)
    assert block is not None, "the README's Slack example moved"
    configmap = yaml.safe_load(block.group(1))
    annotation = re.search(r"notifications\.argoproj\.io/subscribe\.on-rollout-aborted\.slack=(\S+)", text)
    assert annotation is not None
    return configmap["data"], annotation.group(1)


async def test_the_readmes_slack_example_sends_what_it_says(slack: HttpReceiver) -> None:
    data, channel = readme_slack_example()
    assert data["service.slack"].strip() == "token: $slack-token"
    data["service.slack"] += (
        f"apiURL: {slack.url}/api/\n"  # the only change: Slack is a loopback receiver here
    )
    cfg = load_config("rollouts", data, {"slack-token": base64.b64encode(SLACK_TOKEN.encode()).decode()})
    assert cfg.errors == []
    obj = canary()
    obj["metadata"]["annotations"] = {"notifications.argoproj.io/subscribe.on-rollout-aborted.slack": channel}
    obj["status"] = {"phase": "Degraded", "message": 'RolloutAborted: Metric "error-rate" assessed Failed'}
    _, warned = await send_all(cfg, obj, ["RolloutAborted"])
    assert warned == []
    (request,) = slack.requests
    form = request.form()
    assert form["channel"] == "deployments"
    assert (
        form["text"] == 'Rollout api-server was aborted: RolloutAborted: Metric "error-rate" assessed Failed'
    )
    (attachment,) = json.loads(form["attachments"])
    assert attachment == {
        "title": "api-server",
        "color": "#E01E5A",
        "fields": [{"title": "Namespace", "value": "shop", "short": True}],
    }
