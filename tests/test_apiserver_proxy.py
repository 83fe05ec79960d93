"""The Service proxy of `simdeploy serve`: a probe through `…/services/NAME/proxy/PATH` is answered as one routed pod
would answer it, from the traffic model's view, without touching the simulation's traffic or its random draws."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from serve_helpers import ROOT, kubectl, needs_kubectl, ok, request, send

import simdeploy
from simdeploy.apiserver import ApiServer
from simdeploy.sim.distributions import Fixed

PROXY = "/api/v1/namespaces/production/services/payments-api/proxy"
OLD_IMAGE = "registry.example.com/payments-api@sha256:abc123..."


def probe(server, times: int, path: str = PROXY + "/healthz", user: str | None = None) -> list[tuple[int, dict, dict]]:
    return [request(server, path, user=user) for _ in range(times)]


def change(server, seconds: float = 0.0, **behaviour) -> None:
    """Change how the running version behaves, then let `seconds` of simulated time pass (a tick or two)."""
    with server.lock:
        sim = server.sim
        sim.set_behaviour(sim.behaviours[OLD_IMAGE].with_changes(**behaviour))
        sim.run_until(sim.now + seconds)


def test_a_probe_gets_the_version_and_pod_that_answered_and_the_modelled_latency(serving):
    with serving(until=100, speed=0) as server:
        answers = probe(server, 30)
        pods = {p["metadata"]["name"] for p in server.sim.store.list("Pod", "production")}
    assert {code for code, _, _ in answers} == {200}
    assert {body["version"] for _, _, body in answers} == {"2.8.1"}
    assert {body["pod"] for _, _, body in answers} <= pods
    assert len({body["pod"] for _, _, body in answers}) > 2  # picked at random among the routed pods
    latencies = [float(headers["X-Simdeploy-Latency"]) for _, headers, _ in answers]
    assert 0 < min(latencies) and max(latencies) < 1  # 2.8.1: p50 20 ms, p99 120 ms, lightly loaded
    assert len(set(latencies)) > 20


def test_probes_change_nothing_the_simulation_counts_or_draws(serving):
    with serving(until=100, speed=0) as server:
        with server.lock:
            draws, counted = server.sim.rng.getstate(), copy.deepcopy(dict(server.sim.traffic.requests))
        codes = [code for code, _, _ in probe(server, 50)]
        assert send(server, "POST", PROXY + "/orders", {"amount": 3})[0] == 200  # any method
        with server.lock:
            assert server.sim.rng.getstate() == draws
            assert dict(server.sim.traffic.requests) == counted
        logged = server.requests.document()["log"]
    assert codes == [200] * 50
    assert sum(1 for r in logged if r["path"].startswith(PROXY)) == 51  # but the session log has them


def test_the_same_seed_gives_the_same_answers():
    def session() -> list[tuple[int, str, str]]:
        sim = simdeploy.load(ROOT / "scenarios" / "payments-rolling-update.yaml")
        sim.run_until(100)
        with ApiServer(sim, "seed", speed=0) as server:
            change(server, 2, error_rate=0.5)
            return [(c, b["pod"], h["X-Simdeploy-Latency"]) for c, h, b in probe(server, 20)]

    first = session()
    assert first == session()
    assert {code for code, _, _ in first} == {200, 500}


def test_errors_come_at_the_versions_error_rate(serving):
    with serving(until=100, speed=0) as server:
        change(server, 2, error_rate=0.25)
        answers = probe(server, 400)
    failed = [body for code, _, body in answers if code == 500]
    assert 60 <= len(failed) <= 140  # 100 expected
    assert failed[0]["error"] == "internal server error" and failed[0]["version"] == "2.8.1"
    assert {code for code, _, _ in answers} == {200, 500}


def test_a_saturated_group_rejects_the_share_it_rejected_in_the_last_tick(serving):
    with serving(until=100, speed=0) as server:
        change(server, 2, capacity=50)  # 900 requests/s on 6 pods of 50: two thirds rejected
        with server.lock:
            [(utilisation, rejected)] = server.sim.traffic.load.values()
        answers = probe(server, 300)
    assert utilisation == 1 and rejected == pytest.approx(2 / 3)
    overloaded = [body for code, _, body in answers if code == 503]
    assert 170 <= len(overloaded) <= 230  # 200 expected
    assert overloaded[0]["error"] == "overloaded"
    slow = [float(h["X-Simdeploy-Latency"]) for code, h, _ in answers if code == 200]
    assert sorted(slow)[len(slow) // 2] > 0.2  # saturated: 20x the idle median of 20 ms


def test_a_pod_that_cannot_serve_refuses_the_connection(serving):
    with serving(until=100, speed=0) as server:
        change(server, 0.01, hang_after=Fixed(0.0))  # every running container hangs now, still routed
        code, _, refused = request(server, PROXY + "/healthz")
        ips = {p["status"]["podIP"] for p in server.sim.store.list("Pod", "production")}
    assert (code, refused["kind"], refused["reason"]) == (503, "Status", "ServiceUnavailable")
    message = refused["message"]
    assert message.startswith("error trying to reach service: dial tcp ") and message.endswith(
        ":8080: connect: connection refused"
    )
    assert message.split("dial tcp ")[1].split(":")[0] in ips


def test_no_endpoint_no_port_no_service(serving):
    with serving(until=100, speed=0) as server:
        lonely = {"metadata": {"name": "lonely"}, "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}}
        assert send(server, "POST", "/api/v1/namespaces/production/services", lonely)[0] == 201
        code, _, empty = request(server, "/api/v1/namespaces/production/services/lonely/proxy/")
        assert (code, empty["message"]) == (503, 'no endpoints available for service "lonely"')
        assert request(server, "/api/v1/namespaces/production/services/payments-api:80/proxy/")[0] == 200
        assert request(server, "/api/v1/namespaces/production/services/https:payments-api:http/proxy")[0] == 200
        code, _, port = request(server, "/api/v1/namespaces/production/services/payments-api:81/proxy/")
        assert (code, port["message"]) == (503, 'no service port 81 found for service "payments-api"')
        code, _, missing = request(server, "/api/v1/namespaces/production/services/nosuch/proxy/x")
        assert (code, missing["message"]) == (404, 'services "nosuch" not found')
        code, _, bad = request(server, "/api/v1/namespaces/production/services/a:b:c:d/proxy/")
        assert (code, bad["message"]) == (400, 'invalid service request "a:b:c:d"')
    with serving(until=5, speed=0) as server:  # before the first pod is Ready
        code, _, early = request(server, PROXY + "/")
        assert (code, early["message"]) == (503, 'no endpoints available for service "payments-api"')


def test_observers_may_probe_but_not_post(serving):
    with serving(until=100, speed=0, users={"obs": "observer"}) as server:
        assert request(server, PROXY + "/healthz", user="obs")[0] == 200
        code, refused = send(server, "POST", PROXY + "/orders", {}, user="obs")
        assert refused["message"] == (
            'services "payments-api" is forbidden: User "obs" cannot create resource "services/proxy" '
            'in API group "" in the namespace "production"'
        )
        assert [r["user"] for r in server.requests.document()["log"]] == ["obs", "obs"]


def test_a_feature_flag_fails_the_requests_of_the_users_who_see_it():
    scenario = yaml.safe_load((ROOT / "scenarios" / "flag-ramp-25-percent.yaml").read_text())
    scenario["flags"]["effects"] = [
        {"flag": "new-checkout-flow", "when": "enabled", "version": "2.9.0", "errorRate": 1}
    ]
    scenario["expect"] = {}
    sim = simdeploy.load(scenario, base_dir=ROOT / "scenarios")
    sim.run_until(8 * 60)  # half the users see the flag since 7m, every pod runs 2.9.0
    with ApiServer(sim, "flags", speed=0) as server:
        answers = probe(server, 300)
    assert {body["version"] for _, _, body in answers} == {"2.9.0"}
    failed = sum(1 for code, _, _ in answers if code == 500)
    assert 110 <= failed <= 190  # 150 expected


@needs_kubectl
def test_kubectl_get_raw_through_the_proxy(serving, tmp_path):
    with serving(until=100, speed=0) as server:
        answer = json.loads(ok(kubectl(server, tmp_path, "get", "--raw", PROXY + "/healthz")))
        assert answer["version"] == "2.8.1" and answer["pod"].startswith("payments-api-")
        missing = kubectl(server, tmp_path, "get", "--raw", "/api/v1/namespaces/production/services/x/proxy/")
        assert missing.returncode == 1 and 'services "x" not found' in missing.stderr


def test_the_python_client_probes_through_the_proxy(serving):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config

    with serving(until=100, speed=0) as server:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(server.kubeconfig_path)))
        raw = core.connect_get_namespaced_service_proxy_with_path(
            "payments-api", "production", "healthz", _preload_content=False
        )  # unread, the body comes back as the client's own repr of the parsed JSON
        assert json.loads(raw.data)["version"] == "2.8.1"
        assert float(raw.headers["X-Simdeploy-Latency"]) > 0
        change(server, 2, error_rate=1.0)
        with pytest.raises(kubernetes.client.ApiException) as failed:
            core.connect_get_namespaced_service_proxy_with_path("payments-api", "production", "healthz")
        assert failed.value.status == 500 and json.loads(failed.value.body)["error"] == "internal server error"
