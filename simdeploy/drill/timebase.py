"""Drill time: seconds since the drill started, in the cluster's own clock.

A real cluster lives in wall-clock time. `simdeploy serve` lives in simulated time, which runs at its own speed
and can be paused by a facilitator; reading its clock (`/simdeploy/v1/clock`) keeps a drill's timings in the
same seconds as the scenario's, whatever the speed. Reads are interpolated between fetches, so asking for the
time costs nothing most of the time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from simdeploy.drill.kube import KubeClient, KubeError

CLOCK_PATH = "/simdeploy/v1/clock"
REFRESH = 0.5  # s of wall time between two reads of a served clock


class TimeBase(Protocol):
    speed: float  # cluster seconds per wall second (for sleeping the right wall time)

    def now(self) -> float: ...  # seconds since start()

    def start(self) -> None: ...

    def describe(self) -> str: ...


class WallTime:
    """A real cluster: drill time is wall time since `zero` (a Unix time)."""

    speed = 1.0

    def __init__(self, zero: float | None = None) -> None:
        self.zero = time.time() if zero is None else zero

    def start(self) -> None:
        self.zero = time.time()

    def now(self) -> float:
        return time.time() - self.zero

    def describe(self) -> str:
        return "wall-clock time"


class ServedTime:
    """`simdeploy serve`: drill time is the served simulation's time since start()."""

    def __init__(self, client: KubeClient, clock: dict, zero: float | None = None):
        self.client = client
        self._lock = threading.Lock()
        self._set(clock)
        self.zero = self._sim_now if zero is None else zero  # simulated seconds at the drill's start

    def _set(self, clock: dict) -> None:
        self._sim_now = float(clock["now_s"])
        self.speed = 0.0 if clock.get("paused") else float(clock.get("speed") or 0.0)
        self._fetched = time.monotonic()

    def start(self) -> None:
        with self._lock:
            self._refresh()
            self.zero = self._sim_now

    def now(self) -> float:
        with self._lock:
            if time.monotonic() - self._fetched > REFRESH:
                self._refresh()
            return self._sim_now + (time.monotonic() - self._fetched) * self.speed - self.zero

    def _refresh(self) -> None:
        try:
            self._set(self.client.request("GET", CLOCK_PATH))
        except KubeError:
            pass  # keep interpolating; a transient failure must not stop the drill's clock

    def describe(self) -> str:
        return f"the served simulation's clock ({self.speed:g}x)"


def timebase_for(client: KubeClient) -> TimeBase:
    """ServedTime when the API server is a `simdeploy serve` (it answers /simdeploy/v1/clock), else WallTime."""
    try:
        clock = client.request("GET", CLOCK_PATH)
    except KubeError:
        return WallTime()
    return ServedTime(client, clock) if "now_s" in clock else WallTime()


def sleep_until(timebase: TimeBase, moment: float, stop: threading.Event | None = None) -> bool:
    """Sleep until drill time `moment` (False when `stop` was set first)."""
    stop = stop or threading.Event()
    while True:
        left = moment - timebase.now()
        if left <= 0:
            return True
        wall = left / timebase.speed if timebase.speed > 0 else 0.5
        if stop.wait(min(max(wall, 0.01), 0.5)):
            return False
