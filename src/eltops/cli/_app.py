"""The root ``eltops`` group, the shared context, and the error → exit code mapping."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import click

from eltops import __version__
from eltops._deadline import Clock, Sleep
from eltops.cli._output import Output, configure_logging
from eltops.errors import EltopsError, ExitCode


@dataclass
class AppContext:
    """What every command gets: the environment it was started with, where to write, and the time it waits in."""

    env: Mapping[str, str]
    output: Output
    verbosity: int = 0
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    # what to tell a person when Ctrl-C or SIGTERM stops the command (set by a command as it goes)
    interrupt_note: Callable[[], str] | None = None


pass_app = click.make_pass_decorator(AppContext)

_C = TypeVar("_C", bound=Callable[..., object])


def _more_or_less(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """``-v``/``-q`` given after a command name add to those given before it; logging follows at once."""
    app = ctx.find_object(AppContext)
    if not value or app is None:
        return
    app.verbosity += value if param.name == "verbose" else -value
    configure_logging(app.output, verbosity=app.verbosity)


def examples(*lines: str) -> str:
    """A help text's closing ``Examples:`` section, laid out as written (click rewraps any other paragraph)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def verbosity_options(command: _C) -> _C:
    """``-v``/``-vv`` and ``-q`` on a command, wherever they are given on the line (before or after its name)."""
    command = click.option(
        "-q",
        "--quiet",
        count=True,
        expose_value=False,
        show_default=False,
        callback=_more_or_less,
        help="Log only warnings and errors.",
    )(command)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        show_default=False,
        callback=_more_or_less,
        help="More log detail (-vv also logs every HTTP request).",
    )(command)


class Lazy(NamedTuple):
    """A command registered by name: where it lives (``module:attribute``) and its one-line summary.

    The summary is what ``--help`` lists, so listing commands imports none of them (a test checks that it is
    the command's own first docstring line).
    """

    target: str
    summary: str


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs or shows its own help.

    Each command brings its own dependencies: the report Plotly and DuckDB, the emulators their web server, the
    run history pyarrow. Imported together they cost every start half a second and 40 MB.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return self.commands.get(cmd_name)
        module, name = self.lazy[cmd_name].target.split(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command), f"{self.lazy[cmd_name].target} is not a click command"
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from their registered summaries, without importing them."""
        rows = [
            (name, self.lazy[name].summary if name in self.lazy else self.commands[name].get_short_help_str(300))
            for name in self.list_commands(ctx)
            if name in self.lazy or not self.commands[name].hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


# one line per command
COMMANDS = {
    "demo": Lazy(
        "eltops.cli._demo:demo",
        "The whole product in ~10 s, against both emulators.",
    ),
    "emulate": Lazy(
        "eltops.cli._emulate:emulate",
        "Serve a faithful emulator of a vendor API on loopback, to test pipelines offline.",
    ),
    "fivetran": Lazy(
        "eltops.cli._fivetran:fivetran",
        "Sync, test or re-sync Fivetran connections.",
    ),
    "orchestra": Lazy(
        "eltops.cli._orchestra:orchestra",
        "Orchestra: run pipelines, read and load run history.",
    ),
    "report": Lazy(
        "eltops.cli._report:report",
        "Write the run-history HTML report.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=examples(
        "eltops demo                                  # the whole product, no account needed",
        "eltops fivetran start --connector-id demo_shop --timeout 1800",
        "eltops orchestra load --to eltops.duckdb",
        "eltops report --out report.html",
        "eltops emulate fivetran --port 0",
    ),
)
@click.version_option(__version__, prog_name="eltops")
@verbosity_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run ELT operations from CI pipelines and keep their run history in the warehouse."""
    app = ctx.find_object(AppContext)
    assert app is not None, "run_command() provides the context"
    configure_logging(app.output, verbosity=app.verbosity)


def run_command(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    output: Output | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> int:
    """Run ``eltops ARGS`` with ``env`` as its environment and return the exit code.

    ``clock`` and ``sleep`` are what a command that waits between steps measures and waits with (``--every``):
    a test passes a fake pair and runs in milliseconds.
    """
    output = output or Output.from_env(env)
    app = AppContext(env=env, output=output, clock=clock, sleep=sleep)
    try:
        result = cli.main(list(args), prog_name="eltops", standalone_mode=False, obj=app)
    except EltopsError as exc:
        output.error(str(exc))
        return int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        output.line(_stopped("Interrupted (Ctrl-C)", app))
        return 130
    except click.ClickException as exc:
        exc.show(file=output.stderr)
        return ExitCode.CONFIG if isinstance(exc, click.UsageError) else int(exc.exit_code)
    except KeyboardInterrupt:
        output.line(_stopped("Interrupted (Ctrl-C)", app))
        return 130
    except SystemExit as exc:  # SIGTERM, see eltops.cli.main
        output.line(_stopped("Terminated (SIGTERM)", app))
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # a bug: say so, with a traceback that went through the masking filter
        logging.getLogger("eltops").error("eltops crashed; please report this", exc_info=exc)
        output.error(f"internal error: {type(exc).__name__}: {exc}")
        return int(ExitCode.REMOTE_FAILED)
    return int(result) if isinstance(result, int) else 0


def _stopped(what: str, app: AppContext) -> str:
    """``Interrupted (Ctrl-C): <what the command says about its state>.``"""
    note = app.interrupt_note() if app.interrupt_note is not None else ""
    return f"{what}: {note}." if note else f"{what}."
