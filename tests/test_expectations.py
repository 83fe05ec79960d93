"""Expectations: verdicts on a run's figures, and `simdeploy run` exiting 1 when one fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.scenario.expect import ExpectSpec, judge
from simdeploy.sim.metrics.alerts import first_change

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"


def result(**summary) -> dict:
    base = {
        "requests_total": 1000.0,
        "errors_total": 2.0,
        "availability": 0.998,
        "p99_latency_max_s": 0.2,
        "max_unavailable_observed": 1,
        "min_available": 5,
        "peak_pods": 8,
        "deployments": {"web": {"rollouts": [{"duration_s": 50.0}]}},
        "alerts": [{"name": "HighErrors", "first_firing_s": 200.0}],
    }
    return {"summary": {**base, **summary}, "events": []}


def verdicts(expect: dict, res: dict, bad_change: float | None = 120.0) -> dict[str, str]:
    return {v["name"]: v["verdict"] for v in judge(ExpectSpec.model_validate(expect), res, bad_change)}


@pytest.mark.parametrize(
    ("expect", "verdict"),
    [
        ({"availability": "99.8%"}, "pass"),
        ({"availability": 0.999}, "fail"),
        ({"errorRatio": "0.2%"}, "pass"),
        ({"errorRatio": "0.1%"}, "fail"),
        ({"errorsServed": 2}, "pass"),
        ({"errorsServed": 1}, "fail"),
        ({"p99Latency": "200ms"}, "pass"),
        ({"p99Latency": "199ms"}, "fail"),
        ({"maxUnavailable": 1}, "pass"),
        ({"maxUnavailable": 0}, "fail"),
        ({"minAvailable": 5}, "pass"),
        ({"minAvailable": 6}, "fail"),
        ({"peakPods": 8}, "pass"),
        ({"peakPods": 7}, "fail"),
        ({"rolloutCompletesWithin": "50s"}, "pass"),
        ({"rolloutCompletesWithin": "49s"}, "fail"),
    ],
)
def test_each_expectation_is_a_floor_or_a_ceiling(expect, verdict):
    assert list(verdicts(expect, result()).values()) == [verdict]


def test_a_rollout_that_never_completes_fails_its_deadline():
    res = result(deployments={"web": {"rollouts": [{"duration_s": None}]}})
    assert verdicts({"rolloutCompletesWithin": "1h"}, res) == {"rolloutCompletesWithin": "fail"}


def test_alert_expectations_measure_from_the_first_bad_change():
    assert verdicts({"alerts": {"HighErrors": {"firesWithin": "80s"}}}, result()) == {"alert HighErrors": "pass"}
    assert verdicts({"alerts": {"HighErrors": {"firesWithin": "79s"}}}, result()) == {"alert HighErrors": "fail"}
    assert verdicts({"alerts": {"HighErrors": {"neverFires": True}}}, result()) == {"alert HighErrors": "fail"}
    assert verdicts({"alerts": {"Quiet": {"neverFires": True}}}, result()) == {"alert Quiet": "pass"}
    assert verdicts({"alerts": {"Quiet": {"firesWithin": "5m"}}}, result()) == {"alert Quiet": "fail"}


def test_the_first_bad_change_is_the_first_operator_change_after_the_start():
    events = [
        {"t": 0, "kind": "Deployment", "reason": "Apply", "message": "deployment/web created"},
        {"t": 30, "kind": "Deployment", "reason": "ScalingReplicaSet", "message": "Scaled up"},
        {"t": 60, "kind": "Deployment", "reason": "SetImage", "message": "deployment.apps/web image unchanged"},
        {"t": 120, "kind": "Deployment", "reason": "SetImage", "message": "deployment.apps/web image updated to x"},
        {"t": 300, "kind": "Deployment", "reason": "RolloutUndo", "message": "rolled back"},
    ]
    assert first_change(events) == 120
    assert first_change(events[:3]) is None


def test_bad_expectation_values_are_named(tmp_path):
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    scenario = yaml.safe_load(SEED.read_text())
    scenario["expect"] = {"availability": "lots", "p99Latencyy": "1s"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    output = CliRunner().invoke(app, ["validate", str(path)]).output
    assert "expect.availability" in output and "expect.p99Latencyy: unknown field" in output


def test_run_exits_1_when_an_expectation_fails_and_0_when_all_hold(tmp_path):
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    scenario = yaml.safe_load(SEED.read_text())
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    passing = CliRunner().invoke(app, ["run", "-q", str(path)])
    assert passing.exit_code == 0, passing.output
    assert "expectations: 6 passed, 0 failed" in passing.output
    # Without its preStop sleep the seed Deployment serves errors during the rollout.
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api.yaml").read_text())
    del manifest["spec"]["template"]["spec"]["containers"][0]["lifecycle"]
    scenario["manifests"][0] = {"inline": manifest}
    path.write_text(yaml.safe_dump(scenario))
    failing = CliRunner().invoke(app, ["run", "-q", str(path)])
    assert failing.exit_code == 1
    assert "FAIL" in failing.output and "errorsServed" in failing.output
