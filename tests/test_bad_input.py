"""Bad scenario input ends in exit 2 with the file and the field, never a traceback: the hardening issue's examples."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.shown import LIMIT, shown
from simdeploy.scenario.yamlfile import MAX_DEPTH, InputError, parse_yaml

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
runner = CliRunner()


@pytest.fixture
def seed(tmp_path) -> dict:
    """The seed scenario as a dict, its manifests copied beside the files a test writes."""
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    return yaml.safe_load(SEED.read_text())


def write(tmp_path: Path, content: dict | str | bytes, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, dict):
        content = yaml.safe_dump(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def refused(path: Path, *fragments: str, command: str = "validate") -> str:
    """Run a command on `path`; it must exit 2, name the file and each fragment, and print no traceback."""
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.output


# -- the file and its YAML ---------------------------------------------------------------------


def test_a_utf16_file_is_refused_naming_its_encoding(tmp_path):
    refused(write(tmp_path, SEED.read_text().encode("utf-16")), "UTF-16", "save it as UTF-8")


def test_bytes_that_are_not_utf8_name_their_line(tmp_path):
    text = SEED.read_text().replace("description: payments-api", "description: caf\xe9 payments-api")
    line = next(n for n, content in enumerate(text.splitlines(), start=1) if "caf" in content)
    refused(write(tmp_path, text.encode("latin-1")), "not UTF-8", f"byte 0xe9 on line {line}")


def test_a_manifest_file_that_is_not_utf8_is_named(tmp_path, seed):
    (tmp_path / "manifests" / "payments-api.yaml").write_bytes(b"kind: Deployment\n\xff\xfe\n")
    refused(write(tmp_path, seed), "manifests[0].file", "payments-api.yaml", "not UTF-8")


def test_an_integer_past_pythons_digit_limit_names_its_line(tmp_path):
    text = SEED.read_text().replace("seed: 42", "seed: " + "9" * 5000)
    line = next(n for n, content in enumerate(text.splitlines(), start=1) if content.startswith("seed:"))
    output = refused(write(tmp_path, text), f"line {line}", "more than 4300 digits")
    assert "9" * 100 not in output  # the value itself is cut short


def test_a_huge_hexadecimal_integer_is_refused_by_its_field(tmp_path):
    refused(write(tmp_path, SEED.read_text().replace("seed: 42", "seed: 0x" + "f" * 5000)), "seed:")


def test_a_duplicate_key_is_an_error_naming_the_key_and_both_lines(tmp_path):
    text = SEED.read_text().replace("seed: 42\n", "seed: 42\nduration: 5m\n")
    first = next(n for n, line in enumerate(text.splitlines(), start=1) if line.startswith("duration:"))
    refused(write(tmp_path, text), "duplicate key 'duration'", f"first given on line {first}")


def test_a_duplicate_key_in_a_manifest_file_and_in_an_inline_string(tmp_path, seed):
    manifest = tmp_path / "manifests" / "payments-api.yaml"
    manifest.write_text(manifest.read_text().replace("  replicas: 6\n", "  replicas: 6\n  replicas: 60\n"))
    refused(write(tmp_path, seed), "manifests[0].file", "duplicate key 'replicas'")
    seed["manifests"][1] = {"inline": "kind: Service\nkind: Service\n"}
    refused(write(tmp_path, seed), "manifests[1].inline", "duplicate key 'kind'")


def test_merge_keys_are_not_duplicates():
    assert parse_yaml("base: &b {x: 1, y: 2}\nc: {<<: *b, x: 3}\n") == [
        {"base": {"x": 1, "y": 2}, "c": {"x": 3, "y": 2}}
    ]


def test_an_alias_bomb_is_refused_without_expanding_it(tmp_path):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]  # 9**10 values
    bomb = "\n".join(lines) + "\n"
    assert len(bomb) < 600
    refused(write(tmp_path, bomb + SEED.read_text()), "expands to more than 1,000,000 values")


def test_a_value_expanded_by_aliases_is_shown_cut_short(tmp_path):
    bomb = "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    text = bomb + SEED.read_text().replace("duration: 6m", "duration: [*b, *b, *b, *b, *b, *b, *b, *b]")
    output = refused(write(tmp_path, text), "duration: expected a duration")
    line = next(line for line in output.splitlines() if "duration: expected" in line)
    assert len(line) < 200


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000_000])
def test_nesting_too_deep_is_refused_before_libyaml_recurses_into_it(depth):
    with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels"):
        parse_yaml("a: " + "[" * depth + "]" * depth)


def test_dates_are_read_as_text_as_kubernetes_reads_them(tmp_path, seed):
    assert parse_yaml("startTime: 2026-01-01T09:00:00Z\nbad: 2024-13-45\n") == [
        {"startTime": "2026-01-01T09:00:00Z", "bad": "2024-13-45"}
    ]
    text = SEED.read_text().replace("cluster:\n", "cluster:\n  startTime: 2026-03-01T09:00:00Z\n")
    result = runner.invoke(app, ["validate", str(write(tmp_path, text))])
    assert result.exit_code == 0, result.output
    refused(write(tmp_path, SEED.read_text().replace("seed: 42", "seed: 2024-13-45")), "seed:")


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]"])
def test_yaml_types_json_does_not_have_are_refused(tmp_path, value):
    refused(write(tmp_path, SEED.read_text().replace("seed: 42", f"seed: {value}")), "line 13", "not supported")


def test_shown_values_are_bounded_whatever_their_size():
    shared = [1] * 10
    for _ in range(30):
        shared = [shared] * 10  # 10**31 leaves if expanded
    for value in (shared, "x" * 10**6, 2**100_000, {"k" * 1000: 1}):
        assert len(shown(value)) <= LIMIT


# -- manifests: one strict decoder for scenarios and API writes (see test_admission.py) ---------------

CONTAINER = "spec.template.spec.containers[0]"


def _container(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.update(metadata=["payments-api"]), "metadata: Invalid value: expected a mapping, got a list"),
        (lambda m: m.update(spec=None), "spec.selector: Required value"),
        (
            lambda m: _container(m)["readinessProbe"].update(httpGet="/readyz"),
            f"{CONTAINER}.readinessProbe.httpGet: Invalid value: expected a mapping",
        ),
        (
            lambda m: _container(m).update(ports=[{"containerPort": 70000}]),
            f"{CONTAINER}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (lambda m: m["spec"].update(replicas=3_000_000_000), "spec.replicas: Invalid value: 3000000000"),
        (
            lambda m: _container(m)["readinessProbe"].update(failureThreshold=3_000_000_000),
            f"{CONTAINER}.readinessProbe.failureThreshold: Invalid value: 3000000000: must fit in int32",
        ),
        (
            lambda m: _container(m)["lifecycle"]["preStop"].update(exec={}),
            f"{CONTAINER}.lifecycle.preStop.exec.command: Required value",
        ),
        (
            lambda m: _container(m)["readinessProbe"]["httpGet"].update(portt=8080),
            f"{CONTAINER}.readinessProbe.httpGet.portt: unknown field",
        ),
        (
            lambda m: _container(m)["lifecycle"].update(preStopp={}),
            f"{CONTAINER}.lifecycle.preStopp: unknown field",
        ),
    ],
)
def test_a_manifest_the_api_server_would_refuse_exits_2_naming_the_field(tmp_path, seed, change, field):
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api.yaml").read_text())
    change(manifest)
    seed["manifests"][0] = {"inline": manifest}
    path = write(tmp_path, seed)
    for command in ("validate", "run"):
        refused(path, "manifests[0].inline Deployment/", field, command=command)


def test_a_null_probe_period_is_the_default_period_as_on_the_api_server(tmp_path, seed):
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api.yaml").read_text())
    _container(manifest)["readinessProbe"]["periodSeconds"] = None
    seed["manifests"][0] = {"inline": manifest}
    result = runner.invoke(app, ["run", "-q", str(write(tmp_path, seed))])
    assert result.exit_code in (0, 1), result.output  # 10 s probes instead of 5 s may cost an expectation


# -- numbers and durations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (math.nan, "got NaN"),
        (math.inf, "out of range"),
        (10**30, "out of range"),
        ("99999999999h", "out of range"),
        ("\u0665m", "expected a duration"),  # ARABIC-INDIC DIGIT FIVE: Go reads ASCII digits only
        ("1e3s", "expected a duration"),
        (-1, "must not be negative"),
        ([1], "expected a duration"),
    ],
)
def test_durations_are_finite_ascii_and_fit_a_go_duration(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_duration(value)


def test_the_longest_go_duration_still_parses():
    assert parse_duration("2562047h") == 2562047 * 3600.0


def test_nan_in_the_timeline_is_refused_by_validate_and_by_run(tmp_path):
    path = write(tmp_path, SEED.read_text().replace("  - at: 2m", "  - at: .nan"))
    for command in ("validate", "run"):
        refused(path, "timeline[0].at", "NaN", command=command)


@pytest.mark.parametrize("number", [".inf", "-.inf", ".nan", "1e308"])
def test_a_traffic_rate_that_is_not_a_finite_sensible_number_is_refused(tmp_path, number):
    out = tmp_path / "result.json"
    path = write(tmp_path, SEED.read_text().replace("rate: 900 ", f"rate: {number} "))
    result = runner.invoke(app, ["run", "--json", str(out), str(path)])
    assert result.exit_code == 2 and "traffic[0].rate" in result.output, result.output
    assert not out.exists()


def test_rates_read_from_a_csv_file_are_checked_too(tmp_path, seed):
    (tmp_path / "rates.csv").write_text("time,rps\n0s,100\n1m,inf\n")
    seed["traffic"][0]["rate"] = {"csv": "rates.csv"}
    refused(write(tmp_path, seed), "traffic[0].rate.csv", "rates.csv line 3")


def test_a_percentage_with_other_digits_is_not_a_fraction(tmp_path, seed):
    seed["expect"]["availability"] = "\u0669\u0669%"
    refused(write(tmp_path, seed), "expect.availability", "percentage")


def test_a_start_time_without_a_zone_or_past_the_calendar_is_refused(tmp_path, seed):
    seed["cluster"]["startTime"] = "2026-01-01T09:00:00"
    refused(write(tmp_path, seed), "cluster.startTime", "RFC 3339")
    seed["cluster"]["startTime"] = "9999-12-31T23:59:00Z"
    refused(write(tmp_path, seed), "cluster.startTime", "year 9999")


# -- references checked at load ------------------------------------------------------------------


def test_draining_a_node_that_does_not_exist_is_refused_at_load_not_at_run(tmp_path, seed):
    seed["timeline"].append({"at": "3m", "action": "drain", "node": "worker-2"})
    path = write(tmp_path, seed)
    for command in ("validate", "run"):
        refused(path, "timeline[1].node", "no node 'worker-2'", command=command)


def test_nodes_a_group_makes_can_be_drained(tmp_path, seed):
    seed["timeline"].append({"at": "3m", "action": "drain", "node": "node-3"})
    result = runner.invoke(app, ["run", str(write(tmp_path, seed))])
    assert result.exit_code in (0, 1), result.output  # 1: the drain costs an expectation, as it should
    assert "Node node-3 status is now: NodeNotSchedulable" in result.output


@pytest.mark.parametrize(
    ("nodes", "field"),
    [
        ([{"count": 3}, {"name": "node-2"}], "cluster.nodes[1].name: 'node-2' is also a node of cluster.nodes[0]"),
        ([{"count": 2}, {"count": 2000000000}], "cluster.nodes[1].namePrefix: 'node' makes the same node names"),
        ([{"name": "a"}, {"name": "a"}], "cluster.nodes[1].name: 'a' makes the same node names"),
        ([{"name": "Worker_1"}], "cluster.nodes[0].name: 'Worker_1' is not a valid node name"),
        ([{"name": "a", "count": 2}], "cluster.nodes[0]: give name (one node), or namePrefix and count"),
        ([{"count": 1, "cpu": "-1"}], "cluster.nodes[0].cpu: must not be negative"),
        ([{"count": 1, "labels": {"zone": "eu west"}}], "cluster.nodes[0].labels: invalid value 'eu west'"),
    ],
)
def test_node_groups_make_distinct_valid_nodes(tmp_path, seed, nodes, field):
    seed["cluster"]["nodes"] = nodes
    refused(write(tmp_path, seed), field)


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"action": "scale", "deployment": "payments", "replicas": 3}, "timeline[1].deployment: no Deployment"),
        ({"action": "set-behaviour", "image": "nope:1", "behaviour": {}}, "timeline[1].image: no version named"),
        ({"action": "cordon", "node": "node-9"}, "timeline[1].node: no node 'node-9'"),
        ({"action": "patch", "target": "service/nope", "patch": {}}, "timeline[1].target: no Service 'nope'"),
        ({"action": "patch", "target": "widget/payments-api", "patch": {}}, "timeline[1].target: cannot patch"),
        ({"action": "delete-pods", "selector": {"matchLabels": {"app": 5}}}, "timeline[1].selector"),
        ({"action": "scale", "deployment": "payments-api", "replicas": 2**31}, "timeline[1].replicas"),
    ],
)
def test_actions_naming_what_does_not_exist_are_refused_at_load(tmp_path, seed, action, field):
    seed["timeline"].append({"at": "3m", **action})
    refused(write(tmp_path, seed), field)


def test_a_patch_that_would_break_its_object_is_refused_at_load(tmp_path, seed):
    patch = {"spec": {"ports": [{"port": 70000}]}}
    seed["timeline"].append({"at": "3m", "action": "patch", "target": "service/payments-api", "patch": patch})
    refused(write(tmp_path, seed), "timeline[1].patch", "spec.ports[0].port: Invalid value: 70000")


def test_a_generated_name_cannot_be_applied(tmp_path, seed):
    manifest = yaml.safe_load((tmp_path / "manifests" / "payments-api-service.yaml").read_text())
    manifest["metadata"] = {"generateName": "svc-", "namespace": "production"}
    seed["manifests"][1] = {"inline": manifest}
    refused(write(tmp_path, seed), "manifests[1].inline", "metadata.name")


def test_an_analysis_whose_arguments_do_not_resolve_is_refused_at_load(tmp_path):
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    scenario = yaml.safe_load((ROOT / "scenarios" / "blue-green-pre-promotion.yaml").read_text())
    rollout = next(m for m in scenario["manifests"] if "inline" in m and m["inline"]["kind"] == "Rollout")
    rollout["inline"]["spec"]["strategy"]["blueGreen"]["prePromotionAnalysis"].pop("args")
    refused(write(tmp_path, scenario), "prePromotionAnalysis", "args.version was not resolved")
