"""A long run: Simulation.run in slices with a progress callback, the progress display, and Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.cli import progress as run_progress
from simdeploy.cli.progress import EXIT_INTERRUPTED, RunProgress

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SEED = SCENARIOS / "payments-rolling-update.yaml"


@pytest.mark.parametrize("name", ["payments-rolling-update", "canary-success-rate", "bad-release-detected"])
def test_running_in_slices_changes_nothing_simulated(name):
    whole = simdeploy.load(SCENARIOS / f"{name}.yaml").run()
    calls: list[float] = []
    sliced = simdeploy.load(SCENARIOS / f"{name}.yaml").run(progress=calls.append)
    assert json.dumps(sliced) == json.dumps(whole)
    assert calls == sorted(set(calls)) and calls[-1] == whole["duration_s"]
    assert len(calls) > 1


def test_a_progress_callback_that_raises_stops_the_run_between_events_and_it_can_carry_on():
    whole = simdeploy.load(SEED).run()
    sim = simdeploy.load(SEED)

    def stop(now: float) -> None:
        if now > 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sim.run(progress=stop)
    assert 20 < sim.now < sim.duration
    assert all(event["t"] <= sim.now for event in sim.result()["events"])
    assert json.dumps(sim.run()) == json.dumps(whole)  # the state was whole: the rest of the run is the same


def test_the_bar_shows_simulated_time_on_a_terminal_once_the_run_is_slow():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    shown = RunProgress(console, 360.0, show_after=0)
    simdeploy.load(SEED).run(progress=shown)
    shown.close()
    assert "simulating" in screen.getvalue() and "6:00.0 / 6:00.0" in screen.getvalue()
    quiet = io.StringIO()
    RunProgress(Console(file=quiet, force_terminal=True), 360.0)(180.0)  # just started: below SHOW_AFTER
    assert quiet.getvalue() == ""


def test_without_a_terminal_progress_is_a_plain_line_now_and_then():
    log = io.StringIO()
    lines = RunProgress(Console(file=log, width=200), 360.0, show_after=0, plain_every=0)
    lines(90.0)
    lines(360.0)
    assert log.getvalue().splitlines()[0].startswith("simulated 1:30.0 of 6:00.0 (25%) in ")
    assert "\x1b" not in log.getvalue()  # no escape codes in a CI log


def test_a_short_run_prints_nothing_on_stderr():
    result = CliRunner().invoke(app, ["run", "-q", str(SEED)])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_ctrl_c_prints_the_run_so_far_writes_nothing_and_exits_130(tmp_path, monkeypatch):
    original = RunProgress.__call__

    def ctrl_c_once_the_pods_run(self, now: float) -> None:
        if now > 20 and not self.stopping:
            os.kill(os.getpid(), signal.SIGINT)  # the handler the run installed asks it to stop
            deadline = time.monotonic() + 5
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.001)
        original(self, now)

    monkeypatch.setattr(run_progress.RunProgress, "__call__", ctrl_c_once_the_pods_run)
    out = tmp_path / "result.json"
    result = CliRunner().invoke(app, ["run", str(SEED), "--json", str(out)])
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    assert not out.exists()
    assert f"not written: {out}" in result.stderr
    stopped = re.search(r"-- interrupted at (\d+):(\d+\.\d) of 6:00\.0", result.stdout)
    assert stopped, result.stdout
    at = int(stopped[1]) * 60 + float(stopped[2])
    assert 20 < at < 360
    assert "ScalingReplicaSet" in result.stdout  # the timeline up to then
    assert "SetImage" not in result.stdout  # 2.9.0 is set at 2:00, after the interruption
    assert "expectations" not in result.stdout  # verdicts need the whole run
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back


def test_sigint_to_a_long_run_stops_it_with_what_was_simulated(tmp_path):
    scenario = yaml.safe_load(SEED.read_text())
    scenario.update(duration="24h", expect={})  # tens of seconds of work at a 10 ms tick
    scenario["cluster"]["tick"] = "10ms"
    scenario["manifests"] = [{"file": str(SCENARIOS / ref["file"])} for ref in scenario["manifests"]]
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "result.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "simdeploy", "run", "-q", str(path), "--json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        warning = process.stderr.readline()  # printed once the scenario is loaded, just before the run
        assert warning.startswith("warning: duration: a long run")
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert "-- interrupted at " in stdout and "of 24:00:00.0" in stdout
    assert "Traceback" not in stderr and f"not written: {out}" in stderr
    assert not out.exists()
