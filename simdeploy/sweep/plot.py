"""Sweep pictures: a heatmap for a two-parameter grid, a Pareto scatter otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from simdeploy.sweep.analysis import pareto_front, recommend


def sweep_figure(table: pd.DataFrame, settings: list[str]) -> Figure:
    """A heatmap when exactly two settings vary, else a Pareto scatter. Drawn without pyplot (any backend)."""
    varying = [s for s in settings if s in table and table[s].nunique() > 1]
    if len(varying) == 2 and len(table):
        return heatmap(table, varying)
    return pareto_scatter(table, varying or settings)


def _subplots(width: float, height: float):
    figure = Figure(figsize=(width, height), dpi=110)
    return figure, figure.add_subplot()


def _short(path: str) -> str:
    """deployment/web:spec.strategy.rollingUpdate.maxSurge -> maxSurge."""
    return path.rsplit(":", 1)[-1].rsplit(".", 1)[-1].strip('"[]')


def _ordered(values) -> list:
    def key(value):
        text = str(value)
        number = text[:-1] if text.endswith("%") else text
        try:
            return (0, float(number), text)
        except ValueError:
            return (1, 0.0, text)

    return sorted(set(values), key=key)


def heatmap(table: pd.DataFrame, settings: list[str]) -> Figure:
    """Rollout time per cell, annotated with peak pods; cells that miss an expectation are hatched."""
    x_name, y_name = settings
    xs, ys = _ordered(table[x_name]), _ordered(table[y_name])
    duration = np.full((len(ys), len(xs)), np.nan)
    labels = [["rejected" for _ in xs] for _ in ys]
    failing = np.zeros((len(ys), len(xs)), dtype=bool)
    for _, row in table.iterrows():
        i, j = ys.index(row[y_name]), xs.index(row[x_name])
        duration[i, j] = row["rollout_duration_s_mean"]
        meets = row["meets_expectations"]
        failing[i, j] = meets < 1.0
        shown = (
            "never completes" if np.isnan(row["rollout_duration_s_mean"]) else f"{row['rollout_duration_s_mean']:.0f}s"
        )
        labels[i][j] = f"{shown}\n{row['peak_pods_mean']:.0f} pods" + ("\nmisses expectation" if meets < 1.0 else "")
    figure, axes = _subplots(1.3 * len(xs) + 3, 0.9 * len(ys) + 2.2)
    image = axes.imshow(np.ma.masked_invalid(duration), cmap="viridis_r", aspect="auto", origin="lower")
    for i in range(len(ys)):
        for j in range(len(xs)):
            colour = "white" if not np.isnan(duration[i, j]) and duration[i, j] > np.nanmean(duration) else "black"
            axes.text(j, i, labels[i][j], ha="center", va="center", fontsize=8, color=colour)
            if failing[i, j]:
                axes.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="red", lw=0))
    for _, row in recommend(table).iterrows():  # frame every setting that meets every expectation
        i, j = ys.index(row[y_name]), xs.index(row[x_name])
        axes.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor="white", lw=3))
        axes.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor="black", lw=1.2, ls="--"))
    axes.set_xticks(range(len(xs)), [str(x) for x in xs])
    axes.set_yticks(range(len(ys)), [str(y) for y in ys])
    axes.set_xlabel(_short(x_name))
    axes.set_ylabel(_short(y_name))
    axes.set_title(
        "mean rollout time and peak pods per setting\nhatched: misses an expectation; framed: meets every expectation"
    )
    figure.colorbar(image, ax=axes, label="rollout time (s)")
    figure.tight_layout()
    return figure


def pareto_scatter(table: pd.DataFrame, settings: list[str]) -> Figure:
    """Rollout time against peak pods, one dot per setting; colour shows errors, the front is outlined."""
    figure, axes = _subplots(9, 6)
    if table.empty:
        axes.text(0.5, 0.5, "no completed runs", ha="center", transform=axes.transAxes)
        return figure
    points = axes.scatter(
        table["peak_pods_mean"],
        table["rollout_duration_s_mean"],
        c=table["errors_total_mean"],
        cmap="magma_r",
        s=60,
        edgecolors="grey",
    )
    front = pareto_front(table)
    axes.scatter(
        front["peak_pods_mean"],
        front["rollout_duration_s_mean"],
        s=160,
        facecolors="none",
        edgecolors="tab:green",
        linewidths=2,
        label="Pareto front (among settings\nthat meet every expectation)",
    )
    for _, row in front.iterrows():
        text = ", ".join(f"{_short(s)}={row[s]}" for s in settings)
        axes.annotate(
            text,
            (row["peak_pods_mean"], row["rollout_duration_s_mean"]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
        )
    axes.set_xlabel("peak pods (mean over seeds)")
    axes.set_ylabel("rollout time, s (mean over seeds)")
    axes.set_title("each setting: cost against speed; colour = failed requests")
    figure.colorbar(points, ax=axes, label="failed requests (mean)")
    axes.legend(loc="upper right")
    figure.tight_layout()
    return figure
