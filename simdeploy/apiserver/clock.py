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
        self.limit = limit  # stop advancing here (the scenario's duration), or run on for ever
        self.interval = interval
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base_sim = 0.0
        self._base_wall = 0.0

    def start(self) -> None:
        self._base_sim = self.sim.now
        self._base_wall = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="simdeploy-clock", daemon=True)
        self._thread.start()

    def target(self) -> float:
        moment = self._base_sim + (time.monotonic() - self._base_wall) * self.speed
        return moment if self.limit is None else min(moment, self.limit)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                target = self.target()
                with self.lock:
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
