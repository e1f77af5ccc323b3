"""The runner and its settings, in-process against the emulator's WSGI app, on one fake clock (no real waits)."""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from eltops._deadline import Deadline
from eltops.cli._app import AppContext
from eltops.cli._orchestra_run import run_job
from eltops.cli._output import CiKind, Output
from eltops.errors import ApiStatusError, ConfigError, ExitCode
from eltops.history import RunRecorder, detect_ci_run
from eltops.orchestra import OrchestraClient, PipelineRunner, RunCancelled, RunFlags, run_settings
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, PipelineScript, TaskScript, Volume
from eltops.secrets import EnvReader, Secret
from eltops.warehouse import Target, open_target, parse_warehouse

KEY = "unit-key"
PIPELINES = (
    PipelineScript("ok", "OK", (TaskScript("a", "A", "PYTHON", 30, log="x\n"),)),
    PipelineScript("bad", "Bad", (TaskScript("a", "A", "PYTHON", 30, "FAILED", log="l1\nl2\nl3 end\n"),)),
    PipelineScript("skip", "Skip", (TaskScript("a", "A", "PYTHON", 30, "SKIPPED"),)),
    PipelineScript("forever", "Forever", (TaskScript("a", "A", "PYTHON", None),)),
)


class FakeTime:
    """One clock for the emulator (datetime), the runner's deadline (monotonic) and its sleeps."""

    def __init__(self) -> None:
        self.now = datetime(2025, 5, 1, 12, tzinfo=UTC)
        self.slept = 0.0

    def emulator_now(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


def _runner(fake: FakeTime, emulator: OrchestraEmulator, **env: str) -> PipelineRunner:
    settings = run_settings(
        EnvReader({"ORCHESTRA_API_KEY": KEY, "ORCHESTRA_API_URL": "http://127.0.0.1" + BASE_PATH, **env}), RunFlags()
    )
    client = OrchestraClient.create(
        api_url=settings.orchestra.api_url,
        api_key=Secret(KEY),
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
    )
    return PipelineRunner(
        client,
        settings,
        Deadline(settings.timeout, fake.monotonic),
        wall_clock=lambda: fake.now.timestamp(),
        sleep=fake.sleep,
    )


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def emulator(fake: FakeTime) -> OrchestraEmulator:
    return OrchestraEmulator(
        api_key=KEY, volume=Volume(task_runs=8, days=1), now=fake.emulator_now, pipelines=PIPELINES
    )


@pytest.mark.parametrize(
    ("pipeline", "env", "code", "status", "warned"),
    [
        ("ok", {}, ExitCode.OK, "SUCCEEDED", False),
        ("bad", {}, ExitCode.REMOTE_FAILED, "FAILED", False),
        ("skip", {}, ExitCode.OK, "SKIPPED", True),
        ("skip", {"ORCHESTRA_FAIL_ON_WARNING": "1"}, ExitCode.REMOTE_FAILED, "SKIPPED", False),
    ],
)
def test_final_statuses_and_exit_codes(
    fake: FakeTime,
    emulator: OrchestraEmulator,
    pipeline: str,
    env: dict[str, str],
    code: ExitCode,
    status: str,
    warned: bool,
) -> None:
    """Each final status maps to its exit code; SKIPPED passes with a warning unless --fail-on-warning."""
    result = _runner(fake, emulator, ORCHESTRA_PIPELINE=pipeline, **env).run()
    assert (result.exit_code, result.status, result.warning is not None) == (code, status, warned)
    assert fake.slept < 60  # an hour-long deadline, but it stopped polling once the run ended


def test_a_failed_tasks_log_tail_is_cut_at_a_line(fake: FakeTime, emulator: OrchestraEmulator) -> None:
    """The tail is at most the bytes asked for, starts at a whole line, and says how much was cut."""
    result = _runner(fake, emulator, ORCHESTRA_PIPELINE="bad", ORCHESTRA_LOG_TAIL_BYTES="8").run()
    (found,) = result.failed_logs
    assert found.tail is not None
    assert found.tail.text == "l3 end\n"
    assert found.tail.cut_bytes == len("l1\nl2\n")


def _refusing_ranges(app: Callable[..., Any]) -> Callable[..., Any]:
    """The emulator's WSGI app behind a server that answers every ``Range`` request 416 (as werkzeug's own
    ``range_for_length`` does for a suffix longer than the file)."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if "HTTP_RANGE" in environ:
            start_response("416 Range Not Satisfiable", [("Content-Range", "bytes */0"), ("Content-Length", "0")])
            return [b""]
        return app(environ, start_response)

    return wsgi


@pytest.mark.parametrize("tail_bytes", ["16384", "8"])
def test_a_server_refusing_the_range_still_shows_the_log(
    fake: FakeTime, emulator: OrchestraEmulator, tail_bytes: str
) -> None:
    """On a 416 the client reads the log without Range and keeps the tail itself: the failed task's log shows."""
    runner = _runner(fake, emulator, ORCHESTRA_PIPELINE="bad", ORCHESTRA_LOG_TAIL_BYTES=tail_bytes)
    runner.client = OrchestraClient.create(
        api_url="http://127.0.0.1" + BASE_PATH,
        api_key=Secret(KEY),
        transport=httpx.WSGITransport(app=_refusing_ranges(emulator.wsgi_app)),
    )
    result = runner.run()
    (found,) = result.failed_logs
    assert found.tail is not None, found
    assert found.tail.text == ("l1\nl2\nl3 end\n" if tail_bytes == "16384" else "l3 end\n")
    assert found.tail.total_bytes == len("l1\nl2\nl3 end\n")


def test_the_default_tail_of_a_short_log_is_all_of_it(fake: FakeTime, emulator: OrchestraEmulator) -> None:
    """The default 16 KiB tail of a 15-byte log (a suffix longer than the file) is the whole log, nothing cut."""
    result = _runner(fake, emulator, ORCHESTRA_PIPELINE="bad").run()
    (found,) = result.failed_logs
    assert found.tail is not None, found
    assert (found.tail.text, found.tail.cut_bytes) == ("l1\nl2\nl3 end\n", 0)


def test_the_deadline_cancels_the_run(fake: FakeTime, emulator: OrchestraEmulator) -> None:
    """A run still going at the deadline is cancelled and the result is exit 3, on the fake clock."""
    result = _runner(fake, emulator, ORCHESTRA_PIPELINE="forever", ORCHESTRA_TIMEOUT="100").run()
    assert result.exit_code is ExitCode.TIMEOUT
    assert result.cancel_requested
    assert 100 <= fake.slept <= 110
    (run,) = emulator.runbook.runs()
    assert run.cancelled_at is not None


def test_an_interrupted_wait_cancels_the_run(fake: FakeTime, emulator: OrchestraEmulator) -> None:
    """When the job is stopped mid-wait the run is cancelled before the interruption goes on."""
    runner = _runner(fake, emulator, ORCHESTRA_PIPELINE="forever")

    def interrupted(seconds: float) -> None:
        fake.sleep(seconds)
        if fake.slept > 30:
            raise KeyboardInterrupt

    runner.sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert emulator.runbook.runs()[0].cancelled_at is not None


def test_cancel_ends_a_real_wait_at_once(fake: FakeTime, emulator: OrchestraEmulator) -> None:
    """Without an injected sleep the wait is on an event, so cancel() ends it without waiting."""
    runner = _runner(fake, emulator, ORCHESTRA_PIPELINE="forever")
    runner.sleep = None
    runner.cancel()
    with pytest.raises(RunCancelled):
        runner.run()
    assert emulator.runbook.runs()[0].cancelled_at is not None


def test_an_unknown_pipeline_says_so(fake: FakeTime, emulator: OrchestraEmulator) -> None:
    """A 404 from start names the pipeline and the variable."""
    with pytest.raises(ApiStatusError, match=r"Orchestra knows no pipeline 'ghost'.*ORCHESTRA_PIPELINE"):
        _runner(fake, emulator, ORCHESTRA_PIPELINE="ghost").run()


@pytest.mark.parametrize(
    ("env", "flags", "expected"),
    [
        ({}, RunFlags(pipeline="p"), {}),
        ({"ORCHESTRA_TASK_IDS": "a, b,a"}, RunFlags(pipeline="p"), {"taskIds": ["a", "b"]}),
        ({"ORCHESTRA_TASK_IDS": "a"}, RunFlags(pipeline="p", task_ids=("c",)), {"taskIds": ["c"]}),
        ({"ORCHESTRA_RUN_INPUTS": '{"d": 1}'}, RunFlags(pipeline="p"), {"runInputs": {"d": 1}}),
        (
            {"GITLAB_CI": "1", "CI_COMMIT_REF_NAME": "dev", "CI_COMMIT_SHA": "s", "CI_PIPELINE_ID": "9"},
            RunFlags(pipeline="p"),
            {"branch": "dev", "commit": "s", "ciRunId": "9"},
        ),
        (
            {"GITHUB_ACTIONS": "1", "GITHUB_SHA": "s", "GITHUB_RUN_ID": "9"},
            RunFlags(pipeline="p", branch="x"),
            {"branch": "x", "ciRunId": "9"},
        ),
        (
            {"ORCHESTRA_RETRY_FROM_FAILED": "true"},
            RunFlags(pipeline="p", environment="prod"),
            {"environment": "prod", "retryFromFailed": True},
        ),
    ],
)
def test_start_body_from_variables_flags_and_ci(
    env: dict[str, str], flags: RunFlags, expected: dict[str, object]
) -> None:
    """The start body holds only what is set; flags beat variables; the CI's branch/commit/run id are defaults."""
    settings = run_settings(EnvReader({"ORCHESTRA_API_KEY": KEY, **env}), flags)
    assert settings.start_body() == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORCHESTRA_POLL_INTERVAL": "0"}, "ORCHESTRA_POLL_INTERVAL must be a positive number"),
        ({"ORCHESTRA_TIMEOUT": "nan"}, "ORCHESTRA_TIMEOUT must be a positive number"),
        ({"ORCHESTRA_RUN_INPUTS": '"text"'}, "must be a JSON object of input names"),
        ({"ORCHESTRA_LOG_TAIL_BYTES": "99999999"}, "between 0 and"),
        ({"ORCHESTRA_API_URL": "http://orchestra.example.com"}, "plain http"),
    ],
)
def test_bad_settings(env: dict[str, str], message: str) -> None:
    """Each malformed setting is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=message):
        run_settings(EnvReader({"ORCHESTRA_API_KEY": KEY, "ORCHESTRA_PIPELINE": "p", **env}), RunFlags())


@pytest.mark.parametrize(
    ("lock_wait", "code", "recorded"),
    [(0.0, ExitCode.OK, "SUCCEEDED"), (50.0, ExitCode.OK, "SUCCEEDED"), (85.0, ExitCode.TIMEOUT, "FAILED")],
)
def test_time_spent_recording_the_start_counts_against_the_timeout(
    fake: FakeTime, emulator: OrchestraEmulator, tmp_path: Path, lock_wait: float, code: ExitCode, recorded: str
) -> None:
    """A first write that waits (a warehouse lock, a slow warehouse) leaves that much less of ORCHESTRA_TIMEOUT."""
    env = {"ORCHESTRA_API_KEY": KEY, "ORCHESTRA_API_URL": "http://127.0.0.1" + BASE_PATH, "ORCHESTRA_RATE_LIMIT": "0"}
    settings = run_settings(EnvReader({**env, "ORCHESTRA_PIPELINE": "ok", "ORCHESTRA_TIMEOUT": "100"}), RunFlags())
    deadline = Deadline(settings.timeout, fake.monotonic)  # as the command binds it: first
    db = tmp_path / "history.duckdb"
    spec = parse_warehouse(str(db), EnvReader({}))
    opened: list[Path] = []

    def open_after_a_wait() -> Target:
        if not opened:
            fake.sleep(lock_wait)
        opened.append(db)
        return open_target(spec)

    ci = detect_ci_run({}, job_label="orchestra run ok")
    recorder = RunRecorder(open_after_a_wait, ci, settings, wall_clock=lambda: fake.now.timestamp())
    app = AppContext({}, Output(CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=io.StringIO()))
    result = run_job(
        app,
        settings,
        recorder,
        deadline,
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
        wall_clock=lambda: fake.now.timestamp(),
        sleep=fake.sleep,
    )
    assert result.exit_code is code, result.message
    assert fake.slept <= 100  # the job ends by the deadline, the recording included
    with duckdb.connect(str(db), read_only=True) as con:
        [(status,)] = con.execute("SELECT status FROM task_runs").fetchall()
    assert status == recorded
    assert len(opened) == 2  # the start and the end were both written


@pytest.mark.parametrize("method", ["start_pipeline", "run_status", "run_task_runs", "log_tail", "cancel_run"])
def test_every_pipeline_run_call_must_be_given_its_deadline(method: str) -> None:
    """The client's pipeline-run calls take a deadline with no default: none can be left out by accident."""
    parameter = inspect.signature(getattr(OrchestraClient, method)).parameters["deadline"]
    assert parameter.default is inspect.Parameter.empty
