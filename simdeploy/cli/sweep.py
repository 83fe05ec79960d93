"""`simdeploy sweep`: a scenario over a grid (or a sample) of settings and seeds."""

from __future__ import annotations

from pathlib import Path

import typer

from simdeploy.cli.app import app, console, errors, fail
from simdeploy.cli.files import check_figure, check_output, load, save_figure


@app.command("sweep")
def sweep_command(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    sets: list[str] = typer.Option(..., "--set", help="PATH=V1,V2,... (repeat for a grid)."),
    seeds: int = typer.Option(1, help="Runs per setting, each with its own seed."),
    sample: int | None = typer.Option(None, help="Draw this many random points instead of the whole grid."),
    out: Path | None = typer.Option(None, help="Rows, one per run: .csv or .parquet."),
    plot: Path | None = typer.Option(None, help="Heatmap (2 parameters) or Pareto scatter: .png, .svg, .pdf."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: all cores)."),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address, e.g. tcp://host:8786."),
    resume: bool = typer.Option(
        False, help="Keep the rows already in --out (only from this same sweep) and run only what is missing."
    ),
    sweep_seed: int = typer.Option(0, help="Seed from which every run's seed derives."),
) -> None:
    """Run a scenario over a grid of settings and seeds; print the settings that meet every expectation."""
    from rich.progress import MofNCompleteColumn, Progress

    from simdeploy.scenario.errors import ScenarioError
    from simdeploy.sweep import SweepError, parse_set, sweep
    from simdeploy.sweep.tables import print_sweep

    check_output(out, "--out", {".csv", ".parquet"})
    check_figure(plot, "--plot")
    load(scenario)
    try:
        parameters = [parse_set(text) for text in sets]
        with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=errors, transient=True) as bar:
            task = bar.add_task("simulating", total=None)
            result = sweep(
                scenario,
                parameters,
                seeds=seeds,
                sample=sample,
                out=out,
                workers=workers,
                scheduler=scheduler,
                resume=resume,
                sweep_seed=sweep_seed,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (SweepError, ScenarioError) as error:
        raise fail(str(error)) from None
    print_sweep(result, console)
    if out is not None:
        console.print(f"rows written to {out}", highlight=False, markup=False)
    if plot is not None:
        from simdeploy.sweep.plot import sweep_figure

        figure = sweep_figure(result.table, result.settings)
        save_figure(figure, plot)
        console.print(f"plot written to {plot}", highlight=False, markup=False)
