"""Terminal output of a run: the event timeline like `kubectl get events`, and the summary table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from simdeploy.k8s.duration import format_clock, format_duration
from simdeploy.sim.result import AnalysisRun, ArgoRollout, Event, Result


@dataclass
class FoldedEvent:
    """An event and its repeats (same object, reason and message), as the API server aggregates them."""

    event: dict
    count: int = 1
    last: float = 0.0


def fold_events(events: list[dict]) -> list[FoldedEvent]:
    """Events in order of first occurrence, repeats folded into the first."""
    first: dict[tuple, FoldedEvent] = {}
    for e in events:
        key = (e["kind"], e.get("namespace"), e["name"], e["reason"], e["message"])
        folded = first.get(key)
        if folded is None:
            first[key] = FoldedEvent(e, 1, e["t"])
        else:
            folded.count += 1
            folded.last = e["t"]
    return list(first.values())


def event_lines(events: list[dict]) -> list[tuple[str, bool]]:
    """The timeline as aligned text lines (like kubectl's tab writer), each with a warning flag.

    Repeats of an event fold into its first line: "(x12, last 3:55.0)". When the events are about objects of
    several namespaces (environments), a NAMESPACE column comes first, as in `kubectl get events -A`.
    """
    folded = fold_events(events)
    namespaced = several_namespaces(events)
    rows = [
        [format_clock(f.event["t"]), f.event.get("type", "Normal"), f.event["reason"], object_name(f.event)]
        for f in folded
    ]
    header = ["TIME", "TYPE", "REASON", "OBJECT"]
    if namespaced:
        header = ["NAMESPACE", *header]
        rows = [[f.event.get("namespace") or "-", *row] for f, row in zip(folded, rows, strict=True)]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [("   ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)) + "   MESSAGE", False)]
    for f, row in zip(folded, rows, strict=True):
        text = "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        message = (
            f.event["message"] if f.count == 1 else f"{f.event['message']} (x{f.count}, last {format_clock(f.last)})"
        )
        lines.append((f"{text}   {message}", f.event.get("type") == "Warning"))
    return lines


def several_namespaces(events: list[dict]) -> bool:
    """Whether the events are about objects of more than one namespace."""
    return len({e["namespace"] for e in events if e.get("namespace")}) > 1


def object_name(event: dict) -> str:
    return f"{event['kind'].lower()}/{event['name']}"


def summary_table(result: Result) -> Table:
    """The run's figures: per Deployment, per Argo Rollout, the traffic, alerts and flag cohorts, the cluster."""
    from rich.markup import escape

    table = Table(
        title=escape(
            f"{result['scenario']} (seed {result['seed']}, {format_duration(result['duration_s'])} simulated)"
        ),
        show_header=False,
    )
    table.add_column("figure", style="bold")
    table.add_column("value")
    for label, value in summary_rows(result):
        table.add_row(escape(label), escape(value))
    return table


def summary_rows(result: Result) -> list[tuple[str, str]]:
    """(figure, value) rows; a section appears only when the run has what it describes."""
    summary = result["summary"]
    rows: list[tuple[str, str]] = []
    for name, measure in summary["deployments"].items():
        rows.append((f"deployment/{name}", ""))
        for rollout in measure["rollouts"]:
            took = rollout["duration_s"]
            done = (
                f"completed at {format_clock(rollout['completed_s'])} (took {format_duration(took)})"
                if rollout["completed_s"] is not None and took is not None
                else "did not complete"
            )
            rows.append(
                (
                    f"  rollout to revision {rollout['revision']}",
                    f"started {format_clock(rollout['started_s'])}, {done}",
                )
            )
        rows += [
            ("  peak pods (not terminating)", str(measure["peak_pods"])),
            ("  min available during rollouts", _text(measure["min_available"])),
            ("  min ready and really serving", _text(measure["min_serving"])),
            (
                "  max surge / max unavailable",
                f"{measure['max_surge_observed']} / {measure['max_unavailable_observed']}",
            ),
            ("  progress deadline exceeded", "yes" if measure["progress_deadline_exceeded"] else "no"),
            ("  final revision / image", f"{_text(measure['final_revision'])} / {_text(measure['final_image'])}"),
        ]
    for name, argo in (summary.get("argo_rollouts") or {}).items():
        rows += argo_rows(name, argo)
    if summary["requests_total"]:
        rows.append(("requests / failed", f"{summary['requests_total']:,.0f} / {summary['errors_total']:,.0f}"))
        if summary["availability"] is not None:
            rows.append(("availability", f"{summary['availability'] * 100:.4g}%"))
        p99 = summary["p99_latency_max_s"]
        rows.append(("worst p99 latency (per scrape)", "-" if p99 is None else f"{p99 * 1000:.0f}ms"))
    for alert in summary["alerts"]:
        pending, firing = alert["first_pending_s"], alert["first_firing_s"]
        state = f"firing at {format_clock(firing)}" if firing is not None else "never fired"
        if pending != firing:
            state = f"pending at {format_clock(pending)}, {state}"
        rows.append((f"alert {alert['name']}", state))
    if summary["time_to_detect_s"] is not None:
        rows.append(("time to detect", format_duration(summary["time_to_detect_s"])))
    for row in summary.get("flags") or []:
        rows.append((f"flag {row['flag']}={row['cohort']}", flag_cohort_text(row["requests"], row["errors"])))
    peak = f"{summary['peak_pods']} ({summary['peak_pods_including_terminating']} counting terminating)"
    rows.append(("peak pods in the cluster", peak))
    return rows


def flag_cohort_text(sent: float, failed: float) -> str:
    """Requests / failed (ratio) of a flag cohort."""
    ratio = f" ({failed / sent:.2%})" if sent else ""
    return f"{sent:,.0f} / {failed:,.0f}{ratio}"


def argo_rows(name: str, argo: ArgoRollout) -> list[tuple[str, str]]:
    """What one Argo Rollout did, as (figure, value) rows: phases, steps, analysis verdicts, abort, failures."""
    rows = [(f"rollout/{name}", f"phase {argo['phase'] or '-'}")]
    if argo["phases"]:
        rows.append(("  phases", " → ".join(f"{p['phase']} {format_clock(p['t'])}" for p in argo["phases"])))
    for step in argo["steps_completed"]:
        rows.append(
            (f"  step {step['step']}/{step['of']}", f"{step['description']}, done at {format_clock(step['t'])}")
        )
    if argo["updated_s"] is not None:
        end = "did not complete"
        if argo["aborted_s"] is not None:
            end = f"aborted at {format_clock(argo['aborted_s'])}"
            if argo["time_to_abort_s"] is not None:
                end += f", {format_duration(argo['time_to_abort_s'])} after the update"
        elif argo["completed_s"] is not None:
            end = f"completed at {format_clock(argo['completed_s'])}"
        rows.append(("  update", f"started {format_clock(argo['updated_s'])}, {end}"))
    for run in argo["analysis_runs"]:
        rows.append((f"  analysis {run['name']}", analysis_text(run)))
    failed = argo["requests_failed_during_update"]
    if failed is not None:
        rows.append(("  failed requests during the update", f"{failed:,.0f}"))
    return rows


def analysis_text(run: AnalysisRun, most: int = 4) -> str:
    """An AnalysisRun's verdict and measurements: `Failed, 1 measurement: [0.05] at 4:20.3 failed (why)`."""
    measurements = run["measurements"]
    shown = [
        f"{m['value'] or '-'} at {format_clock(m['started_s'])}"
        + ("" if m["phase"] == "Successful" else f" {m['phase'].lower()}")
        for m in measurements[:most]
    ]
    if len(measurements) > most:
        shown.append(f"{len(measurements) - most} more")
    count = f"{len(measurements)} measurement{'s' * (len(measurements) != 1)}"
    text = f"{run['phase']}, {count}" + (": " + "; ".join(shown) if shown else "")
    return f"{text} ({run['message']})" if run["message"] else text


def expectations_table(result: Result) -> Table | None:
    """The verdicts of the scenario's expectations, like a test report; None when it has none."""
    from rich.markup import escape

    verdicts = result["summary"].get("expectations")
    if not verdicts:
        return None
    failed = failed_expectations(result)
    title = f"expectations: {len(verdicts) - failed} passed, {failed} failed"
    table = Table(title=title, title_style="bold red" if failed else "bold green")
    for column in ("expectation", "expected", "measured", "verdict"):
        table.add_column(column)
    for v in verdicts:
        style = "green" if v["verdict"] == "pass" else "bold red"
        cells = (escape(v[field]) for field in ("name", "expected", "shown"))
        table.add_row(*cells, f"[{style}]{v['verdict'].upper()}[/{style}]")
    return table


def failed_expectations(result: Result) -> int:
    return sum(v["verdict"] == "fail" for v in result["summary"].get("expectations") or [])


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def select_events(
    events: list[Event], since: float | None = None, until: float | None = None, reasons: Iterable[str] = ()
) -> list[Event]:
    """Events from `since` to `until` (inclusive, simulated seconds) with one of `reasons` (any, if none given)."""
    wanted = {reason.lower() for reason in reasons}
    return [
        e
        for e in events
        if (since is None or e["t"] >= since)
        and (until is None or e["t"] <= until)
        and (not wanted or e["reason"].lower() in wanted)
    ]


def print_run(result: Result, console: Console, quiet: bool = False, events: list[Event] | None = None) -> None:
    """The timeline (`events`, by default all of the run's), then the summary and the verdicts."""
    if not quiet:
        for line, warning in event_lines(result["events"] if events is None else events):
            console.print(
                line,
                style="yellow" if warning else None,
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
        console.print()
    console.print(summary_table(result))
    verdicts = expectations_table(result)
    if verdicts is not None:
        console.print(verdicts)


def print_query_answer(answer, console: Console, at: float | None) -> None:
    """A PromQL answer as promtool prints it: `{labels} value`, or per series its (time, value) points."""
    if isinstance(answer, float):
        console.print(f"scalar: {answer:g}" + (f" @ {format_clock(at)}" if at is not None else ""), highlight=False)
        return
    if not answer:
        console.print("(empty result)", highlight=False)
        return
    for item in answer:
        labels = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(item.labels.items()) if k != "__name__") + "}"
        name = item.labels.get("__name__", "")
        if hasattr(item, "points"):
            console.print(f"{name}{labels}", highlight=False, markup=False)
            for t, value in item.points:
                console.print(f"  {format_clock(t):>8}  {value:g}", highlight=False)
        else:
            console.print(f"{name}{labels}  {item.value:g}", highlight=False, markup=False)
