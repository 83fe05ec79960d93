"""Databases in a running simulation: migrations started by containers and actions, and what requests meet.

Containers whose image runs `flyway migrate` (a Job's pod, an init container, an app that auto-migrates at
startup) are noticed through the kubelet's container listeners; when their run ends, the kubelet is told to end
the container with exit code 0 or 1 (an app container that migrated successfully keeps running). Each tick the
traffic model asks how each image serves (sim/traffic/model.py `Overlay`): an app version whose schema needs the
database does not meet fails the share of its requests that touch it (500); a query on a table whose lock queue
blocks it waits, and times out (504) past the database's query timeout.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from simdeploy.delivery.schema.database import Database, MigrateSpec, Migration, SchemaNeeds, version_key
from simdeploy.delivery.schema.locks import ACCESS_SHARE, LockQueue
from simdeploy.delivery.schema.runner import DatabaseState, Done, Runner
from simdeploy.sim.cluster.store import DELETED
from simdeploy.sim.result import optional_seconds, seconds
from simdeploy.sim.traffic.model import NO_OVERLAY, Overlay

if TYPE_CHECKING:
    from simdeploy.sim.simulation import Simulation


class SchemaRuntime:
    """The scenario's databases, their migrations, and the schema needs and migration runners of its images."""

    def __init__(
        self,
        sim: Simulation,
        databases: list[Database],
        migrations: list[Migration],
        needs: dict[str, SchemaNeeds],
        migrators: dict[str, MigrateSpec],
        rng: random.Random,
    ):
        self.sim = sim
        self.needs = needs
        self.migrators = migrators
        self.rng = rng
        self.states = {
            db.name: DatabaseState(
                db,
                LockQueue(sim.clock),
                sorted((m for m in migrations if m.database == db.name), key=lambda m: version_key(m.version)),
            )
            for db in databases
        }
        self.incompatible: dict[str, dict] = {}  # image -> the open row of `incompatible`
        self.incompatible_rows: list[dict] = []
        self._cache: dict[tuple[str, float], Overlay] = {}
        self._transactions = 0
        self._sessions: dict[str, list[Runner]] = {}  # pod uid -> the runs its containers started
        sim.kubelet.container_listeners.append(self._on_container)
        sim.store.watch("Pod", self._on_pod)
        sim.traffic.overlay_source = self
        sim.result_hooks.append(lambda result: result["summary"].update(databases=self.summary()))

    # -- runners ---------------------------------------------------------------

    def _on_container(self, pod: dict, container) -> None:
        spec = self.migrators.get(container.image)
        if spec is None:
            return
        uid, name = pod["metadata"]["uid"], container.name
        keeps_running = not container.init and pod["spec"].get("restartPolicy", "Always") == "Always"
        who = f"pod/{pod['metadata']['name']}" + (f" ({name})" if container.init else "")

        def done(ok: bool, message: str) -> None:
            if ok and keeps_running:
                return  # the app migrated at startup and goes on serving
            self.sim.kubelet.end_container(uid, name, 0 if ok else 1)

        runner = self.run(spec.database, spec.to, who, done, spec.advisory_lock, spec.lock_retries)
        if not runner.finished:
            self._sessions.setdefault(uid, []).append(runner)

    def _on_pod(self, event_type: str, pod: dict) -> None:
        """A pod deleted (or being deleted) takes its database sessions with it: their transactions roll back."""
        uid = pod["metadata"]["uid"]
        if uid in self._sessions and (event_type == DELETED or pod["metadata"].get("deletionTimestamp")):
            for runner in self._sessions.pop(uid):
                runner.abort(f"pod/{pod['metadata']['name']} deleted")

    def run(
        self,
        database: str,
        target: str | None,
        who: str,
        done: Done,
        advisory_lock: bool = True,
        lock_retries: int = 50,
    ) -> Runner:
        """Start a Flyway run against `database` up to `target`; `done(ok, message)` when it ends."""
        runner = Runner(
            who,
            self.states[database],
            target,
            advisory_lock,
            lock_retries,
            self.sim.clock,
            self.sim.recorder,
            self.rng,
            done,
        )
        runner.start()
        return runner

    def hold(self, database: str, table: str, duration: float) -> str:
        """A long transaction (a report, a forgotten BEGIN) reads `table` for `duration`: ACCESS SHARE, which
        blocks no query by itself, but an ACCESS EXCLUSIVE request queues behind it."""
        self._transactions += 1
        owner = f"transaction {self._transactions}"
        locks = self.states[database].locks
        locks.request(owner, table, ACCESS_SHARE, duration, 0.0, lambda: None, lambda: None)
        self.sim.clock.call_later(duration, lambda: locks.release(owner))
        self.sim.recorder.event("Database", database, "TransactionStarted", f"{owner} holds {ACCESS_SHARE} on {table}")
        return f"{owner} on {database}.{table} for {duration:g}s"

    # -- what requests meet ----------------------------------------------------

    def overlay(self, image: str, start: float, end: float) -> Overlay:
        needs = self.needs.get(image)
        if needs is None:
            return NO_OVERLAY
        key = (image, start)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) > 256:
            self._cache.clear()
        db = self.states[needs.database].database
        reason = needs.missing(db)
        self._track(image, reason)
        if reason is not None:
            overlay = Overlay(error_rate=needs.share)
        else:
            overlay = self._waits(needs, image, start, end)
        self._cache[key] = overlay
        return overlay

    def _waits(self, needs: SchemaNeeds, image: str, start: float, end: float) -> Overlay:
        state = self.states[needs.database]
        timeout = state.database.query_timeout
        timed_out = wait = longest = 0.0
        for queries, tables in (("read", needs.tables(False)), ("write", needs.tables(True))):
            for table in tables:
                share, mean, most = state.locks.blocked_wait(table, queries, start, end, timeout)
                timed_out, wait, longest = max(timed_out, share), max(wait, mean), max(longest, most)
        if not timed_out and not wait:
            return NO_OVERLAY
        behaviour = self.sim.behaviours.get(image)
        if behaviour is None:
            return Overlay(timeout_rate=needs.share * timed_out, timeout_after=timeout)
        # The traffic model stretches latency by a factor: the one that adds the mean wait, but no more than
        # the one that makes the p99 the idle p99 plus the longest wait (nobody waited longer).
        p99 = behaviour.latency.quantile(0.99)
        factor = min(1.0 + needs.share * wait / behaviour.latency.mean(), (p99 + longest) / p99)
        return Overlay(timeout_rate=needs.share * timed_out, timeout_after=timeout, latency_factor=max(1.0, factor))

    def _track(self, image: str, reason: str | None) -> None:
        row = self.incompatible.get(image)
        if row is not None and row["reason"] == reason:
            return
        now = self.sim.now
        if row is not None:
            row["to_s"] = seconds(now)
            del self.incompatible[image]
            self.sim.recorder.event("Version", image, "SchemaCompatible", f"{image} works against the schema again")
        if reason is not None:
            behaviour = self.sim.behaviours.get(image)
            version = behaviour.version if behaviour is not None and behaviour.version else image
            row = {"image": image, "version": version, "reason": reason, "from_s": seconds(now), "to_s": None}
            self.incompatible[image] = row
            self.incompatible_rows.append(row)
            self.sim.recorder.event("Version", image, "SchemaIncompatible", f"{version}: {reason}", warning=True)

    # -- result ----------------------------------------------------------------

    def summary(self) -> dict:
        result = {}
        for name, state in self.states.items():
            db = state.database
            result[name] = {
                "version": db.version,
                "tables": {t: sorted(table.columns) for t, table in sorted(db.tables.items())},
                "history": [
                    {
                        "version": row.version,
                        "description": row.description,
                        "kind": row.kind,
                        "runner": row.runner,
                        "started_s": seconds(row.started_s),
                        "finished_s": optional_seconds(row.finished_s),
                        "success": bool(row.success),
                        "message": row.message,
                    }
                    for row in db.history
                ],
                "blocked": [
                    {
                        "table": span.table,
                        "queries": span.queries,
                        "from_s": seconds(span.start),
                        "to_s": optional_seconds(span.end),
                        "cause": span.cause,
                    }
                    for span in state.locks.spans
                ],
                "incompatible": [
                    dict(row) for row in self.incompatible_rows if self.needs[row["image"]].database == name
                ],
            }
        return result
