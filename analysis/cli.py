"""`rollouts analyze`: run AnalysisTemplates against Prometheus now, at an instant, or over a past window.

The command-line face of the analysis engine. It reads templates (`manifests`), merges
them and substitutes `-a NAME=VALUE` arguments into one AnalysisRun spec (`args`), builds the providers
(`providers.registry`, with `--prometheus` overriding every Prometheus address) and drives the run
(`runner`) with a clock:

* live (default): the system clock, measurements follow interval/count; Ctrl-C terminates the run the way
  `spec.terminate` does and prints what was reached;
* `--at TIME`: one measurement of every metric, queries evaluated at TIME (limits do not apply to a single
  sample: the verdict is the measurements');
* `--from A --to B`: a replay on a virtual clock from A: measurements at each interval, initialDelay, count,
  failure limits and the 10 s retry after an error, queries evaluated at those instants; a run still going
  at B is terminated at B. The verdict and the instant it was reached are printed.

Output: rich tables (`reporting`) or `-o json` (the AnalysisRun status). Exit codes: 0 Successful, 1 Failed,
3 Error, 4 Inconclusive, 2 bad input with one line on stderr naming the file, object and field.
"""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import UTC, datetime

import click

from analysis.durations import DurationError, parse_go_duration
from analysis.manifests import (
    ManifestError,
    check_metrics,
    expand_templates,
    load_templates,
    select_templates,
)
from analysis.models import AnalysisRunStatus
from analysis.reading import one_line
from analysis.reporting import exit_code, render_json, render_text

__all__ = ["analyze", "parse_time"]

EXIT_BAD_INPUT = 2
_RELATIVE = re.compile(r"^now\s*(?P<sign>[+-])\s*(?P<duration>.+)$|^(?P<sign2>[+-])(?P<duration2>.+)$")


class BadInput(click.ClickException):
    """Bad input: one line on stderr, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: object = None) -> None:
        click.echo(f"error: {one_line(self.message)}", err=True)


def parse_time(text: str, now: datetime) -> datetime:
    """`now`, `-30m`, `now-2h`, `+5m` (Go durations relative to now) or RFC 3339 (`2024-01-01T00:00:00Z`).

    >>> parse_time("-30m", datetime(2024, 1, 1, 1, 0, tzinfo=UTC)).isoformat()
    '2024-01-01T00:30:00+00:00'
    """
    value = text.strip()
    if value.lower() == "now":
        return now
    match = _RELATIVE.match(value)
    if match:
        sign = match.group("sign") or match.group("sign2")
        duration = parse_go_duration((match.group("duration") or match.group("duration2")).strip())
        return now + duration if sign == "+" else now - duration
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _time_option(name: str, text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, now)
    except (ValueError, DurationError):
        raise BadInput(
            f"{name} {text!r}: not a time; use RFC 3339 (2024-01-01T00:00:00Z), now, or a duration relative "
            "to now (-30m, -2h)"
        ) from None


def _parse_args(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"-a {pair!r}: expected NAME=VALUE (e.g. -a service-name=api-server-canary)")
        values[name.strip()] = value
    return values


def _read_arg_files(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--arg-file NAME=PATH`: the file's text, without the one line break an editor or `echo` leaves."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name.strip() or not path:
            raise BadInput(f"--arg-file {pair!r}: expected NAME=PATH (e.g. --arg-file api-token=./token.txt)")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise BadInput(f"--arg-file {name.strip()}={path}: cannot read the file: {reason}") from None
        values[name.strip()] = text[:-1] if text.endswith("\n") else text
    return values


class _AnalyzeCommand(click.Group):
    """`analyze` runs templates itself and has one sub-command, `test`. Lets `--from -30m` through: click
    would read `-30m` as an option, so glue it to its flag first."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        glued: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in _TIME_FLAGS and i + 1 < len(args) and re.match(r"^-\d", args[i + 1]):
                glued.append(f"{arg}={args[i + 1]}")
                i += 2
                continue
            glued.append(arg)
            i += 1
        return super().parse_args(ctx, glued)


_TIME_FLAGS = frozenset({"--at", "--from", "--to"})


@click.group(
    name="analyze",
    cls=_AnalyzeCommand,
    invoke_without_command=True,
    no_args_is_help=False,
    subcommand_metavar="[test FILE...]",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="AnalysisTemplate / ClusterAnalysisTemplate YAML (multi-document allowed; repeatable; - for stdin).",
)
@click.option(
    "--template", "templates", multiple=True, help="Use only the template(s) of this name (repeatable)."
)
@click.option(
    "-a",
    "--arg",
    "arg_pairs",
    multiple=True,
    help="Argument value NAME=VALUE (repeatable); also fills an argument read from a Secret.",
)
@click.option(
    "--arg-file",
    "arg_files",
    multiple=True,
    help="Argument value read from a file, NAME=PATH (repeatable): for secrets, kept out of shell history.",
)
@click.option("--prometheus", "prometheus_url", help="Prometheus URL used instead of every metric's address.")
@click.option("--at", "at_text", help="Take one measurement of every metric with queries evaluated at TIME.")
@click.option(
    "--from", "from_text", help="Replay from TIME (with --to): the verdict the run would have reached."
)
@click.option("--to", "to_text", help="End of the replay window (default: now).")
@click.option(
    "--rate-limit",
    type=float,
    default=None,
    help="Requests per second allowed towards one backend (default: unlimited for a replay, 100 live).",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--lint",
    "lint_only",
    is_flag=True,
    help="Check the templates deeply (PromQL parsed, arguments, conditions, guards) and exit; no query is sent.",
)
@click.pass_context
def analyze(
    ctx: click.Context,
    files: tuple[str, ...],
    templates: tuple[str, ...],
    arg_pairs: tuple[str, ...],
    arg_files: tuple[str, ...],
    prometheus_url: str | None,
    at_text: str | None,
    from_text: str | None,
    to_text: str | None,
    rate_limit: float | None,
    output: str,
    lint_only: bool,
) -> None:
    """Run AnalysisTemplates against Prometheus: live, at an instant (--at), or replayed (--from/--to).

    TIME is RFC 3339 (2024-01-01T00:00:00Z), `now`, or relative to now (-30m, -2h).
    An argument read from a Secret (valueFrom.secretKeyRef) takes its value from -a or --arg-file; it is
    shown as ***** wherever it would appear.
    Exit codes: 0 Successful, 1 Failed, 3 Error, 4 Inconclusive, 2 bad input.
    `rollouts analyze test FILE...` runs template unit tests instead (see its --help).

    \b
    Example:
      rollouts analyze -f examples/istio-canary/success-rate.yaml -f examples/istio-canary/latency.yaml \\
        -a service-name=api-server-canary --prometheus http://127.0.0.1:9090 --from -1h --to now
    """
    from analysis.execution import ExecutionError, History, Mode, build_run, execute

    if ctx.invoked_subcommand is not None:
        given = [
            f for f, v in (("-f", files), ("-a", arg_pairs), ("--at", at_text), ("--from", from_text)) if v
        ]
        if given:
            raise BadInput(
                f"{given[0]} is an option of analyze itself, not of analyze {ctx.invoked_subcommand}"
            )
        return
    if not files:
        raise click.UsageError("Missing option '-f' / '--filename'.")
    if lint_only:
        _lint(files, templates)

    now = datetime.now(UTC)
    if at_text is not None and (from_text is not None or to_text is not None):
        raise BadInput("--at cannot be combined with --from/--to: choose one instant or one window")
    if to_text is not None and from_text is None:
        raise BadInput("--to needs --from: give the start of the replay window")
    at = _time_option("--at", at_text, now)
    start = _time_option("--from", from_text, now)
    end = _time_option("--to", to_text, now) if from_text is not None else None
    if start is not None and end is None:
        end = now
    if start is not None and end is not None and end <= start:
        raise BadInput(
            f"--from {from_text} is not before --to {to_text or 'now'}: the replay window is empty"
        )
    if prometheus_url is not None and not re.match(r"^https?://[^/]+", prometheus_url):
        raise BadInput(
            f"--prometheus {prometheus_url!r}: expected an http(s) URL such as http://127.0.0.1:9090"
        )
    if rate_limit is not None and rate_limit <= 0:
        raise BadInput(f"--rate-limit {rate_limit:g}: must be a positive number of requests per second")
    try:
        available = load_templates(files)
        loaded = expand_templates(select_templates(available, templates), available)
        for template in loaded:
            check_metrics(template)
        run = build_run(loaded, {**_parse_args(arg_pairs), **_read_arg_files(arg_files)})
    except ManifestError as e:
        raise BadInput(str(e)) from None
    except ExecutionError as e:
        raise BadInput(str(e)) from None

    if at is not None:
        mode = Mode.at_instant(at)
    elif start is not None and end is not None:
        mode = Mode.replay(start, end)
    else:
        mode = Mode.live()
    echo = (lambda line: click.echo(line, err=True)) if mode.kind == "live" and output == "text" else None
    history = History(echo)
    if mode.kind == "live" and output == "text":
        click.echo("Measuring live; Ctrl-C terminates the run and prints the result.", err=True)
    status: AnalysisRunStatus = asyncio.run(
        execute(
            run.spec,
            mode,
            prometheus_address=prometheus_url,
            rate=rate_limit,
            history=history,
            secrets=run.secrets,
        )
    )
    if output == "json":
        render_json(status, sys.stdout)
    else:
        names = ", ".join(t.name for t in loaded)
        render_text(status, sys.stdout, title=f"{mode.describe()}: {names}", history=history.by_metric)
    sys.exit(exit_code(status))


def _lint(files: tuple[str, ...], names: tuple[str, ...]) -> None:
    """`--lint`: the deep-lint findings of the selected templates (analysis.deeplint); exit 1 on an error."""
    from analysis.deeplint import template_findings

    try:
        loaded = select_templates(load_templates(files), names)
        for template in loaded:
            check_metrics(template)
    except ManifestError as e:
        raise BadInput(str(e)) from None
    errors = 0
    for template in loaded:
        for finding in template_findings(template.spec):
            errors += finding.severity == "error"
            click.echo(f"{template.label}: {finding.severity}: {finding}")
    if not errors:
        click.echo(f"{len(loaded)} template(s) checked: no errors")
    sys.exit(1 if errors else 0)


@analyze.command(name="test", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("test_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def analyze_test(test_files: tuple[str, ...]) -> None:
    """Unit-test AnalysisTemplates against scripted query results, like `promtool test rules`.

    A test file names the templates (paths relative to it), their arguments, and cases: per metric the result
    of each successive measurement (a number, a list, NaN, null for an empty answer, {error: message}), and
    what the run must end as. The run is the controller's, on a virtual clock. docs/analysis-testing.md.

    Exit codes: 0 every test passed, 1 a test failed, 2 a file could not be run.

    \b
    Example:
      rollouts analyze test examples/istio-canary/tests/success-rate.test.yaml
    """
    from analysis.testing import FileResult, TestFileError, describe, run_test_file

    results: list[FileResult] = []
    bad = False
    for path in test_files:
        try:
            results.append(asyncio.run(run_test_file(path)))
        except TestFileError as e:
            bad = True
            click.echo(f"Unit Testing:  {path}\n  FAILED:\n    {e}", err=True)
    if results:
        click.echo(describe(results))
    sys.exit(2 if bad else 0 if all(r.passed for r in results) else 1)
