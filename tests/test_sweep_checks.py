"""Sweeps refuse a bad --set before any run: unknown fields, values a field cannot take, every setting rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.sweep import SweepError, parse_set, sweep
from simdeploy.sweep.identity import sidecar_path
from simdeploy.sweep.parameters import Parameter
from simdeploy.sweep.plan import make_plan

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"  # maxSurge 2, maxUnavailable 1
CHOOSING = ROOT / "scenarios" / "choosing-maxsurge.yaml"  # maxSurge 2, maxUnavailable 0
DEPLOYMENT = "deployment/payments-api"
SURGE = f"{DEPLOYMENT}:spec.strategy.rollingUpdate.maxSurge"
UNAVAILABLE = f"{DEPLOYMENT}:spec.strategy.rollingUpdate.maxUnavailable"


def refusal(*sets: str, source: Path = SEED) -> str:
    with pytest.raises(SweepError) as caught:
        make_plan(source, [parse_set(text) for text in sets])
    return str(caught.value)


@pytest.mark.parametrize(
    "field", ["spec.replicaz", "spec.strategy.rollingUpdate.maxSurg", "spec.template.spec.containers[0].imag"]
)
def test_an_unknown_object_field_is_named_as_strict_decoding_names_it(field):
    message = refusal(f"{DEPLOYMENT}:{field}=1")
    assert f'strict decoding error: unknown field "{field}"' in message
    assert message.startswith(f"--set {DEPLOYMENT}:{field}:")


def test_a_field_the_decoder_does_not_describe_must_be_in_the_object():
    # The decoder knows an object's top-level fields: a made-up one is named as kubectl names it.
    assert 'strict decoding error: unknown field "spek"' in refusal(f"{DEPLOYMENT}:spek.replicas=1")
    assert "has no field spec.template.spec.affinity.zone" in refusal(
        f"{DEPLOYMENT}:spec.template.spec.affinity.zone=a"
    )
    # Present in the manifest, or a key of a free-form map (labels): accepted.
    plan = make_plan(SEED, [parse_set(f"{DEPLOYMENT}:spec.template.spec.containers[0].readinessProbe.httpGet.port=80")])
    assert [p.rejected for p in plan.points] == [None]
    plan = make_plan(SEED, [parse_set(f"{DEPLOYMENT}:spec.template.metadata.labels.tier=web,api")])
    assert len(plan.runs) == 2


def test_a_field_absent_from_the_manifest_but_known_to_the_decoder_is_accepted():
    plan = make_plan(SEED, [parse_set(f"{DEPLOYMENT}:spec.minReadySeconds=0,5")])
    assert [p.rejected for p in plan.points] == [None, None]


def test_every_value_a_field_cannot_take_is_named_with_the_reason():
    message = refusal(f"{DEPLOYMENT}:spec.replicas=4,abc,-1", f"{SURGE}=1,fast")
    lines = message.splitlines()
    assert len(lines) == 3, message
    assert lines[0].startswith(f"--set {DEPLOYMENT}:spec.replicas=abc: ")
    assert "spec.replicas: Invalid value: 'abc': expected an integer" in lines[0]
    assert lines[1].startswith(f"--set {DEPLOYMENT}:spec.replicas=-1: ")
    assert "must be greater than or equal to 0" in lines[1]
    assert lines[2].startswith(f"--set {SURGE}=fast: ")
    assert 'the Deployment "payments-api" is invalid' in lines[2]


def test_a_value_another_swept_setting_makes_valid_is_a_rejected_point_not_a_bad_set():
    plan = make_plan(SEED, [parse_set(f"{SURGE}=0,1"), parse_set(f"{UNAVAILABLE}=0")])
    assert [p.settings for p in plan.points if p.rejected] == [{SURGE: 0, UNAVAILABLE: 0}]


def test_a_value_no_swept_setting_makes_valid_is_a_bad_set():
    message = refusal(f"{SURGE}=0", f"{UNAVAILABLE}=0,1")
    assert message.startswith(f"--set {UNAVAILABLE}=0: ")
    assert "may not be 0 when `maxSurge` is 0" in message
    assert f"{UNAVAILABLE}=1" not in message


def test_scenario_fields_are_checked_against_the_scenario_format():
    assert (
        refusal("cluster.nodeMonitorGrace=1s")
        == "--set cluster.nodeMonitorGrace: unknown field (not in the scenario format)"
    )
    message = refusal("cluster.controllerLatency=10ms,soon")
    assert message.startswith("--set cluster.controllerLatency=soon: cluster.controllerLatency: expected a duration")
    # Two bad values of two fields: each is named, though no setting of the sweep is free of the other.
    message = refusal("traffic[0].rate=100,-5", "cluster.controllerLatency=soon")
    assert message.splitlines()[0].startswith("--set traffic[0].rate=-5: traffic[0].rate")
    assert message.splitlines()[1].startswith("--set cluster.controllerLatency=soon: ")


@pytest.mark.parametrize(
    ("parameters", "wanted"),
    [
        ([Parameter(SURGE, (1,)), Parameter(SURGE, (2,))], "given twice"),
        ([Parameter(SURGE, (1, 2, 1))], "value 1 given more than once"),
        ([Parameter(SURGE, ())], "no values"),
    ],
)
def test_repeated_or_missing_settings_are_refused(parameters, wanted):
    with pytest.raises(SweepError, match=wanted):
        make_plan(SEED, parameters)


def test_cli_bad_set_path_or_value_exits_2_before_any_run(tmp_path):
    out = tmp_path / "rows.csv"
    for bad in (f"{DEPLOYMENT}:spec.replicas=abc", f"{DEPLOYMENT}:spec.replicaz=3", f"{SURGE}=1,-2"):
        result = CliRunner().invoke(app, ["sweep", str(SEED), "--set", bad, "--out", str(out), "--workers", "1"])
        assert result.exit_code == 2, (bad, result.output)
        assert result.output.lstrip().startswith("error: --set "), result.output
        assert "Traceback" not in result.output
        assert not out.exists() and not sidecar_path(out).exists()


def test_every_setting_rejected_exits_2_and_says_why(tmp_path):
    out = tmp_path / "rows.csv"
    sets = ["deployment/orders:spec.strategy.rollingUpdate.maxSurge=0", "deployment/orders:spec.replicas=4,6"]
    args = ["sweep", str(CHOOSING), "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, [*args, *(item for text in sets for item in ("--set", text))])
    assert result.exit_code == 2, result.output
    assert "error: the API server would reject every setting (2), so nothing ran" in result.output
    assert result.output.count("may not be 0 when `maxSurge` is 0") == 2
    assert not out.exists()
    with pytest.raises(SweepError, match="reject every setting"):
        sweep(CHOOSING, sets, workers=1)
