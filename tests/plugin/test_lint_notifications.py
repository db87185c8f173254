"""`kubectl rollouts lint` of a notification ConfigMap (and Secret) with the Rollouts that subscribe to it."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from rollouts.cli import cli

CATALOG = Path(__file__).resolve().parents[1] / "notifications" / "fixtures" / "argo-catalog"


def catalog() -> dict[str, str]:
    data: dict[str, str] = {}
    for path in sorted(CATALOG.glob("on-*.yaml")):
        data.update(yaml.safe_load(path.read_text())["data"])
    return data


def rollout(name: str, strategy: dict[str, object], annotations: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
            "strategy": strategy,
        },
    }


def lint(tmp_path: Path, docs: list[dict[str, object]]) -> tuple[int, str, str]:
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = CliRunner().invoke(cli, ["lint", "-f", str(path)])
    return result.exit_code, result.stdout, result.stderr


def configmap(data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argo-rollouts-notification-configmap"},
        "data": data,
    }


def test_argos_catalog_with_a_slack_service_lints_clean(tmp_path: Path) -> None:
    canary = rollout(
        "web",
        {"canary": {"steps": [{"setWeight": 20}]}},
        {"notifications.argoproj.io/subscribe.on-rollout-step-completed.slack": "deploys"},
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "argo-rollouts-notification-secret"},
        "stringData": {"slack-token": "x"},
    }
    code, out, err = lint(
        tmp_path, [configmap({**catalog(), "service.slack": "token: $slack-token\n"}), secret, canary]
    )
    assert code == 0, out + err
    assert "notification" not in err


def test_broken_keys_are_problems_and_mismatches_are_warnings(tmp_path: Path) -> None:
    data = {
        **catalog(),
        "service.slack": "token: $slack-token\n",
        "template.broken": "message: '{{.rollout.metadata.name'\n",
        "trigger.on-odd": "- send: [missing-template]\n",
    }
    blue_green = rollout(
        "bg",
        {"blueGreen": {"activeService": "bg"}},
        {
            "notifications.argoproj.io/subscribe.on-rollout-step-completed.slack": "deploys",
            "notifications.argoproj.io/subscribe.on-nothing.teams": "x",
        },
    )
    code, out, err = lint(tmp_path, [configmap(data), blue_green])
    assert code == 1
    assert 'ConfigMap "argo-rollouts-notification-configmap": ' in out and "key template.broken" in out
    assert "trigger.on-odd condition [0] sends template 'missing-template'" in err
    assert (
        'Rollout "bg": subscribed to on-nothing, which argo-rollouts-notification-configmap does not define'
        in err
    )
    assert "subscribed with service 'teams'" in err
    # Argo's own step-completed template cannot render for a blue-green Rollout (Go fails the same way)
    assert (
        "template 'rollout-step-completed' (sent by on-rollout-step-completed) fails for this Rollout" in err
    )
