"""The HTML report of a run: one self-contained page with verdicts, figures, the timeline figure and the events."""

from __future__ import annotations

import base64

from simdeploy.k8s.duration import format_clock, format_duration
from simdeploy.report.html_parts import CSS, clock, esc, html_section, html_table
from simdeploy.report.marks import version_name
from simdeploy.report.plot import figure_png, replica_sets
from simdeploy.report.timeline import flag_cohort_text, fold_events, object_name, several_namespaces
from simdeploy.sim.result import Action, Alert, ArgoRollout, Event, Expectation, FlagRow, Result, Summary

# Operator actions: their rows in the event table stand out (alerts and warnings have their own colours).
ACTIONS = {
    "SetImage", "RolloutUndo", "Scale", "Pause", "Resume", "Patch", "SetWeights", "BehaviourChanged", "Apply",
    "NodeNotSchedulable", "NodeSchedulable", "NodeFailure", "Deleted", "FlagEnabled", "FlagDisabled",
    "FlagRolloutSet", "RolloutRetried",
}  # fmt: skip


def render_report(result: Result) -> str:
    """The whole page, from the result document alone: the same document always gives the same bytes."""
    summary = result["summary"]
    title = f"{result['scenario']} — simdeploy report"
    meta = f"seed {result['seed']} · {format_duration(result['duration_s'])} simulated"
    parts = [
        f"<h1>{esc(result['scenario'])}</h1>",
        f'<p class="meta">{esc(meta)}</p>',
        _banner(summary.get("expectations")),
        _cards(summary),
        _summary_table(summary),
        _expectations(summary.get("expectations")),
        _alerts(summary["alerts"]),
        _rollouts(result),
        _argo(summary.get("argo_rollouts") or {}),
        _flags(summary.get("flags") or []),
        _service_graph(result),
        _actions(result["actions"]),
        _figure(result),
        _events(result["events"]),
    ]
    body = "\n".join(part for part in parts if part)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return page.encode("ascii", "xmlcharrefreplace").decode("ascii")  # reads the same whatever encoding saves it


def _banner(expectations: list[Expectation] | None) -> str:
    if not expectations:
        return ""
    failed = [e for e in expectations if e.get("verdict") != "pass"]
    if not failed:
        return f'<div class="banner pass">✓ PASS — all {len(expectations)} expectations met</div>'
    names = ", ".join(esc(e.get("name", "?")) for e in failed)
    return (
        f'<div class="banner fail">✗ FAIL — {len(failed)} of {len(expectations)} expectations failed'
        f"<small>{names}</small></div>"
    )


def _cards(summary: Summary) -> str:
    """The figures a reader looks for first, as large numbers."""
    cards: list[tuple[str, str, bool]] = []
    if summary.get("availability") is not None:
        cards.append(("availability", _percent(summary["availability"]), summary["availability"] < 1))
        errors = summary.get("errors_total") or 0
        cards.append(("errors served", _count(errors), errors > 0))
    if summary.get("p99_latency_max_s") is not None:
        cards.append(("worst p99 latency", f"{summary['p99_latency_max_s'] * 1000:.0f} ms", False))
    if summary.get("alerts") or summary.get("time_to_detect_s") is not None:  # only when there are alerts
        detect = summary.get("time_to_detect_s")
        cards.append(("time to detect", "not detected" if detect is None else format_duration(detect), detect is None))
    rollouts = summary["rollouts"] if summary["deployments"] else []
    if rollouts:
        took = rollouts[-1]["duration_s"]
        cards.append(("last rollout took", "did not complete" if took is None else format_duration(took), took is None))
    for name, argo in (summary.get("argo_rollouts") or {}).items():
        if argo["aborted_s"] is not None and argo["time_to_abort_s"] is not None:
            cards.append((f"{name} aborted after", format_duration(argo["time_to_abort_s"]), True))
    if summary["deployments"]:
        cards.append(("min available", _text(summary["min_available"]), False))
        cards.append(("min really serving", _text(summary["min_serving"]), False))
    cards.append(("peak pods", _text(summary["peak_pods"]), False))
    html = "".join(
        f'<div class="card{" bad" if bad else ""}"><div class="value{" words" if " " in value else ""}">{esc(value)}'
        f'</div><div class="label">{esc(label)}</div></div>'
        for label, value, bad in cards
        if value != "—"
    )
    return f'<div class="cards">{html}</div>'


def _percent(fraction: float) -> str:
    shown = f"{fraction * 100:.4g}"
    return f"{fraction * 100:.6g}%" if shown == "100" and fraction < 1 else f"{shown}%"


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _summary_table(summary: Summary) -> str:
    deployments = summary["deployments"]
    fields = [
        ("rollout complete at", lambda m: clock(m.get("rollout_complete_s"))),
        ("peak pods (not terminating)", lambda m: _text(m.get("peak_pods"))),
        ("peak pods counting terminating", lambda m: _text(m.get("peak_pods_including_terminating"))),
        ("min available during rollouts", lambda m: _text(m.get("min_available"))),
        ("min ready and really serving", lambda m: _text(m.get("min_serving"))),
        ("max surge observed", lambda m: _text(m.get("max_surge_observed"))),
        ("max unavailable observed", lambda m: _text(m.get("max_unavailable_observed"))),
        ("progress deadline exceeded", lambda m: _text(m.get("progress_deadline_exceeded"))),
        ("final revision", lambda m: _text(m.get("final_revision"))),
        ("final image", lambda m: _text(m.get("final_image"))),
    ]
    rows = []
    for label, value in fields if deployments else []:
        cells = "".join(f'<td class="{_flag(label, m)}">{esc(value(m))}</td>' for m in deployments.values())
        rows.append(f"<tr><td>{esc(label)}</td>{cells}</tr>")
    availability, p99 = summary.get("availability"), summary.get("p99_latency_max_s")
    peak = f"{summary.get('peak_pods')} ({summary.get('peak_pods_including_terminating')} counting terminating)"
    cluster = [("peak pods in the cluster", peak)]
    if summary.get("requests_total"):
        cluster += [
            ("requests sent", _count(summary["requests_total"])),
            ("errors served", _count(summary.get("errors_total") or 0)),
            ("availability", "—" if availability is None else _percent(availability)),
            ("worst p99 latency", "—" if p99 is None else f"{p99 * 1000:.0f} ms"),
        ]
    if summary.get("alerts") or summary.get("time_to_detect_s") is not None:  # only when there are alerts
        detect = summary.get("time_to_detect_s")
        cluster.append(
            ("time to detect", "no alert fired after the change" if detect is None else format_duration(detect))
        )
    span = max(len(deployments), 1)
    rows += [f'<tr><td>{esc(label)}</td><td colspan="{span}">{esc(value)}</td></tr>' for label, value in cluster]
    header = ["figure", *(f"deployment/{name}" for name in deployments)] if deployments else ["figure", "value"]
    return html_section("Summary", html_table(header, rows))


def _flag(label: str, measure: dict) -> str:
    return "bad" if label == "progress deadline exceeded" and measure.get("progress_deadline_exceeded") else ""


def _expectations(expectations: list[Expectation] | None) -> str:
    if not expectations:
        return ""
    rows = []
    for e in expectations:
        verdict = "pass" if e.get("verdict") == "pass" else "fail"
        measured = e.get("shown", _text(e.get("measured")))
        rows.append(
            f"<tr><td>{esc(e.get('name', ''))}</td><td>{esc(e.get('expected', ''))}</td><td>{esc(measured)}</td>"
            f'<td><span class="badge {verdict}">{esc(e.get("verdict", verdict))}</span></td></tr>'
        )
    return html_section("Expectations", html_table(["expectation", "expected", "measured", "verdict"], rows))


def _alerts(alerts: list[Alert]) -> str:
    if not alerts:
        return ""
    rows = []
    for a in alerts:
        labels = ", ".join(f"{k}={v}" for k, v in (a.get("labels") or {}).items()) or "—"
        fired = a.get("first_firing_s")
        firing = f'<td class="bad">{clock(fired)}</td>' if fired is not None else '<td class="muted">never</td>'
        rows.append(
            f"<tr><td>{esc(a.get('name', ''))}</td><td>{esc(labels)}</td><td>{clock(a.get('first_pending_s'))}</td>"
            f"{firing}<td>{clock(a.get('resolved_s'))}</td></tr>"
        )
    return html_section("Alerts", html_table(["alert", "labels", "first pending", "first firing", "resolved"], rows))


def _rollouts(result: Result) -> str:
    versions = {}
    for line in replica_sets(result):
        for revision in line.revisions:
            if line.image:
                versions[(line.owner, revision)] = version_name(result, line.image)
    rows = []
    for name, measure in result["summary"]["deployments"].items():
        for r in measure["rollouts"]:
            took = r["duration_s"]
            done = '<td colspan="2" class="bad">did not complete</td>'
            if took is not None:
                done = f'<td>{clock(r["completed_s"])}</td><td class="num">{esc(format_duration(took))}</td>'
            version = versions.get((name, r["revision"]), "—")
            rows.append(
                f"<tr><td>deployment/{esc(name)}</td><td>{esc(r['revision'])}</td><td>{esc(version)}</td>"
                f"<td>{clock(r['started_s'])}</td>{done}</tr>"
            )
    if not rows:
        return ""
    return html_section(
        "Rollouts", html_table(["deployment", "revision", "version", "started", "completed", "took"], rows)
    )


def _argo(rollouts: dict[str, ArgoRollout]) -> str:
    """Per Argo Rollout: its update, phases, steps and each AnalysisRun's verdict with its measurements."""
    parts = []
    for name, argo in rollouts.items():
        facts = [("phase now", argo["phase"] or "—")]
        if argo["updated_s"] is not None:
            facts.append(("update started", clock(argo["updated_s"])))
        if argo["completed_s"] is not None:
            facts.append(("completed", clock(argo["completed_s"])))
        if argo["aborted_s"] is not None:
            after = argo["time_to_abort_s"]
            facts.append(
                (
                    "aborted",
                    clock(argo["aborted_s"])
                    + ("" if after is None else f" ({format_duration(after)} after the update)"),
                )
            )
        if argo["requests_failed_during_update"] is not None:
            facts.append(("failed requests during the update", _count(argo["requests_failed_during_update"])))
        phases = " → ".join(f"{p['phase']} {format_clock(p['t'])}" for p in argo["phases"])
        if phases:
            facts.append(("phases", phases))
        rows = [f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>" for label, value in facts]
        html = html_table(["figure", "value"], rows)
        steps = [
            f"<tr><td>{s['step']}/{s['of']}</td><td>{esc(s['description'])}</td><td>{clock(s['t'])}</td></tr>"
            for s in argo["steps_completed"]
        ]
        if steps:
            html += "\n<h3>Steps completed</h3>\n" + html_table(["step", "what", "done at"], steps)
        for run in argo["analysis_runs"]:
            verdict = "pass" if run["phase"] == "Successful" else "fail" if run["phase"] in ("Failed", "Error") else ""
            badge = f'<span class="badge {verdict}">{esc(run["phase"] or "—")}</span>'
            measured = [
                f"<tr><td>{clock(m['started_s'])}</td><td>{esc(m['metric'])}{' (dry run)' * m['dry_run']}</td>"
                f"<td>{esc(m['value'] or '—')}</td><td>{esc(m['phase'])}</td><td>{esc(m['message'])}</td></tr>"
                for m in run["measurements"]
            ]
            message = f' <span class="muted">{esc(run["message"])}</span>' if run["message"] else ""
            html += f"\n<h3>AnalysisRun {esc(run['name'])} {badge}{message}</h3>\n"
            html += html_table(["measured at", "metric", "value", "phase", "message"], measured) if measured else ""
        parts.append(html_section(f"Argo Rollout {name}", html))
    return "\n".join(parts)


def _flags(rows: list[FlagRow]) -> str:
    """Requests and failures per flag cohort: a variant's errors show here even when the totals hide them."""
    if not rows:
        return ""
    cells = [
        f"<tr><td>{esc(r['flag'])}</td><td>{esc(r['cohort'])}</td>"
        f'<td class="num">{esc(flag_cohort_text(r["requests"], r["errors"]))}</td></tr>'
        for r in rows
    ]
    return html_section("Feature flags", html_table(["flag", "cohort", "requests / failed (ratio)"], cells))


def _service_graph(result: Result) -> str:
    """The service graph drawn (failing edges in red), each Service's and edge's figures, rollouts' blast radius."""
    summary = result["summary"]
    if not summary.get("services"):
        return ""
    from simdeploy.report.graph_figure import failing, graph_png

    data = base64.b64encode(graph_png(result)).decode("ascii")
    html = f'<div class="figure"><img alt="Service graph" src="data:image/png;base64,{data}"></div>'
    rows = [
        f'<tr><td>{esc(name)}</td><td>{esc(s["workload"])}</td><td class="num">{_count(s["requests"])}</td>'
        f'<td class="num">{_count(s["errors"])}</td>'
        f"<td>{'—' if s['availability'] is None else _percent(s['availability'])}</td>"
        f"<td>{_ms(s['p99_latency_max_s'])}</td>"
        f'<td class="num">{_count(s["fallbacks"])}</td><td class="num">{_count(s["degraded"])}</td></tr>'
        for name, s in summary["services"].items()
    ]
    header = ["service", "workload", "requests", "errors", "availability", "worst p99", "fallbacks", "degraded"]
    html += "\n<h3>Services</h3>\n" + html_table(header, rows)
    rows = [
        f'<tr class="{"warning" if failing(e) else ""}"><td>{esc(e["caller"])} → {esc(e["callee"])}</td>'
        + "".join(
            f'<td class="num">{_count(e[k])}</td>'
            for k in ("calls", "failed", "attempts", "retries", "retries_denied", "timeouts", "skipped")
        )
        + f"<td>{_ms(e['mean_latency_s'])}</td></tr>"
        for e in summary.get("edges") or []
    ]
    header = ["call", "calls", "failed", "attempts", "retries", "denied", "timeouts", "skipped", "mean"]
    html += "\n<h3>Calls</h3>\n" + html_table(header, rows, "events")
    rows = [
        f"<tr><td>{esc(b['service'])} ({esc(b['workload'])})</td><td>{clock(b['started_s'])}–{clock(b['ended_s'])}</td>"
        f"<td>{esc(', '.join(f['service'] for f in b['felt_by']) or 'nobody')}</td></tr>"
        for b in summary.get("blast_radius") or []
    ]
    if rows:
        html += "\n<h3>Blast radius of each rollout</h3>\n" + html_table(["rolled out", "while", "felt by"], rows)
    return html_section("Service graph", html)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f} ms"


def _actions(actions: list[Action]) -> str:
    if not actions:
        return ""
    rows = [
        f'<tr class="{"warning" if a["failed"] else ""}"><td class="time">{clock(a["t"])}</td>'
        f"<td>{esc(a['action'])}</td><td>{esc(a['target'] or '—')}</td><td>{esc(a['message'])}</td></tr>"
        for a in actions
    ]
    return html_section("Operator actions", html_table(["time", "action", "target", "answer"], rows, "events"))


def _figure(result: Result) -> str:
    data = base64.b64encode(figure_png(result)).decode("ascii")
    alt = "Timeline: pods per ReplicaSet" + (
        ", traffic share, error ratio and p99 latency" if result["traffic"] else ""
    )
    return html_section("Timeline", f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">', "figure")


def _events(events: list[Event]) -> str:
    """The event table: repeats folded as in the terminal timeline, one cell per column."""
    rows = []
    namespaced = several_namespaces(events)
    for folded in fold_events(events):
        event = folded.event
        reason, warning = event["reason"], event.get("type") == "Warning"
        extra = ""
        if folded.count > 1:
            extra = f' <span class="repeats">×{folded.count}, last {esc(format_clock(folded.last))}</span>'
        css = "alert" if reason == "AlertFiring" else "warning" if warning else "action" if reason in ACTIONS else ""
        where = event.get("namespace") if namespaced else None  # several namespaces: say each object's
        in_namespace = f'<br><span class="namespace">in {esc(where)}</span>' if where else ""
        rows.append(
            f'<tr class="{css}"><td class="time">{esc(format_clock(event["t"]))}</td>'
            f'<td class="type">{esc(event.get("type", "Normal"))}</td>'
            f'<td class="reason">{esc(reason)}</td><td class="object">{esc(object_name(event))}{in_namespace}</td>'
            f'<td class="message">{esc(event["message"])}{extra}</td></tr>'
        )
    count = f'<p class="muted">{len(events)} events; repeats of an event are folded into its first row.</p>'
    return html_section("Events", count + html_table(["time", "type", "reason", "object", "message"], rows, "events"))
