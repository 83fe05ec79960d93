"""The runbook engine: a trigger pages the team, a responder acknowledges after a human delay, then works through
the steps in order, each taking its manual time, waiting for what blocks and for what the step promises.

Everything happens on the world's clock (the simulation's, or the drill runner's mirror of a real cluster) and
lands on its timeline as `Runbook` events. What a step does is the operator's business: the simulated cluster's
(`actions.SimulatedOperator`) or a real cluster's (the drill runner's, through the real kubectl). The responder's
random draws come from a stream of their own, so the cluster's draws (pod startups) are the same with and
without a runbook.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

from simdeploy.delivery.runbook.actions import Operator, Outcome, SimulatedOperator
from simdeploy.delivery.runbook.conditions import Condition
from simdeploy.k8s.duration import format_duration
from simdeploy.k8s.kubectl_cli import KubectlCommand
from simdeploy.sim.distributions import Distribution
from simdeploy.sim.simulation import Simulation

POLL = 1.0  # how often a responder looks again at what they wait for (s)


@dataclass
class Step:
    """One step, as the scenario layer built it from the drill file."""

    name: str
    action: str  # kubectl, flag, gitopsRevert, trafficShift, migrate or wait
    text: str  # the action as written, for the timeline
    kubectl: KubectlCommand | None = None
    manifests: list[dict] = field(default_factory=list)  # the objects of `kubectl apply -f`
    flag: dict | None = None
    traffic: dict | None = None
    migrate: dict | None = None  # {database, to}: a forward-fix migration
    sync_delay: Distribution | None = None
    wait: float | None = None
    when: Condition | None = None
    expect: Condition | None = None
    within: float = 300.0
    deadline: float | None = None
    manual: Distribution | None = None


@dataclass
class Runbook:
    """A runbook ready to run: trigger, human delays, steps, and the GitOps history a revert goes back through."""

    name: str
    trigger: dict  # {"alert": name} | {"condition": Condition} | {"at": seconds}
    acknowledge: Distribution
    step_time: Distribution
    steps: list[Step]
    namespace: str
    manifest_sets: list[tuple[float, list[dict]]] = field(default_factory=list)  # (commit time, desired state)


class RunbookEngine:
    """Runs one runbook on one simulation and records what the team did, for the result's `drill` section."""

    def __init__(self, sim: Simulation, runbook: Runbook, rng: random.Random, operator: Operator | None = None):
        self.sim = sim  # the world: a Simulation, or anything with its clock, recorder, alerts, store and metrics
        self.runbook = runbook
        self.rng = rng
        self.operator = operator or SimulatedOperator(sim, runbook.namespace)
        self.trigger_s: float | None = None
        self.acknowledged_s: float | None = None
        self.finished_s: float | None = None
        self.steps: list[dict] = [_row(step) for step in runbook.steps]
        self._arm()

    # -- the page ------------------------------------------------------------------------------------------

    def _arm(self) -> None:
        trigger = self.runbook.trigger
        if "at" in trigger:
            self.sim.clock.call_at(trigger["at"], lambda: self._page(f"scheduled at {format_duration(trigger['at'])}"))
        elif "alert" in trigger:
            if self.sim.alerts is not None:
                self.sim.alerts.listeners.append(self._on_alert)
        else:
            self._watch_condition(trigger["condition"])

    def _on_alert(self, name: str, state: str) -> None:
        if name == self.runbook.trigger["alert"] and state == "firing":
            self._page(f"alert {name} firing")

    def _watch_condition(self, condition: Condition) -> None:
        def look() -> None:
            if self.trigger_s is not None:
                return
            if condition.holds(self.sim):
                self._page(condition.describe())
            else:
                self.sim.clock.call_later(POLL, look)

        self.sim.clock.call_later(0.0, look)

    def _page(self, why: str) -> None:
        if self.trigger_s is not None:
            return  # paged once: later firings are the same incident
        self.trigger_s = self.sim.now
        self._event("Runbook", "Paged", f"{why}: paging the on-call for runbook {self.runbook.name}", warning=True)
        delay = self.runbook.acknowledge.sample(self.rng)
        self.sim.clock.call_later(delay, self._acknowledge)

    def _acknowledge(self) -> None:
        self.acknowledged_s = self.sim.now
        took = format_duration(self.sim.now - self.trigger_s)
        self._event("Runbook", "Acknowledged", f"the on-call acknowledged the page after {took}")
        self._start(0)

    # -- the steps -----------------------------------------------------------------------------------------

    def _start(self, index: int) -> None:
        if index >= len(self.runbook.steps):
            self.finished_s = self.sim.now
            self._event("Runbook", "RunbookFinished", f"every step of {self.runbook.name} done")
            return
        step, row = self.runbook.steps[index], self.steps[index]
        row["started_s"] = self._now()
        if step.when is not None and not step.when.holds(self.sim):
            row.update(outcome="skipped", finished_s=self._now(), output=f"skipped: not {step.when.describe()}")
            self._event(step.name, "StepSkipped", f"skipped: {step.when.describe()} does not hold")
            self._judge_deadline(step, row)
            self._start(index + 1)
            return
        self._event(step.name, "StepStarted", step.text)
        manual = 0.0 if step.action == "wait" else (step.manual or self.runbook.step_time).sample(self.rng)
        self.sim.clock.call_later(manual, lambda: self._run(index))

    def _run(self, index: int) -> None:
        step, row = self.runbook.steps[index], self.steps[index]
        row["ran_s"] = self._now()
        outcome = self._perform(step)
        row["output"] = outcome.message
        if outcome.failed:
            self._event(step.name, "StepFailed", outcome.message, warning=True)
        elif outcome.message:
            self._event(step.name, "StepRan", outcome.message)
        if outcome.until is None:
            self._acted(index, "failed" if outcome.failed else "done")
        else:
            self._block(index, outcome, self.sim.now)

    def _perform(self, step: Step) -> Outcome:
        if step.action == "kubectl":
            return self.operator.kubectl(step.kubectl, copy.deepcopy(step.manifests))
        if step.action == "flag":
            return self.operator.flag(step.flag)
        if step.action == "trafficShift":
            return self.operator.traffic_shift(step.traffic)
        if step.action == "gitopsRevert":
            return self._gitops_revert(step)
        if step.action == "migrate":
            return self.operator.migrate(step.migrate)
        end = self.sim.now + step.wait
        return Outcome(f"waiting {format_duration(step.wait)}", until=lambda s: (s.now >= end, False, ""))

    def _block(self, index: int, outcome: Outcome, since: float) -> None:
        """Look again every POLL seconds until the command's wait is over, or its timeout."""
        done, failed, message = outcome.until(self.sim)
        if done:
            if message and message != outcome.message:
                self._event(self.runbook.steps[index].name, "StepFailed" if failed else "StepRan", message, failed)
            self.steps[index]["output"] = message or outcome.message
            self._acted(index, "failed" if failed else "done")
        elif outcome.timeout is not None and self.sim.now - since >= outcome.timeout:
            text = f"error: timed out waiting for the condition ({message})" if message else "error: timed out"
            self._event(self.runbook.steps[index].name, "StepFailed", text, warning=True)
            self.steps[index]["output"] = text
            self._acted(index, "timed out")
        else:
            self.sim.clock.call_later(POLL, lambda: self._block(index, outcome, since))

    def _acted(self, index: int, outcome: str) -> None:
        """The action is over; the responder now watches the step's expectation, if it has one."""
        step, row = self.runbook.steps[index], self.steps[index]
        row["outcome"] = outcome
        if step.expect is None:
            self._finish(index)
            return
        start = self.sim.now

        def look() -> None:
            if step.expect.holds(self.sim):
                row["expect"].update(met_s=self._now(), verdict="pass")
                self._event(step.name, "ExpectationMet", f"{step.expect.describe()} after {self._since(start)}")
                self._finish(index)
            elif self.sim.now - start >= step.within:
                row["expect"]["verdict"] = "fail"
                message = f"{step.expect.describe()} did not hold within {format_duration(step.within)}"
                self._event(step.name, "ExpectationMissed", message, warning=True)
                self._finish(index)
            else:
                self.sim.clock.call_later(POLL, look)

        look()

    def _finish(self, index: int) -> None:
        step, row = self.runbook.steps[index], self.steps[index]
        row["finished_s"] = self._now()
        self._judge_deadline(step, row)
        self._event(step.name, "StepFinished", f"{row['outcome']} after {self._since(row['started_s'])}")
        self._start(index + 1)

    def _judge_deadline(self, step: Step, row: dict) -> None:
        if step.deadline is not None:
            met = row["finished_s"] <= round(self.trigger_s + step.deadline, 3)
            row["deadline_verdict"] = "pass" if met else "fail"
            if not met:
                late = format_duration(row["finished_s"] - self.trigger_s - step.deadline)
                self._event(step.name, "DeadlineMissed", f"finished {late} after its deadline", warning=True)

    # -- GitOps ----------------------------------------------------------------------------------------------

    def _gitops_revert(self, step: Step) -> Outcome:
        """`git revert` of the last manifest change, pushed now; the GitOps controller syncs after its delay."""
        sets = [objects for committed, objects in self.runbook.manifest_sets if committed <= self.sim.now]
        if not sets:
            return Outcome("error: no manifest set in git to go back to", failed=True)
        target = sets[-2] if len(sets) > 1 else sets[-1]
        what = "the previous manifest set" if len(sets) > 1 else "the manifest set in git (undoing drift)"
        delay = step.sync_delay.sample(self.rng) if step.sync_delay is not None else 0.0
        synced_at = self.sim.now + delay
        state = {"synced": False}

        def sync() -> None:
            output = self.operator.sync(copy.deepcopy(target))
            self._event("gitops", "Synced", f"synced {what}: " + "; ".join(output.splitlines()))
            state["synced"] = True

        self.sim.clock.call_at(synced_at, sync)
        message = f"reverted in git; the GitOps controller syncs in {format_duration(delay)}"

        def synced(sim: Simulation) -> tuple[bool, bool, str]:
            return state["synced"], False, ""

        return Outcome(message, until=synced)

    # -- recording -------------------------------------------------------------------------------------------

    def record(self) -> dict:
        """The runbook's part of the result document: when it was paged and acknowledged, and each step."""
        return {
            "runbook": self.runbook.name,
            "trigger_s": _round(self.trigger_s),
            "acknowledged_s": _round(self.acknowledged_s),
            "finished_s": _round(self.finished_s),
            "steps": [dict(row, expect=dict(row["expect"]) if row["expect"] else None) for row in self.steps],
        }

    def _event(self, name: str, reason: str, message: str, warning: bool = False) -> None:
        self.sim.recorder.event("Runbook", name, reason, message, warning)

    def _now(self) -> float:
        return round(self.sim.now, 3)

    def _since(self, start: float) -> str:
        return format_duration(self.sim.now - start)


def _row(step: Step) -> dict:
    return {
        "name": step.name,
        "action": step.action,
        "text": step.text,
        "started_s": None,
        "ran_s": None,
        "finished_s": None,
        "outcome": "not reached",
        "output": None,
        "expect": {"condition": step.expect.describe(), "within_s": step.within, "met_s": None, "verdict": None}
        if step.expect is not None
        else None,
        "deadline_s": step.deadline,
        "deadline_verdict": None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
