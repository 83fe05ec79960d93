"""The runbook engine (delivery/runbook/): the page, the responders' delays, steps in order, what they wait for,
their expectations and deadlines, and the incident figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from simdeploy.delivery.runbook.incident import Slo, incident_figures
from simdeploy.scenario.drill_build import build_drill
from simdeploy.scenario.drill_loader import load_drill
from simdeploy.scenario.errors import ScenarioError

DRILLS = Path(__file__).resolve().parent.parent / "drills"
BAD_RELEASE = "../scenarios/payments-bad-release.yaml"  # 2.9.0 + flag at 2m; PaymentsHighErrorRate fires at 3m45s
PAGED = 225.0


def drill(steps: list[dict], trigger: dict | None = None, scenario: str = BAD_RELEASE, **extra) -> dict:
    """Run a drill whose humans take exactly 1m to acknowledge and 10s per step."""
    document = {
        "kind": "Drill",
        "metadata": {"name": "t"},
        "scenario": scenario,
        "runbook": {
            "trigger": trigger or {"alert": "PaymentsHighErrorRate"},
            "responders": {"acknowledge": "1m", "step": "10s"},
            "steps": steps,
        },
        **extra,
    }
    return build_drill(load_drill(document, base_dir=DRILLS)).run()


def runbook_events(result: dict) -> list[tuple[float, str, str]]:
    return [(e["t"], e["name"], e["reason"]) for e in result["events"] if e["kind"] == "Runbook"]


def test_the_page_the_acknowledgement_and_the_steps_follow_each_other_with_the_human_delays():
    result = drill(
        [
            {"name": "history", "kubectl": "kubectl rollout history deployment/payments-api -n production"},
            {"name": "undo", "kubectl": "kubectl rollout undo deployment/payments-api -n production"},
        ]
    )
    events = runbook_events(result)
    assert events[:3] == [
        (PAGED, "Runbook", "Paged"),
        (PAGED + 60, "Runbook", "Acknowledged"),
        (285, "history", "StepStarted"),
    ]
    assert (295, "history", "StepRan") in events and (295, "undo", "StepStarted") in events
    assert (305, "undo", "StepRan") in events and events[-1] == (305, "Runbook", "RunbookFinished")
    undo = next(e for e in result["events"] if e["reason"] == "RolloutUndo")
    assert (undo["t"], undo["message"]) == (305, "deployment.apps/payments-api rolled back to revision 1")
    section = result["drill"]
    assert (section["trigger_s"], section["acknowledged_s"], section["finished_s"]) == (PAGED, 285, 305)
    assert [s["outcome"] for s in section["steps"]] == ["done", "done"]


def test_a_scheduled_trigger_and_a_wait_step():
    result = drill([{"name": "breathe", "wait": "90s"}], trigger={"at": "5m"})
    step = result["drill"]["steps"][0]
    assert result["drill"]["trigger_s"] == 300 and (step["started_s"], step["ran_s"], step["finished_s"]) == (
        360,
        360,
        450,
    )


def test_a_condition_trigger_pages_when_the_query_crosses_its_bound():
    ratio = 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
    result = drill(
        [{"name": "look", "kubectl": "kubectl get pods"}], trigger={"condition": {"query": ratio, "above": 0.02}}
    )
    assert 120 < result["drill"]["trigger_s"] < PAGED  # before the alert's `for: 1m` has passed


def test_a_step_whose_when_does_not_hold_is_skipped_at_once():
    result = drill(
        [
            {"name": "only if unavailable", "when": {"deployment": "payments-api", "status": False}, "wait": "1m"},
            {"name": "next", "wait": "5s"},
        ]
    )
    skipped, following = result["drill"]["steps"]
    assert skipped["outcome"] == "skipped" and skipped["started_s"] == skipped["finished_s"] == 285
    assert following["started_s"] == 285 and skipped["verdict"] == "pass"


def test_rollout_status_waits_for_the_rollback_and_an_expectation_is_watched_after_it():
    result = drill(
        [
            {"name": "undo", "kubectl": "kubectl rollout undo deployment/payments-api -n production"},
            {
                "name": "status",
                "kubectl": "kubectl rollout status deployment/payments-api -n production",
                "expect": {"alert": "PaymentsHighErrorRate", "state": "resolved", "within": "5m"},
            },
        ]
    )
    status = result["drill"]["steps"][1]
    completed = result["summary"]["deployments"]["payments-api"]["rollouts"][-1]["completed_s"]
    assert status["ran_s"] == 305 and status["output"] == 'deployment "payments-api" successfully rolled out'
    assert status["expect"]["verdict"] == "pass" and status["expect"]["met_s"] > completed
    assert completed < status["finished_s"] == status["expect"]["met_s"]


def test_a_command_that_times_out_and_an_expectation_missed_fail_their_steps_and_the_drill():
    result = drill(
        [
            {
                "name": "status",
                "kubectl": "kubectl wait --for=condition=Available=false deploy/payments-api --timeout=20s",
            },
            {
                "name": "hope",
                "wait": "1m",
                "expect": {"alert": "PaymentsHighErrorRate", "state": "resolved", "within": "30s"},
            },
        ]
    )
    waited, hoped = result["drill"]["steps"]
    assert waited["outcome"] == "timed out" and waited["finished_s"] == 285 + 10 + 20
    assert hoped["expect"]["verdict"] == "fail" and hoped["finished_s"] == waited["finished_s"] + 60 + 30
    assert result["drill"]["verdict"] == "fail"
    assert "step 'status': timed out" in result["drill"]["reasons"]
    assert "the steady state did not return before the scenario ended" in result["drill"]["reasons"]


def test_a_kubectl_error_is_a_failed_step_printed_as_kubectl_prints_it():
    result = drill(
        [{"name": "undo", "kubectl": "kubectl rollout undo deploy/payments-api -n production --to-revision=9"}]
    )
    step = result["drill"]["steps"][0]
    assert step["outcome"] == "failed" and step["output"] == "error: unable to find specified revision 9 in history"
    assert step["verdict"] == "fail"


def test_a_missed_deadline_is_judged_from_the_page():
    result = drill([{"name": "slow", "wait": "5m", "deadline": "5m"}])
    step = result["drill"]["steps"][0]
    assert step["finished_s"] == PAGED + 60 + 300 and step["deadline_verdict"] == "fail"
    assert any(e["reason"] == "DeadlineMissed" for e in result["events"])


def test_gitops_revert_syncs_the_previous_manifest_set_after_the_controllers_delay():
    result = drill([{"name": "revert", "gitopsRevert": {"syncDelay": "30s"}}])
    synced = next(e for e in result["events"] if e["reason"] == "Synced")
    assert synced["t"] == 295 + 30 and "deployment/payments-api configured" in synced["message"]
    step = result["drill"]["steps"][0]
    assert (
        step["finished_s"] == 325
        and result["summary"]["final_image"] == "registry.example.com/payments-api@sha256:abc123..."
    )


def test_a_flag_step_and_a_traffic_shift():
    flagged = drill([{"name": "off", "flag": {"disable": "new-checkout-flow"}}])
    assert any(e["kind"] == "Flag" and e["reason"] == "FlagDisabled" and e["t"] == 295 for e in flagged["events"])
    assert flagged["drill"]["incident"]["mitigated_s"] is not None
    shifted = drill(
        [
            {
                "name": "blue",
                "trafficShift": {"service": "payments-api", "selector": {"app": "payments-api", "color": "blue"}},
            }
        ],
        scenario="../scenarios/payments-bad-release-blue-green.yaml",
    )
    assert shifted["drill"]["steps"][0]["output"].startswith("service/payments-api patched")
    assert shifted["drill"]["incident"]["time_to_mitigate_s"] < flagged["drill"]["incident"]["time_to_mitigate_s"]


def test_a_page_that_never_comes_fails_every_step():
    result = drill([{"name": "never", "wait": "1s"}], trigger={"alert": "PaymentsHighLatency"})
    assert result["drill"]["trigger_s"] is None
    assert result["drill"]["steps"][0]["reasons"] == ["never paged"] and result["drill"]["verdict"] == "fail"


def test_the_responders_draw_from_their_own_stream_so_the_cluster_is_the_same():
    from simdeploy.scenario.build import load

    alone = load(DRILLS.parent / "scenarios" / "payments-bad-release.yaml").run()
    with_runbook = drill([{"name": "look", "kubectl": "kubectl get pods"}])
    assert [e for e in alone["events"]] == [e for e in with_runbook["events"] if e["kind"] != "Runbook"]


def test_the_same_seed_gives_the_same_drill():
    document = load_drill(DRILLS / "rollback-undo.yaml")
    first, second = build_drill(document, 7).run(), build_drill(document, 7).run()
    assert first["drill"] == second["drill"] and first["events"] == second["events"]
    assert build_drill(document, 8).run()["drill"]["acknowledged_s"] != first["drill"]["acknowledged_s"]


# -- incident figures on a hand-made run --------------------------------------------------------------------------


def _result(ratios: list[float], rollouts: list[dict] | None = None) -> dict:
    """A run with one scrape interval of 1,000 requests every 15 s, failing the given ratios."""
    traffic = [{"t": 15.0 * (i + 1), "requests": 1000.0, "errors": 1000.0 * r} for i, r in enumerate(ratios)]
    deployments = {"web": {"rollouts": rollouts or []}}
    return {"duration_s": 15.0 * len(ratios), "traffic": traffic, "summary": {"deployments": deployments}}


@pytest.mark.parametrize(
    ("ratios", "mitigated"),
    [
        ([0, 0, 0.05, 0.05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 60.0),  # the last bad interval ended at 1m
        ([0, 0.05, 0, 0.05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 60.0),  # a relapse restarts the hold
        ([0, 0.05, 0, 0, 0, 0, 0, 0.05, 0, 0, 0, 0, 0], None),  # not yet held for 2m when the run ends
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 15.0),  # never above the SLO: mitigated from the fault on
    ],
)
def test_mitigation_is_the_end_of_the_last_bad_interval_once_the_ratio_holds(ratios, mitigated):
    record = {"trigger_s": 30.0, "acknowledged_s": 45.0}
    figures = incident_figures(_result(ratios), record, 15.0, Slo(0.999, 30 * 86400.0, 120.0))
    assert figures["mitigated_s"] == mitigated
    assert figures["time_to_detect_s"] == 15.0 and figures["time_to_acknowledge_s"] == 15.0


def test_recovery_waits_for_the_rollouts_started_since_the_fault_and_the_budget_is_the_windows():
    ratios = [0, 0.05, 0.05, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    rollouts = [{"started_s": 0.0, "completed_s": 10.0}, {"started_s": 40.0, "completed_s": 150.0}]
    figures = incident_figures(_result(ratios, rollouts), {}, 15.0, Slo(0.999, 86400.0, 60.0))
    assert (figures["mitigated_s"], figures["recovered_s"]) == (45.0, 150.0)
    assert figures["errors"] == 100.0
    # 1,000 requests / 15 s for a day, 0.1% of them may fail: 5,760 requests of budget.
    assert figures["error_budget_burned"] == pytest.approx(100 / 5760, abs=1e-6)
    unfinished = [{"started_s": 40.0, "completed_s": None}]
    assert incident_figures(_result(ratios, unfinished), {}, 15.0, Slo())["recovered_s"] is None


def test_a_scenario_expectation_failing_pages_the_team():
    document = {
        "kind": "Drill",
        "metadata": {"name": "t"},
        "scenario": "../scenarios/bad-release-detected.yaml",  # expects availability >= 96%
        "runbook": {"trigger": {"expectation": "availability"}, "steps": [{"name": "look", "wait": "1s"}]},
    }
    result = build_drill(load_drill(document, base_dir=DRILLS)).run()
    paged = next(e for e in result["events"] if e["reason"] == "Paged")
    assert 120 < paged["t"] < 225 and "expectation availability (96.000%) failing" in paged["message"]
    document["runbook"]["trigger"] = {"expectation": "errorRatio"}
    with pytest.raises(ScenarioError) as refused:
        load_drill(document, base_dir=DRILLS)
    assert "runbook.trigger.expectation: the scenario has no 'errorRatio' in its expect section" in str(refused.value)
