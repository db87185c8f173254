"""Each mutating command changes exactly the fields of docs/semantics/plugin.md#plugin-commands (and docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause), through the real client.

The objects are loaded into the sandbox as built; after the command, the stored object is compared with the
one before, field by field (metadata.resourceVersion/generation aside, which the server bumps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.plugin.conftest import Cluster
from tests.plugin.objects import SCENARIOS

SERVER_FIELDS = {"metadata.resourceVersion", "metadata.generation"}


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list) and obj:
        out = {}
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{path: new value} for every leaf that differs (None for a removed leaf)."""
    a, b = flatten(before), flatten(after)
    return {k: b.get(k) for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in SERVER_FIELDS}


@pytest.fixture
def loaded(cluster: Cluster) -> Cluster:
    for make in SCENARIOS.values():
        cluster.load(make())
    return cluster


@pytest.mark.parametrize(
    ("args", "name", "output", "expected"),
    [
        pytest.param(
            ["abort", "api-server"],
            "api-server",
            "rollout 'api-server' aborted\n",
            {"status.abort": True},
            id="abort",
        ),
        pytest.param(
            ["retry", "rollout", "checkout"],
            "checkout",
            "rollout 'checkout' retried\n",
            {"status.abort": False},
            id="retry",
        ),
        pytest.param(
            ["pause", "api-server"],
            "api-server",
            "rollout 'api-server' paused\n",
            {"spec.paused": True},
            id="pause",
        ),
        pytest.param(
            ["promote", "api-server"],
            "api-server",
            "rollout 'api-server' promoted\n",
            {
                "status.pauseConditions[0].reason": None,
                "status.pauseConditions[0].startTime": None,
            },
            id="promote-clears-pause-conditions",
        ),
        pytest.param(
            ["promote", "api-server", "--full"],
            "api-server",
            "rollout 'api-server' fully promoted\n",
            {"status.promoteFull": True},
            id="promote-full",
        ),
        pytest.param(
            ["promote", "web-frontend"],
            "web-frontend",
            "rollout 'web-frontend' promoted\n",
            {
                "status.pauseConditions[0].reason": None,
                "status.pauseConditions[0].startTime": None,
            },
            id="promote-bluegreen",
        ),
        pytest.param(
            ["set", "image", "api-server", "api-server=registry.example/api-server:1.6.0"],
            "api-server",
            'rollout "api-server" image updated\n',
            {"spec.template.spec.containers[0].image": "registry.example/api-server:1.6.0"},
            id="set-image",
        ),
        pytest.param(
            ["undo", "checkout"],
            "checkout",
            "rollout 'checkout' undo\n",
            {"spec.template.spec.containers[0].image": "registry.example/checkout:2.0.7"},
            id="undo-previous",
        ),
        pytest.param(
            ["undo", "checkout", "--to-revision", "2"],
            "checkout",
            "rollout 'checkout' undo\n",
            {"spec.template.spec.containers[0].image": "registry.example/checkout:2.0.6"},
            id="undo-to-revision",
        ),
    ],
)
def test_rollout_mutations_change_exactly_these_fields(
    loaded: Cluster, args: list[str], name: str, output: str, expected: dict[str, Any]
) -> None:
    before = loaded.get("Rollout", name)
    result = loaded.run(*args)
    assert (result.exit_code, result.output) == (0, output)
    assert changes(before, loaded.get("Rollout", name)) == expected


def test_promote_sends_status_then_spec_when_user_paused(loaded: Cluster) -> None:
    """docs/semantics/controller.md#promote: a user-paused rollout at a pause step: status patch (pause conditions) first, then spec."""
    loaded.run("pause", "api-server")
    before = loaded.get("Rollout", "api-server")
    loaded.sandbox.requests.reset()
    assert loaded.run("promote", "api-server").exit_code == 0
    writes = [(r.verb, r.subresource) for r in loaded.requests() if r.verb == "patch"]
    assert writes == [("patch", "status"), ("patch", "")]
    after = loaded.get("Rollout", "api-server")
    assert after["spec"]["paused"] is False and "pauseConditions" not in after["status"]
    assert set(changes(before, after)) == {
        "spec.paused",
        "status.pauseConditions[0].reason",
        "status.pauseConditions[0].startTime",
    }


def test_restart_sets_restart_at(loaded: Cluster) -> None:
    before = loaded.get("Rollout", "api-server")
    start = datetime.now(UTC).replace(microsecond=0)
    result = loaded.run("restart", "api-server", "--in", "10m")
    assert (result.exit_code, result.output) == (0, "rollout 'api-server' restarts in 10m\n")
    changed = changes(before, loaded.get("Rollout", "api-server"))
    assert set(changed) == {"spec.restartAt"}
    at = datetime.strptime(changed["spec.restartAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert start + timedelta(minutes=10) <= at <= datetime.now(UTC) + timedelta(minutes=10)
    assert loaded.run("restart", "api-server").output == "rollout 'api-server' restarts in 0s\n"


def test_abort_and_pause_take_several_names(loaded: Cluster) -> None:
    result = loaded.run("abort", "api-server", "web-frontend")
    assert result.output == "rollout 'api-server' aborted\nrollout 'web-frontend' aborted\n"
    assert loaded.get("Rollout", "web-frontend")["status"]["abort"] is True


def test_terminate_analysisrun(loaded: Cluster) -> None:
    before = loaded.get("AnalysisRun", "api-server-7b5c9d8f6-2")
    result = loaded.run("terminate", "ar", "api-server-7b5c9d8f6-2")
    assert (result.exit_code, result.output) == (0, "analysisRun 'api-server-7b5c9d8f6-2' terminated\n")
    assert changes(before, loaded.get("AnalysisRun", "api-server-7b5c9d8f6-2")) == {"spec.terminate": True}


def test_set_image_star_and_unknown_container(loaded: Cluster) -> None:
    assert loaded.run("set", "image", "web-frontend", "*=web:9").exit_code == 0
    containers = loaded.get("Rollout", "web-frontend")["spec"]["template"]["spec"]["containers"]
    assert {c["image"] for c in containers} == {"web:9"}
    missing = loaded.run("set", "image", "web-frontend", "nope=web:9")
    assert (missing.exit_code, missing.output) == (1, 'Error: unable to find container named "nope"\n')


def test_undo_errors_and_skips(loaded: Cluster) -> None:
    missing = loaded.run("undo", "checkout", "--to-revision", "9")
    assert (missing.exit_code, missing.output) == (
        1,
        "Error: unable to find specified revision 9 in history\n",
    )
    same = loaded.run("undo", "checkout", "--to-revision", "4")
    assert (same.exit_code, same.output) == (
        0,
        "skipped rollback (current template already matches revision 4)\n",
    )


def test_promote_deprecated_flags(loaded: Cluster) -> None:
    both = loaded.run("promote", "api-server", "-c", "-a")
    assert both.exit_code == 1
    assert (
        both.output.splitlines()[-1]
        == "Error: Cannot use skip-current-step and skip-all-steps flags at the same time"
    )
    blue = loaded.run("promote", "web-frontend", "--skip-all-steps")
    assert (
        blue.output.splitlines()[-1] == "Error: Cannot skip steps of a bluegreen rollout. Run without a flags"
    )
    skip = loaded.run("promote", "api-server", "-c")
    assert skip.exit_code == 0 and "deprecated" in skip.output
    assert loaded.get("Rollout", "api-server")["status"]["currentStepIndex"] == 2


TEMPLATE: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "success-rate", "namespace": "shop"},
    "spec": {
        "args": [{"name": "service-name"}, {"name": "threshold", "value": "0.95"}],
        "metrics": [
            {
                "name": "success-rate",
                "successCondition": "result[0] >= {{args.threshold}}",
                "provider": {
                    "prometheus": {"address": "http://p:9090", "query": "up{job='{{args.service-name}}'}"}
                },
            }
        ],
    },
}


def test_create_analysisrun_from_template(loaded: Cluster) -> None:
    loaded.sandbox.create(TEMPLATE)
    result = loaded.run(
        "create", "analysisrun", "--from", "success-rate", "-a", "service-name=api", "--name", "sr-now"
    )
    assert (result.exit_code, result.output) == (0, "analysisrun.argoproj.io/sr-now created\n")
    run = loaded.get("AnalysisRun", "sr-now")
    assert run["spec"]["args"] == [
        {"name": "service-name", "value": "api"},
        {"name": "threshold", "value": "0.95"},
    ]
    assert run["spec"]["metrics"] == TEMPLATE["spec"]["metrics"]
    generated = loaded.run("create", "ar", "--from", "success-rate", "-a", "service-name=api")
    assert generated.exit_code == 0 and generated.output.startswith("analysisrun.argoproj.io/success-rate-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--from", "success-rate"], "Error: args.service-name was not resolved", id="missing-arg"
        ),
        pytest.param(
            ["--from", "success-rate", "-a", "oops"],
            "Error: arguments must be in the form NAME=VALUE",
            id="bad-arg",
        ),
        pytest.param([], "Error: one of --from or --from-file must be specified", id="no-source"),
        pytest.param(
            ["--from", "nope"], 'Error: analysistemplates.argoproj.io "nope" not found', id="not-found"
        ),
    ],
)
def test_create_analysisrun_errors(loaded: Cluster, args: list[str], message: str) -> None:
    loaded.sandbox.create(TEMPLATE)
    result = loaded.run("create", "analysisrun", *args)
    assert (result.exit_code, result.output) == (1, message + "\n")
