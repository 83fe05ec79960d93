"""A sweep in the terminal: the recommended settings and the Pareto front, as tables."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from simdeploy.sweep import SweepResult
from simdeploy.sweep.plot import _short

_COLUMNS = (
    ("rollout_duration_s_mean", "rollout s (mean)", "{:.1f}"),
    ("rollout_duration_s_p95", "p95", "{:.1f}"),
    ("peak_pods_mean", "peak pods", "{:.1f}"),
    ("min_available_p5", "min avail (p5)", "{:.0f}"),
    ("errors_total_mean", "failed req", "{:,.0f}"),
    ("p99_latency_max_s_p95", "p99 s (p95)", "{:.3f}"),
)


def settings_table(title: str, frame: pd.DataFrame, settings: list[str], limit: int = 15) -> Table:
    table = Table(title=title, title_justify="left")
    for setting in settings:
        table.add_column(_short(setting))
    for _, label, _ in _COLUMNS:
        table.add_column(label, justify="right")
    for row in frame.head(limit).to_dict("records"):  # records keep each column's own type (ints stay ints)
        cells = [str(row[s]) for s in settings]
        cells += [_format(row.get(column), pattern) for column, _, pattern in _COLUMNS]
        table.add_row(*cells)
    return table


def _format(value, pattern: str) -> str:
    return "-" if value is None or pd.isna(value) else pattern.format(value)


def print_sweep(result: SweepResult, console: Console) -> None:
    rows = result.rows
    ran = int((rows["status"] == "ok").sum()) if not rows.empty else 0
    rejected = int((rows["status"] == "rejected").sum()) if not rows.empty else 0
    console.print(f"{ran} runs over {len(result.plan.points)} settings; {rejected} settings rejected by the API server")
    if rejected:
        for row in rows[rows["status"] == "rejected"].to_dict("records"):
            described = ", ".join(f"{_short(s)}={row[s]}" for s in result.settings)
            console.print(f"  rejected: {described}: {row['rejected_because']}", highlight=False, soft_wrap=True)
    if result.recommended.empty:
        console.print("[bold red]no setting met every expectation in every run[/bold red]")
    else:
        title = "settings that meet every expectation, fastest first"
        console.print(settings_table(title, result.recommended, result.settings))
    if not result.pareto.empty:
        console.print(
            settings_table("Pareto front: rollout time vs peak pods vs failed requests", result.pareto, result.settings)
        )
