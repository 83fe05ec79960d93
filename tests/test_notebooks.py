"""Every training notebook runs top to bottom without an error (notebooks/*.ipynb, one test each)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 300  # seconds per cell
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


class CurrentInterpreterKernelManager(AsyncKernelManager):
    """A kernel manager whose `python3` is always ipykernel in the interpreter running the tests.

    With no kernelspec directories to search, jupyter_client falls back to the native kernel that
    ipykernel provides (argv: sys.executable -m ipykernel_launcher). So neither a missing kernelspec
    (a fresh venv) nor one installed elsewhere for another interpreter (~/.local/share/jupyter)
    changes which Python, and which simdeploy, the notebooks run with.
    """

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_runs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        kernel_manager_class=CurrentInterpreterKernelManager,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working directory
    )
    try:
        client.execute(env={**os.environ, "MPLBACKEND": "Agg"})
    except CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell raised\n{ANSI_ESCAPE.sub('', str(error))}", pytrace=False)


def test_notebooks_are_found() -> None:
    # A parametrization over nothing would pass silently.
    assert _notebooks(), f"no notebooks under {NOTEBOOKS}"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    with_outputs = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not with_outputs, f"{path.name}: clear the outputs of cells {with_outputs} before committing"
