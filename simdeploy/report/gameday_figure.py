"""The game day on one time axis: the error ratio against the SLO, then one lane per person with their commands,
the fault, the alerts and the incident's moments marked across both."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

from simdeploy.report.plot import DPI, LEFT, RIGHT, TICK_STEPS, WIDTH_IN, clock_tick

FAULT, FIRING, PENDING = "#8c2d04", "#d62728", "#f2b447"
READ, WRITE, REFUSED = "#4f6d8a", "#1f77b4", "#d62728"
MOMENTS = (("trigger_s", "paged"), ("acknowledged_s", "acknowledged"), ("mitigated_s", "mitigated"))
LANE_IN, ERRORS_IN = 0.62, 1.6


def gameday_figure(document: dict) -> Figure:
    """The figure of an after-action document (a session's result with its `gameday` section)."""
    gameday = document["gameday"]
    end = float(document["session"]["simulated_s"]) or float(document["duration_s"]) or 1.0
    people = [(name, "player") for name in gameday["players"]] + [(name, "observer") for name in gameday["observers"]]
    lanes_in = LANE_IN * max(len(people), 1)
    total = 0.75 + ERRORS_IN + 0.5 + lanes_in + 0.6
    figure = Figure(figsize=(WIDTH_IN, total), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=LEFT + 0.03, right=RIGHT, top=1 - 0.75 / total, bottom=0.6 / total)
    grid = figure.add_gridspec(2, 1, height_ratios=[ERRORS_IN, lanes_in], hspace=0.5 / ((ERRORS_IN + lanes_in) / 2))
    errors, lanes = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    lanes.sharex(errors)
    errors.set_xlim(0, end)
    _errors(errors, document, gameday["slo"]["availability"])
    _lanes(lanes, people, gameday["commands"])
    spans = alert_spans(document["events"], end)
    for ax in (errors, lanes):
        for _, start, stop, state in spans:
            colour = FIRING if state == "firing" else PENDING
            ax.axvspan(start, stop, color=colour, alpha=0.14 if state == "firing" else 0.1, linewidth=0, zorder=0.3)
    _moments(errors, lanes, gameday)
    step = next((s for s in TICK_STEPS if end / s <= 12), TICK_STEPS[-1])
    for ax in (errors, lanes):
        ax.xaxis.set_major_locator(MultipleLocator(step))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: clock_tick(x)))
        ax.grid(True, axis="x", color="#e6e6e6", linewidth=0.7)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8.5)
    errors.tick_params(labelbottom=False)
    lanes.set_xlabel("simulated time (m:ss)", fontsize=9)
    handles = [
        Line2D([], [], color=FAULT, linewidth=1.4, label="fault"),
        Patch(color=PENDING, alpha=0.3, label="alert pending"),
        Patch(color=FIRING, alpha=0.3, label="alert firing"),
        Line2D([], [], marker="o", color=READ, linestyle="", label="read"),
        Line2D([], [], marker="s", color=WRITE, linestyle="", label="write"),
        Line2D([], [], marker="X", color=REFUSED, linestyle="", label="refused (403)"),
    ]
    lanes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    title = f"{gameday['name']}  ·  {len(gameday['players'])} players  ·  {clock_tick(end)} played"
    figure.text(LEFT, 1 - 0.18 / total, title, fontsize=12, fontweight="bold", va="top")
    return figure


def alert_spans(events: list[dict], end: float) -> list[tuple[str, float, float, str]]:
    """(alert, start, end, pending|firing) from the timeline's alert events; still open spans run to `end`."""
    spans: list[tuple[str, float, float, str]] = []
    open_: dict[str, tuple[str, float]] = {}
    for event in events:
        if event["kind"] != "Alert" or event["reason"] not in ("AlertPending", "AlertFiring", "AlertResolved"):
            continue
        name, t = event["name"], event["t"]
        if name in open_:
            state, start = open_.pop(name)
            spans.append((name, start, t, state))
        if event["reason"] == "AlertPending":
            open_[name] = ("pending", t)
        elif event["reason"] == "AlertFiring":
            open_[name] = ("firing", t)
    spans += [(name, start, end, state) for name, (state, start) in open_.items()]
    return sorted(spans, key=lambda span: span[1])


def _errors(ax, document: dict, availability: float) -> None:
    totals: dict[float, list[float]] = {}
    for row in document["traffic"]:
        entry = totals.setdefault(row["t"], [0.0, 0.0])
        entry[0] += row["requests"]
        entry[1] += row["errors"]
    times = sorted(totals)
    ratios = [100 * totals[t][1] / totals[t][0] if totals[t][0] else 0.0 for t in times]
    ax.step(times, ratios, where="pre", color="#333", linewidth=1.4, label="error ratio")
    ax.axhline(100 * (1 - availability), color=FIRING, linewidth=0.9, linestyle=":", label="SLO")
    ax.set_ylim(0, max([*ratios, 100 * (1 - availability)]) * 1.25 or 1)
    ax.set_ylabel("errors %", fontsize=9)
    ax.set_title("error ratio per scrape (dotted: what the SLO allows)", loc="left", fontsize=10, fontweight="bold")


def _lanes(ax, people: list[tuple[str, str]], commands: list[dict]) -> None:
    lane = {name: index for index, (name, _) in enumerate(people)}
    ax.set_ylim(len(people) - 0.5, -0.6)
    ax.set_yticks(range(len(people)), [f"{name}\n({role})" for name, role in people], fontsize=8.5)
    ax.set_title("commands, one lane per person", loc="left", fontsize=10, fontweight="bold")
    for index in range(len(people)):
        ax.axhline(index, color="#eeeeee", linewidth=6, zorder=0.2)
    lifted: dict[str, int] = {}
    for command in commands:
        if command["user"] not in lane:
            continue
        y = lane[command["user"]]
        if command["refused"]:
            marker, colour = "X", REFUSED
        else:
            marker, colour = ("s", WRITE) if command["wrote"] else ("o", READ)
        ax.plot([command["at_s"]], [y], marker=marker, color=colour, markersize=7, linestyle="", zorder=3)
        row = lifted.get(command["user"], 0)
        lifted[command["user"]] = (row + 1) % 2  # alternate above and below the lane, so neighbours do not collide
        ax.annotate(
            short_label(command),
            (command["at_s"], y),
            xytext=(4, -10 if row == 0 else 9),
            textcoords="offset points",
            fontsize=7.5,
            color="#222",
            va="center",
            rotation=0,
        )


def short_label(command: dict) -> str:
    """`rollout undo payments-api`, `get pods`: the command without `kubectl`, and the first object it named."""
    named = [t.split("/")[1] for t in command["targets"] if "/" in t]
    what = named[0] if named else command["targets"][0] if command["targets"] else ""
    text = command["command"].removeprefix("kubectl ")
    return f"{text} {what}" if what and what not in text else text


def _moments(errors, lanes, gameday: dict) -> None:
    fired = [f for f in gameday["faults"] if f["fired_s"] is not None]
    for fault in fired:
        for ax in (errors, lanes):
            ax.axvline(fault["fired_s"], color=FAULT, linewidth=1.4, zorder=2)
        errors.annotate(
            f" fault: {fault['name']}",
            (fault["fired_s"], 0.97),
            xycoords=("data", "axes fraction"),
            fontsize=8,
            color=FAULT,
            fontweight="bold",
            va="top",
            ha="right" if fault["fired_s"] > 0.6 * errors.get_xlim()[1] else "left",
        )
    incident = gameday["incident"]
    height, last = 0.74, None
    for key, label in MOMENTS:
        t = incident.get(key)
        if t is None:
            continue
        for ax in (errors, lanes):
            ax.axvline(t, color="#555", linewidth=0.9, linestyle="--", zorder=1.5)
        # A moment close after the last labelled one gets its label lower, so the two stay readable.
        height = height - 0.12 if last is not None and t - last < 0.08 * errors.get_xlim()[1] else 0.74
        errors.annotate(f" {label}", (t, height), xycoords=("data", "axes fraction"), fontsize=7.5, color="#333")
        last = t


def gameday_png(document: dict) -> bytes:
    """The figure as PNG bytes (no timestamp in them: the same document gives the same bytes)."""
    buffer = io.BytesIO()
    gameday_figure(document).savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
