"""`simdeploy serve` writes: the real kubectl's set image, patch, cordon, rollout undo, scale, delete and drain."""

from __future__ import annotations

import copy
import json

import yaml
from serve_helpers import NEW_IMAGE, OLD_IMAGE, ROOT, deployment, kubectl, needs_kubectl, ok, request, rows, send

NS = ("-n", "production")


# -- the real kubectl ----------------------------------------------------------


@needs_kubectl
def test_kubectl_set_image_patches_strategically_and_rollout_status_follows(tmp_path, serving):
    with serving(until=30, speed=20) as server:
        before = deployment(server)
        out = ok(kubectl(server, tmp_path, "set", "image", "deployment/payments-api", f"api={NEW_IMAGE}", *NS))
        assert out.strip() == "deployment.apps/payments-api image updated"
        after = deployment(server)
        assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
        [container] = after["spec"]["template"]["spec"]["containers"]
        assert container["image"] == NEW_IMAGE
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"  # merged by name, not replaced
        assert "$setElementOrder/containers" not in after["spec"]["template"]["spec"]
        status = ok(kubectl(server, tmp_path, "rollout", "status", "deployment/payments-api", *NS, timeout=60))
        assert 'deployment "payments-api" successfully rolled out' in status
        with server.lock:
            pods = server.sim.store.list("Pod", "production")
            assert {
                p["spec"]["containers"][0]["image"] for p in pods if not p["metadata"].get("deletionTimestamp")
            } == {NEW_IMAGE}


@needs_kubectl
def test_kubectl_replace_puts_the_whole_object_with_its_resource_version_as_precondition(tmp_path, serving):
    with serving(until=30, speed=0) as server:
        edited = json.loads(ok(kubectl(server, tmp_path, "get", "deployment", "payments-api", *NS, "-o", "json")))
        before = deployment(server)
        edited["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE
        edited["status"]["replicas"] = 99  # a PUT of the object does not write its status
        manifest = tmp_path / "deployment.json"
        manifest.write_text(json.dumps(edited))
        out = ok(kubectl(server, tmp_path, "replace", "-f", str(manifest)))
        assert out.strip() == "deployment.apps/payments-api replaced"
        after = deployment(server)
        assert after["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
        assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
        assert after["status"]["replicas"] == before["status"]["replicas"] == 6
        again = kubectl(server, tmp_path, "replace", "-f", str(manifest))  # its resourceVersion is stale now
        assert again.returncode != 0
        assert "the object has been modified" in again.stderr


@needs_kubectl
def test_kubectl_apply_client_and_server_side_creates_updates_and_validates(tmp_path, serving):
    seed_manifest = ROOT / "scenarios" / "manifests" / "payments-api.yaml"
    document = yaml.safe_load(seed_manifest.read_text())

    def manifest(**changes) -> str:
        edited = copy.deepcopy(document)
        edited["metadata"]["name"] = changes.get("name", "payments-api")
        edited["spec"]["template"]["spec"]["containers"][0]["image"] = changes.get("image", OLD_IMAGE)
        edited["spec"].update(changes.get("spec", {}))
        path = tmp_path / f"{len(list(tmp_path.glob('*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(edited))
        return str(path)

    with serving(until=30, speed=0) as server:
        first = kubectl(server, tmp_path, "apply", "-f", str(seed_manifest))
        # The simulation applied the manifest as kubectl does, last-applied-configuration byte for byte.
        assert ok(first).strip() == "deployment.apps/payments-api unchanged" and not first.stderr
        before = deployment(server)
        out = ok(kubectl(server, tmp_path, "apply", "-f", manifest(image=NEW_IMAGE)))
        assert out.strip() == "deployment.apps/payments-api configured"
        after = deployment(server)
        assert after["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
        assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
        assert "kubectl.kubernetes.io/last-applied-configuration" in after["metadata"]["annotations"]
        again = ok(kubectl(server, tmp_path, "apply", "-f", manifest(image=NEW_IMAGE)))
        assert again.strip() == "deployment.apps/payments-api unchanged"
        created = ok(kubectl(server, tmp_path, "apply", "-f", manifest(name="payments-canary")))
        assert created.strip() == "deployment.apps/payments-canary created"
        ssa = manifest(name="payments-ssa", spec={"replicas": 2})
        assert ok(kubectl(server, tmp_path, "apply", "--server-side", "-f", ssa)).strip() == (
            "deployment.apps/payments-ssa serverside-applied"
        )
        with server.lock:
            assert server.sim.store.get("Deployment", "production", "payments-ssa")["spec"]["replicas"] == 2
        bad = kubectl(server, tmp_path, "apply", "-f", manifest(spec={"replica": 3}))
        assert bad.returncode != 0
        assert 'The Deployment "payments-api" is invalid: spec.replica: unknown field' in bad.stderr


def test_put_checks_the_name_and_replaces_status_only_through_the_subresource(serving):
    with serving(until=30, speed=0) as server:
        path = "/apis/apps/v1/namespaces/production/deployments/payments-api"
        current = deployment(server)
        code, answer = send(server, "PUT", path, {**current, "metadata": {**current["metadata"], "name": "other"}})
        assert (code, answer["reason"]) == (400, "BadRequest")
        assert "does not match the name on the URL" in answer["message"]
        status = {**current["status"], "observedGeneration": 42}
        code, answer = send(server, "PUT", path + "/status", {**current, "status": status, "spec": {"replicas": 1}})
        assert code == 200
        assert (answer["status"]["observedGeneration"], answer["spec"]["replicas"]) == (42, 6)
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"}, "data": {"a": "1"}}
        assert send(server, "POST", "/api/v1/namespaces/production/configmaps", config)[0] == 201
        config["data"] = {"b": "2"}
        code, answer = send(server, "PUT", "/api/v1/namespaces/production/configmaps/flags", config)
        assert (code, answer["data"]) == (200, {"b": "2"})
        code, answer = send(server, "PUT", "/api/v1/namespaces/production/configmaps/absent", config)
        assert code == 404


def test_each_write_is_admitted_once_and_a_patch_keeps_the_status(serving, monkeypatch):
    from simdeploy.k8s.admission import admit

    admitted = []
    with serving(until=30, speed=0) as server:
        monkeypatch.setattr("simdeploy.sim.cluster.api.admit", lambda obj: admitted.append(obj["kind"]) or admit(obj))
        path = "/apis/apps/v1/namespaces/production/deployments/payments-api"
        status = deployment(server)["status"]
        patch = {"spec": {"replicas": 7}, "status": {"replicas": 99}}
        code, answer = send(server, "PATCH", path, patch, "application/merge-patch+json")
        assert code == 200 and answer["spec"]["replicas"] == 7 and answer["status"] == status
        code, answer = send(server, "PUT", path + "/scale", {"spec": {"replicas": 5}})
        assert code == 200 and deployment(server)["spec"]["replicas"] == 5
        assert admitted == ["Deployment", "Deployment"]


@needs_kubectl
def test_kubectl_patch_with_each_patch_type_and_cordon(tmp_path, serving):
    with serving(until=30, speed=0) as server:
        selector = '{"spec":{"selector":{"color":"blue"}}}'
        assert ok(kubectl(server, tmp_path, "patch", "service", "payments-api", *NS, "-p", selector)).strip() == (
            "service/payments-api patched"
        )
        service = server.sim.store.get("Service", "production", "payments-api")
        assert service["spec"]["selector"] == {"app": "payments-api", "color": "blue"}  # maps merge
        assert service["spec"]["ports"][0]["port"] == 80

        relabel = '{"metadata":{"labels":{"tier":"web"}}}'
        ok(kubectl(server, tmp_path, "patch", "service", "payments-api", *NS, "--type=merge", "-p", relabel))
        replace = '[{"op":"replace","path":"/spec/selector/color","value":"green"}]'
        ok(kubectl(server, tmp_path, "patch", "service", "payments-api", *NS, "--type=json", "-p", replace))
        service = server.sim.store.get("Service", "production", "payments-api")
        assert service["metadata"]["labels"]["tier"] == "web"
        assert service["spec"]["selector"]["color"] == "green"
        test = '[{"op":"test","path":"/spec/type","value":"NodePort"}]'
        failed = kubectl(server, tmp_path, "patch", "service", "payments-api", *NS, "--type=json", "-p", test)
        assert failed.returncode == 1 and failed.stderr.startswith("The request is invalid")

        env = '{"spec":{"template":{"spec":{"containers":[{"name":"api","env":[{"name":"MODE","value":"safe"}]}]}}}}'
        generation = deployment(server)["metadata"]["generation"]
        ok(kubectl(server, tmp_path, "patch", "deployment", "payments-api", *NS, "-p", env))
        patched = deployment(server)
        assert patched["metadata"]["generation"] == generation + 1
        [container] = patched["spec"]["template"]["spec"]["containers"]
        assert container["env"] == [{"name": "MODE", "value": "safe"}] and container["image"] == OLD_IMAGE

        assert ok(kubectl(server, tmp_path, "cordon", "node-1")).strip() == "node/node-1 cordoned"
        assert server.sim.store.get("Node", "", "node-1")["spec"]["unschedulable"] is True
        assert ok(kubectl(server, tmp_path, "uncordon", "node-1")).strip() == "node/node-1 uncordoned"
        assert not server.sim.store.get("Node", "", "node-1")["spec"].get("unschedulable")


@needs_kubectl
def test_kubectl_rollout_undo_restores_the_template_as_a_new_revision(tmp_path, serving):
    with serving(until=200, speed=20) as server:  # the scenario's rollout to 2.9.0 is over by then
        history = ok(kubectl(server, tmp_path, "rollout", "history", "deployment/payments-api", *NS))
        assert [row[0] for row in rows(history)[1:]] == ["1", "2"]
        undone = ok(kubectl(server, tmp_path, "rollout", "undo", "deployment/payments-api", *NS))
        assert undone.strip() == "deployment.apps/payments-api rolled back"
        assert deployment(server)["spec"]["template"]["spec"]["containers"][0]["image"] == OLD_IMAGE
        ok(kubectl(server, tmp_path, "rollout", "status", "deployment/payments-api", *NS, timeout=60))
        history = ok(kubectl(server, tmp_path, "rollout", "history", "deployment/payments-api", *NS))
        assert [row[0] for row in rows(history)[1:]] == ["2", "3"]

        again = kubectl(server, tmp_path, "rollout", "undo", "deployment/payments-api", "--to-revision=2", *NS)
        assert ok(again).strip() == "deployment.apps/payments-api rolled back"
        assert deployment(server)["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
        missing = kubectl(server, tmp_path, "rollout", "undo", "deployment/payments-api", "--to-revision=9", *NS)
        assert missing.returncode == 1 and "unable to find specified revision 9 in history" in missing.stderr


@needs_kubectl
def test_kubectl_scale_uses_the_scale_subresource(tmp_path, serving):
    with serving(until=200, speed=20) as server:
        scaled = ok(kubectl(server, tmp_path, "scale", "deployment/payments-api", "--replicas=8", *NS))
        assert scaled.strip() == "deployment.apps/payments-api scaled"
        assert deployment(server)["spec"]["replicas"] == 8
        ok(kubectl(server, tmp_path, "rollout", "status", "deployment/payments-api", *NS, timeout=60))
        assert rows(ok(kubectl(server, tmp_path, "get", "deploy", *NS)))[0][:4] == ["payments-api", "8/8", "8", "8"]

        # --current-replicas: GET then PUT of a whole Scale, without a Content-Type
        ok(kubectl(server, tmp_path, "scale", "deployment/payments-api", "--current-replicas=8", "--replicas=7", *NS))
        assert deployment(server)["spec"]["replicas"] == 7
        stale = kubectl(
            server, tmp_path, "scale", "deployment/payments-api", "--current-replicas=3", "--replicas=2", *NS
        )
        assert stale.returncode == 1 and "error: Expected replicas to be 3, was 7" in stale.stderr
        code, scale = send(server, "GET", "/apis/apps/v1/namespaces/production/deployments/payments-api/scale")
        assert code == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 7
        assert scale["status"]["selector"] == "app=payments-api"
        scale["metadata"]["resourceVersion"] = "1"
        code, conflict = send(
            server, "PUT", "/apis/apps/v1/namespaces/production/deployments/payments-api/scale", scale
        )
        assert (code, conflict["reason"]) == (409, "Conflict")
        # Far beyond what the three nodes hold: a 422 naming spec.replicas, as the scenario loader refuses it.
        huge = kubectl(server, tmp_path, "scale", "deployment/payments-api", "--replicas=100000000", *NS)
        assert huge.returncode == 1 and "spec.replicas: Invalid value" in huge.stderr
        assert "far beyond what the nodes hold" in huge.stderr and deployment(server)["spec"]["replicas"] == 7
        code, refused = send(
            server,
            "PATCH",
            "/apis/apps/v1/namespaces/production/deployments/payments-api",
            {"spec": {"replicas": 50000}},
            "application/merge-patch+json",
        )
        assert code == 422 and refused["details"]["causes"][0]["field"] == "spec.replicas"


@needs_kubectl
def test_kubectl_delete_pod_waits_for_the_graceful_deletion(tmp_path, serving):
    with serving(until=200, speed=20) as server:
        victim = rows(ok(kubectl(server, tmp_path, "get", "pods", *NS)))[0][0]
        deleted = ok(kubectl(server, tmp_path, "delete", "pod", victim, *NS, timeout=60))
        assert deleted.startswith(f'pod "{victim}" deleted')
        assert server.sim.store.find("Pod", "production", victim) is None  # kubectl waited for it to go
        missing = kubectl(server, tmp_path, "delete", "pod", victim, *NS)
        assert missing.returncode == 1 and f'Error from server (NotFound): pods "{victim}" not found' in missing.stderr


@needs_kubectl
def test_kubectl_drain_evicts_through_the_eviction_subresource(tmp_path, serving):
    with serving(until=200, speed=20) as server:
        on_node = [p["metadata"]["name"] for p in server.sim.store.list("Pod") if p["spec"].get("nodeName") == "node-2"]
        assert on_node
        drained = ok(kubectl(server, tmp_path, "drain", "node-2", "--timeout=60s", timeout=90))
        assert "node/node-2 cordoned" in drained and "node/node-2 drained" in drained
        assert {f"pod/{name} evicted" for name in on_node} <= set(drained.splitlines())
        with server.lock:
            assert server.sim.store.get("Node", "", "node-2")["spec"]["unschedulable"] is True
            assert [p for p in server.sim.store.list("Pod") if p["spec"].get("nodeName") == "node-2"] == []


# -- plain HTTPS -----------------------------------------------------------------


def test_eviction_refused_by_a_pod_disruption_budget_is_a_429(serving):
    with serving(until=200, speed=0, pdb_min_available=6) as server:
        name = server.sim.store.list("Pod", "production")[0]["metadata"]["name"]
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
        code, body = send(server, "POST", f"/api/v1/namespaces/production/pods/{name}/eviction", eviction)
        assert (code, body["kind"], body["reason"]) == (429, "Status", "TooManyRequests")
        assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
        assert not server.sim.store.get("Pod", "production", name)["metadata"].get("deletionTimestamp")


def test_delete_answers_a_pod_and_other_kinds_a_status(serving):
    with serving(until=200, speed=0) as server:
        name = server.sim.store.list("Pod", "production")[0]["metadata"]["name"]
        code, pod = send(server, "DELETE", f"/api/v1/namespaces/production/pods/{name}", {})
        assert (code, pod["kind"], pod["metadata"]["name"]) == (200, "Pod", name)
        assert pod["metadata"]["deletionTimestamp"] and pod["metadata"]["deletionGracePeriodSeconds"] == 45
        code, status = send(server, "DELETE", "/api/v1/namespaces/production/services/payments-api")
        assert (code, status["kind"], status["status"]) == (200, "Status", "Success")
        assert server.sim.store.find("Service", "production", "payments-api") is None


def test_create_validates_and_refuses_duplicates(serving):
    with serving(until=0, speed=0) as server:
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"}, "data": {"a": "1"}}
        code, created = send(server, "POST", "/api/v1/namespaces/production/configmaps", config)
        assert (code, created["metadata"]["namespace"]) == (201, "production")
        code, again = send(server, "POST", "/api/v1/namespaces/production/configmaps", config)
        assert (code, again["reason"]) == (409, "AlreadyExists")
        code, read_only = send(server, "DELETE", "/api/v1/namespaces/production/events/x")
        assert (code, read_only["reason"]) == (405, "MethodNotAllowed")


def test_discovery_advertises_writes_and_subresources(serving):
    with serving(until=0, speed=0) as server:
        code, core = send(server, "GET", "/api/v1")
        by_name = {r["name"]: r for r in core["resources"]}
        assert {"create", "delete", "patch", "update"} <= set(by_name["pods"]["verbs"])
        assert by_name["pods/eviction"]["kind"] == "Eviction" and by_name["pods/eviction"]["group"] == "policy"
        assert by_name["namespaces"]["verbs"] == ["get", "list", "watch", "create", "delete", "patch", "update"]
        assert by_name["events"]["verbs"] == ["get", "list"]
        code, apps = send(server, "GET", "/apis/apps/v1")
        assert {r["name"] for r in apps["resources"]} >= {"deployments/scale", "deployments/status"}


def test_openapi_v3_names_each_write_with_its_kind_and_the_field_validation_parameter(serving):
    with serving(until=0, speed=0) as server:
        code, _, root = request(server, "/openapi/v3")
        assert code == 200
        assert {"api/v1", "apis/apps/v1", "apis/policy/v1", "apis/argoproj.io/v1alpha1"} <= set(root["paths"])
        code, _, apps = request(server, root["paths"]["apis/apps/v1"]["serverRelativeURL"])
        assert code == 200
        operation = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
        assert operation["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
        assert "fieldValidation" in [p["name"] for p in operation["parameters"]]
        assert "/api/v1/nodes/{name}" in request(server, "/openapi/v3/api/v1")[2]["paths"]
        assert request(server, "/openapi/v3/apis/nope/v1")[0] == 404


@needs_kubectl
def test_kubectl_wait_for_available_waits_for_the_pods_and_rollout_status_of_a_missing_deployment_fails(
    tmp_path, serving
):
    with serving(until=1, speed=20) as server:
        assert deployment(server)["status"].get("availableReplicas", 0) < 6  # the pods are still starting
        waited = kubectl(
            server, tmp_path, "wait", "--for=condition=available", "deployment/payments-api", *NS, "--timeout=60s"
        )
        assert ok(waited).strip() == "deployment.apps/payments-api condition met"
        assert deployment(server)["status"]["availableReplicas"] >= 5  # 6 less maxUnavailable: Available=True
        missing = kubectl(server, tmp_path, "rollout", "status", "deployment/payments-web", *NS, "--timeout=5s")
        assert missing.returncode != 0
        assert 'deployments.apps "payments-web" not found' in missing.stderr
        assert server.requests.document()["by_status"].get("500") is None
