"""Request-rate profiles: how many requests per second a Service receives at each simulated moment."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Constant:
    rps: float

    def at(self, t: float) -> float:
        return self.rps


@dataclass(frozen=True, slots=True)
class Steps:
    """The rate of the last step that has started; before the first step, the first step's rate."""

    times: tuple[float, ...]
    rates: tuple[float, ...]

    def at(self, t: float) -> float:
        index = bisect.bisect_right(self.times, t) - 1
        return self.rates[max(index, 0)]


@dataclass(frozen=True, slots=True)
class Ramp:
    """Linear from `start` to `end` between `begin` and `begin + over`, flat on either side."""

    start: float
    end: float
    over: float
    begin: float = 0.0

    def at(self, t: float) -> float:
        if t <= self.begin:
            return self.start
        if t >= self.begin + self.over:
            return self.end
        return self.start + (self.end - self.start) * (t - self.begin) / self.over


@dataclass(frozen=True, slots=True)
class Diurnal:
    """A daily cycle: mean ± amplitude, a cosine peaking at `peak_at` within each `period`."""

    mean: float
    amplitude: float
    period: float = 86400.0
    peak_at: float = 14 * 3600.0

    def at(self, t: float) -> float:
        return max(0.0, self.mean + self.amplitude * math.cos(2 * math.pi * (t - self.peak_at) / self.period))


@dataclass(frozen=True, slots=True)
class Spike:
    """`base`, then `peak` for `duration` from `start`."""

    base: float
    peak: float
    start: float
    duration: float

    def at(self, t: float) -> float:
        return self.peak if self.start <= t < self.start + self.duration else self.base


@dataclass(frozen=True, slots=True)
class Series:
    """Rates read from a recording (e.g. a CSV of time, rps), linear between points, flat outside."""

    times: tuple[float, ...]
    rates: tuple[float, ...]

    def at(self, t: float) -> float:
        index = bisect.bisect_right(self.times, t)
        if index == 0:
            return self.rates[0]
        if index >= len(self.times):
            return self.rates[-1]
        t0, t1 = self.times[index - 1], self.times[index]
        r0, r1 = self.rates[index - 1], self.rates[index]
        return r0 + (r1 - r0) * (t - t0) / (t1 - t0)


RateProfile = Constant | Steps | Ramp | Diurnal | Spike | Series
