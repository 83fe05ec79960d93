"""The result document assembled from what a run measured: the Simulation's, and a drill's on a real cluster."""

from __future__ import annotations

from simdeploy.sim.measure import DeploymentMeasure, Measurements
from simdeploy.sim.metrics.alerts import time_to_detect
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.result import (
    Alert,
    DeploymentSummary,
    Result,
    Summary,
    TrafficRow,
    fraction,
    optional_seconds,
    requests,
    seconds,
)


def result_document(
    *,
    scenario: str,
    seed: int,
    duration: float,
    versions: dict[str, str],
    measurements: Measurements,
    recorder: Recorder,
    sent: float,
    failed: float,
    p99_max: float | None,
    traffic: list[TrafficRow],
    alerts: list[Alert],
) -> Result:
    """The document `simdeploy run --json` writes (declared in sim/result.py), from the run's measurements."""
    deployments = {name: _deployment_summary(m) for name, m in measurements.deployments.items()}
    primary = next(iter(deployments.values()), None) or _deployment_summary(DeploymentMeasure(""))
    summary: Summary = {
        **primary,
        "peak_pods": measurements.peak_pods,
        "peak_pods_including_terminating": measurements.peak_pods_including_terminating,
        "requests_total": requests(sent),
        "errors_total": requests(failed),
        "availability": fraction(1 - failed / sent) if sent else None,
        "p99_latency_max_s": None if p99_max is None else fraction(p99_max),
        "deployments": deployments,
        "alerts": alerts,
        "time_to_detect_s": time_to_detect(recorder.events),
    }
    return {
        "scenario": scenario,
        "seed": seed,
        "duration_s": seconds(duration),
        "versions": versions,
        "summary": summary,
        "actions": list(recorder.actions),
        "events": list(recorder.events),
        "replicasets": list(recorder.replica_sets),
        "series": list(recorder.series),
        "traffic": list(traffic),
    }


def _deployment_summary(m: DeploymentMeasure) -> DeploymentSummary:
    last = m.rollouts[-1] if m.rollouts else None
    return {
        "rollout_complete_s": optional_seconds(last.completed) if last else None,
        "peak_pods": m.peak_pods,
        "peak_pods_including_terminating": m.peak_pods_including_terminating,
        "min_available": m.min_available,
        "min_serving": m.min_serving,
        "max_surge_observed": m.max_surge,
        "max_unavailable_observed": m.max_unavailable,
        "progress_deadline_exceeded": m.deadline_exceeded,
        "final_revision": int(m.revision) if m.revision else None,
        "final_image": m.image,
        "rollouts": [
            {
                "revision": r.revision,
                "started_s": seconds(r.started),
                "completed_s": optional_seconds(r.completed),
                "duration_s": seconds(r.completed - r.started) if r.completed is not None else None,
            }
            for r in m.rollouts
        ],
    }
