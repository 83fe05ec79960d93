"""The game day's scoreboard, from one snapshot of the session: a rich panel for a terminal, plain lines for a log.

It shows what a team on call would see on its dashboards — time, SLO burn, alerts, the time since the fault once
it has come, the page and who acknowledged it — and the last commands of each person; the facilitator's hidden
plan only with `reveal`.
"""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from simdeploy.k8s.duration import format_clock, format_duration

LAST_COMMANDS = 5  # per person


def board_lines(snapshot: dict, reveal: bool = False, last: int = LAST_COMMANDS) -> list[str]:
    """The whole board as plain text lines."""
    lines = [header(snapshot), slo_line(snapshot), alerts_line(snapshot), fault_line(snapshot), page_line(snapshot)]
    if reveal:
        lines += plan_lines(snapshot)
    for person, role in people(snapshot):
        commands = commands_of(snapshot, person)
        lines.append(f"{person} ({role}): " + (f"{len(commands)} commands" if commands else "no commands yet"))
        lines += [f"  {command_line(c)}" for c in commands[-last:]]
    return lines


def header(snapshot: dict) -> str:
    paused = ", paused" if snapshot["paused"] else ""
    return (
        f"{snapshot['name']} — {format_clock(snapshot['now_s'])} of {format_clock(snapshot['duration_s'])} "
        f"({snapshot['speed']:g}x{paused})"
    )


def slo_line(snapshot: dict) -> str:
    availability = snapshot["availability"]
    burn = snapshot["burn_rate"]
    budget = snapshot["budget_burned"]
    return (
        f"SLO {snapshot['slo']:.3%}: availability {'-' if availability is None else f'{availability:.3%}'}"
        f" · burn rate {'-' if burn is None else f'{burn:.1f}x'} over {format_duration(snapshot['burn_window_s'])}"
        f" · error budget burned {'-' if budget is None else f'{budget:.2%}'}"
    )


def alerts_line(snapshot: dict) -> str:
    alerts = snapshot["alerts"]
    if not alerts:
        return "alerts: none"
    return "alerts: " + ", ".join(f"{a['name']} {a['state']}" for a in alerts)


def fault_line(snapshot: dict) -> str:
    """The time since the fault, once it has come (and nothing about when it will)."""
    fired = [f["fired_s"] for f in snapshot["faults"] if f["fired_s"] is not None]
    if not fired:
        return "fault: -"
    since = f"fault: {format_duration(snapshot['now_s'] - min(fired))} ago"
    page = snapshot["page_s"]
    return since + ("" if page is None else f" · paged {format_duration(snapshot['now_s'] - page)} ago")


def page_line(snapshot: dict) -> str:
    """`page: 3:45.0 alert X firing — acknowledged by alice at 4:02.5` (or `— not acknowledged`; `page: -` before)."""
    page = snapshot["page"]
    if page["state"] == "none":
        return "page: -"
    text = f"page: {format_clock(page['triggered_s'])} {page['why']} — "
    if page["state"] == "triggered":
        return text + "not acknowledged"
    return text + f"acknowledged by {page['acknowledged_by']} at {format_clock(page['acknowledged_s'])}"


def plan_lines(snapshot: dict) -> list[str]:
    """The facilitator's plan: each fault, its moment (and the window it was drawn from), whether it fired."""
    lines = []
    for fault in snapshot["faults"]:
        drawn = ""
        if fault["window"] is not None:
            window = fault["window"]
            drawn = f" (drawn within {format_clock(window['from_s'])}-{format_clock(window['to_s'])})"
        if fault["fired_s"] is not None:
            state = "fired" + (" with errors" if fault["failed"] else "")
        else:
            state = f"in {format_duration(fault['at_s'] - snapshot['now_s'])}"
        lines.append(f"plan: {fault['name']} at {format_clock(fault['at_s'])}{drawn}: {state}")
        lines += [f"  {action}" for action in fault["actions"]]
    return lines


def people(snapshot: dict) -> list[tuple[str, str]]:
    return [(name, "player") for name in snapshot["players"]] + [(name, "observer") for name in snapshot["observers"]]


def commands_of(snapshot: dict, person: str) -> list[dict]:
    return [c for c in snapshot["commands"] if c["user"] == person]


def command_line(command: dict) -> str:
    """`6:20.0  kubectl rollout undo deployments/payments-api (wrote)`."""
    objects = [t for t in command["targets"] if "/" in t] or command["targets"]
    shown = ", ".join(objects[:3]) + (f" (+{len(objects) - 3})" if len(objects) > 3 else "")
    notes = [n for n, on in (("wrote", command["wrote"]), ("refused", command["refused"])) if on]
    text = f"{format_clock(command['at_s'])}  {command['command']}"
    return text + (f" {shown}" if shown else "") + (f" ({', '.join(notes)})" if notes else "")


def status_line(snapshot: dict) -> str:
    """One line for a log, every few seconds."""
    return " · ".join(
        [f"{format_clock(snapshot['now_s'])}/{format_clock(snapshot['duration_s'])}", slo_line(snapshot)]
        + [alerts_line(snapshot), fault_line(snapshot)]
    )


def changes(before: dict | None, now: dict, reveal: bool = False) -> list[str]:
    """What happened between two snapshots, one plain line each: new commands, alerts changing, the fault coming."""
    lines = []
    seen = {_key(c) for c in before["commands"]} if before else set()
    for command in now["commands"]:
        if _key(command) not in seen:
            lines.append(f"{command['user']}: {command_line(command)}")
    states = {a["name"]: a["state"] for a in before["alerts"]} if before else {}
    for alert in now["alerts"]:
        if states.get(alert["name"]) != alert["state"]:
            since = alert["since_s"] if alert["since_s"] is not None else now["now_s"]
            lines.append(f"{format_clock(since)}  alert {alert['name']} {alert['state']}")
    fired_before = {f["name"] for f in before["faults"] if f["fired_s"] is not None} if before else set()
    for fault in now["faults"]:
        if fault["fired_s"] is not None and fault["name"] not in fired_before:
            what = f": {fault['name']}" if reveal else ""
            lines.append(f"{format_clock(fault['fired_s'])}  the fault has come{what}")
    if before is not None and before["page_s"] is None and now["page_s"] is not None:
        lines.append(f"{format_clock(now['page_s'])}  paged")
    page = now["page"]
    if before is not None and before["page"]["acknowledged_by"] is None and page["acknowledged_by"] is not None:
        lines.append(f"{format_clock(page['acknowledged_s'])}  page acknowledged by {page['acknowledged_by']}")
    return lines


def _key(command: dict) -> tuple:
    return command["user"], command["session"] or command["command"], command["wall_s"]


def board(snapshot: dict, reveal: bool = False, last: int = LAST_COMMANDS) -> Panel:
    """The board for a terminal (rich Live)."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("SLO", slo_line(snapshot).split(": ", 1)[1])
    firing = any(a["state"] == "firing" for a in snapshot["alerts"])
    facts.add_row("alerts", Text(alerts_line(snapshot).split(": ", 1)[1], style="bold red" if firing else ""))
    facts.add_row("fault", fault_line(snapshot).split(": ", 1)[1])
    facts.add_row("page", page_line(snapshot).split(": ", 1)[1])
    parts: list = [facts]
    if reveal:
        parts.append(Text("\n".join(plan_lines(snapshot)), style="dim"))
    commands = Table(show_header=True, header_style="bold", expand=True, box=None)
    commands.add_column("who", no_wrap=True)
    commands.add_column("last commands", ratio=1)  # the names keep their width; the commands take the rest
    for person, role in people(snapshot):
        mine = commands_of(snapshot, person)[-last:]
        text = Text("\n".join(command_line(c) for c in mine) or "no commands yet")
        commands.add_row(f"{person}\n({role})", text)
    parts.append(commands)
    return Panel(Group(*parts), title=header(snapshot), title_align="left")
