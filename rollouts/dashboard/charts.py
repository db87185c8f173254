"""Server-side SVG charts of an AnalysisRun's metric for the dashboard: pure functions, no I/O.

`metric_chart` draws one metric of the `GET /api/v1/namespaces/{ns}/analysisruns/{name}` answer: the
measured value over time, each point coloured *and* shaped by its phase, the success and failure thresholds
of simple conditions (`result[0] >= 0.95`) as lines labelled with the condition, and nice axis ticks.

Choices, pinned by tests/dashboard/test_charts.py:

* x is the measurement's `finishedAt`, else its `startedAt`, in UTC (labels HH:MM:SS, or MM-DD HH:MM when
  the measurements span two days or more). When a drawn measurement has neither time, x is the
  measurement's number (1, 2, 3 …) for all of them.
* y is the value. A JSON list counts by its first element, as `result[0]` in a condition does and as the
  controller's `rollout_analysis_run_metric_value` gauge does: "[0.97, 0.4]" is 0.97.
* A value that is not a finite number ("NaN", "", a JSON object from the web provider, "[]", text) is not
  dropped: it is drawn as a marker on the x axis, classed `nonnumeric`.
* Only the last `MAX_POINTS` measurements are drawn; the description says how many there were.
* Colours come from CSS classes (`mc-…`) that the page styles for light and dark schemes; presentation
  attributes give a readable fallback when the SVG is viewed alone. Axes use `currentColor`.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rollouts.controller.labelling import condition_threshold

__all__ = ["MAX_POINTS", "metric_chart", "nice_ticks", "parse_value"]

#: At most this many measurements (the newest) are drawn.
MAX_POINTS = 1000

_MARGIN_LEFT = 60
_MARGIN_RIGHT = 16
_MARGIN_TOP = 30
_MARGIN_BOTTOM = 36
_LABEL_CHARS = 64
_VALUE_CHARS = 80

#: phase → (css suffix, fallback colour)
_PHASES: dict[str, tuple[str, str]] = {
    "Successful": ("successful", "#2e7d32"),
    "Failed": ("failed", "#c62828"),
    "Inconclusive": ("inconclusive", "#b26a00"),
    "Error": ("error", "#6b6b6b"),
}
_OTHER_PHASE = ("other", "#1565c0")


def _esc(text: Any) -> str:
    """Text made safe for XML character data and attribute values."""
    return html.escape(str(text), quote=True)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: float) -> str:
    """A coordinate: two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parse_value(value: Any) -> float | None:
    """The number a measurement's value stands for, or None when it is not a finite number.

    >>> parse_value("0.97"), parse_value("[0.97, 0.4]"), parse_value("NaN"), parse_value('{"ok": 1}')
    (0.97, 0.97, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            try:
                parsed = float(text)
            except ValueError:
                return None
        if isinstance(parsed, list):
            parsed = parsed[0] if parsed else None
        if isinstance(parsed, bool) or not isinstance(parsed, int | float | str):
            return None
        try:
            number = float(parsed)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def nice_ticks(low: float, high: float, target: int = 5) -> tuple[float, float, list[float]]:
    """A domain widened to round numbers and its ticks: 0.91…0.99 → 0.9, 1.0 by 0.02 steps.

    A constant series (low == high) is widened around its value so that it sits in the middle.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    if low > high:
        low, high = high, low
    if high - low < 1e-12 * max(1.0, abs(high)):
        pad = abs(low) * 0.1 if low else 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(1, target - 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    count = round((stop - start) / step)
    ticks = [_round_tick(start + i * step, step) for i in range(count + 1)]
    return ticks[0], ticks[-1], ticks


def _round_tick(value: float, step: float) -> float:
    decimals = max(0, -math.floor(math.log10(step)) + 2)
    rounded = round(value, decimals)
    return 0.0 if rounded == 0 else rounded


def _tick_label(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-4:
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if decimals and round(step * 10**decimals) != step * 10**decimals:
        decimals += 1
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _time_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Ticks on round times (every 10 s, 5 min, 1 h …): the finest step that gives at most `most` of them."""
    span = high - low
    step = next((s for s in _TIME_STEPS if span / s <= most), None)
    if step is None:
        step = 86400 * math.ceil(span / 86400 / most)
    first = math.ceil(low / step - 1e-9) * step
    ticks: list[float] = []
    value = float(first)
    while value <= high + 1e-9:
        ticks.append(value)
        value += step
    return ticks


@dataclass(frozen=True)
class _Point:
    x: float
    value: float | None
    phase: str
    label: str


def _phase_style(phase: str) -> tuple[str, str]:
    return _PHASES.get(phase, _OTHER_PHASE)


def _shape(css: str, colour: str, size: float = 1.0) -> str:
    """The marker of a phase centred on 0,0: circle, square, diamond, cross, hollow circle."""
    r = 3.6 * size
    if css == "successful":
        return f'<circle r="{_fmt(r)}" fill="{colour}"/>'
    if css == "failed":
        return f'<rect x="{_fmt(-r)}" y="{_fmt(-r)}" width="{_fmt(2 * r)}" height="{_fmt(2 * r)}" fill="{colour}"/>'
    if css == "inconclusive":
        d = _fmt(r * 1.3)
        return f'<path d="M0,-{d}L{d},0L0,{d}L-{d},0Z" fill="{colour}"/>'
    if css == "error":
        a = _fmt(r)
        return (
            f'<path d="M-{a},-{a}L{a},{a}M-{a},{a}L{a},-{a}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    return f'<circle r="{_fmt(r * 0.95)}" fill="none" stroke="{colour}" stroke-width="1.6"/>'


def _ids(name: str) -> tuple[str, str]:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "metric"
    digest = hashlib.sha1(name.encode("utf-8", "replace")).hexdigest()[:8]
    base = f"mc-{slug}-{digest}"
    return f"{base}-title", f"{base}-desc"


def _condition(metric: Mapping[str, Any], key: str) -> str:
    value = metric.get(key)
    return value.strip() if isinstance(value, str) else ""


def _describe(name: str, total: int, drawn: Sequence[_Point], success: str, failure: str) -> str:
    parts = [f"{name}: {total:,} measurement{'s' if total != 1 else ''}"]
    counts: dict[str, int] = {}
    for point in drawn:
        counts[point.phase] = counts.get(point.phase, 0) + 1
    for phase in ("Failed", "Inconclusive", "Error"):
        if counts.get(phase):
            parts.append(f"{counts[phase]:,} {phase.lower()}")
    text = ", ".join(parts)
    if total > len(drawn):
        text += f" (the last {len(drawn):,} drawn)"
    nonnumeric = sum(1 for p in drawn if p.value is None)
    if nonnumeric:
        text += f"; {nonnumeric:,} without a numeric value, marked on the time axis"
    if success:
        text += f"; success when {success}"
    if failure:
        text += f"; failure when {failure}"
    numeric = [p.value for p in drawn if p.value is not None]
    if numeric:
        text += f"; latest value {_tick_label(numeric[-1], abs(numeric[-1]) / 1000 or 1)}"
    return text


def _empty(name: str, title_id: str, desc_id: str, width: int) -> str:
    message = "no measurements yet"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mc mc-empty" role="img" width="{width}" height="48"'
        f' viewBox="0 0 {width} 48" aria-labelledby="{title_id} {desc_id}">'
        f'<title id="{title_id}">{_esc(name)}</title>'
        f'<desc id="{desc_id}">{_esc(name)}: {message}</desc>'
        f'<text class="mc-empty-text" x="{width // 2}" y="28" text-anchor="middle" fill="currentColor"'
        f' font-size="13">{message}</text></svg>'
    )


def metric_chart(
    metric: Mapping[str, Any],
    *,
    width: int = 640,
    height: int = 220,
    args: Mapping[str, str] | None = None,
) -> str:
    """An accessible inline SVG of one metric's measurements against its thresholds.

    `metric` is a metric of the AnalysisRun API answer (`name`, `phase`, `measurements`, `successCondition`,
    `failureCondition`); `args` (the run's arguments) fill `{{args.x}}` placeholders in the conditions
    before their thresholds are read.
    """
    name = str(metric.get("name") or "metric")
    title_id, desc_id = _ids(name)
    width = max(240, int(width))
    height = max(120, int(height))
    raw = metric.get("measurements")
    measurements = [m for m in raw if isinstance(m, Mapping)] if isinstance(raw, Sequence) else []
    total = len(measurements)
    if not measurements:
        return _empty(name, title_id, desc_id, width)
    kept = measurements[-MAX_POINTS:]

    times = [_parse_time(m.get("finishedAt")) or _parse_time(m.get("startedAt")) for m in kept]
    by_time = all(t is not None for t in times)
    points: list[_Point] = []
    for index, (measurement, moment) in enumerate(zip(kept, times, strict=True)):
        value = parse_value(measurement.get("value"))
        phase = str(measurement.get("phase") or "")
        shown = _clip(
            str(measurement.get("value") if measurement.get("value") is not None else ""), _VALUE_CHARS
        )
        if by_time and moment is not None:
            x = moment.timestamp()
            when = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
        else:
            x = float(total - len(kept) + index + 1)
            when = f"measurement {int(x)}"
        label = f"{when}: {shown or '(empty)'} ({phase or 'no phase'})"
        points.append(_Point(x=x, value=value, phase=phase, label=label))
    if by_time:
        points.sort(key=lambda p: p.x)

    success = _condition(metric, "successCondition")
    failure = _condition(metric, "failureCondition")
    plain_args = {str(k): str(v) for k, v in (args or {}).items()}
    thresholds: list[tuple[str, str, float]] = []
    for kind, text in (("success", success), ("failure", failure)):
        level = condition_threshold(text, plain_args) if text else None
        if level is not None:
            thresholds.append((kind, text, level))

    # y domain: the numbers and the thresholds
    numbers = [p.value for p in points if p.value is not None] + [t[2] for t in thresholds]
    y_low, y_high, y_ticks = (
        nice_ticks(min(numbers), max(numbers)) if numbers else (0.0, 1.0, [0.0, 0.5, 1.0])
    )
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0

    # x domain
    x_low, x_high = points[0].x, points[-1].x
    if by_time:
        x_low, x_high = min(p.x for p in points), max(p.x for p in points)
        if x_high - x_low < 1:
            x_low, x_high = x_low - 30, x_high + 30
        x_ticks = _time_ticks(x_low, x_high)
        long_span = x_high - x_low >= 2 * 86400
        x_labels = [
            datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M" if long_span else "%H:%M:%S")
            for t in x_ticks
        ]
    else:
        x_low, x_high = min(p.x for p in points), max(p.x for p in points)
        if x_high - x_low < 1:
            x_low, x_high = x_low - 1, x_high + 1
        _, _, x_ticks = nice_ticks(x_low, x_high)
        x_ticks = [t for t in x_ticks if x_low <= t <= x_high and float(t).is_integer()]
        x_labels = [str(int(t)) for t in x_ticks]

    left, right = _MARGIN_LEFT, width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
    inset = 8.0  # keeps the first and last points off the y axis and the right edge

    def sx(x: float) -> float:
        return left + inset + (x - x_low) / (x_high - x_low) * (right - left - 2 * inset)

    def sy(y: float) -> float:
        return bottom - (y - y_low) / (y_high - y_low) * (bottom - top)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mc" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" aria-labelledby="{title_id} {desc_id}"'
        f' font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{title_id}">{_esc(name)}{" (" + _esc(metric.get("phase")) + ")" if metric.get("phase") else ""}</title>',
        f'<desc id="{desc_id}">{_esc(_describe(name, total, points, success, failure))}</desc>',
    ]

    # grid and y axis
    out.append('<g class="mc-grid" stroke="currentColor" stroke-opacity="0.15" stroke-width="1">')
    for tick in y_ticks:
        out.append(f'<line x1="{left}" x2="{right}" y1="{_fmt(sy(tick))}" y2="{_fmt(sy(tick))}"/>')
    out.append("</g>")
    out.append('<g class="mc-axis mc-axis-y" fill="currentColor" text-anchor="end">')
    for tick in y_ticks:
        out.append(
            f'<text x="{left - 6}" y="{_fmt(sy(tick) + 3.5)}" data-value="{tick!r}">'
            f"{_esc(_tick_label(tick, y_step))}</text>"
        )
    out.append("</g>")
    out.append(
        f'<g class="mc-axis mc-axis-x" fill="currentColor" text-anchor="middle">'
        f'<line class="mc-baseline" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="currentColor"'
        f' stroke-opacity="0.6"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="currentColor" stroke-opacity="0.6"/>'
    )
    for tick, label in zip(x_ticks, x_labels, strict=True):
        at = _fmt(sx(tick))
        out.append(
            f'<line x1="{at}" x2="{at}" y1="{bottom}" y2="{bottom + 4}" stroke="currentColor" stroke-opacity="0.6"/>'
            f'<text x="{at}" y="{bottom + 16}">{_esc(label)}</text>'
        )
    axis_title = "time (UTC)" if by_time else "measurement"
    out.append(
        f'<text class="mc-axis-title" x="{right}" y="{height - 4}" text-anchor="end"'
        f' fill-opacity="0.7">{axis_title}</text></g>'
    )

    # thresholds
    for kind, text, level in thresholds:
        at = _fmt(sy(level))
        dash = ' stroke-dasharray="6 4"' if kind == "failure" else ""
        colour = _PHASES["Successful" if kind == "success" else "Failed"][1]
        label = _clip(f"{kind}: {text}", _LABEL_CHARS)
        out.append(
            f'<g class="mc-threshold mc-threshold-{kind}" data-threshold="{level!r}">'
            f"<title>{_esc(kind)} when {_esc(text)}</title>"
            f'<line x1="{left}" x2="{right}" y1="{at}" y2="{at}" stroke="{colour}" stroke-width="1.5"{dash}/>'
            f'<text x="{right - 4}" y="{_fmt(sy(level) - 4)}" text-anchor="end" fill="{colour}">{_esc(label)}</text>'
            "</g>"
        )

    # the series line through numeric points
    numeric = [p for p in points if p.value is not None]
    if len(numeric) > 1:
        path = " ".join(f"{_fmt(sx(p.x))},{_fmt(sy(p.value))}" for p in numeric if p.value is not None)
        out.append(
            f'<polyline class="mc-series" points="{path}" fill="none" stroke="currentColor"'
            ' stroke-opacity="0.35" stroke-width="1.2"/>'
        )

    # points
    seen: list[str] = []
    size = min(1.0, max(0.55, (right - left) / len(points) / 6))  # smaller markers when they crowd
    out.append('<g class="mc-points">')
    for point in points:
        css, colour = _phase_style(point.phase)
        if css not in seen:
            seen.append(css)
        if point.value is None:
            py, extra = float(bottom), " mc-nonnumeric nonnumeric"
        else:
            py, extra = sy(point.value), ""
        out.append(
            f'<g class="mc-point mc-{css}{extra}" transform="translate({_fmt(sx(point.x))},{_fmt(py)})"'
            f' data-phase="{_esc(point.phase)}"><title>{_esc(point.label)}</title>{_shape(css, colour, size)}</g>'
        )
    out.append("</g>")

    # legend: only the phases drawn, each with its marker
    legend_x = float(left)
    out.append('<g class="mc-legend" fill="currentColor">')
    names = {css: phase for phase, (css, _) in _PHASES.items()}
    for css in [c for c in ("successful", "failed", "inconclusive", "error", "other") if c in seen]:
        label = names.get(css, "other")
        colour = dict(_PHASES.values()).get(css, _OTHER_PHASE[1])
        out.append(
            f'<g class="mc-point mc-{css}" transform="translate({_fmt(legend_x + 4)},10)">{_shape(css, colour)}</g>'
            f'<text x="{_fmt(legend_x + 12)}" y="14">{_esc(label)}</text>'
        )
        legend_x += 22 + 6.2 * len(label)
    if any(p.value is None for p in points):
        out.append(
            f'<text class="mc-legend-nonnumeric" x="{_fmt(legend_x)}" y="14" fill-opacity="0.75">'
            "on the axis: not a number</text>"
        )
    out.append("</g></svg>")
    return "".join(out)
