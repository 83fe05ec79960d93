"""The fluid traffic model: conservation, endpoint propagation, overload, routing and blue/green."""

from __future__ import annotations

import pytest

import simdeploy
from simdeploy.sim.latency import LogNormalLatency, bucket_counts, stretch
from simdeploy.sim.traffic.rates import Constant, Diurnal, Ramp, Series, Spike, Steps

NS = "default"


def deployment(name: str = "web", replicas: int = 3, image: str = "web:1", labels: dict | None = None, **pod) -> dict:
    labels = labels or {"app": name}
    container = {
        "name": "web",
        "image": image,
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 80}, "periodSeconds": 1},
    }
    if "pre_stop" in pod:
        container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", str(pod["pre_stop"])]}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def service(name: str = "web", selector: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": selector or {"app": name}, "ports": [{"port": 80}]},
    }


def scenario(manifests, traffic, versions=None, timeline=(), duration="5m", **cluster) -> dict:
    return {
        "metadata": {"name": "traffic"},
        "duration": duration,
        "cluster": {"endpointPropagationDelay": "2s", **cluster},
        "manifests": [{"inline": m} for m in manifests],
        "versions": versions or {"web:1": {"startup": "2s", "pull": "0s", "capacity": 100}},
        "traffic": traffic,
        "timeline": list(timeline),
    }


def test_requests_are_conserved_every_tick():
    sim = simdeploy.load(
        scenario(
            [deployment(), service()],
            [{"service": "web", "rate": {"ramp": {"from": 50, "to": 500, "over": "3m"}}}],
            versions={"web:1": {"startup": "2s", "pull": "0s", "capacity": 100, "errorRate": 0.01}},
            timeline=[{"at": "1m", "action": "delete-pods", "selector": "app=web", "count": 2}],
        )
    )
    ticks = []
    sim.traffic.listeners.append(lambda t, sent, failed: ticks.append((t, sent, failed)))
    result = sim.run()
    assert len(ticks) == 300
    counted = sum(sim.traffic.requests.values())
    assert counted == pytest.approx(sim.traffic.total.sent)
    failed = sum(v for (_, _, _, code), v in sim.traffic.requests.items() if code != "200")
    assert failed == pytest.approx(sim.traffic.total.failed)
    assert result["summary"]["requests_total"] == pytest.approx(sum(s for _, s, _ in ticks), abs=1e-3)
    for t, sent, failed_now in ticks:
        assert 0 <= failed_now <= sent + 1e-9
        assert sent == pytest.approx(Ramp(50, 500, 180).at(t - 1))


def test_no_endpoint_means_every_request_fails_until_pods_are_ready():
    result = simdeploy.load(scenario([deployment(), service()], [{"service": "web", "rate": 100}])).run()
    first = result["traffic"][0]
    assert first["version"] == "none" and first["errors"] == first["requests"]
    # Pods Ready at ~4 s, routed 2 s later: about 6 s of 100 rps fail, nothing after.
    assert 500 <= result["summary"]["errors_total"] <= 800


def test_a_terminating_pod_without_prestop_fails_requests_for_the_propagation_delay():
    def errors(pre_stop: int | None) -> float:
        extra = {} if pre_stop is None else {"pre_stop": pre_stop}
        manifests = [deployment(replicas=4, **extra), service()]
        timeline = [{"at": "1m", "action": "delete-pods", "selector": "app=web", "count": 1}]
        traffic = [{"service": "web", "rate": 400, "start": "30s"}]
        versions = {"web:1": {"startup": "2s", "pull": "0s"}}  # no capacity limit: only refusals fail
        data = scenario(manifests, traffic, versions, timeline=timeline, tick="100ms")
        return simdeploy.load(data).run()["summary"]["errors_total"]

    # 100 rps per pod; SIGTERM at once, endpoint removed 2 s later: 200 requests refused .
    assert errors(None) == pytest.approx(200, abs=1e-6)
    assert errors(5) == 0  # the preStop sleep outlasts the propagation delay


def test_overload_rejects_what_capacity_cannot_serve_and_stretches_latency():
    manifests = [deployment(replicas=2), service()]
    versions = {"web:1": {"startup": "2s", "pull": "0s", "capacity": 100, "latency": {"p50": "20ms", "p99": "100ms"}}}
    result = simdeploy.load(
        scenario(manifests, [{"service": "web", "rate": 300, "start": "1m"}], versions, duration="3m")
    ).run()
    summary = result["summary"]
    # 300 rps on 200 rps of capacity: a third rejected for 2 minutes.
    assert summary["errors_total"] == pytest.approx(100 * 120, rel=1e-6)
    assert summary["p99_latency_max_s"] > 0.1 * 5  # saturated: the queueing curve's wall


def test_two_sources_to_one_service_share_its_capacity():
    manifests = [deployment(replicas=2), service()]
    versions = {"web:1": {"startup": "2s", "pull": "0s", "capacity": 100}}
    sources = [{"service": "web", "rate": 150, "start": "1m"}, {"service": "web", "rate": 150, "start": "1m"}]
    result = simdeploy.load(scenario(manifests, sources, versions, duration="3m")).run()
    # 2 x 150 rps on 200 rps of capacity, as one source of 300 rps: a third rejected for 2 minutes.
    assert result["summary"]["errors_total"] == pytest.approx(100 * 120, rel=1e-6)


def test_queueing_curve_is_mm_c():
    assert stretch(0.0) == 1.0
    assert stretch(0.5, workers=1) == pytest.approx(2.0)  # M/M/1: 1 / (1 - rho)
    assert stretch(0.6, workers=8) == pytest.approx(1.044, abs=1e-3)
    assert stretch(0.99, workers=8) > 10
    assert stretch(1.5) == 20.0


def test_latency_histogram_counts_are_cumulative_and_end_with_all_requests():
    counts = bucket_counts(LogNormalLatency(0.02, 0.12), 1000, 1.0)
    assert counts == sorted(counts) and counts[-1] == 1000
    assert counts[3] == pytest.approx(1000 * 0.5 * (1 + 0.7), rel=0.2)  # le=0.05 well above the median


def test_blue_green_cutover_moves_traffic_after_the_propagation_delay():
    blue = deployment("payments-blue", 2, "web:1", {"app": "payments", "color": "blue"})
    green = deployment("payments-green", 2, "web:2", {"app": "payments", "color": "green"})
    svc = service("payments", {"app": "payments", "color": "blue"})
    versions = {
        "web:1": {"version": "blue-1.0", "startup": "2s", "pull": "0s"},
        "web:2": {"version": "green-1.1", "startup": "2s", "pull": "0s"},
    }
    timeline = [
        {
            "at": "2m",
            "action": "patch",
            "target": "service/payments",
            "patch": {"spec": {"selector": {"color": "green"}}},
        },
        {
            "at": "4m",
            "action": "patch",
            "target": "service/payments",
            "patch": {"spec": {"selector": {"color": "blue"}}},
        },
    ]
    sim = simdeploy.load(
        scenario([blue, green, svc], [{"service": "payments", "rate": 100, "start": "30s"}], versions, timeline)
    )
    sim.run_until(121.5)
    assert dict(sim.endpoints.view(NS, "payments").groups) == {
        ("payments-blue-" + _hash(sim, "payments-blue"), "web:1", True): 2
    }
    sim.run_until(123)
    assert {key[1] for key in sim.endpoints.view(NS, "payments").groups} == {"web:2"}
    result = sim.run()
    by_version = {}
    for row in result["traffic"]:
        by_version.setdefault(row["version"], 0)
        by_version[row["version"]] += row["requests"]
    assert result["summary"]["errors_total"] == 0
    assert by_version["green-1.1"] == pytest.approx(100 * 120, rel=0.02)
    assert by_version["blue-1.0"] == pytest.approx(100 * (300 - 30 - 120), rel=0.02)


def _hash(sim, deployment_name: str) -> str:
    rs = next(r for r in sim.store.list("ReplicaSet", NS) if r["metadata"]["name"].startswith(deployment_name))
    return rs["metadata"]["labels"]["pod-template-hash"]


def test_weighted_route_splits_between_services():
    stable = deployment("stable", 2, "web:1", {"app": "api", "track": "stable"})
    canary = deployment("canary", 1, "web:2", {"app": "api", "track": "canary"})
    services = [service("api-stable", {"track": "stable"}), service("api-canary", {"track": "canary"})]
    versions = {"web:1": {"version": "1.0", "startup": "2s"}, "web:2": {"version": "1.1", "startup": "2s"}}
    data = scenario(
        [stable, canary, *services], [{"route": "api", "rate": 200, "start": "1m"}], versions, duration="3m"
    )
    data["routes"] = [{"name": "api", "weights": {"api-stable": 90, "api-canary": 10}}]
    data["timeline"] = [
        {"at": "2m", "action": "set-weights", "route": "api", "weights": {"api-stable": 50, "api-canary": 50}}
    ]
    result = simdeploy.load(data).run()
    canary_requests = sum(r["requests"] for r in result["traffic"] if r["version"] == "1.1")
    assert canary_requests == pytest.approx(200 * 60 * 0.1 + 200 * 60 * 0.5, rel=1e-6)


@pytest.mark.parametrize(
    ("profile", "t", "rps"),
    [
        (Constant(5), 100, 5),
        (Steps((0, 60), (10, 20)), 59, 10),
        (Steps((0, 60), (10, 20)), 60, 20),
        (Ramp(0, 100, 100, begin=50), 100, 50),
        (Ramp(0, 100, 100, begin=50), 500, 100),
        (Diurnal(100, 50, period=100, peak_at=25), 25, 150),
        (Diurnal(100, 50, period=100, peak_at=25), 75, 50),
        (Spike(10, 1000, 60, 30), 70, 1000),
        (Spike(10, 1000, 60, 30), 90, 10),
        (Series((0, 10, 20), (0, 100, 50)), 15, 75),
    ],
)
def test_rate_profiles(profile, t, rps):
    assert profile.at(t) == pytest.approx(rps)
