"""Benchmark of the simulation: speed-up over real time, cost at 1,000 and 10,000 replicas, with traffic.

Run: python bench/bench_core.py [--quick]
Prints wall time, simulated seconds per wall second and peak memory (tracemalloc) for each case.
"""

from __future__ import annotations

import argparse
import copy
import gc
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from rich.console import Console

import simdeploy
from simdeploy.cli.progress import RunProgress

ROOT = Path(__file__).resolve().parent.parent
SEED_SCENARIO = ROOT / "scenarios" / "payments-rolling-update.yaml"


def seed_with_traffic(duration: str = "15m") -> dict:
    """The seed scenario (900 requests/s) run for `duration` simulated."""
    scenario = yaml.safe_load(SEED_SCENARIO.read_text())
    scenario["duration"] = duration
    return scenario


def large_scenario(replicas: int, rps: float = 0) -> dict:
    """The seed Deployment scaled to `replicas`, on enough 110-pod nodes, rolled out at 10 min, 1 h simulated."""
    manifest = yaml.safe_load((ROOT / "scenarios" / "manifests" / "payments-api.yaml").read_text())
    manifest = copy.deepcopy(manifest)
    manifest["spec"]["replicas"] = replicas
    manifest["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": "25%", "maxUnavailable": "25%"}
    nodes = (replicas * 2) // 100 + 2
    old = manifest["spec"]["template"]["spec"]["containers"][0]["image"]
    new = "registry.example.com/payments-api:2.9.0"
    startup = {"lognormal": {"median": "8s", "p95": "15s"}}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "payments-api", "namespace": "production"},
        "spec": {"selector": {"app": "payments-api"}, "ports": [{"port": 80}]},
    }
    capacity = max(rps / replicas * 2, 1.0)  # pods half busy
    scenario = {
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
    if rps:
        scenario["manifests"].append({"inline": service})
        scenario["traffic"] = [{"service": "payments-api", "rate": rps, "start": "5m"}]
        for version in scenario["versions"].values():
            version["capacity"] = capacity
    return scenario


def timed(make, repeat: int) -> tuple[float, dict]:
    """Median wall time of building and running the simulation `repeat` times, and the last result."""
    walls = []
    result = {}
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = make().run()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), result


def load_and_run(source, repeat: int, with_progress: bool = False) -> tuple[float, float, dict]:
    """Best wall times of loading (YAML, validation, building) and of running, and the last result.

    With `with_progress`, the run advances in slices with `simdeploy run`'s progress callback.
    """
    loads, runs = [], []
    result = {}
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        simulation = simdeploy.load(source, base_dir=None if isinstance(source, Path) else SEED_SCENARIO.parent)
        progress = RunProgress(Console(file=io.StringIO()), simulation.duration) if with_progress else None
        loaded = time.perf_counter()
        result = simulation.run(progress)
        loads.append(loaded - start)
        runs.append(time.perf_counter() - loaded)
    # The best of many runs: on a shared machine the median wanders with the neighbours' load.
    return min(loads), min(runs), result


def peak_memory(replicas: int) -> float:
    """Peak resident memory (MiB) of a fresh process that runs the large scenario once."""
    code = (
        "import resource, sys; sys.path.insert(0, sys.argv[1]); import bench_core, simdeploy; "
        "simdeploy.load(bench_core.large_scenario(int(sys.argv[2]))).run(); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(replicas)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-replica case")
    args = parser.parse_args()

    for label, source in (
        (f"seed scenario ({SEED_SCENARIO.name}, 900 requests/s)", SEED_SCENARIO),
        ("seed scenario, 900 requests/s for 15 min", seed_with_traffic()),
        (
            "seed canary (canary-success-rate.yaml: Argo Rollout, analysis)",
            ROOT / "scenarios" / "canary-success-rate.yaml",
        ),
        (
            "schema changes (schema-expand-backfill-contract.yaml: a database, 3 migration Jobs, 4 syncs)",
            ROOT / "scenarios" / "schema-expand-backfill-contract.yaml",
        ),
        (
            "lock queue (schema-lock-timeout-retry.yaml: 20 lock-timeout retries, latency overlays)",
            ROOT / "scenarios" / "schema-lock-timeout-retry.yaml",
        ),
    ):
        load, run, result = load_and_run(source, repeat=20)
        simulated = result["duration_s"]
        print(f"{label}: {simulated / 60:.0f} min simulated (best of 20)")
        print(
            f"  load+validate {load * 1000:.1f} ms   run {run * 1000:.1f} ms   "
            f"speed-up {simulated / run:,.0f}x real time ({simulated / (load + run):,.0f}x with loading)"
        )

    _, plain, _ = load_and_run(SEED_SCENARIO, repeat=50)
    _, sliced, _ = load_and_run(SEED_SCENARIO, repeat=50, with_progress=True)
    print("seed scenario with `simdeploy run`'s progress callback (run in slices), best of 50")
    print(f"  run {sliced * 1000:.2f} ms   without {plain * 1000:.2f} ms")

    sizes = [1_000] if args.quick else [1_000, 10_000]
    previous = None
    for replicas in sizes:
        scenario = large_scenario(replicas)
        wall, result = timed(lambda s=scenario: simdeploy.load(s), repeat=3 if replicas <= 1_000 else 1)
        rollout = result["summary"]["rollouts"][-1]
        print(f"rolling update of {replicas:,} replicas (1 h simulated, rollout at 10 min)")
        print(
            f"  wall {wall:.2f} s   peak RSS {peak_memory(replicas):.0f} MiB   "
            f"rollout took {rollout['duration_s']} s simulated   events {len(result['events']):,}"
        )
        if previous is not None:
            ratio = (wall / previous[1]) / (replicas / previous[0])
            print(f"  cost per replica relative to {previous[0]:,} replicas: x{ratio:.2f} (1.00 = linear)")
        previous = (replicas, wall)

    replicas = 1_000 if args.quick else 10_000
    scenario = large_scenario(replicas, rps=100_000)
    wall, result = timed(lambda: simdeploy.load(scenario), repeat=1)
    summary = result["summary"]
    print(f"rolling update of {replicas:,} replicas at 100,000 requests/s (1 h simulated)")
    print(f"  wall {wall:.2f} s   requests {summary['requests_total']:,.0f}   failed {summary['errors_total']:,.0f}")


if __name__ == "__main__":
    main()
