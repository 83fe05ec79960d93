"""The Argo Rollouts canary controller: steps, replica counts, traffic weights, promote, abort, retry."""

from __future__ import annotations

import copy

import pytest

import simdeploy
from simdeploy.delivery.argo import canary

NS = "default"
OLD, NEW = "web:1", "web:2"


def rollout(replicas: int = 10, steps: list | None = None, routed: bool = False, **canary_fields) -> dict:
    strategy = {
        "steps": steps if steps is not None else [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}],
        **canary_fields,
    }
    if routed:
        strategy.update(
            canaryService="web-canary",
            stableService="web-stable",
            trafficRouting={"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}},
        )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": replicas,
            "strategy": {"canary": strategy},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": OLD, "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 1}}
                    ]
                },
            },
        },
    }


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"app": "web"}},
    }


def simulation(obj: dict, extra: list | None = None, **scenario) -> simdeploy.Simulation:
    versions = {
        OLD: {"version": "1", "startup": "2s", "pull": "0s"},
        NEW: {"version": "2", "startup": "2s", "pull": "0s"},
    }
    return simdeploy.load(
        {
            "metadata": {"name": "rollout"},
            "duration": "1h",
            "manifests": [{"inline": o} for o in [obj, *(extra or [])]],
            "versions": versions,
            **scenario,
        }
    )


def set_image(sim, image: str = NEW) -> None:
    obj = sim.store.get("Rollout", NS, "web")
    changed = copy.deepcopy(obj)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = image
    sim.api.update(obj, changed)


def counts(sim) -> dict[str, int]:
    """Image -> spec.replicas of its ReplicaSet."""
    return {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["spec"]["replicas"]
        for rs in sim.store.list("ReplicaSet", NS)
    }


def status(sim) -> dict:
    return sim.store.get("Rollout", NS, "web")["status"]


def test_seed_rollout_loads_unchanged_and_becomes_healthy():
    sim = simulation(rollout())
    sim.run_until(30)
    assert status(sim)["phase"] == "Healthy"
    assert counts(sim) == {OLD: 10}
    assert status(sim)["stableRS"] == status(sim)["currentPodHash"]


def test_basic_canary_follows_argos_replica_math_and_waits_at_an_indefinite_pause():
    sim = simulation(rollout())
    sim.run_until(30)
    set_image(sim)
    sim.run_until(90)
    # setWeight 20 of 10 replicas (maxSurge/maxUnavailable 25%): 2 canary, 8 stable, then the pause {}.
    assert counts(sim) == {OLD: 8, NEW: 2}
    assert status(sim)["phase"] == "Paused" and status(sim)["currentStepIndex"] == 1
    sim.run_until(600)
    assert status(sim)["currentStepIndex"] == 1  # an indefinite pause waits for a person
    sim.rollouts.promote(NS, "web")
    sim.run_until(700)
    assert status(sim)["phase"] == "Healthy"
    assert counts(sim) == {OLD: 0, NEW: 10}


def test_basic_canary_replica_counts_match_the_canary_module():
    sim = simulation(rollout(steps=[{"setWeight": 30}, {"pause": {}}]))
    sim.run_until(30)
    set_image(sim)
    sim.run_until(120)
    obj = sim.store.get("Rollout", NS, "web")
    rss = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in sim.store.list("ReplicaSet", NS)}
    assert canary.calculate_replica_counts_for_basic_canary(obj, rss[NEW], rss[OLD], []) == (3, 7)
    assert counts(sim) == {OLD: 7, NEW: 3}


def test_traffic_routed_canary_sets_route_weights_and_keeps_stable_at_full_size():
    extra = [service("web-stable"), service("web-canary")]
    sim = simulation(
        rollout(
            routed=True, steps=[{"setWeight": 25}, {"pause": {"duration": "1m"}}, {"setWeight": 50}, {"pause": {}}]
        ),
        extra,
        routes=[{"name": "web", "weights": {"web-stable": 100, "web-canary": 0}}],
        traffic=[{"route": "web", "rate": 100, "start": "20s"}],
    )
    sim.run_until(30)
    set_image(sim)
    sim.run_until(60)
    assert counts(sim) == {OLD: 10, NEW: 3}  # ceil(25% of 10); stable stays at spec.replicas
    assert sim.traffic.routes[(NS, "web")].weights == {"web-stable": 75, "web-canary": 25}
    selectors = {name: sim.store.get("Service", NS, name)["spec"]["selector"] for name in ("web-stable", "web-canary")}
    assert selectors["web-canary"][canary.ROLLOUT_UNIQUE_LABEL_KEY] == status(sim)["currentPodHash"]
    assert selectors["web-stable"][canary.ROLLOUT_UNIQUE_LABEL_KEY] == status(sim)["stableRS"]
    sim.run_until(150)
    assert sim.traffic.routes[(NS, "web")].weights == {"web-stable": 50, "web-canary": 50}
    assert counts(sim) == {OLD: 10, NEW: 5}


def test_abort_sends_traffic_back_and_scales_the_canary_down_after_30_seconds():
    extra = [service("web-stable"), service("web-canary")]
    sim = simulation(
        rollout(routed=True, steps=[{"setWeight": 40}, {"pause": {}}]),
        extra,
        routes=[{"name": "web", "weights": {"web-stable": 100}}],
        traffic=[{"route": "web", "rate": 100, "start": "20s"}],
    )
    sim.run_until(30)
    set_image(sim)
    sim.run_until(60)
    sim.rollouts.abort_action(NS, "web")
    sim.run_until(61)
    assert status(sim)["phase"] == "Degraded"
    assert sim.traffic.routes[(NS, "web")].weights["web-canary"] == 0
    assert counts(sim)[NEW] == 4  # kept for abortScaleDownDelaySeconds
    sim.run_until(95)
    assert counts(sim)[NEW] == 0
    sim.rollouts.retry(NS, "web")
    sim.run_until(130)
    assert status(sim)["phase"] == "Paused" and counts(sim)[NEW] == 4


def test_promote_full_skips_the_remaining_steps():
    sim = simulation(rollout(steps=[{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]))
    sim.run_until(30)
    set_image(sim)
    sim.run_until(90)
    sim.rollouts.promote(NS, "web", full=True)
    sim.run_until(200)
    assert status(sim)["phase"] == "Healthy" and counts(sim) == {OLD: 0, NEW: 10}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"setWeight": 120}], "must be an integer from 0 to 100"),
        ([{"setWeight": 10, "pause": {}}], "exactly one of"),
        ([{"pause": {"duration": "5 minutes"}}], "pause.duration"),
        ([{"analysis": {}}], "analysis.templates"),
    ],
)
def test_malformed_rollouts_are_rejected_with_the_field_path(steps, message):
    with pytest.raises(simdeploy.ScenarioError, match=message):
        simulation(rollout(steps=steps))


def blue_green(pre_analysis: bool = False, **fields) -> dict:
    obj = rollout()
    strategy = {"activeService": "web-active", "previewService": "web-preview", **fields}
    obj["spec"]["strategy"] = {"blueGreen": strategy}
    return obj


def test_blue_green_switches_the_active_service_once_the_preview_is_available():
    sim = simulation(blue_green(), [service("web-active"), service("web-preview")])
    sim.run_until(30)
    set_image(sim)
    sim.run_until(31.5)  # the preview pods start in ~3 s
    active = sim.store.get("Service", NS, "web-active")["spec"]["selector"][canary.ROLLOUT_UNIQUE_LABEL_KEY]
    preview = sim.store.get("Service", NS, "web-preview")["spec"]["selector"][canary.ROLLOUT_UNIQUE_LABEL_KEY]
    assert active == status(sim)["stableRS"] != preview == status(sim)["currentPodHash"]
    assert counts(sim) == {OLD: 10, NEW: 10}  # a full preview stack next to the active one
    sim.run_until(60)
    active = sim.store.get("Service", NS, "web-active")["spec"]["selector"][canary.ROLLOUT_UNIQUE_LABEL_KEY]
    assert active == status(sim)["currentPodHash"] == status(sim)["stableRS"]
    assert counts(sim)[OLD] == 10  # kept scaleDownDelaySeconds after the switch
    sim.run_until(120)
    assert counts(sim) == {OLD: 0, NEW: 10}


def test_blue_green_without_auto_promotion_waits_for_promote():
    sim = simulation(blue_green(autoPromotionEnabled=False), [service("web-active"), service("web-preview")])
    sim.run_until(30)
    set_image(sim)
    sim.run_until(300)
    assert status(sim)["phase"] == "Paused" and status(sim)["stableRS"] != status(sim)["currentPodHash"]
    sim.rollouts.promote(NS, "web")
    sim.run_until(310)
    assert status(sim)["stableRS"] == status(sim)["currentPodHash"]


def test_blue_green_pre_promotion_analysis_failure_keeps_users_on_the_old_stack(tmp_path):
    from pathlib import Path

    import yaml

    scenario = yaml.safe_load(
        (Path(__file__).parent.parent / "scenarios" / "blue-green-pre-promotion.yaml").read_text()
    )
    scenario["versions"]["registry.example.com/payments-api:2.9.1"]["errorRate"] = 0.05
    result = simdeploy.load(scenario).run()
    reasons = [e["reason"] for e in result["events"] if e["kind"] == "Rollout"]
    assert "RolloutAborted" in reasons and "SwitchService" not in reasons
    users = [r for r in result["traffic"] if r["service"] == "payments-api-active"]
    assert {r["version"] for r in users} == {"2.9.0"}


def test_undo_brings_back_the_previous_template_through_the_steps():
    sim = simulation(rollout(steps=[{"setWeight": 50}, {"pause": {}}]))
    sim.run_until(30)
    set_image(sim)
    sim.run_until(60)
    sim.rollouts.promote(NS, "web", full=True)
    sim.run_until(120)
    assert status(sim)["phase"] == "Healthy" and counts(sim)[NEW] == 10
    sim.rollouts.undo(NS, "web")
    sim.run_until(200)
    image = sim.store.get("Rollout", NS, "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == OLD
    assert status(sim)["phase"] == "Paused" and counts(sim) == {OLD: 5, NEW: 5}  # a roll-forward, step by step


def test_pause_holds_the_steps_and_resume_continues():
    sim = simulation(rollout(steps=[{"setWeight": 20}, {"pause": {"duration": "30s"}}, {"setWeight": 60}]))
    sim.run_until(30)
    set_image(sim)
    sim.rollouts.pause(NS, "web", True)
    sim.run_until(200)
    assert status(sim)["phase"] == "Paused" and status(sim)["message"] == "PausedByUser"
    assert status(sim)["currentStepIndex"] == 0
    sim.rollouts.pause(NS, "web", False)
    sim.run_until(300)
    assert status(sim)["phase"] == "Healthy"


def analysis_template(condition: str, **metric) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "check", "namespace": NS},
        "spec": {
            "metrics": [
                {
                    "name": "ratio",
                    "successCondition": condition,
                    "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "vector(0.5)"}},
                    **metric,
                }
            ]
        },
    }


def test_an_inconclusive_analysis_pauses_the_rollout():
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "check"}]}}, {"setWeight": 60}]
    template = analysis_template("result[0] < 0.1", failureCondition="result[0] > 0.9")
    sim = simulation(rollout(steps=steps), [template])
    sim.run_until(30)
    set_image(sim)
    sim.run_until(120)
    assert status(sim)["phase"] == "Paused" and status(sim)["message"] == "InconclusiveAnalysisRun"
    sim.rollouts.promote(NS, "web")
    sim.run_until(200)
    assert status(sim)["phase"] == "Healthy"


def test_a_malformed_condition_is_a_scenario_error_naming_the_field():
    steps = [{"analysis": {"templates": [{"templateName": "check"}]}}]
    with pytest.raises(simdeploy.ScenarioError, match=r"AnalysisTemplate/check: spec.metrics\[0\].successCondition"):
        simulation(rollout(steps=steps), [analysis_template("result[0] <")])
