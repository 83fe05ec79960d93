"""Init containers in the kubelet: one after the other, before the app's containers; failures and back-off."""

from __future__ import annotations

from simdeploy.apiserver.tables import _pod_status
from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.distributions import Fixed
from simdeploy.sim.simulation import Simulation


def pod(init: list[str], restart: str = "Always") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "restartPolicy": restart,
            "initContainers": [{"name": f"init-{i}", "image": image} for i, image in enumerate(init)],
            "containers": [{"name": "app", "image": "app:1"}],
        },
    }


BEHAVIOURS = {
    "ok:1": VersionBehaviour("ok:1", pull=Fixed(0), exit_after=Fixed(4), exit_code=0),
    "bad:1": VersionBehaviour("bad:1", pull=Fixed(0), exit_after=Fixed(2), exit_code=1),
    "app:1": VersionBehaviour("app:1", pull=Fixed(0), startup=Fixed(2)),
}


def at(sim: Simulation, moment: float) -> dict:
    sim.run_until(moment)
    return sim.store.get("Pod", "default", "web")


def test_init_containers_run_in_order_before_the_app_and_gate_readiness():
    sim = Simulation("init", [pod(["ok:1", "ok:1"])], BEHAVIOURS, 60)
    first = at(sim, 3)
    assert _pod_status(first) == "Init:0/2" and first["status"]["phase"] == "Pending"
    assert first["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    second = at(sim, 7)
    assert _pod_status(second) == "Init:1/2"
    assert second["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    conditions = {c["type"]: c["status"] for c in second["status"]["conditions"]}
    assert conditions["Initialized"] == "False" and conditions["Ready"] == "False"
    ready = at(sim, 14)
    conditions = {c["type"]: c["status"] for c in ready["status"]["conditions"]}
    assert conditions == {"Initialized": "True", "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}
    assert _pod_status(ready) == "Running"
    started = [e["t"] for e in sim.recorder.events if e["reason"] == "Started"]
    assert started == sorted(started) and len(started) == 3 and started[1] - started[0] >= 4


def test_a_failing_init_container_crash_loops_under_restart_always():
    sim = Simulation("init", [pod(["bad:1"])], BEHAVIOURS, 120)
    assert _pod_status(at(sim, 3.5)) in ("Init:Error", "Init:0/1")
    looping = at(sim, 30)
    assert _pod_status(looping) == "Init:CrashLoopBackOff"
    assert looping["status"]["initContainerStatuses"][0]["restartCount"] >= 2
    assert looping["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert [c["status"] for c in looping["status"]["conditions"] if c["type"] == "Ready"] == ["False"]


def test_a_failing_init_container_fails_the_pod_under_restart_never():
    sim = Simulation("init", [pod(["bad:1"], restart="Never")], BEHAVIOURS, 60)
    failed = at(sim, 30)
    assert failed["status"]["phase"] == "Failed"
    assert _pod_status(failed) == "Init:Error"
    assert failed["status"]["initContainerStatuses"][0]["restartCount"] == 0


def test_end_container_is_how_something_outside_the_kubelet_finishes_a_container():
    behaviours = {**BEHAVIOURS, "runner:1": VersionBehaviour("runner:1", pull=Fixed(0))}
    sim = Simulation("init", [pod(["runner:1"])], behaviours, 60)
    seen = []
    sim.kubelet.container_listeners.append(lambda p, c: seen.append((c.name, c.init)))
    running = at(sim, 5)
    assert _pod_status(running) == "Init:0/1" and seen == [("init-0", True)]
    assert sim.kubelet.end_container(running["metadata"]["uid"], "init-0", 0)
    assert not sim.kubelet.end_container(running["metadata"]["uid"], "init-0", 0)  # no longer running
    assert _pod_status(at(sim, 12)) == "Running" and seen[-1] == ("app", False)
