"""The shared HTTP layer: retry predicate, Retry-After, URL rules, deadline-bounded retries."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from eltops._deadline import Deadline
from eltops._http import ApiTransport, RateLimiter, RetryPolicy, is_retryable, validate_base_url
from eltops.errors import ApiConnectionError, ApiResponseError, ApiStatusError, ConfigError, JobTimeout

REQUEST = httpx.Request("GET", "https://api.example.com/x")


def _status_error(status: int) -> httpx.HTTPStatusError:
    return httpx.HTTPStatusError("x", request=REQUEST, response=httpx.Response(status, request=REQUEST))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused", request=REQUEST), True),
        (httpx.ReadTimeout("slow", request=REQUEST), True),
        (_status_error(429), True),
        (_status_error(500), True),
        (_status_error(503), True),
        (_status_error(400), False),
        (_status_error(401), False),
        (_status_error(403), False),
        (_status_error(404), False),
        (_status_error(409), False),
        (ValueError("not http"), False),
        (httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", request=REQUEST), False),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=REQUEST), False),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'htps://'", request=REQUEST), False),
    ],
)
def test_retry_predicate(exc: BaseException, expected: bool) -> None:
    """Connection errors, 429 and 5xx are retried; other 4xx and non-HTTP errors are not."""
    assert is_retryable(exc) is expected


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.fivetran.com", True),
        ("https://api.fivetran.com/", True),
        ("http://127.0.0.1:8765", True),
        ("http://127.5.0.1:8765", True),
        ("http://localhost:1", True),
        ("http://[::1]:8765", True),
        ("http://api.fivetran.com", False),
        ("http://10.0.0.1", False),
        ("ftp://127.0.0.1", False),
        ("api.fivetran.com", False),
        ("", False),
    ],
)
def test_base_url_rules(url: str, ok: bool) -> None:
    """Only https, or plain http to a loopback host, is accepted as a base URL."""
    if ok:
        assert not validate_base_url(url, variable="X_URL").endswith("/")
    else:
        with pytest.raises(ConfigError, match="X_URL"):
            validate_base_url(url, variable="X_URL")


Handler = Callable[[httpx.Request], httpx.Response]


def _scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler that answers with ``responses`` in turn, recording each request."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def _api(handler: Handler, **kwargs: object) -> ApiTransport:
    return ApiTransport(
        base_url="https://api.example.com",
        transport=httpx.MockTransport(handler),
        service="Example",
        **kwargs,  # type: ignore[arg-type]
    )


def test_retries_5xx_then_succeeds() -> None:
    """A 503 then a 200 gives the 200's JSON after two requests."""
    handler, seen = _scripted(httpx.Response(503), httpx.Response(200, json={"ok": True}))
    assert _api(handler).request_json("GET", "/x") == {"ok": True}
    assert len(seen) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    """A 4xx other than 429 fails after exactly one request, with the API's message."""
    handler, seen = _scripted(httpx.Response(status, json={"code": "Nope", "message": "bad thing"}))
    with pytest.raises(ApiStatusError, match="bad thing") as caught:
        _api(handler).request_json("GET", "/x")
    assert len(seen) == 1
    assert caught.value.status_code == status
    assert caught.value.api_code == "Nope"
    assert caught.value.exit_code == 4


def test_gives_up_after_attempts() -> None:
    """Persistent 500s fail with an ApiStatusError after the policy's attempts."""
    handler, seen = _scripted(httpx.Response(500))
    with pytest.raises(ApiStatusError, match="HTTP 500"):
        _api(handler, retry=RetryPolicy(attempts=3)).request_json("GET", "/x")
    assert len(seen) == 3


def test_connection_errors_become_api_connection_error() -> None:
    """A transport that never connects ends in ApiConnectionError (exit 4) naming the call."""
    handler, seen = _scripted(httpx.ConnectError("refused"))
    with pytest.raises(ApiConnectionError, match=r"GET /x after 3 attempts"):
        _api(handler, retry=RetryPolicy(attempts=3)).request_json("GET", "/x")
    assert len(seen) == 3


def test_retry_after_past_deadline_fails_at_once() -> None:
    """A 429 asking to wait longer than the deadline allows fails at once as an API error."""
    handler, seen = _scripted(httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(ApiStatusError, match=r"HTTP 429.*deadline"):
        _api(handler).request_json("GET", "/x", deadline=Deadline(30))
    assert len(seen) == 1


def test_expired_deadline_sends_nothing() -> None:
    """With no time left, no request is sent."""
    handler, seen = _scripted(httpx.Response(200, json={}))
    clock = iter([0.0, 100.0, 100.0, 100.0]).__next__
    with pytest.raises(JobTimeout):
        _api(handler).request_json("GET", "/x", deadline=Deadline(10, clock=clock))
    assert seen == []


def test_bad_json_is_a_response_error() -> None:
    """A 200 whose body is not JSON is an ApiResponseError naming the call."""
    handler, _ = _scripted(httpx.Response(200, content=b"<html>"))
    with pytest.raises(ApiResponseError, match="GET /x"):
        _api(handler).request_json("GET", "/x")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"detail": [{"loc": ["query", "page_size"], "msg": "Input should be less than or equal to 100"}]},
            "query.page_size: Input should be less than or equal to 100",
        ),
        ({"detail": "Not authenticated"}, "Not authenticated"),
        ({"code": "NotFound_Connector", "message": "Connector with id 'x' does not exist."}, "does not exist"),
    ],
)
def test_error_bodies_are_read(body: object, message: str) -> None:
    """Both Fivetran's and FastAPI's error bodies end up in the error message."""
    handler, _ = _scripted(httpx.Response(422, json=body))
    with pytest.raises(ApiStatusError) as caught:
        _api(handler).request_json("GET", "/x")
    assert message in str(caught.value)


def test_rate_limiter_spaces_requests_evenly() -> None:
    """At 60 per minute, three immediate acquisitions wait 0, 1 and 2 seconds."""
    now = [0.0]
    slept: list[float] = []
    limiter = RateLimiter(60, clock=lambda: now[0], sleep=slept.append)
    for _ in range(3):
        limiter.acquire()
    assert slept == [1.0, 2.0]


@pytest.mark.parametrize(
    ("header", "cap", "logged"),
    [
        ("3600", 60.0, "60.0 s (the server asked for 3600 s with Retry-After; waiting at most 60 s)"),
        ("3600", 120.0, "120.0 s (the server asked for 3600 s with Retry-After; waiting at most 120 s)"),
        ("7", 60.0, "7.0 s (as the server asked with Retry-After)"),
        (None, 60.0, "0.5 s (backoff)"),
    ],
)
def test_retry_after_is_capped_and_the_wait_logged(
    header: str | None, cap: float, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A Retry-After beyond the policy's cap waits the cap only; the log says how long and why."""
    headers = {"Retry-After": header} if header is not None else {}
    handler, seen = _scripted(httpx.Response(429, headers=headers), httpx.Response(200, json={"ok": True}))
    assert _api(handler, retry=RetryPolicy(retry_after_max=cap)).request_json("GET", "/x") == {"ok": True}
    assert len(seen) == 2
    assert [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()] == [
        f"GET api.example.com/x answered HTTP 429; attempt 2 of 6 in {logged}"
    ]


def test_one_log_line_per_retry_with_host_and_real_total(caplog: pytest.LogCaptureFixture) -> None:
    """Each retry is one eltops line naming the host and the attempt out of the real total; stamina logs none."""
    handler, seen = _scripted(httpx.Response(503))
    with caplog.at_level(logging.DEBUG), pytest.raises(ApiStatusError) as caught:
        _api(handler, retry=RetryPolicy(attempts=3)).request_json("GET", "/x")
    retries = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert retries == [
        "GET api.example.com/x answered HTTP 503; attempt 2 of 3 in 0.5 s (backoff)",
        "GET api.example.com/x answered HTTP 503; attempt 3 of 3 in 1.0 s (backoff)",
    ]
    assert not [r for r in caplog.records if r.name.startswith("stamina")]
    assert len(seen) == 3
    assert str(caught.value).startswith("Example at api.example.com answered GET /x with HTTP 503 after 3 attempts")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: httpx.ConnectError("refused"), "could not reach Example at api.example.com for GET /x after 2"),
        (lambda: httpx.Response(500), "Example at api.example.com answered GET /x with HTTP 500 after 2 attempts"),
    ],
)
def test_final_error_names_what_was_tried(make: Callable[[], httpx.Response | Exception], message: str) -> None:
    """The error after the last attempt names the host, the call and how many attempts were made."""
    handler, _ = _scripted(make())
    with pytest.raises((ApiStatusError, ApiConnectionError), match=message):
        _api(handler, retry=RetryPolicy(attempts=2)).request_json("GET", "/x")


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("check ORCHESTRA_API_KEY", "(check ORCHESTRA_API_KEY)"), (None, "(check the credentials)")],
)
def test_401_hint_is_the_services_own(hint: str | None, expected: str) -> None:
    """A 401 names what to check for that service (Orchestra has a key and no secret)."""
    handler, _ = _scripted(httpx.Response(401, json={"detail": "Not authenticated"}))
    kwargs = {} if hint is None else {"auth_hint": hint}
    with pytest.raises(ApiStatusError) as caught:
        _api(handler, **kwargs).request_json("GET", "/x")
    assert str(caught.value).endswith(expected)


def test_rate_limiter_says_once_when_it_makes_requests_wait(caplog: pytest.LogCaptureFixture) -> None:
    """The first wait logs one line naming the limit and how to change it; later waits and limiters add none."""
    RateLimiter._announced.clear()
    now = [0.0]
    with caplog.at_level(logging.INFO, logger="eltops.http"):
        for _ in range(2):
            limiter = RateLimiter(50, clock=lambda: now[0], sleep=lambda s: None, how_to_change="--rate-limit 0: off")
            for _ in range(3):
                limiter.acquire()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "waiting on the client-side rate limit of 50 requests a minute (one every 1.2 s); --rate-limit 0: off"
    ]


@pytest.mark.parametrize(
    ("deadline_seconds", "expected"),
    [(5.0, JobTimeout), (None, ApiConnectionError)],
    ids=["the-deadline-cut-the-wait", "no-deadline"],
)
def test_a_read_timeout_is_the_jobs_timeout_when_the_deadline_cut_it(
    deadline_seconds: float | None, expected: type[Exception]
) -> None:
    """An answer that does not come before the job's deadline is the job timing out (exit 3), not an API error."""
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        now[0] += float(request.extensions["timeout"]["read"])  # the request waited as long as it was allowed
        raise httpx.ReadTimeout("timed out", request=request)

    deadline = Deadline(deadline_seconds, clock=lambda: now[0])
    with pytest.raises(expected) as caught:
        _api(handler, retry=RetryPolicy(attempts=2, wait_initial=0.0, wait_max=0.0)).request_json(
            "GET", "/x", deadline=deadline
        )
    assert caught.value.exit_code == (3 if expected is JobTimeout else 4)  # type: ignore[attr-defined]


def test_https_to_a_plain_http_server_fails_at_once_saying_what_to_check() -> None:
    """An https:// URL pointed at a plain-HTTP server is not retried: one attempt, and the message says http://."""
    from eltops._serve import serve_in_thread
    from eltops.fivetran.emulator import FivetranEmulator

    with serve_in_thread(FivetranEmulator().wsgi_app) as server:
        url = server.url.replace("http://", "https://")
        with ApiTransport(base_url=url, service="Fivetran") as api, pytest.raises(ApiConnectionError) as caught:
            api.request("GET", "/v1/groups", deadline=Deadline(15))
    message = str(caught.value)
    assert "not retried" in message
    assert "needs an http:// URL" in message
    assert "attempts" not in message  # tried once: stamina's test mode would retry 100 times otherwise
