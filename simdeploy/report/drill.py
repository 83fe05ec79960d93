"""Terminal output of a drill: the steps' verdicts, the incident figures, their spread over seeds, comparisons."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simdeploy.k8s.duration import format_duration
from simdeploy.report.timeline import format_clock

FIGURES = (
    ("time_to_detect_s", "time to detect", "fault -> page"),
    ("time_to_acknowledge_s", "time to acknowledge", "page -> acknowledged"),
    ("time_to_mitigate_s", "time to mitigate", "fault -> error ratio back under the SLO"),
    ("time_to_recover_s", "time to recover", "fault -> steady state"),
    ("time_from_acknowledge_to_mitigate_s", "acknowledged -> mitigated", "the rollback layer's own speed"),
)


def print_drill(result: dict, console: Console) -> None:
    """The step table, the incident figures and the verdict of one run."""
    drill = result["drill"]
    console.print(step_table(drill))
    console.print(incident_table(drill))
    if drill["expectations"]:
        console.print(expectations_table(drill["expectations"]))
    print_verdict(drill, console)


def print_verdict(drill: dict, console: Console) -> None:
    if drill["verdict"] == "pass":
        console.print(f"[green]drill {escape(drill['name'])} passed[/green]")
        return
    console.print(f"[red]drill {escape(drill['name'])} failed[/red]")
    for reason in drill["reasons"]:
        console.print(f"  {reason}", markup=False, highlight=False)


def step_table(drill: dict) -> Table:
    table = Table(title=f"runbook: {escape(drill['runbook'])}", title_justify="left")
    for column in ("step", "started", "ran", "finished", "outcome", "expectation", "deadline", "verdict"):
        table.add_column(column)
    for row in drill["steps"]:
        expect = row["expect"]
        if expect is None:
            promised = "-"
        elif expect["met_s"] is not None:
            promised = f"{escape(expect['condition'])} at {format_clock(expect['met_s'])}"
        else:
            promised = f"{escape(expect['condition'])}: not within {format_duration(expect['within_s'])}"
        deadline = (
            "-"
            if row["deadline_s"] is None
            else f"{format_duration(row['deadline_s'])}: {row['deadline_verdict'] or 'not reached'}"
        )
        verdict = "[green]PASS[/green]" if row["verdict"] == "pass" else "[red]FAIL[/red]"
        table.add_row(
            escape(row["name"]),
            _clock(row["started_s"]),
            _clock(row["ran_s"]),
            _clock(row["finished_s"]),
            row["outcome"],
            promised,
            deadline,
            verdict,
        )
    return table


def incident_table(drill: dict) -> Table:
    incident = drill["incident"]
    table = Table(title="incident", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    table.add_column("from", style="dim")
    table.add_row("fault", _clock(incident["fault_s"]), "the scenario's first timeline action")
    for key, label, meaning in FIGURES:
        table.add_row(label, _duration(incident[key]), meaning)
    table.add_row("errors served", f"{incident['errors']:,.0f}", "failed requests from the fault to recovery")
    burned = incident["error_budget_burned"]
    window = (
        format_duration(drill["slo"]["window_s"])
        if drill["slo"]["window_s"] < 86400
        else f"{drill['slo']['window_s'] / 86400:g}d"
    )
    table.add_row(
        "error budget burned",
        "-" if burned is None else f"{burned:.2%}",
        f"of a {drill['slo']['availability']:.3%} SLO's {window} budget",
    )
    return table


def expectations_table(expectations: list[dict]) -> Table:
    table = Table(title="drill expectations", title_justify="left")
    for column in ("expectation", "expected", "measured", "verdict"):
        table.add_column(column)
    for e in expectations:
        verdict = "[green]PASS[/green]" if e["verdict"] == "pass" else "[red]FAIL[/red]"
        table.add_row(e["name"], e["expected"], e["shown"], verdict)
    return table


# -- many seeds, many drills ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n q / 100)
    return ordered[int(rank) - 1]


def distributions(runs: list[dict]) -> dict:
    """p50 and p90 of each figure over the runs (drill sections), and how often it never happened."""
    figures = {}
    for key, _, _ in (*FIGURES, ("errors", "errors", ""), ("error_budget_burned", "budget", "")):
        values = [run["incident"][key] for run in runs if run["incident"][key] is not None]
        figures[key] = {
            "p50": percentile(values, 50),
            "p90": percentile(values, 90),
            "never": len(runs) - len(values),
        }
    return {
        "runs": len(runs),
        "passed": sum(run["verdict"] == "pass" for run in runs),
        "figures": figures,
        "steps": {
            name: sum(1 for run in runs for row in run["steps"] if row["name"] == name and row["verdict"] == "pass")
            for name in (row["name"] for row in runs[0]["steps"])
        }
        if runs
        else {},
    }


def print_distributions(name: str, spread: dict, console: Console) -> None:
    runs = spread["runs"]
    table = Table(title=f"{escape(name)}: {runs} seeds, {spread['passed']} passed", title_justify="left")
    for column in ("figure", "p50", "p90", "never"):
        table.add_column(column)
    for key, label, _ in FIGURES:
        figure = spread["figures"][key]
        table.add_row(label, _duration(figure["p50"]), _duration(figure["p90"]), str(figure["never"]))
    errors = spread["figures"]["errors"]
    table.add_row("errors served", _number(errors["p50"]), _number(errors["p90"]), str(errors["never"]))
    budget = spread["figures"]["error_budget_burned"]
    table.add_row("error budget burned", _percent(budget["p50"]), _percent(budget["p90"]), str(budget["never"]))
    console.print(table)
    steps = Table(title="steps passed", title_justify="left")
    steps.add_column("step")
    steps.add_column("passed")
    for step, passed in spread["steps"].items():
        steps.add_row(escape(step), f"{passed}/{runs}")
    console.print(steps)


def compare_table(rows: list[dict]) -> Table:
    """One row per drill: how fast each layer mitigates, what it costs. Rows hold name, spread and peak pods."""
    table = Table(title="rollback layers compared (p50 over seeds)", title_justify="left")
    for column in (
        "drill",
        "detect",
        "acknowledge",
        "mitigate",
        "recover",
        "ack -> mitigated",
        "errors",
        "budget burned",
        "peak pods",
        "passed",
    ):
        table.add_column(column)
    for row in rows:
        figures = row["spread"]["figures"]
        table.add_row(
            escape(row["name"]),
            *(_duration(figures[key]["p50"]) for key, _, _ in FIGURES),
            _number(figures["errors"]["p50"]),
            _percent(figures["error_budget_burned"]["p50"]),
            str(row["peak_pods"]),
            f"{row['spread']['passed']}/{row['spread']['runs']}",
        )
    return table


def _clock(seconds: float | None) -> str:
    return "-" if seconds is None else format_clock(seconds)


def _duration(seconds: float | None) -> str:
    return "never" if seconds is None else format_duration(seconds)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


# -- a drill on a real cluster -----------------------------------------------------------------------------------


def print_cluster_drill(document: dict, console: Console) -> None:
    """What a drill on a cluster did and how close it came to its prediction (simdeploy/drill/runner.py)."""
    console.print(
        f"drill {escape(document['drill'])} on {escape(document['context'])}, namespace "
        f"{escape(document['namespace'])}: {document['status']}",
        soft_wrap=True,
    )
    observed = document.get("observed") or {}
    if observed.get("drill"):
        console.print(step_table(observed["drill"]))
        console.print(incident_table(observed["drill"]))
    if document["fidelity"]:
        console.print(fidelity_table(document["fidelity"]))
    chaos = document.get("chaos") or {}
    console.print(
        f"chaos experiment: {chaos.get('status')}, steady state before {chaos.get('steady_state_before')}, "
        f"after {chaos.get('steady_state_after')}",
        highlight=False,
        markup=False,
    )
    for command in document.get("commands") or []:
        console.print(f"  {command['command']}  (exit {command['exit']})", highlight=False, markup=False)
    if document["verdict"] == "pass":
        console.print(f"[green]drill {escape(document['drill'])} passed on the cluster[/green]")
        return
    console.print(f"[red]drill {escape(document['drill'])} failed on the cluster[/red]")
    for reason in document["reasons"]:
        console.print(f"  {reason}", markup=False, highlight=False)


def fidelity_table(rows: list[dict]) -> Table:
    table = Table(title="predicted vs observed", title_justify="left")
    for column in ("figure", "predicted -> observed (tolerance)", "verdict"):
        table.add_column(column)
    for row in rows:
        verdict = {"pass": "[green]PASS[/green]", "fail": "[red]FAIL[/red]"}.get(row["verdict"], "n/a")
        table.add_row(escape(row["name"]), escape(row["shown"]), verdict)
    return table
