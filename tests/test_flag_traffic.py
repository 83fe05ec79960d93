"""Feature flags in the traffic model: cohorts per user, sticky ramps, effects, polling delay and bad flag files."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.delivery.flags.traffic import cohort_of
from simdeploy.delivery.flags.unleash import FlagSet
from simdeploy.scenario.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
NS = "default"


def deployment(name: str, image: str, replicas: int = 3) -> dict:
    container = {
        "name": name,
        "image": image,
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 80}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def feature(name: str = "checkout", rollout: int | None = 30, variants: dict | None = None, **extra) -> dict:
    strategies = [{"name": "default"}]
    if rollout is not None:
        strategies = [{"name": "flexibleRollout", "parameters": {"rollout": str(rollout), "stickiness": "userId"}}]
    variants = [{"name": n, "weight": w} for n, w in (variants or {}).items()]
    return {"name": name, "enabled": True, "strategies": strategies, "variants": variants, **extra}


def scenario(features: list[dict], effects=(), timeline=(), rate=100, start="20s", **flags) -> dict:
    """web (image web:1, version "1") and api (web:2, version "2"), 3 pods each, `rate` requests/s to each."""
    return {
        "metadata": {"name": "flags"},
        "duration": "3m",
        "cluster": {"endpointPropagationDelay": "1s"},
        "manifests": [{"inline": m} for m in (deployment("web", "web:1"), service("web"))]
        + [{"inline": m} for m in (deployment("api", "web:2"), service("api"))],
        "versions": {
            "web:1": {"version": "1", "startup": "2s", "pull": "0s", "latency": {"p50": "20ms", "p99": "100ms"}},
            "web:2": {"version": "2", "startup": "2s", "pull": "0s", "latency": {"p50": "20ms", "p99": "100ms"}},
        },
        "traffic": [{"service": s, "rate": rate, "start": start} for s in ("web", "api")],
        "flags": {"state": {"version": 1, "features": features}, "effects": list(effects), **flags},
        "timeline": list(timeline),
    }


def per_tick(sim) -> list[tuple[float, float, float]]:
    ticks = []
    sim.traffic.listeners.append(lambda t, sent, failed: ticks.append((t, sent, failed)))
    return ticks


# -- cohorts -------------------------------------------------------------------------------


def test_cohort_shares_match_direct_evaluation_over_the_population():
    flag = feature(rollout=30, variants={"blue": 700, "green": 300})
    sim = simdeploy.load(scenario([flag], effects=[{"flag": "checkout", "when": "green"}], users=5000))
    direct = FlagSet.from_unleash({"version": 1, "features": [flag]})
    counts = Counter(
        cohort_of(direct, "checkout", {"userId": f"user-{n}", "environment": "production", "appName": "web"}, True)
        for n in range(1, 5001)
    )
    shares = sim.flags.shares()
    assert shares == {("checkout", cohort): count / 5000 for cohort, count in counts.items()}
    assert set(counts) == {"disabled", "blue", "green"}
    assert 0.27 < 1 - shares[("checkout", "disabled")] < 0.33


def test_the_population_context_carries_environment_and_app_name():
    flag = feature(rollout=None)
    flag["strategies"][0]["constraints"] = [{"contextName": "environment", "operator": "IN", "values": ["staging"]}]
    production = simdeploy.load(scenario([flag], effects=[{"flag": "checkout"}]))
    staging = simdeploy.load(scenario([flag], effects=[{"flag": "checkout"}], context={"environment": "staging"}))
    assert production.flags.shares() == {("checkout", "disabled"): 1.0}
    assert staging.flags.shares() == {("checkout", "enabled"): 1.0}
    assert staging.flags.contexts[0] == {"environment": "staging", "appName": "web", "userId": "user-1"}


def test_a_ramp_keeps_every_user_it_had_and_their_variants():
    sim = simdeploy.load(ROOT / "scenarios" / "flag-ramp-25-percent.yaml")
    users = sim.flags.contexts

    def cohorts() -> dict[str, str]:
        return {c["userId"]: cohort_of(sim.flags.flags, "new-checkout-flow", c, True) for c in users}

    sim.run_until(4 * 60 + 1)  # enabled at 25%
    at_25 = cohorts()
    sim.run_until(7 * 60 + 1)  # ramped to 50%
    at_50 = cohorts()
    enabled_25 = {user for user, cohort in at_25.items() if cohort != "disabled"}
    enabled_50 = {user for user, cohort in at_50.items() if cohort != "disabled"}
    assert enabled_25 <= enabled_50
    assert 0.23 < len(enabled_25) / len(users) < 0.27 and 0.48 < len(enabled_50) / len(users) < 0.53
    assert all(at_50[user] == at_25[user] for user in enabled_25)  # the variant is sticky too


def test_the_ramp_scenario_shows_the_failing_variant_in_its_cohort_numbers():
    summary = simdeploy.load(ROOT / "scenarios" / "flag-ramp-25-percent.yaml").run()["summary"]
    rows = {row["cohort"]: row for row in summary["flags"]}
    assert set(rows) == {"disabled", "elements-v2", "elements-v2-3ds"}
    assert rows["elements-v2-3ds"]["errors"] == pytest.approx(0.02 * rows["elements-v2-3ds"]["requests"])
    assert rows["elements-v2"]["errors"] == rows["disabled"]["errors"] == 0
    assert summary["errors_total"] == pytest.approx(rows["elements-v2-3ds"]["errors"], abs=1e-3)
    (state,) = summary["flag_states"]
    assert state["enabled"] and state["rollout"] == 50 and state["type"] == "release"
    assert state["owner"] == "team-checkout" and state["expires"] == "2026-06-30T00:00:00Z"


# -- effects -------------------------------------------------------------------------------


def test_effects_change_errors_and_latency_of_their_cohort_on_their_version_only():
    flag = feature(rollout=50)
    effects = [{"flag": "checkout", "when": "enabled", "version": "2", "errorRate": 0.1, "latencyFactor": 3}]
    sim = simdeploy.load(scenario([flag], effects=effects))
    result = sim.run()
    requests = sim.traffic.requests
    assert requests[(NS, "web", "1", "500")] == 0
    enabled = 1 - sim.flags.shares()[("checkout", "disabled")]
    api_served = requests[(NS, "api", "2", "200")] + requests[(NS, "api", "2", "500")]
    assert requests[(NS, "api", "2", "500")] == pytest.approx(0.1 * enabled * api_served)
    rows = {row["cohort"]: row for row in result["summary"]["flags"]}
    assert rows["disabled"]["errors"] == 0 and rows["enabled"]["errors"] == pytest.approx(0.1 * api_served * enabled)
    # Mean latency: the enabled share of version 2 is three times slower; version 1 is untouched.
    web, api = (
        sim.traffic.latency_sum[key] / sim.traffic.latency[key].sent for key in ((NS, "web", "1"), (NS, "api", "2"))
    )
    assert api == pytest.approx(web * (1 - enabled + 3 * enabled))


def test_a_capacity_factor_makes_the_whole_group_saturate_and_every_cohort_lose_alike():
    flag = feature(rollout=None)  # everyone
    base = scenario([flag], effects=[{"flag": "checkout", "capacityFactor": 0.5}], rate=240)
    for version in base["versions"].values():
        version["capacity"] = 100  # 3 pods: 300 plain requests/s, 150 with the flag on
    sim = simdeploy.load(base)
    ticks = per_tick(sim)
    sim.run()
    steady = [failed for t, sent, failed in ticks if t > 60]
    assert steady and all(failed == pytest.approx(2 * (240 - 150)) for failed in steady)  # both Services


def test_flags_without_effects_or_actions_leave_the_traffic_alone():
    plain = scenario([feature()])
    without = simdeploy.load(plain).run()["summary"]
    assert without["flags"] == [] and without["flag_states"][0]["users_enabled"] is None
    del plain["flags"]
    assert simdeploy.load(plain).run()["summary"]["requests_total"] == without["requests_total"]


# -- conservation --------------------------------------------------------------------------


def test_requests_are_conserved_per_cohort_through_startup_deletions_and_toggles():
    flags = [feature(rollout=40, variants={"a": 1, "b": 1}), feature("slow", rollout=None)]
    effects = [
        {"flag": "checkout", "when": "b", "errorRate": 0.05, "capacityFactor": 0.7},
        {"flag": "slow", "version": "web:1", "latencyFactor": 2},
    ]
    timeline = [
        {"at": "30s", "action": "delete-pods", "selector": "app=web", "count": 2},
        {"at": "40s", "action": "set-rollout", "flag": "checkout", "percent": 90},
        {"at": "45s", "action": "disable-flag", "flag": "slow"},
    ]
    sim = simdeploy.load(
        scenario(flags, effects, timeline, rate={"ramp": {"from": 50, "to": 600, "over": "2m"}}, start="0s")
    )
    sim.run()
    sent, failed = sim.traffic.total.sent, sim.traffic.total.failed
    assert failed > 0 and sum(sim.traffic.requests.values()) == pytest.approx(sent)
    for name in ("checkout", "slow"):
        rows = [totals for (flag, _), totals in sim.traffic.cohort_totals.items() if flag == name]
        assert sum(r[0] for r in rows) == pytest.approx(sent)
        assert sum(r[1] for r in rows) == pytest.approx(failed)


# -- propagation ---------------------------------------------------------------------------


def test_a_toggle_reaches_the_traffic_over_one_polling_interval_and_not_before():
    sim = simdeploy.load(
        scenario(
            [feature(rollout=None)],
            effects=[{"flag": "checkout", "errorRate": 1.0}],  # every request of an enabled user fails
            timeline=[{"at": "60s", "action": "disable-flag", "flag": "checkout"}],
            propagation="10s",
        )
    )
    ticks = per_tick(sim)
    sim.run()
    by_end = {round(t): (sent, failed) for t, sent, failed in ticks}
    assert all(by_end[t][1] == pytest.approx(by_end[t][0]) for t in range(30, 61))  # all fail until the toggle
    for k in range(1, 11):  # each tick sees the pods that have polled by its middle
        sent, failed = by_end[60 + k]
        assert failed == pytest.approx(sent * (1 - (k - 0.5) / 10))
    assert all(by_end[t][1] == 0 for t in range(71, 180))
    # The mean delay is half the polling interval: the toggle cost 5 s of traffic, not 10.
    assert sum(by_end[60 + k][1] for k in range(1, 11)) == pytest.approx(5 * by_end[61][0])
    reasons = [(e["t"], e["reason"]) for e in sim.result()["events"] if e["kind"] == "Flag"]
    assert reasons == [(60, "FlagDisabled"), (70, "FlagPropagated")]


def test_a_flag_changed_again_within_the_polling_interval_propagates_only_its_last_state():
    timeline = [
        {"at": "60s", "action": "disable-flag", "flag": "checkout"},
        {"at": "64s", "action": "enable-flag", "flag": "checkout"},  # changed its mind before every pod polled
        {"at": "66s", "action": "disable-flag", "flag": "slow"},  # another flag's change is not this one's
    ]
    features = [feature(rollout=None), feature("slow", rollout=None)]
    sim = simdeploy.load(scenario(features, timeline=timeline, propagation="10s"))
    sim.run()
    events = [(e["t"], e["name"], e["reason"]) for e in sim.result()["events"] if e["reason"] == "FlagPropagated"]
    assert events == [(74, "checkout", "FlagPropagated"), (76, "slow", "FlagPropagated")]
    assert "checkout enabled" in next(e["message"] for e in sim.result()["events"] if e["t"] == 74)


def test_without_propagation_a_toggle_applies_from_the_next_tick():
    sim = simdeploy.load(
        scenario(
            [feature(rollout=None)],
            effects=[{"flag": "checkout", "errorRate": 1.0}],
            timeline=[{"at": "60s", "action": "disable-flag", "flag": "checkout"}],
            propagation="0s",
        )
    )
    ticks = per_tick(sim)
    sim.run()
    by_end = {round(t): failed for t, _, failed in ticks}
    assert by_end[60] > 0 and by_end[61] == 0


def test_turning_a_flag_back_reuses_the_first_evaluation():
    sim = simdeploy.load(
        scenario(
            [feature(rollout=30)],
            effects=[{"flag": "checkout"}],
            timeline=[
                {"at": "30s", "action": "disable-flag", "flag": "checkout"},
                {"at": "60s", "action": "enable-flag", "flag": "checkout"},
            ],
        )
    )
    sim.run()
    (_, first), (_, off), (_, again) = sim.flags.history
    assert again is first and off is not first


def test_random_stickiness_is_fixed_by_the_seed():
    flag = feature(rollout=None)
    flag["strategies"] = [{"name": "flexibleRollout", "parameters": {"rollout": "50", "stickiness": "random"}}]
    runs = [simdeploy.load(scenario([flag], effects=[{"flag": "checkout"}])).flags.shares() for _ in range(2)]
    assert runs[0] == runs[1] and 0.45 < runs[0][("checkout", "enabled")] < 0.55


# -- the flags file ----------------------------------------------------------------------


def test_the_seed_config_map_reads_like_the_same_state_inline(tmp_path):
    config_map = yaml.safe_load((ROOT / "scenarios" / "manifests" / "unleash-features.yaml").read_text())
    inline = json.loads(config_map["data"]["new-checkout-flow.json"])
    (tmp_path / "features.yaml").write_text(yaml.safe_dump(config_map))
    (tmp_path / "state.json").write_text(json.dumps({"version": 1, "features": [inline]}))
    effects = [{"flag": "new-checkout-flow", "when": "elements-v2-3ds"}]
    timeline = [{"at": "10s", "action": "enable-flag", "flag": "new-checkout-flow"}]
    shares = []
    for flags in ({"file": "features.yaml"}, {"file": "state.json"}, {"state": {"version": 1, "features": [inline]}}):
        spec = scenario([], effects, timeline)
        spec["flags"] = {**flags, "effects": effects}
        sim = simdeploy.load(spec, base_dir=tmp_path)
        sim.run_until(30)
        shares.append(sim.flags.shares())
    assert shares[0] == shares[1] == shares[2]
    assert 0.2 < 1 - shares[0][("new-checkout-flow", "disabled")] < 0.3


def _broken_rollout(spec: dict) -> None:
    spec["flags"]["state"]["features"][0]["strategies"][0]["parameters"]["rollout"] = [25]


def _missing_enabled(spec: dict) -> None:
    del spec["flags"]["state"]["features"][0]["enabled"]


def _unknown_flag_in_action(spec: dict) -> None:
    spec["timeline"] = [{"at": "1m", "action": "enable-flag", "flag": "checkout-v3"}]


def _unknown_variant(spec: dict) -> None:
    spec["flags"]["effects"][0]["when"] = "purple"


def _unknown_version(spec: dict) -> None:
    spec["flags"]["effects"][0]["version"] = "3.0"


def _set_rollout_without_a_rollout_strategy(spec: dict) -> None:
    spec["flags"]["state"]["features"][0]["strategies"] = [{"name": "default"}]
    spec["timeline"] = [{"at": "1m", "action": "set-rollout", "flag": "checkout", "percent": 10}]


def _flag_action_without_flags(spec: dict) -> None:
    del spec["flags"]
    spec["timeline"] = [{"at": "1m", "action": "disable-flag", "flag": "checkout"}]


def _percent_above_100(spec: dict) -> None:
    spec["timeline"] = [{"at": "1m", "action": "set-rollout", "flag": "checkout", "percent": 150}]


def _state_and_file(spec: dict) -> None:
    spec["flags"]["file"] = "features.yaml"


@pytest.mark.parametrize(
    ("breakage", "path", "fragment"),
    [
        (_broken_rollout, "flags.state.features[0].strategies[0].parameters.rollout", "expected a string"),
        (_missing_enabled, "flags.state.features[0].enabled", "is required"),
        (_unknown_flag_in_action, "timeline[0].flag", "checkout-v3"),
        (_unknown_variant, "flags.effects[0].when", "blue, green"),
        (_unknown_version, "flags.effects[0].version", "3.0"),
        (_set_rollout_without_a_rollout_strategy, "timeline[0].flag", "no flexibleRollout"),
        (_flag_action_without_flags, "timeline[0].flag", "no flags section"),
        (_percent_above_100, "timeline[0].percent", "less than or equal to 100"),
        (_state_and_file, "flags", "exactly one of state"),
    ],
)
def test_bad_flags_are_scenario_errors_naming_the_field(breakage, path, fragment):
    spec = scenario([feature(variants={"blue": 1, "green": 1})], effects=[{"flag": "checkout", "when": "blue"}])
    breakage(spec)
    with pytest.raises(ScenarioError) as caught:
        simdeploy.load(spec)
    assert [p.path for p in caught.value.problems] == [path]
    assert fragment in str(caught.value)


def test_a_bad_feature_in_a_config_map_names_the_file_and_its_data_key(tmp_path):
    config_map = yaml.safe_load((ROOT / "scenarios" / "manifests" / "unleash-features.yaml").read_text())
    broken = json.loads(config_map["data"]["new-checkout-flow.json"])
    broken["variants"][1]["weight"] = -5
    config_map["data"]["new-checkout-flow.json"] = json.dumps(broken)
    config_map["data"]["typo.json"] = "{not json"
    (tmp_path / "features.yaml").write_text(yaml.safe_dump(config_map))
    spec = scenario([])
    spec["flags"] = {"file": "features.yaml"}
    with pytest.raises(ScenarioError) as caught:
        simdeploy.load(spec, base_dir=tmp_path)
    assert str(caught.value.problems[0]).startswith('flags.file (features.yaml) data["typo.json"]: invalid JSON')
    config_map["data"].pop("typo.json")
    (tmp_path / "features.yaml").write_text(yaml.safe_dump(config_map))
    with pytest.raises(ScenarioError) as caught:
        simdeploy.load(spec, base_dir=tmp_path)
    (problem,) = caught.value.problems
    assert problem.path == 'flags.file (features.yaml) data["new-checkout-flow.json"].variants[1].weight'
    assert "non-negative integer" in problem.message and "new-checkout-flow" in problem.message


# -- the command line ----------------------------------------------------------------------


def _write_ramp(tmp_path: Path, change) -> Path:
    """The bundled flag-ramp scenario beside its manifests, with `change` applied to its ConfigMap feature."""
    spec = yaml.safe_load((ROOT / "scenarios" / "flag-ramp-25-percent.yaml").read_text())
    config_map = yaml.safe_load((ROOT / "scenarios" / "manifests" / "unleash-features.yaml").read_text())
    feature_doc = json.loads(config_map["data"]["new-checkout-flow.json"])
    change(feature_doc)
    spec["flags"].pop("file")
    spec["flags"]["state"] = {"version": 1, "features": [feature_doc]}
    for name in ("manifests", "rules"):
        (tmp_path / name).symlink_to(ROOT / "scenarios" / name)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_cli_exits_2_on_a_malformed_flag_naming_file_and_field(tmp_path):
    path = _write_ramp(tmp_path, lambda f: f["strategies"][0].update(parameters={"rollout": {"percent": 25}}))
    out = tmp_path / "result.json"
    result = CliRunner().invoke(app, ["run", "--json", str(out), str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output
    assert "flags.state.features[0].strategies[0].parameters.rollout" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_validate_warns_about_flags_past_their_expiry(tmp_path):
    expired = _write_ramp(tmp_path, lambda f: f.update(expires="2025-11-30T00:00:00Z"))
    result = CliRunner().invoke(app, ["validate", str(expired)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "'new-checkout-flow'" in result.output
    assert "expired 2025-11-30T00:00:00Z" in result.output and "team-checkout" in result.output
    bundled = CliRunner().invoke(app, ["validate", str(ROOT / "scenarios" / "flag-ramp-25-percent.yaml")])
    assert bundled.exit_code == 0 and "warning" not in bundled.output  # expires 2026-06-30, starts 2026-01-01


def test_expiry_is_judged_against_the_scenarios_start_time():
    spec = scenario([feature(expires="2026-03-01T00:00:00Z")], effects=[{"flag": "checkout"}])
    assert simdeploy.load_scenario(copy.deepcopy(spec)).warnings == []
    spec["cluster"]["startTime"] = "2026-04-01T00:00:00Z"
    (warning,) = simdeploy.load_scenario(spec).warnings
    assert "expired 2026-03-01T00:00:00Z" in warning


def test_the_kill_switch_ends_the_overload_one_polling_interval_after_the_click():
    result = simdeploy.load(ROOT / "scenarios" / "kill-switch-under-load.yaml").run()
    rows = {row["t"]: row for row in result["traffic"]}
    off = next(e["t"] for e in result["events"] if e["reason"] == "FlagDisabled")
    assert off == 390 and rows[off]["errors"] > 0 and rows[off]["p99_s"] > 1
    assert 0 < rows[off + 15]["errors"] < rows[off]["errors"]  # the pods that had not polled yet
    assert all(rows[t]["errors"] == 0 and rows[t]["p99_s"] < 0.25 for t in rows if t >= off + 30)
    alert = next(a for a in result["summary"]["alerts"] if a["name"] == "PaymentsHighErrorRate")
    assert alert["first_firing_s"] < off < alert["resolved_s"]
    rows = {row["cohort"]: row for row in result["summary"]["flags"]}
    assert rows["enabled"]["errors"] > 50 * rows["disabled"]["errors"]
