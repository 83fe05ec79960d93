"""`simdeploy dora` in the terminal: the strategies side by side, each figure with its DORA 2024 cluster, then the
2024 table itself as the report prints it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from simdeploy.k8s.duration import format_duration
from simdeploy.sweep.dora import DoraResult
from simdeploy.sweep.dora_figures import BANDS_2024, CLUSTERS, DAY

_STYLES = {"elite": "green", "high": "cyan", "medium": "yellow", "low": "red"}


def shown_time(seconds: float | None) -> str:
    """A lead or recovery time as people say it: 5m38s, 7.3 h, 2.4 days."""
    if seconds is None:
        return "-"
    if seconds < 3600:
        return format_duration(seconds)
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:.1f} days"


def _with_band(text: str, band: dict) -> Text:
    cluster = band["cluster"]
    shown = Text(text)
    if cluster is None:
        return shown.append(f"  ({band['band']})", style="dim")
    return shown.append(f"  {cluster}", style=_STYLES.get(cluster.split(",")[0], ""))


def strategies_table(result: DoraResult) -> Table:
    plan = result.plan
    environments = [environment.name for environment in plan.scenario.environments]
    table = Table(
        title=f"{plan.scenario.name}: {plan.deploys:,} changes, {plan.bad_rate:.0%} bad, seed {plan.seed} "
        f"({plan.samples} rehearsals per cell)",
        title_justify="left",
    )
    table.add_column("")
    for name in plan.strategies:
        table.add_column(name, justify="right")
    rows: list[tuple[str, list]] = []
    figures = [result.figures[name] for name in plan.strategies]
    rows.append(("reached production", [f"{f['production_deploys']:,} of {f['changes']:,}" for f in figures]))
    caught = ", ".join(environments[:-1])
    rows.append(
        (
            f"bad changes caught in {caught}",
            [" / ".join(str(f["caught_before_production"][e]) for e in environments[:-1]) for f in figures],
        )
    )
    rows.append(("deployment frequency", [_frequency(f) for f in figures]))
    rows.append(("lead time p50 (p90)", [_lead(f) for f in figures]))
    rows.append(("change failure rate", [_failure_rate(f) for f in figures]))
    rows.append(("recovery time p50 (p90)", [_recovery(f) for f in figures]))
    rows.append(("errors per failed deploy mean (p50)", [_errors(f) for f in figures]))
    rows.append(("failures that paged someone", [_share(f["paged_share"]) for f in figures]))
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def _frequency(figure: dict) -> Text:
    value = figure["deployment_frequency_per_day"]
    text = "-" if value is None else f"{value:.2f} / day" if value >= 0.1 else f"{value * 7:.2f} / week"
    return _with_band(text, figure["bands"]["deployment_frequency"])


def _lead(figure: dict) -> Text:
    text = f"{shown_time(figure['lead_time_p50_s'])} ({shown_time(figure['lead_time_p90_s'])})"
    return _with_band(text, figure["bands"]["lead_time"])


def _failure_rate(figure: dict) -> Text:
    rate = figure["change_failure_rate"]
    text = "-" if rate is None else f"{rate:.1%} ({figure['failed_deploys']}/{figure['production_deploys']})"
    return _with_band(text, figure["bands"]["change_failure_rate"])


def _recovery(figure: dict) -> Text:
    if figure["recovery_time_p50_s"] is None:
        return Text("no failed deploys", style="dim")
    text = f"{shown_time(figure['recovery_time_p50_s'])} ({shown_time(figure['recovery_time_p90_s'])})"
    return _with_band(text, figure["bands"]["recovery_time"])


def _errors(figure: dict) -> str:
    mean, median = figure["errors_per_failed_deploy"], figure["errors_per_failed_deploy_p50"]
    return "-" if mean is None else f"{mean:,.0f} ({median:,.0f})"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def bands_table() -> Table:
    """The DORA 2024 performance clusters, in the report's order (medium's failure rate below high's, as printed)."""
    table = Table(title="DORA 2024 clusters (Accelerate State of DevOps 2024, p. 13)", title_justify="left")
    table.add_column("cluster")
    headings = {
        "deployment_frequency": "deployment frequency",
        "lead_time": "change lead time",
        "change_failure_rate": "change fail rate",
        "recovery_time": "failed deployment recovery time",
    }
    for heading in headings.values():
        table.add_column(heading)
    for cluster in CLUSTERS:
        table.add_row(Text(cluster, style=_STYLES[cluster]), *[BANDS_2024[key][cluster] for key in headings])
    return table


def print_dora(result: DoraResult, console: Console) -> None:
    console.print(strategies_table(result))
    console.print(bands_table())
