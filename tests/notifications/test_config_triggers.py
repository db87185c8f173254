"""The notification config (ConfigMap + Secret) as Argo reads it, subscriptions and triggers (pure)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from rollouts.notifications.config import load_config
from rollouts.notifications.outbox import (
    NOTIFIED_ANNOTATION,
    Entry,
    entries_for,
    notified,
    pending,
    recoverable,
    status_digest,
    with_notified,
)
from rollouts.notifications.triggers import (
    MAX_DESTINATIONS,
    SUBSCRIPTIONS_KEY,
    Destination,
    annotation_subscriptions,
    destinations,
    run_trigger,
    trigger_of,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CONFIG = {
    "service.webhook.hooks": "url: http://127.0.0.1:1/x\nheaders:\n- name: Authorization\n  value: Bearer $token\n",
    "service.slack": "token: $slack-token\n",
    "template.aborted": "message: Rollout {{.rollout.metadata.name}} has been aborted.\n",
    "template.purple": "message: purple {{.rollout.metadata.name}}\n",
    "trigger.on-rollout-aborted": "- send: [aborted]\n",
    "trigger.on-purple": "- when: rollout.spec.template.spec.containers[0].image == 'demo:purple'\n"
    "  send: [purple]\n  oncePer: rollout.spec.template.spec.containers[0].image\n",
    "defaultTriggers": "- on-rollout-aborted\n",
    "defaultTriggers.slack": "- on-purple\n",
    "subscriptions": "- recipients: [slack:ops]\n  triggers: [on-rollout-aborted]\n  selector: team=payments\n",
}
SECRET = {"token": b64("s3cr3t-token"), "slack-token": b64("xoxb-123456")}


def rollout(
    annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u-1",
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "demo:purple"}]}}},
        "status": {"phase": "Degraded", "currentPodHash": "abc"},
    }


def test_the_config_pair_is_read_as_argo_reads_it() -> None:
    cfg = load_config("argo-rollouts", CONFIG, SECRET)
    assert cfg.errors == []
    assert set(cfg.services) == {"hooks", "slack"}
    assert set(cfg.templates) == {"aborted", "purple"}
    assert cfg.triggers["on-purple"][0].once_per == "rollout.spec.template.spec.containers[0].image"
    assert cfg.default_triggers == ("on-rollout-aborted",)
    assert cfg.service_default_triggers == {"slack": ("on-purple",)}
    assert cfg.subscriptions[0].recipients == (("slack", "ops"),)
    # $references resolved from the Secret, and every secret value known for redaction
    assert "s3cr3t-token" in cfg.secret_values and "xoxb-123456" in cfg.secret_values


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        pytest.param(
            "template.bad",
            "message: '{{.rollout.metadata.name'\n",
            "the template does not parse",
            id="template",
        ),
        pytest.param("template.yaml", "message: [unclosed\n", "is not valid YAML", id="template-yaml"),
        pytest.param("trigger.on-x", "- when: a\n", "sends no template", id="trigger-no-send"),
        pytest.param("trigger.on-y", "{}\n", "non-empty list of conditions", id="trigger-not-list"),
        pytest.param("service.nope", "a: b\n", "nope", id="unknown-service-type"),
        pytest.param("service.a.b.c", "a: b\n", "service.<type> or service.<type>.<name>", id="service-key"),
        pytest.param(
            "subscriptions", "- recipients: [slack:x]\n  selector: 'a in (b)'\n", "label=value", id="selector"
        ),
    ],
)
def test_a_bad_key_is_said_once_and_the_rest_keeps_working(key: str, value: str, said: str) -> None:
    cfg = load_config("argo-rollouts", {**CONFIG, key: value}, SECRET)
    mine = [e for e in cfg.errors if f"key {key}" in e]
    assert len(mine) == 1 and said in mine[0], cfg.errors
    assert "left out" in mine[0]
    assert {"aborted", "purple"} <= set(cfg.templates) and "hooks" in cfg.services


def test_a_reference_to_a_missing_secret_key_is_said() -> None:
    cfg = load_config("argo-rollouts", {"service.slack": "token: $absent\n"}, {})
    assert cfg.errors == [
        "argo-rollouts/argo-rollouts-notification-configmap key service.slack refers to $absent, which "
        "argo-rollouts-notification-secret does not have (kept as written)"
    ]


def test_a_service_option_refused_never_quotes_the_secret_it_came_from() -> None:
    cfg = load_config(
        "argo-rollouts",
        {"service.webhook.x": "url: http://a\ninsecureSkipVerify: $pw\n"},
        {"pw": b64("hunter2-pass")},
    )
    assert len(cfg.errors) == 1 and "insecureSkipVerify" in cfg.errors[0]
    assert "hunter2-pass" not in cfg.errors[0]


def test_a_secret_that_is_not_base64_is_left_out() -> None:
    cfg = load_config("argo-rollouts", {}, {"x": "%%%"})
    assert cfg.secrets == {} and "not base64" in cfg.errors[0]


@pytest.mark.parametrize(
    ("reason", "trigger"),
    [
        ("RolloutCompleted", "on-rollout-completed"),
        ("RolloutStepCompleted", "on-rollout-step-completed"),
        ("RolloutUpdated", "on-rollout-updated"),
        ("ScalingReplicaSet", "on-scaling-replica-set"),
        ("RolloutPaused", "on-rollout-paused"),
        ("RolloutAborted", "on-rollout-aborted"),
        ("AnalysisRunRunning", "on-analysis-run-running"),
        ("AnalysisRunError", "on-analysis-run-error"),
        ("AnalysisRunFailed", "on-analysis-run-failed"),
    ],
)
def test_event_reasons_name_the_builtin_triggers(reason: str, trigger: str) -> None:
    assert trigger_of(reason) == trigger


def test_destinations_from_annotations_defaults_and_config_subscriptions() -> None:
    cfg = load_config("argo-rollouts", CONFIG, SECRET)
    obj = rollout(
        {
            "notifications.argoproj.io/subscribe.on-rollout-aborted.hooks": "",
            "notifications.argoproj.io/subscribe.on-rollout-aborted.slack": "c1; c2;",
            "notifications.argoproj.io/subscribe.slack": "defaults",  # defaultTriggers.slack: on-purple
            "notifications.argoproj.io/subscriptions": "- trigger: [on-rollout-aborted]\n"
            "  destinations:\n  - service: slack\n    recipients: [c3]\n",
        },
        labels={"team": "payments"},
    )
    assert destinations(cfg, obj, "on-rollout-aborted") == [
        Destination("hooks", ""),
        Destination("slack", "c1"),
        Destination("slack", "c2"),
        Destination("slack", "c3"),
        Destination("slack", "ops"),  # the config's subscription, by label
    ]
    assert destinations(cfg, obj, "on-purple") == [Destination("slack", "defaults")]
    other = rollout({"notifications.argoproj.io/subscribe.on-rollout-aborted.hooks": ""}, {"team": "web"})
    assert destinations(cfg, other, "on-rollout-aborted") == [Destination("hooks", "")]


@pytest.mark.parametrize(
    "value",
    [
        "- trigger: 5\n  destinations: [{service: hooks}]\n",
        "- trigger: [on-rollout-aborted]\n  destinations: 5\n",
        "- trigger: [on-rollout-aborted]\n  destinations: [{service: hooks, recipients: 7}]\n",
    ],
)
def test_a_subscriptions_annotation_of_odd_shape_is_said_not_raised(value: str) -> None:
    found, errors = annotation_subscriptions({SUBSCRIPTIONS_KEY: value})
    assert found == [] and errors
    cfg = load_config("argo-rollouts", CONFIG, SECRET)
    assert destinations(cfg, rollout({SUBSCRIPTIONS_KEY: value}), "on-rollout-aborted") == []


def test_the_destinations_an_object_subscribes_are_bounded() -> None:
    """A few KiB of YAML aliases describe millions of (trigger, service, recipient): the rest is left out."""
    recipients = "[" + ",".join(f"r{i}" for i in range(300)) + "]"
    triggers = "[" + ",".join(f"on-t{i}" for i in range(300)) + "]"
    value = (
        f"- &e\n  trigger: {triggers}\n  destinations:\n  - &d {{service: hooks, recipients: {recipients}}}\n"
        + "  - *d\n" * 300
        + "- *e\n" * 300
    )
    found, errors = annotation_subscriptions(
        {SUBSCRIPTIONS_KEY: value, "notifications.argoproj.io/subscribe.on-x.hooks": ";".join(["a"] * 5000)}
    )
    assert sum(len(r) for _, _, r in found) <= MAX_DESTINATIONS
    assert any(f"more than {MAX_DESTINATIONS} destinations" in e for e in errors)


def test_conditions_fire_on_when_and_carry_their_once_per_value() -> None:
    cfg = load_config("argo-rollouts", CONFIG, SECRET)
    dests = [Destination("slack", "c")]
    fired, errors = run_trigger(cfg, "on-purple", {"rollout": rollout()}, dests)
    assert errors == [] and [(f.templates, f.once_per) for f in fired] == [(("purple",), "demo:purple")]
    other = rollout()
    other["spec"]["template"]["spec"]["containers"][0]["image"] = "demo:blue"
    assert run_trigger(cfg, "on-purple", {"rollout": other}, dests) == ([], [])
    fired, _ = run_trigger(cfg, "on-rollout-aborted", {"rollout": rollout()}, dests)
    assert [f.templates for f in fired] == [("aborted",)]  # no `when`: always (Argo's empty condition)


def test_a_condition_that_cannot_be_evaluated_does_not_send_and_is_said() -> None:
    cfg = load_config(
        "ns",
        {"trigger.on-x": "- when: rollout.spec.replicas > 'a'\n  send: [t]\n", "template.t": "message: m\n"},
        {},
    )
    obj = rollout()
    obj["spec"]["replicas"] = 3
    fired, errors = run_trigger(cfg, "on-x", {"rollout": obj}, [Destination("slack", "c")])
    assert fired == [] and len(errors) == 1 and "rollout.spec.replicas > 'a'" in errors[0]


def test_a_hostile_condition_is_bounded() -> None:
    cfg = load_config(
        "ns",
        {"trigger.on-x": "- when: len(map(1..100000, {map(1..100000, {#})})) > 0\n  send: [t]\n"},
        {},
    )
    fired, errors = run_trigger(cfg, "on-x", {"rollout": rollout()}, [Destination("slack", "c")])
    assert fired == [] and errors and "on-x" in errors[0]


def test_outbox_entries_have_stable_ids_and_round_trip() -> None:
    cfg = load_config("argo-rollouts", CONFIG, SECRET)
    obj = rollout()
    fired, _ = run_trigger(cfg, "on-rollout-aborted", {"rollout": obj}, [Destination("slack", "c")])
    args: dict[str, Any] = {
        "config_namespace": "argo-rollouts",
        "reason": "RolloutAborted",
        "event_type": "Warning",
        "message": "Rollout aborted update to revision 2",
        "before": status_digest(obj["status"]),
        "no_status": False,
    }
    (a,) = entries_for(obj, fired, now=1.0, **args)
    (b,) = entries_for(obj, fired, now=99.0, **args)
    assert a.id == b.id  # the same transition decided again owes the same notification
    (c,) = entries_for(obj, fired, now=1.0, **{**args, "before": "other"})
    assert c.id != a.id
    obj["metadata"]["annotations"][a.annotation] = a.encode()
    obj["metadata"]["annotations"]["rollouts.argoproj.io/notify.garbage"] = "{"
    found = pending(obj)
    assert found[a.annotation] == a and found["rollouts.argoproj.io/notify.garbage"] is None
    assert len(a.annotation.split("/")[1]) <= 63


def test_recovery_sends_what_landed_and_waits_for_what_did_not() -> None:
    status = {"phase": "Progressing", "currentStepIndex": 1}
    entry = Entry(
        "x",
        "on-t",
        0,
        ("t",),
        Destination("s", ""),
        "",
        "ns",
        "R",
        "Normal",
        status_digest(status),
        False,
        100.0,
    )
    assert recoverable(entry, status, 200.0) == "wait"  # the status write did not land (yet)
    assert recoverable(entry, status, 100.0 + 601) == "drop"
    assert recoverable(entry, {**status, "currentStepIndex": 2}, 200.0) == "send"
    assert recoverable(Entry(**{**entry.__dict__, "no_status": True}), status, 200.0) == "send"
    # the digest ignores what the API server drops (null members) and key order
    assert status_digest({"a": 1, "b": None, "c": {"d": None}}) == status_digest({"c": {}, "a": 1})


def test_the_once_per_ledger_is_argos_annotation_and_bounded() -> None:
    ledger: dict[str, float] = {}
    for i in range(250):
        value = with_notified(ledger, f"k{i}", float(i))
        ledger = notified({"metadata": {"annotations": {NOTIFIED_ANNOTATION: value}}})
    assert len(ledger) == 200 and "k249" in ledger and "k0" not in ledger
    assert notified({"metadata": {"annotations": {NOTIFIED_ANNOTATION: "not json"}}}) == {}
