"""Operator commands on a running simulation: rollout undo, pause/resume, scale mid-rollout, apply, patch."""

from __future__ import annotations

import copy

import pytest

import simdeploy
from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.kubectl import KubectlError

NS = "default"


def deployment(replicas: int = 4, image: str = "web:1", **strategy) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": strategy or {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 80}, "periodSeconds": 2},
                        }
                    ]
                },
            },
        },
    }


def simulation(*manifests: dict, duration: str = "30m") -> simdeploy.Simulation:
    versions = {f"web:{n}": {"startup": "3s", "pull": "1s"} for n in (1, 2, 3)}
    versions["web:bad"] = {"startup": "3s", "neverReady": True}
    return simdeploy.load(
        {
            "metadata": {"name": "t"},
            "duration": duration,
            "manifests": [{"inline": m} for m in manifests],
            "versions": versions,
        }
    )


def web(sim) -> dict:
    return sim.store.get("Deployment", NS, "web")


def image_of(obj: dict) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def replica_sets(sim) -> dict[int, dict]:
    return {du.revision(rs): rs for rs in sim.store.list("ReplicaSet", NS)}


def complete(sim) -> bool:
    d = web(sim)
    return du.deployment_complete(d, d["status"])


def roll_to(sim, image: str, until: float) -> None:
    sim.kubectl.set_image(NS, "web", "web", image)
    sim.run_until(until)
    assert complete(sim)


def test_undo_goes_back_to_the_previous_revision_and_renumbers_it():
    sim = simulation(deployment())
    sim.run_until(60)
    roll_to(sim, "web:2", 120)
    assert sim.kubectl.rollout_undo(NS, "web") == "deployment.apps/web rolled back to revision 1"
    sim.run_until(200)
    assert complete(sim)
    assert image_of(web(sim)) == "web:1"
    history = replica_sets(sim)
    assert sorted(history) == [2, 3]  # revision 1 became 3: the same ReplicaSet, no new one
    assert image_of(history[3]) == "web:1"
    assert history[3]["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1"
    assert web(sim)["metadata"]["annotations"][du.REVISION_ANNOTATION] == "3"


def test_undo_to_a_given_revision():
    sim = simulation(deployment())
    sim.run_until(60)
    roll_to(sim, "web:2", 120)
    roll_to(sim, "web:3", 180)
    sim.kubectl.rollout_undo(NS, "web", to_revision=1)
    sim.run_until(260)
    assert image_of(web(sim)) == "web:1"
    assert sorted(replica_sets(sim)) == [2, 3, 4]


def test_undo_errors_are_kubectls():
    sim = simulation(deployment())
    sim.run_until(60)
    with pytest.raises(KubectlError, match='no rollout history found for deployment "web"'):
        sim.kubectl.rollout_undo(NS, "web")
    roll_to(sim, "web:2", 120)
    with pytest.raises(KubectlError, match="unable to find specified revision 7 in history"):
        sim.kubectl.rollout_undo(NS, "web", to_revision=7)
    message = sim.kubectl.rollout_undo(NS, "web", to_revision=2)
    assert "skipped rollback (current template already matches revision 2)" in message
    sim.kubectl.pause(NS, "web")
    with pytest.raises(KubectlError, match="you cannot rollback a paused deployment"):
        sim.kubectl.rollout_undo(NS, "web")


def test_a_failed_action_in_the_timeline_is_reported_not_fatal():
    sim = simdeploy.load(
        {
            "metadata": {"name": "t"},
            "duration": "2m",
            "manifests": [{"inline": deployment()}],
            "versions": {"web:1": {"startup": "3s"}},
            "timeline": [{"at": "1m", "action": "rollout-undo", "deployment": "web"}],
        }
    )
    result = sim.run()
    failed = [e for e in result["events"] if e["reason"] == "Failed"]
    assert failed and "no rollout history found" in failed[0]["message"]


def test_pause_stops_the_rollout_and_resume_continues_it():
    sim = simulation(deployment())
    sim.run_until(60)
    sim.kubectl.pause(NS, "web")
    sim.kubectl.set_image(NS, "web", "web", "web:2")
    sim.run_until(200)
    assert len(sim.store.list("ReplicaSet", NS)) == 1  # no new ReplicaSet while paused
    condition = du.get_deployment_condition(web(sim)["status"], du.DEPLOYMENT_PROGRESSING)
    assert condition["reason"] == du.PAUSED_DEPLOY_REASON and condition["status"] == "Unknown"
    sim.kubectl.resume(NS, "web")
    sim.run_until(300)
    assert complete(sim) and image_of(replica_sets(sim)[2]) == "web:2"


def test_scaling_mid_rollout_is_proportional():
    # 10 replicas, 3 surge: mid-rollout the old and new ReplicaSets share the new size by their weight.
    sim = simulation(deployment(10, maxSurge=3, maxUnavailable=2))
    sim.run_until(60)
    sim.kubectl.set_image(NS, "web", "web", "web:bad")
    sim.run_until(120)
    before = {du.revision(rs): rs["spec"]["replicas"] for rs in sim.store.list("ReplicaSet", NS)}
    assert before == {1: 8, 2: 5}
    sim.kubectl.scale(NS, "web", 20)
    sim.run_until(180)
    after = {du.revision(rs): rs["spec"]["replicas"] for rs in sim.store.list("ReplicaSet", NS)}
    # allowed 20 + 3 = 23, to add 10: old gets round(8 * 23 / 13) - 8 = 6, new round(5 * 23 / 13) - 5 = 4.
    assert after == {1: 14, 2: 9}
    scaling = [e["message"] for e in sim.recorder.events if e["reason"] == "ScalingReplicaSet" and e["t"] >= 120]
    assert any("from 8 to 14" in m for m in scaling) and any("from 5 to 9" in m for m in scaling)


def test_revision_history_limit_deletes_the_oldest_unused_replica_sets():
    manifest = deployment()
    manifest["spec"]["revisionHistoryLimit"] = 1
    sim = simulation(manifest)
    sim.run_until(60)
    roll_to(sim, "web:2", 120)
    roll_to(sim, "web:3", 180)
    sim.run_until(200)
    assert sorted(replica_sets(sim)) == [2, 3]


def test_store_changes_between_steps_act_like_an_api_client():
    sim = simulation(deployment())
    sim.run_until(60)
    d = web(sim)
    changed = copy.deepcopy(d)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    sim.api.update(d, changed)
    assert d["metadata"]["generation"] == 2
    sim.run_until(120)
    assert complete(sim) and image_of(replica_sets(sim)[2]) == "web:2"
    assert d["status"]["observedGeneration"] == 2


def test_apply_and_patch():
    sim = simulation(deployment())
    sim.run_until(30)
    changed = deployment(image="web:2")
    assert sim.kubectl.apply(changed) == "deployment/web configured"
    assert sim.kubectl.apply(deployment(image="web:2")) == "deployment/web unchanged"
    sim.run_until(90)
    assert complete(sim) and image_of(web(sim)) == "web:2"
    sim.kubectl.patch("Deployment", NS, "web", {"spec": {"replicas": 2}})
    sim.run_until(120)
    assert web(sim)["status"]["replicas"] == 2


def test_same_seed_same_timeline_and_different_seed_differs():
    def timeline(seed: int) -> list:
        scenario = {
            "metadata": {"name": "t"},
            "seed": seed,
            "duration": "5m",
            "manifests": [{"inline": deployment()}],
            "versions": {"web:1": {"startup": {"lognormal": {"median": "5s", "p95": "20s"}}}},
        }
        return simdeploy.load(scenario).run()["events"]

    assert timeline(1) == timeline(1)
    assert timeline(1) != timeline(2)
