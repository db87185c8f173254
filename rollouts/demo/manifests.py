"""The demo's manifests: the seed guide's Rollouts and AnalysisTemplates, adapted to run in minutes.

The files in `rollouts/demo/manifests/` are the guide's documents as shipped in `examples/` (a test keeps
them identical). `speed_up()` is the one documented override: it divides every duration by the speed factor
(pause steps, metric intervals and initial delays, scale-down delays, the `[5m]` rate windows in queries) with
floors that keep the numbers meaningful (1 s for intervals and pauses, 5 s for rate windows, which must span
several 1 s scrapes), and points the templates at the demo's Prometheus and the smoke test at the preview
Service's local address. Nothing else is changed: steps, weights, limits and conditions are the guide's.
"""

from __future__ import annotations

import copy
import math
import re
from importlib import resources
from typing import Any

import yaml

from analysis.durations import format_go_duration, parse_go_duration

Obj = dict[str, Any]

CANARY_FILES = ("success-rate.yaml", "latency.yaml", "canary-services.yaml", "virtualservice.yaml")
CANARY_ROLLOUT = "canary-rollout.yaml"
BLUEGREEN_FILES = ("smoke-tests.yaml", "bluegreen-services.yaml")
BLUEGREEN_ROLLOUT = "bluegreen-rollout.yaml"

_WINDOW = re.compile(r"\[(\d+(?:\.\d+)?(?:ms|s|m|h|d))\]")


def load(name: str) -> list[Obj]:
    text = resources.files("rollouts.demo").joinpath("manifests", name).read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    return float(text) if text.isdigit() else parse_go_duration(text).total_seconds()


def _scaled(value: Any, speed: float, floor: float) -> float:
    return max(floor, _seconds(value) / speed)


def _duration(seconds: float) -> str:
    whole = math.ceil(seconds * 1000) / 1000
    return f"{int(whole)}s" if whole == int(whole) else f"{int(whole * 1000)}ms"


def _window(match: re.Match[str], speed: float) -> str:
    seconds = _scaled(match.group(1), speed, 5.0)
    return f"[{math.ceil(seconds)}s]"


def speed_up(doc: Obj, speed: float, prometheus_url: str, preview_url: str | None = None) -> Obj:
    """A copy of `doc` with durations divided by `speed` and addresses pointed at the demo's services."""
    doc = copy.deepcopy(doc)
    kind = doc.get("kind")
    spec = doc.setdefault("spec", {})
    if kind == "Rollout":
        canary = (spec.get("strategy") or {}).get("canary")
        bluegreen = (spec.get("strategy") or {}).get("blueGreen")
        if canary is not None:
            for step in canary.get("steps") or []:
                pause = step.get("pause")
                if isinstance(pause, dict) and pause.get("duration") is not None:
                    pause["duration"] = math.ceil(_scaled(pause["duration"], speed, 1.0))
            for key in ("scaleDownDelaySeconds", "abortScaleDownDelaySeconds"):
                canary[key] = math.ceil(_scaled(canary.get(key, 30), speed, 1.0))
        if bluegreen is not None:
            for key in ("scaleDownDelaySeconds", "abortScaleDownDelaySeconds"):
                bluegreen[key] = math.ceil(_scaled(bluegreen.get(key, 30), speed, 1.0))
            if bluegreen.get("autoPromotionSeconds"):
                bluegreen["autoPromotionSeconds"] = math.ceil(
                    _scaled(bluegreen["autoPromotionSeconds"], speed, 1.0)
                )
            if preview_url is not None:
                for arg in (bluegreen.get("prePromotionAnalysis") or {}).get("args") or []:
                    if arg.get("name") == "preview-url":
                        arg["value"] = preview_url
    elif kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
        for metric in spec.get("metrics") or []:
            for key in ("interval", "initialDelay"):
                if metric.get(key):
                    metric[key] = _duration(_scaled(metric[key], speed, 1.0))
            prometheus = (metric.get("provider") or {}).get("prometheus")
            if prometheus is not None:
                prometheus["address"] = prometheus_url
                prometheus["query"] = _WINDOW.sub(lambda m: _window(m, speed), prometheus.get("query", ""))
    return doc


def window_seconds(query: str) -> list[int]:
    """The rate windows of a query, in seconds (for the demo's summary)."""
    return [int(parse_go_duration(w).total_seconds()) for w in _WINDOW.findall(query)]


__all__ = [
    "BLUEGREEN_FILES",
    "BLUEGREEN_ROLLOUT",
    "CANARY_FILES",
    "CANARY_ROLLOUT",
    "format_go_duration",
    "load",
    "speed_up",
    "window_seconds",
]
