"""Terminal output of a run: the event timeline like `kubectl get events`, and the summary table."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from simdeploy.k8s.duration import format_duration


def format_clock(seconds: float) -> str:
    """Simulated time as m:ss.s (or h:mm:ss), the way a game-day log reads."""
    minutes, secs = divmod(seconds, 60)
    if minutes >= 60:
        hours, minutes = divmod(int(minutes), 60)
        return f"{hours}:{minutes:02d}:{secs:04.1f}"
    return f"{int(minutes)}:{secs:04.1f}"


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
        key = (e["kind"], e["name"], e["reason"], e["message"])
        folded = first.get(key)
        if folded is None:
            first[key] = FoldedEvent(e, 1, e["t"])
        else:
            folded.count += 1
            folded.last = e["t"]
    return list(first.values())


def event_lines(events: list[dict]) -> list[tuple[str, bool]]:
    """The timeline as aligned text lines (like kubectl's tab writer), each with a warning flag.

    Repeats of an event fold into its first line: "(x12, last 3:55.0)".
    """
    folded = fold_events(events)
    rows = [
        [format_clock(f.event["t"]), f.event.get("type", "Normal"), f.event["reason"], object_name(f.event)]
        for f in folded
    ]
    header = ["TIME", "TYPE", "REASON", "OBJECT"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [("   ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)) + "   MESSAGE", False)]
    for f, row in zip(folded, rows, strict=True):
        text = "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        message = (
            f.event["message"] if f.count == 1 else f"{f.event['message']} (x{f.count}, last {format_clock(f.last)})"
        )
        lines.append((f"{text}   {message}", row[1] == "Warning"))
    return lines


def object_name(event: dict) -> str:
    return f"{event['kind'].lower()}/{event['name']}"


def summary_table(result: dict) -> Table:
    summary = result["summary"]
    table = Table(
        title=f"{result['scenario']} (seed {result['seed']}, {format_duration(result['duration_s'])} simulated)",
        show_header=False,
    )
    table.add_column("figure", style="bold")
    table.add_column("value")
    for name, measure in summary["deployments"].items():
        table.add_row(f"deployment/{name}", "")
        for rollout in measure["rollouts"]:
            took = rollout["duration_s"]
            done = (
                f"completed at {format_clock(rollout['completed_s'])} (took {took:.1f}s)"
                if took is not None
                else "did not complete"
            )
            table.add_row(
                f"  rollout to revision {rollout['revision']}",
                f"started {format_clock(rollout['started_s'])}, {done}",
            )
        table.add_row("  peak pods (not terminating)", str(measure["peak_pods"]))
        table.add_row("  min available during rollouts", _text(measure["min_available"]))
        table.add_row("  min ready and really serving", _text(measure["min_serving"]))
        table.add_row(
            "  max surge / max unavailable",
            f"{measure['max_surge_observed']} / {measure['max_unavailable_observed']}",
        )
        table.add_row("  progress deadline exceeded", "yes" if measure["progress_deadline_exceeded"] else "no")
        table.add_row("  final revision / image", f"{measure['final_revision']} / {measure['final_image']}")
    if summary.get("requests_total"):
        table.add_row("requests / failed", f"{summary['requests_total']:,.0f} / {summary['errors_total']:,.0f}")
        table.add_row("availability", f"{summary['availability'] * 100:.4g}%")
        p99 = summary.get("p99_latency_max_s")
        table.add_row("worst p99 latency (per scrape)", "-" if p99 is None else f"{p99 * 1000:.0f}ms")
    for alert in summary.get("alerts") or []:
        pending, firing = alert.get("first_pending_s"), alert.get("first_firing_s")
        state = f"firing at {format_clock(firing)}" if firing is not None else "never fired"
        if pending is not None and pending != firing:
            state = f"pending at {format_clock(pending)}, {state}"
        table.add_row(f"alert {alert['name']}", state)
    if summary.get("time_to_detect_s") is not None:
        table.add_row("time to detect", format_duration(summary["time_to_detect_s"]))
    for row in summary.get("flags") or []:
        ratio = f" ({row['errors'] / row['requests']:.2%})" if row["requests"] else ""
        table.add_row(f"flag {row['flag']}={row['cohort']}", f"{row['requests']:,.0f} / {row['errors']:,.0f}{ratio}")
    table.add_row(
        "peak pods in the cluster",
        f"{summary['peak_pods']} ({summary['peak_pods_including_terminating']} counting terminating)",
    )
    return table


def expectations_table(result: dict) -> Table | None:
    """The verdicts of the scenario's expectations, like a test report; None when it has none."""
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
        table.add_row(v["name"], v["expected"], v["shown"], f"[{style}]{v['verdict'].upper()}[/{style}]")
    return table


def failed_expectations(result: dict) -> int:
    return sum(v["verdict"] == "fail" for v in result["summary"].get("expectations") or [])


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def print_run(result: dict, console: Console, quiet: bool = False) -> None:
    if not quiet:
        for line, warning in event_lines(result["events"]):
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
