"""Simulated time on SimPy: call a function later, cheaply and in a deterministic order."""

from __future__ import annotations

from collections.abc import Callable

import simpy


class Clock:
    """A SimPy environment with plain callbacks; equal times run in the order they were set."""

    def __init__(self) -> None:
        self.env = simpy.Environment()

    @property
    def now(self) -> float:
        return self.env.now

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        self.env.timeout(max(delay, 0.0)).callbacks.append(lambda _event: callback())

    def call_at(self, moment: float, callback: Callable[[], object]) -> None:
        self.call_later(moment - self.env.now, callback)

    def run_until(self, moment: float) -> None:
        """Process every event up to and including `moment`; time then stands at `moment`."""
        if moment < self.env.now:
            return
        self.env.timeout(moment - self.env.now)  # lands the clock exactly on `moment`
        while self.env.peek() <= moment:
            self.env.step()
