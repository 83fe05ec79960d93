"""A controller work queue: keys are coalesced and handled after the controller's reaction latency."""

from __future__ import annotations

from collections.abc import Callable

from simdeploy.sim.clock import Clock


class WorkQueue:
    """Like client-go's workqueue: a key waiting to be handled is queued only once."""

    def __init__(self, clock: Clock, latency: float, handler: Callable[[str], None]):
        self._clock = clock
        self._latency = latency
        self._handler = handler
        self._due: dict[str, float] = {}

    def add(self, key: str) -> None:
        self.add_after(key, self._latency)

    def add_after(self, key: str, delay: float) -> None:
        due = self._clock.now + delay
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        self._clock.call_at(due, lambda: self._fire(key, due))

    def _fire(self, key: str, due: float) -> None:
        if self._due.get(key) != due:
            return  # superseded by an earlier sync of the same key
        del self._due[key]
        self._handler(key)
