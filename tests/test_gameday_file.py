"""The game-day file: its errors (file and field path), the faults' moments drawn within their windows, the world
it serves and the drill it predicts with."""

from __future__ import annotations

import pytest
from serve_helpers import ROOT

from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.gameday import FaultSpec
from simdeploy.scenario.gameday_loader import draw_moments, load_gameday

DRILLS = ROOT / "drills"
NODE_FAULT = {"at": "1m", "action": "fail-node", "node": "node-2"}


def document(**changes) -> dict:
    base = {
        "kind": "GameDay",
        "metadata": {"name": "g"},
        "drill": "rollback-undo.yaml",
        "players": ["alice"],
        "duration": "10m",
        "faults": [NODE_FAULT],
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def problems(**changes) -> list[str]:
    with pytest.raises(ScenarioError) as error:
        load_gameday(document(**changes), base_dir=DRILLS)
    return [str(p) for p in error.value.problems]


DRAIN = {"action": "drain", "node": "node-2"}
UNDO_RUNBOOK = "runbooks/payments-error-rate-undo.yaml"


def fault(**fields) -> list[dict]:
    return [{"at": "1m", **DRAIN, **fields}]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"players": None}, "players: required field is missing"),
        ({"players": ["admin"]}, "players[0]: 'admin' is the facilitator's identity"),
        ({"players": ["Bob"]}, "players[0]: 'Bob': a name is lower case letters"),
        ({"observers": ["alice"]}, "'alice' is named twice among the players and observers"),
        ({"faults": []}, "faults: List should have at least 1 item"),
        (
            {"faults": fault(at=None, window={"from": "5m", "to": "3m"})},
            "faults[0].window: `to` must come after `from`",
        ),
        ({"faults": fault(window={"from": "1m", "to": "2m"})}, "faults[0]: give exactly one of at"),
        ({"faults": fault(action="explode")}, "faults[0]: unknown action 'explode'"),
        ({"faults": fault(action="fail-node", node="node-9")}, "faults[0].node: no node 'node-9'"),
        (
            {"faults": [{"at": "1m", "actions": [DRAIN, {"action": "scale", "deployment": "nope", "replicas": 2}]}]},
            "faults[0].actions[1].deployment: no Deployment 'nope'",
        ),
        (
            {"faults": [{"at": "1m", "actions": [{**DRAIN, "at": "2m"}]}]},
            "faults[0].actions[0].at: a fault's actions run at the fault's moment",
        ),
        ({"faults": fault(at=None, window={"from": "1m", "to": "30m"})}, "faults[0].window.to: 1800s is after the end"),
        ({"faults": fault(at="10m")}, "faults[0].at: 600s is not before the end (600s)"),
        (
            {"faults": [{"at": "1m", "action": "apply", "manifest": {"file": "nofile.yaml"}}]},
            "faults[0].manifest.file: nofile.yaml: file not found",
        ),
        ({"runbook": UNDO_RUNBOOK}, "give a drill (its runbook) or a runbook, not both"),
        ({"drill": None}, "give a scenario (the world), or a drill whose scenario is the world"),
        ({"drill": "nope.yaml"}, "drill (nope.yaml): file not found"),
        ({"speed": 0}, "speed: Input should be greater than 0"),
        ({"scenarioTimeline": "merge"}, "scenarioTimeline: Input should be 'drop' or 'keep'"),
        (
            {"drill": None, "scenario": "../scenarios/payments-rolling-update.yaml", "runbook": UNDO_RUNBOOK},
            f"runbook ({UNDO_RUNBOOK}).trigger.alert: no alerting rule named 'PaymentsHighErrorRate'",
        ),
    ],
)
def test_a_bad_game_day_names_the_field(changes, expected):
    found = problems(**changes)
    assert any(p.startswith(f"<dict>: {expected}") or p.startswith(expected) for p in found), found


def test_a_world_problem_a_fault_causes_names_the_fault():
    fault = {"at": "1m", "action": "set-image", "deployment": "payments-api", "image": "x:1"}
    (found,) = problems(faults=[fault])
    assert found.startswith("drill (rollback-undo.yaml) scenario (../scenarios/payments-bad-release.yaml): versions:")
    assert found.endswith("(used by faults[0].image)")


def test_draws_are_reproducible_per_seed_and_within_their_windows():
    faults = [
        FaultSpec.model_validate({"window": {"from": "5m", "to": "15m"}, "action": "fail-node", "node": "node-2"}),
        FaultSpec.model_validate({"at": "2m", "action": "fail-node", "node": "node-2"}),
        FaultSpec.model_validate({"window": {"from": "1s", "to": "2s"}, "action": "fail-node", "node": "node-2"}),
    ]
    draws = {seed: draw_moments(faults, seed) for seed in range(200)}
    assert all(draw_moments(faults, seed) == moments for seed, moments in list(draws.items())[:10])
    assert all(300 <= first <= 900 and fixed == 120 and 1 <= last <= 2 for first, fixed, last in draws.values())
    assert len({moments[0] for moments in draws.values()}) == 200  # the seed changes the draw
    firsts = sorted(moments[0] for moments in draws.values())
    assert firsts[20] < 420 and firsts[-20] > 780  # spread over the window, not bunched at one end
    assert all(m == round(m, 3) for moments in draws.values() for m in moments)  # to the millisecond


def test_the_loaded_game_day_serves_the_world_without_its_script_and_predicts_with_the_faults_in_it():
    gameday = load_gameday(DRILLS / "gameday-payments.yaml")
    (fault,) = gameday.faults
    assert fault.window == (180.0, 480.0) and 180 <= fault.at <= 480
    assert load_gameday(DRILLS / "gameday-payments.yaml").faults[0].at == fault.at  # the same plan every time
    assert [a.action for a in fault.actions] == ["set-image", "enable-flag"] and {a.at for a in fault.actions} == {
        fault.at
    }
    assert gameday.world.spec.timeline == []  # the scenario's scripted release is dropped: the faults replace it
    assert gameday.duration == 1200 and gameday.seed == 42 and gameday.slo.availability == pytest.approx(0.999)
    predicted = gameday.drill.scenario.spec.timeline
    assert [(a.at, a.action) for a in predicted] == [(fault.at, "set-image"), (fault.at, "enable-flag")]
    assert gameday.drill.runbook.name == "payments-api error rate (undo)"
    windowed = {"window": {"from": "3m", "to": "8m"}, "action": "fail-node", "node": "node-2"}
    other = load_gameday(document(seed=7, faults=[windowed]), DRILLS)
    assert other.faults[0].at != fault.at and other.seed == 7


def test_a_kept_timeline_a_runbook_alone_an_slo_and_an_apply_fault():
    gameday = load_gameday(
        document(
            drill=None,
            scenario="../scenarios/payments-bad-release.yaml",
            runbook="runbooks/payments-error-rate-undo.yaml",
            scenarioTimeline="keep",
            slo={"availability": "99%"},
            faults=[{"at": "5m", "action": "apply", "manifest": {"file": "../scenarios/manifests/payments-api.yaml"}}],
        ),
        DRILLS,
    )
    assert [a.action for a in gameday.world.spec.timeline] == ["apply", "enable-flag"]  # the scenario's own, kept
    assert gameday.faults[0].manifests[0][0]["kind"] == "Deployment"  # the file, read from the game day's folder
    assert gameday.slo.availability == pytest.approx(0.99) and gameday.drill.spec.slo.availability == pytest.approx(
        0.99
    )
    assert len(gameday.drill.scenario.spec.timeline) == 3  # the kept timeline and the fault, for the prediction
