"""The Typer application every command registers on, the consoles they print to, and the guard around them."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from typer.core import TyperGroup

EXIT_EXPECTATIONS_FAILED = 1  # like a failing test
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h): a bug in simdeploy, not in what it was given
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


class GuardedGroup(TyperGroup):
    """Runs a command so that no traceback reaches the user: a bug is one line and exit 70, Ctrl-C exit 130.

    Guarding the group (not the console script) puts the guard where `python -m simdeploy`, the
    console script and in-process CliRunner tests all go through. SIMDEPLOY_TRACEBACK=1 lets a
    bug's traceback through, for whoever fixes it.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # an exit status chosen on purpose, or a usage error (exit 2) that typer reports
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            _quiet_stdout()  # the reader went away (`| head`): nothing left to say, and nobody to say it to
            raise typer.Exit(1) from None
        except Exception as error:
            if os.environ.get("SIMDEPLOY_TRACEBACK"):
                raise
            errors.print(f"[red]internal error:[/red] {_escape(describe(error))}", highlight=False, soft_wrap=True)
            errors.print(
                "this is a bug in simdeploy, not in your input: please report it with the command and the files "
                "it read (SIMDEPLOY_TRACEBACK=1 shows the traceback)",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERNAL_ERROR) from None


def describe(error: BaseException) -> str:
    """`Type: first line of the message`, at most 300 characters."""
    lines = str(error).splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # no real stdout (a test's capture): nothing to silence


app = typer.Typer(
    cls=GuardedGroup,
    help="Replay Kubernetes rollouts and rollbacks in simulated time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("simdeploy")
        except PackageNotFoundError:  # run from a source tree that was never installed
            from simdeploy import __version__ as number
        typer.echo(f"simdeploy {number}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="Print the version."),
) -> None:
    """Replay Kubernetes rollouts and rollbacks in simulated time."""


console = Console()
if not console.is_terminal:
    console.width = 140  # piped or captured: keep tables on one line each rather than 80 columns
errors = Console(stderr=True)


def main() -> None:
    """The `simdeploy` console script and `python -m simdeploy`."""
    import signal

    # SIGTERM unwinds like Ctrl-C, so that a write in progress removes its temporary file (cli/files.py).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    app(prog_name="simdeploy")


def fail(message: str) -> typer.Exit:
    """Print `error: message` (no markup is read in it) and return the exit-2 exception to raise."""
    errors.print(f"[red]error:[/red] {_escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
