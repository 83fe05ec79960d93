"""Benchmark of the simulation core: speed-up over real time, and cost at 1,000 and 10,000 replicas.

Run: python bench/bench_core.py [--quick]
Prints wall time, simulated seconds per wall second and peak memory (tracemalloc) for each case.
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import time
import tracemalloc
from pathlib import Path

import yaml

import simdeploy

ROOT = Path(__file__).resolve().parent.parent
SEED_SCENARIO = ROOT / "scenarios" / "payments-rolling-update.yaml"


def large_scenario(replicas: int) -> dict:
    """The seed Deployment scaled to `replicas`, on enough 110-pod nodes, rolled out at 10 min, 1 h simulated."""
    manifest = yaml.safe_load((ROOT / "scenarios" / "manifests" / "payments-api.yaml").read_text())
    manifest = copy.deepcopy(manifest)
    manifest["spec"]["replicas"] = replicas
    manifest["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": "25%", "maxUnavailable": "25%"}
    nodes = (replicas * 2) // 100 + 2
    old = manifest["spec"]["template"]["spec"]["containers"][0]["image"]
    new = "registry.example.com/payments-api:2.9.0"
    startup = {"lognormal": {"median": "8s", "p95": "15s"}}
    return {
        "metadata": {"name": f"rolling-update-{replicas}"},
        "seed": 7,
        "duration": "1h",
        "cluster": {"nodes": [{"count": nodes, "cpu": "64", "memory": "256Gi", "pods": 110}]},
        "manifests": [{"inline": manifest}],
        "versions": {old: {"pull": "0s", "startup": startup}, new: {"pull": "4s", "startup": startup}},
        "timeline": [
            {"at": "10m", "action": "set-image", "deployment": "payments-api", "container": "api", "image": new}
        ],
    }


def timed(make, repeat: int) -> tuple[float, float, dict]:
    """Median wall time of building and running, and peak traced memory of one run (MiB)."""
    walls = []
    result = {}
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = make().run()
        walls.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    make().run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(walls), peak / 2**20, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-replica case")
    args = parser.parse_args()

    wall, memory, result = timed(lambda: simdeploy.load(SEED_SCENARIO), repeat=20)
    simulated = result["duration_s"]
    print(f"seed scenario ({SEED_SCENARIO.name}): {simulated:.0f} s simulated")
    print(f"  wall {wall * 1000:.1f} ms   speed-up {simulated / wall:,.0f}x real time   peak memory {memory:.1f} MiB")

    sizes = [1_000] if args.quick else [1_000, 10_000]
    previous = None
    for replicas in sizes:
        scenario = large_scenario(replicas)
        wall, memory, result = timed(lambda s=scenario: simdeploy.load(s), repeat=1)
        rollout = result["summary"]["rollouts"][-1]
        print(f"rolling update of {replicas:,} replicas (1 h simulated)")
        print(
            f"  wall {wall:.2f} s   peak memory {memory:.0f} MiB   "
            f"rollout took {rollout['duration_s']} s simulated   events {len(result['events']):,}"
        )
        if previous is not None:
            ratio = (wall / previous[1]) / (replicas / previous[0])
            print(f"  cost per replica vs {previous[0]:,}: x{ratio:.2f} (1.00 = linear)")
        previous = (replicas, wall)


if __name__ == "__main__":
    main()
