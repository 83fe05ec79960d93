"""Simulated time on SimPy: call a function later, cheaply and in a deterministic order."""

from __future__ import annotations

import gc
from collections.abc import Callable

import simpy
from simpy.core import NORMAL, URGENT

# SimPy runs events by (time, priority, insertion order); these orders place a callback among
# the others of the same moment: traffic ticks close their interval before anything changes at
# its end, scrapes and rule evaluations look after everything of that moment has happened.
EARLY, LATE = URGENT, NORMAL + 1


class Clock:
    """A SimPy environment with plain callbacks; equal times run in the order they were set."""

    def __init__(self) -> None:
        self.env = simpy.Environment()

    @property
    def now(self) -> float:
        return self.env._now  # noqa: SLF001 - the property behind env.now, read very often

    def call_later(self, delay: float, callback: Callable[[], object], order: int = NORMAL) -> None:
        """Run `callback` after `delay`. Among callbacks of one moment, EARLY ones run first, LATE ones last."""
        self.env.schedule(_Call(callback), order, delay if delay > 0 else 0.0)

    def call_at(self, moment: float, callback: Callable[[], object], order: int = NORMAL) -> None:
        self.call_later(moment - self.env.now, callback, order)

    def run_until(self, moment: float) -> None:
        """Process every event up to and including `moment`; time then stands at `moment`."""
        if moment < self.env.now:
            return
        self.env.timeout(moment - self.env.now)  # lands the clock exactly on `moment`
        # The event loop makes no reference cycles, but CPython's cyclic collector would still scan
        # every live pod and object again and again as they accumulate: pause it while we run.
        collecting = gc.isenabled()
        gc.disable()
        try:
            while self.env.peek() <= moment:
                self.env.step()
        finally:
            if collecting:
                gc.enable()


class _Call:
    """The lightest event SimPy will process: already triggered, with one callback (no Timeout object)."""

    __slots__ = ("callbacks", "_ok", "_value", "_callback")

    def __init__(self, callback: Callable[[], object]):
        self._callback = callback
        self._ok = True
        self._value = None
        self.callbacks = _FIRE  # SimPy replaces it with None once processed; shared, so no reference cycle


def _fire(call: _Call) -> None:
    call._callback()  # noqa: SLF001


_FIRE = (_fire,)
