"""Every error eltops raises, and the exit code each one means.

::

    EltopsError                      exit 1 unless a subclass says otherwise
    ├── ConfigError                  exit 2  invalid input or configuration, found before any API call
    ├── RemoteOperationFailed        exit 1  the sync failed, a setup test did not pass, a connection is paused
    ├── JobTimeout                   exit 3  the deadline passed; the remote operation may still be running
    └── ApiError                     exit 4  the API refused the request or could not be reached
        ├── ApiStatusError           an HTTP error answer (401, 403, 404, 422, 5xx after retries, ...)
        ├── ApiConnectionError       no answer at all (refused, reset, timed out) after retries
        └── ApiResponseError         an answer that is not what the API promises (bad JSON, missing fields)

An ``ApiError`` carries the request (method and URL, never headers) and, when there was one, the response
status, so a message can say exactly which call failed. Messages never hold secret values: the request's
headers are not kept at all.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes documented in docs/troubleshooting.md and each job's page."""

    OK = 0
    REMOTE_FAILED = 1
    CONFIG = 2
    TIMEOUT = 3
    API = 4


class EltopsError(Exception):
    """Base class: something eltops could not do, with a message meant for a person."""

    exit_code: ExitCode = ExitCode.REMOTE_FAILED


class ConfigError(EltopsError):
    """Invalid input or configuration, detected before any API call."""

    exit_code = ExitCode.CONFIG


class RemoteOperationFailed(EltopsError):
    """The remote operation ran and failed (sync failed, setup test failed, paused or broken connection)."""

    exit_code = ExitCode.REMOTE_FAILED


class JobTimeout(EltopsError):
    """The job's deadline passed before the remote operation finished."""

    exit_code = ExitCode.TIMEOUT


class ApiError(EltopsError):
    """The API refused the request, answered nonsense, or could not be reached after retries."""

    exit_code = ExitCode.API

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        api_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status_code = status_code
        self.api_code = api_code


class ApiStatusError(ApiError):
    """The API answered with an HTTP error status."""


class ApiConnectionError(ApiError):
    """The API could not be reached (connection refused or reset, or no answer in time)."""


class ApiResponseError(ApiError):
    """The API answered with something that is not what it promises (bad JSON, a missing field)."""
