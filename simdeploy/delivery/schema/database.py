"""A database as the simulation models it: tables with rows and columns, the applied schema version, migrations.

Versions compare as Flyway's do: dot-separated numbers (`2`, `2.1`, `10`), numerically, part by part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simdeploy.sim.distributions import Distribution

LOCKS = ("none", "share", "access-exclusive")
KINDS = ("expand", "backfill", "contract")


def version_key(version: str) -> tuple[int, ...]:
    """Flyway's ordering of versions: `2.10` after `2.9`."""
    return tuple(int(part) for part in str(version).replace("_", ".").split("."))


@dataclass(frozen=True)
class Operation:
    """One statement of a migration: the table it locks, in which mode, for how long, and what it changes."""

    table: str
    lock: str = "access-exclusive"  # none | share | access-exclusive
    duration: Distribution | None = None  # a fixed time or a distribution; None: rows / rows_per_second
    rows: int | None = None  # a backfill's rows (default: the table's)
    rows_per_second: float | None = None
    add_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = ()
    sql: str = ""


@dataclass(frozen=True)
class Migration:
    """A Flyway versioned migration (`V<version>__<description>.sql`), run in one transaction."""

    version: str
    database: str
    description: str
    kind: str  # expand | backfill | contract
    operations: tuple[Operation, ...]
    lock_timeout: float = 0.0  # Postgres lock_timeout for its statements: 0 waits for ever
    retries: int = 0  # attempts after a lock timeout (the pgroll / strong_migrations practice)
    retry_delay: float = 1.0
    fail_at: float | None = None  # fails this long into the migration (every attempt)
    fail_probability: float = 0.0  # or fails with this probability, at a moment drawn over its duration
    failure_message: str = ""


@dataclass
class HistoryRow:
    """A row of flyway_schema_history, or a failed attempt (which Postgres rolls back: kept here for the record)."""

    version: str
    description: str
    kind: str
    runner: str
    started_s: float
    finished_s: float | None = None
    success: bool | None = None
    message: str = ""


@dataclass
class Table:
    rows: int
    columns: set[str]


@dataclass
class Database:
    """One database's schema as it stands: tables, applied version, and the history of migration attempts."""

    name: str
    version: str
    tables: dict[str, Table]
    query_timeout: float = 5.0  # how long a request waits on a blocked query before its client gives up
    history: list[HistoryRow] = field(default_factory=list)

    def has(self, reference: str) -> bool:
        """Whether `table` or `table.column` exists."""
        table, _, column = reference.partition(".")
        found = self.tables.get(table)
        return found is not None and (not column or column in found.columns)

    def apply(self, migration: Migration) -> None:
        """A migration committed: its column changes take effect and the schema is at its version."""
        for operation in migration.operations:
            table = self.tables.setdefault(operation.table, Table(0, set()))
            table.columns |= set(operation.add_columns)
            table.columns -= set(operation.drop_columns)
        self.version = migration.version

    def at_least(self, version: str) -> bool:
        return version_key(self.version) >= version_key(version)


@dataclass(frozen=True)
class SchemaNeeds:
    """What one app version needs from a database: a minimum schema version, the tables and columns it reads
    and writes, and the share of its requests that touch the database."""

    database: str
    requires: str | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    share: float = 1.0

    def missing(self, database: Database) -> str | None:
        """Why this version cannot work against the database as it stands (None: it can)."""
        if self.requires is not None and not database.at_least(self.requires):
            return f"needs schema version {self.requires}, {database.name} is at {database.version}"
        for reference in (*self.reads, *self.writes):
            if not database.has(reference):
                table, _, column = reference.partition(".")
                if column and table in database.tables:
                    return f'ERROR: column "{column}" of relation "{table}" does not exist'
                return f'ERROR: relation "{table}" does not exist'
        return None

    def tables(self, writing: bool) -> set[str]:
        return {reference.partition(".")[0] for reference in (self.writes if writing else self.reads)}


@dataclass(frozen=True)
class MigrateSpec:
    """A container that runs `flyway migrate` when it starts: up to `to` (every pending one if None)."""

    database: str
    to: str | None = None
    advisory_lock: bool = True  # Flyway's default on Postgres; an ORM's auto-migrate usually has none
    lock_retries: int = 50  # Flyway lockRetryCount: 50 tries, 1 s apart
