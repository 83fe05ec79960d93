"""Latency of requests that wait on calls: moments of a latency cut at a timeout, and the time calls add.

A Service that calls others answers in its own time plus the time of its calls. A sum of independent
latencies has no closed form. The time a request's calls add is fitted with a lognormal of the same
mean and variance (Fenton-Wilkinson: when one term dominates, as a slow dependency does, the fit keeps
that term's tail), capped where timeouts bound it, and split into a few atoms: the mean of each band of
that fit (the fastest half, the next 40%, the next 9%, the slowest 1%). Each request's own latency keeps
its exact shape, shifted by each atom in turn. A caller that gives up after a timeout sees
min(latency, timeout): its moments are exact for the lognormal and histogram latencies of sim/latency.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from simdeploy.sim.latency import HistogramLatency, Latency, LogNormalLatency

_NORMAL = NormalDist()
_Z99 = _NORMAL.inv_cdf(0.99)


@dataclass(frozen=True, slots=True)
class Fitted:
    """A lognormal latency by the mean and deviation of its logarithm (sigma 0: always exp(mu))."""

    mu: float
    sigma: float


@dataclass(frozen=True, slots=True)
class Spread:
    """A latency stretched by `factor`, then delayed by the time a request's calls add: (weight, seconds) atoms."""

    latency: Latency
    factor: float
    shifts: tuple[tuple[float, float], ...]

    def cdf(self, seconds: float, factor: float = 1.0) -> float:
        x = seconds / factor
        return sum(w * self.latency.cdf(x - shift, self.factor) for w, shift in self.shifts if x > shift)

    def mean(self, factor: float = 1.0) -> float:
        return (self.latency.mean(self.factor) + sum(w * shift for w, shift in self.shifts)) * factor


Distribution = Latency | Fitted
BANDS = (0.0, 0.5, 0.9, 0.99, 1.0)  # the atoms of the time calls add: the mean of each band of its fit
_BAND_EDGES = (-math.inf, *(_NORMAL.inv_cdf(q) for q in BANDS[1:-1]), math.inf)


def atoms(mean: float, variance: float, bound: float = math.inf) -> tuple[tuple[float, float], ...]:
    """(weight, seconds) atoms with the mean and spread of the fitted lognormal, none past `bound`."""
    if mean <= 0:
        return ((1.0, 0.0),)
    fitted = fit(mean, variance)
    if fitted.sigma <= 1e-9:
        return ((1.0, rounded(min(mean, bound))),)
    scale = math.exp(fitted.mu + fitted.sigma * fitted.sigma / 2)
    found = []
    for low, high, q_low, q_high in zip(_BAND_EDGES, _BAND_EDGES[1:], BANDS, BANDS[1:], strict=False):
        inside = _phi(high - fitted.sigma) - _phi(low - fitted.sigma)
        found.append((q_high - q_low, rounded(min(scale * inside / (q_high - q_low), bound))))
    return tuple(found)


def shifted_cut(latency: Distribution, factor: float, shift: float, limit: float) -> tuple[float, float, float]:
    """(P(Y > limit), E[min(Y, limit)], E[min(Y, limit)^2]) for Y = the latency stretched, plus `shift`."""
    if shift <= 0:
        return _cut(latency, factor, limit)
    if shift >= limit:
        return 1.0, limit, limit * limit
    late, first, second = _cut(latency, factor, limit - shift)
    return late, shift + first, shift * shift + 2 * shift * first + second


def rounded(value: float) -> float:
    """To 3 significant digits: steady ticks then share one histogram computation."""
    return float(f"{value:.3g}")


def fit(mean: float, variance: float) -> Fitted:
    """The lognormal with this mean and variance (seconds); a mean of 0 is a point at 1 ns."""
    if mean <= 0:
        return Fitted(math.log(1e-9), 0.0)
    sigma2 = math.log1p(max(variance, 0.0) / (mean * mean))
    return Fitted(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def as_latency(fitted: Fitted) -> LogNormalLatency:
    """The fit as the traffic model's latency (p50, p99), rounded so that steady ticks reuse one histogram."""
    p50 = math.exp(fitted.mu)
    p99 = p50 * math.exp(fitted.sigma * _Z99)
    return LogNormalLatency(float(f"{p50:.4g}"), float(f"{max(p99, p50):.4g}"))


def moments(latency: Distribution, factor: float = 1.0) -> tuple[float, float]:
    """E[X] and E[X^2] of the latency stretched by `factor`."""
    _, first, second = cut(latency, factor, math.inf)
    return first, second


@lru_cache(maxsize=65536)
def _cut(latency: Distribution, factor: float, limit: float) -> tuple[float, float, float]:
    """`cut`, remembered: steady ticks ask the same questions."""
    return cut(latency, factor, limit)


def cut(latency: Distribution, factor: float, limit: float) -> tuple[float, float, float]:
    """(P(X > limit), E[min(X, limit)], E[min(X, limit)^2]) for the latency stretched by `factor`."""
    if isinstance(latency, HistogramLatency):
        return _cut_histogram(latency, factor, limit)
    if isinstance(latency, LogNormalLatency):
        mu = math.log(latency.p50 * factor)
        sigma = (math.log(latency.p99) - math.log(latency.p50)) / _Z99
    else:
        mu, sigma = latency.mu + math.log(factor), latency.sigma
    return _cut_lognormal(mu, sigma, limit)


def _cut_lognormal(mu: float, sigma: float, limit: float) -> tuple[float, float, float]:
    if sigma <= 0:
        value = math.exp(mu)
        if value > limit:
            return 1.0, limit, limit * limit
        return 0.0, value, value * value
    if math.isinf(limit):
        return 0.0, math.exp(mu + sigma * sigma / 2), math.exp(2 * mu + 2 * sigma * sigma)
    log_limit = math.log(limit) if limit > 0 else -math.inf
    over = 1.0 - _NORMAL.cdf((log_limit - mu) / sigma) if limit > 0 else 1.0
    below1 = math.exp(mu + sigma * sigma / 2) * _phi((log_limit - mu - sigma * sigma) / sigma)
    below2 = math.exp(2 * mu + 2 * sigma * sigma) * _phi((log_limit - mu - 2 * sigma * sigma) / sigma)
    return over, below1 + limit * over, below2 + limit * limit * over


def _phi(z: float) -> float:
    if z == math.inf:
        return 1.0
    return 0.0 if z == -math.inf else _NORMAL.cdf(z)


def _cut_histogram(latency: HistogramLatency, factor: float, limit: float) -> tuple[float, float, float]:
    """The histogram spreads each bucket's requests evenly between its bounds (as its cdf interpolates)."""
    first = second = 0.0
    low, below = 0.0, 0.0
    for bound, fraction in zip(latency.bounds, latency.fractions, strict=True):
        mass, high = fraction - below, bound * factor
        if mass > 0 and low < limit:
            top = min(high, limit)
            if high > low:
                share = mass * (top - low) / (high - low)
                first += share * (top + low) / 2
                second += share * (top * top + top * low + low * low) / 3
            else:
                first, second = first + mass * low, second + mass * low * low
        low, below = high, fraction
    over = 1.0 - latency.cdf(limit, factor) if not math.isinf(limit) else 0.0
    return over, first + limit * over if over else first, second + limit * limit * over if over else second


def over(latency: Distribution, factor: float, limit: float) -> float:
    """P(X > limit) for the latency stretched by `factor`."""
    if isinstance(latency, Fitted):
        return cut(latency, factor, limit)[0]
    return 1.0 - latency.cdf(limit, factor)
