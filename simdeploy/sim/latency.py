"""Request latency: a version's distribution, the saturation curve that stretches it, and its histogram buckets."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simdeploy.sim.behaviour import VersionBehaviour

# Prometheus client's default buckets for http_request_duration_seconds.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STANDARD_NORMAL = NormalDist()
_Z99 = _STANDARD_NORMAL.inv_cdf(0.99)
# Queueing stretches latency by the M/M/c waiting time: each pod is c workers in front of one queue.
# Capped where the curve becomes a wall: beyond it requests are rejected rather than queued for ever.
MAX_STRETCH = 20.0


def stretch(utilisation: float, workers: int = 8) -> float:
    """How much queueing multiplies latency at this utilisation of `workers` servers (1.0 when idle).

    Mean time in an M/M/c system over the mean service time: 1 + C(c, a) / (c (1 - rho)), with
    C the Erlang C probability of waiting and a = c rho the offered load.
    """
    if utilisation <= 0:
        return 1.0
    if utilisation >= 1:
        return MAX_STRETCH
    offered = workers * utilisation
    term, total = 1.0, 1.0  # sum of a^k / k! for k < c
    for k in range(1, workers):
        term *= offered / k
        total += term
    last = term * offered / workers / (1 - utilisation)  # a^c / c! / (1 - rho)
    waiting = last / (total + last)
    return min(1.0 + waiting / (workers * (1 - utilisation)), MAX_STRETCH)


def latency_under_load(behaviour: VersionBehaviour, utilisation: float, quantile: float = 0.99) -> float:
    """Seconds within which `quantile` of one pod's requests are answered when the pod is this busy.

    `utilisation` is the load over the pod's capacity (0 idle, 1 saturated). As the traffic model
    serves requests: the version's idle latency stretched by M/M/c queueing over its `concurrency`
    workers; from 1 on the stretch stays at MAX_STRETCH and the excess load is rejected instead.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1 (exclusive), got {quantile!r}")
    if not utilisation >= 0:  # also refuses NaN
        raise ValueError(f"utilisation must be 0 or more (load / capacity), got {utilisation!r}")
    return behaviour.latency.quantile(quantile, stretch(utilisation, behaviour.concurrency))


@dataclass(frozen=True, slots=True)
class LogNormalLatency:
    """Latency with the given median and 99th percentile (seconds)."""

    p50: float
    p99: float

    def cdf(self, seconds: float, factor: float = 1.0) -> float:
        """P(latency <= seconds) when every latency is multiplied by `factor`."""
        if seconds <= 0:
            return 0.0
        mu = math.log(self.p50 * factor)
        sigma = (math.log(self.p99) - math.log(self.p50)) / _Z99
        if sigma <= 0:
            return 1.0 if seconds >= self.p50 * factor else 0.0
        return 0.5 * math.erfc(-(math.log(seconds) - mu) / (sigma * math.sqrt(2)))

    def mean(self, factor: float = 1.0) -> float:
        sigma = (math.log(self.p99) - math.log(self.p50)) / _Z99
        return self.p50 * factor * math.exp(sigma * sigma / 2)

    def quantile(self, q: float, factor: float = 1.0) -> float:
        sigma = (math.log(self.p99) - math.log(self.p50)) / _Z99
        return self.p50 * factor * math.exp(sigma * _STANDARD_NORMAL.inv_cdf(min(max(q, 1e-12), 1 - 1e-12)))


@dataclass(frozen=True, slots=True)
class HistogramLatency:
    """An observed latency histogram: cumulative fractions at bucket upper bounds, linear in between."""

    bounds: tuple[float, ...]  # seconds, increasing
    fractions: tuple[float, ...]  # cumulative, increasing to 1.0

    def cdf(self, seconds: float, factor: float = 1.0) -> float:
        x = seconds / factor
        index = bisect.bisect_left(self.bounds, x)
        if index >= len(self.bounds):
            return 1.0
        low_x = self.bounds[index - 1] if index else 0.0
        low_f = self.fractions[index - 1] if index else 0.0
        span = self.bounds[index] - low_x
        return low_f + (self.fractions[index] - low_f) * ((x - low_x) / span if span else 1.0)

    def mean(self, factor: float = 1.0) -> float:
        total, low_x, low_f = 0.0, 0.0, 0.0
        for bound, fraction in zip(self.bounds, self.fractions, strict=True):
            total += (fraction - low_f) * (low_x + bound) / 2
            low_x, low_f = bound, fraction
        return total * factor

    def quantile(self, q: float, factor: float = 1.0) -> float:
        index = bisect.bisect_left(self.fractions, q)
        if index >= len(self.bounds):
            return self.bounds[-1] * factor
        low_x = self.bounds[index - 1] if index else 0.0
        low_f = self.fractions[index - 1] if index else 0.0
        span = self.fractions[index] - low_f
        return (low_x + (self.bounds[index] - low_x) * ((q - low_f) / span if span else 1.0)) * factor


Latency = LogNormalLatency | HistogramLatency


@lru_cache(maxsize=4096)
def _bucket_fractions(latency: Latency, factor: float) -> tuple[float, ...]:
    return (*(latency.cdf(le, factor) for le in DEFAULT_BUCKETS), 1.0)


def bucket_counts(latency: Latency, requests: float, factor: float) -> list[float]:
    """Cumulative request counts at each bucket bound (then +Inf), as a Prometheus histogram holds them.

    The stretch factor is rounded to 4 significant digits so that steady ticks reuse one computation.
    """
    return [requests * fraction for fraction in _bucket_fractions(latency, float(f"{factor:.4g}"))]
