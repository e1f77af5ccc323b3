"""The root ``eltops`` group, the shared context, and the error → exit code mapping."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import click

from eltops import __version__
from eltops.cli._output import Output, configure_logging
from eltops.errors import EltopsError, ExitCode


@dataclass
class AppContext:
    """What every command gets: the environment it was started with, and where to write."""

    env: Mapping[str, str]
    output: Output
    verbosity: int = 0
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


_COMMANDS = {
    "demo": "eltops.cli._demo:demo",
    "emulate": "eltops.cli._emulate:emulate",
    "fivetran": "eltops.cli._fivetran:fivetran",
    "orchestra": "eltops.cli._orchestra:orchestra",
    "report": "eltops.cli._report:report",
}


class _LazyGroup(click.Group):
    """Imports a command's module when that command runs (or help lists it), not at every start.

    Each command brings its own dependencies: the report Plotly, the emulators their web server, the run
    history pyarrow. Imported together they cost every command half a second and 40 MB.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, name = target.split(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=_LazyGroup,
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


def run_command(args: Sequence[str], *, env: Mapping[str, str], output: Output | None = None) -> int:
    """Run ``eltops ARGS`` with ``env`` as its environment and return the exit code."""
    output = output or Output.from_env(env)
    app = AppContext(env=env, output=output)
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
