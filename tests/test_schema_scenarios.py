"""The bundled schema scenarios show what they teach: who failed, when, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

import simdeploy

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def runs():
    names = [p.stem for p in sorted(SCENARIOS.glob("schema-*.yaml"))]
    return {name: simdeploy.load(SCENARIOS / f"{name}.yaml").run() for name in names}


def database(result: dict) -> dict:
    return result["summary"]["databases"]["payments"]


def test_expand_backfill_contract_migrates_three_times_and_breaks_nothing(runs):
    result = runs["schema-expand-backfill-contract"]
    db = database(result)
    assert [(row["version"], row["kind"], row["success"]) for row in db["history"]] == [
        ("2", "expand", True),
        ("3", "backfill", True),
        ("4", "contract", True),
    ]
    assert db["version"] == "4" and db["tables"]["orders"] == ["id", "status", "total_cents"]
    backfill = db["history"][1]
    assert backfill["finished_s"] - backfill["started_s"] == pytest.approx(1_200_000 / 5000)
    assert db["incompatible"] == [] and result["summary"]["errors_total"] == 0
    # the backfill Job did not hold up its sync; the hooks did (a little)
    syncs = result["summary"]["syncs"]
    assert [s["phase"] for s in syncs] == ["Succeeded"] * 4
    assert syncs[1]["finished_s"] == syncs[1]["requested_s"] and syncs[0]["finished_s"] > syncs[0]["requested_s"]


def test_contract_too_early_breaks_the_old_version_and_the_undo_brings_it_back_broken(runs):
    result = runs["schema-contract-too-early"]
    rows = database(result)["incompatible"]
    assert [(r["version"], r["reason"]) for r in rows] == [
        ("2.9.0", 'ERROR: column "total" of relation "orders" does not exist')
    ]
    contract = next(r for r in database(result)["history"] if r["version"] == "4")
    assert rows[0]["from_s"] == pytest.approx(contract["finished_s"], abs=1.0)
    # after the undo (12m) 2.9.0 serves again, and fails every request: the image came back, the schema did not
    late = [r for r in result["traffic"] if r["t"] > 12 * 60 + 60 and r["version"] == "2.9.0"]
    assert late and all(r["errors"] == pytest.approx(r["requests"]) for r in late if r["requests"])
    assert result["summary"]["availability"] < 0.8


def test_init_containers_race_without_the_advisory_lock_and_wait_with_it(runs):
    race = database(runs["schema-init-container-race"])["history"]
    failed = [r for r in race if not r["success"]]
    assert (
        len(failed) == 1 and failed[0]["message"] == 'ERROR: column "total_cents" of relation "orders" already exists'
    )
    assert failed[0]["runner"].endswith("(migrate)")
    restarts = [e for e in runs["schema-init-container-race"]["events"] if e["reason"] == "MigrationRunFailed"]
    assert len(restarts) == 1
    locked = runs["schema-init-container-advisory-lock"]
    assert all(r["success"] for r in database(locked)["history"])
    waits = [e for e in locked["events"] if e["reason"] == "MigrationLockWait"]
    assert waits and "advisory lock" in waits[0]["message"]


def test_a_long_presync_backfill_holds_up_the_hotfix_behind_it(runs):
    syncs = runs["schema-presync-backfill-blocks-deploys"]["summary"]["syncs"]
    release, hotfix = syncs
    assert release["hooks"] == [{"kind": "Job", "name": "flyway-migrate-v3", "phase": "Succeeded"}]
    assert release["finished_s"] - release["started_s"] > 600  # 1.2 M rows at 2,000 rows/s
    assert hotfix["requested_s"] == 240 and hotfix["started_s"] == release["finished_s"]
    assert "configured" in hotfix["message"]


def test_the_lock_queue_outage_and_its_fix(runs):
    outage, fixed = runs["schema-lock-queue-outage"], runs["schema-lock-timeout-retry"]
    blocked = [s for s in database(outage)["blocked"] if s["queries"] == "read"]
    assert len(blocked) == 1 and blocked[0]["to_s"] - blocked[0]["from_s"] > 200
    assert "waits for ACCESS EXCLUSIVE" in blocked[0]["cause"]
    alert = next(a for a in outage["summary"]["alerts"] if a["name"] == "PaymentsHighErrorRate")
    assert outage["summary"]["errors_total"] > 100_000 and alert["first_firing_s"] < 240
    spans = [s for s in database(fixed)["blocked"] if s["queries"] == "read"]
    assert len(spans) > 5 and all(s["to_s"] - s["from_s"] <= 2.0 + 1e-6 for s in spans[:-1])
    assert fixed["summary"]["errors_total"] == 0
    timeouts = [r for r in database(fixed)["history"] if not r["success"]]
    assert timeouts and all(r["message"] == "ERROR: canceling statement due to lock timeout" for r in timeouts)
    assert database(fixed)["history"][-1]["success"]


def test_a_schema_scenario_is_deterministic():
    path = SCENARIOS / "schema-init-container-race.yaml"
    assert simdeploy.load(path).run() == simdeploy.load(path).run()
