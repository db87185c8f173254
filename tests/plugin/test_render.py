"""Golden files of `get rollout`, `get analysisrun` and `list rollouts` (no colour), docs/semantics/plugin.md#get-rollout-output.

The objects are hand-built (tests/plugin/objects.py) with timestamps relative to a fixed `NOW`, so the output
is byte-stable. Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/plugin/test_render.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from rollouts.plugin.info import build_rollout_info
from rollouts.plugin.render import render_list, render_rollout
from rollouts.plugin.render_analysis import render_analysis_run, verdict_reason
from tests.plugin.objects import NOW, SCENARIOS, split

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_get_rollout_golden(scenario: str) -> None:
    ro, rss, pods, runs = split(SCENARIOS[scenario]())
    check_golden(
        f"get_rollout_{scenario}.txt", render_rollout(build_rollout_info(ro, rss, pods, runs, NOW)).plain
    )


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_get_analysisrun_golden(scenario: str) -> None:
    _, _, _, runs = split(SCENARIOS[scenario]())
    check_golden(f"get_analysisrun_{scenario}.txt", render_analysis_run(runs[0]).plain)


def test_list_rollouts_golden() -> None:
    rollouts = [split(f())[0] for f in SCENARIOS.values()]
    check_golden("list_rollouts.txt", render_list(rollouts).plain)
    check_golden("list_rollouts_all_namespaces.txt", render_list(rollouts, namespaces=True).plain)


def test_colours_ride_as_styles_and_vanish_without_colour() -> None:
    """The same Text prints ANSI colours on a colour console and nothing extra on a plain one (docs/semantics/plugin.md#get-rollout-output colours)."""
    ro, rss, pods, runs = split(SCENARIOS["canary_mid_rollout"]())
    text = render_rollout(build_rollout_info(ro, rss, pods, runs, NOW))
    coloured = Console(force_terminal=True, color_system="standard", width=300)
    with coloured.capture() as cap:
        coloured.print(text, end="")
    assert "\x1b[33mcanary\x1b[0m" in cap.get()  # yellow canary tag
    assert "\x1b[32mstable\x1b[0m" in cap.get()  # green stable tag
    plain = Console(no_color=True, color_system=None, width=300)
    with plain.capture() as cap:
        plain.print(text, end="")
    assert "\x1b[" not in cap.get()
    assert cap.get() == text.plain


def test_tree_lists_revisions_newest_first_with_children() -> None:
    ro, rss, pods, runs = split(SCENARIOS["aborted_canary"]())
    info = build_rollout_info(ro, rss, pods, runs, NOW)
    assert info.revisions() == [4, 3, 2]
    canary = next(rs for rs in info.replica_sets if rs.canary)
    assert canary.delay == "25s"
    assert (info.analysis_runs[0].successful, info.analysis_runs[0].failed) == (3, 2)


@pytest.mark.parametrize(
    ("result", "terminated", "reason"),
    [
        pytest.param(
            {"phase": "Failed", "failed": 4, "count": 4, "message": ""},
            False,
            "failed (4) > failureLimit (3)",
            id="failed-by-limit",
        ),
        pytest.param(
            {"phase": "Error", "consecutiveError": 5, "message": "prometheus query failed: timeout"},
            False,
            "prometheus query failed: timeout",
            id="controller-message",
        ),
        pytest.param(
            {"phase": "Successful", "count": 2, "message": "prometheus query failed: timeout"},
            True,
            "run terminated before the count was reached (last message: prometheus query failed: timeout)",
            id="terminated-success-keeps-last-message-apart",
        ),
    ],
)
def test_verdict_reason(result: dict[str, object], terminated: bool, reason: str) -> None:
    metric = {"name": "success-rate", "interval": "1m", "count": 5, "failureLimit": 3}
    assert verdict_reason(metric, result, terminated) == reason
