"""Reading a sweep: figures per setting over seeds, the Pareto front, the recommendation, what failing settings miss."""

from __future__ import annotations

import json

import pandas as pd

# Figures summarised per setting, and whether less is better for the Pareto front.
AGGREGATED = ("rollout_duration_s", "peak_pods", "min_available", "errors_total", "availability", "p99_latency_max_s")
PARETO = (("rollout_duration_s", True), ("peak_pods", True), ("errors_total", True))

# The wording the terminal and the Python API share.
PARETO_TITLE = "Pareto front among settings that meet every expectation"
NO_PARETO = "no setting met every expectation in every run, so there is no Pareto front among them"
FAILING_TITLE = "settings that miss an expectation"


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
    """Among the settings that meet every expectation, those no other beats on all of rollout time, peak pods
    and errors (means). Empty when none meets every expectation: a setting that breaks the SLO is no choice.
    """
    columns = [f"{name}_mean" for name, _ in PARETO]
    candidates = recommend(table).dropna(subset=columns)
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


def failing(rows: pd.DataFrame, table: pd.DataFrame, settings: list[str]) -> pd.DataFrame:
    """Settings that ran but are not recommended, closest to passing first, with what they missed.

    `missed` reads like "availability 99.2% < 99.9% in 14/20 seeds": each expectation missed in some run,
    its worst measure, the promise, and in how many runs (one seed each) it was missed.
    """
    columns = [*settings, "runs", "meets_expectations", "missed"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    good = recommend(table)
    bad = table.drop(index=good.index)
    ok = rows[rows["status"] == "ok"]
    runs_of = {_key(key): group for key, group in ok.groupby(settings, sort=False, dropna=False)}
    result = bad[[*settings, "runs", "meets_expectations"]].copy()
    result["missed"] = [
        "; ".join(_missed(runs_of[_key(tuple(row[s] for s in settings))], int(row["incomplete_rollouts"])))
        for _, row in bad.iterrows()
    ]
    order = bad.sort_values(["meets_expectations", "rollout_duration_s_mean"], ascending=[False, True]).index
    return result.loc[order, columns].reset_index(drop=True)


def _key(key: object) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _missed(runs: pd.DataFrame, incomplete: int) -> list[str]:
    """One phrase per expectation missed in any of the setting's runs, in the scenario's order."""
    total = len(runs)
    by_name: dict[str, list[dict]] = {}
    for cell in runs.get("expectations_missed", pd.Series(dtype=object)):
        for verdict in _verdicts(cell):
            by_name.setdefault(verdict["name"], []).append(verdict)
    phrases = [_phrase(name, verdicts, total) for name, verdicts in by_name.items()]
    if incomplete and "rolloutCompletesWithin" not in by_name:
        phrases.append(f"rollout did not complete in {incomplete}/{total} seeds")
    if not phrases:  # rows without the details (written by hand, or by an older simdeploy)
        failed = total - int(runs["meets_expectations"].astype(str).str.lower().isin(["true", "1"]).sum())
        phrases.append(f"an expectation missed in {failed}/{total} seeds")
    return phrases


def _verdicts(cell: object) -> list[dict]:
    if not isinstance(cell, str) or not cell:
        return []
    try:
        verdicts = json.loads(cell)
    except ValueError:
        return []
    return [v for v in verdicts if isinstance(v, dict) and "name" in v] if isinstance(verdicts, list) else []


def _phrase(name: str, verdicts: list[dict], total: int) -> str:
    expected = str(verdicts[0].get("expected", ""))
    count = f"in {len(verdicts)}/{total} seeds"
    comparison, _, threshold = expected.partition(" ")
    measured = [v for v in verdicts if isinstance(v.get("measured"), int | float)]
    if comparison in (">=", "<=") and len(measured) == len(verdicts):
        # The worst run: lowest under a floor, highest over a ceiling.
        pick = min if comparison == ">=" else max
        worst = pick(measured, key=lambda v: v["measured"])
        missed_by = "<" if comparison == ">=" else ">"
        return f"{name} {worst['shown']} {missed_by} {threshold} {count}"
    unmeasured = [v for v in verdicts if v not in measured] or verdicts
    return f"{name}: {unmeasured[0].get('shown')} (expected {expected}) {count}"
