"""Databases and migrations into a Simulation: the schema runtime, and the `sync`, `migrate` and
`long-transaction` actions (scenario/build.py wires them)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from simdeploy.delivery.gitops.sync import Application
from simdeploy.delivery.schema import database as db
from simdeploy.delivery.schema.runtime import SchemaRuntime
from simdeploy.k8s.duration import format_duration
from simdeploy.scenario.schema import ScenarioSpec
from simdeploy.scenario.schema_databases import LongTransactionAction, MigrateAction, SyncAction
from simdeploy.scenario.schema_objects import database_of, databases, migrations
from simdeploy.sim.cluster.kubectl import KubectlError

if TYPE_CHECKING:
    from simdeploy.sim.simulation import Simulation


def attach_schema(simulation: Simulation, spec: ScenarioSpec) -> SchemaRuntime:
    """Give the Simulation its databases; their random draws come from a stream of their own."""
    needs, migrators = {}, {}
    for image, version in spec.versions.items():
        schema = version.schema_needs
        if schema is None:
            continue
        name = database_of(spec, schema.database)
        if schema.requires or schema.reads or schema.writes:
            needs[image] = db.SchemaNeeds(
                name, schema.requires, tuple(schema.reads), tuple(schema.writes), schema.share
            )
        if schema.migrate is not None:
            m = schema.migrate
            migrators[image] = db.MigrateSpec(name, m.to, m.advisory_lock, m.lock_retries)
    runtime = SchemaRuntime(
        simulation,
        databases(spec),
        migrations(spec),
        needs,
        migrators,
        random.Random(f"schema:{simulation.seed}"),  # its own stream: a database never shifts the pods' draws
    )
    simulation.schema = runtime
    return runtime


def applications(simulation: Simulation) -> dict[str, Application]:
    """The Argo CD Applications synced so far, created on first use (kept with the simulation)."""
    apps = simulation.applications
    if apps is None:
        apps = simulation.applications = {}
        simulation.result_hooks.append(
            lambda result: result["summary"].update(syncs=[row for app in apps.values() for row in app.summary()])
        )
    return apps


def schema_action(
    action: SyncAction | MigrateAction | LongTransactionAction, manifests: list[dict], ns: str
) -> Callable[[Simulation], str]:
    if isinstance(action, SyncAction):

        def sync(sim: Simulation) -> str:
            apps = applications(sim)
            app = apps.get(action.app) or apps.setdefault(action.app, Application(sim, action.app, ns))
            return app.sync(manifests, action.timeout)

        return sync
    if isinstance(action, LongTransactionAction):
        return lambda sim: _runtime(sim).hold(_database(sim, action.database), action.table, action.duration)
    return lambda sim: migrate(sim, _database(sim, action.database), action.to, action.window)


def migrate(sim: Simulation, database: str, to: str | None, window: float | None, who: str = "dba") -> str:
    """Run the pending migrations by hand (a DBA's window, a forward fix); the timeline says how it went."""
    started = sim.now

    def done(ok: bool, message: str) -> None:
        took = sim.now - started
        if window is not None and took > window:
            sim.recorder.event(
                "Database",
                database,
                "MaintenanceWindowOverrun",
                f"{who}: the migration took {format_duration(took)}, past the {format_duration(window)} window",
                warning=True,
            )

    _runtime(sim).run(_database(sim, database), to, who, done)
    target = f" to V{to}" if to else ""
    return f"flyway migrate{target} started on {database}" + (f" (window {format_duration(window)})" if window else "")


def _database(sim: Simulation, name: str | None) -> str:
    """The database an action names, or the only one; a KubectlError (an action's error) otherwise."""
    names = sorted(_runtime(sim).states)
    if name is None and len(names) == 1:
        return names[0]
    if name not in names:
        raise KubectlError(f"databases: {name or 'name one'}: the scenario has {', '.join(names)}")
    return name


def _runtime(sim: Simulation) -> SchemaRuntime:
    runtime = sim.schema
    if runtime is None:
        raise KubectlError("the scenario has no databases")
    return runtime
