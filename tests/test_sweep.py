"""Sweeps: --set parsing and paths, grids and rejections, determinism across executors, reading the results, Dask."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.sweep import SweepError, parse_set, sweep
from simdeploy.sweep.analysis import FAILING_TITLE, NO_PARETO, PARETO_TITLE, aggregate, failing
from simdeploy.sweep.parameters import apply, parse_value, split_path
from simdeploy.sweep.plan import make_plan

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
SURGE = "deployment/payments-api:spec.strategy.rollingUpdate.maxSurge"
UNAVAILABLE = "deployment/payments-api:spec.strategy.rollingUpdate.maxUnavailable"
FIGURES = ["rollout_duration_s", "peak_pods", "min_available", "errors_total", "availability"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("0.5", 0.5), ("25%", "25%"), ("30s", "30s"), ("1h30m", "1h30m"), ("true", True), ("web:2", "web:2")],
)
def test_values_keep_their_yaml_meaning(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_set_parses_path_and_values():
    parameter = parse_set(f"{SURGE}=0,1,25%")
    assert parameter.path == SURGE and parameter.values == (0, 1, "25%")
    with pytest.raises(SweepError, match="expected PATH=V1,V2"):
        parse_set("maxSurge")
    with pytest.raises(SweepError, match="empty value"):
        parse_set(f"{SURGE}=1,,2")


def test_paths_reach_objects_and_scenario_fields():
    assert split_path(SURGE) == ("Deployment", "payments-api", ["spec", "strategy", "rollingUpdate", "maxSurge"])
    assert split_path('versions["registry.example.com/a:1"].startup') == (
        None,
        None,
        ["versions", "registry.example.com/a:1", "startup"],
    )
    scenario = {
        "manifests": [{"inline": {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}}],
        "traffic": [{}],
    }
    apply(scenario, "deployment/web:spec.minReadySeconds", 5)
    apply(scenario, "traffic[0].rate", 200)
    apply(scenario, "cluster.controllerLatency", "10ms")
    assert scenario["manifests"][0]["inline"]["spec"]["minReadySeconds"] == 5
    assert scenario["traffic"][0]["rate"] == 200 and scenario["cluster"]["controllerLatency"] == "10ms"
    with pytest.raises(SweepError, match="no Deployment named 'api'"):
        apply(scenario, "deployment/api:spec.replicas", 2)
    with pytest.raises(SweepError, match=r"no item \[3\]"):
        apply(scenario, "traffic[3].rate", 1)
    with pytest.raises(SweepError, match="unknown kind"):
        split_path("gizmo/web:spec.x")


def test_grid_expands_and_rejects_what_the_api_server_refuses():
    plan = make_plan(SEED, [parse_set(f"{SURGE}=0,1,2"), parse_set(f"{UNAVAILABLE}=0,1")], seeds=3)
    assert len(plan.points) == 6
    rejected = [p for p in plan.points if p.rejected]
    assert [p.settings for p in rejected] == [{SURGE: 0, UNAVAILABLE: 0}]
    assert "may not be 0 when `maxSurge` is 0" in rejected[0].rejected
    assert len(plan.runs) == 5 * 3
    assert len({run.seed for run in plan.runs}) == 15


def test_sample_draws_points_deterministically():
    parameters = [parse_set(f"{SURGE}=0,1,2,3"), parse_set(f"{UNAVAILABLE}=0,1,2,3")]
    first = make_plan(SEED, parameters, sample=5, sweep_seed=3)
    again = make_plan(SEED, parameters, sample=5, sweep_seed=3)
    assert len(first.points) == 5
    assert [p.settings for p in first.points] == [p.settings for p in again.points]


def test_a_value_the_scenario_cannot_take_is_a_bad_set():
    with pytest.raises(SweepError, match="cluster.controllerLatency"):
        make_plan(SEED, [parse_set("cluster.controllerLatency=fast")])


def rows_of(result) -> pd.DataFrame:
    frame = result.rows[result.rows["status"] == "ok"].sort_values("run").reset_index(drop=True)
    return frame[["run", "seed", *FIGURES]]


def test_rows_are_identical_with_one_or_several_workers(tmp_path):
    sets = [f"{SURGE}=1,2", f"{UNAVAILABLE}=0,1"]
    one = sweep(SEED, sets, seeds=3, workers=1, out=tmp_path / "one.csv")
    two = sweep(SEED, sets, seeds=3, workers=2, out=tmp_path / "two.parquet")
    pd.testing.assert_frame_equal(rows_of(one), rows_of(two))
    assert (tmp_path / "two.parquet").exists() and not (tmp_path / "two.parquet.partial.csv").exists()
    assert len(one.table) == 4 and set(one.table["runs"]) == {3}
    best = one.recommended.iloc[0]
    assert best["meets_expectations"] == 1.0
    assert best["rollout_duration_s_mean"] == one.recommended["rollout_duration_s_mean"].min()


def test_cli_bad_set_exits_2_before_running(tmp_path):
    out = tmp_path / "rows.csv"
    runner = CliRunner()
    for bad in ("deployment/nope:spec.replicas=1,2", f"{SURGE}", "cluster.controllerLatency=soon"):
        result = runner.invoke(app, ["sweep", str(SEED), "--set", bad, "--out", str(out)])
        assert result.exit_code == 2, bad
        assert "error:" in result.output
        assert not out.exists()


def test_cli_sweep_prints_the_recommendation_and_draws_the_heatmap(tmp_path):
    plot, out = tmp_path / "heat.png", tmp_path / "rows.csv"
    args = ["sweep", str(SEED), "--set", f"{SURGE}=1,2", "--set", f"{UNAVAILABLE}=0,1", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "settings that meet every expectation, fastest first" in result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(out)) == 4


def _missed_per_setting(result) -> dict[tuple, dict[str, list]]:
    """From the rows: per setting, each expectation's measures in the runs that missed it."""
    missed: dict[tuple, dict[str, list]] = {}
    for row in result.rows[result.rows["status"] == "ok"].to_dict("records"):
        key = tuple(row[s] for s in result.settings)
        for verdict in json.loads(row["expectations_missed"]):
            missed.setdefault(key, {}).setdefault(verdict["name"], []).append(verdict)
    return missed


def test_the_pareto_front_is_among_settings_that_meet_every_expectation():
    result = sweep(SEED, [f"{SURGE}=1,3", f"{UNAVAILABLE}=1,2"], seeds=2, workers=1)
    good = {tuple(row) for row in result.recommended[result.settings].itertuples(index=False)}
    front = {tuple(row) for row in result.pareto[result.settings].itertuples(index=False)}
    failing_settings = {tuple(row) for row in result.failing[result.settings].itertuples(index=False)}
    assert good and front and failing_settings, "the grid was chosen to have both passing and failing settings"
    assert front <= good and not failing_settings & good
    assert (result.pareto["meets_expectations"] == 1.0).all()
    assert len(good) + len(failing_settings) == len(result.table)
    # Each failing setting names every expectation some run missed, its worst measure, and how many runs.
    missed = _missed_per_setting(result)
    for row in result.failing.to_dict("records"):
        key = tuple(row[s] for s in result.settings)
        phrases = row["missed"].split("; ")
        assert len(phrases) == len(missed[key]), row
        for phrase, (name, verdicts) in zip(phrases, missed[key].items(), strict=True):
            comparison, threshold = verdicts[0]["expected"].split(" ", 1)
            pick = min if comparison == ">=" else max
            worst = pick(verdicts, key=lambda v: v["measured"])["shown"]
            missed_by = "<" if comparison == ">=" else ">"
            assert phrase == f"{name} {worst} {missed_by} {threshold} in {len(verdicts)}/{row['runs']} seeds"
    output = (
        CliRunner()
        .invoke(
            app,
            [
                "sweep",
                str(SEED),
                "--set",
                f"{SURGE}=1,3",
                "--set",
                f"{UNAVAILABLE}=1,2",
                "--seeds",
                "2",
                "--workers",
                "1",
            ],
        )
        .output
    )
    assert PARETO_TITLE in output and FAILING_TITLE in output and NO_PARETO not in output
    assert result.failing["missed"].iloc[0].split("; ")[0] in " ".join(output.split())


def test_without_a_setting_meeting_every_expectation_there_is_no_front():
    sets = [f"{UNAVAILABLE}=2,3"]  # fewer than the minAvailable 5 the scenario expects
    result = sweep(SEED, sets, seeds=2, workers=1)
    assert result.recommended.empty and result.pareto.empty
    assert len(result.failing) == 2 and all("minAvailable" in text for text in result.failing["missed"])
    output = CliRunner().invoke(app, ["sweep", str(SEED), "--set", sets[0], "--workers", "1", "--seeds", "2"])
    assert output.exit_code == 0, output.output
    assert NO_PARETO in output.output and PARETO_TITLE not in output.output and FAILING_TITLE in output.output


def test_failing_settings_aggregate_each_missed_expectation_over_seeds():
    def run(index: int, missed: list[dict]) -> dict:
        return {
            "surge": 1,
            "status": "ok",
            "rollout_duration_s": None if any(v["measured"] is None for v in missed) else 60.0,
            **{name: 1.0 for name in ("peak_pods", "min_available", "errors_total", "availability")},
            "p99_latency_max_s": 0.1,
            "meets_expectations": not missed,
            "expectations_missed": json.dumps(missed),
        }

    def availability(value: float) -> dict:
        return {"name": "availability", "expected": ">= 99.9%", "measured": value, "shown": f"{value * 100:.4g}%"}

    incomplete = {
        "name": "rolloutCompletesWithin",
        "expected": "<= 2m0s",
        "measured": None,
        "shown": "a rollout did not complete",
    }
    runs = [run(i, [availability(0.995 - i / 1000)]) for i in range(14)]  # worst: 98.2%
    runs += [run(14, [incomplete]), *(run(i, []) for i in range(15, 20))]
    rows = pd.DataFrame(runs)
    table = aggregate(rows, ["surge"])
    frame = failing(rows, table, ["surge"])
    assert frame["missed"].tolist() == [
        "availability 98.2% < 99.9% in 14/20 seeds; "
        "rolloutCompletesWithin: a rollout did not complete (expected <= 2m0s) in 1/20 seeds"
    ]
    assert frame["runs"].tolist() == [20] and frame["meets_expectations"].tolist() == [0.25]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A real Dask scheduler and worker, as separate processes on 127.0.0.1."""
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--nworkers",
            "2",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_dask_gives_the_same_rows_as_local_processes(tmp_path, dask_cluster):
    sets = [f"{SURGE}=1,2", f"{UNAVAILABLE}=0,1"]
    on_dask = sweep(SEED, sets, seeds=2, scheduler=dask_cluster, out=tmp_path / "dask.csv")
    local = sweep(SEED, sets, seeds=2, workers=1, out=tmp_path / "local.csv")
    pd.testing.assert_frame_equal(rows_of(on_dask), rows_of(local))
