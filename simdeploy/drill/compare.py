"""Predicted against observed: the fidelity table of a drill run on a real cluster, figure by figure."""

from __future__ import annotations

from simdeploy.k8s.duration import format_duration
from simdeploy.scenario.drill import FidelitySpec


def fidelity(predicted: dict, observed: dict, tolerances: FidelitySpec) -> list[dict]:
    """One row per figure: {name, predicted, observed, difference, tolerance, verdict} (verdict pass, fail, n/a).

    A figure neither run measured is n/a; one that only one of them measured fails (say, a rollout that completed
    in the simulation and never on the cluster).
    """
    rows = []
    for name, rollouts in _rollouts(predicted, observed):
        rows.append(_row(f"rollout time {name}", *rollouts, tolerances.rollout_time, _seconds))
    p, o = predicted["summary"], observed["summary"]
    rows.append(_row("min available", p["min_available"], o["min_available"], tolerances.min_available, _count))
    rows.append(_row("peak pods", p["peak_pods"], o["peak_pods"], tolerances.peak_pods, _count))
    rows.append(_row("error ratio", _ratio(p), _ratio(o), tolerances.error_ratio, _share))
    incident_p = (predicted.get("drill") or {}).get("incident") or {}
    incident_o = (observed.get("drill") or {}).get("incident") or {}
    for key, label, tolerance in (
        ("time_to_detect_s", "time to detect", tolerances.time_to_detect),
        ("time_to_mitigate_s", "time to mitigate", tolerances.time_to_mitigate),
        ("time_to_recover_s", "time to recover", tolerances.time_to_recover),
    ):
        rows.append(_row(label, incident_p.get(key), incident_o.get(key), tolerance, _seconds))
    return rows


def _rollouts(predicted: dict, observed: dict) -> list[tuple[str, tuple[float | None, float | None]]]:
    """Each Deployment's rollouts in order, paired: (name #n, (predicted duration, observed duration))."""
    pairs = []
    for name, summary in predicted["summary"]["deployments"].items():
        seen = observed["summary"]["deployments"].get(name, {}).get("rollouts", [])
        for index, rollout in enumerate(summary["rollouts"]):
            other = seen[index]["duration_s"] if index < len(seen) else None
            pairs.append((f"{name} #{index + 1}", (rollout["duration_s"], other)))
    return pairs


def _ratio(summary: dict) -> float | None:
    sent = summary.get("requests_total") or 0
    return round((summary.get("errors_total") or 0) / sent, 6) if sent else None


def _row(name: str, predicted, observed, tolerance, show) -> dict:
    if predicted is None and observed is None:
        verdict, difference = "n/a", None
    elif predicted is None or observed is None:
        verdict, difference = "fail", None
    else:
        difference = round(observed - predicted, 6)
        verdict = "pass" if abs(difference) <= tolerance + 1e-9 else "fail"
    return {
        "name": name,
        "predicted": predicted,
        "observed": observed,
        "difference": difference,
        "tolerance": tolerance,
        "shown": f"{show(predicted)} -> {show(observed)} (within {show(tolerance)})",
        "verdict": verdict,
    }


def _seconds(value) -> str:
    return "never" if value is None else format_duration(value)


def _count(value) -> str:
    return "-" if value is None else f"{value:g}"


def _share(value) -> str:
    return "-" if value is None else f"{value:.2%}"
