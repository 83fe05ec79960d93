"""Namespaces under `simdeploy serve` as a drill runner uses them: create with labels, select, delete everything in
one (as the namespace controller does), and NamespaceLifecycle's refusals."""

from __future__ import annotations

import json
import threading
import time

import pytest
import yaml
from serve_helpers import ROOT, SEED, kubectl, needs_kubectl, ok, request, send

import simdeploy
from simdeploy.apiserver.protobuf import to_json
from simdeploy.apiserver.status import ApiError

DRILL = {"simdeploy.io/drill": "rollback-undo", "simdeploy.io/run": "r1"}
NAMESPACES = "/api/v1/namespaces"


def deployment_in(namespace: str) -> dict:
    """The seed's payments-api Deployment, in another namespace."""
    manifest = yaml.safe_load((ROOT / "scenarios" / "manifests" / "payments-api.yaml").read_text())
    manifest["metadata"]["namespace"] = namespace
    return manifest


def advance(server, seconds: float) -> None:
    with server.lock:
        server.sim.run_until(server.sim.now + seconds)


def names(listed: dict) -> list[str]:
    return [item["metadata"]["name"] for item in listed["items"]]


# -- the simulation's namespace controller, without a server ------------------------------------------------


def test_the_namespace_controller_empties_a_terminating_namespace_then_removes_it():
    sim = simdeploy.load(SEED)
    sim.run_until(20)
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "drill", "labels": DRILL}})
    sim.api.create(deployment_in("drill"))
    sim.run_until(60)
    assert len(sim.store.list("Pod", "drill")) == 6
    namespace = sim.store.get("Namespace", "", "drill")
    assert namespace["spec"]["finalizers"] == ["kubernetes"] and namespace["status"] == {"phase": "Active"}
    assert namespace["metadata"]["labels"] == {**DRILL, "kubernetes.io/metadata.name": "drill"}

    sim.api.delete_namespace("drill")
    assert namespace["status"]["phase"] == "Terminating" and namespace["metadata"]["deletionTimestamp"]
    sim.run_until(61)  # the controller's sync: owners at once, pods gracefully
    assert sim.store.list("Deployment", "drill") == [] and sim.store.list("ReplicaSet", "drill") == []
    pods = sim.store.list("Pod", "drill")
    assert len(pods) == 6 and all(p["metadata"].get("deletionTimestamp") for p in pods)
    remaining = {c["type"]: c for c in namespace["status"]["conditions"]}["NamespaceContentRemaining"]
    assert (remaining["status"], remaining["message"]) == (
        "True",
        "Some resources are remaining: pods. has 6 resource instances",
    )
    sim.run_until(120)  # past the preStop sleep and the grace period: the last pod's deletion ends it
    assert sim.store.find("Namespace", "", "drill") is None
    assert sim.store.list("Pod", "drill") == []
    assert len(sim.store.list("Pod", "production")) == 6  # the rest of the cluster is untouched


def test_a_namespace_without_finalizers_goes_at_once_and_names_are_dns_labels():
    sim = simdeploy.load(SEED)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "drill.a"}}  # a subdomain
    with pytest.raises(ValueError, match="metadata.name: Invalid value: 'drill.a': a lowercase RFC 1123 label"):
        sim.api.create(namespace)
    stored = sim.api.create({**namespace, "metadata": {"name": "scratch"}})
    stored["spec"]["finalizers"] = []
    sim.store.update(stored)
    sim.api.delete_namespace("scratch")
    assert sim.store.find("Namespace", "", "scratch") is None


# -- over the API -------------------------------------------------------------------------------------------


def test_namespaces_the_scenario_uses_exist_without_being_stored_until_written(serving):
    with serving(until=10, speed=0) as server:
        version = server.sim.store.resource_version
        code, _, listed = request(server, NAMESPACES)
        assert names(listed) == ["default", "kube-public", "kube-system", "production"]
        assert {item["status"]["phase"] for item in listed["items"]} == {"Active"}
        assert server.sim.store.resource_version == version  # serving added nothing to the scenario's store
        assert server.sim.store.list("Namespace") == []
        merge = "application/merge-patch+json"
        bad = {"metadata": {"labels": "team"}}
        code, refused = send(server, "PATCH", f"{NAMESPACES}/production", bad, merge)
        assert (code, refused["reason"]) == (422, "Invalid")
        assert send(server, "PATCH", f"{NAMESPACES}/production", {}, merge)[0] == 200
        assert server.sim.store.list("Namespace") == []  # refused or no change: still not stored
        label = {"metadata": {"labels": {"team": "payments"}}}
        code, labelled = send(server, "PATCH", f"{NAMESPACES}/production", label, "application/merge-patch+json")
        assert code == 200
        assert labelled["metadata"]["labels"] == {"kubernetes.io/metadata.name": "production", "team": "payments"}
        assert server.sim.store.get("Namespace", "", "production")["metadata"]["labels"]["team"] == "payments"
        assert names(request(server, NAMESPACES)[2]) == ["default", "kube-public", "kube-system", "production"]
        code, again = send(server, "POST", NAMESPACES, {"metadata": {"name": "default"}})
        assert (code, again["reason"]) == (409, "AlreadyExists")


def test_create_with_labels_select_and_namespace_lifecycle_refusals(serving):
    with serving(until=10, speed=0) as server:
        code, created = send(server, "POST", NAMESPACES, {"metadata": {"name": "drill-a", "labels": DRILL}})
        assert code == 201
        assert (created["status"]["phase"], created["spec"]["finalizers"]) == ("Active", ["kubernetes"])
        assert send(server, "POST", NAMESPACES, {"metadata": {"name": "other"}})[0] == 201
        selected = request(server, f"{NAMESPACES}?labelSelector=simdeploy.io%2Fdrill%3Drollback-undo")[2]
        assert names(selected) == ["drill-a"]

        config = {"metadata": {"name": "flags"}, "data": {"a": "1"}}
        code, missing = send(server, "POST", f"{NAMESPACES}/nosuch/configmaps", config)
        assert (code, missing["reason"], missing["message"]) == (404, "NotFound", 'namespaces "nosuch" not found')
        code, invalid = send(server, "POST", NAMESPACES, {"metadata": {"name": "Drill_B"}})
        assert (code, invalid["details"]["causes"][0]["field"]) == (422, "metadata.name")
        code, immortal = send(server, "DELETE", f"{NAMESPACES}/kube-system")
        assert (code, immortal["message"]) == (
            403,
            'namespaces "kube-system" is forbidden: this namespace may not be deleted',
        )

        assert send(server, "POST", "/apis/apps/v1/namespaces/drill-a/deployments", deployment_in("drill-a"))[0] == 201
        advance(server, 30)
        code, deleting = send(server, "DELETE", f"{NAMESPACES}/drill-a")
        assert (code, deleting["kind"], deleting["status"]["phase"]) == (200, "Namespace", "Terminating")
        assert deleting["metadata"]["deletionTimestamp"]
        code, refused = send(server, "POST", f"{NAMESPACES}/drill-a/configmaps", config)
        assert (code, refused["reason"]) == (403, "Forbidden")
        assert refused["message"] == (
            'configmaps "flags" is forbidden: unable to create new content in namespace drill-a '
            "because it is being terminated"
        )
        assert refused["details"]["causes"] == [
            {
                "reason": "NamespaceTerminating",
                "message": "namespace drill-a is being terminated",
                "field": "metadata.namespace",
            }
        ]
        assert send(server, "POST", f"{NAMESPACES}/other/configmaps", config)[0] == 201
        advance(server, 90)
        assert request(server, f"{NAMESPACES}/drill-a")[0] == 404
        assert request(server, "/api/v1/namespaces/drill-a/pods")[2]["items"] == []
        assert send(server, "DELETE", NAMESPACES)[0] == 405  # no deletecollection for namespaces


def test_the_python_client_watches_namespaces_come_and_go(serving):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config, watch

    with serving(until=10, speed=5) as server:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(server.kubeconfig_path)))
        start = core.list_namespace().metadata.resource_version
        seen = []

        def follow() -> None:
            for event in watch.Watch().stream(core.list_namespace, resource_version=start, timeout_seconds=10):
                seen.append((event["type"], event["object"].metadata.name, event["object"].status.phase))
                if event["type"] == "DELETED":
                    return

        watching = threading.Thread(target=follow)
        watching.start()
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="drill-w", labels=DRILL)))
        listed = core.list_namespace(label_selector="simdeploy.io/run=r1").items
        assert [n.metadata.labels["simdeploy.io/drill"] for n in listed] == ["rollback-undo"]
        core.delete_namespace("drill-w")
        watching.join(timeout=15)
        with pytest.raises(kubernetes.client.ApiException) as gone:
            core.read_namespace("drill-w")
    assert seen[0] == ("ADDED", "drill-w", "Active")
    assert ("MODIFIED", "drill-w", "Terminating") in seen
    assert seen[-1][:2] == ("DELETED", "drill-w")
    assert gone.value.status == 404


@needs_kubectl
def test_kubectl_creates_labels_selects_and_deletes_a_drill_namespace(serving, tmp_path):
    with serving(until=10, speed=20) as server:
        assert ok(kubectl(server, tmp_path, "create", "namespace", "drill-k")).strip() == "namespace/drill-k created"
        ok(kubectl(server, tmp_path, "label", "namespace", "drill-k", "simdeploy.io/drill=rollback-undo"))
        listed = ok(kubectl(server, tmp_path, "get", "ns", "-l", "simdeploy.io/drill", "-o", "name"))
        assert listed.split() == ["namespace/drill-k"]
        config_map = ok(
            kubectl(server, tmp_path, "create", "configmap", "flags", "--from-literal=a=1", "-n", "drill-k")
        )
        assert config_map.strip() == "configmap/flags created"  # a protobuf body, read as the JSON one
        manifest = tmp_path / "deployment.json"
        manifest.write_text(json.dumps(deployment_in("drill-k")))
        ok(kubectl(server, tmp_path, "apply", "-f", str(manifest)))
        time.sleep(1)  # 20 simulated seconds: the pods run
        started = time.monotonic()
        deleted = kubectl(server, tmp_path, "delete", "namespace", "drill-k", "--timeout=60s", timeout=70)
        assert ok(deleted).strip() == 'namespace "drill-k" deleted'
        assert time.monotonic() - started > 0.5  # kubectl waited for the pods' graceful ends (≥ 15 s simulated)
        gone = kubectl(server, tmp_path, "get", "namespace", "drill-k")
        assert 'namespaces "drill-k" not found' in gone.stderr
        nowhere = kubectl(server, tmp_path, "create", "configmap", "x", "-n", "nosuch")
        assert 'namespaces "nosuch" not found' in nowhere.stderr


def test_protobuf_bodies_of_other_kinds_are_refused_with_a_way_out():
    body = b"k8s\x00" + bytes([0x0A, 0x15, 0x0A, 0x07]) + b"apps/v1" + bytes([0x12, 0x0A]) + b"Deployment"
    with pytest.raises(ApiError) as refused:
        to_json(body + bytes([0x12, 0x00]))
    assert refused.value.code == 415 and "--dry-run=client -o yaml" in refused.value.message
    # What `kubectl create namespace x` sends: every optional field written, most of them empty.
    namespace = (
        b'k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x19\n\x11\n\x01x\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00'
        b"\x12\x00\x1a\x02\n\x00"
    )
    assert json.loads(to_json(namespace)) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    with pytest.raises(ApiError) as truncated:
        to_json(namespace[:-3])
    assert truncated.value.code == 400
