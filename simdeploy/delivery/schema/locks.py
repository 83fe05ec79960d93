"""The Postgres lock queue of one database: table locks granted in request order, and what they block.

A lock request waits while it conflicts with a lock already granted *or with an earlier request still waiting*
(src/backend/storage/lmgr/lock.c, LockAcquire and the wait queue): an ACCESS EXCLUSIVE `ALTER TABLE` queued behind
a long transaction therefore blocks every later query on that table, however quick the ALTER itself. With
`lock_timeout` the waiting statement gives up and the queue drains. Application queries are not requests here
(the traffic model is fluid): a table blocks readers (ACCESS SHARE) or writers (ROW EXCLUSIVE) while any granted
or waiting lock conflicts with that mode, and those blocked spans are kept for the traffic model and the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simdeploy.sim.clock import Clock

INF = float("inf")
# The modes we use, from the conflict table of the Postgres manual ("Table-Level Lock Modes").
ACCESS_SHARE, ROW_EXCLUSIVE, SHARE, ACCESS_EXCLUSIVE = "ACCESS SHARE", "ROW EXCLUSIVE", "SHARE", "ACCESS EXCLUSIVE"
CONFLICTS = {
    ACCESS_SHARE: {ACCESS_EXCLUSIVE},
    ROW_EXCLUSIVE: {SHARE, ACCESS_EXCLUSIVE},
    SHARE: {ROW_EXCLUSIVE, ACCESS_EXCLUSIVE},
    ACCESS_EXCLUSIVE: {ACCESS_SHARE, ROW_EXCLUSIVE, SHARE, ACCESS_EXCLUSIVE},
}
MODE_OF = {"share": SHARE, "access-exclusive": ACCESS_EXCLUSIVE}  # a migration operation's lock class
QUERIES = {"read": ACCESS_SHARE, "write": ROW_EXCLUSIVE}


@dataclass
class Lock:
    """A table lock requested by a transaction: waiting until granted, held until released."""

    owner: str
    table: str
    mode: str
    requested: float
    hold: float  # how long the owner expects to hold it once granted (its transaction's remaining work)
    deadline: float | None  # lock_timeout: the moment the waiting statement gives up
    on_grant: Callable[[], None]
    on_timeout: Callable[[], None]
    granted: float | None = None
    until: float = INF  # when it is expected to be released (estimated while waiting)


@dataclass
class Span:
    """A stretch of time during which a table blocked one kind of query, and what blocked it."""

    table: str
    queries: str  # read | write
    start: float
    cause: str
    end: float | None = None
    expected_end: float = INF  # while open: when the blocking locks are expected to be gone


@dataclass
class LockQueue:
    clock: Clock
    on_change: Callable[[], None] = lambda: None
    locks: dict[str, list[Lock]] = field(default_factory=dict)  # table -> locks in request order
    spans: list[Span] = field(default_factory=list)
    _open: dict[tuple[str, str], Span] = field(default_factory=dict)

    def request(
        self,
        owner: str,
        table: str,
        mode: str,
        hold: float,
        timeout: float,
        on_grant: Callable[[], None],
        on_timeout: Callable[[], None],
    ) -> Lock:
        """Ask for a lock; on_grant runs when it is granted (perhaps at once), on_timeout if lock_timeout ends the
        wait first (timeout 0: wait for ever)."""
        now = self.clock.now
        lock = Lock(owner, table, mode, now, hold, now + timeout if timeout > 0 else None, on_grant, on_timeout)
        self.locks.setdefault(table, []).append(lock)
        if lock.deadline is not None:
            self.clock.call_at(lock.deadline, lambda: self._expire(lock))
        self._settle()
        return lock

    def release(self, owner: str) -> None:
        """The owner's transaction ended (commit or rollback): every lock it held or waited for goes."""
        for table, queue in self.locks.items():
            self.locks[table] = [lock for lock in queue if lock.owner != owner]
        self._settle()

    def waiting_behind(self, lock: Lock) -> list[Lock]:
        """The granted locks this waiting request conflicts with."""
        return [
            other
            for other in self.locks.get(lock.table, [])
            if other.granted is not None and other.owner != lock.owner and other.mode in CONFLICTS[lock.mode]
        ]

    def _expire(self, lock: Lock) -> None:
        if lock.granted is None and lock in self.locks.get(lock.table, []):
            self.locks[lock.table].remove(lock)
            self._settle()
            lock.on_timeout()

    def _settle(self) -> None:
        """Grant what can be granted, in order, then re-estimate releases and the blocked spans."""
        granted: list[Lock] = []
        now = self.clock.now
        for queue in self.locks.values():
            ahead: list[Lock] = []
            for lock in queue:
                if lock.granted is None and not any(
                    other.owner != lock.owner and other.mode in CONFLICTS[lock.mode] for other in ahead
                ):
                    lock.granted = now
                    lock.until = now + lock.hold
                    granted.append(lock)
                ahead.append(lock)
            for index, lock in enumerate(queue):
                if lock.granted is None:
                    blockers = [o for o in queue[:index] if o.owner != lock.owner and o.mode in CONFLICTS[lock.mode]]
                    grant = max((o.until for o in blockers), default=now)
                    lock.until = (
                        lock.deadline if lock.deadline is not None and grant > lock.deadline else grant + lock.hold
                    )
        self._spans()
        for lock in granted:
            lock.on_grant()
        self.on_change()

    def _spans(self) -> None:
        now = self.clock.now
        tables = set(self.locks) | {table for table, _ in self._open}
        for table in sorted(tables):
            for queries, mode in QUERIES.items():
                blocking = [lock for lock in self.locks.get(table, []) if lock.mode in CONFLICTS[mode]]
                key = (table, queries)
                span = self._open.get(key)
                if blocking and span is None:
                    first = blocking[0]
                    state = "holds" if first.granted is not None else "waits for"
                    span = Span(table, queries, now, f"{first.owner} {state} {first.mode} on {table}")
                    self._open[key] = span
                    self.spans.append(span)
                elif not blocking and span is not None:
                    span.end = now
                    del self._open[key]
                if blocking:
                    span.expected_end = max(lock.until for lock in blocking)

    def blocked_wait(
        self, table: str, queries: str, start: float, end: float, timeout: float
    ) -> tuple[float, float, float]:
        """For requests sent evenly over [start, end) that query `table`: (the share that waits longer than
        `timeout`, the mean wait of the others, the longest wait of the others), from the spans that blocked
        those queries."""
        length = end - start
        if length <= 0:
            return 0.0, 0.0, 0.0
        timed_out = waited = longest = 0.0
        for span in reversed(self.spans):
            if span.end is not None and span.end <= start:
                if span.start < start - 3600:
                    break
                continue
            if span.table != table or span.queries != queries or span.start >= end:
                continue
            release = span.end if span.end is not None else max(span.expected_end, end)
            low, high = max(span.start, start), min(release, end)
            if high <= low:
                continue
            cut = min(max(release - timeout, low), high)  # arrivals before `cut` wait longer than the timeout
            timed_out += cut - low
            # arrivals in [cut, high) wait release - t: the mean over that stretch
            waited += (high - cut) * (release - (cut + high) / 2)
            if high > cut:
                longest = max(longest, release - cut)
        served_blocked = length - timed_out
        mean = waited / served_blocked if served_blocked > 0 else 0.0
        return min(1.0, timed_out / length), mean, longest
