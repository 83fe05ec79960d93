"""One sweep run: simulate a point of the grid with one seed and reduce its result to a row."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from simdeploy.scenario.build import build
from simdeploy.scenario.loader import Scenario, load_scenario
from simdeploy.sim.result import Summary

# The figures a row keeps, in column order: Summary fields, and four derived from them in run_one.
FIGURES = (
    "rollout_duration_s",
    "rollout_complete_s",
    "peak_pods",
    "peak_pods_including_terminating",
    "min_available",
    "min_serving",
    "max_surge_observed",
    "max_unavailable_observed",
    "progress_deadline_exceeded",
    "requests_total",
    "errors_total",
    "availability",
    "p99_latency_max_s",
    "expectations_failed",
    "meets_expectations",
    "expectations_missed",
)


@lru_cache(maxsize=64)
def _scenario(scenario_json: str, base_dir: str) -> Scenario:
    """Validated once per point and process; seeds of one point reuse it."""
    return load_scenario(json.loads(scenario_json), base_dir)


def run_one(scenario_json: str, base_dir: str, seed: int) -> dict:
    """Simulate and return the row's figures (plain values, ready for a table)."""
    simulation = build(_scenario(scenario_json, base_dir), seed, record_pod_events=False, record_metrics=False)
    summary: Summary = simulation.run()["summary"]
    rollouts = summary["rollouts"]
    verdicts = summary.get("expectations", [])
    missed = [{k: v[k] for k in ("name", "expected", "measured", "shown")} for v in verdicts if v["verdict"] == "fail"]
    derived = {
        "rollout_duration_s": rollouts[-1]["duration_s"] if rollouts else None,
        "expectations_failed": len(missed),
        "meets_expectations": not missed,
        # What each missed expectation measured, as JSON text (a CSV cell): read back per setting in analysis.
        "expectations_missed": json.dumps(missed),
    }
    return {name: derived[name] if name in derived else summary[name] for name in FIGURES}


def run_task(task: tuple[str, str, str, int, int]) -> dict:
    """Executor entry point: (run key, scenario JSON, base dir, seed, replicate) -> row without settings."""
    key, scenario_json, base_dir, seed, replicate = task
    return {"run": key, "seed": seed, "replicate": replicate, "status": "ok", **run_one(scenario_json, base_dir, seed)}


def task_for(run, base_dir: Path) -> tuple[str, str, str, int, int]:
    return (run.key, json.dumps(run.point.scenario, sort_keys=True), str(base_dir), run.seed, run.replicate)
