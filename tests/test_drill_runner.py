"""The drill runner's parts (simdeploy/drill/): contexts, the Chaos Toolkit experiment, kubectl lines aimed at the
drill's namespace, the store's mirror of a real cluster, fidelity, calibration and the command line."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml
from drill_helpers import drill_document
from serve_helpers import ROOT
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.drill import chaos
from simdeploy.drill.compare import fidelity
from simdeploy.drill.kube import KubeError, contexts
from simdeploy.drill.observe import ProbeTraffic, _answer
from simdeploy.drill.operator import aimed
from simdeploy.drill.runner import DrillRefused, check_context
from simdeploy.drill.timebase import WallTime, sleep_until
from simdeploy.k8s.kubectl_cli import parse_kubectl
from simdeploy.scenario.drill import FidelitySpec
from simdeploy.scenario.drill_loader import load_drill
from simdeploy.scenario.loader import load_scenario
from simdeploy.sim.cluster.store import DELETED, Store
from simdeploy.sim.measure import Measurements

runner = CliRunner()


def kubeconfig(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": n, "context": {"cluster": "c", "user": "u", "namespace": "x"}} for n in names],
                "current-context": names[0],
            }
        )
    )
    return path


# -- preflight ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "allow", "allowed"),
    [
        ("kind-simdeploy", (), True),
        ("simdeploy-payments", (), True),
        ("production-eu", (), False),
        ("production-eu", ("production-eu",), True),
        ("kindly-prod", (), False),
    ],
)
def test_only_kind_and_served_contexts_are_allowed_unless_named(tmp_path, context, allow, allowed):
    path = kubeconfig(tmp_path, context)
    from simdeploy.drill.runner import Options

    settings = Options(context=context, kubeconfig=path, allow=allow)
    if allowed:
        assert check_context(settings).server == "https://127.0.0.1:1"
    else:
        with pytest.raises(DrillRefused, match=f"--allow-context {context}"):
            check_context(settings)


def test_a_kubeconfig_that_cannot_be_read_is_named(tmp_path):
    with pytest.raises(KubeError, match="cannot read kubeconfig"):
        contexts(tmp_path / "missing")
    (tmp_path / "bad").write_text("[unclosed")
    with pytest.raises(KubeError, match="cannot read kubeconfig"):
        contexts(tmp_path / "bad")


# -- the experiment ----------------------------------------------------------------------------------------------


def _target(served: bool) -> chaos.Target:
    return chaos.Target("/k", "kind-x", "sd-run", served, 0.0, {"node-3": "kind-worker3"})


def test_the_experiment_waits_for_each_fault_and_uses_chaostoolkit_kubernetes_where_it_can():
    drill = load_drill(drill_document(), base_dir=ROOT / "drills")
    experiment = chaos.experiment(drill.scenario, "d", _target(False), 360.0)
    steps = [(a["name"], a["provider"]["module"], a["provider"]["func"]) for a in experiment["method"]]
    assert steps == [
        ("wait until 30s (timeline[0])", chaos.CHAOS_ACTIONS, "wait_until"),
        ("timeline[0] delete-pods", "chaosk8s.pod.actions", "terminate_pods"),
        ("wait until 45s (timeline[1])", chaos.CHAOS_ACTIONS, "wait_until"),
        ("timeline[1] drain node-3", "chaosk8s.node.actions", "drain_nodes"),
        ("wait until 60s (timeline[2])", chaos.CHAOS_ACTIONS, "wait_until"),
        ("timeline[2] set-image payments-api", chaos.CHAOS_ACTIONS, "set_image"),
        ("wait until the scenario ends at 360s", chaos.CHAOS_ACTIONS, "wait_until"),
    ]
    drain = experiment["method"][3]
    assert drain["provider"]["arguments"]["name"] == "kind-worker3" and drain["background"] is True
    assert experiment["method"][1]["provider"]["arguments"] == {
        "label_selector": "app=payments-api",
        "ns": "sd-run",
        "rand": True,
        "qty": 1,
    }
    assert experiment["rollbacks"][0]["provider"]["func"] == "uncordon_node"
    probe = experiment["steady-state-hypothesis"]["probes"][0]
    assert probe["provider"]["func"] == "deployment_available_and_healthy" and probe["tolerance"] is True
    assert experiment["secrets"] == {"k8s": {"KUBECONFIG": "/k", "KUBERNETES_CONTEXT": "kind-x"}}
    json.dumps(experiment)  # plain data, as chaostoolkit writes it


def test_faults_only_serve_can_inject_are_refused_on_a_cluster_and_run_on_serve():
    scenario = load_scenario(ROOT / "scenarios" / "kill-switch-under-load.yaml")
    assert chaos.unsupported(scenario, served=True) == []
    refused = chaos.unsupported(scenario, served=False)
    assert refused and all("only `simdeploy serve` can inject this" in r for r in refused)
    experiment = chaos.experiment(scenario, "d", _target(True), scenario.spec.duration)
    served = [a for a in experiment["method"] if a["provider"]["func"] == "served_action"]
    assert served and served[0]["provider"]["arguments"]["action"]["action"] == "disable-flag"


# -- the runbook's lines on the cluster --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("kubectl rollout undo deployment/web -n production", ["rollout", "undo", "deployment/web", "-n", "sd-run"]),
        ("rollout status deploy/web --namespace=production --timeout=5m",
         ["rollout", "status", "deploy/web", "--timeout=5m", "-n", "sd-run"]),
        ("kubectl -nproduction scale deploy/web --replicas=3", ["scale", "deploy/web", "--replicas=3", "-n", "sd-run"]),
        ("kubectl drain node-3 --ignore-daemonsets", ["drain", "kind-worker3", "--ignore-daemonsets", "-n", "sd-run"]),
        ("kubectl apply -f manifests/web.yaml", ["apply", "-f", "/tmp/mapped.yaml", "-n", "sd-run"]),
    ],
)  # fmt: skip
def test_a_runbook_line_is_aimed_at_the_drills_namespace_nodes_and_manifests(line, expected):
    command = parse_kubectl(line)
    assert aimed(command, "sd-run", {"node-3": "kind-worker3"}, "/tmp/mapped.yaml") == expected


# -- observing ---------------------------------------------------------------------------------------------------


def test_the_store_mirrors_another_clusters_objects_and_measures_them():
    now = [0.0]
    store = Store(lambda: now[0], __import__("simdeploy.k8s.timeutil", fromlist=["x"]).DEFAULT_EPOCH)
    measurements = Measurements(store, lambda: now[0])
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "n", "uid": "real-uid", "resourceVersion": "42", "generation": 1},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "web:1"}]}}},
        "status": {},
    }
    store.mirror("MODIFIED", deployment)
    assert store.get("Deployment", "n", "web")["metadata"]["uid"] == "real-uid"
    assert store.get("Deployment", "n", "web")["metadata"]["resourceVersion"] == "42"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "n", "uid": "p1", "ownerReferences": []},
        "spec": {"containers": []},
        "status": {"phase": "Running"},
    }
    store.mirror("MODIFIED", pod)
    assert measurements.peak_pods == 1
    store.mirror(DELETED, pod)
    assert store.find("Pod", "n", "web-1") is None and measurements.pods == 0


def test_the_probe_counts_requests_as_the_traffic_model_does():
    traffic = ProbeTraffic()
    traffic.record("production", "web", "2.8.1", "200", 0.02)
    traffic.record("production", "web", "2.8.1", "500", 0.3)
    assert traffic.total.sent == 2 and traffic.total.failed == 1
    histogram = traffic.latency[("production", "web", "2.8.1")]
    assert histogram.buckets[:4] == [0, 0, 1, 1] and histogram.buckets[-1] == 2  # le 0.025 has the fast one
    assert _answer({"X-Simdeploy-Version": "2.9.0", "X-Simdeploy-Latency": "0.021"}, b"") == ("2.9.0", 0.021)
    assert _answer({}, b'{"version": "2.8.1"}') == ("2.8.1", None)
    assert _answer({}, b"ok\n") == ("unknown", None)


def test_wall_time_counts_from_its_zero_and_sleep_until_stops_when_told():
    clock = WallTime(time.time() - 10)
    assert 10 <= clock.now() < 11
    stop = threading.Event()
    stop.set()
    assert sleep_until(clock, 1e9, stop) is False
    assert sleep_until(clock, 0.0) is True


# -- comparing ---------------------------------------------------------------------------------------------------


def _document(rollout: float | None, available: int, errors: float, detect: float | None) -> dict:
    rollouts = (
        []
        if rollout is None
        else [{"revision": 2, "started_s": 60.0, "completed_s": 60 + rollout, "duration_s": rollout}]
    )
    summary = {"min_available": available, "peak_pods": 8, "requests_total": 1000.0, "errors_total": errors}
    return {
        "summary": {**summary, "deployments": {"web": {"rollouts": rollouts}}},
        "drill": {"incident": {"time_to_detect_s": detect, "time_to_mitigate_s": None, "time_to_recover_s": None}},
    }


def test_fidelity_compares_each_figure_with_its_tolerance():
    rows = {r["name"]: r for r in fidelity(_document(40, 5, 10, 100), _document(60, 4, 40, 200), FidelitySpec())}
    assert rows["rollout time web #1"]["verdict"] == "pass" and rows["rollout time web #1"]["difference"] == 20
    assert rows["min available"]["verdict"] == "pass"  # within 1
    assert rows["error ratio"]["verdict"] == "fail" and rows["error ratio"]["difference"] == pytest.approx(0.03)
    assert rows["time to detect"]["verdict"] == "fail"  # 100 s later, tolerance 60 s
    assert rows["time to mitigate"]["verdict"] == "n/a"
    missing = {r["name"]: r for r in fidelity(_document(40, 5, 10, 100), _document(None, 5, 10, None), FidelitySpec())}
    assert missing["rollout time web #1"]["verdict"] == "fail" and missing["time to detect"]["verdict"] == "fail"


# -- the command line --------------------------------------------------------------------------------------------


def test_the_cli_refuses_a_context_that_is_not_allow_listed_and_prints_a_dry_run(drill_cluster, tmp_path):
    server, _drill = drill_cluster
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill_document()))
    other = kubeconfig(tmp_path, "production-eu")
    refused = runner.invoke(app, ["drill", str(path), "--context", "production-eu", "--kubeconfig", str(other)])
    assert refused.exit_code == 2 and "--allow-context production-eu" in refused.output
    dry = runner.invoke(
        app,
        [
            "drill",
            str(path),
            "--context",
            "simdeploy-drain-and-bad-release",
            "--kubeconfig",
            str(server.kubeconfig_path),
            "--dry-run",
        ],
    )
    assert dry.exit_code == 0, dry.output
    assert "chaos: timeline[2] set-image payments-api" in dry.output and "delete namespace sd-" in dry.output
    assert runner.invoke(app, ["drill", str(path), "--context", "x", "--probe-rate", "0"]).exit_code == 2


@pytest.mark.parametrize(
    "seconds",
    [[12.31, 12.32, 12.34], [5.0, 5.0, 5.0, 5.0], [3.0, 4.0, 9.0, 20.0], [7.5]],
)
def test_a_calibrated_start_up_is_a_distribution_the_scenario_accepts(seconds):
    # Close timings can print as the same 3 digits: the fit must still be one the scenario format takes.
    from simdeploy.drill.calibrate import _fit
    from simdeploy.scenario.schema import DistributionSpec

    fitted = _fit(seconds)
    spec = DistributionSpec.model_validate(fitted)
    if "lognormal" in fitted:
        assert float(fitted["lognormal"]["p95"][:-1]) > float(fitted["lognormal"]["median"][:-1])
    else:
        assert spec.fixed is not None
