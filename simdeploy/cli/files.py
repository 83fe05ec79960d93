"""Reading scenarios for a command and writing its outputs atomically (a failed run leaves nothing half-written)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import typer

from simdeploy.cli.app import EXIT_BAD_INPUT, errors


def load(path: Path):
    """The validated scenario at `path`; on bad input, print every problem and exit 2."""
    from rich.markup import escape

    from simdeploy.scenario.errors import ScenarioError
    from simdeploy.scenario.loader import load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as error:
        errors.print(f"[red]error:[/red] {escape(str(path))}: invalid scenario", highlight=False, soft_wrap=True)
        for problem in error.problems:
            errors.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def write_json_atomically(path: Path, document: dict) -> None:
    """Write JSON next to its destination, then rename: a failed run leaves nothing half-written."""

    def write(stream) -> None:
        json.dump(document, stream, indent=2)
        stream.write("\n")

    write_atomically(path, write)


def write_atomically(path: Path, write: Callable[[TextIO], None], binary: bool = False) -> None:
    """Call write(stream) on a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if binary else "w") as stream:
            write(stream)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; give it the usual permissions
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_figure(figure, path: Path) -> None:
    write_atomically(path, lambda stream: figure.savefig(stream, format="png"), binary=True)
