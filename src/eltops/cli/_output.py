"""Where the CLI's words go: stdout for results, stderr for logs, every line masked, CI-native when in CI.

- Colour only on a terminal, never with ``NO_COLOR`` set or ``TERM=dumb``.
- GitLab CI (``GITLAB_CI``): collapsible sections. GitHub Actions (``GITHUB_ACTIONS``): groups and
  ``::error::`` annotations.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, TextIO

from eltops.secrets import MASKER, MaskingFilter

if TYPE_CHECKING:  # rich is imported when something is drawn: a start that only prints or fails pays nothing
    from rich.console import Console


class CiKind(Enum):
    NONE = "none"
    GITLAB = "gitlab"
    GITHUB = "github"


def detect_ci(env: Mapping[str, str]) -> CiKind:
    if env.get("GITLAB_CI"):
        return CiKind.GITLAB
    if env.get("GITHUB_ACTIONS"):
        return CiKind.GITHUB
    return CiKind.NONE


def wants_colour(env: Mapping[str, str], stream: TextIO) -> bool:
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return stream.isatty()


def _escape_github(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@dataclass
class Output:
    """The CLI's output channels; every string is masked before it is written."""

    ci: CiKind
    colour: bool
    stdout: TextIO
    stderr: TextIO
    _console: Console | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Output:
        return cls(ci=detect_ci(env), colour=wants_colour(env, sys.stderr), stdout=sys.stdout, stderr=sys.stderr)

    def result(self, text: str) -> None:
        """A result line on stdout (JSON for STATUS, the ``--json`` object, a ``get`` page)."""
        self.stdout.write(MASKER.redact(text) + "\n")
        self.stdout.flush()

    def line(self, text: str) -> None:
        """A human-readable line on stderr."""
        self.stderr.write(MASKER.redact(text) + "\n")
        self.stderr.flush()

    def error(self, text: str, *, title: str = "eltops") -> None:
        text = MASKER.redact(text)
        if self.ci is CiKind.GITHUB:
            self.stderr.write(f"::error title={_escape_github(title)}::{_escape_github(text)}\n")
        else:
            prefix = "\x1b[31mError:\x1b[0m" if self.colour else "Error:"
            self.stderr.write(f"{prefix} {text}\n")
        self.stderr.flush()

    @contextmanager
    def section(self, name: str, header: str) -> Iterator[None]:
        """A collapsible block in CI logs; a plain header line elsewhere."""
        header = MASKER.redact(header)
        key = "".join(c if c.isalnum() or c in "_." else "_" for c in name)
        if self.ci is CiKind.GITLAB:
            self.stderr.write(f"\x1b[0Ksection_start:{int(time.time())}:{key}[collapsed=true]\r\x1b[0K{header}\n")
        elif self.ci is CiKind.GITHUB:
            self.stderr.write(f"::group::{header}\n")
        else:
            self.line(header)
        self.stderr.flush()
        try:
            yield
        finally:
            if self.ci is CiKind.GITLAB:
                self.stderr.write(f"\x1b[0Ksection_end:{int(time.time())}:{key}\r\x1b[0K\n")
            elif self.ci is CiKind.GITHUB:
                self.stderr.write("::endgroup::\n")
            self.stderr.flush()

    def console(self) -> Console:
        """The one rich console on stderr (log lines, progress bars, tables) that respects the colour decision.

        Always the same object: rich prints a log line above a live progress bar only when both go through the
        console that draws the bar; two consoles on one terminal glue lines to bars and repeat finished bars.
        """
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.stderr,
                no_color=not self.colour,
                force_terminal=self.colour or None,
                highlight=False,
                soft_wrap=True,
            )
        return self._console


LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # ISO 8601's order, local time: never 12/01/26


def configure_logging(output: Output, *, verbosity: int) -> None:
    """Log to stderr through the masking filter: rich on a terminal, plain timestamped lines elsewhere.

    ``verbosity`` 0 logs INFO, 1 DEBUG, 2 also every HTTP request; below 0 (``-q``) only warnings and errors.
    """
    level = logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else logging.WARNING
    handler: logging.Handler
    if output.colour:
        from rich.highlighter import NullHighlighter
        from rich.logging import RichHandler

        handler = RichHandler(
            console=output.console(),
            show_path=False,
            markup=False,
            rich_tracebacks=False,
            highlighter=NullHighlighter(),  # no random colours on the numbers and words inside a message
            keywords=[],  # nor on the HTTP methods in it
            log_time_format=LOG_TIME_FORMAT,
            omit_repeated_times=False,
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(output.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", LOG_TIME_FORMAT))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("eltops").setLevel(level)
    # httpx logs every request (method, URL, status; never headers) at INFO: shown with -vv
    logging.getLogger("httpx").setLevel(logging.INFO if verbosity > 1 else logging.WARNING)
