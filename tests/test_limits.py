"""Work limits: scenarios that cannot finish are refused naming the field; long ones are warned about."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from serve_helpers import send
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.scenario import limits
from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SEED = yaml.safe_load((SCENARIOS / "payments-rolling-update.yaml").read_text())
DEPLOYMENT = yaml.safe_load((SCENARIOS / "manifests" / "payments-api.yaml").read_text())
SERVICE = {"file": "manifests/payments-api-service.yaml"}


def seed(**changes) -> dict:
    """The seed scenario with top-level fields replaced and `cluster` fields merged."""
    scenario = copy.deepcopy(SEED)
    for key, value in changes.items():
        if key == "cluster":
            scenario["cluster"].update(value)
        else:
            scenario[key] = value
    return scenario


def with_replicas(replicas: int, resources: dict | None = None, **changes) -> dict:
    deployment = copy.deepcopy(DEPLOYMENT)
    deployment["spec"]["replicas"] = replicas
    if resources is not None:
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"] = resources
    return seed(manifests=[{"inline": deployment}, SERVICE], **changes)


def problems(scenario: dict) -> dict[str, str]:
    """Field path -> message of every problem the loader reports."""
    with pytest.raises(ScenarioError) as error:
        load_scenario(scenario, SCENARIOS)
    return {problem.path: problem.message for problem in error.value.problems}


def warnings(scenario: dict) -> list[str]:
    return load_scenario(scenario, SCENARIOS).warnings


@pytest.mark.parametrize("field", ["tick", "scrapeInterval", "evaluationInterval"])
def test_an_interval_below_10ms_is_refused_naming_the_field(field):
    found = problems(seed(cluster={field: "1ns"}))
    assert list(found) == [f"cluster.{field}"]
    assert "1ns is below the 10ms floor" in found[f"cluster.{field}"]
    assert "360,000,000,000 steps" in found[f"cluster.{field}"]  # every 1 ns over the seed's 6 minutes


def test_10ms_is_the_finest_interval_accepted_and_frequent_scrapes_weigh_most():
    assert warnings(seed(cluster={"tick": "10ms", "evaluationInterval": "10ms"})) == []  # 36,000 ticks
    (warning,) = warnings(seed(cluster={"scrapeInterval": "10ms"}))  # 36,001 scrapes keep their samples
    assert "36,001 scrapes" in warning


def test_a_rule_group_or_analysis_interval_below_10ms_is_refused():
    groups = [{"name": "fast", "interval": "1ms", "rules": [{"alert": "A", "expr": "vector(1)"}]}]
    assert list(problems(seed(alerts=[{"groups": groups}]))) == ["alerts: group 'fast' interval"]
    canary = yaml.safe_load((SCENARIOS / "canary-success-rate.yaml").read_text())
    template = yaml.safe_load((SCENARIOS / "manifests" / "success-rate-analysis.yaml").read_text())
    template["spec"]["metrics"][0]["interval"] = "5ms"
    canary["manifests"] = [
        {"inline": template} if ref.get("file") == "manifests/success-rate-analysis.yaml" else ref
        for ref in canary["manifests"]
    ]
    (path,) = problems(canary)
    assert path.endswith("AnalysisTemplate/success-rate: spec.metrics[0].interval")


def test_a_million_hours_is_refused_with_the_work_it_would_take():
    found = problems(seed(duration="1000000h"))
    message = found["duration"]
    assert "3,600,000,000 traffic ticks, 240,000,001 scrapes" in message
    assert f"at most {limits.MAX_WORK:,}" in message
    assert "shorten the duration or lengthen cluster." in message


def test_the_work_ceiling_counts_ticks_scrapes_and_rule_evaluations():
    scenario = load_scenario(SCENARIOS / "bad-release-detected.yaml")
    work = limits.expected_work(scenario)
    # 12 minutes: a traffic tick a second, a scrape and an evaluation of each of the 2 rules every 15 s from 0.
    assert (work.ticks, work.scrapes, work.evaluations) == (720, 49, 2 * 49)
    assert work.units == 720 * limits.TICK_COST + 49 * limits.SCRAPE_COST + 98 * limits.RULE_EVALUATION_COST
    no_traffic = load_scenario(seed(traffic=[]), SCENARIOS)
    assert limits.expected_work(no_traffic).ticks == 0  # the tick runs only for traffic


def test_a_fine_tick_over_days_is_refused_naming_the_tick_as_what_to_lengthen():
    message = problems(seed(duration="72h", cluster={"tick": "10ms"}))["duration"]
    assert "25,920,000 traffic ticks" in message and message.endswith("lengthen cluster.tick")


def test_a_long_run_is_warned_about_and_a_short_one_is_not():
    (warning,) = warnings(seed(duration="48h"))
    assert warning.startswith("duration: a long run: 48h00m simulated is 172,800 traffic ticks")
    assert "Ctrl-C" in warning
    assert warnings(seed()) == []
    (busy,) = warnings(seed(duration="6h", cluster={"tick": "10ms"}))  # under a day, but 2,160,000 ticks
    assert "2,160,000 traffic ticks" in busy


def test_replicas_far_beyond_the_nodes_are_refused_saying_what_the_nodes_hold():
    found = problems(with_replicas(10**8, cluster={"nodes": [{"count": 4}]}))
    message = found["manifests[0] Deployment/payments-api: spec.replicas"]
    assert message.startswith("100,000,000 replicas (+2 during a rollout) is far beyond what the nodes hold")
    assert "the 4 nodes hold 440 pods" in message and "at most 4,400 pods at once" in message


def test_up_to_ten_times_what_the_nodes_hold_runs_the_rest_pending():
    assert warnings(with_replicas(3298)) == []  # 3,298 + 2 surge = 10 x 330 pods on the seed's 3 nodes
    assert list(problems(with_replicas(3299))) == ["manifests[0] Deployment/payments-api: spec.replicas"]


def test_cpu_and_memory_requests_count_in_what_the_nodes_hold():
    resources = {"requests": {"cpu": "2", "memory": "1Gi"}}
    message = problems(with_replicas(2000, resources))["manifests[0] Deployment/payments-api: spec.replicas"]
    assert "the 3 nodes hold 330 pods, or 12 requesting cpu 2 and memory 1024Mi each" in message  # 4 x 8 cpu
    # A few hundred Pending pods are cheap, whatever fits: a pod too big for any node can still be shown.
    assert warnings(with_replicas(20, {"requests": {"cpu": "16"}})) == []


def test_a_scale_action_beyond_the_nodes_is_refused_at_the_action():
    scale = {"at": "3m", "action": "scale", "deployment": "payments-api", "replicas": 10**6}
    found = problems(seed(timeline=[*SEED["timeline"], scale]))
    assert list(found) == ["timeline[1].replicas"]
    assert found["timeline[1].replicas"].startswith("1,000,000 replicas")


def test_a_rollout_counts_twice_its_replicas():
    canary = yaml.safe_load((SCENARIOS / "canary-success-rate.yaml").read_text())
    rollout = yaml.safe_load((SCENARIOS / "manifests" / "payments-api-rollout.yaml").read_text())
    rollout["spec"]["replicas"] = 1700  # 3,400 pods at once with the canary's, on 3 nodes of 110
    canary["manifests"] = [
        {"inline": rollout} if ref.get("file") == "manifests/payments-api-rollout.yaml" else ref
        for ref in canary["manifests"]
    ]
    (message,) = problems(canary).values()
    assert message.startswith("1,700 replicas (+1,700 during a rollout)")


def test_more_pods_than_the_ceiling_are_refused_even_on_enough_nodes():
    found = problems(with_replicas(200_000, cluster={"nodes": [{"count": 4000}]}))
    message = found["manifests[0] Deployment/payments-api: spec.replicas"]
    assert f"at most {limits.MAX_PODS:,} can be simulated" in message
    (warning,) = warnings(with_replicas(40_000, cluster={"nodes": [{"count": 400}]}))
    assert warning.startswith("manifests: the workloads ask for up to 40,002 pods at once")


def test_the_cli_refuses_with_exit_2_and_writes_nothing(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(with_replicas(10**8, cluster={"nodes": [{"count": 4}]})))
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "payments-api-service.yaml").write_text(
        (SCENARIOS / "manifests" / "payments-api-service.yaml").read_text()
    )
    out = tmp_path / "result.json"
    result = CliRunner().invoke(app, ["run", str(scenario), "--json", str(out)])
    assert result.exit_code == 2
    assert "spec.replicas: 100,000,000 replicas" in result.stderr
    assert not out.exists()


def test_validate_and_run_print_the_long_run_warning(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    # Two days without traffic: 11,521 scrapes, a long simulated time but little work.
    long = seed(duration="48h", traffic=[], manifests=[{"inline": DEPLOYMENT}], expect={})
    scenario.write_text(yaml.safe_dump(long))
    validated = CliRunner().invoke(app, ["validate", str(scenario)])
    assert validated.exit_code == 0 and "warning: duration: a long run: 48h00m simulated" in validated.stdout
    ran = CliRunner().invoke(app, ["run", "-q", str(scenario)])
    assert ran.exit_code == 0, ran.output
    assert "warning: duration: a long run" in ran.stderr and "warning" not in ran.stdout


def test_a_facilitators_scale_far_beyond_the_nodes_is_refused_when_it_runs(serving):
    with serving(until=0, speed=0) as server:
        server.namespace = "production"
        scale = {"action": "scale", "deployment": "payments-api", "replicas": 10**8}
        code, refused = send(server, "POST", "/simdeploy/v1/actions", scale)
        assert (code, refused["details"]["causes"][0]["field"]) == (422, "replicas")
        assert "replicas: 100,000,000 replicas (+2 during a rollout) is far beyond" in refused["message"]
        assert "the 3 nodes hold 330 pods" in refused["message"]
        with server.lock:
            assert server.sim.store.get("Deployment", "production", "payments-api")["spec"]["replicas"] == 6
        code, done = send(server, "POST", "/simdeploy/v1/actions", {**scale, "replicas": 600})
        assert code == 201, done  # 600 pods, most of them Pending: allowed
