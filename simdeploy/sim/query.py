"""PromQL on a Simulation's scraped metrics, answered as pandas DataFrames (the Python API's query and query_range)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from simdeploy.k8s.duration import parse_duration
from simdeploy.sim.metrics.promql import instant_query, parse, range_query

if TYPE_CHECKING:
    from simdeploy.sim.metrics.tsdb import SeriesStore
    from simdeploy.sim.simulation import Simulation

Moment = float | int | str  # simulated seconds, or a Go duration since the start such as "5m"
_LATE = 1e-9  # float noise allowed past `now`


def query(simulation: Simulation, expr: str, at: Moment | None = None) -> pd.DataFrame:
    """Evaluate PromQL at one simulated moment (default: now), as `simdeploy query --at` does.

    One row per series, sorted by labels: a column per label (an absent label is ""), then `value`.
    A scalar answer is one row with `value` only; an empty vector, no rows. Raises PromQLError for a
    query that cannot be parsed or evaluated, ValueError for a moment the simulation has not reached.
    """
    store = _metrics(simulation)
    parse(expr)  # a syntax error before any other complaint
    moment = _moment(simulation, at, "at")
    answer = instant_query(store, expr, moment)
    if isinstance(answer, float):
        return pd.DataFrame({"value": [answer]})
    return _frame([(sample.labels, {"value": sample.value}) for sample in answer], ["value"])


def query_range(
    simulation: Simulation, expr: str, start: Moment = 0.0, end: Moment | None = None, step: Moment = 15.0
) -> pd.DataFrame:
    """Evaluate PromQL at start, start + step, ... up to end (default: now), as Prometheus's query_range does.

    One row per series and step, sorted by series then time: a column per label (an absent label is ""),
    `t` (simulated seconds) and `value`; steps where a series has no value have no row. Plot a
    one-series answer with `ax.plot(frame["t"], frame["value"])`, several with `frame.groupby(label)`.
    """
    store = _metrics(simulation)
    parse(expr)
    first, last = _moment(simulation, start, "start"), _moment(simulation, end, "end")
    try:
        resolution = parse_duration(step)
    except ValueError as error:
        raise ValueError(f"step: {error}") from None
    rows = [
        (series.labels, {"t": t, "value": value})
        for series in range_query(store, expr, first, last, resolution)
        for t, value in series.points
    ]
    return _frame(rows, ["t", "value"])


def _metrics(simulation: Simulation) -> SeriesStore:
    store = getattr(simulation, "metrics", None)
    if store is None:
        raise ValueError("this Simulation records no metrics (it was built with record_metrics=False)")
    return store


def _moment(simulation: Simulation, value: Moment | None, name: str) -> float:
    """Seconds since the start; not later than now, where the scraped series end."""
    if value is None:
        return simulation.now
    try:
        moment = parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if moment > simulation.now + _LATE:
        raise ValueError(
            f"{name}={moment:g}s is later than the simulation's current time ({simulation.now:g}s): "
            "run it further first (run_until or run)"
        )
    return moment


def _frame(rows: list[tuple[dict[str, str], dict[str, float]]], value_columns: list[str]) -> pd.DataFrame:
    labels = sorted({name for series_labels, _ in rows for name in series_labels})
    records = [{**{name: series_labels.get(name, "") for name in labels}, **values} for series_labels, values in rows]
    frame = pd.DataFrame.from_records(records, columns=[*labels, *value_columns])
    return frame.astype({column: float for column in value_columns})
