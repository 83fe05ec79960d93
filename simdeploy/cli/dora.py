"""`simdeploy dora`: a Monte Carlo stream of deploys through the environments, DORA's figures per strategy."""

from __future__ import annotations

from pathlib import Path

import typer

from simdeploy.cli.app import app, console, errors, fail
from simdeploy.cli.files import STDOUT, check_figure, check_output, load, save_figure, write_json_atomically


@app.command("dora")
def dora_command(
    scenario: Path = typer.Argument(..., help="Scenario file with environments and a dora section (YAML)."),
    deploys: int = typer.Option(1000, help="Changes to stream through the environments."),
    bad_rate: float = typer.Option(0.15, help="Probability that a change is bad, from 0 to 1."),
    strategies: list[str] | None = typer.Option(
        None, "--strategy", help="A strategy of the dora section (repeat, or a comma list; default: all)."
    ),
    seed: int | None = typer.Option(None, min=-(2**63), max=2**63 - 1, help="Override the scenario's seed."),
    samples: int | None = typer.Option(None, help="Rehearsals per cell (default: from --deploys, 3 to 30)."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the figures here (- for standard output)."),
    plot: Path | None = typer.Option(None, help="Recovery-time CDF per strategy: .png, .svg, .pdf."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: all cores)."),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address, e.g. tcp://host:8786."),
) -> None:
    """Stream changes through the environments, some bad; print DORA's four keys per strategy, against DORA 2024."""
    from rich.progress import MofNCompleteColumn, Progress

    from simdeploy.scenario.errors import ScenarioError
    from simdeploy.sweep.dora import DoraError, make_plan, rehearse, stream
    from simdeploy.sweep.dora_table import print_dora

    check_output(json_path, "--json", stdout=True)
    check_figure(plot, "--plot")
    if workers is not None and workers < 1:
        raise fail(f"--workers {workers}: give at least 1")
    chosen = [name.strip() for option in strategies or [] for name in option.split(",") if name.strip()]
    loaded = load(scenario)
    try:
        plan = make_plan(loaded, deploys, bad_rate, chosen or None, seed, samples)
    except DoraError as error:
        raise fail(str(error)) from None
    except ScenarioError as error:
        raise fail(f"{scenario}: invalid scenario\n" + "\n".join(f"  {p}" for p in error.problems)) from None
    try:
        with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=errors, transient=True) as bar:
            task = bar.add_task("rehearsing", total=len(plan.tasks))
            progress = lambda done, total: bar.update(task, completed=done, total=total)  # noqa: E731
            library = rehearse(plan, workers, scheduler, progress)
    except (OSError, TimeoutError) as error:
        if scheduler is None:
            raise
        raise fail(f"--scheduler {scheduler}: could not run on the Dask cluster ({error})") from None
    result = stream(plan, library)
    out = errors if json_path == STDOUT else console  # `--json -`: the document alone on standard output
    print_dora(result, out)
    if json_path is not None:
        write_json_atomically(json_path, result.document())
        if json_path != STDOUT:
            out.print(f"figures written to {json_path}", highlight=False, markup=False)
    if plot is not None:
        from simdeploy.sweep.dora_plot import dora_figure

        save_figure(dora_figure(result), plot)
        out.print(f"plot written to {plot}", highlight=False, markup=False)
