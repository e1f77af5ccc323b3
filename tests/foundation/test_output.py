"""The CLI's output rules: colour, CI formats, masking, and usage errors as exit 2."""

from __future__ import annotations

import io

import pytest

from eltops.cli import run_command
from eltops.cli._output import CiKind, Output, detect_ci, wants_colour
from eltops.secrets import Secret


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_colour_rules(env: dict[str, str], tty: bool, expected: bool) -> None:
    """Colour only on a terminal, never with NO_COLOR set or TERM=dumb."""
    stream = FakeTty() if tty else io.StringIO()
    assert wants_colour(env, stream) is expected


@pytest.mark.parametrize(
    ("env", "kind"),
    [({}, CiKind.NONE), ({"GITLAB_CI": "true"}, CiKind.GITLAB), ({"GITHUB_ACTIONS": "true"}, CiKind.GITHUB)],
)
def test_ci_detection(env: dict[str, str], kind: CiKind) -> None:
    """GitLab and GitHub are recognised from their own variables."""
    assert detect_ci(env) is kind


def _output(ci: CiKind) -> Output:
    return Output(ci=ci, colour=False, stdout=io.StringIO(), stderr=io.StringIO())


def test_github_error_annotation_is_escaped() -> None:
    """A multi-line error becomes one ::error:: line with GitHub's escapes."""
    out = _output(CiKind.GITHUB)
    out.error("first\nsecond 100%", title="Fivetran x")
    assert out.stderr.getvalue() == "::error title=Fivetran x::first%0Asecond 100%25\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("ci", "start", "end"),
    [
        (CiKind.GITLAB, "section_start:", "section_end:"),
        (CiKind.GITHUB, "::group::Header", "::endgroup::"),
        (CiKind.NONE, "Header", "Header"),
    ],
)
def test_sections(ci: CiKind, start: str, end: str) -> None:
    """Sections are collapsible in GitLab, groups in GitHub, a plain header elsewhere."""
    out = _output(ci)
    with out.section("name with spaces", "Header"):
        out.line("inside")
    text = out.stderr.getvalue()  # type: ignore[attr-defined]
    assert start in text
    assert end in text
    assert "inside" in text


def test_every_channel_is_masked() -> None:
    """Results, lines and errors all pass through the masker."""
    Secret("very-secret-token")
    out = _output(CiKind.GITHUB)
    out.result("token=very-secret-token")
    out.line("token=very-secret-token")
    out.error("token=very-secret-token")
    with out.section("s", "very-secret-token"):
        pass
    assert "very-secret-token" not in out.stdout.getvalue()  # type: ignore[attr-defined]
    assert "very-secret-token" not in out.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "args",
    [["fivetran", "bogus-action"], ["fivetran", "--timeout", "soon"], ["no-such-command"], ["fivetran", "--nope"]],
)
def test_usage_errors_are_exit_2(args: list[str]) -> None:
    """Unknown commands, actions and malformed options are exit 2."""
    out = _output(CiKind.NONE)
    assert run_command(args, env={}, output=out) == 2


def test_version() -> None:
    """--version prints the version and exits 0."""
    out = _output(CiKind.NONE)
    assert run_command(["--version"], env={}, output=out) == 0


def test_logs_and_bars_share_one_console() -> None:
    """Every caller gets the same rich console, so log lines print above a live progress bar, never into it."""
    out = Output(ci=CiKind.NONE, colour=True, stdout=io.StringIO(), stderr=FakeTty())
    assert out.console() is out.console()


def test_terminal_log_lines_have_iso_time_and_no_highlighted_numbers() -> None:
    """On a terminal a log line starts with an ISO-like time and its message carries no colour of its own."""
    import logging
    import re

    from eltops.cli._output import configure_logging

    stderr = FakeTty()
    out = Output(ci=CiKind.NONE, colour=True, stdout=io.StringIO(), stderr=stderr)
    configure_logging(out, verbosity=0)
    logging.getLogger("eltops.test").info("GET 127.0.0.1:8/x HTTP 503; attempt 2 of 6")
    text = stderr.getvalue()
    assert re.match(r"^(\x1b\[[0-9;]*m)*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", text), text
    assert "GET 127.0.0.1:8/x HTTP 503; attempt 2 of 6" in text, "no escape codes inside the message"
