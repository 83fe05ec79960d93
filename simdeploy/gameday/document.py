"""The after-action record of a game day: the session's result document with a `gameday` section — the faults
revealed, every person's commands, the incident's figures against the runbook's predicted ones, the steps missed."""

from __future__ import annotations

from collections.abc import Callable

from simdeploy.delivery.runbook.incident import Slo, incident_figures
from simdeploy.gameday.commands import acknowledging_command, group_commands
from simdeploy.gameday.pager import Pager
from simdeploy.gameday.session import GameDaySession
from simdeploy.gameday.steps import expected_steps, match_steps, missed
from simdeploy.report.drill import distributions
from simdeploy.scenario.drill_build import build_drill
from simdeploy.scenario.gameday_loader import GameDay


def after_action(session: GameDaySession, status: str, predicted: dict | None) -> dict:
    """The session's result document plus its `gameday` section; `status` is completed or interrupted."""
    gameday = session.gameday
    result = session.server.result()
    log = result["session"]["requests"]["log"]
    commands = group_commands(log, session.roles)
    faults = [dict(record) for record in session.faults]
    fired = [f["fired_s"] for f in faults if f["fired_s"] is not None]
    fault_s = min(fired) if fired else None
    page_s = session.pager.page_s
    explicit = explicit_acknowledgement(session.pager, log)
    acknowledged = acknowledgement(commands, fault_s, page_s, explicit)
    slo = Slo(gameday.slo.availability, gameday.slo.window, gameday.slo.mitigation_hold)
    record = {"trigger_s": page_s, "acknowledged_s": acknowledged["at_s"] if acknowledged else None}
    incident = incident_figures(result, record, fault_s, slo)
    faulted = set(session.fault_actions)
    actions = [a for n, a in enumerate(result["actions"]) if n not in faulted]  # by hand: ctl do, the flag console
    steps = match_steps(expected_steps(gameday.drill), commands, actions, fault_s) if gameday.drill else []
    result["gameday"] = {
        "name": gameday.name,
        "status": status,
        "seed": gameday.seed,
        "players": list(gameday.spec.players),
        "observers": list(gameday.spec.observers),
        "faults": faults,
        "slo": {"availability": slo.availability, "window_s": slo.window, "mitigation_hold_s": slo.mitigation_hold},
        "runbook": runbook_name(gameday),
        "paged_by": session.pager.why,
        "acknowledged_by": acknowledged,
        "acknowledged_how": None if acknowledged is None else "explicit" if explicit else "first command",
        "incident": incident,
        "predicted": predicted,
        "commands": commands,
        "steps": steps,
        "missed": missed(steps),
    }
    return result


def runbook_name(gameday: GameDay) -> str | None:
    if gameday.drill is None:
        return None
    return gameday.drill.runbook.name or gameday.drill.name


def explicit_acknowledgement(pager: Pager, log: list[dict]) -> dict | None:
    """The page's acknowledgement, when somebody acknowledged it (`simdeploy ctl ack`): {user, command, at_s}."""
    if pager.acknowledged_by is None:
        return None
    command = acknowledging_command(log, pager.acknowledged_by) or "acknowledge page"
    return {"user": pager.acknowledged_by, "command": command, "at_s": pager.acknowledged_s}


def acknowledgement(
    commands: list[dict], fault_s: float | None, page_s: float | None, explicit: dict | None = None
) -> dict | None:
    """Who acknowledged, and when: the page's acknowledgement when somebody gave one (`explicit`), whatever the
    team did before it; else the first player's command after the fault, and never before the page (a team
    already at work when the page comes acknowledges it at once). {user, command, at_s}, or None."""
    if explicit is not None:
        return dict(explicit)
    if fault_s is None:
        return None
    first = next((c for c in commands if c["role"] == "player" and c["at_s"] >= fault_s), None)
    if first is None:
        return None
    at = first["at_s"] if page_s is None else max(first["at_s"], page_s)
    return {"user": first["user"], "command": first["command"], "at_s": round(at, 3)}


def predict(gameday: GameDay, progress: Callable[[int], None] | None = None) -> dict | None:
    """The runbook's figures as the simulation predicts them for this game day's world and faults: the drill run
    with simulated responders over `predict.seeds` seeds from the game day's seed; p50 and p90 of each figure."""
    if gameday.drill is None:
        return None
    seeds = gameday.spec.predict.seeds
    runs = []
    for offset in range(seeds):
        runs.append(build_drill(gameday.drill, gameday.seed + offset, record_pod_events=False).run()["drill"])
        if progress is not None:
            progress(offset + 1)
    spread = distributions(runs)
    return {
        "seeds": seeds,
        "first_seed": gameday.seed,
        "runs": spread["runs"],
        "passed": spread["passed"],
        "figures": spread["figures"],
    }
