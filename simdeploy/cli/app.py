"""The Typer application every command registers on, and the consoles they print to."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
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

EXIT_EXPECTATIONS_FAILED = 1  # like a failing test
EXIT_BAD_INPUT = 2


def fail(message: str) -> typer.Exit:
    """Print `error: message` (no markup is read in it) and return the exit-2 exception to raise."""
    errors.print(f"[red]error:[/red] {_escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
