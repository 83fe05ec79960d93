"""The after-action report of a game day: one self-contained HTML page, from the after-action document alone.

The faults revealed, the alerts, every person's commands on one timeline, the incident's figures against the
runbook's predicted ones, and what the runbook expected that nobody did.
"""

from __future__ import annotations

import base64

from simdeploy.k8s.duration import format_clock, format_duration
from simdeploy.report.drill import FIGURES
from simdeploy.report.gameday_figure import gameday_png
from simdeploy.report.html_parts import CSS, clock, esc, html_section, html_table
from simdeploy.report.scoreboard import command_line

EXTRA_CSS = """
tr.refused td { background: var(--fail-bg); }
tr.wrote td:first-child { box-shadow: inset 3px 0 0 #1f77b4; }
ul.missed li { color: var(--fail); font-weight: 600; }
"""


def render_gameday_report(document: dict) -> str:
    """The whole page; the same document always gives the same bytes."""
    gameday = document["gameday"]
    session = document["session"]
    title = f"{gameday['name']} — after-action report"
    people = ", ".join(gameday["players"]) + (
        f"; observers {', '.join(gameday['observers'])}" if gameday["observers"] else ""
    )
    meta = (
        f"world {document['scenario']} · seed {gameday['seed']} · {format_clock(session['simulated_s'])} played of "
        f"{format_clock(document['duration_s'])} ({gameday['status']}) · players {people}"
    )
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(meta)}</p>',
        _banner(gameday),
        _cards(gameday),
        _faults(gameday),
        _incident(gameday),
        _figure(document),
        _alerts(document),
        _steps(gameday),
        _commands(gameday),
    ]
    body = "\n".join(part for part in parts if part)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}{EXTRA_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
        "</main>\n</body>\n</html>\n"
    )
    return page.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _duration(seconds: float | None) -> str:
    return "never" if seconds is None else format_duration(seconds)


def _banner(gameday: dict) -> str:
    if gameday["runbook"] is None:
        return ""
    if not gameday["missed"]:
        return f'<div class="banner pass">✓ every step of the runbook {esc(gameday["runbook"])} was done</div>'
    names = ", ".join(esc(name) for name in gameday["missed"])
    return (
        f'<div class="banner fail">✗ {len(gameday["missed"])} step(s) of the runbook {esc(gameday["runbook"])} '
        f"nobody did<small>{names}</small></div>"
    )


def _cards(gameday: dict) -> str:
    incident = gameday["incident"]
    cards = [(label, _duration(incident[key]), incident[key] is None) for key, label, _ in FIGURES[:4]]
    cards.append(("errors served", f"{incident['errors']:,.0f}", incident["errors"] > 0))
    burned = incident["error_budget_burned"]
    cards.append(("error budget burned", "—" if burned is None else f"{burned:.2%}", bool(burned)))
    html = "".join(
        f'<div class="card{" bad" if bad else ""}"><div class="value{" words" if " " in value else ""}">{esc(value)}'
        f'</div><div class="label">{esc(label)}</div></div>'
        for label, value, bad in cards
    )
    return f'<div class="cards">{html}</div>'


def _faults(gameday: dict) -> str:
    rows = []
    for fault in gameday["faults"]:
        window = fault["window"]
        drawn = (
            "fixed"
            if window is None
            else f"drawn within {format_clock(window['from_s'])}–{format_clock(window['to_s'])}"
        )
        fired = (
            "did not fire (the game day ended before)" if fault["fired_s"] is None else format_clock(fault["fired_s"])
        )
        answers = "<br>".join(esc(m) for m in fault["messages"]) or "—"
        rows.append(
            f'<tr class="{"refused" if fault["failed"] else ""}"><td>{esc(fault["name"])}</td>'
            f"<td>{esc(format_clock(fault['at_s']))} ({esc(drawn)})</td><td>{esc(fired)}</td>"
            f"<td>{'<br>'.join(esc(a) for a in fault['actions'])}</td><td>{answers}</td></tr>"
        )
    return html_section("Faults (revealed)", html_table(["fault", "planned", "fired", "actions", "answer"], rows))


def _incident(gameday: dict) -> str:
    incident, predicted = gameday["incident"], gameday["predicted"]
    rows = [
        f"<tr><td>fault</td><td>{clock(incident['fault_s'])}</td><td>—</td><td>—</td>"
        f'<td class="muted">the first fault\'s moment</td></tr>',
    ]
    figures = [(key, label, meaning) for key, label, meaning in FIGURES]
    for key, label, meaning in figures:
        observed = incident[key]
        p50 = p90 = None
        if predicted is not None:
            p50, p90 = predicted["figures"][key]["p50"], predicted["figures"][key]["p90"]
        worse = observed is not None and p50 is not None and observed > p50
        cell = f'<td class="{"bad" if worse or observed is None else ""}">{esc(_duration(observed))}</td>'
        rows.append(
            f"<tr><td>{esc(label)}</td>{cell}<td>{esc(_duration(p50) if predicted else '—')}</td>"
            f'<td>{esc(_duration(p90) if predicted else "—")}</td><td class="muted">{esc(meaning)}</td></tr>'
        )
    errors = predicted["figures"]["errors"] if predicted else None
    rows.append(
        f"<tr><td>errors served</td><td>{incident['errors']:,.0f}</td>"
        f"<td>{_number(errors and errors['p50'])}</td><td>{_number(errors and errors['p90'])}</td>"
        '<td class="muted">failed requests from the fault to recovery</td></tr>'
    )
    budget = predicted["figures"]["error_budget_burned"] if predicted else None
    burned = incident["error_budget_burned"]
    slo = gameday["slo"]
    rows.append(
        f"<tr><td>error budget burned</td><td>{_percent(burned)}</td><td>{_percent(budget and budget['p50'])}</td>"
        f'<td>{_percent(budget and budget["p90"])}</td><td class="muted">of a {slo["availability"]:.3%} SLO\'s '
        f"{_window(slo['window_s'])} budget</td></tr>"
    )
    if predicted is None:
        note = "No runbook was given: nothing to predict the figures with."
    else:
        note = (
            f"Predicted: the runbook {esc(gameday['runbook'])} rehearsed in the simulation on the same world with the "
            f"same fault moments, by simulated responders, over {predicted['runs']} seeds from "
            f"{predicted['first_seed']} (p50 and p90; {predicted['passed']} of {predicted['runs']} passed the drill). "
        )
    paged = gameday["paged_by"]
    note += f" Detected: the page ({esc(paged) if paged else 'never paged'}). Acknowledged: {_acknowledged(gameday)}"
    table = html_table(["figure", "observed", "predicted p50", "predicted p90", "from"], rows)
    return html_section("Incident: the team against the runbook's prediction", f'<p class="muted">{note}</p>\n{table}')


def _acknowledged(gameday: dict) -> str:
    """How the acknowledgement was counted: the page acknowledged explicitly, else the first player's command."""
    ack = gameday["acknowledged_by"]
    if gameday["acknowledged_how"] == "explicit":
        return (
            f"{esc(ack['user'])} acknowledged the page with {esc(ack['command'])} at {esc(format_clock(ack['at_s']))}."
        )
    inferred = "the first command of a player after the fault, never before the page (nobody acknowledged the page)"
    return inferred + (f" — {esc(ack['user'])}: {esc(ack['command'])}." if ack else " — nobody acted.")


def _figure(document: dict) -> str:
    data = base64.b64encode(gameday_png(document)).decode("ascii")
    alt = "Error ratio, then one lane per person with their commands; the fault, alerts and incident moments marked"
    return html_section("Timeline", f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">', "figure")


def _alerts(document: dict) -> str:
    rows = []
    episodes: dict[str, dict] = {}
    for event in document["events"]:
        reason = event["reason"]
        if event["kind"] != "Alert" or reason not in ("AlertPending", "AlertFiring", "AlertResolved"):
            continue
        name = event["name"]
        if reason == "AlertPending" or (reason == "AlertFiring" and name not in episodes):
            if name in episodes:
                rows.append(_alert_row(name, episodes.pop(name)))
            episodes[name] = {"pending": event["t"] if reason == "AlertPending" else None, "firing": None}
        if reason == "AlertFiring":
            episodes[name]["firing"] = event["t"]
        elif reason == "AlertResolved" and name in episodes:
            rows.append(_alert_row(name, {**episodes.pop(name), "resolved": event["t"]}))
    rows += [_alert_row(name, episode) for name, episode in episodes.items()]
    if not rows:
        return html_section("Alerts", '<p class="muted">No alert went pending.</p>')
    return html_section("Alerts", html_table(["alert", "pending", "firing", "resolved"], rows))


def _alert_row(name: str, episode: dict) -> str:
    firing = episode.get("firing")
    fired = f'<td class="bad">{clock(firing)}</td>' if firing is not None else '<td class="muted">never</td>'
    resolved = episode.get("resolved")
    return (
        f"<tr><td>{esc(name)}</td><td>{clock(episode.get('pending'))}</td>{fired}"
        f"<td>{clock(resolved) if resolved is not None else 'still at the end'}</td></tr>"
    )


def _steps(gameday: dict) -> str:
    if gameday["runbook"] is None:
        return ""
    rows = []
    for step in gameday["steps"]:
        done = step["done_by"]
        who = "—" if done is None else f"{done['user']} at {format_clock(done['at_s'])}: {done['command']}"
        status = {"done": "pass", "not done": "fail"}.get(step["status"], "")
        when = f' <span class="muted">(only when {esc(step["when"])})</span>' if step["when"] else ""
        rows.append(
            f"<tr><td>{esc(step['name'])}{when}</td><td>{esc(step['text'])}</td><td>{esc(who)}</td>"
            f'<td><span class="badge {status}">{esc(step["status"])}</span></td></tr>'
        )
    table = html_table(["step", "the runbook says", "done by", "status"], rows)
    conditional = [s["name"] for s in gameday["steps"] if s["status"] == "not done" and s["when"]]
    missed = "".join(f"<li>{esc(name)}</li>" for name in gameday["missed"])
    html = table + "\n<h3>What the runbook expected but nobody did</h3>\n"
    html += f'<ul class="missed">{missed}</ul>' if missed else '<p class="muted">Nothing: every step was done.</p>'
    if conditional:
        html += f'<p class="muted">Not done, but only needed in some cases: {esc(", ".join(conditional))}.</p>'
    note = (
        '<p class="muted">A step is done by the first player command after the fault with the same kubectl command '
        "on the same object (kubectl's Kubectl-Command header), or from another client the same kind of request "
        "on it; a flag step by a player's switch on the flag console (or the facilitator's action), a route step "
        "by the facilitator's action.</p>"
    )
    return html_section(f"Runbook: {gameday['runbook']}", note + html)


def _commands(gameday: dict) -> str:
    rows = []
    for command in gameday["commands"]:
        codes = ", ".join(f"{code} ×{n}" for code, n in sorted(command["codes"].items()))
        css = "refused" if command["refused"] else "wrote" if command["wrote"] else ""
        rows.append(
            f'<tr class="{css}"><td class="time">{clock(command["at_s"])}</td><td>{esc(command["user"])}</td>'
            f"<td>{esc(command['role'])}</td><td>{esc(command_line(command).split('  ', 1)[1])}</td>"
            f"<td>{esc(codes)}</td></tr>"
        )
    if not rows:
        return html_section("Commands", '<p class="muted">Nobody sent a command.</p>')
    table = html_table(["time", "who", "role", "command and what it touched", "answers"], rows)
    return html_section("Commands", table)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _window(seconds: float) -> str:
    return format_duration(seconds) if seconds < 86400 else f"{seconds / 86400:g}d"
