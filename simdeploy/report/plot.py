"""The timeline figure of a run: pods per ReplicaSet, traffic share, error ratio and p99 latency on one time axis."""

from __future__ import annotations

import io
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, MultipleLocator

from simdeploy.k8s.duration import parse_duration

WIDTH_IN, DPI = 12.0, 110
LEFT, RIGHT = 0.065, 0.855  # fixed margins: legends live in the right margin, never over the data
PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]  # no red, orange, grey
ACTION, FIRING, WARNING, NO_ENDPOINT_COLOUR = "#6b6b6b", "#d62728", "#e08a00", "#9a9a9a"
NO_ENDPOINT = "none"  # the traffic model's version label for requests that found no endpoint
LABEL_ROW_IN = 0.2  # height of one row of marker labels
MAX_LABEL_ROWS = 8  # beyond this many, labels may overlap (say, an alert flapping all run long)
TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
PANEL_HEIGHTS_IN = {"pods": 2.5, "share": 1.3, "errors": 1.7, "p99": 1.7}


@dataclass
class ReplicaSetLine:
    name: str
    deployment: str
    revisions: list[int] = field(default_factory=list)
    rows: dict[float, tuple[int, int, int]] = field(default_factory=dict)  # t -> spec, ready, available
    image: str | None = None


@dataclass
class Marker:
    t: float
    label: str
    colour: str
    until: float | None = None  # a firing alert's span ends here (resolved, or the end of the run)


def image_tag(image: str) -> str:
    """The short name people use for an image: its tag, or the start of its digest."""
    if "@" in image:
        return "@" + image.split("@", 1)[1].split(":")[-1].rstrip(".")[:8]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def clock_tick(seconds: float, hours: bool = False) -> str:
    """m:ss, or h:mm:ss for runs of an hour or more."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- reading the result document -----------------------------------------------------------------------


def replica_sets(result: dict) -> list[ReplicaSetLine]:
    """One line per ReplicaSet in order of creation, with its Deployment and, when it can be told, its image."""
    deployments = sorted(result["summary"].get("deployments", {}), key=len, reverse=True)
    lines: dict[str, ReplicaSetLine] = {}
    for row in result.get("series", []):
        name = row["replicaset"]
        if name not in lines:
            owner = next((d for d in deployments if name.startswith(d + "-")), name.rsplit("-", 1)[0])
            lines[name] = ReplicaSetLine(name, owner)
        line = lines[name]
        if row["revision"] and row["revision"] not in line.revisions:
            line.revisions.append(row["revision"])
        line.rows[row["t"]] = (row["spec"], row["ready"], row["available"])
    # Weakest evidence first: a ReplicaSet scaled up from 0 right after `set image`; the final image of
    # each Deployment; what the kubelet pulled for the ReplicaSet's pods (certain, when pod events are kept).
    pending: dict[str, str] = {}
    for e in result.get("events", []):
        if e["reason"] == "SetImage" and " image updated to " in e["message"]:
            pending[e["name"]] = e["message"].rsplit(" image updated to ", 1)[1]
        elif e["reason"] == "ScalingReplicaSet" and e["name"] in pending:
            found = re.match(r"Scaled up replica set (\S+) from 0 to", e["message"])
            if found and found.group(1) in lines and lines[found.group(1)].image is None:
                lines[found.group(1)].image = pending.pop(e["name"])
    for name, measure in result["summary"].get("deployments", {}).items():
        for line in lines.values():
            if line.deployment == name and line.revisions[-1:] == [measure.get("final_revision")]:
                line.image = measure.get("final_image") or line.image
    for e in result.get("events", []):
        found = re.search(r'image "([^"]+)"', e["message"]) if e["reason"] in ("Pulling", "Pulled") else None
        if found and e["kind"] == "Pod" and e["name"].rsplit("-", 1)[0] in lines:
            lines[e["name"].rsplit("-", 1)[0]].image = found.group(1)
    return list(lines.values())


def traffic_by_version(result: dict) -> dict[str, dict[float, list]]:
    """version -> t -> [requests, errors, worst p99 over the services] from the per-interval traffic rows."""
    table: dict[str, dict[float, list]] = defaultdict(dict)
    for row in result.get("traffic") or []:
        cell = table[row["version"]].setdefault(row["t"], [0.0, 0.0, None])
        cell[0] += row["requests"] or 0.0
        cell[1] += row["errors"] or 0.0
        if row.get("p99_s") is not None:
            cell[2] = row["p99_s"] if cell[2] is None else max(cell[2], row["p99_s"])
    return dict(table)


def slo_limits(result: dict) -> dict[str, float]:
    """Lines the expectations draw: `error_ratio` (errorRatio, else 1 - availability) and `p99_s` (p99Latency)."""
    limits: dict[str, float] = {}
    for expectation in result["summary"].get("expectations") or []:
        name, expected = expectation.get("name"), str(expectation.get("expected", ""))
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


def markers(result: dict, versions: Mapping[str, str] | None = None) -> list[Marker]:
    """Operator actions (grey), alert firings (red) and progress deadlines (orange), one marker per moment."""
    several = len(result["summary"].get("deployments", {})) > 1
    evicting = {e["t"] for e in result["events"] if e["reason"] in ("Evicted", "EvictionRefused")}  # a drain
    found: list[Marker] = []
    firing: dict[tuple[str, str], Marker] = {}
    for e in result.get("events", []):
        t, reason, name = e["t"], e["reason"], e["name"]
        alert = (name, e["message"].rsplit("; ", 1)[0])
        if reason == "AlertFiring":
            firing[alert] = Marker(t, f"{name} firing", FIRING, until=result["duration_s"])
            found.append(firing[alert])
        elif reason == "AlertResolved":
            key = alert if alert in firing else next((k for k in firing if k[0] == name), None)
            if key is not None:
                firing.pop(key).until = t
        elif reason == "ProgressDeadlineExceeded":
            found.append(Marker(t, "progress deadline" + (f" {name}" if several else ""), WARNING))
        elif reason == "NodeNotSchedulable":
            found.append(Marker(t, f"{'drain' if t in evicting else 'cordon'} {name}", ACTION))
        elif label := _action_label(e, several, versions or {}):
            found.append(Marker(t, label, ACTION))
    merged: dict[tuple[float, str], list[Marker]] = defaultdict(list)
    for marker in found:
        merged[(marker.t, marker.colour)].append(marker)
    out = []
    for (t, colour), group in sorted(merged.items()):
        label = ", ".join(text if n == 1 else f"{text} ×{n}" for text, n in Counter(m.label for m in group).items())
        out.append(Marker(t, label, colour, max((m.until for m in group if m.until is not None), default=None)))
    return out


def _action_label(e: dict, several: bool, versions: Mapping[str, str]) -> str | None:
    reason, name, message, who = e["reason"], e["name"], e["message"], f" {e['name']}" if several else ""
    image = message.rsplit(" image updated to ", 1)[1] if " image updated to " in message else None
    undo = re.search(r"rolled back to revision (\d+)", message)
    labels = {
        "SetImage": f"set image{who} " + ((versions.get(image) or image_tag(image)) if image else "(unchanged)"),
        "RolloutUndo": f"rollout undo{who}" + (f" → rev {undo.group(1)}" if undo else " (skipped)"),
        "BehaviourChanged": f"behaviour {versions.get(name) or image_tag(name)}",
        "Scale": f"scale{who} → {message.rsplit(' ', 1)[-1]}",
        "Pause": f"pause{who}",
        "Resume": f"resume{who}",
        "Patch": f"patch {message.rsplit(' ', 1)[0]}",
        "SetWeights": f"weights {message.split(' weights now ', 1)[-1]}",
        "Apply": f"apply {message.rsplit(' ', 1)[0]}" if e["t"] > 0 else None,  # not the manifests at the start
        "NodeSchedulable": f"uncordon {name}",
        "NodeFailure": f"{name} fails",
        "Deleted": "delete pod" if e["kind"] == "Pod" else None,
    }
    return labels.get(reason, f"failed: {name}" if e["kind"] == "Action" else None)


# -- drawing ---------------------------------------------------------------------------------------------


def timeline_figure(result: dict, versions: Mapping[str, str] | None = None) -> Figure:
    """The run on one time axis; `versions` (image -> version) names ReplicaSets the way the traffic does."""
    versions = versions or {}
    duration = float(result["duration_s"]) or 1.0
    lines, traffic = replica_sets(result), traffic_by_version(result)
    colours = _colours(lines, traffic, versions)
    marks = markers(result, versions)
    figure = Figure(figsize=(WIDTH_IN, 4), dpi=DPI)
    FigureCanvasAgg(figure)
    levels = _place_labels(figure, marks, duration)
    panels = ["pods", "share", "errors", "p99"] if traffic else ["pods"]
    heights = [(max((lv for lv, _ in levels), default=-1) + 1) * LABEL_ROW_IN + 0.1]
    heights += [PANEL_HEIGHTS_IN[p] for p in panels]
    top_in, bottom_in, gap_in = 0.5, 0.55, 0.42
    total = top_in + bottom_in + sum(heights) + gap_in * len(panels)
    figure.set_size_inches(WIDTH_IN, total)
    figure.subplots_adjust(left=LEFT, right=RIGHT, top=1 - top_in / total, bottom=bottom_in / total)
    grid = figure.add_gridspec(len(heights), 1, height_ratios=heights, hspace=gap_in / (sum(heights) / len(heights)))
    labels_ax = figure.add_subplot(grid[0])
    axes = {panel: figure.add_subplot(grid[i + 1], sharex=labels_ax) for i, panel in enumerate(panels)}
    _pods_panel(axes["pods"], lines, colours, versions, duration)
    if traffic:
        limits = slo_limits(result)
        _share_panel(axes["share"], traffic, colours)
        _errors_panel(axes["errors"], traffic, colours, limits.get("error_ratio"))
        _latency_panel(axes["p99"], traffic, colours, limits.get("p99_s"))
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


def _colours(lines: list[ReplicaSetLine], traffic: dict, versions: Mapping[str, str]) -> dict[str, str]:
    """Colours by version, so a ReplicaSet and the traffic its version serves match; two of a version differ."""
    colours: dict[str, str] = {NO_ENDPOINT: NO_ENDPOINT_COLOUR}

    def next_colour() -> str:
        return PALETTE[(len(set(colours.values())) - 1) % len(PALETTE)]

    for line in lines:
        key = _version(line, versions) or line.name
        colours[line.name] = next_colour() if key in colours else colours.setdefault(key, next_colour())
    for version in sorted(traffic):
        colours.setdefault(version, next_colour())
    return colours


def _version(line: ReplicaSetLine, versions: Mapping[str, str]) -> str | None:
    return None if line.image is None else versions.get(line.image) or image_tag(line.image)


def _pods_panel(ax, lines: list[ReplicaSetLine], colours: dict, versions: Mapping[str, str], duration: float) -> None:
    several = len({line.deployment for line in lines}) > 1
    top, handles = 1, []
    for i, line in enumerate(lines):
        times, spec, ready, available = _steps(line.rows, duration)
        colour, width = colours[line.name], max(1.6, 2.6 - 0.5 * i)  # an older line shows around a newer one
        ax.fill_between(times, available, step="post", color=colour, alpha=0.16, linewidth=0)
        ax.step(times, ready, where="post", color=colour, linewidth=width)
        ax.step(times, spec, where="post", color=colour, linewidth=1, linestyle=(0, (2, 2)))
        top = max(top, *(v for v in spec + ready if not math.isnan(v)))
        version = _version(line, versions)
        label = f"rev {'→'.join(map(str, line.revisions)) or '?'}" + (f" ({_short(version)})" if version else "")
        handles.append(_line(colour, f"{_short(line.deployment)}\n{label}" if several else label, 2))
    handles += [_line("#444", "ready", 2), Patch(color="#444", alpha=0.2, label="available")]
    handles.append(_line("#444", "desired", 1, (0, (2, 2))))
    headroom = max(1, round(top * 0.12))
    ax.set_ylim(-headroom * 0.25, top + headroom)  # lines at zero stay visible above the axis
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    _finish(ax, "Pods per ReplicaSet", "pods", handles)


def _short(text: str, most: int = 22) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _steps(rows: dict[float, tuple], duration: float) -> tuple[list[float], ...]:
    """Steps held to the end of the run; a ReplicaSet scaled to zero is drawn down to zero, then left out."""
    times = sorted(rows)
    values = [rows[t] for t in times]
    if times and times[-1] < duration:
        times, values = [*times, duration], [*values, values[-1]]
    columns: list[list[float]] = [[], [], [], []]
    for i, (t, value) in enumerate(zip(times, values, strict=True)):
        if i > 0 and not any(value) and not any(values[i - 1]):
            continue
        for column, v in zip(columns, (t, *value), strict=True):
            column.append(float(v))
        if i > 0 and not any(value):  # gone: a gap, so that no line runs along zero until it comes back
            for column, v in zip(columns, (t, math.nan, math.nan, math.nan), strict=True):
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


def _draw_steps(ax, traffic: dict, values: Mapping[float, float], **style) -> None:
    for run in _runs(traffic):
        ys = [values.get(t, math.nan) for t in run[1:]]
        ax.step(run, [ys[0], *ys], where="pre", **style)


def _ordered(traffic: dict, colours: dict) -> list[str]:
    order = list(colours)
    return sorted(traffic, key=lambda v: (v == NO_ENDPOINT, order.index(v) if v in order else len(order), v))


def _share_panel(ax, traffic: dict, colours: dict) -> None:
    order = _ordered(traffic, colours)
    for run in _runs(traffic):
        totals = [sum(traffic[v].get(t, [0.0])[0] for v in order) for t in run[1:]]
        base = [0.0] * len(run)
        for version in order:
            share = [100 * traffic[version].get(t, [0.0])[0] / (n or 1) for t, n in zip(run[1:], totals, strict=True)]
            upper = [b + s for b, s in zip(base, [share[0], *share], strict=True)]
            hatch = "////" if version == NO_ENDPOINT else None
            ax.fill_between(run, base, upper, step="pre", color=colours[version], alpha=0.75, lw=0, hatch=hatch)
            base = upper
    handles = [Patch(color=colours[v], alpha=0.75, label="no endpoint" if v == NO_ENDPOINT else v) for v in order]
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 50, 100])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    _finish(ax, "Traffic share by version", "requests", handles)


def _errors_panel(ax, traffic: dict, colours: dict, slo: float | None) -> None:
    ratios = {v: {t: 100 * c[1] / c[0] for t, c in traffic[v].items() if c[0]} for v in _ordered(traffic, colours)}
    sent, failed = defaultdict(float), defaultdict(float)
    for cells in traffic.values():
        for t, (requests, errors, _) in cells.items():
            sent[t] += requests
            failed[t] += errors
    overall = {t: 100 * failed[t] / sent[t] for t in sent if sent[t]}
    slo_pct = None if slo is None else 100 * slo
    nonzero = [v for series in [*ratios.values(), overall] for v in series.values() if v > 0]
    levels = nonzero + ([slo_pct] if slo_pct else [])  # log when a linear axis would flatten the SLO or the low ratios
    log = bool(nonzero) and max(levels) / min(levels) >= 50
    floor = 10 ** math.floor(math.log10(min(levels))) if log else 0.0  # below it the axis is linear down to 0
    series = [(v, ratios[v], colours[v], 1.6) for v in ratios if len(ratios) > 1]
    handles = []
    for label, values, colour, width in [*series, ("all requests", overall, "#222", 1.1)]:
        _draw_steps(ax, traffic, values, color=colour, linewidth=width)
        handles.append(_line(colour, "no endpoint" if label == NO_ENDPOINT else label, width))
    if slo_pct is not None:
        ax.axhline(slo_pct, color=FIRING, linestyle="--", linewidth=1.1)
        handles.append(_line(FIRING, f"SLO {slo_pct:g}%", 1.1, "--"))
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


def _latency_panel(ax, traffic: dict, colours: dict, slo: float | None) -> None:
    handles, values = [], []
    for version in _ordered(traffic, colours):
        if version == NO_ENDPOINT:
            continue  # requests that found no endpoint fail at once: their latency says nothing
        ms = {t: 1000 * c[2] for t, c in traffic[version].items() if c[2] is not None}
        _draw_steps(ax, traffic, ms, color=colours[version], linewidth=1.6)
        values += ms.values()
        handles.append(_line(colours[version], version))
    if slo is not None:
        ax.axhline(1000 * slo, color=FIRING, linestyle="--", linewidth=1.1)
        handles.append(_line(FIRING, f"SLO {1000 * slo:g} ms", 1.1, "--"))
        values.append(1000 * slo)
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


def _line(colour: str, label: str, width: float = 1.6, style: str | tuple = "-") -> Line2D:
    return Line2D([], [], color=colour, linewidth=width, linestyle=style, label=label)


def _finish(ax, title: str, ylabel: str, handles: list) -> None:
    ax.grid(True, color="#e6e6e6", linewidth=0.7)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8.5)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    ax.set_ylabel(ylabel, fontsize=9)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, borderaxespad=0)


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
            ax.axvline(mark.t, color=mark.colour, linewidth=0.9, linestyle="--", alpha=0.8, zorder=1.5)
            if mark.until is not None:  # while it fires: a red strip along the top of the panel
                ax.axvspan(mark.t, mark.until, ymin=0.97, color=FIRING, alpha=0.45, linewidth=0, zorder=0.4)
    kinds = {ACTION: "operator action", FIRING: "alert firing", WARNING: "progress deadline"}
    present = [c for c in kinds if any(m.colour == c for m in marks)]
    handles = [_line(c, kinds[c], 0.9, "--") for c in present]
    if handles:
        labels_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def figure_png(result: dict, versions: Mapping[str, str] | None = None) -> bytes:
    """The timeline figure as PNG bytes."""
    buffer = io.BytesIO()
    timeline_figure(result, versions).savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def save_timeline(result: dict, path: str | Path, versions: Mapping[str, str] | None = None) -> None:
    """Write the timeline figure as a PNG file (`versions`, image -> version, names the ReplicaSets)."""
    Path(path).write_bytes(figure_png(result, versions))
