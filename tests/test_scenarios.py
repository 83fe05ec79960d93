"""Every bundled scenario runs, and teaches what its opening comment says it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import simdeploy
from simdeploy.k8s.pod_util import is_pod_available
from simdeploy.k8s.timeutil import sim_to_datetime
from simdeploy.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def run(name: str) -> dict:
    return simdeploy.load(SCENARIOS / f"{name}.yaml").run()


def events(result: dict, reason: str) -> list[dict]:
    return [e for e in result["events"] if e["reason"] == reason]


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_scenario_opens_with_what_it_teaches_and_runs(path):
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith(f"# {path.stem}:")
    result = simdeploy.load(path).run()
    assert result["scenario"] == path.stem
    assert result["events"]
    failed = [v for v in result["summary"].get("expectations", []) if v["verdict"] != "pass"]
    assert not failed, f"{path.name}: expectations failed: {failed}"


def test_rolling_update_keeps_within_surge_and_unavailable():
    summary = run("payments-rolling-update")["summary"]
    assert summary["peak_pods"] <= 6 + 2
    assert summary["min_available"] >= 6 - 1
    assert summary["rollout_complete_s"] is not None


def test_recreate_has_downtime_and_never_surges():
    summary = run("recreate-downtime")["summary"]
    assert summary["min_available"] == 0
    assert summary["peak_pods_including_terminating"] == 6
    assert summary["max_surge_observed"] == 0
    assert summary["final_revision"] == 2


def test_bad_image_push_exceeds_the_deadline_and_undo_restores_revision_one_template():
    result = run("bad-image-push")
    summary = result["summary"]
    assert summary["progress_deadline_exceeded"]
    timed_out = events(result, "ProgressDeadlineExceeded")[0]["t"]
    assert 600 + 60 <= timed_out <= 600 + 60 + 30  # 10 min after the last progress near 1m
    assert summary["min_available"] == 5  # the controller never drained the old pods
    assert summary["final_image"].endswith("@sha256:abc123...")
    assert summary["final_revision"] == 3  # the old ReplicaSet, revision bumped by the undo
    rollouts = summary["rollouts"]
    assert rollouts[0]["completed_s"] is None and rollouts[1]["completed_s"] is not None
    assert len({row["replicaset"] for row in result["series"]}) == 2  # undo reuses the old RS


def test_lying_readiness_leaves_no_pod_able_to_serve_while_kubernetes_sees_five():
    summary = run("lying-readiness")["summary"]
    assert summary["min_available"] == 5
    assert summary["min_serving"] < summary["min_available"]


def test_max_unavailable_50_percent_of_two_rounds_down_but_a_drain_takes_the_last_pod():
    result = run("two-replicas-max-unavailable-50")
    summary = result["summary"]
    assert summary["max_unavailable_observed"] == 2
    assert summary["min_available"] == 0
    first_scale_down = [e for e in events(result, "ScalingReplicaSet") if "from 2 to 1" in e["message"]]
    assert first_scale_down, "the controller removes one old pod (50% of 2 rounds down to 1)"
    assert events(result, "Evicted")


def test_the_pdb_blocks_the_drain_until_the_undo():
    result = run("two-replicas-max-unavailable-50-pdb")
    summary = result["summary"]
    assert summary["min_available"] == 1
    refused = events(result, "EvictionRefused")
    evicted = events(result, "Evicted")
    assert refused and evicted
    assert refused[0]["t"] == 180
    assert evicted[0]["t"] > 600  # only after the rollout undo at 10m restored a second pod


def test_seed_scenario_serves_no_errors_with_its_prestop_and_some_without():
    with_sleep = run("payments-rolling-update")["summary"]
    without = run("payments-no-prestop")["summary"]
    assert with_sleep["requests_total"] == without["requests_total"] == 900 * 300
    assert with_sleep["errors_total"] == 0
    assert without["errors_total"] == pytest.approx(150 + 5 * 180, abs=1)  # 1 s of each old pod's share


def test_max_unavailable_costs_capacity_at_peak_and_max_surge_does_not():
    unavailable = run("peak-traffic-max-unavailable")["summary"]
    surge = run("peak-traffic-max-surge")["summary"]
    assert unavailable["errors_total"] > 0 and surge["errors_total"] == 0
    assert unavailable["p99_latency_max_s"] > 5 * surge["p99_latency_max_s"]
    assert surge["peak_pods"] == 8 and unavailable["peak_pods"] == 6


def test_blue_green_cutover_and_flip_back_cost_no_errors():
    result = run("blue-green-cutover")
    # Cut over at 3m (seen by the proxies 1 s later), flipped back at 6m: rows are 15 s intervals.
    versions = {row["version"] for row in result["traffic"] if 195 < row["t"] <= 360}
    assert versions == {"2.9.0"}
    assert result["summary"]["errors_total"] == 0


def test_lying_readiness_serves_errors_while_kubernetes_sees_every_pod_available():
    summary = run("lying-readiness")["summary"]
    assert summary["min_available"] == 5 and summary["errors_total"] > 0


def test_a_bad_release_is_detected_by_the_error_rate_alert():
    summary = run("bad-release-detected")["summary"]
    alert = next(a for a in summary["alerts"] if a["name"] == "PaymentsHighErrorRate")
    # 5% errors from 2:00: the 1m rate crosses 1% by the 2:45 evaluation, then `for: 1m`.
    assert alert["first_pending_s"] == 165 and alert["first_firing_s"] == 225
    assert summary["time_to_detect_s"] == 105


def test_the_seed_canary_walks_its_steps_and_promotes():
    result = run("canary-success-rate")
    steps = [e for e in result["events"] if e["reason"] == "RolloutStepCompleted"]
    assert len(steps) == 8
    assert events(result, "RolloutCompleted")
    # Updated at 3m; then 5m pause, a 5-measurement analysis (4m), 5m and 10m pauses: about 24 minutes.
    assert 3 * 60 + 24 * 60 < events(result, "RolloutCompleted")[0]["t"] < 3 * 60 + 25 * 60


def test_a_bad_canary_is_aborted_by_its_analysis_at_the_first_step():
    result = run("canary-bad-version-aborted")
    aborted = events(result, "RolloutAborted")
    assert aborted and "canary-error-rate" in aborted[0]["message"]
    assert not events(result, "RolloutCompleted")
    # Errors only from the canary's tenth of the traffic, for about a minute: 5% of 90 requests/s.
    assert 200 < result["summary"]["errors_total"] < 600
    argo = result["summary"]["argo_rollouts"]["payments-api"]
    assert argo["phase"] == "Degraded"
    # Updated at 3m: 10% reached within seconds, the 1m pause, then the first measurement fails.
    assert 60 < argo["time_to_abort_s"] < 90
    (analysis,) = argo["analysis_runs"]
    assert analysis["phase"] == "Failed" and analysis["measurements"][0]["value"] == "[0.05]"
    assert argo["requests_failed_during_update"] == pytest.approx(result["summary"]["errors_total"], rel=0.05)


def test_a_second_push_with_min_ready_seconds_deletes_an_available_pod_and_keeps_one_that_is_not():
    path = SCENARIOS / "min-ready-seconds-second-push.yaml"
    second_push = load_scenario(path).spec.timeline[1].at
    sim = simdeploy.load(path)
    deployment = sim.store.get("Deployment", "production", "payments-api")
    min_ready, replicas = deployment["spec"]["minReadySeconds"], deployment["spec"]["replicas"]
    sim.run_until(second_push - 0.01)
    now = sim_to_datetime(sim.store.epoch, sim.now)
    middle = _pods_of_revision(sim, "2")
    available_before = {name: is_pod_available(pod, min_ready, now) for name, pod in middle.items()}
    assert sorted(available_before.values()) == [False, False, False, True, True, True]

    sim.run_until(second_push + 1)
    kept = set(_pods_of_revision(sim, "2"))
    deleted = set(available_before) - kept
    # The Deployment controller scaled the 2.9.0 ReplicaSet down by its 3 unavailable pods, but the
    # ReplicaSet picked by node crowding and readiness: one available pod went, one unavailable stayed.
    assert len(deleted) == 3
    assert any(available_before[name] for name in deleted)
    assert any(not available_before[name] for name in kept)
    summary = sim.run()["summary"]
    max_unavailable = deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"]
    assert summary["min_available"] == replicas - max_unavailable - 1
    assert summary["max_surge_observed"] <= deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]


def _pods_of_revision(sim, revision: str) -> dict[str, dict]:
    """The active pods of the Deployment's ReplicaSet of a revision, by name."""
    (rs,) = [
        rs
        for rs in sim.store.list("ReplicaSet")
        if rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision") == revision
    ]
    return {
        pod["metadata"]["name"]: pod
        for pod in sim.store.list("Pod")
        if not pod["metadata"].get("deletionTimestamp")
        and pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    }


def test_the_readme_lists_every_bundled_scenario():
    readme = (SCENARIOS.parent / "README.md").read_text()
    table = readme.split("### Bundled scenarios", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`([\w-]+\.yaml)`", table))
    assert listed == {path.name for path in SCENARIOS.glob("*.yaml")}
