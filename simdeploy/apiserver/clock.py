"""The clock driver: advances the simulation with the wall clock, `speed` simulated seconds per wall second."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class ClockDriver:
    """A background thread that runs the simulation up to `start + elapsed wall time × speed`.

    Every advance happens under `lock`, the lock request handlers hold while they read the store,
    so a request always sees the cluster between two simulation steps, never halfway through one.
    """

    def __init__(self, sim, lock: threading.RLock, speed: float, limit: float | None = None, interval: float = 0.05):
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.sim = sim
        self.lock = lock
        self.speed = speed
        self.paused = False  # a facilitator's pause keeps the speed for the resume
        self.limit = limit  # stop advancing here (the scenario's duration), or run on for ever
        self.interval = interval
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._rate_lock = threading.Lock()  # speed and base move together
        self._thread: threading.Thread | None = None
        self._base_sim = 0.0
        self._base_wall = 0.0

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
        if speed is not None and speed < 0:
            raise ValueError("speed must be >= 0")
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
                with self.lock:
                    target = self.target()  # inside the lock, so a pause is never overtaken by an old target
                    if target > self.sim.now:
                        self.sim.run_until(target)
            except Exception as error:  # keep serving what there is; say why time stopped
                log.exception("simulation stopped at %.3fs", self.sim.now)
                self.error = error
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
