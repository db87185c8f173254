"""Unit tests for AnalysisTemplates (`rollouts analyze test FILE...`), in the spirit of `promtool test rules`.

Sits beside `execution` (which runs templates against a real backend): here the backend is a script. A test
file names templates, arguments and cases; each case gives, per metric, the query result of each successive
measurement, and what the run must end as:

    templates: [success-rate.yaml]         # paths relative to the test file
    args: {service-name: api-server-canary}
    tests:
    - name: degrading canary fails at the fourth bad measurement
      values:
        success-rate: [[0.995], [0.97], [0.96], [0.95], [0.94]]
      expect: {phase: Failed, metrics: {success-rate: {phase: Failed, failed: 4}}}

The run is the one the controller would make (templates merged and validated, arguments substituted), driven
by the engine itself (`runner.run_to_completion`) on a virtual clock from `start` (default 2024-01-01T00:00:00Z),
so `interval`, `initialDelay`, `count`, the limits, the 10 s retry after an Error and `dryRun` all apply. The
run ends when it completes, or at the first instant some metric is due a measurement its values do not have:
the result is then the status just before that instant (a metric that never ends, without `count`, is seen
as `Running`).

A value is what a provider would have answered: a number (a scalar), a list (a vector: `[0.95]`), `NaN` / `+Inf`
/ `-Inf` (also inside lists), `null` (an empty answer: `[]`), `{error: message}` (an Error measurement, as a
backend failure), or any other object (the result of a `web` metric or of the statistical judge, e.g. `{verdict:
fail}`). `expect` compares only what it names: the run's `phase` and `message`, and per metric `phase`,
`message`, `count`, `successful`, `failed`, `inconclusive`, `error`, `consecutiveError` and `phases` (the phase of
every measurement, in order).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.args import SecretResolver
from analysis.execution import ExecutionError, build_run
from analysis.manifests import ManifestError, check_metrics, expand_templates, load_templates
from analysis.models import AnalysisPhase, AnalysisRunSpec, AnalysisRunStatus, Measurement, Metric
from analysis.providers.base import BaseProvider, error_measurement, format_sample, format_samples
from analysis.reading import ReadError, read_documents
from analysis.runner import RunStep, VirtualClock, run_to_completion

__all__ = ["CaseResult", "FileResult", "TestFileError", "run_test_file"]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
MAX_VALUES = 10_000  # per metric and case: a test file is input too


class TestFileError(ValueError):
    """A test file that cannot be run; `str()` names the file and the field."""

    __test__ = False  # not a pytest class


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MetricExpect(_Model):
    phase: AnalysisPhase | None = None
    message: str | None = None
    count: int | None = None
    successful: int | None = None
    failed: int | None = None
    inconclusive: int | None = None
    error: int | None = None
    consecutive_error: int | None = Field(default=None, alias="consecutiveError")
    phases: list[AnalysisPhase] | None = None


class Expect(_Model):
    phase: AnalysisPhase | None = None
    message: str | None = None
    metrics: dict[str, MetricExpect] = Field(default_factory=dict)


class Case(_Model):
    name: str = Field(min_length=1)
    args: dict[str, str] = Field(default_factory=dict)
    values: dict[str, list[Any]]
    expect: Expect


class TestFile(_Model):
    __test__ = False

    templates: list[str] = Field(min_length=1)
    args: dict[str, str] = Field(default_factory=dict)
    start: datetime = DEFAULT_START
    tests: list[Case] = Field(min_length=1)


@dataclass
class CaseResult:
    name: str
    differences: list[str]
    status: AnalysisRunStatus

    @property
    def passed(self) -> bool:
        return not self.differences


@dataclass
class FileResult:
    path: str
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)


def _measurement(value: Any, where: str) -> Measurement:
    """What a provider would have returned for `value` (see the module's docstring)."""
    if isinstance(value, Mapping) and set(value) == {"error"}:
        return error_measurement(str(value["error"]))
    if value is None:
        return Measurement(value=format_samples([])).with_result([])
    if isinstance(value, Mapping):
        return Measurement(value=json.dumps(value, separators=(",", ":"))).with_result(dict(value))
    if isinstance(value, list):
        samples = [_number(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return Measurement(value=format_samples(samples)).with_result(samples)
    number = _number(value, where)
    return Measurement(value=format_sample(number)).with_result(number)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise TestFileError(f"{where}: expected a number, NaN, a list, null or {{error: …}}, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip() in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(value.strip().replace("Inf", "inf").replace("NaN", "nan"))
    raise TestFileError(f"{where}: expected a number, NaN, a list, null or {{error: …}}, got {value!r}")


class _Scripted(BaseProvider):
    """Answers each metric's measurements from its script, in order; notes the first one it cannot answer."""

    def __init__(self, values: Mapping[str, list[Measurement]]) -> None:
        self.values = values
        self.used: dict[str, int] = {}
        self.exhausted = False

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        script = self.values.get(metric.name, [])
        i = self.used.get(metric.name, 0)
        if i >= len(script):
            self.exhausted = True
            return error_measurement("no value scripted")  # this pass is discarded
        self.used[metric.name] = i + 1
        return script[i].model_copy(deep=True).with_result(script[i].result)


def _check(expect: Expect, status: AnalysisRunStatus, phases: Mapping[str, list[AnalysisPhase]]) -> list[str]:
    out: list[str] = []

    def compare(what: str, want: Any, got: Any) -> None:
        if want is not None and want != got:
            out.append(f"{what}: expected {_show(want)}, got {_show(got)}")

    compare("phase", expect.phase, status.phase)
    compare("message", expect.message, status.message)
    for name, want in expect.metrics.items():
        result = status.metric_result(name)
        if result is None:
            out.append(f"metric {name}: no measurement was taken")
            continue
        compare(f"metric {name} phase", want.phase, result.phase)
        compare(f"metric {name} message", want.message, result.message)
        for key in ("count", "successful", "failed", "inconclusive", "error", "consecutive_error"):
            label = "consecutiveError" if key == "consecutive_error" else key
            compare(f"metric {name} {label}", getattr(want, key), getattr(result, key))
        compare(f"metric {name} phases", want.phases, phases.get(name, []))
    return out


def _show(value: Any) -> str:
    if isinstance(value, AnalysisPhase):
        return value.value
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


async def _run_case(
    spec: AnalysisRunSpec,
    script: Mapping[str, list[Measurement]],
    start: datetime,
    secrets: SecretResolver | None,
) -> tuple[AnalysisRunStatus, dict[str, list[AnalysisPhase]]]:
    provider = _Scripted(script)
    kinds = {m.provider.kind or "" for m in spec.metrics}
    providers = dict.fromkeys(kinds, provider)
    kept = AnalysisRunStatus()
    phases: dict[str, list[AnalysisPhase]] = {}

    def on_step(step: RunStep) -> None:
        nonlocal kept
        if provider.exhausted:
            return
        kept = step.status.model_copy(deep=True)
        for name, measurement in step.measurements:
            if measurement.phase is not None and measurement.phase.completed:
                phases.setdefault(name, []).append(measurement.phase)

    final = await run_to_completion(
        spec,
        providers,
        VirtualClock(start),
        on_step=on_step,
        terminate=lambda: provider.exhausted,
        secrets=secrets,
    )
    return (kept if provider.exhausted else final), phases


def _load(path: Path) -> TestFile:
    try:
        documents = [d for d in read_documents(path) if d is not None]
    except ReadError as e:
        raise TestFileError(str(e)) from None
    if len(documents) != 1 or not isinstance(documents[0], Mapping):
        raise TestFileError(f"{path}: expected one YAML mapping (templates, args, tests)")
    try:
        return TestFile.model_validate(documents[0])
    except ValidationError as e:
        first = e.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
        raise TestFileError(f"{path}: {where or 'file'}: {first['msg']}") from None


async def run_test_file(path: str | Path) -> FileResult:
    """Run every case of one test file. Raises `TestFileError` for a file that cannot be run."""
    path = Path(path)
    test_file = _load(path)
    base = path.parent
    try:
        available = load_templates([base / t for t in test_file.templates])
        loaded = expand_templates(available, available)
        for template in loaded:
            check_metrics(template)
    except ManifestError as e:
        raise TestFileError(f"{path}: {e}") from None
    result = FileResult(str(path))
    for i, case in enumerate(test_file.tests):
        where = f"{path}: tests[{i}] ({case.name})"
        try:
            run = build_run(loaded, {**test_file.args, **case.args}, flag="args:")
        except ExecutionError as e:
            raise TestFileError(f"{where}: {e}") from None
        names = [m.name for m in run.spec.metrics]
        unknown = sorted(set(case.values) - set(names))
        if unknown:
            raise TestFileError(
                f"{where}: values.{unknown[0]}: no metric of that name (metrics: {', '.join(names)})"
            )
        unexpected = sorted(set(case.expect.metrics) - set(names))
        if unexpected:
            raise TestFileError(
                f"{where}: expect.metrics.{unexpected[0]}: no metric of that name (metrics: {', '.join(names)})"
            )
        missing = [n for n in names if n not in case.values]
        if missing:
            raise TestFileError(
                f"{where}: values: no values for metric {missing[0]!r} (every metric needs its own)"
            )
        script: dict[str, list[Measurement]] = {}
        for name, values in case.values.items():
            if len(values) > MAX_VALUES:
                raise TestFileError(f"{where}: values.{name}: more than {MAX_VALUES} values")
            script[name] = [_measurement(v, f"{where}: values.{name}[{j}]") for j, v in enumerate(values)]
        # a secret argument takes its value from `args`, like -a: nothing is read from a cluster
        status, phases = await _run_case(run.spec, script, test_file.start, run.secrets)
        result.cases.append(CaseResult(case.name, _check(case.expect, status, phases), status))
    return result


def describe(results: Sequence[FileResult]) -> str:
    """promtool's layout: `Unit Testing:  FILE`, then `  SUCCESS` or `  FAILED:` and what differed per case."""
    lines: list[str] = []
    for file in results:
        lines.append(f"Unit Testing:  {file.path}")
        if file.passed:
            lines.append("  SUCCESS")
            continue
        lines.append("  FAILED:")
        for case in file.cases:
            if case.passed:
                continue
            lines.append(f"    {case.name}:")
            lines.extend(f"      {d}" for d in case.differences)
    return "\n".join(lines)
