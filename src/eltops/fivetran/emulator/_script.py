"""What a test or a scenario file scripts about one connection: how its syncs go and how its requests fail.

These are plain frozen dataclasses; the state machine in ``_state`` reads them, never changes them.

Faulty and hostile answers, as real accounts and proxies have sent them, can be scripted too: ``{api_key}``,
``{api_secret}`` and ``{basic_auth}`` (the base64 value of the ``Authorization: Basic`` header) in a setup test's
title or message, in a failure burst's message, in ``failure_reason`` or in an active error's texts, are replaced
by the credentials of the request (an API that echoes credentials); ``zoneless_timestamps`` renders the named
timestamp fields without their zone (``2024-12-01T15:43:29``); ``overrides`` replaces fields of the rendered
connection object with any JSON value (``paused: "false"``, ``status.sync_state: 7``), to serve types the API
definition does not allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["success", "failure"]
TIMESTAMP_FIELDS = ("created_at", "succeeded_at", "failed_at", "status.rescheduled_for")


@dataclass(frozen=True)
class SetupTest:
    """One setup test result as ``POST {c}/test`` reports it (``details`` is left out of the JSON when None)."""

    title: str
    status: str = "PASSED"
    message: str = ""
    details: Any = None

    def to_json(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"title": self.title, "status": self.status, "message": self.message}
        if self.details is not None:
            rendered["details"] = self.details
        return rendered


@dataclass(frozen=True)
class FailureBurst:
    """The next ``count`` requests for the connection that match answer ``status`` instead.

    ``method`` (e.g. ``"POST"``) and ``path_contains`` (a substring of the request path, e.g. ``"/sync"``)
    narrow which requests match; None matches any. ``retry_after`` (seconds) becomes a ``Retry-After``
    header when set. ``message`` replaces the error answer's message (placeholders as in the module notes).
    """

    status: int
    count: int = 1
    retry_after: float | None = None
    method: str | None = None
    path_contains: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"a failure burst answers an HTTP error status (400..599), not {self.status}")
        if self.count < 0:
            raise ValueError(f"a failure burst needs count >= 0, not {self.count}")

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path


SETUP_TEST_STATUSES = ("PASSED", "SKIPPED", "WARNING", "FAILED", "JOB_FAILED")
"""Every setup-test status the 2026 definition documents (SetupTestResultResponse.status)."""


@dataclass(frozen=True)
class ActiveError:
    """One of a connection's active errors, as ``GET /v1/connections/{id}/errors`` lists it while the last sync
    failed or the setup is broken: ``type`` (``reconnect``, ``unknown_sync_failure``, ...), a ``title``, a short
    ``reason`` and a plain-text ``message`` with remediation guidance (REST API changelog, November 2026)."""

    type: str
    title: str
    reason: str = ""
    message: str = ""

    def to_json(self, created_at: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "reason": self.reason,
            "message": self.message,
            "created_at": created_at,
        }


DEFAULT_SETUP_TESTS: tuple[SetupTest, ...] = (
    SetupTest("Connecting to host", "PASSED"),
    SetupTest("Validating certificate", "PASSED"),
    SetupTest("Connecting to database", "PASSED"),
    SetupTest("Checking permissions", "PASSED"),
)


@dataclass(frozen=True, kw_only=True)
class ConnectionScript:
    """How the emulated connection behaves. Sync timings are read when a sync is triggered.

    A triggered sync waits ``queue_seconds`` in sync_state ``scheduled``, then runs for ``sync_seconds`` in
    ``syncing`` and ends with ``outcome``. With ``reschedules`` = N the run is cut into N + 1 equal parts with
    a ``rescheduled`` pause of ``reschedule_wait_seconds`` between parts. A failed sync's record in the sync
    history carries ``failure_reason``; while the last sync failed (or the setup is broken) the connection's active
    errors are ``errors``.
    """

    queue_seconds: float = 0.0
    sync_seconds: float = 1.0
    outcome: Outcome = "success"
    reschedules: int = 0
    reschedule_wait_seconds: float = 5.0
    setup_tests: tuple[SetupTest, ...] = DEFAULT_SETUP_TESTS
    repair_on_test: bool = False
    failures: tuple[FailureBurst, ...] = field(default=())
    latency_seconds: float = 0.0
    resync_conflict: bool = False
    zoneless_timestamps: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict, hash=False)
    failure_reason: str = ""
    errors: tuple[ActiveError, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.outcome not in ("success", "failure"):
            raise ValueError(f"outcome must be 'success' or 'failure', not {self.outcome!r}")
        for name in ("queue_seconds", "sync_seconds", "reschedule_wait_seconds", "latency_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.reschedules < 0:
            raise ValueError("reschedules cannot be negative")
        # accept lists (from YAML or a hasty caller) but keep the dataclass hashable and immutable
        object.__setattr__(self, "setup_tests", tuple(self.setup_tests))
        object.__setattr__(self, "failures", tuple(self.failures))
        object.__setattr__(self, "errors", tuple(self.errors))
        object.__setattr__(self, "zoneless_timestamps", tuple(self.zoneless_timestamps))
        unknown = sorted(set(self.zoneless_timestamps) - set(TIMESTAMP_FIELDS))
        if unknown:
            raise ValueError(f"zoneless_timestamps names {', '.join(unknown)}; known: {', '.join(TIMESTAMP_FIELDS)}")
        if not isinstance(self.overrides, Mapping) or not all(isinstance(k, str) for k in self.overrides):
            raise ValueError("overrides must map field names (status.x for a status field) to values")
