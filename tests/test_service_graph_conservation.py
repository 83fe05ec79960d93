"""The service graph conserves requests and calls: every one counted once per tick, over random graphs (hypothesis)."""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.clock import Clock
from simdeploy.sim.latency import LogNormalLatency
from simdeploy.sim.traffic.graph import Call, ServiceGraph
from simdeploy.sim.traffic.model import Source, TrafficModel
from simdeploy.sim.traffic.rates import Constant

NS = "prod"
TICKS = 6


class Endpoints:
    """What the data plane routes to, fixed: per Service, a count of pods per (ReplicaSet, image, serving)."""

    def __init__(self, groups: dict[str, Counter]):
        self.groups = groups

    def view(self, namespace: str, name: str):
        return SimpleNamespace(groups=self.groups[name]) if namespace == NS and name in self.groups else None


@st.composite
def graphs(draw):
    count = draw(st.integers(2, 6))
    names = [f"s{i}" for i in range(count)]
    calls = []
    for j in range(1, count):
        for i in range(j):
            if draw(st.booleans()):
                timeout = draw(st.one_of(st.none(), st.floats(0.005, 2.0)))
                calls.append(
                    Call(
                        names[i],
                        names[j],
                        calls=draw(st.floats(0.1, 3.0)),
                        timeout=timeout,
                        retries=draw(st.integers(0, 3)),
                        backoff=draw(st.floats(0.0, 0.1)),
                        budget=draw(st.one_of(st.none(), st.floats(0.0, 1.0))),
                        min_retries_per_second=draw(st.floats(0.0, 20.0)),
                        on_failure=draw(st.sampled_from(["fail", "degrade", "fallback"])),
                    )
                )
    for j in range(count):  # every Service in the graph
        if not any(names[j] in (call.caller, call.callee) for call in calls):
            calls.append(Call(names[j - 1], names[j]) if j else Call(names[0], names[1]))
    behaviours, groups = {}, {}
    for name in names:
        image = f"{name}:1"
        p50 = draw(st.floats(0.002, 0.5))
        behaviours[image] = VersionBehaviour(
            image,
            version="1",
            error_rate=draw(st.floats(0.0, 0.3)),
            latency=LogNormalLatency(p50, p50 * draw(st.floats(1.0, 8.0))),
            capacity=draw(st.one_of(st.none(), st.floats(10.0, 500.0))),
        )
        pods = draw(st.integers(0, 4))
        serving = draw(st.integers(0, pods))
        groups[name] = Counter({(f"{name}-rs", image, True): serving, (f"{name}-rs", image, False): pods - serving})
        groups[name] = +groups[name]
    rates = {name: draw(st.floats(0.0, 1000.0)) for name in names if draw(st.booleans()) or name == names[0]}
    return names, calls, behaviours, groups, rates


def snapshot(model: TrafficModel, graph: ServiceGraph) -> dict:
    per_service = {}
    for name in graph.order:
        counted = sum(n for (ns, svc, _, _), n in model.requests.items() if (ns, svc) == (NS, name))
        failed = sum(n for (ns, svc, _, code), n in model.requests.items() if (ns, svc) == (NS, name) and code >= "5")
        observed = sum(h.sent for (ns, svc, _), h in model.latency.items() if (ns, svc) == (NS, name))
        totals = graph.services[name]
        per_service[name] = (totals.requests, totals.failed, totals.external, totals.external_failed, counted, failed,
                             observed)  # fmt: skip
    per_edge = [
        (e.totals.calls, e.totals.succeeded, e.totals.failed, e.totals.attempts, e.totals.retries,
         sum(e.totals.source_codes.values()), sum(e.totals.destination_codes.values()), e.totals.buckets[-1])
        for e in graph.edges
    ]  # fmt: skip
    return {"services": per_service, "edges": per_edge}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_every_request_and_every_call_is_counted_once_per_tick(case):
    names, calls, behaviours, groups, rates = case
    clock = Clock()
    model = TrafficModel(clock, Endpoints(groups), behaviours, tick=1.0)
    graph = ServiceGraph(NS, calls, 1.0)
    model.graph = graph
    for name, rate in rates.items():
        model.add_source(Source(NS, Constant(rate), service=name))
    ticks = []

    def check(now: float, sent: float, failed: float) -> None:
        ticks.append(now)
        after = snapshot(model, graph)
        d = {n: [a - b for a, b in zip(after["services"][n], before["services"][n], strict=True)] for n in names}
        edges = [
            [a - b for a, b in zip(x, y, strict=True)] for x, y in zip(after["edges"], before["edges"], strict=True)
        ]
        assert close(sent, sum(rates.values())) and close(sent, sum(d[n][2] for n in names))
        assert close(failed, sum(d[n][3] for n in names)) and -1e-9 <= failed <= sent + 1e-6
        for name in names:
            requests, failures, external, _, counted, counted_failed, observed = d[name]
            attempts_in = sum(edges[i][3] for i, call in enumerate(calls) if call.callee == name)
            assert close(requests, external + attempts_in), name  # users' requests and callers' attempts
            assert close(counted, requests) and close(observed, requests), name  # each counted once, each timed
            assert close(counted_failed, failures) and -1e-9 <= failures <= requests + 1e-6, name
        for call, (made, succeeded, failed_calls, attempts, retries, source, destination, timed) in zip(
            calls, edges, strict=True
        ):
            assert close(made, succeeded + failed_calls) and close(source, made) and close(timed, made), call
            assert close(attempts, made + retries) and close(destination, attempts), call
            assert -1e-9 <= failed_calls <= made + 1e-6 and retries >= -1e-9, call
        before.update(after)

    before = snapshot(model, graph)
    model.listeners.append(check)
    clock.run_until(TICKS)
    assert ticks == [float(t) for t in range(1, TICKS + 1)]


def test_a_callee_load_is_the_caller_load_times_the_fan_out_times_the_attempts():
    behaviour = VersionBehaviour("b:1", version="1", latency=LogNormalLatency(0.01, 0.05))
    groups = {"a": Counter({("a", "b:1", True): 2}), "b": Counter({("b", "b:1", False): 2})}  # b refuses all
    clock = Clock()
    model = TrafficModel(clock, Endpoints(groups), {"b:1": behaviour}, tick=1.0)
    model.graph = graph = ServiceGraph(NS, [Call("a", "b", calls=1.5, retries=3)], 1.0)
    model.add_source(Source(NS, Constant(100.0), service="a"))
    clock.run_until(1)
    assert close(graph.services["b"].requests, 150)  # the first tick: no failure seen yet, no retry
    clock.run_until(5)
    # From the second tick on, every attempt failed in the tick before: 1 + 3 retries per call.
    assert close(graph.services["b"].requests, 150 + 4 * 150 * 4)
    assert close(graph.edges[0].totals.failed, 5 * 150) and close(graph.services["a"].failed, 500)
