"""Prometheus alerting rules evaluated on the simulated metrics: pending, firing and resolved alerts on the timeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simdeploy.k8s.duration import format_duration
from simdeploy.sim.clock import LATE, Clock
from simdeploy.sim.metrics.alert_templates import expand_template
from simdeploy.sim.metrics.promql import PromQLError, Sample, instant_query
from simdeploy.sim.metrics.tsdb import METRIC_NAME, LabelKey, SeriesStore, label_key
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.result import Alert, seconds

# Semantics follow Prometheus rules/alerting.go (AlertingRule.Eval) and rules/manager.go (read at
# github.com/prometheus/prometheus):
# - An alert is one label set of the expression's result: the sample's labels without __name__, plus the rule's
#   labels (templated), plus alertname. Two samples with the same alert labels are an evaluation error.
# - A new label set starts pending with activeAt = the evaluation time; it fires at the first evaluation with
#   ts - activeAt >= for (so for: 0 fires at once, and Prometheus never shows it as pending).
# - A label set missing from a result ends its alert: a firing one is resolved, a pending one just goes
#   inactive, and a later return starts over from pending. keep_firing_for is not modelled.
# - A scalar result is one sample with no labels (manager.go EngineQueryFunc). A failed evaluation leaves the
#   rule's alerts as they were.


@dataclass
class AlertRule:
    """One alerting rule of a group: `for_seconds` is the rule's `for`, labels and annotations may be templates."""

    group: str
    name: str
    expr: str
    for_seconds: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class RuleGroup:
    """Rules evaluated in order every `interval` seconds (None: the evaluator's default, Prometheus's global one)."""

    name: str
    interval: float | None
    rules: list[AlertRule] = field(default_factory=list)


@dataclass
class _Alert:
    labels: dict[str, str]
    active_at: float
    value: float
    annotations: dict[str, str]
    firing: bool = False
    fired_at: float | None = None


@dataclass
class _History:
    """The first occurrence of an alert name: first pending, and the alert that fired first (its labels, end)."""

    name: str
    labels: dict[str, str]
    first_pending_s: float
    first_firing_s: float | None = None
    resolved_s: float | None = None
    fired: _Alert | None = None


class AlertEvaluator:
    """Evaluates rule groups on a SeriesStore at t = 0, interval, 2 x interval, ... and records alert transitions."""

    def __init__(
        self,
        clock: Clock,
        series: SeriesStore,
        recorder: Recorder,
        groups: list[RuleGroup],
        default_interval: float = 15.0,
    ):
        self.clock = clock
        self.series = series
        self.recorder = recorder
        self.groups = list(groups)
        self._active: dict[int, dict[LabelKey, _Alert]] = {}  # id(rule) -> label set -> alert
        self._failures: dict[int, str] = {}
        self._history: dict[str, _History] = {}  # alert name -> its first occurrence
        self._rules: dict[str, list[AlertRule]] = {}  # alert name -> its rules (several rules may share a name)
        self.listeners: list[Callable[[str, str], None]] = []  # (alert name, "firing" | "resolved") on transitions
        for group in self.groups:
            for rule in group.rules:
                self._rules.setdefault(rule.name, []).append(rule)
        for group in self.groups:
            interval = group.interval or default_interval
            self._schedule(group, interval, 0)

    # Evaluations must see the scrape of the same instant. Both run LATE in their moment, and LATE callbacks of
    # one moment run in the order they were set: the Scraper sets its call_at(0.0) when it is built, so build
    # this evaluator after it (scenario/build.py does). Later scrapes are set one scrape interval ahead, which
    # with another group interval can be after this evaluator set its own callback for that moment; so each
    # evaluation hops once more at zero delay, which puts it behind every callback already set for the moment.
    def _schedule(self, group: RuleGroup, interval: float, index: int) -> None:
        def evaluate() -> None:
            self._evaluate(group)
            self._schedule(group, interval, index + 1)

        self.clock.call_at(index * interval, lambda: self.clock.call_later(0.0, evaluate, LATE), LATE)

    def _evaluate(self, group: RuleGroup) -> None:
        t = seconds(self.clock.now)  # milliseconds, like Prometheus timestamps
        for rule in group.rules:
            self._evaluate_rule(rule, t)

    def _evaluate_rule(self, rule: AlertRule, t: float) -> None:
        try:
            result = instant_query(self.series, rule.expr, t)
            if isinstance(result, float):
                result = [Sample({}, result)]
            found = self._alerts_of(rule, result, t)
        except (PromQLError, ValueError) as error:
            if self._failures.get(id(rule)) != str(error):
                message = f"evaluating {rule.expr}: {error}"
                self.recorder.event("Alert", rule.name, "RuleEvaluationFailed", message, warning=True)
            self._failures[id(rule)] = str(error)
            return
        self._failures.pop(id(rule), None)
        active = self._active.setdefault(id(rule), {})
        for key, alert in found.items():
            if key in active:
                active[key].value, active[key].annotations = alert.value, alert.annotations
            else:
                active[key] = alert
                self._history.setdefault(rule.name, _History(rule.name, alert.labels, t))
                if rule.for_seconds > 0:  # with for: 0 the alert fires below and is never seen pending
                    since = f"pending, fires if it holds for {format_duration(rule.for_seconds)}"
                    self.recorder.event("Alert", rule.name, "AlertPending", f"{_describe(rule, alert)}; {since}")
        history = self._history.get(rule.name)
        for key in sorted(active):
            alert = active[key]
            if key not in found:
                del active[key]
                if alert.firing:
                    took = format_duration(t - alert.fired_at)
                    message = f"{_describe(rule, alert)}; resolved after firing for {took}"
                    if history.fired is alert:
                        history.resolved_s = t
                else:
                    took = format_duration(t - alert.active_at)
                    message = f"{_describe(rule, alert)}; inactive again after {took} pending, before `for` elapsed"
                self.recorder.event("Alert", rule.name, "AlertResolved", message)
                if alert.firing:
                    self._tell(rule.name, "resolved")
            elif not alert.firing and round(t - alert.active_at, 3) >= rule.for_seconds:
                alert.firing, alert.fired_at = True, t
                if history.fired is None:
                    history.first_firing_s, history.labels, history.fired = t, alert.labels, alert
                message = f"{_describe(rule, alert)}; active since {alert.active_at:g}s"
                self.recorder.event("Alert", rule.name, "AlertFiring", message, warning=True)
                self._tell(rule.name, "firing")

    def _alerts_of(self, rule: AlertRule, result: list[Sample], t: float) -> dict[LabelKey, _Alert]:
        found: dict[LabelKey, _Alert] = {}
        for sample in result:
            labels = {k: v for k, v in sample.labels.items() if k != METRIC_NAME}
            for name, text in rule.labels.items():
                labels[name] = expand_template(text, sample.labels, sample.value)
            key = label_key(labels)
            if key in found:
                raise ValueError("vector contains metrics with the same labelset after applying alert labels")
            annotations = {n: expand_template(a, sample.labels, sample.value) for n, a in rule.annotations.items()}
            found[key] = _Alert(labels, t, sample.value, annotations)
        return found

    def _tell(self, name: str, state: str) -> None:
        for listener in self.listeners:
            listener(name, state)

    def state(self, name: str) -> str:
        """firing, pending, resolved (an alert of that name fired, none is active now) or inactive."""
        active = [alert for rule in self._rules.get(name, ()) for alert in self._active.get(id(rule), {}).values()]
        if any(alert.firing for alert in active):
            return "firing"
        if active:
            return "pending"
        history = self._history.get(name)
        return "resolved" if history is not None and history.first_firing_s is not None else "inactive"

    # -- results -------------------------------------------------------------------------------------------

    def history(self) -> list[Alert]:
        """The first occurrence of each alert name, in order: when an alert of that name first went pending and
        first fired, the labels of the one that fired first (else of the first pending one), and when that
        firing resolved (None if it never fired or still fires). Every transition is on the timeline.
        """
        rows = sorted(self._history.values(), key=lambda h: (h.first_pending_s, h.name))
        return [
            {
                "name": h.name,
                "first_pending_s": h.first_pending_s,
                "first_firing_s": h.first_firing_s,
                "resolved_s": h.resolved_s,
                "labels": dict(sorted(h.labels.items())),
            }
            for h in rows
        ]

    def first_firing(self, name: str) -> float | None:
        """When an alert named `name` (of any of its rules and label sets) first fired, or None."""
        history = self._history.get(name)
        return history.first_firing_s if history is not None else None


def _describe(rule: AlertRule, alert: _Alert) -> str:
    text = alert.annotations.get("summary") or alert.annotations.get("description")
    if not text:
        text = f"{rule.expr} returned {alert.value:.4g}"
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    return f"{text} ({labels})" if labels else text


# -- time to detect ------------------------------------------------------------------------------------------

# Recorder events that change what serves requests: a Deployment's pod template (kubectl set image, rollout undo,
# apply, patch), a Rollout's (set image), a Service's selector (a blue/green cut-over), a feature flag's state,
# or how a version behaves (the scenario's set-behaviour); the messages say when kubectl changed nothing.
_CHANGES = {
    ("SetImage", "Deployment"),
    ("SetImage", "Rollout"),
    ("RolloutUndo", "Deployment"),
    ("Apply", "Deployment"),
    ("Patch", "Deployment"),
    ("Patch", "Service"),
    ("FlagEnabled", "Flag"),
    ("FlagDisabled", "Flag"),
    ("FlagRolloutSet", "Flag"),
    ("BehaviourChanged", "Version"),
    ("MigrationStarted", "Database"),  # a schema change (delivery/schema): what requests meet changes too
}


def first_change(events: list[dict]) -> float | None:
    """When the first change after t=0 to what serves requests happened (see _CHANGES), or None."""
    for event in events:
        if event["t"] <= 0 or (event["reason"], event["kind"]) not in _CHANGES:
            continue
        if not (event["message"].endswith("unchanged") or "skipped rollback" in event["message"]):
            return event["t"]
    return None


def time_to_detect(events: list[dict]) -> float | None:
    """Seconds from the first bad change to the first alert firing at or after it; None without either."""
    change = first_change(events)
    if change is None:
        return None
    firing = [e["t"] for e in events if e["kind"] == "Alert" and e["reason"] == "AlertFiring" and e["t"] >= change]
    return seconds(min(firing) - change) if firing else None
