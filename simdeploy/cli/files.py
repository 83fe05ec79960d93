"""Reading scenarios for a command and writing its outputs atomically (a failed run leaves nothing half-written)."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

import typer

from simdeploy.cli.app import EXIT_BAD_INPUT, errors, fail

STDOUT = Path("-")  # `--json -`: the document goes to standard output
_MAX_PROBLEMS = 50  # printed for one file; the rest are counted
T = TypeVar("T")


def load(path: Path):
    """The validated scenario at `path`; on bad input, print every problem and exit 2."""
    from simdeploy.scenario.loader import load_scenario

    return load_file(path, "scenario", load_scenario)


def load_file(path: Path, what: str, loader: Callable[[Path], T]) -> T:
    """`loader(path)`: a scenario, drill or game day; on bad input, print every problem naming the file, exit 2."""
    from rich.markup import escape

    from simdeploy.scenario.errors import ScenarioError

    try:
        return loader(path)
    except ScenarioError as error:
        errors.print(f"[red]error:[/red] {escape(str(path))}: invalid {what}", highlight=False, soft_wrap=True)
        for problem in error.problems[:_MAX_PROBLEMS]:
            errors.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        if len(error.problems) > _MAX_PROBLEMS:
            errors.print(f"  ... and {len(error.problems) - _MAX_PROBLEMS} more", highlight=False, markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def file_kind(path: Path) -> str | None:
    """The `kind` of a YAML mapping (Drill, GameDay, Scenario); None when there is none or the file is unreadable,
    which the scenario loader then reports."""
    from simdeploy.scenario.errors import ScenarioError
    from simdeploy.scenario.yamlfile import read_yaml

    try:
        data = read_yaml(path)
    except ScenarioError:
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def check_output(
    path: Path | None, option: str, suffixes: set[str] | None = None, stdout: bool = False, make_dirs: bool = True
) -> None:
    """Exit 2 now, before any simulation, if `path` cannot be written: a directory, under a file, not writable,
    or (with `suffixes`) a format the writer does not know. `-` is standard output where `stdout` allows it;
    missing directories are made when the file is written, unless `make_dirs` is false."""
    if path is None:
        return
    if path == STDOUT:
        if stdout:
            return
        raise fail(f"{option} -: this output cannot go to standard output; give a file")
    if suffixes is not None and path.suffix not in suffixes:
        raise fail(f"{option} {path}: use one of {', '.join(sorted(suffixes))} (the format follows the suffix)")
    if path.is_dir():
        raise fail(f"{option} {path}: is a directory; give a file name")
    ancestor = path.parent
    if not make_dirs and not ancestor.is_dir():
        raise fail(f"{option}: no directory {ancestor}")
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise fail(f"{option} {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise fail(f"{option} {path}: permission denied")


def check_figure(path: Path | None, option: str) -> None:
    """check_output for a figure: its suffix must name a format matplotlib writes (.png, .svg, .pdf, ...)."""
    if path is None:
        return
    from matplotlib.backend_bases import FigureCanvasBase

    check_output(path, option, {f".{name}" for name in FigureCanvasBase.get_supported_filetypes()})


def write_json_atomically(path: Path, document: dict) -> None:
    """Write JSON next to its destination, then rename; `-` writes to standard output.

    NaN and infinities are refused (allow_nan=False): they are not JSON, and no input may produce them.
    """
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    if path == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomically(path, lambda stream: stream.write(text))


def write_atomically(path: Path, write: Callable[[TextIO], None], binary: bool = False) -> None:
    """Call write(stream) on a temporary file beside `path`, then rename it into place.

    Whatever stops the write (an error, Ctrl-C, SIGTERM through main()) removes the temporary file.
    An existing path that is not a regular file (/dev/null, a FIFO) is written in place, never replaced.
    """
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        with open(path, "wb" if binary else "w") as stream:
            write(stream)
        return
    path = path.resolve() if path.is_symlink() else path  # replace the file a link points to, not the link
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
    """Save a matplotlib figure in the format its suffix names (see plot_formats)."""
    kind = path.suffix.lstrip(".") or "png"
    write_atomically(path, lambda stream: figure.savefig(stream, format=kind), binary=True)
