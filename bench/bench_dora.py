"""Benchmark of `simdeploy dora`: 10,000 deploys through the bundled pipeline (dev, staging, production), the
three strategies, 15% bad.

Run: python bench/bench_dora.py [--deploys N] [--workers N] [--samples N]
Prints the plan (cells and rehearsals), the time the rehearsals took (simulations on the executors), the time the
stream took (the changes through the pipeline, for every strategy), and deploys per second overall.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from simdeploy.sweep.dora import make_plan, rehearse, stream

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "payments-environments.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=10_000)
    parser.add_argument("--bad-rate", type=float, default=0.15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    plan = make_plan(SCENARIO, args.deploys, args.bad_rate, samples=args.samples)
    planned = time.perf_counter()
    library = rehearse(plan, workers=args.workers)
    rehearsed = time.perf_counter()
    result = stream(plan, library)
    done = time.perf_counter()
    runs = len(plan.tasks)
    strategies = len(plan.strategies)
    print(f"plan: {len(plan.cells)} cells x {plan.samples} rehearsals = {runs} simulations, {planned - start:.1f} s")
    took = rehearsed - planned
    print(f"rehearsals on {args.workers} worker(s): {took:.1f} s ({runs / took:.1f} runs/s)")
    print(
        f"stream: {args.deploys:,} deploys x {strategies} strategies in {done - rehearsed:.2f} s "
        f"({args.deploys * strategies / (done - rehearsed):,.0f} deploys/s)"
    )
    print(f"total: {done - start:.1f} s, {args.deploys / (done - start):,.0f} deploys/s (each through every strategy)")
    for name in plan.strategies:
        figures = result.figures[name]
        print(
            f"  {name:8s} CFR {figures['change_failure_rate']:.3f}  recovery p50 {figures['recovery_time_p50_s']:.0f}s "
            f"p90 {figures['recovery_time_p90_s']:.0f}s  {figures['deployment_frequency_per_day']:.2f} deploys/day"
        )


if __name__ == "__main__":
    main()
