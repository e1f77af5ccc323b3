"""Settings for ``eltops orchestra run``, parsed once from the variables and flags, before any request.

A flag beats its variable. Branch, commit and the CI run id default to the CI system's own variables (GitLab:
``CI_COMMIT_REF_NAME``, ``CI_COMMIT_SHA``, ``CI_PIPELINE_ID``; GitHub: ``GITHUB_HEAD_REF``/``GITHUB_REF_NAME``,
``GITHUB_SHA``, ``GITHUB_RUN_ID``), so re-running a CI job restarts the Orchestra run it started, as Orchestra
documents ``ciRunId``. Anything malformed is a :class:`~eltops.errors.ConfigError` (exit 2) naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from eltops._parse import positive_seconds
from eltops._paths import JUNIT, output_file
from eltops.errors import ConfigError
from eltops.orchestra._config import OrchestraSettings, orchestra_settings
from eltops.secrets import EnvReader

__all__ = [
    "DEFAULT_LOG_TAIL_BYTES",
    "DEFAULT_RUN_POLL_SECONDS",
    "DEFAULT_RUN_TIMEOUT_SECONDS",
    "RunFlags",
    "RunSettings",
    "run_settings",
]

DEFAULT_RUN_TIMEOUT_SECONDS = 3600.0
DEFAULT_RUN_POLL_SECONDS = 10.0
DEFAULT_LOG_TAIL_BYTES = 16_384
MAX_LOG_TAIL_BYTES = 1_048_576
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class RunFlags:
    """What the command line said; None means "not given, use the variable"."""

    pipeline: str | None = None
    environment: str | None = None
    task_ids: tuple[str, ...] = ()
    run_inputs: str | None = None
    retry_from_failed: bool | None = None
    continue_downstream: bool | None = None
    branch: str | None = None
    commit: str | None = None
    ci_run_id: str | None = None
    wait: bool | None = None
    timeout: float | None = None
    poll_interval: float | None = None
    cancel_on_timeout: bool | None = None
    fail_on_warning: bool | None = None
    log_tail_bytes: int | None = None
    api_url: str | None = None
    junit: Path | None = None
    json_output: bool = False
    force: bool = False


@dataclass(frozen=True)
class RunSettings:
    """One ``eltops orchestra run``."""

    orchestra: OrchestraSettings
    pipeline: str
    environment: str | None
    task_ids: tuple[str, ...]
    run_inputs: Mapping[str, Any] | None
    retry_from_failed: bool
    continue_downstream: bool
    branch: str | None
    commit: str | None
    ci_run_id: str | None
    wait: bool
    timeout: float
    poll_interval: float
    cancel_on_timeout: bool
    fail_on_warning: bool
    log_tail_bytes: int
    junit_path: Path | None
    json_output: bool

    def start_body(self) -> dict[str, Any]:
        """The ``WebhookRequestData`` body: only what is set, so Orchestra's own defaults apply to the rest."""
        body: dict[str, Any] = {}
        for name, value in (
            ("branch", self.branch),
            ("commit", self.commit),
            ("environment", self.environment),
            ("ciRunId", self.ci_run_id),
            ("taskIds", list(self.task_ids) or None),
            ("runInputs", dict(self.run_inputs) if self.run_inputs is not None else None),
        ):
            if value is not None:
                body[name] = value
        if self.retry_from_failed:
            body["retryFromFailed"] = True
        if self.continue_downstream:
            body["continueDownstreamRun"] = True
        return body


def _switch(flag: bool | None, env: EnvReader, name: str, *, default: bool) -> bool:
    if flag is not None:
        return flag
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() not in _FALSE


def _run_inputs(text: str | None, source: str) -> Mapping[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f'{source} must be a JSON object such as {{"date": "2025-05-01"}}: {exc}') from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source} must be a JSON object of input names and values, got {type(value).__name__}")
    return value


def _ci_defaults(env: EnvReader) -> tuple[str | None, str | None, str | None]:
    """(branch, commit, CI run id) from GitLab's or GitHub's own variables."""
    if env.get("GITLAB_CI"):
        return (
            env.get("CI_COMMIT_REF_NAME") or env.get("CI_COMMIT_BRANCH") or None,
            env.get("CI_COMMIT_SHA") or None,
            env.get("CI_PIPELINE_ID") or None,
        )
    if env.get("GITHUB_ACTIONS"):
        return (
            env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None,
            env.get("GITHUB_SHA") or None,
            env.get("GITHUB_RUN_ID") or None,
        )
    return None, None, None


def run_settings(env: EnvReader, flags: RunFlags) -> RunSettings:
    """Everything ``orchestra run`` needs, validated: exit code 2 before any request when something is wrong."""
    pipeline = (flags.pipeline or env.get("ORCHESTRA_PIPELINE") or "").strip()
    if not pipeline:
        raise ConfigError(
            "ORCHESTRA_PIPELINE is required: the id or alias of the pipeline to run (or the PIPELINE argument)"
        )
    inputs_source = "--run-inputs" if flags.run_inputs is not None else "ORCHESTRA_RUN_INPUTS"
    run_inputs = _run_inputs(
        flags.run_inputs if flags.run_inputs is not None else env.get("ORCHESTRA_RUN_INPUTS"), inputs_source
    )
    task_texts = list(flags.task_ids) or [env.get("ORCHESTRA_TASK_IDS") or ""]
    task_ids = tuple(dict.fromkeys(t.strip() for text in task_texts for t in text.split(",") if t.strip()))

    timeout_text = flags.timeout if flags.timeout is not None else env.get("ORCHESTRA_TIMEOUT")
    poll_text = flags.poll_interval if flags.poll_interval is not None else env.get("ORCHESTRA_POLL_INTERVAL")
    timeout = (
        DEFAULT_RUN_TIMEOUT_SECONDS
        if timeout_text is None
        else positive_seconds(timeout_text, source="ORCHESTRA_TIMEOUT")
    )
    poll = (
        DEFAULT_RUN_POLL_SECONDS if poll_text is None else positive_seconds(poll_text, source="ORCHESTRA_POLL_INTERVAL")
    )

    tail_text = flags.log_tail_bytes if flags.log_tail_bytes is not None else env.get("ORCHESTRA_LOG_TAIL_BYTES")
    tail = DEFAULT_LOG_TAIL_BYTES
    if tail_text is not None:
        try:
            tail = int(tail_text)
        except ValueError:
            raise ConfigError(f"ORCHESTRA_LOG_TAIL_BYTES must be a number of bytes, got {tail_text!r}") from None
        if not 0 <= tail <= MAX_LOG_TAIL_BYTES:
            raise ConfigError(f"ORCHESTRA_LOG_TAIL_BYTES must be between 0 and {MAX_LOG_TAIL_BYTES}, got {tail_text!r}")

    ci_branch, ci_commit, ci_run = _ci_defaults(env)
    branch = flags.branch or env.get("ORCHESTRA_BRANCH") or ci_branch
    commit = (
        flags.commit
        or env.get("ORCHESTRA_COMMIT")
        or (ci_commit if not (flags.branch or env.get("ORCHESTRA_BRANCH")) else None)
    )
    junit_text = env.get("ORCHESTRA_JUNIT_REPORT")
    return RunSettings(
        orchestra=orchestra_settings(env, api_url=flags.api_url),
        pipeline=pipeline,
        environment=flags.environment or env.get("ORCHESTRA_ENVIRONMENT") or None,
        task_ids=task_ids,
        run_inputs=run_inputs,
        retry_from_failed=_switch(flags.retry_from_failed, env, "ORCHESTRA_RETRY_FROM_FAILED", default=False),
        continue_downstream=_switch(flags.continue_downstream, env, "ORCHESTRA_CONTINUE_DOWNSTREAM", default=False),
        branch=branch,
        commit=commit,
        ci_run_id=flags.ci_run_id or env.get("ORCHESTRA_CI_RUN_ID") or ci_run,
        wait=_switch(flags.wait, env, "ORCHESTRA_WAIT", default=True),
        timeout=timeout,
        poll_interval=poll,
        cancel_on_timeout=_switch(flags.cancel_on_timeout, env, "ORCHESTRA_CANCEL_ON_TIMEOUT", default=True),
        fail_on_warning=_switch(flags.fail_on_warning, env, "ORCHESTRA_FAIL_ON_WARNING", default=False),
        log_tail_bytes=tail,
        junit_path=_junit_path(flags.junit or (Path(junit_text) if junit_text else None), force=flags.force),
        json_output=flags.json_output,
    )


def _junit_path(path: Path | None, *, force: bool) -> Path | None:
    return None if path is None else output_file(path, JUNIT, force=force)
