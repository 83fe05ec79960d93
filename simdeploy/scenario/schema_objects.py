"""The scenario's databases and migrations as the schema model's objects (delivery/schema/database.py)."""

from __future__ import annotations

from simdeploy.delivery.schema import database as db
from simdeploy.scenario.behaviour import distribution
from simdeploy.scenario.schema import ScenarioSpec


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
