"""Settings for the Orchestra API and ``eltops orchestra get``, parsed once from the variables and flags, before
any request.

A flag beats its variable; anything malformed is a :class:`~eltops.errors.ConfigError` (exit code 2) naming the
flag or variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from eltops._parse import number
from eltops._retry import DEFAULT_RETRY_AFTER_MAX, RetryPolicy
from eltops._url import validate_base_url
from eltops.errors import ConfigError
from eltops.orchestra._plan import (
    DEFAULT_API_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE_LIMIT,
    PageQuery,
    PlanError,
    Window,
)
from eltops.orchestra._records import RESOURCES, Resource, resource_named
from eltops.secrets import EnvReader, Secret

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "OrchestraSettings",
    "orchestra_settings",
    "page_query",
    "parse_filters",
    "parse_resources",
    "parse_time",
    "parse_window",
]


@dataclass(frozen=True)
class OrchestraSettings:
    """How to reach the API."""

    api_url: str
    api_key: Secret
    rate_limit_per_minute: float | None  # None: no client-side limit
    concurrency: int = DEFAULT_CONCURRENCY
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX
    """Seconds: the longest ``Retry-After`` obeyed (``ORCHESTRA_RETRY_AFTER_MAX``)."""

    @property
    def retry(self) -> RetryPolicy:
        """The HTTP retry policy these settings ask for."""
        return RetryPolicy(retry_after_max=self.retry_after_max)


def orchestra_settings(
    env: EnvReader, *, api_url: str | None = None, rate_limit: float | None = None
) -> OrchestraSettings:
    """``ORCHESTRA_API_KEY`` (vault references work), ``ORCHESTRA_API_URL``, ``ORCHESTRA_RATE_LIMIT``,
    ``ORCHESTRA_CONCURRENCY`` and ``ORCHESTRA_RETRY_AFTER_MAX``."""
    key = env.secret("ORCHESTRA_API_KEY")
    if key is None:
        raise ConfigError(
            "ORCHESTRA_API_KEY is not set (an Orchestra API key, or a DATAOPS_VAULT(...) reference to one)"
        )
    url = validate_base_url(api_url or env.get("ORCHESTRA_API_URL") or DEFAULT_API_URL, variable="ORCHESTRA_API_URL")
    if rate_limit is None:
        raw = env.get("ORCHESTRA_RATE_LIMIT")
        rate_limit = number(raw, source="ORCHESTRA_RATE_LIMIT") if raw is not None else DEFAULT_RATE_LIMIT
    if rate_limit < 0:
        raise ConfigError(f"the rate limit must be 0 (off) or a number of requests per minute, got {rate_limit}")
    concurrency_raw = env.get("ORCHESTRA_CONCURRENCY")
    concurrency = DEFAULT_CONCURRENCY
    if concurrency_raw is not None:
        concurrency = int(number(concurrency_raw, source="ORCHESTRA_CONCURRENCY"))
        if not 1 <= concurrency <= 32:
            raise ConfigError(f"ORCHESTRA_CONCURRENCY must be between 1 and 32, got {concurrency_raw!r}")
    retry_after_raw = env.get("ORCHESTRA_RETRY_AFTER_MAX")
    retry_after_max = DEFAULT_RETRY_AFTER_MAX
    if retry_after_raw is not None:
        retry_after_max = number(retry_after_raw, source="ORCHESTRA_RETRY_AFTER_MAX")
        if not 0 <= retry_after_max <= 86400:
            raise ConfigError(f"ORCHESTRA_RETRY_AFTER_MAX must be seconds between 0 and 86400, got {retry_after_raw!r}")
    return OrchestraSettings(
        api_url=url,
        api_key=key,
        rate_limit_per_minute=rate_limit or None,
        concurrency=concurrency,
        retry_after_max=retry_after_max,
    )


def parse_resources(names: Sequence[str]) -> tuple[Resource, ...]:
    """Resource names (all three when none), in the order given, without repeats."""
    if not names:
        return RESOURCES
    chosen: list[Resource] = []
    for name in names:
        try:
            resource = resource_named(name)
        except KeyError:
            known = ", ".join(r.name for r in RESOURCES)
            raise ConfigError(f"unknown Orchestra resource {name!r} (known: {known})") from None
        if resource not in chosen:
            chosen.append(resource)
    return tuple(chosen)


def parse_time(text: str, what: str) -> datetime:
    """A date (midnight UTC) or an ISO-8601 datetime (UTC when it has no offset)."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(datetime.fromisoformat(value).date(), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what} must be a date (2025-01-31) or an ISO-8601 datetime, got {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(since: str | None, until: str | None) -> Window | None:
    """``--since``/``--until`` for one request: both or neither, at most 7 days apart."""
    start = None if since is None else parse_time(since, "--since")  # each value first, then the pair
    end = None if until is None else parse_time(until, "--until")
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise ConfigError("give both --since and --until (the Orchestra API takes both or neither), or neither")
    try:
        return Window(start, end)
    except PlanError as exc:
        raise ConfigError(str(exc)) from None


def page_query(
    resource: Resource, page: int, page_size: int, window: Window | None, filters: Mapping[str, str]
) -> PageQuery:
    """The request ``eltops orchestra get`` sends: a page or page size the API would refuse is a ConfigError."""
    try:
        return PageQuery(resource, page, page_size, window, filters)
    except PlanError as exc:
        raise ConfigError(str(exc)) from None


def parse_filters(resource: Resource, values: Mapping[str, str | None]) -> dict[str, str]:
    """The endpoint filters given on the command line (checked against what ``resource`` accepts)."""
    given = {k: v for k, v in values.items() if v is not None}
    unknown = sorted(set(given) - set(resource.filters))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        accepted = ", ".join("--" + k.replace("_", "-") for k in resource.filters)
        raise ConfigError(f"{resource} does not take {flags} (it takes {accepted})")
    return given
