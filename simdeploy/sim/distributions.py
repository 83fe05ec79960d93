"""Random durations for version behaviour: fixed, uniform, normal, lognormal and empirical."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# z-score of the 95th percentile of a standard normal distribution.
_Z95 = 1.6448536269514722


@dataclass(frozen=True, slots=True)
class Fixed:
    seconds: float

    def sample(self, rng: random.Random) -> float:
        return self.seconds

    def describe(self) -> str:
        return f"{self.seconds:g}s"


@dataclass(frozen=True, slots=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def describe(self) -> str:
        return f"uniform {self.low:g}s-{self.high:g}s"


@dataclass(frozen=True, slots=True)
class Normal:
    mean: float
    stddev: float

    def sample(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean, self.stddev))

    def describe(self) -> str:
        return f"normal mean {self.mean:g}s sd {self.stddev:g}s"


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Parameterised as SREs read latency: by its median and 95th percentile."""

    median: float
    p95: float

    def sample(self, rng: random.Random) -> float:
        mu = math.log(self.median)
        sigma = (math.log(self.p95) - mu) / _Z95
        return rng.lognormvariate(mu, sigma)

    def describe(self) -> str:
        return f"lognormal median {self.median:g}s p95 {self.p95:g}s"


@dataclass(frozen=True, slots=True)
class Empirical:
    """Draws uniformly from observed values."""

    values: tuple[float, ...]

    def sample(self, rng: random.Random) -> float:
        return rng.choice(self.values)

    def describe(self) -> str:
        return f"empirical of {len(self.values)} values"


Distribution = Fixed | Uniform | Normal | LogNormal | Empirical
