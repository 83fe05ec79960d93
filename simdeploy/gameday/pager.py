"""The page of a game day: when the runbook's trigger first holds after the fault (what `time to detect` ends at),
and who acknowledged it.

The same triggers as a drill's (delivery/runbook/engine.py), watched in the served world; nobody is simulated
acknowledging it: the team does, with `simdeploy ctl ack` (apiserver/page.py), or else by acting.
"""

from __future__ import annotations

from simdeploy.apiserver.page import NothingToAcknowledge
from simdeploy.delivery.runbook.engine import POLL, Runbook
from simdeploy.k8s.duration import format_duration
from simdeploy.sim.simulation import Simulation


class Pager:
    """Watches for the page (without a runbook, any alert firing pages), and takes its acknowledgement: the states
    none -> triggered -> acknowledged, as an incident's in PagerDuty or Opsgenie (resolving is the incident
    figures' business: mitigated, recovered)."""

    def __init__(self, sim: Simulation, runbook: Runbook | None, fault_s: float, name: str = "page"):
        self.sim = sim
        self.name = name  # what the timeline's Page events are about (the game day)
        self.fault_s = fault_s  # the first fault's moment: a trigger holding before it is not this incident's page
        self.page_s: float | None = None
        self.why: str | None = None
        self.acknowledged_s: float | None = None
        self.acknowledged_by: str | None = None
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

    def state(self) -> dict:
        """The page as the team may see it: its state, when and why it came, who acknowledged it and when; nothing
        of the fault behind it."""
        if self.page_s is None:
            state = "none"
        else:
            state = "triggered" if self.acknowledged_by is None else "acknowledged"
        return {
            "state": state,
            "triggered_s": self.page_s,
            "why": self.why,
            "acknowledged_s": self.acknowledged_s,
            "acknowledged_by": self.acknowledged_by,
        }

    def acknowledge(self, user: str) -> dict:
        """`user` acknowledges the page now, said on the timeline for everyone; an acknowledgement after the first
        changes nothing (PagerDuty's acknowledge is idempotent). The state after it."""
        if self.page_s is None:
            raise NothingToAcknowledge("nothing to acknowledge: nobody has been paged yet")
        if self.acknowledged_by is None:
            self.acknowledged_s, self.acknowledged_by = round(self.sim.now, 3), user
            self.sim.recorder.event("Page", self.name, "Acknowledged", f"{user} acknowledged the page ({self.why})")
        return self.state()
