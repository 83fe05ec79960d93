"""A runbook's kubectl line does what the real kubectl does: the same line, run by kubectl against `simdeploy serve`
and by the runbook engine on a twin simulation, leaves the same objects."""

from __future__ import annotations

import copy
import json
import shlex

import pytest
import yaml
from serve_helpers import ROOT, SEED, kubectl, needs_kubectl

import simdeploy
from simdeploy.delivery.runbook.actions import run_kubectl
from simdeploy.k8s.kubectl_cli import parse_kubectl
from simdeploy.scenario.loader import _read_manifests
from simdeploy.scenario.schema import ManifestRef

AT = 200.0  # the seed scenario's rollout to 2.9.0 is complete: revisions 1 and 2 exist
NS = "production"
# The one value the two can never share: kubectl stamps it from the client's clock.
VOLATILE = ("kubectl.kubernetes.io/restartedAt",)


def _manifest(tmp_path) -> str:
    manifest = yaml.safe_load((ROOT / "scenarios" / "manifests" / "payments-api.yaml").read_text())
    manifest["spec"]["replicas"] = 7
    manifest["metadata"]["labels"]["tier"] = "api"
    path = tmp_path / "payments-api.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return str(path)


LINES = [
    "set image deployment/payments-api api=registry.example.com/payments-api:3.0.0",
    "scale deployment/payments-api --replicas=8",
    "scale --replicas 4 deploy payments-api",
    """patch deployment payments-api -p '{"spec":{"template":{"metadata":{"labels":{"canary":"no"}}}}}'""",
    """patch deployment payments-api --type=merge -p '{"metadata":{"labels":{"team":"payments"}}}'""",
    """patch deploy/payments-api --type=json -p '[{"op":"replace","path":"/spec/revisionHistoryLimit","value":5}]'""",
    """patch service payments-api -p '{"spec":{"selector":{"app":"payments-api","track":"stable"}}}'""",
    "rollout undo deployment/payments-api",
    "rollout undo deployment/payments-api --to-revision=2",
    "rollout pause deployment/payments-api",
    "rollout restart deployment/payments-api",
    "cordon node-1",
    "uncordon node-1",
    "delete pod {pod} --wait=false",
    "delete pods -l app=payments-api --grace-period=5 --wait=false",
    "apply -f {manifest}",
    "drain node-2 --ignore-daemonsets --delete-emptydir-data --timeout=2s",
]


def _state(sim) -> list[dict]:
    objects = []
    for obj in sim.store.snapshot():
        if obj["kind"] in ("Event", "Endpoints"):
            continue
        obj["metadata"].pop("resourceVersion", None)
        obj["metadata"].pop("managedFields", None)
        for found in (obj["metadata"].get("annotations"), _template_annotations(obj)):
            for key in VOLATILE:
                if found and key in found:
                    found[key] = "(set)"
        objects.append(obj)
    return objects


def _template_annotations(obj: dict) -> dict | None:
    return ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations")


@needs_kubectl
@pytest.mark.parametrize("line", LINES)
def test_the_runbook_engine_and_the_real_kubectl_leave_the_same_objects(line, tmp_path, serving):
    twin = simdeploy.load(SEED)
    twin.run_until(AT)
    pod = sorted(p["metadata"]["name"] for p in twin.store.list("Pod", NS))[0]
    text = line.replace("{pod}", pod).replace("{manifest}", _manifest(tmp_path))
    with serving(until=AT, speed=0) as server:
        before = _state(server.sim)
        assert before == _state(twin)  # the same world on both sides
        done = kubectl(server, tmp_path, "-n", NS, *shlex.split(text), timeout=30)
        assert done.returncode == 0 or "drain" in text, done.stderr
        with server.lock:
            served = _state(server.sim)
    command = parse_kubectl(f"kubectl {text} -n {NS}")
    manifests = []
    if command.command == "apply":
        manifests = _read_manifests(ManifestRef(file=command.options["filename"][0]), tmp_path, "-f", [])
    outcome = run_kubectl(twin, command, NS, copy.deepcopy(manifests))
    assert not outcome.failed, outcome.message
    simulated = _state(twin)
    changed = [o for o in served if o not in before]
    assert changed or "to-revision=2" in text or "uncordon" in text, "kubectl changed nothing"
    assert json.dumps(simulated, sort_keys=True, indent=1) == json.dumps(served, sort_keys=True, indent=1)
