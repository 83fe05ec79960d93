"""Probe arithmetic: when a kubelet probe worker's result flips, computed without probing every tick.

A worker starts with its container and probes at once, then every periodSeconds; ticks where
int(seconds since start) < initialDelaySeconds are skipped (pkg/kubelet/prober/worker.go).
The endpoint it probes passes or fails over intervals of simulated time, so the tick at which
the result flips can be found by arithmetic instead of by simulating each probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INF = math.inf
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Probe:
    """The timing fields of a container probe (API defaults applied)."""

    period: float = 10.0
    initial_delay: float = 0.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period: float | None = None  # the probe's own grace for a kill it causes

    @classmethod
    def from_spec(cls, spec: dict | None) -> Probe | None:
        if spec is None:
            return None
        return cls(
            period=float(spec.get("periodSeconds", 10)),
            initial_delay=float(spec.get("initialDelaySeconds", 0)),
            timeout=float(spec.get("timeoutSeconds", 1)),
            success_threshold=int(spec.get("successThreshold", 1)),
            failure_threshold=int(spec.get("failureThreshold", 3)),
            termination_grace_period=_optional_float(spec.get("terminationGracePeriodSeconds")),
        )


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)


def first_tick(start: float, probe: Probe) -> int:
    """Index of the first tick that is not skipped by initialDelaySeconds."""
    index = math.ceil(probe.initial_delay / probe.period - _EPS)
    while int(index * probe.period) < probe.initial_delay:
        index += 1
    return index


def tick_at_or_after(start: float, probe: Probe, moment: float) -> float:
    """Time of the first counted probe tick at or after `moment` (inf for never)."""
    if moment == INF:
        return INF
    index = max(first_tick(start, probe), math.ceil((moment - start) / probe.period - _EPS))
    return start + index * probe.period


def nth_tick_in(start: float, probe: Probe, begin: float, end: float, n: int) -> float | None:
    """Time of the n-th counted tick in [begin, end), or None when the interval holds fewer."""
    moment = tick_at_or_after(start, probe, begin) + (n - 1) * probe.period
    return moment if moment < end - _EPS else None


def success_time(start: float, probe: Probe, passes_from: float, passes_until: float) -> float | None:
    """When successThreshold consecutive successes have been seen, if the endpoint passes long enough."""
    return nth_tick_in(start, probe, passes_from, passes_until, probe.success_threshold)


def failure_time(start: float, probe: Probe, fails_from: float, fails_until: float = INF) -> float | None:
    """When failureThreshold consecutive failures have been seen within [fails_from, fails_until)."""
    return nth_tick_in(start, probe, fails_from, fails_until, probe.failure_threshold)
