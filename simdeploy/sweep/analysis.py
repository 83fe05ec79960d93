"""Reading a sweep: figures per setting over seeds, the Pareto front, and the recommended settings."""

from __future__ import annotations

import pandas as pd

# Figures summarised per setting, and whether less is better for the Pareto front.
AGGREGATED = ("rollout_duration_s", "peak_pods", "min_available", "errors_total", "availability", "p99_latency_max_s")
PARETO = (("rollout_duration_s", True), ("peak_pods", True), ("errors_total", True))


def aggregate(rows: pd.DataFrame, settings: list[str]) -> pd.DataFrame:
    """Per setting: runs, share meeting expectations, and mean / p5 / p50 / p95 of each figure."""
    ok = rows[rows["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame(columns=[*settings, "runs"])
    for column in AGGREGATED:
        ok[column] = pd.to_numeric(ok[column], errors="coerce")
    ok["meets_expectations"] = ok["meets_expectations"].astype(str).str.lower().isin(["true", "1"])
    grouped = ok.groupby(settings, sort=False, dropna=False)
    table = grouped.size().rename("runs").to_frame()
    table["meets_expectations"] = grouped["meets_expectations"].mean()
    table["incomplete_rollouts"] = grouped["rollout_duration_s"].apply(lambda s: int(s.isna().sum()))
    for column in AGGREGATED:
        values = grouped[column]
        table[f"{column}_mean"] = values.mean()
        for q in (5, 50, 95):
            table[f"{column}_p{q}"] = values.quantile(q / 100)
    return table.reset_index()


def pareto_front(table: pd.DataFrame) -> pd.DataFrame:
    """Settings no other setting beats on every one of rollout time, peak pods and errors (means).

    Among the settings that meet every expectation when any do: a setting that breaks the SLO
    must not push a good one off the front.
    """
    columns = [f"{name}_mean" for name, _ in PARETO]
    good = recommend(table)
    candidates = (good if not good.empty else table).dropna(subset=columns)
    keep = []
    for index, row in candidates.iterrows():
        dominated = (
            (candidates[columns] <= row[columns]).all(axis=1) & (candidates[columns] < row[columns]).any(axis=1)
        ).any()
        if not dominated:
            keep.append(index)
    return candidates.loc[keep].sort_values(columns)


def recommend(table: pd.DataFrame) -> pd.DataFrame:
    """Settings whose every run met every expectation and completed, fastest first, then cheapest."""
    good = table[(table["meets_expectations"] == 1.0) & (table["incomplete_rollouts"] == 0)]
    return good.sort_values(["rollout_duration_s_mean", "peak_pods_mean"])
