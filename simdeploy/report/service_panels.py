"""The timeline figure's panel per Service of a service graph: requests and failures per second, p99 per version."""

from __future__ import annotations

import math
from collections import defaultdict

from matplotlib.ticker import FuncFormatter, MaxNLocator

from simdeploy.sim.result import Result

FAILED_COLOUR = "#d62728"
REQUESTS_COLOUR = "#333333"
PANEL_HEIGHT_IN = 1.6


def service_names(result: Result) -> list[str]:
    """The graph's Services, callers first (the order of the summary), or none without a graph."""
    return list(result["summary"].get("services") or {})


def service_panel(ax, result: Result, name: str, colours: dict[str, str]) -> None:
    """Requests/s and failed/s (left axis) and each version's p99 (right axis, ms) of one Service."""
    rows = [row for row in result["traffic"] if row["service"] == name]
    times = sorted({row["t"] for row in rows})
    step = min((b - a for a, b in zip(times, times[1:], strict=False)), default=15.0)
    sent: dict[float, float] = defaultdict(float)
    failed: dict[float, float] = defaultdict(float)
    p99: dict[str, dict[float, float]] = defaultdict(dict)
    for row in rows:
        sent[row["t"]] += row["requests"] / step
        failed[row["t"]] += row["errors"] / step
        if row["p99_s"] is not None and row["version"] != "none":
            p99[row["version"]][row["t"]] = 1000 * row["p99_s"]
    edges = [times[0] - step, *times] if times else []
    (requests,) = ax.step(edges, _values(sent, times), where="pre", color=REQUESTS_COLOUR, linewidth=1.4)
    requests.set_label("requests/s")
    failures = ax.fill_between(edges, _values(failed, times), step="pre", color=FAILED_COLOUR, alpha=0.45, lw=0)
    failures.set_label("failed/s")
    ax.set_ylim(0, max([*sent.values(), 1.0]) * 1.25)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    latency = ax.twinx()
    lines, highest = [], 1.0
    for version, values in sorted(p99.items()):
        colour = colours.get(version, "#1f77b4")
        (line,) = latency.step(edges, _values(values, times), where="pre", color=colour, lw=1.2, ls=(0, (4, 2)))
        line.set_label(f"p99 {version}")
        lines.append(line)
        highest = max(highest, *values.values())
    latency.set_ylim(0, highest * 1.25)
    latency.yaxis.set_major_locator(MaxNLocator(nbins=4))
    latency.tick_params(labelsize=8.5, colors="#555")
    latency.set_ylabel("p99 ms", fontsize=9, color="#555")
    latency.spines[["top"]].set_visible(False)
    if lines:
        latency.legend(handles=lines, loc="upper left", bbox_to_anchor=(1.06, 0.5), fontsize=8, frameon=False)
    figures = (result["summary"].get("services") or {}).get(name) or {}
    who = (
        "users and callers"
        if figures.get("user_requests") and _called(result, name)
        else ("users" if figures.get("user_requests") else "called by " + ", ".join(_callers(result, name)))
    )
    ax.grid(True, color="#e6e6e6", linewidth=0.7)
    ax.set_axisbelow(True)
    ax.spines[["top"]].set_visible(False)
    ax.tick_params(labelsize=8.5)
    ax.set_title(f"Service {name}  ({who})", loc="left", fontsize=10, fontweight="bold")
    ax.set_ylabel("per second", fontsize=9)
    ax.legend(handles=[requests, failures], loc="upper left", bbox_to_anchor=(1.06, 1), fontsize=8, frameon=False)


def _values(values: dict[float, float], times: list[float]) -> list[float]:
    ys = [values.get(t, math.nan) for t in times]
    return [ys[0], *ys] if ys else []


def _callers(result: Result, name: str) -> list[str]:
    return [edge["caller"] for edge in result["summary"].get("edges") or [] if edge["callee"] == name]


def _called(result: Result, name: str) -> bool:
    return bool(_callers(result, name))
