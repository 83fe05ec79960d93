"""Resuming sweeps: rows carry their sweep's identity, and --resume adds only rows of that same sweep."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.sweep import SweepError, sweep
from simdeploy.sweep.identity import sidecar_path
from simdeploy.sweep.storage import journal_path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
SURGE = "deployment/payments-api:spec.strategy.rollingUpdate.maxSurge"
UNAVAILABLE = "deployment/payments-api:spec.strategy.rollingUpdate.maxUnavailable"
SETS = [f"{SURGE}=1,2", f"{UNAVAILABLE}=0,1"]
FIGURES = ["rollout_duration_s", "peak_pods", "min_available", "errors_total", "availability"]


def rows_of(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"].sort_values("run").reset_index(drop=True)
    return ok[["run", "seed", *FIGURES]]


def read(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out) if out.suffix == ".parquet" else pd.read_csv(out)


def copied_scenario(tmp_path: Path) -> Path:
    """The seed scenario and its manifests in a folder of the test's own, free to edit."""
    shutil.copy(SEED, tmp_path / SEED.name)
    shutil.copytree(SEED.parent / "manifests", tmp_path / "manifests")
    return tmp_path / SEED.name


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_identity_is_written_beside_the_rows(tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    sweep(SEED, SETS, seeds=2, sweep_seed=7, workers=1, out=out)
    identity = json.loads(sidecar_path(out).read_text())
    assert identity["simdeploy"] == simdeploy.__version__
    assert identity["scenario"]["path"] == str(SEED.resolve()) and len(identity["scenario"]["sha256"]) == 64
    assert identity["settings"] == [{"path": SURGE, "values": [1, 2]}, {"path": UNAVAILABLE, "values": [0, 1]}]
    assert (identity["seeds"], identity["sample"], identity["sweep_seed"]) == (2, None, 7)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"sets": [f"{SURGE}=1,2,3", f"{UNAVAILABLE}=0,1"]}, f"--set {SURGE}: 1,2 then, 1,2,3 now"),
        ({"sets": [f"{UNAVAILABLE}=0,1", f"{SURGE}=1,2"]}, "--set order"),
        ({"sets": [f"{SURGE}=1,2"]}, f"--set {UNAVAILABLE}: not swept now"),
        ({"seeds": 3}, "--seeds: 2 then, 3 now"),
        ({"sweep_seed": 1}, "--sweep-seed: 0 then, 1 now"),
        ({"sample": 3}, "--sample: none then, 3 now"),
    ],
)
def test_resume_with_other_settings_or_seeds_is_refused_and_leaves_the_rows(tmp_path, suffix, changed, named):
    out = tmp_path / f"rows{suffix}"
    sweep(SEED, SETS, seeds=2, workers=1, out=out)
    before, identity = out.read_bytes(), sidecar_path(out).read_text()
    arguments = {"sets": SETS, "seeds": 2, "workers": 1, "out": out, "resume": True, **changed}
    with pytest.raises(SweepError) as caught:
        sweep(SEED, **arguments)
    assert "the rows there come from a different sweep" in str(caught.value)
    assert named in str(caught.value)
    assert out.read_bytes() == before and sidecar_path(out).read_text() == identity


@pytest.mark.parametrize("edited", ["scenario", "manifest"])
def test_resume_after_the_scenario_or_a_file_it_reads_changed_is_refused(tmp_path, edited):
    scenario = copied_scenario(tmp_path)
    out = tmp_path / "rows.csv"
    sweep(scenario, SETS, workers=1, out=out)
    target = scenario if edited == "scenario" else tmp_path / "manifests" / "payments-api.yaml"
    text = target.read_text()
    old, new = ("rate: 900", "rate: 800") if edited == "scenario" else ("periodSeconds: 5", "periodSeconds: 10")
    assert old in text
    target.write_text(text.replace(old, new))
    with pytest.raises(SweepError, match=r"scenario: its content \(or a file it references\) changed"):
        sweep(scenario, SETS, workers=1, out=out, resume=True)


def test_resume_by_another_simdeploy_version_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "rows.csv"
    sweep(SEED, SETS, workers=1, out=out)
    monkeypatch.setattr(simdeploy, "__version__", "99.0.0")
    with pytest.raises(SweepError, match="simdeploy version: rows written by .*, this is 99.0.0"):
        sweep(SEED, SETS, workers=1, out=out, resume=True)


def test_cli_resume_with_a_changed_seed_exits_2_naming_it(tmp_path):
    out = tmp_path / "rows.csv"
    args = ["sweep", str(SEED), "--set", SETS[0], "--set", SETS[1], "--workers", "1", "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    written = out.read_bytes()
    result = CliRunner().invoke(app, [*args, "--resume", "--sweep-seed", "5"])
    assert result.exit_code == 2, result.output
    assert "error: --resume" in result.output and "--sweep-seed: 0 then, 5 now" in result.output
    assert out.read_bytes() == written


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rows_without_an_identity_are_never_appended_to(tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    sweep(SEED, SETS, workers=1, out=out)
    sidecar_path(out).unlink()
    with pytest.raises(SweepError, match="has rows but no rows.* saying which sweep wrote them"):
        sweep(SEED, SETS, workers=1, out=out, resume=True)
    # Without --resume the file is replaced, and the new rows carry their identity.
    result = sweep(SEED, SETS, workers=1, out=out)
    assert sidecar_path(out).exists() and len(read(out)) == len(result.rows) == 4


def test_resume_into_an_empty_file_without_identity_starts_afresh(tmp_path):
    out = tmp_path / "rows.csv"
    out.write_text("")
    result = sweep(SEED, SETS, workers=1, out=out, resume=True)
    assert len(result.rows) == 4 and read(out)["run"].is_unique and sidecar_path(out).exists()


def test_resume_drops_a_half_written_last_row(tmp_path):
    out = tmp_path / "rows.csv"
    full = sweep(SEED, SETS, seeds=2, workers=1, out=out)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2])  # killed while writing a row
    torn = out.read_bytes()
    with pytest.raises(SweepError, match="--seeds: 2 then, 3 now"):
        sweep(SEED, SETS, seeds=3, workers=1, out=out, resume=True)
    assert out.read_bytes() == torn, "a refused resume leaves the file as it was"
    resumed = sweep(SEED, SETS, seeds=2, workers=1, out=out, resume=True)
    rows = read(out)
    assert len(rows) == 8 and rows["run"].is_unique
    pd.testing.assert_frame_equal(rows_of(rows), rows_of(full.rows), check_dtype=False)
    pd.testing.assert_frame_equal(rows_of(resumed.rows), rows_of(full.rows), check_dtype=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_interrupted_sweep_resumes_with_only_the_missing_runs(tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    journal = journal_path(out)
    command = [sys.executable, "-m", "simdeploy", "sweep", str(SEED), "--set", f"{SURGE}=1,2,3"]
    command += ["--set", f"{UNAVAILABLE}=0,1,2", "--seeds", "6", "--workers", "1", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 6):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (suffix == ".parquet" and out.exists()), "a Parquet file is written only when the sweep ends"
    written = len(pd.read_csv(journal))
    assert 5 <= written < 54, "the sweep was meant to be interrupted midway"
    resumed = CliRunner().invoke(app, [*command[3:], "--resume"])
    assert resumed.exit_code == 0, resumed.output
    rows = read(out)
    assert len(rows) == 54 and rows["run"].is_unique
    assert not (suffix == ".parquet" and journal.exists())
    fresh = sweep(SEED, [f"{SURGE}=1,2,3", f"{UNAVAILABLE}=0,1,2"], seeds=6, workers=2, out=tmp_path / "fresh.csv")
    pd.testing.assert_frame_equal(rows_of(rows), rows_of(fresh.rows), check_dtype=False)


def test_resume_of_a_finished_sweep_runs_nothing_and_reads_the_same_rows(tmp_path):
    out = tmp_path / "rows.parquet"
    first = sweep(SEED, SETS, seeds=2, workers=1, out=out)
    calls = []
    again = sweep(SEED, SETS, seeds=2, workers=1, out=out, resume=True, progress=lambda done, total: calls.append(done))
    assert calls == []
    pd.testing.assert_frame_equal(rows_of(again.rows), rows_of(first.rows), check_dtype=False)
