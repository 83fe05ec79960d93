"""`simdeploy serve`: the simulation behind the Kubernetes API, read by the real kubectl and by plain HTTPS."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest
from serve_helpers import KUBECTL, kubectl, needs_kubectl, request, rows, trusting

from simdeploy.apiserver.tables import human_duration

# -- the real kubectl ----------------------------------------------------------


@needs_kubectl
def test_kubectl_reads_deployments_pods_and_replicasets(tmp_path, serving):
    with serving(until=60, speed=1) as server:
        assert server.kubeconfig_path.read_text().count("simdeploy-payments-rolling-update") >= 3
        deployments = kubectl(server, tmp_path, "get", "deployments", "-n", "production")
        assert deployments.returncode == 0, deployments.stderr
        assert deployments.stdout.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        assert rows(deployments.stdout)[0][:4] == ["payments-api", "6/6", "6", "6"]

        pods = kubectl(server, tmp_path, "get", "pods", "-n", "production")
        assert pods.stdout.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert len(rows(pods.stdout)) == 6
        assert all(row[1:4] == ["1/1", "Running", "0"] for row in rows(pods.stdout))

        replicasets = kubectl(server, tmp_path, "get", "rs", "-n", "production")
        assert replicasets.stdout.split()[:5] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
        [replicaset] = rows(replicasets.stdout)
        assert replicaset[0].startswith("payments-api-") and replicaset[1:4] == ["6", "6", "6"]

        document = json.loads(
            kubectl(server, tmp_path, "get", "deployment", "payments-api", "-n", "production", "-o", "json").stdout
        )
        assert document["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert document["status"]["availableReplicas"] == 6

        missing = kubectl(server, tmp_path, "get", "pod", "nosuch", "-n", "production")
        assert missing.returncode == 1
        assert 'Error from server (NotFound): pods "nosuch" not found' in missing.stderr


@needs_kubectl
def test_kubectl_get_pods_watch_follows_the_rollout(tmp_path, serving):
    # 100 s in, at 20x: the set-image at 2m comes 1 s after the start, the rollout is over by about 3.5 s.
    with serving(until=100, speed=20) as server:
        command = [KUBECTL, "--kubeconfig", str(server.kubeconfig_path), "--cache-dir", str(tmp_path / "c")]
        with pytest.raises(subprocess.TimeoutExpired) as stopped:
            subprocess.run([*command, "get", "pods", "-n", "production", "-w"], capture_output=True, timeout=5)
    lines = stopped.value.stdout.decode().strip().splitlines()
    listed = {line.split()[0] for line in lines[1:7]}
    assert len(listed) == 6
    events = [line.split() for line in lines[7:]]
    new_pods = {event[0] for event in events if event[0] not in listed}
    assert len(new_pods) >= 6  # the new ReplicaSet's pods, created by the simulated rollout
    assert any(event[0] in new_pods and event[1:3] == ["1/1", "Running"] for event in events)
    assert any(event[0] in listed and event[2] == "Terminating" for event in events)


@needs_kubectl
def test_kubectl_rollout_status_falls_back_from_watch_list_and_completes(tmp_path, serving):
    with serving(until=121, speed=20) as server:  # the rollout began at 2m: kubectl must watch it finish
        status = kubectl(server, tmp_path, "rollout", "status", "deployment/payments-api", "-n", "production")
        assert status.returncode == 0, status.stderr
        assert 'deployment "payments-api" successfully rolled out' in status.stdout
        history = kubectl(server, tmp_path, "rollout", "history", "deployment/payments-api", "-n", "production")
        assert [row[0] for row in rows(history.stdout)[1:]] == ["1", "2"]


@needs_kubectl
def test_kubectl_without_the_token_is_refused(tmp_path, serving):
    with serving(until=0, speed=0) as server:
        config = server.kubeconfig_path.read_text().replace(server.token, "wrong-token")
        (tmp_path / "bad").write_text(config)
        refused = kubectl(server, tmp_path, "get", "pods", "-n", "production", kubeconfig=tmp_path / "bad")
        assert refused.returncode == 1
        assert "You must be logged in to the server" in refused.stderr  # kubectl's words for a 401


# -- plain HTTPS -----------------------------------------------------------------


def test_requests_without_a_token_get_a_401_status(serving):
    with serving(until=0, speed=0) as server:
        code, _, body = request(server, "/api/v1/namespaces/production/pods", token=False)
    assert code == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_errors_are_status_objects(serving):
    with serving(until=0, speed=0) as server:
        code, _, missing = request(server, "/apis/apps/v1/namespaces/production/deployments/nosuch")
        assert (code, missing["reason"], missing["message"]) == (404, "NotFound", 'deployments.apps "nosuch" not found')
        assert missing["details"] == {"name": "nosuch", "kind": "deployments", "group": "apps"}
        code, _, unknown = request(server, "/apis/apps/v1/namespaces/production/widgets")
        assert (code, unknown["message"]) == (404, "the server could not find the requested resource")
        code, _, bad = request(server, "/api/v1/namespaces/production/pods?fieldSelector=spec.bogus%3Dx")
        assert (code, bad["reason"], bad["message"]) == (400, "BadRequest", "field label not supported: spec.bogus")
        code, _, bad = request(server, "/api/v1/pods?labelSelector=app%3D%3D%3D")
        assert (code, bad["kind"]) == (400, "Status")
        code, _, gone = request(server, "/api/v1/namespaces/production/pods/x", method="DELETE")
        assert (code, gone["message"]) == (404, 'pods "x" not found')
        code, _, write = request(server, "/api/v1/namespaces/production/events", method="PUT")
        assert (code, write["reason"]) == (405, "MethodNotAllowed")


def test_field_and_label_selectors_filter_lists(serving):
    with serving(until=30, speed=0) as server:
        _, _, pods = request(server, "/api/v1/namespaces/production/pods")
        assert pods["kind"] == "PodList" and pods["metadata"]["resourceVersion"] == str(
            server.sim.store.resource_version
        )
        name = pods["items"][2]["metadata"]["name"]
        _, _, one = request(server, f"/api/v1/namespaces/production/pods?fieldSelector=metadata.name%3D{name}")
        assert [p["metadata"]["name"] for p in one["items"]] == [name]
        _, _, others = request(
            server, f"/api/v1/pods?fieldSelector=metadata.name!%3D{name},metadata.namespace%3Dproduction"
        )
        assert len(others["items"]) == 5
        _, _, none = request(server, "/api/v1/namespaces/production/pods?labelSelector=app%3Dother")
        assert none["items"] == []
        _, _, labelled = request(server, "/api/v1/namespaces/production/pods?labelSelector=app%20in%20(payments-api)")
        assert len(labelled["items"]) == 6
        _, _, elsewhere = request(server, "/api/v1/namespaces/default/pods")
        assert elsewhere["items"] == []


def test_discovery_is_aggregated_only_when_asked(serving):
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    with serving(until=0, speed=0) as server:
        _, headers, apis = request(server, "/apis", accept=aggregated)
        assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        apps = next(group for group in apis["items"] if group["metadata"]["name"] == "apps")
        deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
        assert deployments["shortNames"] == ["deploy"] and deployments["scope"] == "Namespaced"
        _, _, legacy = request(server, "/api")
        assert legacy["kind"] == "APIVersions"
        _, _, core = request(server, "/api/v1")
        assert {"pods", "nodes", "events", "namespaces"} <= {r["name"] for r in core["resources"]}
        _, _, version = request(server, "/version")
        assert version["major"] == "1"


def test_watch_streams_changes_after_the_resource_version(serving):
    with serving(until=100, speed=50) as server:
        _, _, listed = request(server, "/apis/apps/v1/namespaces/production/replicasets")
        start = int(listed["metadata"]["resourceVersion"])
        query = f"watch=true&resourceVersion={start}&timeoutSeconds=3"
        url = f"{server.url}/apis/apps/v1/namespaces/production/replicasets?{query}"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
        with urllib.request.urlopen(req, context=trusting(server), timeout=10) as stream:
            assert stream.headers["Content-Type"] == "application/json"
            events = [json.loads(line) for line in stream]  # ends when timeoutSeconds runs out
    assert {e["type"] for e in events} <= {"ADDED", "MODIFIED", "DELETED"}
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > start
    added = [e["object"] for e in events if e["type"] == "ADDED"]
    assert added and added[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def test_watch_refuses_watch_list_and_too_old_versions(serving):
    with serving(until=30, speed=0) as server:
        code, _, body = request(
            server,
            "/apis/apps/v1/namespaces/production/deployments?watch=true&sendInitialEvents=true"
            "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        )
        assert (code, body["reason"]) == (422, "Invalid")
        code, _, body = request(server, "/api/v1/namespaces/production/pods?watch=true&resourceVersion=1")
        assert (code, body["reason"]) == (410, "Expired")


def test_tables_have_kubectls_columns(serving):
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    with serving(until=60, speed=0) as server:
        _, headers, body = request(server, "/api/v1/nodes", accept=table)
    assert headers["Content-Type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Status", "Roles", "Age", "Version"]
    assert body["rows"][0]["cells"][:4] == ["node-1", "Ready", "<none>", "60s"]
    assert body["rows"][0]["object"]["metadata"]["name"] == "node-1"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (120, "2m"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (50 * 3600, "2d2h")],
)
def test_ages_read_like_kubectl(seconds, text):
    assert human_duration(seconds) == text


def test_serve_refuses_bad_input_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    from simdeploy.cli import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
