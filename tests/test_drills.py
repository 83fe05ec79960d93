"""The bundled drills (drills/*.yaml) run with their verdicts and figures, `simdeploy drill`, and bad drill files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.scenario.drill_build import build_drill
from simdeploy.scenario.drill_loader import load_drill

ROOT = Path(__file__).resolve().parent.parent
DRILLS = sorted(p for p in (ROOT / "drills").glob("*.yaml") if yaml.safe_load(p.read_text()).get("kind") == "Drill")
runner = CliRunner()


def run(name: str) -> dict:
    return build_drill(load_drill(ROOT / "drills" / f"{name}.yaml")).run()["drill"]


def test_every_bundled_drill_is_listed_here():
    assert {path.stem for path in DRILLS} == set(VERDICTS)


# The verdict each bundled drill reaches at its seed, and why when it fails.
VERDICTS = {
    "rollback-flag-off": ("pass", []),
    "rollback-undo": ("pass", []),
    "rollback-gitops-revert": ("pass", []),
    "rollback-traffic-shift": ("pass", []),
    "rollback-undo-then-flag": ("pass", []),
    "rollback-undo-not-enough": (
        "fail",
        [
            "step 'wait for the rollback to finish': expectation missed: alert PaymentsHighErrorRate resolved",
            "the steady state did not return before the scenario ended",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_bundled_drill_verdict(name):
    drill = run(name)
    assert (drill["verdict"], drill["reasons"]) == VERDICTS[name]


def test_the_rollback_layers_differ_as_the_chapter_says():
    figures = {name: run(name)["incident"] for name in VERDICTS}
    hands_on = {name: f["time_from_acknowledge_to_mitigate_s"] for name, f in figures.items()}
    # Seconds for the flag and the traffic shift, a minute or more for undo, minutes for a GitOps revert.
    assert hands_on["rollback-traffic-shift"] < hands_on["rollback-flag-off"] < 60
    assert 60 <= hands_on["rollback-undo"] < hands_on["rollback-gitops-revert"]
    assert hands_on["rollback-gitops-revert"] > 180  # waits for the controller's look at git
    # Undo alone never ends the ledger incident; adding the flag step does, later than any single right layer.
    assert figures["rollback-undo-not-enough"]["mitigated_s"] is None
    assert hands_on["rollback-undo-then-flag"] > hands_on["rollback-undo"]
    errors = {name: f["errors"] for name, f in figures.items()}
    assert errors["rollback-undo-not-enough"] > 10 * errors["rollback-undo"]
    assert errors["rollback-traffic-shift"] < errors["rollback-undo"] < errors["rollback-gitops-revert"]
    # The same responders (same seed) in every drill: the page and the acknowledgement line up.
    assert len({f["time_to_acknowledge_s"] for f in figures.values()}) == 1


def test_the_undo_not_enough_drill_shows_the_errors_get_worse_after_the_undo():
    result = build_drill(load_drill(ROOT / "drills" / "rollback-undo-not-enough.yaml")).run()
    undo = next(e["t"] for e in result["events"] if e["reason"] == "RolloutUndo")
    complete = result["summary"]["deployments"]["payments-api"]["rollouts"][-1]["completed_s"]
    before = [r for r in result["traffic"] if undo - 60 <= r["t"] < undo]
    after = [r for r in result["traffic"] if complete + 60 <= r["t"] < complete + 120]
    ratio = lambda rows: sum(r["errors"] for r in rows) / sum(r["requests"] for r in rows)  # noqa: E731
    assert ratio(before) == pytest.approx(0.05, abs=0.01) and ratio(after) == pytest.approx(0.25, abs=0.01)


# -- the command line ----------------------------------------------------------------------------------------------


def test_drill_prints_the_timeline_the_steps_and_the_incident_and_writes_json(tmp_path):
    out = tmp_path / "drill.json"
    result = runner.invoke(app, ["drill", str(ROOT / "drills" / "rollback-undo.yaml"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    for text in (
        "Paged",
        "Acknowledged",
        "roll back to the previous revision",
        "time to mitigate",
        "drill rollback-undo passed",
    ):
        assert text in result.output
    document = json.loads(out.read_text())
    assert document["drill"]["verdict"] == "pass" and document["drill"]["incident"]["time_to_mitigate_s"] == 330.0
    assert {"summary", "events", "traffic"} <= set(document)


def test_a_failing_drill_exits_1_and_says_why():
    result = runner.invoke(app, ["drill", "-q", str(ROOT / "drills" / "rollback-undo-not-enough.yaml")])
    assert result.exit_code == 1
    assert "the steady state did not return before the scenario ended" in result.output


def test_seeds_give_percentiles_and_compare_puts_the_layers_side_by_side(tmp_path):
    out = tmp_path / "seeds.json"
    drill = str(ROOT / "drills" / "rollback-flag-off.yaml")
    result = runner.invoke(app, ["drill", drill, "--seeds", "5", "--json", str(out)])
    assert "p50" in result.output and "p90" in result.output
    document = json.loads(out.read_text())
    assert [run["seed"] for run in document["runs"]] == [42, 43, 44, 45, 46]
    spread = document["distributions"]["figures"]["time_to_mitigate_s"]
    assert spread["p50"] <= spread["p90"]
    assert result.exit_code == (0 if document["distributions"]["passed"] == 5 else 1)
    compared = runner.invoke(app, ["drill", "--compare", *(str(p) for p in DRILLS)])
    assert all(path.stem in compared.output for path in DRILLS) and "ack -> mitigated" in compared.output
    assert runner.invoke(app, ["drill", *(str(p) for p in DRILLS[:2])]).exit_code == 2  # several need --compare


def test_validate_lists_a_drills_steps():
    result = runner.invoke(app, ["validate", str(ROOT / "drills" / "rollback-undo-then-flag.yaml")])
    assert result.exit_code == 0, result.output
    assert "paged by alert PaymentsHighErrorRate" in result.output and "flag ledger-v2: disable" in result.output


def _write(tmp_path: Path, runbook: dict, **extra) -> Path:
    document = {
        "kind": "Drill",
        "metadata": {"name": "bad"},
        "scenario": str(ROOT / "scenarios" / "payments-bad-release.yaml"),
        "runbook": runbook,
        **extra,
    }
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


TRIGGER = {"alert": "PaymentsHighErrorRate"}


@pytest.mark.parametrize(
    ("runbook", "message"),
    [
        ({"trigger": {"alert": "PaymentsErrorRate"}, "steps": [{"name": "a", "wait": "1s"}]},
         "runbook.trigger.alert: no alerting rule named 'PaymentsErrorRate' in the scenario"),
        ({"trigger": TRIGGER, "steps": [{"name": "sh", "kubectl": "kubectl exec -it web -- sh"}]},
         "runbook.steps[0].kubectl: 'sh': unsupported command 'exec -it web'"),
        ({"trigger": TRIGGER, "steps": [{"name": "u", "kubectl": "kubectl rollout undo deploy/payment-api -n x"}]},
         "runbook.steps[0].kubectl: no Deployment 'payment-api' in namespace 'x'"),
        ({"trigger": TRIGGER, "steps": [{"name": "d", "kubectl": "kubectl drain worker-2"}]},
         "runbook.steps[0].kubectl: no node 'worker-2' in the scenario's cluster"),
        ({"trigger": TRIGGER, "steps": [{"name": "x", "reboot": "now"}]}, "runbook.steps[0].reboot: unknown field"),
        ({"trigger": TRIGGER, "steps": [{"name": "x", "wait": "1s", "flag": {"disable": "f"}}]},
         "runbook.steps[0]: give exactly one action"),
        ({"trigger": TRIGGER, "steps": [{"name": "x", "flag": {"disable": "nope"}}]},
         "runbook.steps[0].flag: no flag 'nope' in the scenario's flags (new-checkout-flow)"),
        ({"trigger": TRIGGER, "steps": [{"name": "x", "wait": "1s", "expect": {"query": "sum(", "below": 1}}]},
         "runbook.steps[0].expect.query:"),
        ({"trigger": TRIGGER, "steps": [{"name": "x", "trafficShift": {"route": "api", "weights": {"a": 1}}}]},
         "runbook.steps[0].trafficShift.route: no route 'api'"),
        ({"trigger": TRIGGER, "steps": []}, "runbook.steps: List should have at least 1 item"),
        ({"trigger": {}, "steps": [{"name": "a", "wait": "1s"}]}, "runbook.trigger: give exactly one of alert"),
    ],
)  # fmt: skip
def test_bad_drill_files_are_refused_with_the_field_path(tmp_path, runbook, message):
    path = _write(tmp_path, runbook)
    for command in (["validate", str(path)], ["drill", str(path)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output


def test_a_bad_scenario_or_runbook_file_is_named(tmp_path):
    missing = _write(tmp_path, "runbooks/none.yaml")
    result = runner.invoke(app, ["validate", str(missing)])
    assert result.exit_code == 2 and "runbook: runbooks/none.yaml: file not found" in result.output
    broken = _write(tmp_path, {"trigger": TRIGGER, "steps": [{"name": "a", "wait": "1s"}]}, scenario={"metadata": {}})
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 2 and "scenario: metadata.name: required field is missing" in result.output


@pytest.mark.parametrize("path", DRILLS, ids=lambda path: path.stem)
def test_a_drills_result_document_is_exactly_the_declared_fields(path):
    from simdeploy.sim.result import problems

    assert problems(build_drill(load_drill(path)).run()) == []
