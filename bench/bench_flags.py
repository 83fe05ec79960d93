"""Benchmark of feature-flag evaluation: is_enabled/get_variant calls per second on one compiled FlagSet.

Run: python bench/bench_flags.py [--users N] [--repeat R]
Prints the best of R passes over N distinct contexts for a flexibleRollout flag (userId stickiness), the same flag's
variants, and a constraint-heavy flag (a segment plus IN, SEMVER, NUM, DATE, REGEX and CIDR constraints).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from simdeploy.delivery.flags.unleash import FlagSet

STATE = {
    "version": 2,
    "segments": [
        {"id": 1, "constraints": [{"contextName": "region", "operator": "STR_STARTS_WITH", "values": ["eu-"]}]}
    ],
    "features": [
        {
            "name": "checkout-v2",
            "enabled": True,
            "type": "release",
            "strategies": [
                {"name": "flexibleRollout", "parameters": {"rollout": "25", "stickiness": "userId", "groupId": "co"}}
            ],
            "variants": [{"name": "blue", "weight": 500}, {"name": "green", "weight": 500}],
        },
        {
            "name": "constraint-heavy",
            "enabled": True,
            "strategies": [
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": "50", "stickiness": "default", "groupId": "heavy"},
                    "segments": [1],
                    "constraints": [
                        {"contextName": "environment", "operator": "IN", "values": ["prod", "staging"]},
                        {"contextName": "appVersion", "operator": "SEMVER_GTE", "value": "2.3.0"},
                        {"contextName": "cpu", "operator": "NUM_LT", "value": "0.8"},
                        {"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2024-01-01T00:00:00Z"},
                        {"contextName": "userId", "operator": "REGEX", "value": "^u[0-9]+$"},
                        {"contextName": "remoteAddress", "operator": "IN_CIDR", "values": ["10.0.0.0/8"]},
                    ],
                }
            ],
        },
    ],
}


def heavy_context(i: int) -> dict:
    return {
        "userId": f"u{i}",
        "environment": "prod",
        "remoteAddress": f"10.{i % 250}.{i // 250 % 250}.7",
        "currentTime": "2025-06-01T12:00:00Z",
        "properties": {"appVersion": f"2.{3 + i % 9}.{i % 5}", "cpu": "0.5", "region": "eu-west-1"},
    }


def rate(call: Callable[[str, dict], object], name: str, contexts: list[dict], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for context in contexts:
            call(name, context)
        best = min(best, time.perf_counter() - start)
    return len(contexts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    flags = FlagSet.from_unleash(STATE, rng=random.Random(7))
    users = [{"userId": str(i)} for i in range(args.users)]
    heavy = [heavy_context(i) for i in range(args.users)]
    on = sum(flags.is_enabled("checkout-v2", context) for context in users) / len(users)
    heavy_on = sum(flags.is_enabled("constraint-heavy", context) for context in heavy) / len(heavy)
    print(f"{'case':48} {'evals/s':>12}")
    cases = [
        (f"flexibleRollout 25%, userId (on for {on:.1%})", flags.is_enabled, "checkout-v2", users),
        ("get_variant, same flag, 2 variants", flags.get_variant, "checkout-v2", users),
        (f"constraint-heavy: segment + 6 ops (on for {heavy_on:.1%})", flags.is_enabled, "constraint-heavy", heavy),
    ]
    for label, call, name, contexts in cases:
        print(f"{label:48} {rate(call, name, contexts, args.repeat):>12,.0f}")


if __name__ == "__main__":
    main()
