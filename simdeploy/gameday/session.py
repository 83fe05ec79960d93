"""A game day in progress: the world served to the team, the hidden faults fired on time, the page watched, and
what the scoreboard shows, read between two steps of the simulation."""

from __future__ import annotations

from pathlib import Path

from simdeploy.apiserver import ApiServer
from simdeploy.apiserver.users import OBSERVER, PLAYER
from simdeploy.gameday.commands import group_commands
from simdeploy.gameday.pager import Pager
from simdeploy.scenario.build import build, describe, scheduled_action
from simdeploy.scenario.drill_build import runbook_of
from simdeploy.scenario.gameday_loader import Fault, GameDay
from simdeploy.sim.simulation import ACTION_ERRORS

BURN_WINDOW = 300.0  # simulated seconds: the scoreboard's burn rate, over the fast window of SRE burn-rate alerts
# Narration of the facilitator's injection about things that are no Kubernetes object the team could look at:
# after a fault, what else is said about them (a flag's propagation) stays the facilitator's too.
_PRIVATE_KINDS = ("Flag", "Version", "Route", "Action")
_ALERT_MOMENTS = ("AlertPending", "AlertFiring", "AlertResolved")


class GameDaySession:
    """`start()` serves the world with one identity per player and observer; the faults fire at their moments,
    unseen: their timeline events are shown to the admin only (`ApiServer.private_events`)."""

    def __init__(
        self,
        gameday: GameDay,
        kubeconfig_dir: Path,
        speed: float | None = None,
        address: str = "127.0.0.1",
        port: int = 0,
    ):
        self.gameday = gameday
        sim = build(gameday.world, gameday.seed)
        users = {name: PLAYER for name in gameday.spec.players} | {name: OBSERVER for name in gameday.spec.observers}
        kubeconfig_dir = kubeconfig_dir.resolve()  # the paths people are told to export
        self.server = ApiServer(
            sim,
            gameday.name,
            speed if speed is not None else gameday.spec.speed,
            address,
            port,
            kubeconfig_dir / "admin.kubeconfig",
            duration_limit=True,
            namespace=gameday.namespace,
            users=users,
            kubeconfig_dir=kubeconfig_dir,
        )
        self.roles = users
        self.faults = [_planned(fault) for fault in gameday.faults]
        self.fault_actions: list[int] = []  # indices of sim.recorder.actions that were the faults'
        for fault, record in zip(gameday.faults, self.faults, strict=True):
            sim.clock.call_at(fault.at, lambda fault=fault, record=record: self._fire(fault, record))
        runbook = runbook_of(gameday.drill) if gameday.drill is not None else None
        self.pager = Pager(sim, runbook, min(fault.at for fault in gameday.faults), gameday.name)
        self.server.page = self.pager  # /simdeploy/v1/page: read by everyone, acknowledged by players
        self._alerts_read = 0  # how many timeline events the scoreboard has read for alert transitions
        self._alert_since: dict[str, float] = {}

    @property
    def sim(self):
        return self.server.sim

    def start(self) -> GameDaySession:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def over(self) -> bool:
        """The game day reached its duration (the clock stops there)."""
        with self.server.lock:
            return self.sim.now >= self.gameday.duration

    def _fire(self, fault: Fault, record: dict) -> None:
        """Run a fault's actions now, on the clock's thread; what they say on the timeline is the admin's alone."""
        sim = self.sim
        first = len(sim.recorder.events)
        for index, action in enumerate(fault.actions):
            run = scheduled_action(action, fault.manifests.get(index, []), action.namespace or self.gameday.namespace)
            self.fault_actions.append(len(sim.recorder.actions))
            try:
                record["messages"].append(sim.act(describe(action), run))
            except ACTION_ERRORS as error:
                sim.recorder.event("Action", describe(action), "Failed", f"error: {error}", warning=True)
                record["messages"].append(f"error: {error}")
                record["failed"] = True
        said = sim.recorder.events[first:]
        self.server.private_events.update(range(first, len(sim.recorder.events)))
        self.server.private_subjects.update((e["kind"], e["name"]) for e in said if e["kind"] in _PRIVATE_KINDS)
        record["fired_s"] = round(sim.now, 3)

    # -- what the scoreboard shows ---------------------------------------------------------------------------------

    def _alert_states(self) -> list[dict]:
        """Every alerting rule's alert that is not inactive now (firing, pending, resolved), and since when; call it
        holding the simulation's lock."""
        sim = self.sim
        if sim.alerts is None:
            return []
        events = sim.recorder.events
        for event in events[self._alerts_read :]:
            if event["kind"] == "Alert" and event["reason"] in _ALERT_MOMENTS:
                self._alert_since[event["name"]] = event["t"]
        self._alerts_read = len(events)
        names = dict.fromkeys(rule.name for group in sim.alerts.groups for rule in group.rules)
        states = [
            {"name": name, "state": sim.alerts.state(name), "since_s": self._alert_since.get(name)} for name in names
        ]
        return [s for s in states if s["state"] != "inactive"]

    def snapshot(self) -> dict:
        """The scoreboard's figures now: time, SLO burn, alerts, the faults (fired or not), the page, every person's
        commands."""
        slo = self.gameday.slo
        sim = self.sim
        with self.server.lock:
            now = sim.now
            rows = list(sim.scraper.rows)
            alerts = self._alert_states()
            faults = [dict(record) for record in self.faults]
            clock = self.server.clock
            speed, paused = clock.speed, clock.paused
            page = self.pager.state()
        log = self.server.requests.document()["log"]
        return {
            "name": self.gameday.name,
            "now_s": round(now, 3),
            "duration_s": self.gameday.duration,
            "speed": speed,
            "paused": paused,
            "slo": slo.availability,
            **burn(rows, now, slo.availability, slo.window),
            "alerts": alerts,
            "faults": faults,
            "page_s": page["triggered_s"],
            "page": page,
            "players": list(self.gameday.spec.players),
            "observers": list(self.gameday.spec.observers),
            "commands": group_commands(log, self.roles),
        }


def _planned(fault: Fault) -> dict:
    return {
        "name": fault.name,
        "actions": [describe(action) for action in fault.actions],
        "at_s": fault.at,
        "window": None if fault.window is None else {"from_s": fault.window[0], "to_s": fault.window[1]},
        "fired_s": None,
        "failed": False,
        "messages": [],
    }


def burn(rows: list[dict], now: float, availability: float, window: float) -> dict:
    """Availability since the start, the error budget's burn rate over the last BURN_WINDOW (1 spends the budget
    exactly over the SLO's window), and the share of the window's budget burned so far, from the scraped traffic."""
    requests = sum(r["requests"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    recent = [r for r in rows if r["t"] > now - BURN_WINDOW]
    recent_requests = sum(r["requests"] for r in recent)
    ceiling = 1 - availability
    per_scrape: dict[float, float] = {}
    for row in rows:
        per_scrape[row["t"]] = per_scrape.get(row["t"], 0.0) + row["requests"]
    ends = sorted(per_scrape)
    served_for = sum(t - before for before, t in zip([0.0, *ends], ends, strict=False) if per_scrape[t] > 0)
    # the window's budget at the average request rate, as the incident figures count it (delivery/runbook/incident.py)
    budget = ceiling * requests / served_for * window if served_for and requests else None
    return {
        "availability": None if not requests else round(1 - errors / requests, 6),
        "burn_rate": None
        if not recent_requests or not ceiling
        else round(sum(r["errors"] for r in recent) / recent_requests / ceiling, 3),
        "burn_window_s": BURN_WINDOW,
        "budget_burned": None if not budget else round(errors / budget, 6),
    }
