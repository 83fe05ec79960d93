"""A bounded in-memory history of store changes, so that watches can start from a resourceVersion."""

from __future__ import annotations

import copy
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One store change: its resourceVersion, ADDED/MODIFIED/DELETED, and a copy of the object then."""

    resource_version: int
    type: str
    kind: str
    object: dict


class WatchHistory:
    """Records every change to the watched kinds (store.watch) and wakes the watch streams waiting for them.

    Store callbacks run on the clock thread under the simulation lock; this class has its own lock,
    always taken after the simulation lock and never the other way round.
    """

    def __init__(self, store, kinds: list[str], capacity: int = 20000):
        self._changes: deque[Change] = deque()
        self._capacity = capacity
        self._cond = threading.Condition()
        self._closed = False
        # Changes after this resourceVersion are all kept; a watch from an older one gets 410 Gone.
        self.horizon = store.resource_version
        for kind in kinds:
            store.watch(kind, self._record)

    def _record(self, event_type: str, obj: dict) -> None:
        # Store objects are shared and mutated in place: copy now, or the stream shows later states.
        change = Change(int(obj["metadata"]["resourceVersion"]), event_type, obj["kind"], copy.deepcopy(obj))
        with self._cond:
            self._changes.append(change)
            if len(self._changes) > self._capacity:
                self.horizon = self._changes.popleft().resource_version
            self._cond.notify_all()

    def too_old(self, resource_version: int) -> bool:
        with self._cond:
            return resource_version < self.horizon

    def close(self) -> None:
        """Wake every waiting stream so that it ends (server shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_after(self, kind: str, resource_version: int, timeout: float) -> list[Change]:
        """Changes to `kind` after resource_version; waits up to timeout for one if there is none yet."""
        with self._cond:
            found = self._after(kind, resource_version)
            if not found and not self._closed and timeout > 0:
                self._cond.wait(timeout)
                found = self._after(kind, resource_version)
            return found

    def latest(self) -> int:
        with self._cond:
            return self._changes[-1].resource_version if self._changes else self.horizon

    def _after(self, kind: str, resource_version: int) -> list[Change]:
        found = []
        for change in reversed(self._changes):
            if change.resource_version <= resource_version:
                break
            if change.kind == kind:
                found.append(change)
        found.reverse()
        return found
