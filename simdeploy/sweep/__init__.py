"""Parameter sweeps: many simulations of one scenario over a grid of settings and seeds, and their reading."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simdeploy.sweep import analysis
from simdeploy.sweep.checks import shown
from simdeploy.sweep.dora import DoraError, DoraResult, dora
from simdeploy.sweep.executors import default_workers, run_dask, run_local
from simdeploy.sweep.identity import check_resume, sidecar_path, write_identity
from simdeploy.sweep.parameters import Parameter, SweepError, parse_set
from simdeploy.sweep.plan import Plan, make_plan
from simdeploy.sweep.runner import FIGURES, task_for
from simdeploy.sweep.storage import RowWriter, done_runs, drop_torn_row, finish, has_rows, journal_path

__all__ = ["DoraError", "DoraResult", "Parameter", "SweepError", "SweepResult", "dora", "parse_set", "sweep"]


@dataclass
class SweepResult:
    """Rows (one per run), the aggregate per setting, the recommendation, the Pareto front among the
    settings that meet every expectation (empty when none does), and the failing settings with what each
    missed (`missed`: "availability 99.2% < 99.9% in 14/20 seeds").
    """

    plan: Plan
    rows: pd.DataFrame
    table: pd.DataFrame
    pareto: pd.DataFrame
    recommended: pd.DataFrame
    failing: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def settings(self) -> list[str]:
        return [p.path for p in self.plan.parameters]


def sweep(
    scenario: str | Path | dict,
    sets: dict[str, list] | list[str] | list[Parameter],
    seeds: int = 1,
    sample: int | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    sweep_seed: int = 0,
    base_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run a sweep and read it. `sets` maps paths to values, or holds `PATH=V1,V2` strings.

    Raises SweepError (or ScenarioError) before running anything when a parameter is wrong, when the API
    server would reject every setting, or when `resume` would add rows to another sweep's.
    """
    parameters = _parameters(sets)
    plan = make_plan(scenario, parameters, seeds, sample, sweep_seed, base_dir)
    if not plan.runs:
        raise SweepError(_all_rejected(plan))
    if out is None:
        with tempfile.TemporaryDirectory(prefix="simdeploy-sweep-") as directory:
            return _run(plan, Path(directory) / "rows.csv", workers, scheduler, resume, progress)
    return _run(plan, Path(out), workers, scheduler, resume, progress)


def _run(plan: Plan, out_path: Path, workers, scheduler, resume: bool, progress) -> SweepResult:
    parameters = plan.parameters
    if resume:
        check_resume(out_path, plan.identity, has_rows(out_path))  # first: a refused file stays as it was
        drop_torn_row(journal_path(out_path))
    if not resume or not has_rows(out_path):
        for stale in (out_path, journal_path(out_path), sidecar_path(out_path)):
            stale.unlink(missing_ok=True)
    write_identity(out_path, plan.identity)  # before the first row: an interrupted sweep can be resumed
    done = done_runs(out_path) if resume else set()
    settings = [p.path for p in parameters]
    columns = [*settings, "run", "replicate", "seed", "status", "rejected_because", *FIGURES]
    writer = RowWriter(journal_path(out_path), columns)
    try:
        for point in plan.points:
            key = f"{point.key}#rejected"
            if point.rejected is not None and key not in done:
                writer.write({**point.settings, "run": key, "status": "rejected", "rejected_because": point.rejected})
        todo = [run for run in plan.runs if run.key not in done]
        by_key = {run.key: run for run in todo}
        finished = 0

        def on_row(row: dict) -> None:
            nonlocal finished
            writer.write({**by_key[row["run"]].point.settings, **row})
            finished += 1
            if progress is not None:
                progress(finished, len(todo))

        tasks = [task_for(run, plan.base_dir) for run in todo]
        if scheduler:
            run_dask(tasks, scheduler, on_row)
        else:
            run_local(tasks, workers or default_workers(), on_row)
    finally:
        writer.close()
    rows = finish(out_path, settings)
    for column in ("seed", "replicate"):
        if column in rows:
            rows[column] = rows[column].astype("Int64")
    table = analysis.aggregate(rows, settings) if not rows.empty else pd.DataFrame()
    pareto = analysis.pareto_front(table) if not table.empty else table
    recommended = analysis.recommend(table) if not table.empty else table
    failing = analysis.failing(rows, table, settings)
    return SweepResult(plan, rows, table, pareto, recommended, failing)


def _all_rejected(plan: Plan) -> str:
    lines = [f"the API server would reject every setting ({len(plan.points)}), so nothing ran:"]
    for point in plan.points[:_LISTED]:
        described = ", ".join(f"{path}={shown(value)}" for path, value in point.settings.items())
        lines.append(f"  {described}: {point.rejected}")
    if len(plan.points) > _LISTED:
        lines.append(f"  ... and {len(plan.points) - _LISTED} more")
    return "\n".join(lines)


_LISTED = 10  # rejected settings named in the error; the reasons repeat after a few


def _parameters(sets) -> list[Parameter]:
    if isinstance(sets, dict):
        return [Parameter(path, tuple(values)) for path, values in sets.items()]
    return [item if isinstance(item, Parameter) else parse_set(item) for item in sets]
