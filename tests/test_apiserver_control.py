"""The facilitator's endpoints of `simdeploy serve`: pause, resume and speed, faults injected now, the timeline."""

from __future__ import annotations

import time

from serve_helpers import request, send

CLOCK = "/simdeploy/v1/clock"
ACTIONS = "/simdeploy/v1/actions"


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
