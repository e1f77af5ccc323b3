"""The one HTTP layer both API clients stand on: timeouts, retries, a job deadline and a rate limit.

Retries follow one explicit predicate (:func:`is_retryable`): connection errors, 429 and 5xx are retried with
exponential backoff (or the server's ``Retry-After``); every other 4xx fails at once. No wait ever runs past the
job's :class:`~eltops._deadline.Deadline`: when the next attempt could only start after it, the call fails at once
with the last error instead of sleeping in vain (an unreachable API is exit 4, not a timeout); a call whose
deadline has already passed raises :class:`~eltops.errors.JobTimeout` without sending anything.

The transport is injected (``transport=``) so tests can talk to an in-process emulator app, and
``stamina.set_testing(True)`` removes the retry sleeps.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import stamina
import stamina.instrumentation

from eltops._api_errors import parse_error_body
from eltops._deadline import NO_DEADLINE, Clock, Deadline, Sleep
from eltops._retry import DEFAULT_RETRY_AFTER_MAX, RetryPolicy, retry_wait
from eltops._url import validate_base_url
from eltops.errors import (
    ApiConnectionError,
    ApiResponseError,
    ApiStatusError,
    JobTimeout,
)

log = logging.getLogger("eltops.http")

# eltops logs each retry itself (one line naming the host and the attempt out of the real total); stamina's own
# log hook would add a second line per retry
stamina.instrumentation.set_on_retry_hooks([])

__all__ = [
    "DEFAULT_RETRY_AFTER_MAX",
    "ApiTransport",
    "RateLimiter",
    "ResponseTooLarge",
    "RetryPolicy",
    "hopeless",
    "is_retryable",
    "validate_base_url",
]


class ResponseTooLarge(Exception):
    """An answer whose ``Content-Length`` is over the caller's ``max_bytes``: closed unread (never retried)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the answer is {size} bytes")
        self.size = size


def is_retryable(exc: BaseException) -> bool:
    """Connection-level failures, 429 and 5xx are worth another try; any other 4xx is final, and so is a
    failure no retry can fix (:func:`hopeless`: TLS with a server that does not speak it, a bad certificate, a URL
    httpx cannot send)."""
    if isinstance(exc, httpx.TransportError):
        return hopeless(exc) is None
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status == 429 or status >= 500
    return False


def hopeless(exc: httpx.TransportError) -> str | None:
    """What to check, when ``exc`` is a failure that the same request would meet again (so it is not retried);
    None for one worth another try (refused, reset, timed out)."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return "check the URL: it must be http:// or https:// with a host"
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (
            "the server's certificate was not trusted: check the host in the URL, and SSL_CERT_FILE when a proxy "
            "or a private CA signs it"
        )
    if any(isinstance(e, ssl.SSLError) for e in chain) or "[SSL" in str(exc):
        return (
            "TLS failed: a server that speaks plain HTTP (an emulator, a local proxy) needs an http:// URL, not "
            "https://; otherwise check the host and port"
        )
    return None


class RateLimiter:
    """At most ``per_minute`` request starts in any rolling minute, shared by all threads of one client.

    The first time one makes a request wait, it logs so, once per process, with ``how_to_change`` (the flag and
    variable that set the limit), so that a slow load says why it is slow.
    """

    _announced = threading.Event()  # shared: a load builds a limiter per resource, and one line says it all

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        how_to_change: str = "",
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = clock()
        self._how_to_change = how_to_change

    def acquire(self, deadline: Deadline = NO_DEADLINE) -> None:
        """Wait for the next free slot (evenly spaced, so a burst never triggers the server's limit)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > deadline.remaining():
            raise JobTimeout("the client-side rate limit leaves no request slot before the deadline")
        if wait > 0:
            if not RateLimiter._announced.is_set():
                RateLimiter._announced.set()
                log.info(
                    "waiting on the client-side rate limit of %g requests a minute (one every %.1f s)%s",
                    self.per_minute,
                    self.interval,
                    f"; {self._how_to_change}" if self._how_to_change else "",
                )
            self._sleep(wait)


ErrorParser = Callable[[httpx.Response], tuple[str | None, str]]


def default_error_parser(response: httpx.Response) -> tuple[str | None, str]:
    """(api code, message) from the two error bodies these APIs use, else the HTTP reason phrase."""
    return parse_error_body(response.content, fallback=response.reason_phrase or f"HTTP {response.status_code}")


def _trust_nothing() -> ssl.SSLContext:
    """A TLS context that accepts no certificate, for a client that only speaks plain http (to loopback).

    Such a client never negotiates TLS (it follows no redirects), so it need not load the CA bundle, which takes
    50 ms, at every start of a command against an emulator. Were it ever asked for https, it would refuse.
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class ApiTransport:
    """An ``httpx.Client`` with the retry, deadline and rate-limit rules above; returns parsed JSON.

    ``on_response`` sees every answer (retried ones included) before it is checked: a client reads headers such as
    the server's clock or its request budget there.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        error_parser: ErrorParser = default_error_parser,
        service: str = "API",
        on_response: Callable[[httpx.Response], None] | None = None,
        auth_hint: str = "check the credentials",
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._status_hints = {**_STATUS_HINTS, 401: f" ({auth_hint})"}
        self.rate_limiter = rate_limiter
        self.service = service
        self._error_parser = error_parser
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            transport=transport,
            timeout=self.retry.request_timeout,
            follow_redirects=False,
            verify=_trust_nothing() if urlsplit(base_url).scheme == "http" else True,
            event_hooks={"response": [on_response]} if on_response is not None else None,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: Deadline = NO_DEADLINE,
        attempts: int | None = None,
    ) -> Any:
        """Send one request (retried per the policy) and return its decoded JSON body."""
        response = self.request(method, path, params=params, json=json, deadline=deadline, attempts=attempts)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ApiResponseError(
                f"{self.service} answered {method} {path} with a body that is not JSON: {exc}",
                method=method,
                url=str(response.request.url),
                status_code=response.status_code,
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: Deadline = NO_DEADLINE,
        headers: Mapping[str, str] | None = None,
        attempts: int | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """Send one request, retrying per the policy inside the deadline; raise an ``ApiError`` on failure.

        ``headers`` are sent with this request only (e.g. ``Range``), besides the client's own. ``attempts`` (at
        most the policy's) caps the tries of this request: 1 for a look-up that is not worth a retry.
        ``max_bytes``: an answer that declares a longer body (``Content-Length``) is closed before its body is
        read, and :class:`ResponseTooLarge` raised (the caller asks for less); one that declares none is read as
        usual.
        """
        tries = min(attempts or self.retry.attempts, self.retry.attempts)
        failures = 0
        gave_up_for_deadline = False
        where = self._where(path)

        def backoff_or_stop(exc: BaseException) -> bool | float:
            nonlocal failures, gave_up_for_deadline
            if not is_retryable(exc):
                return False
            failures += 1
            if failures >= tries:
                return False  # that was the last attempt: the error below says so
            retry_after = exc.response.headers.get("Retry-After") if isinstance(exc, httpx.HTTPStatusError) else None
            planned = retry_wait(self.retry, failures, retry_after)
            wait = planned.seconds
            if wait >= deadline.remaining():
                gave_up_for_deadline = True
                return False
            log.warning(
                "%s %s %s; attempt %d of %d in %.1f s (%s)",
                method,
                where,
                _describe(exc),
                failures + 1,
                tries,
                wait,
                planned.why,
            )
            return wait

        try:
            for attempt in stamina.retry_context(on=backoff_or_stop, attempts=tries, timeout=None):
                with attempt:
                    return self._send_once(
                        method,
                        path,
                        params=params,
                        json=json,
                        deadline=deadline,
                        extra_headers=headers,
                        max_bytes=max_bytes,
                    )
        except httpx.HTTPStatusError as exc:
            sent = failures if is_retryable(exc) else failures + 1
            raise self._status_error(method, exc.response, sent, gave_up_for_deadline) from None
        except httpx.TimeoutException as exc:
            if deadline.expired:  # its timeout was what was left of the job's: the job ran out, not the API
                raise JobTimeout(
                    f"the deadline passed while {method} {self._full_path(path)} waited for {self.service}'s answer"
                ) from None
            raise self._unreachable(method, path, exc, failures, gave_up_for_deadline) from None
        except httpx.TransportError as exc:
            raise self._unreachable(method, path, exc, failures, gave_up_for_deadline) from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _unreachable(
        self, method: str, path: str, exc: httpx.TransportError, failures: int, gave_up_for_deadline: bool
    ) -> ApiConnectionError:
        check = hopeless(exc)
        return ApiConnectionError(
            f"could not reach {self.service} at {_host(self._client.base_url)} for {method} "
            f"{self._full_path(path)}{_tries(failures)}: "
            f"{_describe(exc)}{_deadline_note(gave_up_for_deadline)}" + (f" (not retried: {check})" if check else ""),
            method=method,
            url=str(exc.request.url) if _has_request(exc) else None,
        )

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        deadline: Deadline,
        extra_headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        if deadline.expired:
            raise JobTimeout(f"the deadline passed before {method} {path} could be sent")
        if self.rate_limiter is not None:
            self.rate_limiter.acquire(deadline)
        timeout = min(self.retry.request_timeout, deadline.remaining())
        content = None if json is None else orjson.dumps(json)
        headers = dict(extra_headers or {})
        if content is not None:
            headers["Content-Type"] = "application/json"
        if max_bytes is None:
            response = self._client.request(
                method, path, params=params, content=content, headers=headers or None, timeout=timeout
            )
        else:
            request = self._client.build_request(
                method, path, params=params, content=content, headers=headers or None, timeout=timeout
            )
            response = self._client.send(request, stream=True)
            declared = response.headers.get("Content-Length", "")
            if response.is_success and declared.isdigit() and int(declared) > max_bytes:
                response.close()
                raise ResponseTooLarge(int(declared))
            try:
                response.read()
            finally:
                response.close()
        # The answer is read whole. httpx's stream refers back to the response (a reference cycle), which left each
        # body alive until the next cyclic garbage collection, one that counts objects, not bytes: the Orchestra
        # fetch held fifteen 2 MB pages it no longer used. Without the cycle a body goes when it is unused.
        response.stream = httpx.ByteStream(response.content)
        response.raise_for_status()
        return response

    def _full_path(self, path: str) -> str:
        return f"{self._client.base_url.path.rstrip('/')}/{path.lstrip('/')}"

    def _where(self, path: str) -> str:
        """The host and path a request goes to (``api.fivetran.com/v1/...``): which server was tried, never a query."""
        return f"{_host(self._client.base_url)}{self._full_path(path)}"

    def _status_error(
        self, method: str, response: httpx.Response, sent: int, gave_up_for_deadline: bool
    ) -> ApiStatusError:
        api_code, message = self._error_parser(response)
        hint = self._status_hints.get(response.status_code, "")
        url = response.request.url
        return ApiStatusError(
            f"{self.service} at {_host(url)} answered {method} {url.path} with HTTP "
            f"{response.status_code}{f' {api_code}' if api_code else ''}{_tries(sent)}: {message}{hint}"
            f"{_deadline_note(gave_up_for_deadline)}",
            method=method,
            url=str(response.request.url),
            status_code=response.status_code,
            api_code=api_code,
        )


_STATUS_HINTS = {
    401: " (check the credentials)",
    403: " (the credentials are valid but may not do this)",
}


def _host(url: httpx.URL) -> str:
    return f"{url.host}:{url.port}" if url.port else url.host


def _tries(failures: int) -> str:
    """`` after 6 attempts`` when a call was tried more than once, else nothing."""
    return f" after {failures} attempts" if failures > 1 else ""


def _deadline_note(gave_up_for_deadline: bool) -> str:
    return " (gave up: the job's deadline leaves no time for another attempt)" if gave_up_for_deadline else ""


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018
    except RuntimeError:
        return False
    return True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"failed ({type(exc).__name__}: {exc})" if str(exc) else f"failed ({type(exc).__name__})"
