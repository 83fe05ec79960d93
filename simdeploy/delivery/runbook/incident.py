"""Incident figures of a drill, split as incident reviews split them: time to detect, to acknowledge, to mitigate,
to recover; errors served and error budget burned; and the verdicts: every step on time, the steady state back.

Definitions (all times from the fault, the scenario's first timeline action, except acknowledge):
- detect: the fault to the page (the runbook's trigger);
- acknowledge: the page to the on-call's acknowledgement;
- mitigate: the fault to the end of the last scrape interval whose error ratio was above the SLO's
  (1 - availability), once the ratio then stays at or under it for `mitigation_hold`;
- recover: mitigated, and every rollout started since the fault complete (`DeploymentComplete`);
- and the layer's own speed: the acknowledgement to mitigation (the hands-on part).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Slo:
    availability: float = 0.999
    window: float = 30 * 86400.0
    mitigation_hold: float = 120.0


def incident_figures(result: dict, record: dict, fault_s: float | None, slo: Slo) -> dict:
    """The figures of one run, from its result document and the runbook engine's record."""
    intervals = _intervals(result.get("traffic") or [])
    ceiling = 1 - slo.availability
    trigger, acknowledged = record.get("trigger_s"), record.get("acknowledged_s")
    mitigated = _mitigated(intervals, fault_s, ceiling, slo.mitigation_hold) if fault_s is not None else None
    recovered = _recovered(result, fault_s, mitigated)
    end = recovered if recovered is not None else result["duration_s"]
    errors = sum(e for t, _, e, _ in intervals if fault_s is not None and fault_s < t <= end)
    budget = _budget(result, intervals, ceiling, slo.window)
    return {
        "fault_s": fault_s,
        "trigger_s": trigger,
        "acknowledged_s": acknowledged,
        "mitigated_s": mitigated,
        "recovered_s": recovered,
        "time_to_detect_s": _between(fault_s, trigger),
        "time_to_acknowledge_s": _between(trigger, acknowledged),
        "time_to_mitigate_s": _between(fault_s, mitigated),
        "time_to_recover_s": _between(fault_s, recovered),
        "time_from_acknowledge_to_mitigate_s": _between(acknowledged, mitigated),
        "errors": round(errors, 3),
        "error_budget_burned": round(errors / budget, 6) if budget else None,
    }


def _intervals(rows: list[dict]) -> list[tuple[float, float, float, float]]:
    """(end, requests, errors, length) per scrape interval, summed over services and versions."""
    totals: dict[float, list[float]] = {}
    for row in rows:
        entry = totals.setdefault(row["t"], [0.0, 0.0])
        entry[0] += row["requests"]
        entry[1] += row["errors"]
    ends = sorted(totals)
    lengths = [b - a for a, b in zip([0.0, *ends], ends, strict=False)]
    return [(t, totals[t][0], totals[t][1], length) for t, length in zip(ends, lengths, strict=True)]


def _mitigated(intervals: list, fault: float, ceiling: float, hold: float) -> float | None:
    """The end of the last bad interval after the fault, once good intervals follow it for `hold` seconds."""
    steps = [(t, requests > 0 and errors / requests > ceiling, length) for t, requests, errors, length in intervals]
    after = [step for step in steps if step[0] > fault]
    if not any(bad for _, bad, _ in after):
        return fault  # the error ratio never left the SLO
    return calm_after(after, hold)


def calm_after(steps: Iterable[tuple[float, bool, float]], hold: float) -> float | None:
    """The end of the last bad step once good steps have followed it for `hold` seconds; None if that never came.

    `steps` are (end, bad, length) in time order; good steps before the first bad one count for nothing."""
    candidate, calm = None, 0.0
    for t, bad, length in steps:
        if bad:
            candidate, calm = t, 0.0
        else:
            calm += length
            if candidate is not None and calm >= hold:
                return candidate
    return None


def _recovered(result: dict, fault: float | None, mitigated: float | None) -> float | None:
    if fault is None or mitigated is None:
        return None
    moment = mitigated
    for deployment in result["summary"].get("deployments", {}).values():
        for rollout in deployment.get("rollouts", []):
            if rollout["started_s"] < fault:
                continue
            if rollout["completed_s"] is None:
                return None
            moment = max(moment, rollout["completed_s"])
    return round(moment, 3)


def _budget(result: dict, intervals: list, ceiling: float, window: float) -> float | None:
    """Requests the SLO allows to fail over its window, at the run's average request rate."""
    served_for = sum(length for _, requests, _, length in intervals if requests > 0)
    requests = sum(requests for _, requests, _, _ in intervals)
    if not served_for or not requests:
        return None
    return ceiling * requests / served_for * window


def _between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 3)


def step_verdicts(record: dict, end_s: float) -> list[dict]:
    """Each step: pass, or fail with the reason (failed, timed out, expectation missed, late, not reached)."""
    trigger = record.get("trigger_s")
    verdicts = []
    for row in record["steps"]:
        reasons = []
        if row["outcome"] in ("failed", "timed out"):
            reasons.append(row["outcome"])
        if row["expect"] and row["expect"]["verdict"] == "fail":
            reasons.append(f"expectation missed: {row['expect']['condition']}")
        if row["deadline_verdict"] == "fail":
            reasons.append("deadline missed")
        elif row["outcome"] == "not reached":
            due = None if trigger is None or row["deadline_s"] is None else trigger + row["deadline_s"]
            if trigger is None:
                reasons.append("never paged")
            elif due is None or due <= end_s:
                reasons.append("not reached")
        verdicts.append({"name": row["name"], "verdict": "fail" if reasons else "pass", "reasons": reasons})
    return verdicts
