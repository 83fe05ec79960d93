"""A sweep in the terminal: rejected settings, the recommendation, the Pareto front and the failing settings."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from simdeploy.sweep import SweepResult
from simdeploy.sweep.analysis import FAILING_TITLE, NO_PARETO, PARETO_TITLE
from simdeploy.sweep.plot import _short

_COLUMNS = (
    ("rollout_duration_s_mean", "rollout s (mean)", "{:.1f}"),
    ("rollout_duration_s_p95", "p95", "{:.1f}"),
    ("peak_pods_mean", "peak pods", "{:.1f}"),
    ("min_available_p5", "min avail (p5)", "{:.0f}"),
    ("errors_total_mean", "failed req", "{:,.0f}"),
    ("p99_latency_max_s_p95", "p99 s (p95)", "{:.3f}"),
)
_LIMIT = 15  # rows per table; the rest are in the rows file and the Python result


def settings_table(title: str, frame: pd.DataFrame, settings: list[str], limit: int = _LIMIT) -> Table:
    table = Table(title=_more(title, frame, limit), title_justify="left")
    for setting in settings:
        table.add_column(_short(setting))
    for _, label, _ in _COLUMNS:
        table.add_column(label, justify="right")
    for row in frame.head(limit).to_dict("records"):  # records keep each column's own type (ints stay ints)
        cells = [Text(str(row[s])) for s in settings]
        cells += [_format(row.get(column), pattern) for column, _, pattern in _COLUMNS]
        table.add_row(*cells)
    return table


def failing_table(frame: pd.DataFrame, settings: list[str], limit: int = _LIMIT) -> Table:
    """Each failing setting, the share of its runs that met every expectation, and what the others missed."""
    table = Table(title=_more(FAILING_TITLE, frame, limit), title_justify="left")
    for setting in settings:
        table.add_column(_short(setting))
    table.add_column("runs ok", justify="right")
    table.add_column("missed (worst run; runs that missed)")
    for row in frame.head(limit).to_dict("records"):
        passed = round(row["meets_expectations"] * row["runs"])
        table.add_row(*[Text(str(row[s])) for s in settings], f"{passed}/{row['runs']}", Text(row["missed"]))
    return table


def _more(title: str, frame: pd.DataFrame, limit: int) -> str:
    return f"{title} (first {limit} of {len(frame)})" if len(frame) > limit else title


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
            console.print(
                f"  rejected: {described}: {row['rejected_because']}", highlight=False, markup=False, soft_wrap=True
            )
    if result.recommended.empty or result.pareto.empty:
        console.print(f"[bold red]{NO_PARETO}[/bold red]")
    else:
        title = "settings that meet every expectation, fastest first"
        console.print(settings_table(title, result.recommended, result.settings))
        title = f"{PARETO_TITLE}: rollout time vs peak pods vs failed requests"
        console.print(settings_table(title, result.pareto, result.settings))
    if not result.failing.empty:
        console.print(failing_table(result.failing, result.settings))
