"""`simdeploy kind up|down` with fake kind and docker on PATH (no cluster here), and the kind CI workflow file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.drill.demo_app import DEMO_IMAGE, app_dir

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".ci" / "workflows" / "kind-drill.yml"
runner = CliRunner()

# Each fake appends {"tool", "args"} to $FAKE_RECORD; kind's `create cluster` also records its --config file.
FAKE = """#!{python}
import json, os, sys
tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
record = {{"tool": tool, "args": args}}
if args[:2] == ["create", "cluster"]:
    record["config"] = open(args[args.index("--config") + 1]).read()
with open(os.environ["FAKE_RECORD"], "a") as stream:
    stream.write(json.dumps(record) + "\\n")
if tool == "docker" and args == ["info"] and os.environ.get("FAKE_ENGINE") == "down":
    print("Client: Docker Engine - Community")
    print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
          file=sys.stderr)
    sys.exit(1)
if tool == "kind" and args[:2] == ["get", "clusters"]:
    clusters = [name for name in os.environ.get("FAKE_CLUSTERS", "").split(",") if name]
    print("\\n".join(clusters)) if clusters else print("No kind clusters found.", file=sys.stderr)
sys.exit(int(os.environ.get("FAKE_FAIL_" + tool.upper() + "_" + (args[0].upper() if args else ""), "0")))
"""


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """A PATH holding only fake `kind` and `docker` (either can be removed); returns a reader of their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kind", "docker"):
        path = bin_dir / tool
        path.write_text(FAKE.format(python=sys.executable))
        path.chmod(0o755)
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_RECORD", str(record))

    class Tools:
        directory = bin_dir

        @staticmethod
        def calls() -> list[dict]:
            return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []

        @staticmethod
        def commands() -> list[list[str]]:
            return [[call["tool"], *call["args"]] for call in Tools.calls()]

    return Tools


def kind(*args: str):
    return runner.invoke(app, ["kind", *args])


def test_without_kind_and_docker_up_exits_2_saying_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = kind("up")
    assert result.exit_code == 2
    assert "kind is not on PATH" in result.output and "kind.sigs.k8s.io" in result.output
    assert "docker is not on PATH" in result.output and "docs.docker.com/engine/install" in result.output
    assert "Traceback" not in result.output


def test_docker_cli_without_an_engine_exits_2_naming_the_engine(tools, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE", "down")
    result = kind("up")
    assert result.exit_code == 2
    assert "docker is installed but its engine does not answer" in result.output
    assert "Cannot connect to the Docker daemon" in result.output
    assert "kind is not on PATH" not in result.output
    assert tools.commands() == [["docker", "info"]]  # nothing created, built or loaded


def test_kind_missing_alone_is_named_alone(tools):
    (tools.directory / "kind").unlink()
    result = kind("down")
    assert result.exit_code == 2
    assert "kind is not on PATH" in result.output and "docker is" not in result.output


def test_up_creates_a_four_node_cluster_builds_and_loads_the_demo_image(tools):
    result = kind("up", "--name", "drills")
    assert result.exit_code == 0, result.output
    commands = tools.commands()
    assert commands[:2] == [["docker", "info"], ["kind", "get", "clusters"]]
    create = commands[2]
    assert create[:5] == ["kind", "create", "cluster", "--name", "drills"] and create[5] == "--config"
    assert commands[3:] == [
        ["docker", "build", "-t", DEMO_IMAGE, str(app_dir())],
        ["kind", "load", "docker-image", DEMO_IMAGE, "--name", "drills"],
    ]
    config = yaml.safe_load(tools.calls()[2]["config"])
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [node["role"] for node in config["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert not Path(create[6]).exists()  # the generated config is removed afterwards
    assert "kind-drills" in result.output
    assert "simdeploy drill drills/rollback-undo.yaml --context kind-drills" in result.output


def test_up_keeps_an_existing_cluster_and_image_only_needs_one(tools, monkeypatch):
    monkeypatch.setenv("FAKE_CLUSTERS", "other,simdeploy")
    result = kind("up")
    assert result.exit_code == 0, result.output
    assert "exists" in result.output
    assert [c[:2] for c in tools.commands()] == [
        ["docker", "info"],
        ["kind", "get"],
        ["docker", "build"],
        ["kind", "load"],
    ]
    monkeypatch.setenv("FAKE_CLUSTERS", "other")
    result = kind("up", "--image-only")
    assert result.exit_code == 2
    assert "no kind cluster 'simdeploy'" in result.output
    assert not any(c[:2] == ["kind", "create"] for c in tools.commands())


def test_a_failing_step_stops_up_with_exit_1(tools, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL_DOCKER_BUILD", "1")
    result = kind("up")
    assert result.exit_code == 1
    assert f"docker build -t {DEMO_IMAGE}" in result.output and "failed (exit status 1)" in result.output
    assert not any(c[:2] == ["kind", "load"] for c in tools.commands())


def test_bad_name_or_app_dir_exits_2_before_running_anything(tools, tmp_path):
    result = kind("up", "--name", "My_Cluster")
    assert result.exit_code == 2 and "--name 'My_Cluster'" in result.output
    result = kind("up", "--app-dir", str(tmp_path))
    assert result.exit_code == 2 and "no Dockerfile" in result.output
    assert tools.commands() == []


def test_down_deletes_the_cluster_or_says_there_is_none(tools, monkeypatch):
    monkeypatch.setenv("FAKE_CLUSTERS", "simdeploy")
    result = kind("down")
    assert result.exit_code == 0, result.output
    assert tools.commands()[-1] == ["kind", "delete", "cluster", "--name", "simdeploy"]
    monkeypatch.setenv("FAKE_CLUSTERS", "")
    result = kind("down", "--name", "gone")
    assert result.exit_code == 0 and "no kind cluster gone" in result.output
    assert tools.commands()[-1] == ["kind", "get", "clusters"]


def test_kind_ci_workflow_runs_one_drill_on_a_kind_cluster():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["name"] and workflow[True]  # YAML 1.1 reads the key `on` as true
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = [line.split("#")[0].strip() for step in steps for line in step.get("run", "").splitlines()]
    assert any("kind.sigs.k8s.io/dl/" in line for line in runs)  # kind installed in the job
    assert runs.index("simdeploy kind up") < runs.index(
        "simdeploy drill drills/rollback-undo.yaml --context kind-simdeploy --json drill.json"
    )
    assert runs[-1] == "simdeploy kind down"
    assert steps[-1]["if"] == "always()"
    assert (ROOT / "drills" / "rollback-undo.yaml").is_file()
    assert "NOT been run" in WORKFLOW.read_text() and ".github/workflows/" in WORKFLOW.read_text()
