"""The Python API learners and scripts use: the names `simdeploy` exports, PromQL as DataFrames, latency under load."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import simdeploy
from simdeploy.sim.latency import LogNormalLatency

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
FLAG_DRILL = ROOT / "drills" / "rollback-flag-off.yaml"
TOTAL_RATE = "sum(rate(http_requests_total[1m]))"


@pytest.fixture(scope="module")
def seed_run():
    """The seed scenario run to its end: 900 requests/s from 1m, 2.8.1 -> 2.9.0 at 2m."""
    sim = simdeploy.load(SEED)
    sim.run()
    return sim


def _spec():
    return simdeploy.load_scenario(SEED).spec


# --- the exported names ---------------------------------------------------------------------------------------


def test_every_exported_name_resolves_and_is_listed():
    assert simdeploy.__all__ == sorted({*simdeploy._PUBLIC, *simdeploy._MODULES})
    for name in simdeploy.__all__:
        assert getattr(simdeploy, name) is not None, name
        assert name in dir(simdeploy)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'stretch'"):
        _ = simdeploy.stretch


def test_sweep_is_the_subpackage_after_a_plain_import():
    code = "import simdeploy; print(simdeploy.sweep.__name__, simdeploy.sweep.sweep.__module__)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.split() == ["simdeploy.sweep", "simdeploy.sweep"]


def test_importing_simdeploy_loads_neither_the_simulator_nor_pandas_nor_matplotlib():
    heavy = ["pandas", "matplotlib", "simpy", "simdeploy.sim.simulation", "simdeploy.sweep"]
    code = f"import sys, simdeploy; print([m for m in {heavy!r} if m in sys.modules])"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"


@pytest.mark.parametrize("scenario", ["payments-rolling-update.yaml", "schema-presync-backfill-blocks-deploys.yaml"])
def test_validate_loads_neither_the_simulator_nor_the_plotting_nor_the_cluster_clients(scenario):
    # What keeps `simdeploy validate` and `--help` quick to start: the checks read the scenario, not a simulation.
    heavy = ["matplotlib", "networkx", "kubernetes", "simdeploy.sim.simulation", "simdeploy.scenario.gameday_loader"]
    code = (
        "import sys; from simdeploy.cli import app; from typer.testing import CliRunner; "
        f"outcome = CliRunner().invoke(app, ['validate', {str(ROOT / 'scenarios' / scenario)!r}]); "
        f"print(outcome.exit_code, [m for m in {heavy!r} if m in sys.modules])"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "0 []"


# --- query ----------------------------------------------------------------------------------------------------


def test_query_answers_the_scenario_rate_with_label_columns(seed_run):
    rate = _spec().traffic[0].rate.constant
    total = simdeploy.query(seed_run, TOTAL_RATE, at="5m")
    assert list(total.columns) == ["value"]
    assert total["value"].tolist() == pytest.approx([rate])
    by_code = simdeploy.query(seed_run, "sum by (code) (rate(http_requests_total[1m]))", at=300)
    assert list(by_code.columns) == ["code", "value"]
    assert by_code["value"].sum() == pytest.approx(rate)


def test_query_defaults_to_now_and_refuses_moments_not_simulated_yet():
    sim = simdeploy.load(SEED)
    sim.run_until(150)
    assert simdeploy.query(sim, TOTAL_RATE).equals(simdeploy.query(sim, TOTAL_RATE, at=150))
    with pytest.raises(ValueError, match=r"at=151s is later than the simulation's current time \(150s\)"):
        simdeploy.query(sim, TOTAL_RATE, at=151)
    with pytest.raises(ValueError, match="end=.*run it further first"):
        simdeploy.query_range(sim, TOTAL_RATE, 0, "3m")


def test_query_of_a_scalar_and_of_nothing(seed_run):
    assert simdeploy.query(seed_run, "2 * 21")["value"].tolist() == [42.0]
    empty = simdeploy.query(seed_run, 'http_requests_total{version="9.9.9"}')
    assert empty.empty and list(empty.columns) == ["value"]


def test_query_range_gives_one_row_per_series_and_step(seed_run):
    spec = _spec()
    rate, set_image_at = spec.traffic[0].rate.constant, spec.timeline[0].at
    frame = simdeploy.query_range(seed_run, "sum by (version) (rate(http_requests_total[1m]))", "2m", "6m", "30s")
    assert list(frame.columns) == ["version", "t", "value"]
    assert frame["version"].is_monotonic_increasing  # sorted by series, then by time
    for _, rows in frame.groupby("version"):
        assert rows["t"].is_monotonic_increasing
    assert sorted(set(frame["t"])) == [120.0 + 30 * i for i in range(9)]
    old, new = frame[frame["version"] == "2.8.1"], frame[frame["version"] == "2.9.0"]
    assert old[old["t"] == 120]["value"].tolist() == pytest.approx([rate])  # 2.8.1 serves everything before
    assert new["t"].min() > set_image_at  # 2.9.0 has no series until it serves
    assert new[new["t"] == 360]["value"].tolist() == pytest.approx([rate])  # and serves everything at the end


def test_query_range_of_a_scalar_and_labels_absent_from_some_series(seed_run):
    clock = simdeploy.query_range(seed_run, "time()", 0, 60, 20)
    assert clock["t"].tolist() == clock["value"].tolist() == [0.0, 20.0, 40.0, 60.0]
    # `or vector(0)` adds a series without the `code` label: its column holds "".
    mixed = simdeploy.query_range(seed_run, "sum by (code) (rate(http_requests_total[1m])) or vector(0)", 120, 120, 1)
    assert sorted(mixed["code"]) == ["", "200"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda sim: simdeploy.query(sim, "sum(rate(http_requests_total[1m])"), simdeploy.PromQLError, "parse error"),
        (lambda sim: simdeploy.query(sim, TOTAL_RATE, at="five minutes"), ValueError, "at: expected a duration"),
        (lambda sim: simdeploy.query_range(sim, TOTAL_RATE, step="fast"), ValueError, "step: expected a duration"),
        (lambda sim: simdeploy.query_range(sim, TOTAL_RATE, step=0), simdeploy.PromQLError, "step widths"),
        (lambda sim: simdeploy.query_range(sim, TOTAL_RATE, 60, 30), simdeploy.PromQLError, "end timestamp"),
    ],
)
def test_query_bad_input_is_a_clear_error(seed_run, call, error, message):
    with pytest.raises(error, match=message):
        call(seed_run)


def test_query_on_a_simulation_without_metrics_says_so():
    sim = simdeploy.build(simdeploy.load_scenario(SEED), record_metrics=False)
    sim.run_until(60)
    with pytest.raises(ValueError, match="records no metrics"):
        simdeploy.query(sim, TOTAL_RATE)


# --- latency under load ---------------------------------------------------------------------------------------


def test_latency_under_load_is_the_idle_latency_when_idle(seed_run):
    behaviour = seed_run.behaviours["registry.example.com/payments-api:2.9.0"]
    assert simdeploy.latency_under_load(behaviour, 0.0) == pytest.approx(behaviour.latency.p99)
    assert simdeploy.latency_under_load(behaviour, 0.0, quantile=0.5) == pytest.approx(behaviour.latency.p50)


def test_latency_under_load_follows_mm1_with_one_worker():
    # One worker: M/M/1, whose time in the system is the service time over (1 - utilisation).
    behaviour = simdeploy.VersionBehaviour("app:1", latency=LogNormalLatency(0.05, 0.2), concurrency=1)
    for utilisation in (0.5, 0.8, 0.9):
        assert simdeploy.latency_under_load(behaviour, utilisation) == pytest.approx(0.2 / (1 - utilisation))


def test_latency_under_load_climbs_to_a_cap_at_saturation():
    behaviour = simdeploy.VersionBehaviour("app:1", latency=LogNormalLatency(0.05, 0.2), concurrency=8)
    curve = [simdeploy.latency_under_load(behaviour, u / 100) for u in range(0, 101, 5)]
    assert curve == sorted(curve) and curve[0] < curve[-1]
    assert simdeploy.latency_under_load(behaviour, 1.5) == curve[-1]  # beyond capacity requests are rejected
    more_workers = replace(behaviour, concurrency=32)  # more servers in front of one queue wait less
    assert simdeploy.latency_under_load(more_workers, 0.9) < simdeploy.latency_under_load(behaviour, 0.9)


@pytest.mark.parametrize(("utilisation", "quantile"), [(-0.1, 0.99), (float("nan"), 0.99), (0.5, 0.0), (0.5, 1.0)])
def test_latency_under_load_refuses_nonsense(utilisation, quantile):
    behaviour = simdeploy.VersionBehaviour("app:1")
    with pytest.raises(ValueError, match="utilisation|quantile"):
        simdeploy.latency_under_load(behaviour, utilisation, quantile)


# --- drills ---------------------------------------------------------------------------------------------------


def test_load_drill_reads_a_file_or_a_dict_relative_to_base_dir():
    from_file = simdeploy.load_drill(FLAG_DRILL)
    from_dict = simdeploy.load_drill(yaml.safe_load(FLAG_DRILL.read_text()), base_dir=FLAG_DRILL.parent)
    for drill in (from_file, from_dict):
        assert isinstance(drill, simdeploy.Drill)
        assert drill.name == "rollback-flag-off"
        assert drill.scenario.spec.metadata.name == "payments-bad-release"  # ../scenarios/ from drills/
        assert [step.name for step in drill.runbook.steps] == ["check what changed", "turn the new checkout flow off"]
        assert drill.runbook.trigger.alert == "PaymentsHighErrorRate"  # from the runbook file beside the drill


def test_load_drill_bad_input_names_the_field():
    data = yaml.safe_load(FLAG_DRILL.read_text())
    with pytest.raises(simdeploy.ScenarioError, match=r"scenario \(\.\./scenarios/payments-bad-release.yaml\)"):
        simdeploy.load_drill(data)  # without base_dir, relative files are looked for in the working directory
    data["runbook"] = {
        "trigger": {"alert": "PaymentsHighErrorRate"},
        "steps": [{"name": "undo", "kubectl": "kubectl rollout undo deployment/orders -n production"}],
    }
    with pytest.raises(simdeploy.ScenarioError) as raised:
        simdeploy.load_drill(data, base_dir=FLAG_DRILL.parent)
    assert [problem.path for problem in raised.value.problems] == ["runbook.steps[0].kubectl"]
    assert "no Deployment 'orders' in namespace 'production'" in str(raised.value)


def test_build_drill_runs_the_runbook_into_the_result_document():
    drill = simdeploy.load_drill(FLAG_DRILL)
    sim = simdeploy.build_drill(drill)
    assert isinstance(sim, simdeploy.Simulation)
    result = sim.run()
    assert result["seed"] == drill.scenario.spec.seed  # no seed: the scenario's
    section = result["drill"]
    incident = section["incident"]
    assert section["verdict"] == "pass" and incident["fault_s"] == drill.scenario.spec.timeline[0].at
    assert incident["trigger_s"] == section["trigger_s"] < section["acknowledged_s"] <= section["steps"][0]["started_s"]
    assert [step["outcome"] for step in section["steps"]] == ["done", "done"]
    assert incident["time_to_mitigate_s"] == pytest.approx(incident["mitigated_s"] - incident["fault_s"])
    # The simulation is an ordinary one: PromQL on what it scraped, as for a scenario.
    assert simdeploy.query(sim, TOTAL_RATE, at="10m")["value"].tolist() == pytest.approx([900.0])


def test_build_drill_is_deterministic_for_a_seed_with_or_without_pod_events():
    drill = simdeploy.load_drill(FLAG_DRILL)
    first = simdeploy.build_drill(drill, seed=7, record_pod_events=False).run()
    again = simdeploy.build_drill(drill, seed=7).run()
    assert first["seed"] == 7 and first["drill"] == again["drill"]
    other = simdeploy.build_drill(drill, seed=8, record_pod_events=False).run()
    assert other["drill"]["acknowledged_s"] != first["drill"]["acknowledged_s"]  # the responders drew again
