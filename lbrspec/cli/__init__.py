"""The ``lbrspec`` command line: the only place that reads ``argv`` or prints.

Exit codes (see :mod:`lbrspec.errors`): 0 holds, 1 violated, 2 usage or input error,
3 undetermined, 4 internal error.  Every error is one line on stderr, never a traceback: its
control characters escaped and its length capped (:func:`lbrspec.printable.error_line`).
"""

from __future__ import annotations

import sys

import click

from .. import runctl
from ..errors import EXIT_INTERNAL, EXIT_UNDETERMINED, EXIT_USAGE, LbrspecError, Stopped
from ..printable import error_line
from .bmc import bmc_cmd
from .check import check_cmd
from .compare import compare_cmd
from .export import export_group
from .diagram import diagram_cmd
from .docs import docs_cmd
from .listing import list_cmd
from .replay import replay_cmd
from .simulate import simulate_cmd
from .prove import prove_cmd
from .serve import serve_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lbrspec")
def cli() -> None:
    """lbrspec: a checkable model of KVM's guest LBR emulation (the v8 Guest LBR Enabling design).

    Run `lbrspec check` to check every safety property of the v8 design exhaustively,
    `lbrspec check --variant NAME` to see how a design alternative breaks one, and
    `lbrspec list` for the models, variants, invariants and goals.  Every command takes
    --model REF (a shipped model, a .py file or a module; a model file is Python and runs like
    any import) and, where it builds an instance, --size SORT=N.
    """


cli.add_command(check_cmd)
cli.add_command(list_cmd)
cli.add_command(export_group)
cli.add_command(simulate_cmd)
cli.add_command(replay_cmd)
cli.add_command(diagram_cmd)
cli.add_command(docs_cmd)
cli.add_command(bmc_cmd)
cli.add_command(prove_cmd)
cli.add_command(compare_cmd)
cli.add_command(serve_cmd)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and, as a script, exits with) the exit code.

    SIGINT and SIGTERM are one stop request (:mod:`lbrspec.runctl`): the running phase ends
    with its figures and any counterexample found so far (exit 1 if there is one, else 3);
    where no figures exist yet, one line says what was stopped, exit 3."""
    for stream in (sys.stdout, sys.stderr):
        # a path or name the user gave that is not valid UTF-8 (a surrogate escape from argv)
        # is printed escaped, never as an encoding error
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
    restore = runctl.install_signal_handlers()
    try:
        code = _main(argv)
    finally:
        restore()
    if argv is None:
        sys.exit(code)
    return code


def _main(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="lbrspec", standalone_mode=False)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        code = 0
    except click.ClickException as e:
        click.echo(f"lbrspec: error: {error_line(e.format_message())}", err=True)
        code = EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("lbrspec: stopped: interrupted; no verdict (undetermined)", err=True)
        code = EXIT_UNDETERMINED
    except KeyboardInterrupt:  # a second signal while the first one's result was printed
        code = EXIT_UNDETERMINED
    except Stopped as e:
        click.echo(f"lbrspec: stopped: {error_line(str(e))}", err=True)
        code = e.exit_code
    except LbrspecError as e:
        click.echo(f"lbrspec: {'internal error' if e.exit_code == EXIT_INTERNAL else 'error'}: {error_line(str(e))}", err=True)
        code = e.exit_code
    return code
