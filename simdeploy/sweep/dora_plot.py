"""The picture of `simdeploy dora`: the distribution (CDF) of failed deployment recovery time, one line per strategy,
against DORA's one-hour and one-day marks."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter

from simdeploy.sweep.dora import DoraResult

_TICKS = {60: "1 min", 300: "5 min", 900: "15 min", 3600: "1 h", 4 * 3600: "4 h", 86400: "1 day", 7 * 86400: "1 week"}


def dora_figure(result: DoraResult) -> Figure:
    """Recovery time CDF per strategy (log time axis). Drawn without pyplot, so any backend (or none) will do."""
    figure = Figure(figsize=(8, 4.6), dpi=110)
    axes = figure.add_subplot()
    drawn = []
    # Strategies often share a tail (failures no rollback ends): dashes keep every line in sight.
    styles = ["-", "--", ":", "-."]
    for number, name in enumerate(result.plan.strategies):
        times = [max(t, 1.0) for t in result.recovery_times[name]]
        figures = result.figures[name]
        label = f"{name} ({figures['failed_deploys']} failed of {figures['production_deploys']} deploys)"
        if not times:
            axes.plot([], [], label=f"{name}: no failed deploys")
            continue
        shares = [(index + 1) / len(times) for index in range(len(times))]
        style = styles[number % len(styles)]
        axes.step([times[0], *times], [0.0, *shares], where="post", label=label, linewidth=1.8, linestyle=style)
        drawn += times
    axes.set_xscale("log")
    low = min(drawn, default=60.0)
    high = max(drawn, default=86400.0)
    axes.set_xlim(max(1.0, low / 1.5), max(high * 1.5, 2 * 86400.0))  # the one-day mark always in sight
    for moment, words in ((3600.0, "elite: < 1 h"), (86400.0, "high, medium: < 1 day")):
        axes.axvline(moment, color="grey", linestyle=":", linewidth=1)
        axes.text(moment, 0.02, f"{words} ", color="grey", fontsize=8, rotation=90, va="bottom", ha="right")
    ticks = [t for t in _TICKS if axes.get_xlim()[0] <= t <= axes.get_xlim()[1]]
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.set_xticklabels([_TICKS[t] for t in ticks])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("failed deployment recovery time (from the deploy)")
    axes.set_ylabel("share of failed deploys recovered")
    plan = result.plan
    axes.set_title(
        f"{plan.scenario.name}: {plan.deploys:,} changes, {plan.bad_rate:.0%} bad (seed {plan.seed})", fontsize=10
    )
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="center right", fontsize=8)
    figure.tight_layout()
    return figure
