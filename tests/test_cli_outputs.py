"""The command line's guard and outputs: a bug is exit 70 without a traceback, bad output paths exit 2 before
the run, `--json -` is pure JSON on stdout, figures take the format of their suffix, writes are atomic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import simdeploy.scenario.build
from simdeploy.cli import app
from simdeploy.cli.app import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED
from simdeploy.cli.files import write_atomically, write_json_atomically

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


# -- the guard ---------------------------------------------------------------------------------


def _broken_build(*_args, **_kwargs):
    raise RuntimeError("a bug planted by the test\nsecond line")


def test_an_unexpected_exception_is_one_line_and_exit_70(monkeypatch):
    monkeypatch.setattr(simdeploy.scenario.build, "build", _broken_build)
    result = invoke("run", SEED)
    assert result.exit_code == EXIT_INTERNAL_ERROR
    assert "internal error: RuntimeError: a bug planted by the test" in result.output
    assert "second line" not in result.output and "Traceback" not in result.output
    assert "please report" in result.output


def test_the_traceback_is_shown_when_asked_for(monkeypatch):
    monkeypatch.setattr(simdeploy.scenario.build, "build", _broken_build)
    monkeypatch.setenv("SIMDEPLOY_TRACEBACK", "1")
    result = invoke("run", SEED)
    assert isinstance(result.exception, RuntimeError)


def test_ctrl_c_exits_130_quietly(monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simdeploy.scenario.build, "build", interrupted)
    result = invoke("run", SEED)
    assert result.exit_code == EXIT_INTERRUPTED
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_usage_errors_still_exit_2():
    assert invoke("run", SEED, "--seed", "99999999999999999999999").exit_code == 2
    assert invoke("run").exit_code == 2


# -- output paths, checked before the run ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option", "reason"),
    [
        (["run", SEED, "--json", "{dir}"], "--json", "is a directory"),
        (["run", SEED, "--json", "{file}/out.json"], "--json", "is not a directory"),
        (["run", SEED, "--metrics", "{dir}"], "--metrics", "is a directory"),
        (["run", SEED, "--plot", "{dir}/x.txt"], "--plot", "use one of"),
        (["run", SEED, "--plot", "{file}/deeper/x.png"], "--plot", "is not a directory"),
        (["report", SEED, "-o", "{dir}"], "--output", "is a directory"),
        (["sweep", SEED, "--set", "deployment/payments-api:spec.replicas=4", "--out", "{dir}/rows.txt"], "--out", ""),
        (["sweep", SEED, "--set", "deployment/payments-api:spec.replicas=4", "--plot", "{dir}"], "--plot", ""),
        (["serve", SEED, "--json", "{dir}"], "--json", "is a directory"),
        (["serve", SEED, "--json", "-"], "--json", "standard output"),
    ],
)
def test_an_output_that_cannot_be_written_exits_2_before_the_run(tmp_path, args, option, reason):
    (tmp_path / "file").write_text("a file, not a directory\n")
    places = {"dir": tmp_path, "file": tmp_path / "file"}
    result = invoke(*(str(a).format(**places) for a in args))
    assert result.exit_code == 2, result.output
    assert f"error: {option}" in result.output and reason in result.output
    assert "ScalingReplicaSet" not in result.output  # nothing was simulated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # and nothing written


def test_missing_directories_of_an_output_are_made(tmp_path):
    out = tmp_path / "results" / "today" / "seed.json"
    assert invoke("run", "-q", "--json", out, SEED).exit_code == 0
    assert json.loads(out.read_text())["seed"] == 42


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_directory_that_cannot_be_written_to_exits_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = invoke("run", "--json", locked / "out.json", SEED)
    assert result.exit_code == 2 and "permission denied" in result.output


def test_json_to_stdout_is_the_document_alone_and_the_timeline_goes_to_stderr():
    result = invoke("run", "--json", "-", SEED)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["summary"]["final_revision"] == 2
    assert "ScalingReplicaSet" in result.stderr


def test_an_output_that_is_not_a_regular_file_is_written_in_place():
    assert invoke("run", "-q", "--json", os.devnull, SEED).exit_code == 0
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<svg"), (".pdf", b"%PDF"), (".png", b"\x89PNG")])
def test_the_plot_takes_the_format_its_suffix_names(tmp_path, suffix, magic):
    plot = tmp_path / f"timeline{suffix}"
    assert invoke("run", "-q", "--plot", plot, SEED).exit_code == 0
    assert magic in plot.read_bytes()[:400]


# -- atomic writes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, OSError, SystemExit])
def test_an_interrupted_write_leaves_no_temporary_file_and_keeps_the_old_one(tmp_path, interruption):
    target = tmp_path / "result.json"
    target.write_text("the previous result\n")

    def write(stream):
        stream.write("half of a new")
        raise interruption()

    with pytest.raises(interruption):
        write_atomically(target, write)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert target.read_text() == "the previous result\n"


def test_nan_never_reaches_a_json_document(tmp_path):
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json_atomically(tmp_path / "out.json", {"availability": float("nan")})
    assert list(tmp_path.iterdir()) == []


# -- other options ---------------------------------------------------------------------------------


def test_a_range_query_finer_than_prometheus_allows_exits_2():
    result = invoke("query", SEED, "up", "--range", "--step", "1ms")
    assert result.exit_code == 2 and "exceeded maximum resolution of 11,000 points" in result.output
