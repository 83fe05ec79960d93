"""Argo Rollouts AnalysisTemplate / AnalysisRun semantics with the prometheus provider, over simulated metrics."""

# Ported from argoproj/argo-rollouts (v1.9 / master 2026): analysis/analysis.go (generateMetricTasks,
# runMeasurements, assessRunStatus, assessMetricStatus, calculateNextReconcileTime), utils/evaluate/evaluate.go
# (EvaluateResult, EvalCondition, formatEvalError from PR #4680), metricproviders/prometheus/prometheus.go
# (processResponse), utils/analysis/helpers.go (MergeArgs, IsWorse, IsTerminating, GetDryRunMetrics),
# utils/analysis/analysis.go (ValidateMetric) and utils/template/template.go (fasttemplate {{args.x}}).
# Conditions are expr-lang (github.com/expr-lang/expr) expressions; they are translated to Python and run by
# simpleeval with expr's strict typing re-imposed, never by eval().

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from simdeploy.delivery.argo.analysis_expr import (
    COMPLETED,
    DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    EPSILON,
    ERROR,
    ERROR_RETRY_INTERVAL,
    FAILED,
    INCONCLUSIVE,
    MEASUREMENT_HISTORY_LIMIT,
    PENDING,
    PHASE_ORDER,
    RUNNING,
    SUCCESSFUL,
    AnalysisError,
    evaluate_condition,
    evaluate_result,
)
from simdeploy.delivery.argo.analysis_template import (
    dry_run_names,
    flatten_templates,
    int_or_string,
    parse_duration_argo,
    prometheus,
    raise_problems,
    render,
    render_metrics,
    resolve_args,
    validate_metrics,
    validate_template,
)
from simdeploy.k8s.timeutil import DEFAULT_EPOCH, format_time, sim_to_datetime

__all__ = ["AnalysisError", "AnalysisRun", "evaluate_condition", "evaluate_result", "parse_duration_argo"]
__all__ += ["prometheus", "render", "render_metrics", "resolve_args", "validate_template"]


# --- the run -------------------------------------------------------------------------------------------------


def _go_float(value: float) -> str:
    """model.SampleValue.String(): strconv.FormatFloat(f, 'f', -1, 64)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _duration(metric: dict, field: str) -> float | None:
    return parse_duration_argo(metric[field]) if metric.get(field) else None


def _effective_count(metric: dict) -> int | None:
    """Metric.EffectiveCount: count, else 1 without an interval, else None (measure until terminated)."""
    count = int_or_string(metric.get("count")) or 0  # IntOrString.IntValue reads a non-number as 0
    return count if count else (None if metric.get("interval") else 1)


def _limit_breach(metric: dict, result: dict) -> tuple[str, str]:
    """analysis.go assessMetricFailureInconclusiveOrError: strict '>', and Error over Inconclusive over Failed."""
    phase = message = ""
    for counter, field, default, breached in (
        ("failed", "failureLimit", 0, FAILED),
        ("inconclusive", "inconclusiveLimit", 0, INCONCLUSIVE),
        ("consecutiveError", "consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT, ERROR),
    ):
        limit = default if metric.get(field) is None else (int_or_string(metric[field]) or 0)
        if result[counter] > limit:
            label = "consecutiveErrors" if counter == "consecutiveError" else counter
            phase, message = breached, f"{label} ({result[counter]}) > {field} ({limit})"
    return phase, message


class AnalysisRun:
    """One AnalysisRun: measures its metrics on the simulated clock and settles to a phase, as Argo's controller."""

    def __init__(
        self,
        name: str,
        metrics: list[dict],
        clock: Any,
        query: Callable[[str, float], object],
        on_done: Callable[[AnalysisRun], None],
        dry_run_metrics: set[str] | frozenset[str] = frozenset(),
        *,
        epoch: datetime = DEFAULT_EPOCH,
    ):
        raise_problems(validate_metrics(metrics, "spec.metrics", None))
        unknown = set(dry_run_metrics) - {metric["name"] for metric in metrics}
        raise_problems([("spec.dryRun", f"no metric named {name!r}") for name in sorted(unknown)])
        self.name, self.metrics, self.clock, self.query = name, copy.deepcopy(metrics), clock, query
        self.on_done, self.dry_run, self.epoch = on_done, frozenset(dry_run_metrics), epoch
        self._results: dict[str, dict] = {}  # metric name -> MetricResult, created by its first measurement
        self._phase, self._message = PENDING, ""
        self._started_at: float | None = None
        self._terminate = False
        self._wake: float | None = None
        self._summaries: dict[str, dict[str, int]] = {}

    @classmethod
    def from_template(
        cls,
        name: str,
        template: dict | list[dict],
        run_args: list[dict],
        clock: Any,
        query: Callable,
        on_done: Callable,
        **kwargs: Any,
    ) -> AnalysisRun:
        """NewAnalysisRunFromTemplates: flatten the templates, validate, merge args, render, take the dryRun rules.

        Keyword arguments: value_from (resolves valueFrom args, e.g. podTemplateHashValue) and epoch.
        """
        template = flatten_templates(template) if isinstance(template, list) else template
        raise_problems(validate_template(template))
        spec = template["spec"]
        args = resolve_args(spec.get("args") or [], run_args, value_from=kwargs.pop("value_from", None))
        metrics = render_metrics(spec["metrics"], args)
        dry_run, _ = dry_run_names(spec.get("dryRun"), metrics, "spec.dryRun")
        return cls(name, metrics, clock, query, on_done, dry_run, **kwargs)

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def message(self) -> str:
        return self._message

    def start(self) -> None:
        """Begin: the controller's first reconcile (at this moment, through the clock) takes the first measurements."""
        if self._started_at is None:
            self._started_at, self._phase = self.clock.now, RUNNING
            self._schedule(self.clock.now)

    def terminate(self) -> None:
        """spec.terminate: no more measurements; unresolved metrics count as Successful (a completed run stays)."""
        if self._phase in COMPLETED:
            return
        if self._started_at is None:
            self._started_at = self.clock.now
        self._terminate = True
        self._reconcile()

    # -- reconcile ----------------------------------------------------------------------------------------------

    def _schedule(self, moment: float) -> None:
        if self._wake is not None and self._wake <= moment + EPSILON:
            return  # an earlier reconcile is due; it schedules the next one
        self._wake = moment
        self.clock.call_at(moment, lambda: self._on_wake(moment))

    def _on_wake(self, moment: float) -> None:
        if self._wake == moment:
            self._wake = None
            self._reconcile()

    def _terminating(self) -> bool:
        """helpers.go IsTerminating: asked to, or a metric (not a dry-run one) ended Failed, Error or Inconclusive."""
        return self._terminate or any(
            result["phase"] in (FAILED, ERROR, INCONCLUSIVE) and not result["dryRun"]
            for result in self._results.values()
        )

    def _reconcile(self) -> None:
        if self._phase in COMPLETED:
            return
        now, terminating = self.clock.now, self._terminating()
        for metric in self.metrics:
            if not terminating and self._due(metric, now):
                self._measure(metric, now)
        phase, message = self._assess()
        if phase != self._phase:
            self._phase, self._message = phase, message
        if phase in COMPLETED:
            self._wake = None
            self.on_done(self)
        elif self._terminating() and not terminating:
            self._reconcile()  # the status update requeues the run at once; now it terminates the other metrics
        elif (moment := self._next_reconcile()) is not None:
            self._schedule(max(moment, now))

    def _last(self, metric: dict) -> dict | None:
        result = self._results.get(metric["name"])
        return result["measurements"][-1] if result and result["measurements"] else None

    def _retry_interval(self, metric: dict, last: dict) -> float | None:
        """After an Error the next try is in 10 s whatever the interval; with no interval there is no next one."""
        return ERROR_RETRY_INTERVAL if last["phase"] == ERROR else _duration(metric, "interval")

    def _due(self, metric: dict, now: float) -> bool:
        """analysis.go generateMetricTasks for a metric that is not yet complete."""
        result, last = self._results.get(metric["name"]), self._last(metric)
        if result and result["phase"] in COMPLETED:
            return False
        if last is None:
            delay = _duration(metric, "initialDelay")
            return delay is None or self._started_at + delay <= now + EPSILON
        count = _effective_count(metric)
        if count is not None and result["count"] >= count:
            return False
        interval = self._retry_interval(metric, last)
        return last["finishedAt"] + (ERROR_RETRY_INTERVAL if interval is None else interval) <= now + EPSILON

    def _next_reconcile(self) -> float | None:
        """analysis.go calculateNextReconcileTime: the earliest moment a metric will want its next measurement."""
        moments = []
        for metric in self.metrics:
            result, last = self._results.get(metric["name"]), self._last(metric)
            if result and result["phase"] in COMPLETED:
                continue
            if last is None:
                if (delay := _duration(metric, "initialDelay")) is not None:
                    moments.append(self._started_at + delay)
                continue
            count = _effective_count(metric)
            if (count is None or result["count"] < count) and (
                interval := self._retry_interval(metric, last)
            ) is not None:
                moments.append(last["finishedAt"] + interval)
        return min(moments, default=None)

    def _measure(self, metric: dict, now: float) -> None:
        """prometheus.go Run + analysis.go runMeasurements: one instantaneous query, its phase and the counters."""
        name = metric["name"]
        value = ""
        try:
            raw = self.query(metric["provider"]["prometheus"]["query"], now)
        except Exception as error:  # any provider failure marks the measurement Error (MarkMeasurementError)
            phase, message = ERROR, str(error) or type(error).__name__
        else:
            if isinstance(raw, int | float) and not isinstance(raw, bool):  # a scalar: result is a number
                result, text = float(raw), _go_float(float(raw))
            elif isinstance(raw, list | tuple):  # a vector: result is the list of sample values
                result = [float(getattr(sample, "value", sample)) for sample in raw]
                text = "[" + ",".join(_go_float(v) for v in result) + "]"
            else:
                result, text = None, ""
            phase, message = (
                evaluate_result(metric, result) if text else (ERROR, "Prometheus metric type not supported")
            )
            value = text if phase != ERROR else ""  # an evaluation error drops the value (MarkMeasurementError)
        record = self._results.setdefault(name, {"name": name, "phase": RUNNING, "measurements": [], "count": 0})
        for counter in ("successful", "failed", "inconclusive", "error", "consecutiveError"):
            record.setdefault(counter, 0)
        record.setdefault("dryRun", name in self.dry_run)
        record.setdefault("metadata", {"ResolvedPrometheusQuery": metric["provider"]["prometheus"]["query"]})
        record["measurements"].append(
            {"phase": phase, "startedAt": now, "finishedAt": now, "value": value, "message": message}
        )
        counter = {SUCCESSFUL: "successful", FAILED: "failed", INCONCLUSIVE: "inconclusive", ERROR: "error"}[phase]
        record[counter] += 1
        record["count"] += phase != ERROR  # errors are not counted towards `count`
        record["consecutiveError"] = record["consecutiveError"] + 1 if phase == ERROR else 0

    def _assess_metric(self, metric: dict, result: dict, terminating: bool) -> str:
        """analysis.go assessMetricStatus (prometheus measurements finish at once, so none is in flight)."""
        if result["phase"] in COMPLETED:
            return result["phase"]
        if not result["measurements"]:
            return SUCCESSFUL if terminating else PENDING
        breached, _ = _limit_breach(metric, result)
        if breached:
            return breached
        count = _effective_count(metric)
        if (count is not None and result["count"] >= count) or terminating:
            return SUCCESSFUL
        return RUNNING

    def _assess(self) -> tuple[str, str]:
        """analysis.go assessRunStatus: the worst phase among completed metrics once all are complete."""
        terminating, worst, everything_completed = self._terminating(), "", True
        worst_message = "Run Terminated" if self._terminate else ""
        summaries = {
            kind: dict.fromkeys(("count", "successful", "failed", "inconclusive", "error"), 0) for kind in "rd"
        }
        for metric in self.metrics:
            name, dry = metric["name"], metric["name"] in self.dry_run
            summary = summaries["d" if dry else "r"]
            summary["count"] += 1
            result = self._results.get(name)
            if result is None:  # not measured yet (initialDelay)
                everything_completed = False
                continue
            status = self._assess_metric(metric, result, terminating)
            if result["phase"] != status:
                result["message"], result["phase"] = self._last(metric)["message"], status
            if status not in COMPLETED:
                everything_completed = False
                continue
            breached, why = _limit_breach(metric, result)
            summary[(breached or SUCCESSFUL).lower()] += 1
            if dry:  # a dry-run metric never decides the run; its verdict goes to its own message
                worst = worst or SUCCESSFUL
                if why:
                    result["message"] = f"Metric assessed {status} due to {why}"
            elif not worst or PHASE_ORDER.index(status) > PHASE_ORDER.index(worst):
                worst = status
                if why:
                    worst_message = f'Metric "{name}" assessed {status} due to {why}'
                    worst_message += f': "Error Message: {result["message"]}"' if result.get("message") else ""
        self._summaries = {"runSummary": summaries["r"], "dryRunSummary": summaries["d"]}
        if terminating:
            return worst or SUCCESSFUL, worst_message.strip()
        if not everything_completed or not worst:
            return RUNNING, ""
        return worst, worst_message.strip()

    # -- views ----------------------------------------------------------------------------------------------------

    def _stamp(self, seconds: float) -> str:
        return format_time(sim_to_datetime(self.epoch, seconds))

    def measurements(self) -> list[dict]:
        """Every measurement taken, in time order: metric, phase, startedAt/finishedAt (simulated s), value, message."""
        rows = [
            {"metric": metric["name"], "dryRun": metric["name"] in self.dry_run, **measurement}
            for metric in self.metrics
            for measurement in (self._results.get(metric["name"]) or {}).get("measurements", [])
        ]
        return sorted(rows, key=lambda row: row["startedAt"])

    def as_object(self) -> dict:
        """The AnalysisRun as Kubernetes JSON; times are RFC 3339 from `epoch`, at most 10 measurements a metric."""
        results = []
        for metric in self.metrics:
            if (result := self._results.get(metric["name"])) is not None:
                shown = [
                    {**m, "startedAt": self._stamp(m["startedAt"]), "finishedAt": self._stamp(m["finishedAt"])}
                    for m in result["measurements"][-MEASUREMENT_HISTORY_LIMIT:]
                ]
                results.append({**copy.deepcopy(result), "measurements": shown})
        spec: dict[str, Any] = {"metrics": copy.deepcopy(self.metrics)}
        if self.dry_run:
            spec["dryRun"] = [{"metricName": re.escape(name)} for name in sorted(self.dry_run)]
        if self._terminate:
            spec["terminate"] = True
        status: dict[str, Any] = {"phase": self._phase, "message": self._message, "metricResults": results}
        if self._started_at is not None:
            status["startedAt"] = self._stamp(self._started_at)
        status.update(copy.deepcopy(self._summaries))
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": self.name},
            "spec": spec,
            "status": status,
        }
