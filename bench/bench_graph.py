"""Benchmark of the service graph: a 50-service graph on 10,000 pods for 1 h, and the cost per tick by edge count.

Run: python bench/bench_graph.py [--quick]
Prints the wall time of the 1 h run, then for graphs of 50 Services with 50 to 400 edges the wall time
per traffic tick (scrapes of the graph's series included), which grows linearly with the edges.
"""

from __future__ import annotations

import argparse
import random
import time

import simdeploy

SERVICES = 50
LAYERS = 5  # 10 Services a layer; edges go from a layer to a later one, so the graph has no cycle


def graph_scenario(edges: int, replicas: int, duration: str, seed: int = 7) -> dict:
    """50 Services in 5 layers, each on its own Deployment; users call the first layer; `edges` random calls."""
    names = [f"svc-{i:02d}" for i in range(SERVICES)]
    layer = {name: i * LAYERS // SERVICES for i, name in enumerate(names)}
    pairs = [(a, b) for a in names for b in names if layer[a] < layer[b]]
    rng = random.Random(seed)
    chosen = rng.sample(pairs, edges)
    manifests, versions = [], {}
    for name in names:
        labels = {"app": name}
        manifests.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "bench"},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "app", "image": f"{name}:1"}]},
                    },
                },
            }
        )
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "bench"},
                "spec": {"selector": labels, "ports": [{"port": 80}]},
            }
        )
        versions[f"{name}:1"] = {
            "startup": "5s",
            "pull": "0s",
            "errorRate": 0.001,
            "latency": {"p50": "10ms", "p99": "80ms"},
            "capacity": 1_000_000,
        }
    calls = [
        {"caller": a, "callee": b, "calls": 0.5, "timeout": "500ms", "retries": {"count": 2, "budget": "20%"}}
        for a, b in chosen
    ]
    nodes = max(3, -(-SERVICES * replicas // 100))
    return {
        "metadata": {"name": f"graph-{edges}"},
        "duration": duration,
        "cluster": {"nodes": [{"count": nodes, "pods": 110, "cpu": "64", "memory": "256Gi"}]},
        "manifests": [{"inline": m} for m in manifests],
        "versions": versions,
        "traffic": [{"service": n, "rate": 2000, "start": "1m"} for n in names if layer[n] == 0],
        "services": {"edges": calls},
    }


def full_run(edges: int) -> None:
    started = time.perf_counter()
    sim = simdeploy.load(graph_scenario(edges, replicas=200, duration="1h"), record_pod_events=False)
    built = time.perf_counter()
    result = sim.run()
    wall = time.perf_counter() - started
    pods = sum(1 for _ in sim.store.list("Pod"))
    summary = result["summary"]
    print(f"{SERVICES} Services, {edges} edges, {pods:,} pods, 1 h simulated")
    print(
        f"  wall {wall:.2f} s (load {built - started:.2f} s)   users' requests {summary['requests_total']:,.0f}   "
        f"calls {sum(e['calls'] for e in summary['edges']):,.0f}"
    )


def per_tick(edges: int, repeats: int) -> float:
    """Wall seconds per traffic tick (with its share of scrapes) once every pod serves."""
    best = float("inf")
    for _ in range(repeats):
        sim = simdeploy.load(graph_scenario(edges, replicas=2, duration="20m"), record_pod_events=False)
        sim.run_until(120)
        started = time.perf_counter()
        sim.run_until(720)
        best = min(best, (time.perf_counter() - started) / 600)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-pod run; one repeat")
    options = parser.parse_args()
    if not options.quick:
        full_run(100)
    print("cost per traffic tick, 50 Services, 100 pods (best of 3):")
    costs = {}
    for edges in (50, 100, 200, 400):
        costs[edges] = per_tick(edges, 1 if options.quick else 3)
    slope = (costs[400] - costs[50]) / 350
    for edges, cost in costs.items():
        predicted = costs[50] + slope * (edges - 50)
        print(f"  {edges:>3} edges   {cost * 1e3:6.2f} ms/tick   linear fit {predicted * 1e3:6.2f} ms")
    print(f"  about {slope * 1e6:.1f} µs per edge per tick, {costs[50] - 50 * slope:.2e} s for the Services alone")


if __name__ == "__main__":
    main()
