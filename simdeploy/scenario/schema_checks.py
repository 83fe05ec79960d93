"""Checks of the scenario's databases and migrations: references named with their field path (errors), and the
lints `validate` prints (warnings): a contract in the release that stops reading the column, a PreSync migration
longer than its sync's timeout, and an app that migrates at startup in a production namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simdeploy.delivery.gitops.sync import hook_phase
from simdeploy.delivery.schema.database import version_key
from simdeploy.delivery.schema.runner import estimate
from simdeploy.k8s.duration import format_duration
from simdeploy.scenario.errors import Problem, key_step
from simdeploy.scenario.schema_databases import LongTransactionAction, MigrateAction, SyncAction
from simdeploy.scenario.schema_objects import database_of, databases, migrations

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario


def check_schema(scenario: Scenario, problems: list[Problem]) -> None:
    """Databases named once; migrations, versions' needs and timeline actions naming databases, versions, tables
    and columns that exist when they apply."""
    spec = scenario.spec
    known = _Known(spec, problems)
    for index, name in enumerate(known.names):
        if known.names.index(name) != index:
            problems.append(Problem(f"databases[{index}].name", f"database {name!r} is declared twice"))
    _check_migrations(spec, known, problems)
    _check_needs(spec, known, problems)
    _check_timeline(spec, known, problems)


class _Known:
    """The databases by name, the versions each can reach, and every column each table ever has."""

    def __init__(self, spec, problems: list[Problem]):
        self.spec, self.problems = spec, problems
        self.names = [d.name for d in spec.databases]
        self.versions = {d.name: {d.version} for d in spec.databases}
        self.ever = {d.name: {t: set(table.columns) for t, table in d.tables.items()} for d in spec.databases}

    def resolve(self, given: str | None, where: str) -> str | None:
        """The database a field names (or the only one); None, with a problem, when there is no such database."""
        name = database_of(self.spec, given)
        if name is None:
            listed = ", ".join(self.names)
            self.problems.append(Problem(where, f"name the database: the scenario has {len(self.names)} ({listed})"))
        elif name not in self.names:
            listed = ", ".join(self.names) or "none"
            self.problems.append(Problem(where, f"unknown database {name!r} (databases: {listed})"))
            return None
        return name


def _check_migrations(spec, known: _Known, problems: list[Problem]) -> None:
    """Each migration once per database; its operations, in version order, on tables and columns that exist then."""
    columns = {d.name: {t: set(table.columns) for t, table in d.tables.items()} for d in spec.databases}
    seen: set[tuple[str, str]] = set()
    order = sorted(range(len(spec.migrations)), key=lambda i: version_key(spec.migrations[i].version))
    for index in order:
        migration = spec.migrations[index]
        where = f"migrations[{index}]"
        name = known.resolve(migration.database, f"{where}.database")
        if name is None:
            continue
        if (name, migration.version) in seen:
            problems.append(Problem(f"{where}.version", f"version {migration.version} of {name} is given twice"))
        seen.add((name, migration.version))
        known.versions[name].add(migration.version)
        baseline = next(d.version for d in spec.databases if d.name == name)
        if version_key(migration.version) <= version_key(baseline):
            continue  # applied before the scenario starts: the tables already show it
        for number, op in enumerate(migration.operations):
            path = f"{where}.operations[{number}]"
            tables = columns[name]
            if op.table not in tables:
                problems.append(Problem(f"{path}.table", f"unknown table {op.table!r} in database {name}"))
                continue
            table = tables.setdefault(op.table, set())
            for column in op.add_columns:
                if column in table:
                    problems.append(Problem(f"{path}.addColumns", f"column {op.table}.{column} already exists then"))
            for column in op.drop_columns:
                if column not in table and column not in op.add_columns:
                    problems.append(Problem(f"{path}.dropColumns", f"column {op.table}.{column} does not exist then"))
            table |= set(op.add_columns)
            table -= set(op.drop_columns)
            known.ever[name].setdefault(op.table, set()).update(op.add_columns)


def _check_needs(spec, known: _Known, problems: list[Problem]) -> None:
    """What each version needs of the schema: versions some migration reaches, tables and columns some migration
    gives."""
    for image, version in spec.versions.items():
        schema = version.schema_needs
        if schema is None:
            continue
        where = f"versions{key_step(image)}.schema"
        name = known.resolve(schema.database, f"{where}.database")
        if name is None:
            continue
        wanted = [("requires", schema.requires), ("migrate.to", schema.migrate.to if schema.migrate else None)]
        for field, target in wanted:
            if target is not None and target not in known.versions[name]:
                problems.append(Problem(f"{where}.{field}", f"no migration of {name} has version {target}"))
        ever = known.ever[name]
        for field in ("reads", "writes"):
            for number, reference in enumerate(getattr(schema, field)):
                table, _, column = reference.partition(".")
                if table not in ever:
                    problems.append(
                        Problem(f"{where}.{field}[{number}]", f"unknown table {table!r} in database {name}")
                    )
                elif column and column not in ever[table]:
                    problems.append(
                        Problem(
                            f"{where}.{field}[{number}]",
                            f"no migration of {name} ever gives {table} a column {column!r}",
                        )
                    )


def _check_timeline(spec, known: _Known, problems: list[Problem]) -> None:
    """`migrate` to a version some migration reaches; a long transaction on a table that exists."""
    for index, action in enumerate(spec.timeline):
        where = f"timeline[{index}]"
        if not isinstance(action, MigrateAction | LongTransactionAction):
            continue
        name = known.resolve(action.database, f"{where}.database")
        if name is None:
            continue
        if isinstance(action, MigrateAction) and action.to is not None and action.to not in known.versions[name]:
            problems.append(Problem(f"{where}.to", f"no migration of {name} has version {action.to}"))
        if isinstance(action, LongTransactionAction) and action.table not in known.ever[name]:
            problems.append(Problem(f"{where}.table", f"unknown table {action.table!r} in database {name}"))


def schema_warnings(scenario: Scenario) -> list[str]:
    spec = scenario.spec
    if not spec.databases:
        return []
    warnings = []
    migrators = {
        image: (database_of(spec, v.schema_needs.database), v.schema_needs.migrate)
        for image, v in spec.versions.items()
        if v.schema_needs and v.schema_needs.migrate
    }
    readers = {
        image: set(v.schema_needs.reads) | set(v.schema_needs.writes)
        for image, v in spec.versions.items()
        if v.schema_needs
    }
    all_migrations = migrations(spec)
    state = {d.name: d for d in databases(spec)}
    applied = {d.name: d.version for d in spec.databases}
    for image, version in spec.versions.items():
        if version.schema_needs and version.schema_needs.migrate and _app_image_in_production(scenario, image):
            warnings.append(
                f"versions{key_step(image)}.schema.migrate: the app migrates the database at startup (ORM "
                "auto-migrate) in a production namespace: forbidden in production, no audit trail, and replicas race"
            )
    deployed = _workload_images(scenario.manifests)
    for index, action in sorted(enumerate(spec.timeline), key=lambda pair: pair[1].at):
        objects = scenario.action_manifests.get(index, [])
        if not objects:
            continue
        where = f"timeline[{index}]"
        released = _workload_images([o for o in objects if hook_phase(o) is None])
        for name, target, hook in _migrate_targets(objects, migrators):
            pending = [
                m
                for m in all_migrations
                if m.database == name
                and version_key(m.version) > version_key(applied.get(name, "0"))
                and (target is None or version_key(m.version) <= version_key(target))
            ]
            dropped = {
                f"{op.table}.{c}"
                for m in pending
                if m.kind == "contract"
                for op in m.operations
                for c in op.drop_columns
            }
            for workload, image in sorted(released.items()):
                before = deployed.get(workload)
                for column in sorted(dropped):
                    if before in readers and column in readers[before] and column not in readers.get(image, ()):
                        warnings.append(
                            f"{where}: the contract dropping {column} ships in the release that stops reading it: "
                            f"{workload[1]} goes from {before} (reads it) to {image}; the old pods still read it "
                            "during the overlap, and again after a rollout undo"
                        )
            took = sum(estimate(m, state[name]) for m in pending)
            if hook and isinstance(action, SyncAction) and action.timeout is not None and took > action.timeout:
                warnings.append(
                    f"{where}: the PreSync migration{'s' if len(pending) > 1 else ''} "
                    f"{', '.join('V' + m.version for m in pending)} take about {format_duration(took)}, longer than "
                    f"the sync timeout {format_duration(action.timeout)}: the sync fails and blocks later deploys"
                )
            if pending:
                applied[name] = pending[-1].version
        deployed.update(released)
    return warnings


def _workload_images(objects: list[dict]) -> dict[tuple[str, str], str]:
    """(namespace, name) -> the first container's image, for the Deployments and Rollouts among `objects`."""
    images = {}
    for obj in objects:
        if obj.get("kind") in ("Deployment", "Rollout"):
            meta = obj.get("metadata") or {}
            containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
            if containers:
                images[(meta.get("namespace", "default"), meta.get("name", ""))] = containers[0].get("image")
    return images


def _containers(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or spec
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def _migrate_targets(objects: list[dict], migrators: dict) -> list[tuple[str, str | None, bool]]:
    """(database, target, run by a PreSync hook) for every container of the set that migrates."""
    found = []
    for obj in objects:
        for container in _containers(obj):
            migrator = migrators.get(container.get("image"))
            if migrator is not None:
                found.append((migrator[0], migrator[1].to, hook_phase(obj) == "PreSync"))
    return found


def _app_image_in_production(scenario: Scenario, image: str) -> bool:
    from simdeploy.scenario.references import default_namespace
    from simdeploy.scenario.schema import SetImageAction

    for action in scenario.spec.timeline:
        namespace = action.namespace or default_namespace(scenario)
        if isinstance(action, SetImageAction) and action.image == image and "prod" in namespace:
            return True
    objects = list(scenario.manifests) + [o for objs in scenario.action_manifests.values() for o in objs]
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "Rollout", "ReplicaSet"):
            continue
        namespace = (obj.get("metadata") or {}).get("namespace", "default")
        containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        if "prod" in namespace and any(c.get("image") == image for c in containers):
            return True
    return False
