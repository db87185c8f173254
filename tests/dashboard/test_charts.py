"""`rollouts.dashboard.charts.metric_chart`: the SVG of an analysis metric that the dashboard shows inline.

The SVG is parsed with xml.etree: points are `<g class="mc-point mc-{phase}">` placed by
`transform="translate(x,y)"`, thresholds are `<g class="mc-threshold mc-threshold-{kind}">` around a `<line>`.
Geometry of the default 640x220 chart: the plot spans x 60…624 with 8 px inset (points at 68…616) and
y 30…184 (top to bottom).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from rollouts.dashboard.charts import MAX_POINTS, metric_chart, nice_ticks, parse_value

NS = {"s": "http://www.w3.org/2000/svg"}
LEFT, RIGHT, TOP, BOTTOM, INSET = 60, 624, 30, 184, 8


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def points(root: ET.Element) -> list[ET.Element]:
    return [
        g
        for g in root.iter(f"{{{NS['s']}}}g")
        if "mc-point" in classes(g) and g.get("data-phase") is not None
    ]


def position(element: ET.Element) -> tuple[float, float]:
    match = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", element.get("transform") or "")
    assert match, element.get("transform")
    return float(match.group(1)), float(match.group(2))


def desc(root: ET.Element) -> str:
    element = root.find("s:desc", NS)
    assert element is not None
    return element.text or ""


def child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(f"s:{tag}", NS)
    assert found is not None, tag
    return found


def number(element: ET.Element, attribute: str) -> float:
    return float(element.get(attribute) or "nan")


def threshold(root: ET.Element, kind: str) -> ET.Element | None:
    for g in root.iter(f"{{{NS['s']}}}g"):
        if f"mc-threshold-{kind}" in classes(g):
            return g
    return None


def y_ticks(root: ET.Element) -> list[float]:
    axis = next(g for g in root.iter(f"{{{NS['s']}}}g") if "mc-axis-y" in classes(g))
    return [float(t.get("data-value") or "nan") for t in axis.iter(f"{{{NS['s']}}}text")]


def measurement(second: int, value: Any, phase: str = "Successful") -> dict[str, Any]:
    return {
        "startedAt": f"2026-01-01T00:00:{second:02d}Z",
        "finishedAt": f"2026-01-01T00:00:{second:02d}Z",
        "value": value,
        "phase": phase,
    }


def metric(measurements: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "success-rate", "phase": "Running", "measurements": measurements, **extra}


def test_points_at_their_time_and_value() -> None:
    # values 0, 0.5, 1 at 0 s, 10 s, 20 s: the y domain is exactly 0…1, so y maps 0 → 184, 1 → 30
    root = parse(metric_chart(metric([measurement(0, "0"), measurement(10, "0.5"), measurement(20, "1")])))
    got = [position(p) for p in points(root)]
    assert got == [
        (LEFT + INSET, BOTTOM),
        ((LEFT + INSET + RIGHT - INSET) / 2, (TOP + BOTTOM) / 2),
        (RIGHT - INSET, TOP),
    ]
    assert y_ticks(root) == [0.0, 0.25, 0.5, 0.75, 1.0]
    labels = [
        t.text
        for g in root.iter(f"{{{NS['s']}}}g")
        if "mc-axis-x" in classes(g)
        for t in g.iter(f"{{{NS['s']}}}text")
    ]
    assert "00:00:10" in labels and "time (UTC)" in labels


def test_finished_at_then_started_at_then_order_of_measurements() -> None:
    ms = [
        {"startedAt": "2026-01-01T00:00:00Z", "value": "1"},
        {"finishedAt": "2026-01-01T00:00:20Z", "value": "2"},
    ]
    xs = [position(p)[0] for p in points(parse(metric_chart(metric(ms))))]
    assert xs == [LEFT + INSET, RIGHT - INSET]
    # without any time: by number
    root = parse(metric_chart(metric([{"value": "1"}, {"value": "2"}, {"value": "3"}])))
    assert [position(p)[0] for p in points(root)] == [LEFT + INSET, (LEFT + RIGHT) / 2, RIGHT - INSET]
    assert "measurement" in {t.text for t in root.iter(f"{{{NS['s']}}}text")}


@pytest.mark.parametrize(
    ("condition", "kind", "level"),
    [
        pytest.param("result[0] >= 0.95", "success", 0.95, id="success-ge"),
        pytest.param("result[0] < 0.9", "failure", 0.9, id="failure-lt"),
        pytest.param("0.5 <= result", "success", 0.5, id="reversed"),
        pytest.param("result[0] >= {{args.min}}", "success", 0.8, id="argument"),
    ],
)
def test_threshold_line_at_its_level(condition: str, kind: str, level: float) -> None:
    key = "successCondition" if kind == "success" else "failureCondition"
    m = metric([measurement(0, "0"), measurement(10, "1")], **{key: condition})
    root = parse(metric_chart(m, args={"min": "0.8"}))
    line = threshold(root, kind)
    assert line is not None
    y = number(child(line, "line"), "y1")
    assert y == pytest.approx(BOTTOM - level * (BOTTOM - TOP), abs=0.01)
    assert number(line, "data-threshold") == level
    assert (child(line, "line").get("stroke-dasharray") is not None) == (kind == "failure")
    label = child(line, "text")
    assert condition.split("{")[0] in (label.text or "")


def test_both_thresholds_and_a_domain_that_holds_them() -> None:
    m = metric(
        [measurement(0, "0.97"), measurement(10, "0.96")],
        successCondition="result[0] >= 0.95",
        failureCondition="result[0] < 0.9",
    )
    root = parse(metric_chart(m))
    ticks = y_ticks(root)
    assert ticks[0] <= 0.9 and ticks[-1] >= 0.97
    success, failure = threshold(root, "success"), threshold(root, "failure")
    assert success is not None and failure is not None
    assert number(child(failure, "line"), "y1") > number(child(success, "line"), "y1")


def test_rich_condition_draws_no_line_but_is_described() -> None:
    m = metric([measurement(0, "1")], successCondition="len(result) == 0 || result[0] < 1")
    root = parse(metric_chart(m))
    assert threshold(root, "success") is None
    assert "success when len(result) == 0 || result[0] < 1" in desc(root)


@pytest.mark.parametrize(
    ("phase", "css"),
    [
        pytest.param("Successful", "mc-successful", id="successful"),
        pytest.param("Failed", "mc-failed", id="failed"),
        pytest.param("Inconclusive", "mc-inconclusive", id="inconclusive"),
        pytest.param("Error", "mc-error", id="error"),
        pytest.param("Running", "mc-other", id="other"),
    ],
)
def test_points_classed_and_shaped_by_phase(phase: str, css: str) -> None:
    root = parse(metric_chart(metric([measurement(0, "0.5", phase)])))
    (point,) = points(root)
    assert css in classes(point) and point.get("data-phase") == phase
    shapes = {"mc-successful": "circle", "mc-failed": "rect", "mc-inconclusive": "path", "mc-error": "path"}
    if css in shapes:
        assert point[1].tag == f"{{{NS['s']}}}{shapes[css]}"


def test_description_counts_failed() -> None:
    phases = ["Successful", "Failed", "Failed", "Successful", "Failed", "Failed"]
    m = metric([measurement(i, "0.9", p) for i, p in enumerate(phases)], successCondition="result[0] >= 0.95")
    root = parse(metric_chart(m))
    assert root.get("role") == "img"
    assert desc(root).startswith("success-rate: 6 measurements, 4 failed; ")
    assert "success when result[0] >= 0.95" in desc(root)
    assert root.get("aria-labelledby") == f"{child(root, 'title').get('id')} {child(root, 'desc').get('id')}"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        pytest.param("0.97", 0.97, id="number"),
        pytest.param("[0.97]", 0.97, id="list"),
        pytest.param("[0.9, 0.8]", 0.9, id="series-first"),
        pytest.param(" 12 ", 12.0, id="spaces"),
        pytest.param("1e3", 1000.0, id="exponent"),
        pytest.param("NaN", None, id="nan"),
        pytest.param("", None, id="empty"),
        pytest.param("[]", None, id="empty-list"),
        pytest.param('{"ok": true}', None, id="object"),
        pytest.param("[true]", None, id="bool"),
        pytest.param("Infinity", None, id="infinite"),
        pytest.param("oops", None, id="text"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_value(value: Any, number: float | None) -> None:
    assert parse_value(value) == number


def test_non_numeric_values_are_error_markers_on_the_axis() -> None:
    ms = [
        measurement(0, "1"),
        measurement(10, "NaN", "Error"),
        measurement(20, '{"a": 1}', "Error"),
        measurement(30, ""),
    ]
    root = parse(metric_chart(metric(ms)))
    drawn = points(root)
    assert len(drawn) == 4
    marked = [p for p in drawn if "nonnumeric" in classes(p)]
    assert len(marked) == 3
    assert all(position(p)[1] == BOTTOM for p in marked)
    assert "3 without a numeric value" in desc(root)


def test_only_non_numeric_values() -> None:
    root = parse(metric_chart(metric([measurement(0, "NaN", "Error")])))
    assert len(points(root)) == 1 and y_ticks(root) == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("measurements", [pytest.param([], id="empty"), pytest.param(None, id="missing")])
def test_no_measurements(measurements: Any) -> None:
    svg = metric_chart({"name": "latency", "measurements": measurements})
    root = parse(svg)
    assert root.get("role") == "img" and points(root) == []
    assert "no measurements yet" in svg
    assert desc(root) == "latency: no measurements yet"


HOSTILE = "<script>alert(1)</script>\"'&"


@pytest.mark.parametrize(
    "field",
    [
        pytest.param("name", id="name"),
        pytest.param("successCondition", id="success-condition"),
        pytest.param("failureCondition", id="failure-condition"),
        pytest.param("phase", id="phase"),
        pytest.param("value", id="value"),
        pytest.param("measurement-phase", id="measurement-phase"),
    ],
)
def test_hostile_text_is_escaped(field: str) -> None:
    m: dict[str, Any] = metric([measurement(0, "0.5"), measurement(10, "0.7")], query=HOSTILE)
    if field == "value":
        m["measurements"][0]["value"] = HOSTILE
    elif field == "measurement-phase":
        m["measurements"][0]["phase"] = HOSTILE
    else:
        m[field] = HOSTILE
    svg = metric_chart(m)
    assert "<script" not in svg
    root = parse(svg)
    texts = "".join(root.itertext()) + "".join(v for e in root.iter() for v in e.attrib.values())
    assert HOSTILE in texts or HOSTILE[:20] in texts


def test_only_the_last_thousand_are_drawn() -> None:
    ms = [
        {
            "finishedAt": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "value": str(i),
            "phase": "Successful",
        }
        for i in range(10_000)
    ]
    svg = metric_chart(metric(ms))
    root = parse(svg)
    drawn = points(root)
    assert len(drawn) == MAX_POINTS == 1000
    assert (child(drawn[0], "title").text or "").startswith("2026-01-01 02:30:00 UTC: 9000 ")
    assert "10,000 measurements" in desc(root)
    assert "the last 1,000 drawn" in desc(root)
    assert len(svg) < 400_000


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        pytest.param("0.5", 0.5, id="half"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("-3", -3.0, id="negative"),
        pytest.param("1200", 1200.0, id="large"),
    ],
)
def test_constant_series_has_a_range_around_its_value(value: str, inside: float) -> None:
    root = parse(metric_chart(metric([measurement(i, value) for i in range(5)])))
    ticks = y_ticks(root)
    assert len(ticks) >= 3 and ticks[0] < inside < ticks[-1]
    ys = {position(p)[1] for p in points(root)}
    assert len(ys) == 1 and TOP < ys.pop() < BOTTOM


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        pytest.param(0.0, 1.0, [0.0, 0.25, 0.5, 0.75, 1.0], id="unit"),
        pytest.param(0.91, 0.99, [0.9, 0.92, 0.94, 0.96, 0.98, 1.0], id="narrow"),
        pytest.param(3.0, 1234.0, [0.0, 500.0, 1000.0, 1500.0], id="large"),
        pytest.param(-1.0, 1.0, [-1.0, -0.5, 0.0, 0.5, 1.0], id="signed"),
    ],
)
def test_nice_ticks(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high)[2] == ticks


def test_tick_labels_are_readable() -> None:
    root = parse(metric_chart(metric([measurement(0, "0.1"), measurement(10, "0.3")])))
    axis = next(g for g in root.iter(f"{{{NS['s']}}}g") if "mc-axis-y" in classes(g))
    labels = [t.text for t in axis.iter(f"{{{NS['s']}}}text")]
    assert labels == ["0.1", "0.15", "0.2", "0.25", "0.3"]


@pytest.mark.parametrize(
    "measurements",
    [
        pytest.param([measurement(0, "1")], id="one"),
        pytest.param([measurement(0, "1"), {"value": "2"}], id="time-missing"),
        pytest.param([{"finishedAt": "yesterday", "value": "1"}], id="bad-time"),
        pytest.param(
            [{"finishedAt": "2026-01-01T00:00:00+02:00", "value": "1"}, measurement(5, "2")], id="offset"
        ),
        pytest.param(["not a dict", measurement(0, "1")], id="junk"),
        pytest.param(
            [{"finishedAt": f"2026-01-0{d}T00:00:00Z", "value": str(d)} for d in range(1, 6)], id="days"
        ),
    ],
)
def test_well_formed_for_odd_input(measurements: list[Any]) -> None:
    root = parse(metric_chart(metric(measurements), width=300, height=150))
    assert root.tag == f"{{{NS['s']}}}svg" and root.get("viewBox") == "0 0 300 150"
    assert points(root)
