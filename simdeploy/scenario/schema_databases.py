"""The scenario's databases and migrations: `databases:`, `migrations:`, a version's `schema:`, and the actions
that change a schema or hold its locks (`sync`, `migrate`, `long-transaction`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from simdeploy.scenario.fields import INT32_MAX, MAX_RATE, Duration, Strict

VERSION = r"^\d+(\.\d+)*$"  # Flyway versions: 1, 2.1, 10
NAME = r"^[a-z_][a-z0-9_$]*$"  # a Postgres identifier as written unquoted
COLUMN = r"^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$"  # table or table.column


class TableSpec(Strict):
    rows: int = Field(default=0, ge=0, le=10**12)
    columns: list[str] = Field(default_factory=list)

    @field_validator("columns")
    @classmethod
    def _names(cls, columns: list[str]) -> list[str]:
        for column in columns:
            if not re.match(NAME, column):
                raise ValueError(f"{column!r} is not a column name (lower case letters, digits, _)")
        return columns


class DatabaseSpec(Strict):
    """A Postgres database: its tables (row counts and columns) and the schema version already applied."""

    name: str = Field(pattern=NAME)
    engine: Literal["postgres"] = "postgres"
    version: str = Field(default="1", pattern=VERSION)
    tables: dict[str, TableSpec] = Field(default_factory=dict)
    query_timeout: Duration = Field(default=5.0, gt=0, alias="queryTimeout")  # a request gives up waiting after it


class OperationSpec(Strict):
    """One statement: the table it locks, its lock class, and a duration or a backfill's rows at a rate."""

    table: str = Field(pattern=NAME)
    lock: Literal["none", "share", "access-exclusive"] = "access-exclusive"
    duration: Any = None  # a duration or a distribution ({lognormal: ...}), checked below
    rows: int | None = Field(default=None, ge=0, le=10**12)  # a backfill's rows (default: the table's)
    rows_per_second: float | None = Field(default=None, gt=0, le=MAX_RATE, alias="rowsPerSecond")
    add_columns: list[str] = Field(default_factory=list, alias="addColumns")
    drop_columns: list[str] = Field(default_factory=list, alias="dropColumns")
    sql: str = ""

    @field_validator("duration")
    @classmethod
    def _distribution(cls, value: Any) -> Any:
        from simdeploy.scenario.schema import DistributionSpec  # schema.py imports this module

        return None if value is None else DistributionSpec.model_validate(value)

    @model_validator(mode="after")
    def _how_long(self) -> OperationSpec:
        if (self.duration is None) == (self.rows_per_second is None):
            raise ValueError("give a duration, or rowsPerSecond for a backfill (with rows, default the table's)")
        return self


class FailureSpec(Strict):
    """The migration fails `at` this long into it (every attempt), or with a `probability` at a random moment."""

    at: Duration | None = Field(default=None, ge=0)
    probability: float | None = Field(default=None, ge=0, le=1)
    message: str = "ERROR: migration failed"

    @model_validator(mode="after")
    def _one(self) -> FailureSpec:
        if (self.at is None) == (self.probability is None):
            raise ValueError("give at or probability")
        return self


class RetrySpec(Strict):
    attempts: int = Field(ge=0, le=1000)
    delay: Duration = Field(default=1.0, ge=0)


class MigrationSpec(Strict):
    """A Flyway versioned migration, run in one transaction."""

    version: str = Field(pattern=VERSION)
    database: str | None = None  # default: the only database
    description: str = ""
    kind: Literal["expand", "backfill", "contract"]
    operations: list[OperationSpec] = Field(min_length=1)
    lock_timeout: Duration = Field(default=0.0, ge=0, alias="lockTimeout")  # 0: wait for ever (Postgres default)
    retry: RetrySpec | None = None  # retry after a lock timeout
    failure: FailureSpec | None = None


class MigrateSpec(Strict):
    """This image runs `flyway migrate` when its container starts (a Job, an init container, or the app)."""

    to: str | None = Field(default=None, pattern=VERSION)  # every pending version if left out
    advisory_lock: bool = Field(default=True, alias="advisoryLock")
    lock_retries: int = Field(default=50, ge=0, le=INT32_MAX, alias="lockRetries")


class VersionSchemaSpec(Strict):
    """What an app version needs from a database, and whether it migrates it."""

    database: str | None = None  # default: the only database
    requires: str | None = Field(default=None, pattern=VERSION)
    reads: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list)
    share: float = Field(default=1.0, ge=0, le=1)  # the share of its requests that query the database
    migrate: MigrateSpec | None = None

    @field_validator("reads", "writes")
    @classmethod
    def _references(cls, references: list[str]) -> list[str]:
        for reference in references:
            if not re.match(COLUMN, reference):
                raise ValueError(f"{reference!r}: expected table or table.column")
        return references


# -- actions ---------------------------------------------------------------------------------------------


class _SchemaAction(Strict):
    at: Duration
    namespace: str | None = None


class SyncAction(_SchemaAction):
    """An Argo CD sync of a manifest set: PreSync hooks first (their Jobs waited for), then everything else."""

    action: Literal["sync"]
    app: str = Field(min_length=1)  # the Argo CD Application
    manifests: list[dict[str, Any]] = Field(min_length=1)  # {file} or {inline}, as the scenario's manifests
    timeout: Duration | None = Field(default=None, gt=0)  # the sync fails when its hooks take longer


class MigrateAction(_SchemaAction):
    """A migration run by hand: a DBA's maintenance window, or a forward fix (`to` the fixing version)."""

    action: Literal["migrate"]
    database: str | None = None
    to: str | None = Field(default=None, pattern=VERSION)
    window: Duration | None = Field(default=None, gt=0)  # the announced window: past it, the timeline says so


class LongTransactionAction(_SchemaAction):
    """A transaction that reads a table for a long time (a report, a forgotten BEGIN): ACCESS SHARE held."""

    action: Literal["long-transaction"]
    database: str | None = None
    table: str = Field(pattern=NAME)
    duration: Duration = Field(gt=0)
