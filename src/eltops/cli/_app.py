"""The root ``eltops`` group, the shared context, and the error → exit code mapping."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import click

from eltops import __version__
from eltops.cli._output import Output, configure_logging
from eltops.errors import EltopsError, ExitCode


@dataclass
class AppContext:
    """What every command gets: the environment it was started with, and where to write."""

    env: Mapping[str, str]
    output: Output


pass_app = click.make_pass_decorator(AppContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="eltops")
@click.option("-v", "--verbose", count=True, help="More log detail (-vv also logs every HTTP request).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Run ELT operations from CI pipelines and keep their run history in the warehouse."""
    app = ctx.find_object(AppContext)
    assert app is not None, "run_command() provides the context"
    configure_logging(app.output, verbosity=verbose)


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
        output.line("Aborted.")
        return 130
    except click.ClickException as exc:
        exc.show(file=output.stderr)
        return ExitCode.CONFIG if isinstance(exc, click.UsageError) else int(exc.exit_code)
    except KeyboardInterrupt:
        output.line("Interrupted.")
        return 130
    except SystemExit as exc:  # SIGTERM, see eltops.cli.main
        output.line("Terminated.")
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # a bug: say so, with a traceback that went through the masking filter
        logging.getLogger("eltops").error("eltops crashed; please report this", exc_info=exc)
        output.error(f"internal error: {type(exc).__name__}: {exc}")
        return int(ExitCode.REMOTE_FAILED)
    return int(result) if isinstance(result, int) else 0


def _register() -> None:
    from eltops.cli._demo import demo
    from eltops.cli._emulate import emulate
    from eltops.cli._fivetran import fivetran
    from eltops.cli._orchestra import orchestra
    from eltops.cli._report import report

    cli.add_command(demo)
    cli.add_command(fivetran)
    cli.add_command(orchestra)
    cli.add_command(report)
    cli.add_command(emulate)


_register()
