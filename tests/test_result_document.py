"""The result document: every bundled scenario's has exactly the declared fields, rounded one way, without reprs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from serve_helpers import send
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.k8s.duration import format_clock, format_duration
from simdeploy.report.marks import markers
from simdeploy.sim.result import Result, problems, seconds

SEED = Path(__file__).resolve().parent.parent / "scenarios" / "payments-rolling-update.yaml"
SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
NOISE = re.compile(r"\d\.\d{7,}")  # more than six decimals: 260.25000000000006, 0.0038888888888888888
REPR = re.compile(r"[{\[]'")  # a Python dict or list printed into a message: {'duration': '1m'}


@pytest.fixture(scope="module")
def documents(bundled_results) -> dict[str, Result]:
    """Every bundled scenario's result, as `run --json` writes it and a reader loads it back."""
    return {name: json.loads(json.dumps(result)) for name, result in bundled_results.items()}


def test_every_bundled_scenario_gives_exactly_the_declared_fields(documents):
    for name, document in documents.items():
        assert problems(document) == [], name


def test_sections_only_some_scenarios_have_are_there_when_they_have_them(documents):
    assert "argo_rollouts" in documents["canary-bad-version-aborted"]["summary"]
    assert "argo_rollouts" not in documents["payments-rolling-update"]["summary"]
    assert "flags" in documents["flag-ramp-25-percent"]["summary"]
    assert documents["flag-ramp-25-percent"]["versions"]["registry.example.com/payments-api:2.9.0"] == "2.9.0"


def test_no_number_carries_float_noise(documents):
    for name, document in documents.items():
        text = json.dumps(document)
        assert not NOISE.findall(text), (name, NOISE.findall(text)[:5])


def test_no_event_or_action_message_carries_a_python_repr_or_float_noise(documents):
    for name, document in documents.items():
        for line in [e["message"] for e in document["events"]] + [a["message"] for a in document["actions"]]:
            assert not REPR.search(line) and not NOISE.search(line), (name, line)


def test_canary_steps_read_as_written():
    canary = simdeploy.load(SCENARIOS[0].parent / "canary-success-rate.yaml").run()
    steps = canary["summary"]["argo_rollouts"]["payments-api"]["steps_completed"]
    assert [s["description"] for s in steps[:3]] == ["setWeight: 10", "pause: 5m", "analysis: success-rate"]
    assert (steps[0]["step"], steps[0]["of"]) == (1, 8)
    messages = [e["message"] for e in canary["events"] if e["reason"] == "RolloutStepCompleted"]
    assert messages[1] == "Rollout step 2/8 completed (pause: 5m)"


def test_argo_replica_sets_carry_their_revision_and_owner(documents):
    document = documents["canary-bad-version-aborted"]
    owners = {rs["name"]: (rs["owner_kind"], rs["owner"]) for rs in document["replicasets"]}
    assert set(owners.values()) == {("Rollout", "payments-api")}
    revisions = {row["replicaset"]: row["revision"] for row in document["series"]}
    assert sorted(revisions.values()) == [1, 2]


def test_lying_readiness_has_fewer_pods_serving_than_ready(documents):
    rows = documents["lying-readiness"]["series"]
    assert any(row["serving"] < row["ready"] for row in rows)
    honest = documents["payments-rolling-update"]["series"]
    last = {row["replicaset"]: row for row in honest}
    assert all(row["serving"] == row["ready"] for row in last.values())  # once settled, ready pods serve


def test_every_timeline_action_is_in_the_document(documents):
    document = documents["flag-ramp-25-percent"]
    actions = [(a["t"], a["action"], a["target"]) for a in document["actions"]]
    assert actions == [
        (120, "set-image", "payments-api"),
        (240, "enable-flag", "new-checkout-flow"),
        (420, "set-rollout", "new-checkout-flow"),
    ]
    assert not any(a["failed"] for a in document["actions"])


def test_a_failed_action_is_kept_as_failed_and_the_run_goes_on():
    scenario = yaml.safe_load(SEED.read_text())
    scenario["timeline"].insert(0, {"at": "30s", "action": "rollout-undo", "deployment": "payments-api"})
    document = simdeploy.load(scenario, base_dir=SEED.parent).run()
    failed, done = document["actions"]
    assert (failed["t"], failed["action"], failed["failed"]) == (30, "rollout-undo", True)
    assert failed["message"] == 'error: no rollout history found for deployment "payments-api"'
    assert (done["action"], done["failed"]) == ("set-image", False)
    patched = simdeploy.load(SCENARIOS[0].parent / "blue-green-cutover.yaml").run()
    assert {a["target"] for a in patched["actions"]} == {"service/payments-api"}


def test_the_checker_names_the_field_that_is_wrong(documents):
    broken = copy.deepcopy(documents["payments-rolling-update"])
    del broken["summary"]["peak_pods"]
    broken["series"][3]["ready"] = "three"
    broken["events"][0]["type"] = "Info"
    broken["extra"] = 1
    assert problems(broken) == [
        "summary.peak_pods: missing",
        "events[0].type: expected one of Normal, Warning, got 'Info'",
        "series[3].ready: expected an integer, got a string",
        "extra: not a field of the result document",
    ]
    assert problems([]) == ["document: expected an object, got a list"]


def test_a_served_session_document_is_declared_too_and_reports_the_game_day(serving, tmp_path):
    with serving(until=30, speed=0) as server:
        server.namespace = "production"
        assert send(server, "POST", "/simdeploy/v1/actions", {"action": "cordon", "node": "node-1"})[0] == 201
        scale = "/apis/apps/v1/namespaces/production/deployments/payments-api/scale"
        assert send(server, "PATCH", scale, {"spec": {"replicas": 8}}, "application/merge-patch+json")[0] == 200
        document = json.loads(json.dumps(server.result()))
    assert problems(document) == []
    assert [(a["t"], a["action"], a["target"]) for a in document["actions"]] == [(30, "cordon", "node-1")]
    labels = [m.label for m in markers(document)]
    assert labels == ["cordon node-1, kubectl patch deployments/payments-api (scale)"]  # the same moment
    saved, page = tmp_path / "session.json", tmp_path / "game-day.html"
    saved.write_text(json.dumps(document))
    outcome = CliRunner().invoke(app, ["report", "--from", str(saved), "-o", str(page)])
    assert outcome.exit_code == 1, outcome.output  # served to 0:30 only: the seed's rollout never came
    assert "node/node-1 cordon" in page.read_text() and "rolloutCompletesWithin" in page.read_text()


@pytest.mark.parametrize(
    "value, duration, clock",
    [
        (0.05, "50ms", "0:00.1"),
        (20.25, "20.3s", "0:20.3"),  # half up, in both
        (46.5, "46.5s", "0:46.5"),
        (80.2, "1m20.2s", "1:20.2"),
        (105, "1m45s", "1:45.0"),
        (3725.5, "1h02m05.5s", "1:02:05.5"),
    ],
)
def test_times_print_to_the_tenth_the_same_way_everywhere(value, duration, clock):
    assert format_duration(value) == duration
    assert format_clock(value) == clock
    assert seconds(value * 3 / 3 + 1e-12) == seconds(value)  # the document keeps milliseconds


def test_a_rollout_time_reads_the_same_in_the_summary_and_the_expectations(documents):
    summary = documents["payments-rolling-update"]["summary"]
    took = summary["rollouts"][-1]["duration_s"]
    verdict = next(v for v in summary["expectations"] if v["name"] == "rolloutCompletesWithin")
    assert verdict["measured"] == took and verdict["shown"] == format_duration(took) == "46.5s"


def test_the_readme_documents_every_declared_field():
    import typing

    from simdeploy.sim import result as declared

    readme = (SEED.parent.parent / "README.md").read_text()
    section = readme.split("### Result document", 1)[1].split("\n### ", 1)[0].split("\nState changes", 1)[0]
    shapes = [v for v in vars(declared).values() if isinstance(v, type) and hasattr(v, "__required_keys__")]
    missing = {
        f"{shape.__name__}.{name}"
        for shape in shapes
        for name in typing.get_type_hints(shape)
        if not re.search(rf"[{{`(, ]{name}[,}}`:)]", section)  # as a field: `name`, {a, name}, name: ...
    }
    assert not missing
