"""Running migrations the way Flyway does on Postgres: the advisory lock, pending versions in order, each one a
transaction whose statements queue for their table locks, commit or roll back; lock_timeout and retries.

Without the advisory lock two runners that start together both find a version pending and both run it: the
second one's DDL waits behind the first's ACCESS EXCLUSIVE lock and, once the first commits, fails as Postgres
answers a column added twice (`column "x" of relation "t" already exists`); with it, the second waits for the
lock (Flyway retries 50 times, a second apart: flyway internal/strategy/RetryStrategy.java), then finds nothing
left to do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from simdeploy.delivery.schema.database import Database, HistoryRow, Migration, version_key
from simdeploy.delivery.schema.locks import MODE_OF, LockQueue
from simdeploy.k8s.duration import format_duration
from simdeploy.sim.clock import Clock
from simdeploy.sim.recorder import Recorder

ADVISORY_RETRY = 1.0  # s between Flyway's tries for the advisory lock
Done = Callable[[bool, str], None]  # (succeeded, message)


@dataclass
class DatabaseState:
    """A database with its lock queue, its migrations, the advisory lock and the versions being applied now."""

    database: Database
    locks: LockQueue
    migrations: list[Migration]
    advisory_holder: str | None = None
    in_flight: dict[str, str] = field(default_factory=dict)  # version -> runner applying it
    waiting_on: dict[str, list[Callable[[bool], None]]] = field(default_factory=dict)  # version -> who waits


class Runner:
    """Applies the pending migrations of one database up to a target, as one Flyway run (one session)."""

    def __init__(
        self,
        name: str,
        state: DatabaseState,
        target: str | None,
        advisory_lock: bool,
        lock_retries: int,
        clock: Clock,
        recorder: Recorder,
        rng: random.Random,
        done: Done,
    ):
        self.name = name
        self.state = state
        self.target = target
        self.advisory_lock = advisory_lock
        self.lock_retries = lock_retries
        self.clock = clock
        self.recorder = recorder
        self.rng = rng
        self.done = done
        self.finished = False
        self.attempt: Attempt | None = None  # the migration being applied now

    def abort(self, why: str) -> None:
        """The session ended under it (its pod was deleted): the open transaction rolls back."""
        if self.finished:
            return
        if self.attempt is not None and not self.attempt.over:
            self.attempt._end(False, f"FATAL: terminating connection ({why}); changes rolled back")
        self._finish(False, f"the session ended: {why}")

    # -- the run ---------------------------------------------------------------

    def start(self) -> None:
        self._event("MigrationRunStarted", f"{self.name}: flyway migrate{self._to()}")
        if self.advisory_lock:
            self._try_advisory(0)
        else:
            self._next()

    def _to(self) -> str:
        return f" (target {self.target})" if self.target is not None else ""

    def _try_advisory(self, tries: int) -> None:
        if self.finished:
            return
        state = self.state
        if state.advisory_holder is None:
            state.advisory_holder = self.name
            self._next()
        elif tries >= self.lock_retries:
            self._finish(False, "Number of retries exceeded while attempting to acquire lock")
        else:
            if tries == 0:
                self._event(
                    "MigrationLockWait", f"{self.name} waits for the Flyway advisory lock ({state.advisory_holder})"
                )
            self.clock.call_later(ADVISORY_RETRY, lambda: self._try_advisory(tries + 1))

    def _pending(self) -> Migration | None:
        db = self.state.database
        for migration in self.state.migrations:
            if version_key(migration.version) <= version_key(db.version):
                continue
            if self.target is not None and version_key(migration.version) > version_key(self.target):
                return None
            return migration
        return None

    def _next(self) -> None:
        if self.finished:
            return
        migration = self._pending()
        if migration is None:
            self._finish(
                True, f"Schema {self.state.database.name} is up to date at version {self.state.database.version}"
            )
            return
        other = self.state.in_flight.get(migration.version)
        if other is not None:
            self._race(migration, other)
            return
        Attempt(self, migration, attempt=0).begin()

    def _race(self, migration: Migration, other: str) -> None:
        """Another session is applying the same version right now: our DDL queues behind its lock."""
        started = self.clock.now
        self._event("MigrationLockWait", f"{self.name} runs V{migration.version} too; it waits behind {other}'s lock")

        def settled(committed: bool) -> None:
            if self.finished:
                return
            if not committed:
                self._next()  # it rolled back: the version is pending again
                return
            added = [(op.table, column) for op in migration.operations for column in op.add_columns]
            if added:
                table, column = added[0]
                message = f'ERROR: column "{column}" of relation "{table}" already exists'
            else:
                message = 'ERROR: duplicate key value violates unique constraint "flyway_schema_history_pk"'
            self._record(migration, started, False, message)
            self._finish(False, f"Migration V{migration.version} failed: {message}")

        self.state.waiting_on.setdefault(migration.version, []).append(settled)

    def _finish(self, ok: bool, message: str) -> None:
        if self.finished:
            return
        self.finished = True
        if self.state.advisory_holder == self.name:
            self.state.advisory_holder = None
        self._event("MigrationRunSucceeded" if ok else "MigrationRunFailed", f"{self.name}: {message}", not ok)
        self.done(ok, message)

    def _record(self, migration: Migration, started: float, ok: bool, message: str) -> None:
        self.state.database.history.append(
            HistoryRow(
                migration.version,
                migration.description,
                migration.kind,
                self.name,
                started,
                self.clock.now,
                ok,
                message,
            )
        )

    def _event(self, reason: str, message: str, warning: bool = False) -> None:
        self.recorder.event("Database", self.state.database.name, reason, message, warning)


class Attempt:
    """One transaction applying one migration: its statements in order, each waiting for its table lock."""

    def __init__(self, runner: Runner, migration: Migration, attempt: int):
        self.runner = runner
        self.migration = migration
        self.attempt = attempt
        self.owner = f"{runner.name} (V{migration.version})"
        self.started = runner.clock.now
        self.index = 0
        self.over = False
        rng = runner.rng
        db = runner.state.database
        self.durations = [_duration(op, db, rng) for op in migration.operations]
        self.fails_after: float | None = migration.fail_at
        if self.fails_after is None and migration.fail_probability > 0 and rng.random() < migration.fail_probability:
            self.fails_after = rng.random() * sum(self.durations)
        self.worked = 0.0  # statement time done so far

    def begin(self) -> None:
        if self.runner.finished:
            return
        self.runner.attempt = self
        state = self.runner.state
        state.in_flight[self.migration.version] = self.runner.name
        retry = f" (retry {self.attempt})" if self.attempt else ""
        m = self.migration
        self.runner._event(
            "MigrationStarted", f"{self.runner.name}: migrating to V{m.version} ({m.kind}: {m.description}){retry}"
        )
        self._statement()

    def _statement(self) -> None:
        if self.index >= len(self.migration.operations):
            self._commit()
            return
        op = self.migration.operations[self.index]
        took = self.durations[self.index]
        if self.fails_after is not None and self.worked + took >= self.fails_after:
            self._after(self.fails_after - self.worked, self._fail)
            return
        mode = MODE_OF.get(op.lock)
        if mode is None:  # row locks only (a batched backfill): no table lock to queue for
            self._run(took)
            return
        remaining = sum(self.durations[self.index :])
        lock = self.runner.state.locks.request(
            self.owner,
            op.table,
            mode,
            remaining,
            self.migration.lock_timeout,
            lambda: self._run(took),
            self._lock_timeout,
        )
        if lock.granted is None:
            blockers = (
                ", ".join(sorted({o.owner for o in self.runner.state.locks.waiting_behind(lock)})) or "queued requests"
            )
            self.runner._event(
                "LockWait",
                f"{self.owner}: {op.sql or 'ALTER TABLE ' + op.table} waits for {mode} on {op.table} behind {blockers}",
            )

    def _run(self, took: float) -> None:
        def done() -> None:
            self.worked += took
            self.index += 1
            self._statement()

        self._after(took, done)

    def _after(self, delay: float, then: Callable[[], None]) -> None:
        self.runner.clock.call_later(delay, lambda: None if self.over else then())

    def _commit(self) -> None:
        state = self.runner.state
        state.database.apply(self.migration)
        took = format_duration(self.runner.clock.now - self.started)
        self._end(True, f"Successfully applied V{self.migration.version} in {took}")
        self.runner._next()

    def _fail(self) -> None:
        message = self.migration.failure_message or "ERROR: migration failed"
        self._end(False, f"{message} (changes rolled back)")
        self.runner._finish(False, f"Migration V{self.migration.version} failed: {message}")

    def _lock_timeout(self) -> None:
        message = "ERROR: canceling statement due to lock timeout"
        m = self.migration
        self._end(False, message)
        if self.attempt < m.retries:
            self.runner._event(
                "MigrationRetry",
                f"{self.owner}: retrying in {format_duration(m.retry_delay)} ({self.attempt + 1}/{m.retries})",
            )
            self.runner.clock.call_later(m.retry_delay, lambda: Attempt(self.runner, m, self.attempt + 1).begin())
        else:
            self.runner._finish(False, f"Migration V{m.version} failed: {message}")

    def _end(self, committed: bool, message: str) -> None:
        self.over = True
        state = self.runner.state
        state.locks.release(self.owner)
        state.in_flight.pop(self.migration.version, None)
        self.runner._record(self.migration, self.started, committed, message)
        reason = "MigrationApplied" if committed else "MigrationFailed"
        self.runner._event(reason, f"{self.owner}: {message}", not committed)
        for settled in state.waiting_on.pop(self.migration.version, []):
            settled(committed)


def _duration(op, db: Database, rng: random.Random) -> float:
    if op.duration is not None:
        return max(0.0, op.duration.sample(rng))
    rows = op.rows if op.rows is not None else db.tables[op.table].rows
    return rows / op.rows_per_second


def estimate(migration: Migration, db: Database) -> float:
    """A migration's expected run time without lock waits (for validate's lints): the mean of its statements'
    durations (drawn from a fixed stream), rows / rate for a backfill."""
    rng = random.Random(0)
    total = 0.0
    for op in migration.operations:
        if op.duration is not None:
            total += sum(op.duration.sample(rng) for _ in range(50)) / 50
        else:
            table = db.tables.get(op.table)
            rows = op.rows if op.rows is not None else table.rows if table is not None else 0
            total += rows / op.rows_per_second
    return total
