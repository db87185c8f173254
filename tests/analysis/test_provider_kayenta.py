"""The Kayenta provider against a loopback aiohttp server speaking Kayenta's REST API as Argo calls it.

The server lists canary configs (`GET /canaryConfig`), starts executions (`POST /canary/{configId}`) and
answers polls (`GET /canary/{executionId}`) with CanaryExecutionStatusResponse documents: incomplete, then
complete with `result.judgeResult.score.score`, or finished `terminal` with an exception. Each request Argo
would send is asserted: method, path, query, headers, body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from analysis.models import AnalysisPhase, AnalysisRunSpec, Measurement, Metric
from analysis.providers.kayenta import (
    CANARY_EXECUTION_ID,
    RUN_STARTED_AT,
    KayentaProvider,
    evaluate_score,
)
from analysis.runner import RunStep, VirtualClock, run_to_completion
from tests.fixtures.prometheus import unused_url

P = AnalysisPhase
T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
CONFIG_ID = "bf9795c0-170f-403e-bb7f-fef3f9a44d42"
EXECUTION_ID = "01DS50WVHAWSTAQACJKB1VKDQB"

CONFIGS = [
    {
        "id": "69a6c352-7033-4ca1-858b-02497e5cc672",
        "name": "ValidationCanaryConfigWF",
        "updatedTimestamp": 1556747152000,
        "updatedTimestampIso": "2019-05-01T21:45:52Z",
        "applications": ["guestbook"],
    },
    {
        "id": CONFIG_ID,
        "name": "my-test",
        "updatedTimestamp": 1553707842000,
        "updatedTimestampIso": "2019-03-27T17:30:42Z",
        "applications": ["guestbook"],
    },
]

EXPLICIT_WINDOW = {"start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}


def kayenta_config(url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "address": url,
        "application": "guestbook",
        "canaryConfigName": "my-test",
        "metricsAccountName": "wavefront-prod",
        "configurationAccountName": "intuit-kayenta-config",
        "storageAccountName": "intuit-kayenta",
        "threshold": {"pass": 90, "marginal": 75},
        "scopes": [
            {
                "name": "default",
                "controlScope": {
                    "scope": "app=guestbook and rollouts-pod-template-hash=xxxx",
                    "region": "us-west-2",
                    "step": 60,
                    **EXPLICIT_WINDOW,
                },
                "experimentScope": {
                    "scope": "app=guestbook and rollouts-pod-template-hash=yyyy",
                    "region": "us-west-2",
                    "step": 60,
                    **EXPLICIT_WINDOW,
                },
            }
        ],
    }
    config.update(overrides)
    return config


def metric(url: str, interval: str | None = None, **overrides: Any) -> Metric:
    body: dict[str, Any] = {
        "name": "mann-whitney",
        "provider": {"kayenta": kayenta_config(url, **overrides)},
    }
    if interval is not None:
        body["interval"] = interval
    return Metric.model_validate(body)


def execution(complete: bool, score: float | None = None, **extra: Any) -> dict[str, Any]:
    """A CanaryExecutionStatusResponse as Kayenta writes it."""
    doc: dict[str, Any] = {
        "application": "guestbook",
        "pipelineId": EXECUTION_ID,
        "stageStatus": {"fetchControl0": "succeeded" if complete else "running", "judge": "running"},
        "complete": complete,
        "status": "succeeded" if complete else "running",
        "configId": CONFIG_ID,
        "storageAccountName": "intuit-kayenta",
        "configurationAccountName": "intuit-kayenta-config",
    }
    if score is not None:
        doc["result"] = {
            "judgeResult": {
                "judgeName": "NetflixACAJudge-v1.0",
                "score": {"score": score, "classification": "Pass", "classificationReason": ""},
                "results": [],
                "groupScores": [{"name": "default", "score": score}],
            },
            "canaryDuration": "PT30M",
        }
    doc.update(extra)
    return doc


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    body: Any


Reply = Callable[[], web.StreamResponse]


@dataclass
class Kayenta:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    configs: Reply = lambda: web.json_response(CONFIGS)
    started: Reply = lambda: web.json_response({CANARY_EXECUTION_ID: EXECUTION_ID})
    polls: list[Reply] = field(default_factory=list)
    delay: float = 0.0

    def poll(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.polls.append(lambda: web.json_response(payload, status=status, headers=headers))

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]


def reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return lambda: web.json_response(payload, status=status, headers=headers)


def text(body: str, status: int, headers: dict[str, str] | None = None) -> Reply:
    return lambda: web.Response(text=body, status=status, headers=headers)


@pytest.fixture
async def kayenta() -> AsyncIterator[Kayenta]:
    backend = Kayenta()

    async def record(request: web.Request) -> None:
        raw = await request.read()
        backend.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.query),
                request.query_string,
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
        )
        if backend.delay:
            await asyncio.sleep(backend.delay)

    async def list_configs(request: web.Request) -> web.StreamResponse:
        await record(request)
        return backend.configs()

    async def start(request: web.Request) -> web.StreamResponse:
        await record(request)
        return backend.started()

    async def status(request: web.Request) -> web.StreamResponse:
        await record(request)
        if not backend.polls:
            return web.json_response({"error": "no such execution"}, status=404)
        return backend.polls.pop(0)()

    app = web.Application()
    app.router.add_get("/canaryConfig", list_configs)
    app.router.add_post("/canary/{config_id}", start)
    app.router.add_get("/canary/{execution_id}", status)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    backend.url = f"http://127.0.0.1:{port}"
    yield backend
    await runner.cleanup()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def provider(clock: Clock) -> AsyncIterator[KayentaProvider]:
    p = KayentaProvider(clock=clock)
    yield p
    await p.aclose()


# --- measure: the two requests -----------------------------------------------------------------


async def test_measure_looks_the_config_up_then_starts_an_execution(
    kayenta: Kayenta, provider: KayentaProvider
) -> None:
    m = await provider.measure(metric(kayenta.url))
    assert m.phase is P.RUNNING
    assert m.started_at == T0 and m.resume_at == T0 + timedelta(seconds=15) and m.finished_at is None
    assert m.metadata == {CANARY_EXECUTION_ID: EXECUTION_ID}

    lookup, job = kayenta.seen
    assert (lookup.method, lookup.path) == ("GET", "/canaryConfig")
    # Argo fills configurationAccountName of the lookup with the storage account.
    assert lookup.raw_query == "application=guestbook&configurationAccountName=intuit-kayenta"
    assert lookup.body is None

    assert (job.method, job.path) == ("POST", f"/canary/{CONFIG_ID}")
    assert job.raw_query == (
        "application=guestbook&metricsAccountName=wavefront-prod"
        "&configurationAccountName=intuit-kayenta-config&storageAccountName=intuit-kayenta"
    )
    assert job.headers["Content-Type"] == "application/json"
    assert job.body == {
        "scopes": {
            "default": {
                "controlScope": {
                    "scope": "app=guestbook and rollouts-pod-template-hash=xxxx",
                    "location": "us-west-2",
                    "step": 60,
                    **EXPLICIT_WINDOW,
                },
                "experimentScope": {
                    "scope": "app=guestbook and rollouts-pod-template-hash=yyyy",
                    "location": "us-west-2",
                    "step": 60,
                    **EXPLICIT_WINDOW,
                },
            }
        },
        "thresholds": {"pass": 90, "marginal": 75},
    }


async def test_query_values_are_percent_encoded(kayenta: Kayenta, provider: KayentaProvider) -> None:
    await provider.measure(metric(kayenta.url + "/", application="guest book&co"))
    assert kayenta.seen[0].query == {
        "application": "guest book&co",
        "configurationAccountName": "intuit-kayenta",
    }
    assert kayenta.seen[0].path == "/canaryConfig"


def scopes_without(*keys: str) -> list[dict[str, Any]]:
    detail = {"scope": "app=guestbook", "step": 60, **EXPLICIT_WINDOW}
    return [
        {
            "name": "default",
            "controlScope": {k: v for k, v in detail.items() if k not in keys},
            "experimentScope": {k: v for k, v in detail.items() if k not in keys},
        }
    ]


@pytest.mark.parametrize(
    ("interval", "lookback", "run_started", "at", "window"),
    [
        pytest.param(
            "1h",
            None,
            None,
            None,
            ("2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z"),
            id="start-now-minus-interval",
        ),
        pytest.param(
            "3600s",
            False,
            None,
            datetime(2025, 12, 24, 18, 30, 5, tzinfo=UTC),
            ("2025-12-24T17:30:05Z", "2025-12-24T18:30:05Z"),
            id="replay-at",
        ),
        pytest.param(
            None,
            True,
            T0 - timedelta(minutes=42),
            None,
            ("2026-03-01T08:18:00Z", "2026-03-01T09:00:00Z"),
            id="lookback-run-start",
        ),
    ],
)
async def test_scopes_without_start_and_end(
    kayenta: Kayenta,
    provider: KayentaProvider,
    interval: str | None,
    lookback: bool | None,
    run_started: datetime | None,
    at: datetime | None,
    window: tuple[str, str],
) -> None:
    extra: dict[str, Any] = {"scopes": scopes_without("start", "end")}
    if lookback is not None:
        extra["lookback"] = lookback
    token = RUN_STARTED_AT.set(run_started)
    try:
        m = await provider.measure(metric(kayenta.url, interval=interval, **extra), at=at)
    finally:
        RUN_STARTED_AT.reset(token)
    assert m.phase is P.RUNNING, m.message
    body = kayenta.seen[1].body["scopes"]["default"]
    for side in ("controlScope", "experimentScope"):
        assert (body[side]["start"], body[side]["end"]) == window
        assert body[side]["location"] == ""
    if at is not None:
        assert m.started_at == at and m.resume_at == at + timedelta(seconds=15)


@pytest.mark.parametrize(
    ("control_drop", "experiment_drop", "interval", "message"),
    [
        pytest.param(
            ("start",),
            (),
            "1h",
            "controlScope.start and experimentScope.start must both be set or be empty",
            id="control-start-only",
        ),
        pytest.param(
            (),
            ("start",),
            "1h",
            "controlScope.start and experimentScope.start must both be set or be empty",
            id="experiment-start-only",
        ),
        pytest.param(
            ("end",),
            (),
            "1h",
            "controlScope.end and experimentScope.end must both be set or be empty",
            id="end",
        ),
        pytest.param(
            ("start", "end"),
            ("start", "end"),
            None,
            'Invalid duration "": time: invalid duration ""',
            id="no-interval",
        ),
    ],
)
async def test_scope_window_errors(
    kayenta: Kayenta,
    provider: KayentaProvider,
    control_drop: tuple[str, ...],
    experiment_drop: tuple[str, ...],
    interval: str | None,
    message: str,
) -> None:
    detail = {"scope": "s", "step": 60, **EXPLICIT_WINDOW}
    scopes = [
        {
            "name": "default",
            "controlScope": {k: v for k, v in detail.items() if k not in control_drop},
            "experimentScope": {k: v for k, v in detail.items() if k not in experiment_drop},
        }
    ]
    m = await provider.measure(metric(kayenta.url, interval=interval, scopes=scopes))
    assert (m.phase, m.message) == (P.ERROR, message)
    assert m.started_at == T0 and m.finished_at == T0
    assert kayenta.paths() == ["GET /canaryConfig"]  # the config is looked up first, as in Argo


async def test_lookback_without_the_run_start_is_an_error(
    kayenta: Kayenta, provider: KayentaProvider
) -> None:
    m = await provider.measure(metric(kayenta.url, lookback=True, scopes=scopes_without("start", "end")))
    assert m.phase is P.ERROR and m.message is not None and m.message.startswith("kayenta.lookback: ")


@pytest.mark.parametrize(
    ("configs", "started", "message"),
    [
        pytest.param(
            reply([c for c in CONFIGS if c["name"] != "my-test"]),
            None,
            "Canary config not found",
            id="not-found",
        ),
        pytest.param(reply([]), None, "Canary config not found", id="no-configs"),
        pytest.param(text("oops", 500), None, "Invalid Response: HTTP 500", id="lookup-500"),
        pytest.param(
            text("slow down", 429, {"Retry-After": "30"}),
            None,
            "Invalid Response: HTTP 429 (Retry-After: 30s)",
            id="lookup-429-retry-after",
        ),
        pytest.param(
            reply({"this is bad": "yee"}),
            None,
            "json: cannot unmarshal object into Go value of type []kayenta.canaryConfig",
            id="lookup-not-a-list",
        ),
        pytest.param(
            reply([{"id": 7, "name": "my-test"}]),
            None,
            "json: cannot unmarshal number into Go struct field canaryConfig.Id of type string",
            id="lookup-id-number",
        ),
        pytest.param(None, text("", 500), "Invalid Response: HTTP 500", id="start-500"),
        pytest.param(
            None,
            text("", 503, {"Retry-After": "12"}),
            "Invalid Response: HTTP 503 (Retry-After: 12s)",
            id="start-503",
        ),
        pytest.param(
            None, reply({CANARY_EXECUTION_ID: ""}), "Invalid canaryExecutionId", id="empty-execution-id"
        ),
        pytest.param(None, reply({}), "Invalid canaryExecutionId", id="no-execution-id"),
        pytest.param(None, text("{", 200), "is not JSON", id="start-not-json"),
    ],
)
async def test_measure_failures(
    kayenta: Kayenta, provider: KayentaProvider, configs: Reply | None, started: Reply | None, message: str
) -> None:
    if configs is not None:
        kayenta.configs = configs
    if started is not None:
        kayenta.started = started
    m = await provider.measure(metric(kayenta.url))
    assert m.phase is P.ERROR
    assert m.message is not None and message in m.message, m.message
    assert m.metadata is None and m.resume_at is None


async def test_config_name_is_matched_exactly_and_field_names_as_go_does(
    kayenta: Kayenta, provider: KayentaProvider
) -> None:
    kayenta.configs = reply([{"Id": "upper", "Name": "my-test"}, {"id": "other", "name": "My-Test"}])
    await provider.measure(metric(kayenta.url))
    assert kayenta.seen[1].path == "/canary/upper"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"thresholds": {"pass": 90, "marginal": 75}},
            "kayenta.thresholds is not a field of the kayenta provider (did you mean threshold?)",
            id="docs-thresholds-spelling",
        ),
        pytest.param(
            {"threshold": {"pass": "ninety"}},
            'kayenta.threshold.pass must be an integer, got "ninety"',
            id="pass",
        ),
        pytest.param(
            {"address": "kayenta:8090"}, "kayenta.address is not a http(s) URL: 'kayenta:8090'", id="address"
        ),
        pytest.param({"scopes": {"name": "x"}}, "kayenta.scopes must be a list", id="scopes-not-list"),
        pytest.param(
            {"scopes": [{"name": "d", "controlScope": {"step": "1m"}}]},
            'kayenta.scopes[0].controlScope.step must be an integer, got "1m"',
            id="step",
        ),
        pytest.param(
            {"scopes": [{"name": "d", "experimentScope": {"location": "eu"}}]},
            "kayenta.scopes[0].experimentScope.location is not a field",
            id="location-is-region",
        ),
        pytest.param({"lookback": "yes"}, 'kayenta.lookback must be true or false, got "yes"', id="lookback"),
    ],
)
async def test_configuration_errors_name_the_field(
    kayenta: Kayenta, provider: KayentaProvider, overrides: dict[str, Any], message: str
) -> None:
    m = await provider.measure(metric(kayenta.url, **overrides))
    assert m.phase is P.ERROR and m.message is not None and m.message.startswith(message), m.message
    assert kayenta.seen == []


async def test_threshold_given_as_numeric_strings(kayenta: Kayenta, provider: KayentaProvider) -> None:
    await provider.measure(metric(kayenta.url, threshold={"pass": "95", "marginal": "80"}))
    assert kayenta.seen[1].body["thresholds"] == {"pass": 95, "marginal": 80}


async def test_lookup_timeout(kayenta: Kayenta, clock: Clock) -> None:
    kayenta.delay = 5
    provider = KayentaProvider(clock=clock, timeout=0.3)
    try:
        m = await provider.measure(metric(kayenta.url))
    finally:
        await provider.aclose()
    assert m.phase is P.ERROR
    url = f"{kayenta.url}/canaryConfig?application=guestbook&configurationAccountName=intuit-kayenta"
    assert m.message == f'Get "{url}": context deadline exceeded (Client.Timeout of 0.3s exceeded)'


async def test_connection_refused(provider: KayentaProvider) -> None:
    url = unused_url()
    m = await provider.measure(metric(url))
    assert m.phase is P.ERROR and m.message is not None and m.message.startswith(f'Get "{url}/canaryConfig?')


# --- resume: polling the execution ---------------------------------------------------------------


def running() -> Measurement:
    return Measurement(
        phase=P.RUNNING,
        started_at=T0,
        resume_at=T0 + timedelta(seconds=15),
        metadata={CANARY_EXECUTION_ID: EXECUTION_ID},
    )


@pytest.mark.parametrize(
    ("score", "value", "phase"),
    [
        pytest.param(100, "100", P.SUCCESSFUL, id="pass"),
        pytest.param(90, "90", P.SUCCESSFUL, id="at-pass"),
        pytest.param(89.99, "89", P.INCONCLUSIVE, id="truncated-marginal"),
        pytest.param(80, "80", P.INCONCLUSIVE, id="marginal"),
        pytest.param(75, "75", P.INCONCLUSIVE, id="at-marginal"),
        pytest.param(60, "60", P.FAILED, id="fail"),
        pytest.param(0, "0", P.FAILED, id="zero"),
    ],
)
async def test_complete_execution_is_scored(
    kayenta: Kayenta, provider: KayentaProvider, clock: Clock, score: float, value: str, phase: AnalysisPhase
) -> None:
    kayenta.poll(execution(True, score))
    clock.now = T0 + timedelta(seconds=16)
    m = await provider.resume(metric(kayenta.url), running())
    assert (m.phase, m.value, m.message) == (phase, value, None)
    assert m.finished_at == clock.now and m.resume_at is None
    assert m.metadata == {CANARY_EXECUTION_ID: EXECUTION_ID} and m.started_at == T0
    [poll] = kayenta.seen
    assert (poll.method, poll.path, poll.raw_query, poll.body) == ("GET", f"/canary/{EXECUTION_ID}", "", None)


async def test_incomplete_execution_is_polled_again_later(
    kayenta: Kayenta, provider: KayentaProvider, clock: Clock
) -> None:
    kayenta.poll(execution(False))
    clock.now = T0 + timedelta(seconds=17)
    m = await provider.resume(metric(kayenta.url), running())
    assert m.phase is P.RUNNING and m.resume_at == clock.now + timedelta(seconds=15)
    assert m.finished_at is None and m.value is None
    assert m.metadata == {CANARY_EXECUTION_ID: EXECUTION_ID}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(reply({"status": "running"}), "Missing Complete Status", id="no-complete"),
        pytest.param(
            reply({"complete": "yes"}),
            ".complete accessor error: yes is of the type string, expected bool",
            id="complete-string",
        ),
        pytest.param(reply(execution(True)), "Missing Score", id="no-score"),
        pytest.param(
            reply(
                execution(
                    True,
                    status="terminal",
                    exception={
                        "exceptionType": "IllegalArgumentException",
                        "details": {"errors": ["No metric set found for scope 'default'"]},
                    },
                )
            ),
            "Missing Score (canary execution terminal: No metric set found for scope 'default')",
            id="execution-errored",
        ),
        pytest.param(
            reply(execution(True, result=None, status="terminal")),
            ".result.judgeResult accessor error: <nil> is of the type <nil>, expected map[string]interface{}"
            " (canary execution terminal)",
            id="result-null",
        ),
        pytest.param(
            reply(execution(True, result={"judgeResult": {"score": {"score": "high"}}})),
            ".result.judgeResult.score.score accessor error: high is of the type string, expected float64",
            id="score-string",
        ),
        pytest.param(text("boom", 500), "Invalid Response: HTTP 500", id="poll-500"),
        pytest.param(
            text('{"complete": true, "result": {"judgeResult": {"score": {"score": 1e400}}}}', 200),
            f"the Kayenta answer to Get {{url}}/canary/{EXECUTION_ID} is not JSON: "
            "json: cannot unmarshal number 1e400 into Go value of type float64",
            id="score-out-of-range",
        ),
        pytest.param(text("gone", 404), "Invalid Response: HTTP 404", id="poll-404"),
        pytest.param(
            reply([1]),
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
            id="array",
        ),
    ],
)
async def test_poll_failures_are_errors(
    kayenta: Kayenta, provider: KayentaProvider, clock: Clock, answer: Reply, message: str
) -> None:
    kayenta.polls.append(answer)
    clock.now = T0 + timedelta(seconds=15)
    m = await provider.resume(metric(kayenta.url), running())
    assert (m.phase, m.message) == (P.ERROR, message.replace("{url}", kayenta.url))
    assert m.finished_at == clock.now and m.resume_at is None
    assert m.metadata == {CANARY_EXECUTION_ID: EXECUTION_ID}


@pytest.mark.parametrize(
    ("status", "retry", "wait"),
    [
        pytest.param(429, "40", 40, id="429-retry-after"),
        pytest.param(429, None, 15, id="429-without-header"),
        pytest.param(429, "2", 15, id="at-least-resume-delay"),
        pytest.param(429, "86400", 600, id="at-most-ten-minutes"),
        pytest.param(503, "20", 20, id="503-retry-after"),
    ],
)
async def test_throttled_poll_keeps_the_execution(
    kayenta: Kayenta, provider: KayentaProvider, clock: Clock, status: int, retry: str | None, wait: int
) -> None:
    kayenta.polls.append(text("slow down", status, {"Retry-After": retry} if retry else None))
    kayenta.poll(execution(True, 95))
    clock.now = T0 + timedelta(seconds=15)
    m = await provider.resume(metric(kayenta.url), running())
    assert m.phase is P.RUNNING and m.resume_at == clock.now + timedelta(seconds=wait)
    assert m.message is not None and m.message.startswith(f"Invalid Response: HTTP {status}")
    clock.now = m.resume_at
    done = await provider.resume(metric(kayenta.url), m)
    assert (done.phase, done.value, done.message) == (P.SUCCESSFUL, "95", None)


async def test_poll_timeout(kayenta: Kayenta, clock: Clock) -> None:
    kayenta.delay = 5
    provider = KayentaProvider(clock=clock, timeout=0.3)
    try:
        m = await provider.resume(metric(kayenta.url), running())
    finally:
        await provider.aclose()
    assert m.phase is P.ERROR and m.message is not None and "context deadline exceeded" in m.message


async def test_resume_without_execution_id(kayenta: Kayenta, provider: KayentaProvider) -> None:
    m = await provider.resume(metric(kayenta.url), Measurement(phase=P.RUNNING, started_at=T0))
    assert (m.phase, m.message) == (P.ERROR, "the measurement has no canaryExecutionId metadata")
    assert kayenta.seen == []


async def test_terminate_ends_the_measurement(
    kayenta: Kayenta, provider: KayentaProvider, clock: Clock
) -> None:
    clock.now = T0 + timedelta(seconds=20)
    m = await provider.terminate(metric(kayenta.url), running())
    assert m.phase is P.SUCCESSFUL and m.finished_at == clock.now and m.resume_at is None
    assert m.metadata == {CANARY_EXECUTION_ID: EXECUTION_ID}
    assert kayenta.seen == []  # Argo sends nothing to Kayenta either


def test_evaluate_score_table() -> None:
    assert [evaluate_score(s, 90, 75) for s in (91, 90, 89, 75, 74)] == [
        P.SUCCESSFUL,
        P.SUCCESSFUL,
        P.INCONCLUSIVE,
        P.INCONCLUSIVE,
        P.FAILED,
    ]
    assert evaluate_score(0, 0, 0) is P.SUCCESSFUL  # no threshold: Go's zero values pass everything


# --- through the runner, on a virtual clock --------------------------------------------------------


def run_spec(address: str, **metric_extra: Any) -> AnalysisRunSpec:
    return AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {"name": "mann-whitney", "provider": {"kayenta": kayenta_config(address)}, **metric_extra}
            ]
        }
    )


@pytest.mark.parametrize(
    ("score", "value", "phase"),
    [
        pytest.param(95, "95", P.SUCCESSFUL, id="successful"),
        pytest.param(80, "80", P.INCONCLUSIVE, id="inconclusive"),
        pytest.param(42.5, "42", P.FAILED, id="failed"),
    ],
)
async def test_runner_drives_an_execution_over_several_polls(
    kayenta: Kayenta, score: float, value: str, phase: AnalysisPhase
) -> None:
    clock = VirtualClock(T0)
    provider = KayentaProvider(clock=clock.now)
    kayenta.poll(execution(False))
    kayenta.poll(execution(False))
    kayenta.poll(execution(True, score))
    steps: list[RunStep] = []
    try:
        status = await run_to_completion(
            run_spec(kayenta.url), {"kayenta": provider}, clock, on_step=steps.append
        )
    finally:
        await provider.aclose()
    assert status.phase is phase
    result = status.metric_result("mann-whitney")
    assert result is not None
    [m] = result.measurements
    assert (m.phase, m.value) == (phase, value)
    assert m.started_at == T0 and m.finished_at == T0 + timedelta(seconds=45)
    assert m.metadata == {CANARY_EXECUTION_ID: EXECUTION_ID}
    assert [s.next_wakeup for s in steps[:3]] == [T0 + timedelta(seconds=15 * i) for i in (1, 2, 3)]
    assert kayenta.paths() == [
        "GET /canaryConfig",
        f"POST /canary/{CONFIG_ID}",
        *[f"GET /canary/{EXECUTION_ID}"] * 3,
    ]


async def test_runner_execution_that_errors(kayenta: Kayenta) -> None:
    """A terminal execution is an Error measurement; the metric is measured again after the error retry,
    and the run errs once consecutiveErrorLimit is passed, as in Argo."""
    clock = VirtualClock(T0)
    provider = KayentaProvider(clock=clock.now)
    terminal = execution(True, status="terminal", exception={"details": {"error": "metrics fetch failed"}})
    for _ in range(2):
        kayenta.poll(terminal)
    try:
        status = await run_to_completion(
            run_spec(kayenta.url, consecutiveErrorLimit=1), {"kayenta": provider}, clock
        )
    finally:
        await provider.aclose()
    assert status.phase is P.ERROR
    result = status.metric_result("mann-whitney")
    assert result is not None and result.error == 2
    assert {m.message for m in result.measurements} == {
        "Missing Score (canary execution terminal: metrics fetch failed)"
    }


async def test_poll_answer_is_decoded_off_the_event_loop(
    kayenta: Kayenta, provider: KayentaProvider, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An execution's answer (up to 32 MiB, every 15 s) takes seconds to decode: never on the loop that
    serves every other namespace."""
    import threading

    import analysis.providers.kayenta as module

    decoded_in: list[int] = []
    decode = module.go_decode

    def recording(content: bytes | str) -> Any:
        decoded_in.append(threading.get_ident())
        return decode(content)

    monkeypatch.setattr(module, "go_decode", recording)
    kayenta.poll(execution(True, 100))
    clock.now = T0 + timedelta(seconds=16)
    m = await provider.resume(metric(kayenta.url), running())
    assert m.phase is P.SUCCESSFUL
    assert decoded_in and threading.get_ident() not in decoded_in
