"""The page of a game day: when the runbook's trigger first holds after the fault (what `time to detect` ends at).

The same triggers as a drill's (delivery/runbook/engine.py), watched in the served world; nobody is simulated
acknowledging it: the team does, by acting.
"""

from __future__ import annotations

from simdeploy.delivery.runbook.engine import POLL, Runbook
from simdeploy.k8s.duration import format_duration
from simdeploy.sim.simulation import Simulation


class Pager:
    """Watches for the page; without a runbook, any alert firing pages."""

    def __init__(self, sim: Simulation, runbook: Runbook | None, fault_s: float):
        self.sim = sim
        self.fault_s = fault_s  # the first fault's moment: a trigger holding before it is not this incident's page
        self.page_s: float | None = None
        self.why: str | None = None
        trigger = runbook.trigger if runbook is not None else None
        if trigger is not None and "at" in trigger:
            sim.clock.call_at(trigger["at"], lambda: self._page(f"scheduled at {format_duration(trigger['at'])}"))
        elif trigger is None or "alert" in trigger:
            wanted = None if trigger is None else trigger["alert"]
            if sim.alerts is not None:
                sim.alerts.listeners.append(lambda name, state: self._on_alert(name, state, wanted))
        else:
            condition = trigger["condition"]

            def look() -> None:
                if self.page_s is not None:
                    return
                if condition.holds(sim):
                    self._page(condition.describe())
                else:
                    sim.clock.call_later(POLL, look)

            sim.clock.call_at(fault_s, look)

    def _on_alert(self, name: str, state: str, wanted: str | None) -> None:
        if state == "firing" and wanted in (None, name) and self.sim.now >= self.fault_s:
            self._page(f"alert {name} firing")

    def _page(self, why: str) -> None:
        if self.page_s is None:
            self.page_s, self.why = round(self.sim.now, 3), why
