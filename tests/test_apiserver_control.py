"""The facilitator's endpoints of `simdeploy serve`: pause, resume and speed, faults injected now, the timeline."""

from __future__ import annotations

import time

import pytest
from serve_helpers import request, send

from simdeploy.apiserver.clock import MAX_SPEED

CLOCK = "/simdeploy/v1/clock"
ACTIONS = "/simdeploy/v1/actions"


@pytest.fixture(scope="module")
def serving_paused(serving):
    """The seed at 30 s, clock stopped, actions acting on `production`."""
    with serving(until=30, speed=0) as server:
        server.namespace = "production"
        yield server


def live_pods(server) -> list[dict]:
    with server.lock:
        pods = server.sim.store.list("Pod", "production")
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def test_pause_holds_simulated_time_and_resume_keeps_the_speed(serving):
    with serving(until=10, speed=50) as server:
        server.namespace = "production"
        code, paused = send(server, "PATCH", CLOCK, {"paused": True})
        assert (code, paused["paused"], paused["speed"]) == (200, True, 50)
        held = request(server, CLOCK)[2]["now_s"]
        time.sleep(0.3)
        assert request(server, CLOCK)[2]["now_s"] == held
        code, resumed = send(server, "PATCH", CLOCK, {"paused": False, "speed": 100})
        assert (code, resumed["paused"], resumed["speed"]) == (200, False, 100)
        time.sleep(0.3)
        assert request(server, CLOCK)[2]["now_s"] >= held + 10  # ≥ 0.1 s of wall time at 100×
        assert send(server, "PATCH", CLOCK, {"speed": -1})[0] == 400
        assert send(server, "PATCH", CLOCK, {"sped": 2})[0] == 400


def test_a_fault_injected_now_uses_the_timeline_syntax_and_lands_on_the_timeline(serving):
    with serving(until=30, speed=0) as server:
        server.namespace = "production"
        code, done = send(
            server, "POST", ACTIONS, {"action": "delete-pods", "selector": "app=payments-api", "count": 2}
        )
        assert (code, done["at_s"], done["action"]) == (201, 30, "delete-pods")
        assert len(live_pods(server)) == 4
        assert [e["reason"] for e in done["events"]].count("Killing") == 2
        image = live_pods(server)[0]["spec"]["containers"][0]["image"]
        code, _ = send(server, "POST", ACTIONS, {"action": "set-behaviour", "image": image, "behaviour": {"crash": 1}})
        assert code == 422  # `crash` is no behaviour field: refused, as in a scenario file
        failing = {"action": "set-behaviour", "image": image, "behaviour": {"neverReady": True}}
        assert send(server, "POST", ACTIONS, failing)[0] == 201  # new containers of this version never get ready
        with server.lock:
            server.sim.run_until(90)
            status = server.sim.store.get("Deployment", "production", "payments-api")["status"]
        assert status["availableReplicas"] == 4  # the two replacements of the killed pods never become ready
        available = next(c for c in status["conditions"] if c["type"] == "Available")
        assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
        code, refused = send(server, "POST", ACTIONS, {"action": "drain", "node": "node-9"})
        assert code == 404 and "node-9" in refused["message"]
        code, invalid = send(server, "POST", ACTIONS, {"action": "delete-pods", "count": 2})
        assert code == 422 and "selector" in invalid["message"]
        code, invalid = send(server, "POST", ACTIONS, {"action": "delete-pods", "selector": "a=b", "at": "5m"})
        assert code == 400 and "leave out `at`" in invalid["message"]
        timeline = request(server, "/simdeploy/v1/timeline")[2]
        assert timeline["now_s"] == 90
        assert any(e["reason"] == "Killing" and e["t"] == 30 for e in timeline["events"])


def test_control_endpoints_need_the_token(serving):
    with serving(until=0, speed=0) as server:
        assert request(server, CLOCK, token=False)[0] == 401
        assert request(server, "/simdeploy/v1/nothing")[0] == 404


def test_simdeploy_ctl_pauses_injects_and_reads_the_timeline(tmp_path, serving):
    from typer.testing import CliRunner

    from simdeploy.cli import app

    def ctl(server, *args):
        return CliRunner().invoke(app, ["ctl", *args, "--kubeconfig", str(server.kubeconfig_path)])

    with serving(until=30, speed=0) as server:
        server.namespace = "production"
        status = ctl(server, "status")
        assert (status.exit_code, status.output.strip()) == (0, "simulated time 30s (30s), 0x")
        assert "paused" in ctl(server, "pause").output
        assert ctl(server, "speed", "20").output.strip() == "simulated time 30s (30s), paused"
        done = ctl(server, "do", "{action: delete-pods, selector: app=payments-api, count: 1}")
        assert done.exit_code == 0, done.output
        assert done.output.startswith("30s  delete-pods:")
        assert "Killing" in done.output
        timeline = ctl(server, "timeline", "--since", "30s")
        assert timeline.exit_code == 0
        assert "Killing" in timeline.output and timeline.output.strip().endswith("now 30s")
        refused = ctl(server, "do", "{action: drain, node: node-9}")
        assert refused.exit_code == 2 and 'nodes "node-9" not found' in refused.output
        assert ctl(server, "do", "[not, a, mapping]").exit_code == 2
        assert "paused" not in ctl(server, "resume").output
    gone = CliRunner().invoke(app, ["ctl", "status", "--kubeconfig", str(server.kubeconfig_path)])
    assert gone.exit_code == 2  # the server and its kubeconfig are gone


def test_a_pause_answers_promptly_while_the_clock_runs_flat_out(serving):
    # At 10^6x the simulation cannot keep up: the clock is always behind and would hold the lock for good
    # if it ran to its target in one go (seconds after a few seconds). It works in slices and lets requests in.
    with serving(until=0, speed=1e6) as server:
        time.sleep(2)
        asked = time.monotonic()
        code, paused = send(server, "PATCH", CLOCK, {"paused": True})
        waited = time.monotonic() - asked
        assert (code, paused["paused"]) == (200, True)
        assert waited < 1.0, f"the pause took {waited:.2f}s"
        assert paused["now_s"] > 1000  # it was running flat out until then
        time.sleep(0.3)
        assert request(server, CLOCK)[2]["now_s"] == paused["now_s"]
        assert server.clock.error is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"speed": Infinity}', "Infinity"),
        (b'{"speed": NaN}', "NaN"),
        (b'{"speed": 1e999}', "out of range"),
        (b'{"speed": 1e308}', "must be from 0 to 1e+06"),
        (b'{"speed": 1000001}', "must be from 0 to 1e+06"),
        (b'{"speed": "fast"}', "finite number"),
        (b'{"speed": true}', "finite number"),
    ],
)
def test_a_clock_speed_must_be_a_finite_number_up_to_the_maximum(serving_paused, body, says):
    code, refused = send(serving_paused, "PATCH", CLOCK, body)
    assert (code, refused["reason"]) == (400, "BadRequest")
    assert says in refused["message"]
    assert request(serving_paused, CLOCK)[2]["speed"] == 0  # unchanged


def test_the_maximum_speed_is_accepted(serving_paused):
    code, changed = send(serving_paused, "PATCH", CLOCK, {"speed": MAX_SPEED, "paused": True})
    assert (code, changed["speed"], changed["paused"]) == (200, MAX_SPEED, True)
    send(serving_paused, "PATCH", CLOCK, {"speed": 0, "paused": False})


@pytest.mark.parametrize(
    ("action", "code", "reason", "says"),
    [
        (
            {"action": "scale", "deployment": "nope", "replicas": 2},
            404,
            "NotFound",
            'deployments.apps "nope" not found',
        ),
        ({"action": "pause", "rollout": "nope"}, 404, "NotFound", 'rollouts.argoproj.io "nope" not found'),
        ({"action": "enable-flag", "flag": "nope"}, 404, "NotFound", 'flag "nope" not found'),
        ({"action": "set-weights", "route": "nope", "weights": {"a": 1}}, 404, "NotFound", 'route "nope" not found'),
        (
            {"action": "scale", "deployment": "payments-api", "replicas": 10**9},
            422,
            "Invalid",
            "replicas: 1,000,000,000 replicas",
        ),
        ({"action": "set-image", "deployment": "payments-api", "image": "nope:1"}, 422, "Invalid", "image: no"),
        ({"action": "set-behaviour", "image": "nope:1", "behaviour": {"neverReady": True}}, 422, "Invalid", "image"),
        ({"action": "scale", "deployment": "payments-api", "replicas": "1e9"}, 422, "Invalid", "replicas"),
        (
            {
                "action": "patch",
                "target": "deployment/payments-api",
                "patch": {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "nope:1"}]}}}},
            },
            422,
            "Invalid",
            "patch.spec.template.spec.containers[0].image: no behaviour for image 'nope:1'",
        ),
    ],
)
def test_an_action_naming_what_is_not_there_or_asking_too_much_is_refused_and_changes_nothing(
    serving_paused, action, code, reason, says
):
    with serving_paused.lock:
        before = (live_pods(serving_paused), len(serving_paused.sim.recorder.events))
    answer, refused = send(serving_paused, "POST", ACTIONS, action)
    assert (answer, refused["reason"]) == (code, reason), refused
    assert says in refused["message"]
    with serving_paused.lock:
        assert (live_pods(serving_paused), len(serving_paused.sim.recorder.events)) == before


def test_a_refused_image_leaves_the_simulation_running(serving):
    # An image without a behaviour would have stopped the clock at the first pod that ran it.
    with serving(until=30, speed=0) as server:
        server.namespace = "production"
        refused = send(server, "POST", ACTIONS, {"action": "set-image", "deployment": "payments-api", "image": "x:1"})
        assert refused[0] == 422
        assert refused[1]["details"]["causes"][0]["field"] == "image"
        with server.lock:
            server.sim.run_until(90)
        assert server.clock.error is None
        assert server.sim.store.get("Deployment", "production", "payments-api")["status"]["availableReplicas"] == 6


def test_simdeploy_ctl_refuses_bad_speeds_and_actions_with_the_reason_and_no_markup(serving):
    from typer.testing import CliRunner

    from simdeploy.cli import app

    def ctl(command, *args):
        return CliRunner().invoke(app, ["ctl", command, "--kubeconfig", str(server.kubeconfig_path), "--", *args])

    with serving(until=30, speed=0) as server:
        server.namespace = "production"
        for speed in ("inf", "nan", "-inf", "1e308", "-1"):
            refused = ctl("speed", speed)
            assert refused.exit_code == 2, refused.output
            assert refused.output.startswith("error: speed: must be"), refused.output
        assert request(server, CLOCK)[2]["speed"] == 0  # nothing reached the server
        marked = "'[red]x[/red]'"  # an image name that looks like markup: printed as it is, not read
        outcomes = {
            "{action: scale, deployment: payments-api, replicas: 1000000000}": "replicas: 1,000,000,000 replicas",
            "{action: set-image, deployment: payments-api, image: " + marked + "}": f"no behaviour for image {marked}",
            "{action: scale, deployment: nope, replicas: 2}": '404: deployments.apps "nope" not found',
        }
        for action, says in outcomes.items():
            refused = ctl("do", action)
            assert refused.exit_code == 2, refused.output
            assert refused.output.startswith("error: ") and says in refused.output, refused.output
