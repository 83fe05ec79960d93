"""Databases, migrations and their execution models, on small scenarios built as dicts."""

from __future__ import annotations

import copy

import pytest

import simdeploy
from simdeploy.delivery.schema.locks import ACCESS_EXCLUSIVE, ACCESS_SHARE, SHARE, LockQueue
from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.loader import load_scenario
from simdeploy.sim.clock import Clock

APP, NEW, MIGRATE = "shop:1", "shop:2", "migrations:v2"


def deployment(image: str, init: str | None = None, replicas: int = 2) -> dict:
    probe = {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1}
    spec = {"containers": [{"name": "app", "image": image, "readinessProbe": probe}]}
    if init:
        spec["initContainers"] = [{"name": "migrate", "image": init}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {"metadata": {"labels": {"app": "shop"}}, "spec": spec},
        },
    }


def hook_job(name: str, image: str = MIGRATE, policy: str | None = None, wave: str | None = None) -> dict:
    annotations = {"argocd.argoproj.io/hook": "PreSync"}
    if policy:
        annotations["argocd.argoproj.io/hook-delete-policy"] = policy
    if wave:
        annotations["argocd.argoproj.io/sync-wave"] = wave
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "flyway", "image": image}]}},
        },
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "shop", "namespace": "shop"},
    "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80}]},
}


def scenario(**changes) -> dict:
    base = {
        "metadata": {"name": "schema"},
        "duration": "6m",
        "manifests": [{"inline": deployment(APP)}, {"inline": SERVICE}],
        "traffic": [{"service": "shop", "rate": 100, "start": "30s"}],
        "databases": [{"name": "shop", "tables": {"orders": {"rows": 1000, "columns": ["id", "total"]}}}],
        "migrations": [
            {
                "version": "2",
                "kind": "expand",
                "operations": [{"table": "orders", "duration": "1s", "addColumns": ["total_cents"]}],
            }
        ],
        "versions": {
            APP: {"pull": "0s", "startup": "2s", "schema": {"reads": ["orders.total"]}},
            NEW: {"pull": "0s", "startup": "2s", "schema": {"requires": "2", "reads": ["orders.total_cents"]}},
            MIGRATE: {"pull": "0s", "schema": {"migrate": {"to": "2"}}},
        },
    }
    for key, value in changes.items():
        base[key] = value
    return copy.deepcopy(base)


def run(data: dict) -> dict:
    return simdeploy.load(data).run()


def history(result: dict) -> list[tuple[str, bool, str]]:
    return [(r["version"], r["success"], r["message"]) for r in result["summary"]["databases"]["shop"]["history"]]


# -- the lock queue ---------------------------------------------------------------------------------------------


def test_an_access_exclusive_request_queued_behind_a_reader_blocks_every_later_query():
    clock = Clock()
    locks = LockQueue(clock)
    granted = []
    locks.request("report", "orders", ACCESS_SHARE, 100, 0, lambda: granted.append("report"), lambda: None)
    locks.request("alter", "orders", ACCESS_EXCLUSIVE, 0.01, 0, lambda: granted.append("alter"), lambda: None)
    assert granted == ["report"]
    assert [(s.queries, s.end) for s in locks.spans] == [("read", None), ("write", None)]
    clock.run_until(50)
    locks.release("report")
    assert granted == ["report", "alter"]
    clock.run_until(50.01)
    locks.release("alter")
    assert [(s.start, s.end) for s in locks.spans] == [(0.0, 50.01), (0.0, 50.01)]  # until the ALTER committed


def test_lock_timeout_gives_up_and_the_queue_drains():
    clock = Clock()
    locks = LockQueue(clock)
    outcome = []
    locks.request("report", "orders", ACCESS_SHARE, 100, 0, lambda: None, lambda: None)
    locks.request(
        "alter",
        "orders",
        ACCESS_EXCLUSIVE,
        0.01,
        2.0,
        lambda: outcome.append("granted"),
        lambda: outcome.append("timeout"),
    )
    clock.run_until(10)
    assert outcome == ["timeout"]
    assert [(s.start, s.end) for s in locks.spans if s.queries == "read"] == [(0.0, 2.0)]
    # requests sent over [0, 4): those of the first 2 s waited until 2 s (mean 1 s), none past a 5 s timeout
    assert locks.blocked_wait("orders", "read", 0, 4, 5.0) == pytest.approx((0.0, 0.5, 2.0))
    # with a 1.5 s timeout, those sent in the first 0.5 s time out; the others waited 1.5 s down to 0
    assert locks.blocked_wait("orders", "read", 0, 2, 1.5) == pytest.approx((0.25, 0.75, 1.5))


def test_share_blocks_writers_but_not_readers():
    clock = Clock()
    locks = LockQueue(clock)
    locks.request("create index", "orders", SHARE, 30, 0, lambda: None, lambda: None)
    assert [s.queries for s in locks.spans] == ["write"]


# -- compatibility and the traffic model ---------------------------------------------------------------------


def test_new_code_before_its_expand_fails_and_requests_stay_conserved():
    data = scenario(
        timeline=[{"at": "1m", "action": "set-image", "deployment": "shop", "container": "app", "image": NEW}]
    )
    sim = simdeploy.load(data)
    result = sim.run()
    rows = result["summary"]["databases"]["shop"]["incompatible"]
    assert [(r["image"], r["reason"]) for r in rows] == [(NEW, "needs schema version 2, shop is at 1")]
    assert result["summary"]["errors_total"] > 0
    counted = sum(sim.traffic.requests.values())
    assert counted == pytest.approx(sim.traffic.total.sent)


def test_share_limits_the_failing_requests_to_those_that_query_the_database():
    versions = scenario()["versions"]
    versions[NEW]["schema"]["share"] = 0.25
    data = scenario(
        versions=versions,
        timeline=[{"at": "1m", "action": "set-image", "deployment": "shop", "container": "app", "image": NEW}],
    )
    result = run(data)
    late = [r for r in result["traffic"] if r["t"] > 150 and r["version"] == NEW and r["requests"]]
    assert late and all(r["errors"] / r["requests"] == pytest.approx(0.25) for r in late)


def test_a_forward_fix_by_hand_makes_the_new_code_work():
    data = scenario(
        timeline=[
            {"at": "1m", "action": "set-image", "deployment": "shop", "container": "app", "image": NEW},
            {"at": "3m", "action": "migrate", "to": "2", "window": "10m"},
        ]
    )
    result = run(data)
    rows = result["summary"]["databases"]["shop"]["incompatible"]
    assert len(rows) == 1 and rows[0]["to_s"] == pytest.approx(181, abs=1.5)
    assert history(result) == [("2", True, "Successfully applied V2 in 1s")]
    assert history(result) and result["summary"]["databases"]["shop"]["history"][0]["runner"] == "dba"


def test_a_manual_window_overrun_is_on_the_timeline():
    migrations = scenario()["migrations"]
    migrations[0]["operations"][0]["duration"] = "20m"
    result = run(
        scenario(migrations=migrations, duration="30m", timeline=[{"at": "1m", "action": "migrate", "window": "15m"}])
    )
    assert any(e["reason"] == "MaintenanceWindowOverrun" for e in result["events"])


def test_a_failed_migration_rolls_back():
    migrations = scenario()["migrations"]
    migrations[0]["failure"] = {"at": "0.5s", "message": "ERROR: could not extend file"}
    result = run(scenario(migrations=migrations, timeline=[{"at": "1m", "action": "migrate"}]))
    db = result["summary"]["databases"]["shop"]
    assert db["version"] == "1" and db["tables"]["orders"] == ["id", "total"]
    assert history(result) == [("2", False, "ERROR: could not extend file (changes rolled back)")]


# -- execution models ----------------------------------------------------------------------------------------


def test_presync_hook_runs_before_the_release_and_is_deleted_when_it_succeeded():
    release = [{"inline": hook_job("migrate-v2", policy="HookSucceeded")}, {"inline": deployment(NEW)}]
    sim = simdeploy.load(scenario(timeline=[{"at": "1m", "action": "sync", "app": "shop", "manifests": release}]))
    result = sim.run()
    sync = result["summary"]["syncs"][0]
    assert sync["phase"] == "Succeeded" and sync["hooks"] == [
        {"kind": "Job", "name": "migrate-v2", "phase": "Succeeded"}
    ]
    # no version ever met a schema it could not use (the few 503s are pods stopping without a preStop sleep)
    assert result["summary"]["databases"]["shop"]["incompatible"] == [] and result["summary"]["final_image"] == NEW
    assert sim.store.find("Job", "shop", "migrate-v2") is None
    applied = result["summary"]["databases"]["shop"]["history"][0]["finished_s"]
    rollout = result["summary"]["rollouts"][0]["started_s"]
    assert applied < rollout


def test_a_failed_hook_fails_the_sync_and_every_later_one():
    migrations = scenario()["migrations"]
    migrations[0]["failure"] = {"at": "0s"}
    release = [{"inline": hook_job("migrate-v2")}, {"inline": deployment(NEW)}]
    timeline = [
        {"at": "1m", "action": "sync", "app": "shop", "manifests": release},
        {"at": "3m", "action": "sync", "app": "shop", "manifests": release},
    ]
    sim = simdeploy.load(scenario(migrations=migrations, timeline=timeline))
    result = sim.run()
    assert [s["phase"] for s in result["summary"]["syncs"]] == ["Failed", "Failed"]
    assert "hook job/migrate-v2 failed" in result["summary"]["syncs"][1]["message"]
    assert result["summary"]["final_image"] == APP  # never deployed
    job = sim.store.get("Job", "shop", "migrate-v2")  # BeforeHookCreation: recreated by the second sync
    assert [c["type"] for c in job["status"]["conditions"]] == ["FailureTarget", "Failed"]


def test_hooks_run_wave_by_wave_then_kind_then_name():
    first = hook_job("b-first", policy="HookSucceeded", wave="-1")
    second = hook_job("a-second", image="migrations:v3", policy="HookSucceeded")
    versions = scenario()["versions"]
    versions["migrations:v3"] = {"pull": "0s", "schema": {"migrate": {"to": "3"}}}
    migrations = scenario()["migrations"] + [
        {"version": "3", "kind": "backfill", "operations": [{"table": "orders", "lock": "none", "rowsPerSecond": 100}]}
    ]
    release = [{"inline": second}, {"inline": first}]
    data = scenario(
        versions=versions,
        migrations=migrations,
        timeline=[{"at": "1m", "action": "sync", "app": "shop", "manifests": release}],
    )
    result = run(data)
    created = [e["message"] for e in result["events"] if e["reason"] == "HookCreated"]
    assert created == ["PreSync hook job/b-first created", "PreSync hook job/a-second created"]
    assert [v for v, ok, _ in history(result)] == ["2", "3"]


def test_a_sync_timeout_fails_a_long_hook():
    migrations = scenario()["migrations"]
    migrations[0]["operations"][0]["duration"] = "5m"
    release = [{"inline": hook_job("migrate-v2")}, {"inline": deployment(NEW)}]
    timeline = [{"at": "1m", "action": "sync", "app": "shop", "manifests": release, "timeout": "2m"}]
    data = scenario(migrations=migrations, timeline=timeline, duration="10m")
    assert any("longer than the sync timeout 2m00s" in w for w in load_scenario(data).warnings)
    sync = run(data)["summary"]["syncs"][0]
    assert sync["phase"] == "Failed" and "timeout" in sync["message"]


def test_app_startup_auto_migrate_races_and_validate_forbids_it_in_production():
    versions = scenario()["versions"]
    versions[NEW]["schema"]["migrate"] = {"to": "2", "advisoryLock": False}
    data = scenario(
        versions=versions,
        timeline=[{"at": "1m", "action": "set-image", "deployment": "shop", "container": "app", "image": NEW}],
    )
    result = run(data)
    failed = [m for _, ok, m in history(result) if not ok]
    assert failed == ['ERROR: column "total_cents" of relation "orders" already exists']
    assert not any("auto-migrate" in w for w in load_scenario(data).warnings)
    production = copy.deepcopy(data)
    for ref in production["manifests"]:
        ref["inline"]["metadata"]["namespace"] = "production"
    warnings = load_scenario(production).warnings
    assert any(w.startswith(f'versions["{NEW}"].schema.migrate') and "forbidden in production" in w for w in warnings)


def test_a_database_does_not_shift_the_pods_draws():
    plain = scenario()
    del plain["databases"], plain["migrations"]
    for version in plain["versions"].values():
        version.pop("schema", None)
    with_db = run(scenario())
    without = run(plain)
    assert [e for e in with_db["events"] if e["kind"] == "Pod"] == [e for e in without["events"] if e["kind"] == "Pod"]


# -- bad definitions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda d: d["migrations"][0]["operations"][0].update(table="order"),
            "migrations[0].operations[0].table",
            "unknown table 'order'",
        ),
        (
            lambda d: d["migrations"][0]["operations"][0].update(dropColumns=["nope"]),
            "migrations[0].operations[0].dropColumns",
            "does not exist then",
        ),
        (
            lambda d: d["migrations"][0]["operations"][0].pop("duration"),
            "migrations[0].operations[0]",
            "give a duration, or rowsPerSecond",
        ),
        (lambda d: d["migrations"][0].update(version="two"), "migrations[0].version", "String should match pattern"),
        (
            lambda d: d["migrations"][0].update(database="billing"),
            "migrations[0].database",
            "unknown database 'billing'",
        ),
        (lambda d: d["migrations"].append(copy.deepcopy(d["migrations"][0])), "migrations[1].version", "given twice"),
        (
            lambda d: d["versions"][NEW]["schema"].update(requires="9"),
            f'versions["{NEW}"].schema.requires',
            "no migration of shop has version 9",
        ),
        (
            lambda d: d["versions"][APP]["schema"].update(reads=["orders.totl"]),
            f'versions["{APP}"].schema.reads[0]',
            "ever gives orders a column 'totl'",
        ),
        (
            lambda d: d["migrations"][0].update(failure={"at": "1s", "probability": 0.5}),
            "migrations[0].failure",
            "give at or probability",
        ),
        (
            lambda d: d["migrations"][0]["operations"][0].update(lock="exclusive"),
            "migrations[0].operations[0].lock",
            "Input should be",
        ),
    ],
)
def test_bad_migration_definitions_are_named_by_their_field(change, path, message):
    data = scenario()
    change(data)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data)
    problems = caught.value.problems
    assert any(p.path == path and message in p.message for p in problems), problems


def test_validate_exits_2_on_a_bad_migration(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from simdeploy.cli.app import app

    data = scenario()
    data["migrations"][0]["operations"][0]["table"] = "order"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    outcome = CliRunner().invoke(app, ["validate", str(path)])
    assert outcome.exit_code == 2
    assert "migrations[0].operations[0].table" in outcome.output and "Traceback" not in outcome.output


def test_a_runbook_forward_fix_migrates_and_the_errors_stop():
    data = scenario(
        duration="8m",
        timeline=[{"at": "1m", "action": "set-image", "deployment": "shop", "container": "app", "image": NEW}],
    )
    drill = {
        "metadata": {"name": "forward-fix"},
        "scenario": data,
        "runbook": {
            "name": "schema forward fix",
            "trigger": {"at": "2m"},
            "responders": {"acknowledge": "30s", "step": "10s"},
            "steps": [{"name": "apply the missing expand", "migrate": {"to": "2"}}],
        },
    }
    result = simdeploy.build_drill(simdeploy.load_drill(drill)).run()
    step = result["drill"]["steps"][0]
    assert step["action"] == "migrate" and step["outcome"] == "done"
    assert step["output"] == "Schema shop is up to date at version 2"
    assert step["finished_s"] == pytest.approx(2 * 60 + 30 + 10 + 1, abs=1.01)  # ack, step time, the 1 s ALTER
    rows = result["summary"]["databases"]["shop"]["incompatible"]
    assert rows[0]["to_s"] == pytest.approx(step["finished_s"], abs=1.0)
    late = [r for r in result["traffic"] if r["t"] > step["finished_s"] + 15 and r["requests"]]
    assert late and all(r["errors"] == 0 for r in late)


def test_a_migration_job_past_its_deadline_is_killed_and_its_transaction_rolls_back():
    migrations = scenario()["migrations"]
    migrations[0]["operations"][0]["duration"] = "10m"
    job = hook_job("migrate-v2", policy="HookFailed")
    job["spec"]["activeDeadlineSeconds"] = 60
    timeline = [
        {"at": "1m", "action": "sync", "app": "shop", "manifests": [{"inline": job}, {"inline": deployment(NEW)}]}
    ]
    sim = simdeploy.load(scenario(migrations=migrations, timeline=timeline, duration="5m"))
    result = sim.run()
    db = result["summary"]["databases"]["shop"]
    assert db["version"] == "1" and db["tables"]["orders"] == ["id", "total"]
    [row] = db["history"]
    assert not row["success"] and row["message"].startswith("FATAL: terminating connection (pod/migrate-v2-")
    assert row["finished_s"] == pytest.approx(60 + 60, abs=1.5)  # the Job's deadline, counted from its start
    sync = result["summary"]["syncs"][0]
    assert sync["phase"] == "Failed" and sync["hooks"][0]["phase"] == "Failed"
    assert sim.store.find("Job", "shop", "migrate-v2") is None  # HookFailed: deleted once it failed
    assert db["blocked"][-1]["to_s"] is not None  # its lock went with it
