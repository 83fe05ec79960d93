"""The command line: `simdeploy run` and `simdeploy validate`, on good and on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from simdeploy.cli import app

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
runner = CliRunner()


def run_cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_run_prints_the_timeline_and_the_summary():
    result = run_cli("run", SEED)
    assert result.exit_code == 0, result.output
    assert "ScalingReplicaSet" in result.output
    assert "Scaled up replica set payments-api-" in result.output
    assert "Readiness" in result.output or "Ready" in result.output
    assert "rollout to revision 2" in result.output
    assert "min available during rollouts" in result.output


def test_quiet_prints_only_the_summary():
    result = run_cli("run", "--quiet", SEED)
    assert result.exit_code == 0
    assert "ScalingReplicaSet" not in result.output
    assert "peak pods" in result.output


def test_json_result_document_has_the_public_fields(tmp_path):
    out = tmp_path / "result.json"
    assert run_cli("run", "-q", "--json", out, SEED).exit_code == 0
    document = json.loads(out.read_text())
    assert {"scenario", "seed", "duration_s", "summary", "events", "series"} <= set(document)
    summary = document["summary"]
    for field in (
        "rollout_complete_s",
        "peak_pods",
        "min_available",
        "max_surge_observed",
        "max_unavailable_observed",
        "progress_deadline_exceeded",
        "final_revision",
        "final_image",
    ):
        assert field in summary
        assert field in summary["deployments"]["payments-api"]
    assert set(document["events"][0]) >= {"t", "kind", "name", "reason", "message"}
    assert set(document["series"][0]) == {"t", "replicaset", "revision", "spec", "ready", "available", "serving"}


def test_seed_scenario_meets_its_acceptance_figures(tmp_path):
    out = tmp_path / "result.json"
    run_cli("run", "-q", "--json", out, SEED)
    summary = json.loads(out.read_text())["summary"]
    assert summary["final_image"] == "registry.example.com/payments-api:2.9.0"
    assert summary["final_revision"] == 2
    assert summary["peak_pods"] <= 8
    assert summary["min_available"] >= 5
    assert summary["max_surge_observed"] <= 2
    assert summary["max_unavailable_observed"] <= 1
    assert not summary["progress_deadline_exceeded"]
    # Started at 2m; three waves of readiness at 5 s probe ticks after ~8 s startups: well under 2 min.
    assert 120 + 20 < summary["rollout_complete_s"] < 120 + 120


def test_same_scenario_and_seed_give_byte_identical_json(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    run_cli("run", "-q", "--json", first, SEED)
    run_cli("run", "-q", "--json", second, SEED)
    assert first.read_bytes() == second.read_bytes()


def test_a_different_seed_gives_a_different_run(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    run_cli("run", "-q", "--json", first, SEED)
    run_cli("run", "-q", "--seed", "7", "--json", second, SEED)
    assert json.loads(second.read_text())["seed"] == 7
    assert first.read_bytes() != second.read_bytes()


def test_validate_lists_objects_versions_and_actions():
    result = run_cli("validate", SEED)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert "Deployment" in result.output and "payments-api" in result.output
    assert "set-image" in result.output


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.output == f"simdeploy {version('simdeploy')}\n" == "simdeploy 0.1.0\n"


def timeline_rows(output: str) -> list[list[str]]:
    """The printed timeline's rows (time, type, reason, object), up to the blank line before the summary."""
    lines = output.split("\n\n", 1)[0].splitlines()
    assert lines[0].split()[:4] == ["TIME", "TYPE", "REASON", "OBJECT"]
    return [line.split()[:4] for line in lines[1:]]


def clock(text: str) -> float:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + float(seconds)


def test_since_until_and_reason_filter_the_printed_timeline_not_the_json(tmp_path):
    out = tmp_path / "result.json"
    result = run_cli("run", SEED, "--since", "2m10s", "--until", "2:40", "--json", out)
    assert result.exit_code == 2 and "--until" in result.output  # 2:40 is no duration
    result = run_cli("run", SEED, "--since", "3m", "--until", "2m")
    assert result.exit_code == 2 and "--since 3m is after --until 2m" in result.output
    result = run_cli("run", SEED, "--since", "2m10s", "--until", "2m40s", "--json", out)
    assert result.exit_code == 0, result.output
    times = [clock(row[0]) for row in timeline_rows(result.output)]
    assert times and 130 <= min(times) and max(times) <= 160
    kept = [e["t"] for e in json.loads(out.read_text())["events"]]
    assert min(kept) < 130 and max(kept) > 160  # the document keeps every event
    result = run_cli("run", SEED, "--reason", "Killing,Unhealthy", "--reason", "SetImage")
    reasons = {row[2] for row in timeline_rows(result.output)}
    assert reasons == {"Killing", "Unhealthy", "SetImage"}
    assert "rollout to revision 2" in result.output  # the summary is whole


# -- bad input -------------------------------------------------------------------------------


def seed_copy(tmp_path: Path) -> dict:
    """The seed scenario as a dict, with its manifest copied beside the files the test writes."""
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    return yaml.safe_load(SEED.read_text())


def write(tmp_path: Path, scenario: dict | str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario if isinstance(scenario, str) else yaml.safe_dump(scenario))
    return path


def break_timeline_time(s: dict) -> None:
    s["timeline"][0]["at"] = "5 minutes"


def negative_time(s: dict) -> None:
    s["timeline"][0]["at"] = "-30s"


def unknown_field(s: dict) -> None:
    s["timeline"][0]["imagee"] = "x"


def wrong_type(s: dict) -> None:
    s["seed"] = "forty-two"


def missing_manifest(s: dict) -> None:
    s["manifests"][0]["file"] = "manifests/nope.yaml"


def image_without_behaviour(s: dict) -> None:
    s["timeline"][0]["image"] = "registry.example.com/payments-api:3.0.0"


def unknown_action(s: dict) -> None:
    s["timeline"][0]["action"] = "set-imagee"


def unknown_deployment(s: dict) -> None:
    s["timeline"][0]["deployment"] = "payments"


def bad_distribution(s: dict) -> None:
    s["versions"]["registry.example.com/payments-api:2.9.0"]["startup"] = {"lognormal": {"median": "8s"}}


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (break_timeline_time, ["timeline[0].at", "5 minutes"]),
        (negative_time, ["timeline[0].at", "-30s"]),
        (unknown_field, ["timeline[0].imagee", "unknown field"]),
        (wrong_type, ["seed", "integer"]),
        (missing_manifest, ["manifests[0].file", "not found"]),
        (image_without_behaviour, ["versions", "payments-api:3.0.0", "timeline[0].image"]),
        (unknown_action, ["timeline[0]", "unknown action", "set-imagee"]),
        (unknown_deployment, ["timeline[0].deployment", "payments"]),
        (bad_distribution, ["startup.lognormal.p95", "required"]),
    ],
)
def test_bad_scenarios_exit_2_naming_file_and_field(tmp_path, breakage, expected):
    scenario = seed_copy(tmp_path)
    breakage(scenario)
    path = write(tmp_path, scenario)
    out = tmp_path / "result.json"
    result = run_cli("run", "--json", out, path)
    assert result.exit_code == 2
    assert str(path) in result.output
    for fragment in expected:
        assert fragment in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "metadata:\n  name: x\n manifests: [\n")
    result = run_cli("validate", path)
    assert result.exit_code == 2
    assert "line" in result.output and str(path) in result.output


def test_invalid_manifest_is_rejected_as_the_api_server_would(tmp_path):
    scenario = seed_copy(tmp_path)
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api.yaml").read_text())
    manifest["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": 0}
    scenario["manifests"] = [{"inline": manifest}]
    result = run_cli("validate", write(tmp_path, scenario))
    assert result.exit_code == 2
    assert "spec.strategy.rollingUpdate.maxUnavailable" in result.output
    assert "may not be 0 when `maxSurge` is 0" in result.output


def test_typo_in_a_manifest_field_is_an_unknown_field(tmp_path):
    scenario = seed_copy(tmp_path)
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api.yaml").read_text())
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    scenario["manifests"] = [{"inline": manifest}]
    result = run_cli("validate", write(tmp_path, scenario))
    assert result.exit_code == 2
    assert "spec.template.spec.containers[0].readinesProbe: unknown field" in result.output


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["metadata"].update(labels={"tier": 2}), "metadata.labels.tier: Invalid value: 2"),
        (lambda m: m["spec"]["template"]["spec"].update(containers="api"), "spec.template.spec.containers"),
    ],
)
def test_wrongly_shaped_manifest_fields_are_named_not_crashed_on(tmp_path, change, field):
    scenario = seed_copy(tmp_path)
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api.yaml").read_text())
    change(manifest)
    scenario["manifests"] = [{"inline": manifest}]
    result = run_cli("validate", write(tmp_path, scenario))
    assert result.exit_code == 2, result.output
    assert field in result.output


def test_missing_scenario_file(tmp_path):
    result = run_cli("run", tmp_path / "absent.yaml")
    assert result.exit_code == 2
    assert "file not found" in result.output


def test_console_script_exit_status_and_no_traceback(tmp_path):
    path = write(tmp_path, {"metadata": {"name": "x"}, "manifests": [], "duration": "5 minutes"})
    process = subprocess.run(
        [sys.executable, "-m", "simdeploy", "run", str(path)], capture_output=True, text=True, check=False
    )
    assert process.returncode == 2
    assert "duration" in process.stderr and "Traceback" not in process.stderr


def test_malformed_rule_file_names_file_rule_and_position(tmp_path):
    scenario = seed_copy(tmp_path)
    (tmp_path / "rules.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[1m]) by (\n"
    )
    scenario["alerts"] = [{"file": "rules.yaml"}]
    result = run_cli("run", write(tmp_path, scenario))
    assert result.exit_code == 2
    assert "rules.yaml" in result.output and "Broken" in result.output and "parse error" in result.output
