"""The kubelet in whole simulations: probes, restarts with back-off, and graceful termination.

Each rule is the upstream kubelet's (pkg/kubelet/prober/worker.go, pkg/kubelet/kuberuntime
killContainer, the CrashLoopBackOff back-off of pkg/kubelet/kubelet.go); times are asserted relative
to the moment the container started, as the event timeline shows it.
"""

from __future__ import annotations

import pytest

import simdeploy
from simdeploy.sim.simulation import Simulation

IMAGE = "img:1"


def deployment(container: dict | None = None, pod_spec: dict | None = None, replicas: int = 1) -> dict:
    """A Deployment `web` of one container `app` running IMAGE."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": IMAGE, **(container or {})}], **(pod_spec or {})},
            },
        },
    }


def simulate(
    container: dict | None = None,
    version: dict | None = None,
    timeline: tuple = (),
    pod_spec: dict | None = None,
    replicas: int = 1,
    seed: int = 1,
    until: float = 0.0,
) -> Simulation:
    """Load a one-Deployment scenario on two nodes (image already cached: pull 0 s) and run it to `until`."""
    sim = simdeploy.load(
        {
            "metadata": {"name": "kubelet"},
            "seed": seed,
            "duration": "1h",
            "cluster": {"nodes": [{"count": 2}], "containerStart": "1s"},
            "manifests": [{"inline": deployment(container, pod_spec, replicas)}],
            "versions": {IMAGE: {"pull": "0s", **(version or {})}},
            "timeline": list(timeline),
        }
    )
    sim.run_until(until)
    return sim


def times(sim: Simulation, reason: str, text: str = "") -> list[float]:
    """When pod events with this reason (and text in the message) happened."""
    return [
        e["t"] for e in sim.recorder.events if e["kind"] == "Pod" and e["reason"] == reason and text in e["message"]
    ]


def the_pod(sim: Simulation) -> dict:
    (pod,) = sim.store.list("Pod")
    return pod


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", ()))


def container(pod: dict) -> dict:
    (status,) = pod["status"]["containerStatuses"]
    return status


def http_probe(**fields) -> dict:
    return {"httpGet": {"path": "/healthz", "port": 8080}, **fields}


# -- readiness -------------------------------------------------------------------------


def test_a_pod_becomes_ready_at_the_first_readiness_tick_at_or_after_the_app_is_ready():
    # The app is ready 8 s after start (listening at 5 s, /readyz after 3 s more); ticks every 5 s.
    sim = simulate({"readinessProbe": http_probe(periodSeconds=5)}, {"startup": "5s", "readyAfter": "3s"}, until=2)
    (start,) = times(sim, "Started")
    sim.run_until(start + 9.9)
    assert not is_ready(the_pod(sim))
    assert not container(the_pod(sim))["ready"]
    sim.run_until(start + 10)
    assert is_ready(the_pod(sim))
    assert container(the_pod(sim))["ready"]
    assert times(sim, "Ready") == [pytest.approx(start + 10)]


def test_success_threshold_two_makes_the_pod_ready_one_period_later():
    sim = simulate(
        {"readinessProbe": http_probe(periodSeconds=5, successThreshold=2)},
        {"startup": "5s", "readyAfter": "3s"},
        until=60,
    )
    (start,) = times(sim, "Started")
    assert times(sim, "Ready") == [pytest.approx(start + 15)]


def test_initial_delay_skips_the_early_readiness_ticks():
    # Ready after 1 s, but ticks at 0, 5 and 10 s fall inside the 12 s initial delay.
    sim = simulate(
        {"readinessProbe": http_probe(periodSeconds=5, initialDelaySeconds=12)},
        {"startup": "1s"},
        until=60,
    )
    (start,) = times(sim, "Started")
    assert times(sim, "Ready") == [pytest.approx(start + 15)]


def test_a_container_without_a_readiness_probe_is_ready_as_soon_as_it_runs():
    sim = simulate(version={"startup": "20s"}, until=60)
    (start,) = times(sim, "Started")
    assert times(sim, "Ready") == [pytest.approx(start)]


def test_a_never_ready_app_keeps_its_pod_unready_but_running():
    sim = simulate({"readinessProbe": http_probe(periodSeconds=5)}, {"neverReady": True}, until=300)
    pod = the_pod(sim)
    assert pod["status"]["phase"] == "Running"
    assert not is_ready(pod)
    assert container(pod)["restartCount"] == 0


# -- startup probe ---------------------------------------------------------------------


def test_a_startup_probe_holds_readiness_back_until_it_succeeds():
    # The app listens (and /readyz passes) 12 s after start. The startup probe ticks every 5 s, so it
    # succeeds at 15 s; the readiness probe (every 4 s) would have passed at 12 s but first runs at 16 s.
    sim = simulate(
        {
            "startupProbe": http_probe(periodSeconds=5, failureThreshold=10),
            "readinessProbe": http_probe(periodSeconds=4),
        },
        {"startup": "12s"},
        until=2,
    )
    (start,) = times(sim, "Started")
    sim.run_until(start + 14.9)
    assert container(the_pod(sim))["started"] is False
    sim.run_until(start + 15)
    assert container(the_pod(sim))["started"] is True
    assert not is_ready(the_pod(sim))
    sim.run_until(start + 60)
    assert times(sim, "Ready") == [pytest.approx(start + 16)]


def test_a_startup_probe_holds_liveness_back_so_a_slow_starter_is_not_killed():
    # Liveness every 5 s with failureThreshold 1 kills a container that is not listening yet...
    liveness = http_probe(periodSeconds=5, failureThreshold=1)
    slow = {"startup": "12s"}
    without = simulate({"livenessProbe": liveness}, slow, until=120)
    assert times(without, "Killing", "failed liveness probe")
    # ...unless a startup probe covers the start: liveness only runs once it has succeeded.
    with_startup = simulate(
        {"livenessProbe": liveness, "startupProbe": http_probe(periodSeconds=5, failureThreshold=10)}, slow, until=120
    )
    assert times(with_startup, "Killing") == []
    assert container(the_pod(with_startup))["restartCount"] == 0
    assert is_ready(the_pod(with_startup))


def test_a_startup_probe_shorter_than_the_startup_kills_and_restarts_the_container():
    # failureThreshold 3 x period 5: failing ticks at 0, 5 and 10 s; the app needs 30 s.
    sim = simulate(
        {"startupProbe": http_probe(periodSeconds=5, failureThreshold=3)},
        {"startup": "30s", "shutdown": "1s"},
        until=2,
    )
    (start,) = times(sim, "Started")
    sim.run_until(start + 30)
    assert times(sim, "Unhealthy", "Startup probe failed")[0] == pytest.approx(start + 10)
    assert times(sim, "Killing", "failed startup probe")[0] == pytest.approx(start + 10)
    # It stops 1 s after SIGTERM and the first restart is immediate.
    assert times(sim, "Started")[1] == pytest.approx(start + 11)
    assert container(the_pod(sim))["restartCount"] == 1
    sim.run_until(start + 600)
    assert container(the_pod(sim))["restartCount"] >= 4
    assert not is_ready(the_pod(sim))


# -- liveness --------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [1, 3])
def test_a_hung_app_is_killed_after_failure_threshold_probes_each_failing_only_at_its_timeout(timeout):
    # The app hangs 30 s after start; liveness ticks at 30, 40 and 50 s time out `timeout` s later.
    sim = simulate(
        {"livenessProbe": http_probe(periodSeconds=10, timeoutSeconds=timeout, failureThreshold=3)},
        {"startup": "5s", "failLivenessAfter": "30s", "shutdown": "2s"},
        until=2,
    )
    (start,) = times(sim, "Started")
    sim.run_until(start + 50 + timeout + 2)
    killed = start + 50 + timeout
    assert times(sim, "Unhealthy", "Liveness probe failed") == [pytest.approx(killed)]
    assert times(sim, "Killing", "Container app failed liveness probe, will be restarted") == [pytest.approx(killed)]
    # The container stops 2 s after SIGTERM (exit 143), and restarts at once (first restart).
    pod = the_pod(sim)
    assert times(sim, "Started") == [pytest.approx(start), pytest.approx(killed + 2)]
    assert container(pod)["restartCount"] == 1
    assert container(pod)["lastState"]["terminated"]["exitCode"] == 143


def test_a_liveness_kill_runs_the_pre_stop_hook_before_the_container_stops():
    sim = simulate(
        {
            "livenessProbe": http_probe(periodSeconds=10, failureThreshold=3),
            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 15"]}}},
        },
        {"startup": "5s", "failLivenessAfter": "30s", "shutdown": "1s"},
        until=120,
    )
    start, restart = times(sim, "Started")[:2]
    killed = times(sim, "Killing")[0]
    assert killed == pytest.approx(start + 51)
    assert restart == pytest.approx(killed + 15 + 1)


def test_a_liveness_kill_uses_the_probe_level_grace_period_then_sigkill_after_the_two_second_floor():
    # preStop sleep 15 is cut at the probe's 5 s grace; the app would need 10 s after SIGTERM, so
    # SIGKILL comes 2 s later (the minimum stop timeout): exit code 137.
    sim = simulate(
        {
            "livenessProbe": http_probe(periodSeconds=10, failureThreshold=3, terminationGracePeriodSeconds=5),
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
        },
        {"startup": "5s", "failLivenessAfter": "30s", "shutdown": "10s"},
        until=120,
    )
    start, restart = times(sim, "Started")[:2]
    killed = times(sim, "Killing")[0]
    assert restart == pytest.approx(killed + 5 + 2)
    assert container(the_pod(sim))["lastState"]["terminated"]["exitCode"] == 137


def test_without_a_startup_probe_liveness_kills_an_app_that_is_not_listening_yet():
    # A closed port fails at once (no timeout): ticks at 0, 10 and 20 s fail before the app listens at 30 s.
    sim = simulate(
        {"livenessProbe": http_probe(periodSeconds=10, failureThreshold=3)},
        {"startup": "30s"},
        until=60,
    )
    start = times(sim, "Started")[0]
    assert times(sim, "Killing")[0] == pytest.approx(start + 20)


# -- CrashLoopBackOff ------------------------------------------------------------------


def restart_delays(sim: Simulation, runs_for: float) -> list[float]:
    """Seconds between each exit (start + runs_for) and the next start."""
    starts = times(sim, "Started")
    return [round(after - (before + runs_for), 3) for before, after in zip(starts, starts[1:], strict=False)]


def test_crash_loop_back_off_doubles_from_10_s_to_a_300_s_cap_after_an_immediate_first_restart():
    sim = simulate(version={"startup": "1s", "exitAfter": "5s"}, until=1000)
    assert restart_delays(sim, 5)[:8] == [0, 10, 20, 40, 80, 160, 300, 300]


def test_during_back_off_the_container_waits_in_crash_loop_back_off_and_the_pod_is_not_ready():
    sim = simulate(version={"startup": "1s", "exitAfter": "5s"}, until=2)
    start = times(sim, "Started")[0]
    # Exits at 5 s (restart at once), again at 10 s: back-off 10 s, until 20 s.
    sim.run_until(start + 15)
    pod = the_pod(sim)
    status = container(pod)
    assert status["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["restartCount"] == 1
    assert pod["status"]["phase"] == "Running"
    assert not is_ready(pod)
    assert times(sim, "BackOff") == [pytest.approx(start + 10)]


@pytest.mark.parametrize(
    "runs_for, delays",
    [
        pytest.param("600s", [0, 10, 20], id="exactly 10 minutes: back-off goes on"),
        pytest.param("601s", [0, 0, 0], id="more than 10 minutes: back-off starts again, restart at once"),
    ],
)
def test_back_off_resets_once_a_container_ran_more_than_10_minutes(runs_for, delays):
    # client-go flowcontrol hasExpired: finishedAt - lastUpdate > 2 x 300 s.
    sim = simulate(version={"startup": "1s", "exitAfter": runs_for}, until=2500)
    assert restart_delays(sim, float(runs_for[:-1]))[:3] == delays


def test_after_a_reset_the_next_crash_waits_10_s_again():
    # Crash-loop up to an 80 s back-off, then run 11 minutes, then crash quickly again.
    sim = simulate(
        version={"startup": "1s", "exitAfter": "5s"},
        timeline=(
            {"at": "100s", "action": "set-behaviour", "image": IMAGE, "behaviour": {"exitAfter": "11m"}},
            {"at": "900s", "action": "set-behaviour", "image": IMAGE, "behaviour": {"exitAfter": "5s"}},
        ),
        until=1000,
    )
    starts = times(sim, "Started")
    s0 = starts[0]
    # Back-offs 0, 10, 20, 40 and 80 s; that run lasts 660 s, so its restart is immediate.
    expected = [s0, s0 + 5, s0 + 20, s0 + 45, s0 + 90, s0 + 175, s0 + 175 + 660]
    assert starts[:7] == pytest.approx(expected)
    # The change at 900 s makes the running container exit at 905 s: back-off 10 s, not 160 s.
    assert starts[7] == pytest.approx(915)


def test_a_container_restarting_after_a_behaviour_change_runs_the_new_behaviour():
    # Crashing every 5 s; at 15 s (in back-off until 21 s) the image stops crashing.
    sim = simulate(
        version={"startup": "1s", "exitAfter": "5s"},
        timeline=({"at": "15s", "action": "set-behaviour", "image": IMAGE, "behaviour": {"exitAfter": "1h"}},),
        until=600,
    )
    pod = the_pod(sim)
    assert container(pod)["restartCount"] == 2
    assert container(pod)["state"].keys() == {"running"}
    assert is_ready(pod)


# -- termination -----------------------------------------------------------------------


def pre_stop_sleep(seconds: float) -> dict:
    return {"lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", f"sleep {seconds}"]}}}}


def delete_at(moment: str, **extra) -> dict:
    return {"at": moment, "action": "delete-pods", "selector": "app=web", "count": 1, **extra}


def removed_at(sim: Simulation, name: str, begin: float, end: float, step: float = 0.5) -> float | None:
    """Step the clock until the pod object is gone; the moment it went, or None."""
    moment = begin
    while moment <= end:
        sim.run_until(moment)
        if sim.store.find("Pod", "default", name) is None:
            return moment
        moment += step
    return None


@pytest.mark.parametrize(
    "pre_stop, grace, shutdown, gone_after",
    [
        pytest.param(15, 45, "1s", 16, id="preStop 15 s then SIGTERM, exits 1 s later"),
        pytest.param(60, 45, "10s", 47, id="preStop cut at 45 s, then the one-off 2 s, then SIGKILL"),
        pytest.param(60, 45, "1s", 46, id="preStop cut at 45 s, the app exits within the 2 s extension"),
        pytest.param(0, 30, "3s", 3, id="no preStop: SIGTERM at once"),
        pytest.param(0, 30, "100s", 30, id="no preStop, slow shutdown: SIGKILL at the grace period"),
        pytest.param(15.5, 20, "10s", 20.5, id="the hook's time is deducted in whole seconds: 20 - 15 = 5 s left"),
    ],
)
def test_a_deleted_pod_is_removed_once_pre_stop_and_shutdown_finish_within_the_grace_period(
    pre_stop, grace, shutdown, gone_after
):
    sim = simulate(
        pre_stop_sleep(pre_stop) if pre_stop else None,
        {"startup": "1s", "shutdown": shutdown},
        timeline=(delete_at("60s"),),
        pod_spec={"terminationGracePeriodSeconds": grace},
        until=59,
    )
    name = the_pod(sim)["metadata"]["name"]
    sim.run_until(60)
    terminating = sim.store.get("Pod", "default", name)
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == grace
    assert terminating["status"]["phase"] == "Running"
    assert removed_at(sim, name, 60, 60 + gone_after + 1) == 60 + gone_after


def test_the_grace_period_of_the_delete_overrides_the_pods():
    sim = simulate(
        version={"startup": "1s", "shutdown": "100s"},
        timeline=(delete_at("60s", gracePeriod=5),),
        until=59,
    )
    name = the_pod(sim)["metadata"]["name"]
    assert removed_at(sim, name, 60, 80) == 65


def test_a_terminating_pod_stops_counting_at_once_so_its_replacement_is_created_immediately():
    sim = simulate(
        pre_stop_sleep(15),
        {"startup": "1s"},
        timeline=(delete_at("60s"),),
        until=59,
    )
    old = the_pod(sim)["metadata"]["name"]
    sim.run_until(61)
    pods = {p["metadata"]["name"]: p for p in sim.store.list("Pod")}
    assert set(pods) - {old}, "a replacement exists while the old pod is still terminating"
    assert pods[old]["metadata"]["deletionTimestamp"]
    created = [e["t"] for e in sim.recorder.events if e["reason"] == "SuccessfulCreate"]
    assert 60 < created[-1] < 60.2
    (rs,) = sim.store.list("ReplicaSet")
    assert rs["status"]["replicas"] == 1
    assert rs["status"]["terminatingReplicas"] == 1


def test_liveness_stops_once_the_pod_is_deleted_so_a_hung_terminating_pod_is_not_restarted():
    # Hangs at 30 s; liveness would kill at 51 s. Deleted at 35 s with a 40 s preStop: it just terminates.
    sim = simulate(
        {"livenessProbe": http_probe(periodSeconds=10, failureThreshold=3), **pre_stop_sleep(40)},
        {"startup": "5s", "failLivenessAfter": "30s"},
        pod_spec={"terminationGracePeriodSeconds": 60},
        until=2,
    )
    (start,) = times(sim, "Started")
    name = the_pod(sim)["metadata"]["name"]
    sim.at(start + 35, "delete", lambda s: s.api.delete_pod(s.store.get("Pod", "default", name)))
    sim.run_until(start + 70)
    assert sim.store.get("Pod", "default", name)["status"]["containerStatuses"][0]["restartCount"] == 0
    assert times(sim, "Killing", "failed liveness probe") == []
    assert removed_at(sim, name, start + 70, start + 100) == pytest.approx(start + 35 + 41, abs=0.5)


# -- determinism -----------------------------------------------------------------------


def test_the_same_scenario_and_seed_give_the_same_timeline():
    def timeline(seed: int) -> list[dict]:
        sim = simulate(
            {"readinessProbe": http_probe(periodSeconds=5), "livenessProbe": http_probe(periodSeconds=10)},
            {
                "startup": {"lognormal": {"median": "8s", "p95": "15s"}},
                "exitAfter": {"uniform": {"min": "30s", "max": "90s"}},
            },
            timeline=(delete_at("200s"),),
            replicas=3,
            seed=seed,
            until=600,
        )
        return sim.recorder.events

    first = timeline(7)
    assert first == timeline(7)
    assert first != timeline(8), "the timelines are random at all, so the comparison means something"


def test_an_image_no_registry_has_fails_to_pull_and_backs_off_until_the_rollout_is_undone():
    # A typo in `kubectl set image` (through serve, or a runbook): the image has no behaviour, as a registry
    # would not have it. The pods stay Pending in ImagePullBackOff, retried 10 s, 20 s, 40 s ... apart.
    sim = simulate({"readinessProbe": http_probe(periodSeconds=1)}, {"startup": "2s"}, replicas=2, until=30)
    sim.kubectl.set_image("default", "web", "app", "web:typo")
    sim.run_until(30 + 200)
    pending = [p for p in sim.store.list("Pod") if p["spec"]["containers"][0]["image"] == "web:typo"]
    assert pending and all(p["status"].get("phase", "Pending") == "Pending" for p in pending)
    assert container(pending[0])["state"] == {"waiting": {"reason": "ImagePullBackOff"}}
    name = pending[0]["metadata"]["name"]
    failures = [e["t"] for e in sim.recorder.events if e["reason"] == "Failed" and e["name"] == name]
    assert [round(b - a) for a, b in zip(failures, failures[1:], strict=False)][:4] == [11, 21, 41, 81]
    assert "not found" in next(e["message"] for e in sim.recorder.events if e["reason"] == "Failed")
    assert sim.store.get("Deployment", "default", "web")["status"]["availableReplicas"] >= 1  # the old pods serve
    sim.kubectl.rollout_undo("default", "web")
    sim.run_until(300)
    assert not [p for p in sim.store.list("Pod") if p["spec"]["containers"][0]["image"] == "web:typo"]
