"""Databases and migrations into a Simulation: the schema runtime, and the `sync`, `migrate` and
`long-transaction` actions (scenario/build.py wires them)."""

from __future__ import annotations

import random
from collections.abc import Callable

from simdeploy.delivery.gitops.sync import Application
from simdeploy.delivery.schema import database as db
from simdeploy.delivery.schema.runtime import SchemaRuntime
from simdeploy.k8s.duration import format_duration
from simdeploy.scenario.behaviour import distribution
from simdeploy.scenario.schema import ScenarioSpec
from simdeploy.scenario.schema_databases import LongTransactionAction, MigrateAction, SyncAction
from simdeploy.sim.cluster.kubectl import KubectlError
from simdeploy.sim.simulation import Simulation


def database_of(spec: ScenarioSpec, name: str | None) -> str | None:
    """A database named in the scenario, or its only one when none is named."""
    if name is not None:
        return name
    return spec.databases[0].name if len(spec.databases) == 1 else None


def migrations(spec: ScenarioSpec) -> list[db.Migration]:
    return [
        db.Migration(
            version=m.version,
            database=database_of(spec, m.database),
            description=m.description,
            kind=m.kind,
            operations=tuple(
                db.Operation(
                    table=op.table,
                    lock=op.lock,
                    duration=distribution(op.duration) if op.duration is not None else None,
                    rows=op.rows,
                    rows_per_second=op.rows_per_second,
                    add_columns=tuple(op.add_columns),
                    drop_columns=tuple(op.drop_columns),
                    sql=op.sql,
                )
                for op in m.operations
            ),
            lock_timeout=m.lock_timeout,
            retries=m.retry.attempts if m.retry else 0,
            retry_delay=m.retry.delay if m.retry else 1.0,
            fail_at=m.failure.at if m.failure else None,
            fail_probability=(m.failure.probability or 0.0) if m.failure else 0.0,
            failure_message=m.failure.message if m.failure else "",
        )
        for m in spec.migrations
    ]


def databases(spec: ScenarioSpec) -> list[db.Database]:
    return [
        db.Database(
            d.name,
            d.version,
            {name: db.Table(t.rows, set(t.columns)) for name, t in d.tables.items()},
            d.query_timeout,
        )
        for d in spec.databases
    ]


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
