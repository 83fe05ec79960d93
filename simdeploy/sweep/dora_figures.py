"""DORA's four keys from a stream of releases, and where each falls among the DORA 2024 performance clusters.

Definitions (production is the last environment):
- deployment frequency: deployments to production per day over the stream (first merge to the last production
  deployment settling);
- lead time for changes: merge to the change live in production (its rollout complete), p50 and p90;
- change failure rate: production deployments that needed intervention (a rollback, an abort, a flag off, a
  forward fix) over production deployments; a change caught before production is not a production deployment;
- failed deployment recovery time: the deployment to recovery (see sweep/dora_outcome.py), p50 and p90.

The clusters are the 2024 Accelerate State of DevOps report's (p. 13), in its order. That year the medium cluster
had a lower change failure rate (10%) than the high one (20%): shown as the report shows it, not re-ordered. The
report gives one typical rate per cluster: a rate is placed in the cluster whose rate is nearest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simdeploy.delivery.promotion import Release

DAY = 86400.0
CLUSTERS = ("elite", "high", "medium", "low")
# The 2024 table, as printed.
BANDS_2024 = {
    "deployment_frequency": {
        "elite": "on demand (multiple deploys per day)",
        "high": "between once per day and once per week",
        "medium": "between once per week and once per month",
        "low": "between once per month and once every six months",
    },
    "lead_time": {
        "elite": "less than one day",
        "high": "between one day and one week",
        "medium": "between one week and one month",
        "low": "between one month and six months",
    },
    "change_failure_rate": {"elite": "5%", "high": "20%", "medium": "10%", "low": "40%"},
    "recovery_time": {
        "elite": "less than one hour",
        "high": "less than one day",
        "medium": "less than one day",
        "low": "between one week and one month",
    },
}
_FREQUENCY = {"elite": (1.0, math.inf), "high": (1 / 7, 1.0), "medium": (1 / 30, 1 / 7), "low": (1 / 182.5, 1 / 30)}
_LEAD = {"elite": (0, DAY), "high": (DAY, 7 * DAY), "medium": (7 * DAY, 30 * DAY), "low": (30 * DAY, 182.5 * DAY)}
_RECOVERY = {"elite": (0, 3600.0), "high": (3600.0, DAY), "medium": (3600.0, DAY), "low": (7 * DAY, 30 * DAY)}
_FAILURE_RATE = {"elite": 0.05, "high": 0.20, "medium": 0.10, "low": 0.40}


@dataclass(frozen=True)
class Failure:
    """A failed production deployment: its failure profile, recovery time (from the deployment), errors served."""

    profile: str
    recovery_s: float
    errors: float
    detected_s: float | None
    paged: bool


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile with linear interpolation between the closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def place(figure: str, value: float | None) -> dict:
    """The cluster(s) a value falls in, and the 2024 table's words for them; `between` when it falls in a gap."""
    if value is None:
        return {"cluster": None, "band": "no value"}
    if figure == "change_failure_rate":
        distance = {c: abs(value - rate) for c, rate in _FAILURE_RATE.items()}
        nearest = [c for c in CLUSTERS if math.isclose(distance[c], min(distance.values()), abs_tol=1e-12)]
        return _placed(figure, nearest)
    ranges = {"deployment_frequency": _FREQUENCY, "lead_time": _LEAD, "recovery_time": _RECOVERY}[figure]
    inside = [c for c in CLUSTERS if ranges[c][0] <= value < ranges[c][1]]
    if figure == "deployment_frequency" and value == 1.0:
        inside = ["high"]  # once per day is the high cluster's upper end; elite deploys several times a day
    if inside:
        return _placed(figure, inside)
    worse = value < ranges["low"][0] if figure == "deployment_frequency" else value >= ranges["low"][1]
    if worse:
        return {"cluster": None, "band": f"beyond low ({BANDS_2024[figure]['low']})"}
    return {"cluster": None, "band": "between the high/medium and low bands (one day to one week)"}


def _placed(figure: str, clusters: list[str]) -> dict:
    words = BANDS_2024[figure][clusters[0]]
    return {"cluster": ", ".join(clusters), "band": words}


def figures(
    releases: list[Release], failures: dict[int, Failure], environments: list[str], changes: list[tuple]
) -> dict:
    """The stream's DORA figures and their places among the 2024 clusters."""
    production = environments[-1]
    deployed = [r for r in releases if r.reached == production]
    lead = [r.stages[-1].live_at - r.merged_at for r in deployed]
    recovery = [f.recovery_s for f in failures.values()]
    span = max((stage.free_at for r in releases for stage in r.stages), default=0.0)
    frequency = len(deployed) / (span / DAY) if span > 0 else None
    rate = len(failures) / len(deployed) if deployed else None
    caught = {name: sum(1 for r in releases if r.stopped_in == name) for name in environments[:-1]}
    bad = sum(1 for is_bad, _ in changes if is_bad)
    values = {
        "changes": len(releases),
        "bad_changes": bad,
        "caught_before_production": caught,
        "production_deploys": len(deployed),
        "failed_deploys": len(failures),
        "unnoticed_bad_deploys": sum(1 for r in deployed if changes[r.index][0] and r.index not in failures),
        "span_days": round(span / DAY, 3),
        "deployment_frequency_per_day": _round(frequency),
        "lead_time_p50_s": _round(quantile(lead, 0.5)),
        "lead_time_p90_s": _round(quantile(lead, 0.9)),
        "change_failure_rate": _round(rate),
        "recovery_time_p50_s": _round(quantile(recovery, 0.5)),
        "recovery_time_p90_s": _round(quantile(recovery, 0.9)),
        "errors_per_failed_deploy": _round(sum(f.errors for f in failures.values()) / len(failures))
        if failures
        else None,
        "errors_per_failed_deploy_p50": _round(quantile([f.errors for f in failures.values()], 0.5)),
        "paged_share": _round(sum(f.paged for f in failures.values()) / len(failures)) if failures else None,
        "failures_by_profile": _by_profile(failures),
    }
    values["bands"] = {
        "deployment_frequency": place("deployment_frequency", frequency),
        "lead_time": place("lead_time", values["lead_time_p50_s"]),
        "change_failure_rate": place("change_failure_rate", rate),
        "recovery_time": place("recovery_time", values["recovery_time_p50_s"]),
    }
    return values


def _by_profile(failures: dict[int, Failure]) -> dict[str, dict]:
    """Per failure profile: how many production deploys failed so, their recovery time and errors (p50)."""
    grouped: dict[str, list[Failure]] = {}
    for failure in failures.values():
        grouped.setdefault(failure.profile, []).append(failure)
    return {
        profile: {
            "failed": len(group),
            "recovery_time_p50_s": _round(quantile([f.recovery_s for f in group], 0.5)),
            "errors_p50": _round(quantile([f.errors for f in group], 0.5)),
        }
        for profile, group in sorted(grouped.items())
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
