"""The training notebooks (notebooks/*.ipynb): they run top to bottom, show every figure, use the public API only."""

from __future__ import annotations

import ast
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

import simdeploy
import simdeploy.sweep

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 300  # seconds per cell
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks
# The backend a Jupyter kernel uses unless told otherwise (ipykernel sets it): it renders each figure to a
# PNG output with Agg, headless. With it the outputs are those a learner sees; with plain Agg none are.
JUPYTER_BACKEND = "module://matplotlib_inline.backend_inline"
FIGURE_TAG = "figure"
PYPLOT_DRAWING = {"figure", "hist", "imshow", "plot", "scatter", "show", "subplot", "subplot_mosaic", "subplots"}
# Besides the names in simdeploy.__all__, notebooks may import the sweep subpackage's public names.
PUBLIC_MODULES = {"simdeploy": set(simdeploy.__all__), "simdeploy.sweep": set(simdeploy.sweep.__all__)}


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


def _code_cells(path: Path) -> list[tuple[int, nbformat.NotebookNode]]:
    notebook = nbformat.read(path, as_version=4)
    return [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]


def _python(source: str) -> str:
    """A cell's source as plain Python: IPython magics (%matplotlib inline) become calls."""
    return TransformerManager().transform_cell(source)


def _draws(cell: nbformat.NotebookNode) -> bool:
    """Whether running the cell draws: a pyplot figure or plot call (plt.subplots, plt.show...), a Figure or a
    *_figure() built (simdeploy.sweep_figure), or a fig handed to display(). Calls inside function and class
    bodies do not count: a cell that only defines a plotting helper draws nothing."""
    return any(_is_drawing(call) for call in _calls_run(ast.parse(_python(cell.source))))


def _calls_run(node: ast.AST) -> Iterator[ast.Call]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from _calls_run(child)


def _is_drawing(call: ast.Call) -> bool:
    function = call.func
    if isinstance(function, ast.Attribute):
        name, owner = function.attr, function.value.id if isinstance(function.value, ast.Name) else None
    else:
        name, owner = getattr(function, "id", ""), None
    if owner == "plt" and name in PYPLOT_DRAWING:
        return True
    if name == "Figure" or name.endswith("_figure"):
        return True
    first = call.args[0] if call.args else None
    return name == "display" and isinstance(first, ast.Name) and first.id.startswith("fig")


def _tagged(cell: nbformat.NotebookNode) -> bool:
    return FIGURE_TAG in cell.metadata.get("tags", [])


@functools.cache
def _executed(path: Path) -> tuple[nbformat.NotebookNode, str | None]:
    """The notebook executed as Jupyter would (once per session), and the error that stopped it, if any."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        kernel_manager_class=CurrentInterpreterKernelManager,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working directory
    )
    try:
        client.execute(env={**os.environ, "MPLBACKEND": JUPYTER_BACKEND})
    except CellExecutionError as error:
        return notebook, f"{path.name}: a cell raised\n{ANSI_ESCAPE.sub('', str(error))}"
    return notebook, None


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_runs(path: Path) -> None:
    _, error = _executed(path)
    if error:
        pytest.fail(error, pytrace=False)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_every_figure_is_shown(path: Path) -> None:
    notebook, error = _executed(path)
    if error:
        pytest.fail(f"{path.name} did not run to the end (see test_notebook_runs)", pytrace=False)
    no_image, untagged = [], []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        shown = any("image/png" in output.get("data", {}) for output in cell.outputs)
        if _tagged(cell) and not shown:
            no_image.append(index)
        if shown and not _tagged(cell):
            untagged.append(index)
    assert not no_image, f"{path.name}: cells {no_image} make a figure but show no image when executed"
    assert not untagged, f"{path.name}: cells {untagged} show an image: tag them {FIGURE_TAG!r}"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_cells_that_draw_are_tagged_figure(path: Path) -> None:
    # The tag is what test_every_figure_is_shown checks; this keeps any cell that draws from going without.
    cells = _code_cells(path)
    assert any(_draws(cell) for _, cell in cells), f"{path.name}: no cell draws (is PYPLOT_DRAWING out of date?)"
    untagged = [index for index, cell in cells if _draws(cell) and not _tagged(cell)]
    assert not untagged, f"{path.name}: cells {untagged} draw a figure: tag them {FIGURE_TAG!r}"


@pytest.mark.parametrize(
    ("source", "draws"),
    [
        ("fig, ax = plt.subplots(figsize=(9, 4))\nax.plot([1, 2])", True),
        ("plot_canary(sim, result)\nplt.show()", True),
        ("fig = simdeploy.sweep_figure(table, settings)\ndisplay(fig)", True),
        ("def plot_totals(ax):\n    fig, ax = plt.subplots()\n    plt.show()", False),  # only defines a helper
        ("%matplotlib inline\nimport matplotlib.pyplot as plt\n# plt.show()\ntext = 'plt.show()'", False),
        ("display(pd.DataFrame(rows))", False),
    ],
)
def test_cells_that_draw_are_recognised(source: str, draws: bool) -> None:
    assert _draws(nbformat.v4.new_code_cell(source)) is draws


def _private_uses(source: str) -> list[str]:
    """What a cell takes from simdeploy beyond its public names: `import simdeploy.x`, `from simdeploy.x import`,
    a name not in __all__, or `simdeploy.x` for x not public."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"import {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] == "simdeploy" and alias.name not in PUBLIC_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "simdeploy":
            public = PUBLIC_MODULES.get(node.module)
            found += [
                f"from {node.module} import {alias.name}"
                for alias in node.names
                if public is None or alias.name not in public
            ]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "simdeploy":
            if node.attr not in PUBLIC_MODULES["simdeploy"] and node.attr != "__version__":
                found.append(f"simdeploy.{node.attr}")
    return found


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_uses_the_public_api_only(path: Path) -> None:
    private = {index: uses for index, cell in _code_cells(path) if (uses := _private_uses(_python(cell.source)))}
    assert not private, f"{path.name}: not public API (simdeploy.__all__, simdeploy.sweep.__all__): {private}"


def test_private_uses_are_found() -> None:
    # The check above passes on notebooks that break the rule unless it sees each way of doing it.
    cell = (
        "import simdeploy\nimport simdeploy.sim.latency\nfrom simdeploy.sweep.plot import sweep_figure\n"
        "from simdeploy import query, stretch\nfrom simdeploy.sweep import sweep\nsimdeploy.sim.latency.stretch(0.5)\n"
    )
    assert _private_uses(cell) == [
        "import simdeploy.sim.latency",
        "from simdeploy.sweep.plot import sweep_figure",
        "from simdeploy import stretch",
        "simdeploy.sim",
    ]


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
