"""The clock driver: advances the simulation with the wall clock, `speed` simulated seconds per wall second."""

from __future__ import annotations

import logging
import math
import threading
import time

log = logging.getLogger(__name__)

# A simulated day in under a tenth of a second; beyond that the clock only runs as fast as the CPU allows.
MAX_SPEED = 1_000_000.0
SLICE = 0.02  # wall seconds the clock holds the simulation lock at a stretch when it is behind
MAX_YIELD = 0.25  # how long the clock lets waiting requests go first before it takes its next slice anyway
_MIN_STEP = 0.001  # simulated seconds: the smallest slice the clock ever asks the simulation for


def check_speed(speed: float) -> float:
    """`speed` as a float, or ValueError saying what a speed may be (finite, from 0 to MAX_SPEED)."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise ValueError(f"must be a finite number from 0 to {MAX_SPEED:g}, got {speed!r}")
    if not 0 <= speed <= MAX_SPEED:
        raise ValueError(f"must be from 0 to {MAX_SPEED:g}, got {speed:g}")
    return float(speed)


class SimulationLock:
    """The lock requests and the clock share; requests waiting for it go before the clock's next slice.

    A plain lock is not fair: the clock thread releases it and takes it again before a request thread
    that waited has been scheduled, so a busy clock could keep a facilitator's pause waiting for ever.
    Requests enter with `with lock:`; the clock takes it with `acquire()` and calls `yield_to_requests()`
    between slices.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._waiting = 0
        self._count = threading.Lock()

    def __enter__(self) -> SimulationLock:
        with self._count:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._count:
                self._waiting -= 1
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()

    def acquire(self) -> None:
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    @property
    def waiting(self) -> int:
        return self._waiting

    def yield_to_requests(self, longest: float = MAX_YIELD) -> None:
        """Wait (not holding the lock) until the requests waiting for it have had it, or `longest` seconds."""
        deadline = time.monotonic() + longest
        while self._waiting and time.monotonic() < deadline:
            time.sleep(0.0005)


class ClockDriver:
    """A background thread that runs the simulation up to `start + elapsed wall time × speed`.

    Every advance happens under `lock`, the lock request handlers hold while they read the store,
    so a request always sees the cluster between two simulation steps, never halfway through one.
    When the simulation is behind (a high speed, a busy scenario) the clock advances in slices of
    about SLICE wall seconds and lets waiting requests in between them: a pause always answers promptly.
    """

    def __init__(
        self, sim, lock: SimulationLock, speed: float, limit: float | None = None, interval: float = 0.05
    ) -> None:
        self.sim = sim
        self.lock = lock
        self.speed = check_speed(speed)
        self.paused = False  # a facilitator's pause keeps the speed for the resume
        self.limit = limit  # stop advancing here (the scenario's duration), or run on for ever
        self.interval = interval
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._rate_lock = threading.Lock()  # speed and base move together
        self._thread: threading.Thread | None = None
        self._base_sim = 0.0
        self._base_wall = 0.0
        self._step = 1.0  # simulated seconds a slice asks for, adapted to what slices cost as it runs

    def start(self) -> None:
        self._base_sim = self.sim.now
        self._base_wall = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="simdeploy-clock", daemon=True)
        self._thread.start()

    def target(self) -> float:
        with self._rate_lock:
            speed = 0.0 if self.paused else self.speed
            moment = self._base_sim + (time.monotonic() - self._base_wall) * speed
        return moment if self.limit is None else min(moment, self.limit)

    def set_speed(self, speed: float | None = None, paused: bool | None = None) -> None:
        """Change the speed or pause/resume from the simulation's present; call it holding `lock`."""
        if speed is not None:
            speed = check_speed(speed)
        reached = self.sim.now  # the caller holds the simulation lock, so the loop is between two advances
        with self._rate_lock:
            self._base_sim, self._base_wall = reached, time.monotonic()
            if speed is not None:
                self.speed = speed
            if paused is not None:
                self.paused = paused

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                behind = self._advance()
            except Exception as error:  # keep serving what there is; say why time stopped
                log.exception("simulation stopped at %.3fs", self.sim.now)
                self.error = error
                return
            if behind:
                self.lock.yield_to_requests()
            else:
                self._stop.wait(self.interval)

    def _advance(self) -> bool:
        """Run one slice towards the target; True if the simulation is still behind it."""
        self.lock.acquire()
        try:
            target = self.target()  # inside the lock, so a pause is never overtaken by an old target
            now = self.sim.now
            if target <= now:
                return False
            goal = min(target, now + self._step)
            started = time.monotonic()
            self.sim.run_until(goal)
            self._adapt(time.monotonic() - started)
            return goal < target
        finally:
            self.lock.release()

    def _adapt(self, spent: float) -> None:
        # Aim the next slice at SLICE wall seconds from what this one cost; grow slowly, shrink at once.
        wanted = self._step * SLICE / spent if spent > 0 else self._step * 2
        self._step = max(_MIN_STEP, min(wanted, self._step * 2, MAX_SPEED))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
