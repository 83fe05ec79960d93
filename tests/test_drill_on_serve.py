"""`simdeploy drill --context`: the same drill file on a Kubernetes API, here a `simdeploy serve` of the drill's
cluster, with the real kubectl, chaoslib and chaostoolkit-kubernetes; refused contexts, dry runs, interruptions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from drill_helpers import drill_document, options
from serve_helpers import needs_kubectl

from simdeploy.apiserver import ApiServer
from simdeploy.drill.runner import DrillRefused, dry_run_lines, plan, run
from simdeploy.scenario.loader import load_scenario


def methods(server: ApiServer) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in server.requests.document()["log"]]


@needs_kubectl
def test_a_drill_runs_on_the_served_cluster_end_to_end(drill_cluster, tmp_path):
    server, drill = drill_cluster
    document, code = run(drill, options(server, tmp_path, calibrate=tmp_path / "versions.yaml"))
    assert document["status"] == "completed" and document["served"] is True
    chaos = json.loads((tmp_path / "journal" / "journal.json").read_text())
    names = [r["activity"]["name"] for r in chaos["run"] if not r["activity"]["name"].startswith("wait ")]
    assert names == [
        "timeline[0] delete-pods",
        "timeline[1] drain node-3",
        "timeline[2] set-image payments-api",
    ]
    assert all(r["status"] == "succeeded" for r in chaos["run"]), [r.get("exception") for r in chaos["run"]]
    providers = {r["activity"]["provider"]["module"] for r in chaos["run"]}
    assert {"chaosk8s.pod.actions", "chaosk8s.node.actions", "simdeploy.drill.chaos_actions"} <= providers
    assert chaos["steady_states"]["before"]["steady_state_met"] and chaos["steady_states"]["after"]["steady_state_met"]
    assert [r["activity"]["name"] for r in chaos["rollbacks"]] == ["uncordon node-3"]
    # The runbook's lines, run by the real kubectl in the drill's namespace.
    namespace = document["namespace"]
    assert [c["command"] for c in document["commands"]] == [
        f"kubectl rollout undo deployment/payments-api -n {namespace}",
        f"kubectl uncordon node-3 -n {namespace}",
        f"kubectl rollout status deployment/payments-api --timeout=3m -n {namespace}",
    ]
    assert all(c["exit"] == 0 for c in document["commands"])
    observed, predicted = document["observed"], document["predicted"]
    assert observed["drill"]["verdict"] == predicted["drill"]["verdict"] == "pass"
    detect = next(row for row in document["fidelity"] if row["name"] == "time to detect")
    assert detect["verdict"] == "pass" and detect["observed"] is not None
    assert document["verdict"] == "pass" and code == 0, document["reasons"]
    result = json.loads((tmp_path / "journal" / "result.json").read_text())
    assert result["observed"]["summary"]["rollouts"] and result["fidelity"] == document["fidelity"]
    # The namespace is gone, and so is every object the drill made in it.
    with server.lock:
        assert not [o for o in server.sim.store.snapshot() if o["metadata"].get("namespace") == namespace]
    assert ("DELETE", f"/api/v1/namespaces/{namespace}") in methods(server)
    # --calibrate: start-up fitted to the pods the drill saw, as a `versions` snippet a scenario takes.
    snippet = yaml.safe_load((tmp_path / "versions.yaml").read_text())
    assert set(snippet["versions"]) == {
        "registry.example.com/payments-api@sha256:abc123...",
        "registry.example.com/payments-api:2.9.0",
    }
    scenario = {**drill_document()["scenario"], "versions": {**drill_document()["scenario"]["versions"]}}
    for image, fitted in snippet["versions"].items():
        scenario["versions"][image] = {**scenario["versions"][image], **fitted}
    assert load_scenario(scenario).spec.versions["registry.example.com/payments-api:2.9.0"].startup is not None


def test_a_context_that_is_not_allow_listed_is_refused_before_any_request(drill_cluster, tmp_path):
    server, drill = drill_cluster
    config = yaml.safe_load(server.kubeconfig_path.read_text())
    config["contexts"][0]["name"] = config["current-context"] = "production-eu"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    before = len(methods(server))
    with pytest.raises(DrillRefused) as refused:
        run(drill, options(server, tmp_path, context="production-eu", kubeconfig=path))
    assert "--allow-context production-eu" in str(refused.value)
    assert len(methods(server)) == before  # nothing was sent
    with pytest.raises(DrillRefused) as missing:
        plan(drill, options(server, tmp_path, context="kind-nowhere", kubeconfig=path))
    assert "not in" in str(missing.value) and "production-eu" in str(missing.value)


def test_a_dry_run_sends_no_write(drill_cluster, tmp_path):
    server, drill = drill_cluster
    with server.lock:
        before = server.sim.store.snapshot()
    lines = dry_run_lines(plan(drill, options(server, tmp_path)))
    writes = [(m, p) for m, p in methods(server) if m != "GET" and "accessreviews" not in p]
    assert writes == []
    with server.lock:
        assert server.sim.store.snapshot() == before
    text = "\n".join(lines)
    assert "create namespace sd-drain-and-bad-release-" in text and "chaos: timeline[1] drain node-3" in text
    assert "step 2 give node-3 back: kubectl uncordon node-3 -n sd-drain-and-bad-release-" in text


@needs_kubectl
def test_sigint_mid_drill_runs_the_rollbacks_deletes_the_namespace_and_says_interrupted(drill_cluster, tmp_path):
    server, _drill = drill_cluster
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump({**drill_document(), "scenario": drill_document()["scenario"]}))
    journal = tmp_path / "journal"
    command = [sys.executable, "-m", "simdeploy", "drill", str(path), "--context", "simdeploy-drain-and-bad-release"]
    command += ["--kubeconfig", str(server.kubeconfig_path), "--journal", str(journal), "--probe-rate", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ)
    deadline = time.monotonic() + 60
    drained = False
    while time.monotonic() < deadline and not drained:  # wait until the drain has happened
        time.sleep(0.2)
        with server.lock:
            node = server.sim.store.find("Node", "", "node-3")
            drained = bool(node and node["spec"].get("unschedulable"))
    assert drained, "the experiment never drained node-3"
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    result = json.loads((journal / "result.json").read_text())
    chaos = json.loads((journal / "journal.json").read_text())
    assert result["status"] == "interrupted" and chaos["status"] == "interrupted"
    assert [r["activity"]["name"] for r in chaos["rollbacks"]] == ["uncordon node-3"]
    with server.lock:
        assert not server.sim.store.get("Node", "", "node-3")["spec"].get("unschedulable")
        assert not [o for o in server.sim.store.snapshot() if o["metadata"].get("namespace") == result["namespace"]]


@needs_kubectl
def test_manual_runs_nothing_of_the_runbook_and_watches(drill_cluster, tmp_path):
    server, drill = drill_cluster
    said = []
    document, _code = run(drill, options(server, tmp_path, manual=True, say=said.append))
    assert document["commands"] == [] or all(c["exit"] is None for c in document["commands"])
    assert any(text.startswith("now, by hand: kubectl rollout undo") for text in said)
    assert not [m for m, p in methods(server) if m == "PATCH" and p.endswith("/deployments/payments-api")][1:]
