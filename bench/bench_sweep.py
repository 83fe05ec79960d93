"""Benchmark of sweeps: a 10 x 10 grid x 20 seeds (2,000 runs) of the seed scenario, on 1 and 2 workers.

Run: python bench/bench_sweep.py [--seeds N]
Prints wall time, runs per second and per core for each worker count, and the scaling.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from simdeploy.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent
SEED_SCENARIO = ROOT / "scenarios" / "payments-rolling-update.yaml"
GRID = [
    "deployment/payments-api:spec.strategy.rollingUpdate.maxSurge=0,1,2,3,4,5,6,7,8,9",
    "deployment/payments-api:spec.strategy.rollingUpdate.maxUnavailable=0,1,2,3,4,5,6,7,8,9",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    walls = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as directory:
            start = time.perf_counter()
            result = sweep(SEED_SCENARIO, GRID, seeds=args.seeds, workers=workers, out=Path(directory) / "rows.csv")
            wall = time.perf_counter() - start
        runs = int((result.rows["status"] == "ok").sum())
        rejected = int((result.rows["status"] == "rejected").sum())
        walls[workers] = wall
        print(
            f"{workers} worker(s): {runs:,} runs (+{rejected} rejected settings) in {wall:.1f} s   "
            f"{runs / wall:,.0f} runs/s   {runs / wall / workers:,.0f} runs/s per core"
        )
    if 1 in walls:
        for workers, wall in walls.items():
            if workers > 1:
                print(f"scaling 1 -> {workers} workers: x{walls[1] / wall:.2f} (ideal x{workers})")


if __name__ == "__main__":
    main()
