"""The timeline figure of a run: pods per ReplicaSet, traffic share, error ratio and p99 latency on one time axis
(and with a service graph, a panel per Service)."""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, MultipleLocator

from simdeploy.k8s.duration import parse_duration
from simdeploy.report.marks import ACTION, FIRING, KINDS, Marker, image_tag, markers, version_name
from simdeploy.report.service_panels import PANEL_HEIGHT_IN as SERVICE_PANEL_IN
from simdeploy.report.service_panels import service_names, service_panel
from simdeploy.sim.result import Result

WIDTH_IN, DPI = 12.0, 110
LEFT, RIGHT = 0.065, 0.855  # fixed margins: legends live in the right margin, never over the data
PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]  # no red, orange, grey
NO_ENDPOINT_COLOUR = "#9a9a9a"
NO_ENDPOINT = "none"  # the traffic model's version label for requests that found no endpoint
FAILING = 0.01  # an interval where this share of requests failed: its p99 says little (failures are fast)
LABEL_ROW_IN = 0.2  # height of one row of marker labels
MAX_LABEL_ROWS = 8  # beyond this many, labels may overlap (say, an alert flapping all run long)
TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
PANEL_HEIGHTS_IN = {"pods": 2.5, "share": 1.3, "errors": 1.7, "p99": 1.7}
NOT_SERVING_FOR = 1.0  # Ready pods not serving for longer than this (not the RS controller's lag) get their line

__all__ = ["Marker", "figure_png", "image_tag", "markers", "replica_sets", "save_timeline", "timeline_figure"]


@dataclass
class ReplicaSetLine:
    name: str
    owner: str  # the Deployment or Rollout
    revisions: list[int] = field(default_factory=list)
    rows: dict[float, tuple[int, int, int, int]] = field(default_factory=dict)  # t -> spec, ready, available, serving
    image: str | None = None


def clock_tick(seconds: float, hours: bool = False) -> str:
    """m:ss, or h:mm:ss for runs of an hour or more."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- reading the result document -----------------------------------------------------------------------


def replica_sets(result: Result) -> list[ReplicaSetLine]:
    """One line per ReplicaSet in order of creation, with its owner (Deployment or Rollout) and image."""
    known = {rs["name"]: rs for rs in result["replicasets"]}
    lines: dict[str, ReplicaSetLine] = {}
    for row in result["series"]:
        name = row["replicaset"]
        if name not in lines:
            rs = known.get(name)
            owner = (rs and rs["owner"]) or name.rsplit("-", 1)[0]
            lines[name] = ReplicaSetLine(name, owner, image=rs["image"] if rs else None)
        line = lines[name]
        if row["revision"] and row["revision"] not in line.revisions:
            line.revisions.append(row["revision"])
        line.rows[row["t"]] = (row["spec"], row["ready"], row["available"], row["serving"])
    return list(lines.values())


def traffic_by_version(result: Result) -> dict[str, dict[float, list]]:
    """version -> t -> [requests, errors, worst p99 over the services] from the per-interval traffic rows."""
    table: dict[str, dict[float, list]] = defaultdict(dict)
    for row in result["traffic"]:
        cell = table[row["version"]].setdefault(row["t"], [0.0, 0.0, None])
        cell[0] += row["requests"]
        cell[1] += row["errors"]
        if row["p99_s"] is not None:
            cell[2] = row["p99_s"] if cell[2] is None else max(cell[2], row["p99_s"])
    return dict(table)


def slo_limits(result: Result) -> dict[str, float]:
    """Lines the expectations draw: `error_ratio` (errorRatio, else 1 - availability) and `p99_s` (p99Latency)."""
    limits: dict[str, float] = {}
    for expectation in result["summary"].get("expectations") or []:
        name, expected = expectation["name"], expectation["expected"]
        number = re.search(r"(\d+(?:\.\d+)?)%", expected)
        if name == "errorRatio" and number:
            limits["error_ratio"] = float(number.group(1)) / 100
        elif name == "availability" and number and float(number.group(1)) < 100:
            limits.setdefault("error_ratio", 1 - float(number.group(1)) / 100)
        elif name == "p99Latency":
            try:
                limits["p99_s"] = parse_duration(expected.lstrip("<>= "))
            except ValueError:
                pass
    return limits


# -- drawing ---------------------------------------------------------------------------------------------


def timeline_figure(result: Result) -> Figure:
    """The run on one time axis, from the result document alone."""
    duration = float(result["duration_s"]) or 1.0
    lines, traffic = replica_sets(result), traffic_by_version(result)
    colours = _colours(lines, traffic, result)
    marks = markers(result)
    figure = Figure(figsize=(WIDTH_IN, 4), dpi=DPI)
    FigureCanvasAgg(figure)
    levels = _place_labels(figure, marks, duration)
    panels = ["pods", "share", "errors", "p99"] if traffic else ["pods"]
    services = service_names(result) if traffic else []  # with a service graph, a panel per Service
    panels += [f"service:{name}" for name in services]
    heights = [(max((lv for lv, _ in levels), default=-1) + 1) * LABEL_ROW_IN + 0.1]
    heights += [PANEL_HEIGHTS_IN.get(p, SERVICE_PANEL_IN) for p in panels]
    top_in, bottom_in, gap_in = 0.5, 0.55, 0.42
    total = top_in + bottom_in + sum(heights) + gap_in * len(panels)
    figure.set_size_inches(WIDTH_IN, total)
    figure.subplots_adjust(left=LEFT, right=RIGHT, top=1 - top_in / total, bottom=bottom_in / total)
    grid = figure.add_gridspec(len(heights), 1, height_ratios=heights, hspace=gap_in / (sum(heights) / len(heights)))
    labels_ax = figure.add_subplot(grid[0])
    axes = {panel: figure.add_subplot(grid[i + 1], sharex=labels_ax) for i, panel in enumerate(panels)}
    _pods_panel(axes["pods"], lines, colours, result, duration)
    if traffic:
        limits = slo_limits(result)
        _share_panel(axes["share"], traffic, colours)
        _errors_panel(axes["errors"], traffic, colours, limits.get("error_ratio"))
        _latency_panel(axes["p99"], traffic, colours, limits.get("p99_s"))
    for name in services:
        service_panel(axes[f"service:{name}"], result, name, colours)
    _draw_markers(labels_ax, list(axes.values()), marks, levels)
    hours = duration >= 3600
    step = next((s for s in TICK_STEPS if duration / s <= 12), TICK_STEPS[-1])
    bottom = axes[panels[-1]]
    for ax in axes.values():
        ax.xaxis.set_major_locator(MultipleLocator(step))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: clock_tick(x, hours)))
        ax.tick_params(labelbottom=ax is bottom)
    bottom.set_xlabel(f"simulated time ({'h:mm:ss' if hours else 'm:ss'})", fontsize=9)
    labels_ax.set_xlim(0, duration)
    title = f"{result['scenario']}  ·  seed {result['seed']}  ·  {clock_tick(duration, hours)} simulated"
    figure.text(LEFT, 1 - 0.18 / total, title, fontsize=12, fontweight="bold", va="top")
    return figure


def _colours(lines: list[ReplicaSetLine], traffic: dict, result: Result) -> dict[str, str]:
    """Colours by version, so a ReplicaSet and the traffic its version serves match; two of a version differ."""
    colours: dict[str, str] = {NO_ENDPOINT: NO_ENDPOINT_COLOUR}

    def next_colour() -> str:
        return PALETTE[(len(set(colours.values())) - 1) % len(PALETTE)]

    for line in lines:
        key = _version(line, result) or line.name
        colours[line.name] = next_colour() if key in colours else colours.setdefault(key, next_colour())
    for version in sorted(traffic):
        colours.setdefault(version, next_colour())
    return colours


def _version(line: ReplicaSetLine, result: Result) -> str | None:
    return None if line.image is None else version_name(result, line.image)


def _pods_panel(ax, lines: list[ReplicaSetLine], colours: dict, result: Result, duration: float) -> None:
    several = len({line.owner for line in lines}) > 1
    top, handles, lying = 1, [], False
    for i, line in enumerate(lines):
        times, spec, ready, available, serving = _steps(line.rows, duration)
        colour, width = colours[line.name], max(1.6, 2.6 - 0.5 * i)  # an older line shows around a newer one
        version = _version(line, result)
        label = f"rev {'→'.join(map(str, line.revisions)) or '?'}" + (f" ({_short(version)})" if version else "")
        ax.fill_between(times, available, step="post", color=colour, alpha=0.16, linewidth=0, gid="available")
        (drawn,) = ax.step(times, ready, where="post", color=colour, linewidth=width, gid="ready")
        drawn.set_label(f"{_short(line.owner)}\n{label}" if several else label)
        ax.step(times, spec, where="post", color=colour, linewidth=1, linestyle=(0, (2, 2)), gid="desired")
        if _not_serving_for(line.rows, duration) > NOT_SERVING_FOR:
            lying = True
            gap = [s if r != s else math.nan for r, s in zip(ready, serving, strict=True)]
            ax.step(times, gap, where="post", color=colour, linewidth=1.4, linestyle=(0, (1, 1)), gid="serving")
            ax.fill_between(times, serving, ready, step="post", facecolor="none", edgecolor=colour, hatch="xx",
                            linewidth=0, alpha=0.5, gid="serving")  # fmt: skip
        handles.append(drawn)
        top = max(top, *(v for v in spec + ready if not math.isnan(v)))
    if lines:
        handles += [_line("#444", "ready", 2), Patch(color="#444", alpha=0.2, label="available")]
        handles.append(_line("#444", "desired", 1, (0, (2, 2))))
    if lying:
        handles.append(_line("#444", "really serving", 1.4, (0, (1, 1))))
    headroom = max(1, round(top * 0.12))
    ax.set_ylim(-headroom * 0.25, top + headroom)  # lines at zero stay visible above the axis
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    _finish(ax, "Pods per ReplicaSet", "pods", handles)


def _not_serving_for(rows: dict[float, tuple], duration: float) -> float:
    """The longest stretch in which fewer of the ReplicaSet's Ready pods really served than were Ready."""
    longest, since = 0.0, None
    for t in sorted(rows):
        _, ready, _, serving = rows[t]
        if serving < ready and since is None:
            since = t
        elif serving >= ready and since is not None:
            longest, since = max(longest, t - since), None
    return longest if since is None else max(longest, duration - since)


def _short(text: str, most: int = 22) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _steps(rows: dict[float, tuple], duration: float) -> tuple[list[float], ...]:
    """Steps held to the end of the run; a ReplicaSet scaled to zero is drawn down to zero, then left out."""
    times = sorted(rows)
    values = [rows[t] for t in times]
    if times and times[-1] < duration:
        times, values = [*times, duration], [*values, values[-1]]
    width = 1 + (len(values[0]) if values else 4)
    columns: list[list[float]] = [[] for _ in range(width)]
    for i, (t, value) in enumerate(zip(times, values, strict=True)):
        if i > 0 and not any(value) and not any(values[i - 1]):
            continue
        for column, v in zip(columns, (t, *value), strict=True):
            column.append(float(v))
        if i > 0 and not any(value):  # gone: a gap, so that no line runs along zero until it comes back
            for column, v in zip(columns, (t, *[math.nan] * (width - 1)), strict=True):
                column.append(v)
    return tuple(columns)


def _runs(traffic: dict) -> list[list[float]]:
    """Scrape times in unbroken runs, each led by the start of its first interval (a row ends its interval)."""
    times = sorted({t for cells in traffic.values() for t in cells})
    step = min((b - a for a, b in zip(times, times[1:], strict=False)), default=15.0)
    runs: list[list[float]] = []
    for t in times:
        if runs and t - runs[-1][-1] <= step * 1.5:
            runs[-1].append(t)
        else:
            runs.append([t - step, t])
    return runs


def _draw_steps(ax, traffic: dict, values: Mapping[float, float], label: str, **style) -> list:
    """Step lines over each run of intervals; the first drawn carries the legend label. Returns what was drawn."""
    drawn = []
    for run in _runs(traffic):
        ys = [values.get(t, math.nan) for t in run[1:]]
        if all(math.isnan(y) for y in ys):
            continue
        (line,) = ax.step(run, [ys[0], *ys], where="pre", label="_nolegend_" if drawn else label, **style)
        drawn.append(line)
    return drawn


def _ordered(traffic: dict, colours: dict) -> list[str]:
    order = list(colours)
    return sorted(traffic, key=lambda v: (v == NO_ENDPOINT, order.index(v) if v in order else len(order), v))


def _share_panel(ax, traffic: dict, colours: dict) -> None:
    order = _ordered(traffic, colours)
    handles = {}
    for run in _runs(traffic):
        totals = [sum(traffic[v].get(t, [0.0])[0] for v in order) for t in run[1:]]
        base = [0.0] * len(run)
        for version in order:
            share = [100 * traffic[version].get(t, [0.0])[0] / (n or 1) for t, n in zip(run[1:], totals, strict=True)]
            upper = [b + s for b, s in zip(base, [share[0], *share], strict=True)]
            hatch = "////" if version == NO_ENDPOINT else None
            area = ax.fill_between(run, base, upper, step="pre", color=colours[version], alpha=0.75, lw=0, hatch=hatch)
            if any(share) and version not in handles:
                area.set_label("no endpoint" if version == NO_ENDPOINT else version)
                handles[version] = area
            base = upper
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 50, 100])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    _finish(ax, "Traffic share by version", "requests", [handles[v] for v in order if v in handles])


def _errors_panel(ax, traffic: dict, colours: dict, slo: float | None) -> None:
    ratios = {v: {t: 100 * c[1] / c[0] for t, c in traffic[v].items() if c[0]} for v in _ordered(traffic, colours)}
    overall = _overall_ratio(traffic)
    slo_pct = None if slo is None else 100 * slo
    nonzero = [v for series in [*ratios.values(), overall] for v in series.values() if v > 0]
    levels = nonzero + ([slo_pct] if slo_pct else [])  # log when a linear axis would flatten the SLO or the low ratios
    log = bool(nonzero) and max(levels) / min(levels) >= 50
    floor = 10 ** math.floor(math.log10(min(levels))) if log else 0.0  # below it the axis is linear down to 0
    # A line per version when several served and this one failed some requests; `all requests` covers the rest.
    series = [(v, ratios[v], colours[v], 1.6) for v in ratios if len(ratios) > 1 and any(ratios[v].values())]
    handles = []
    for label, values, colour, width in [*series, ("all requests", overall, "#222", 1.1)]:
        name = "no endpoint" if label == NO_ENDPOINT else label
        handles += _draw_steps(ax, traffic, values, name, color=colour, linewidth=width)[:1]
    if slo_pct is not None:
        handles.append(ax.axhline(slo_pct, color=FIRING, linestyle="--", linewidth=1.1, label=f"SLO {slo_pct:g}%"))
    if log:
        ax.set_yscale("symlog", linthresh=floor, linscale=0.5)
        ax.set_ylim(0, min(100, max(nonzero)) * 1.6)
    else:
        high = max(nonzero + [slo_pct or 0.0])
        ax.set_ylim(0, min(high * 1.2, 105) if high else 1.0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    if not nonzero:
        ax.text(0.5, 0.5, "no errors", transform=ax.transAxes, ha="center", va="center", color="#888", fontsize=10)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}%"))
    _finish(ax, "Error ratio" + " (log scale)" * log, "errors / requests", handles)


def _overall_ratio(traffic: dict) -> dict[float, float]:
    """t -> percent of all requests of the interval that failed."""
    sent, failed = defaultdict(float), defaultdict(float)
    for cells in traffic.values():
        for t, (requests, errors, _) in cells.items():
            sent[t] += requests
            failed[t] += errors
    return {t: 100 * failed[t] / sent[t] for t in sent if sent[t]}


def _latency_panel(ax, traffic: dict, colours: dict, slo: float | None) -> None:
    """p99 per version; intervals where many requests failed are shaded, since fast failures pull the p99 down."""
    handles, values = [], []
    for version in _ordered(traffic, colours):
        if version == NO_ENDPOINT:
            continue  # requests that found no endpoint fail at once: their latency says nothing
        ms = {t: 1000 * c[2] for t, c in traffic[version].items() if c[2] is not None}
        handles += _draw_steps(ax, traffic, ms, version, color=colours[version], linewidth=1.6)[:1]
        values += ms.values()
    if slo is not None:
        handles.append(
            ax.axhline(1000 * slo, color=FIRING, linestyle="--", linewidth=1.1, label=f"SLO {1000 * slo:g} ms")
        )
        values.append(1000 * slo)
    failing = _failing_spans(traffic)
    for i, (begin, end) in enumerate(failing):
        label = "_nolegend_" if i else f"≥{FAILING:.0%} failed: fast\nfailures lower p99"
        span = ax.axvspan(begin, end, color=FIRING, alpha=0.1, linewidth=0, zorder=0.3, label=label)
        handles += [span] if not i else []
    if values and min(values) > 0 and max(values) / min(values) >= 100:  # say, 20 ms against 30 s timeouts
        ax.set_yscale("log")
        ax.set_ylim(min(values) / 1.5, max(values) * 1.6)
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if max(values) / min(values) < 1000 else (1.0,)))
    else:
        ax.set_ylim(0, max(values, default=1.0) * 1.2)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    if not values:
        ax.text(0.5, 0.5, "no request was served", transform=ax.transAxes, ha="center", va="center", color="#888")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    _finish(ax, "p99 latency", "ms", handles)


def _failing_spans(traffic: dict) -> list[tuple[float, float]]:
    """The intervals in which at least FAILING of all requests failed, merged where they touch."""
    spans: list[tuple[float, float]] = []
    for run in _runs(traffic):
        ratio = _overall_ratio({v: {t: c for t, c in cells.items() if t in run} for v, cells in traffic.items()})
        for begin, end in zip(run, run[1:], strict=False):
            if ratio.get(end, 0.0) >= 100 * FAILING:
                if spans and spans[-1][1] == begin:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((begin, end))
    return spans


def _line(colour: str, label: str, width: float = 1.6, style: str | tuple = "-") -> Line2D:
    return Line2D([], [], color=colour, linewidth=width, linestyle=style, label=label)


def _finish(ax, title: str, ylabel: str, handles: list) -> None:
    ax.grid(True, color="#e6e6e6", linewidth=0.7)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8.5)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    ax.set_ylabel(ylabel, fontsize=9)
    if handles:
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, borderaxespad=0
        )


def _place_labels(figure: Figure, marks: list[Marker], duration: float) -> list[tuple[int, bool]]:
    """A row for each marker's label: (row, whether the label ends at its line rather than starts there).

    From the last marker to the first, a label goes one row above every later label it would overlap: a
    cluster of labels descends like a staircase, and each line runs down left of the labels below it.
    """
    renderer = figure.canvas.get_renderer()
    pixels_per_second = WIDTH_IN * (RIGHT - LEFT) * DPI / duration
    placed: list[tuple[float, float, int, bool]] = []  # begin, end, row, leftward
    for mark in reversed(marks):
        text = figure.text(0, 0, f" {mark.label} ", fontsize=8)
        width = text.get_window_extent(renderer).width / pixels_per_second
        text.remove()
        leftward = mark.t + width > duration  # near the end of the run a label ends at its line
        begin, end = (mark.t - width, mark.t) if leftward else (mark.t, mark.t + width)
        row = max((r + 1 for b, e, r, _ in placed if b < end and begin < e), default=0)
        placed.append((begin, end, min(row, MAX_LABEL_ROWS - 1), leftward))
    return [(row, leftward) for _, _, row, leftward in reversed(placed)]


def _draw_markers(labels_ax, axes: list, marks: list[Marker], levels: list[tuple[int, bool]]) -> None:
    labels_ax.set_ylim(0, max([row + 1 for row, _ in levels] + [1]))
    labels_ax.axis("off")
    for mark, (row, leftward) in zip(marks, levels, strict=True):
        labels_ax.vlines(mark.t, 0, row + 0.5, color=mark.colour, linewidth=0.9)
        weight = "normal" if mark.colour == ACTION else "bold"
        style = {"color": "#222" if mark.colour == ACTION else mark.colour, "fontweight": weight, "fontsize": 8}
        labels_ax.text(mark.t, row + 0.5, f" {mark.label} ", ha="right" if leftward else "left", va="center", **style)
        for ax in axes:
            ax.axvline(mark.t, color=mark.colour, linewidth=0.9, linestyle="--", alpha=0.8, zorder=1.5, gid="marker")
            if mark.until is not None:  # while it fires: a red strip along the top of the panel
                ax.axvspan(mark.t, mark.until, ymin=0.97, color=FIRING, alpha=0.45, linewidth=0, zorder=0.4)
    present = [c for c in KINDS if any(m.colour == c for m in marks)]
    handles = [_line(c, KINDS[c], 0.9, "--") for c in present]
    if handles:
        labels_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def figure_png(result: Result) -> bytes:
    """The timeline figure as PNG bytes (no timestamp in them: the same document gives the same bytes)."""
    buffer = io.BytesIO()
    timeline_figure(result).savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def save_timeline(result: Result, path: str | Path) -> None:
    """Write the timeline figure as a PNG file."""
    Path(path).write_bytes(figure_png(result))
