"""`simdeploy serve` driven by the official kubernetes Python client: list, read, patch and watch."""

from __future__ import annotations

import pytest
from serve_helpers import NEW_IMAGE, deployment

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402 (after the skip)


def clients(server) -> tuple:
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig_path))
    return client.AppsV1Api(api_client), client.CoreV1Api(api_client)


def test_the_python_client_lists_reads_and_selects_by_name(serving):
    with serving(until=30, speed=0) as server:
        apps, core = clients(server)
        deployments = apps.list_namespaced_deployment("production")
        assert [d.metadata.name for d in deployments.items] == ["payments-api"]
        read = apps.read_namespaced_deployment("payments-api", "production")
        assert (read.spec.replicas, read.status.available_replicas) == (6, 6)
        assert read.status.conditions[0].type in ("Available", "Progressing")
        other = apps.list_namespaced_deployment("production", field_selector="metadata.name=payments-web")
        assert other.items == []  # never answered with another deployment
        pods = core.list_namespaced_pod("production", label_selector="app=payments-api")
        assert len(pods.items) == 6
        assert all(p.metadata.owner_references[0].controller for p in pods.items)
        with pytest.raises(client.ApiException) as missing:
            apps.read_namespaced_deployment("payments-web", "production")
        assert missing.value.status == 404


def test_the_python_client_patches_and_watches_the_rollout_it_started(serving):
    with serving(until=30, speed=30) as server:
        apps, core = clients(server)
        body = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": NEW_IMAGE}]}}}}
        patched = apps.patch_namespaced_deployment("payments-api", "production", body)
        assert patched.spec.template.spec.containers[0].image == NEW_IMAGE
        assert patched.metadata.generation == 2
        seen = []
        stream = watch.Watch().stream(
            apps.list_namespaced_deployment,
            "production",
            field_selector="metadata.name=payments-api",
            resource_version=patched.metadata.resource_version,
            timeout_seconds=30,
        )
        for event in stream:  # done as `kubectl rollout status` judges it
            status = event["object"].status
            seen.append((event["type"], status.updated_replicas, status.available_replicas))
            observed = (status.observed_generation or 0) >= patched.metadata.generation
            if observed and status.updated_replicas == status.available_replicas == status.replicas == 6:
                break
        assert seen[-1] == ("MODIFIED", 6, 6)
        assert len(seen) > 3  # the watch followed the rollout step by step
        assert deployment(server)["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
        pods = core.list_namespaced_pod("production", label_selector="app=payments-api")
        live = [p for p in pods.items if p.metadata.deletion_timestamp is None]
        assert {p.spec.containers[0].image for p in live} == {NEW_IMAGE}


def test_chaos_toolkit_kubernetes_terminates_pods_scales_and_probes(monkeypatch, tmp_path, serving):
    pytest.importorskip("chaosk8s")
    from chaosk8s.deployment.actions import scale_deployment
    from chaosk8s.deployment.probes import deployment_available_and_healthy
    from chaosk8s.pod.actions import terminate_pods
    from chaoslib.exceptions import ActivityFailed

    # No kubeconfig where chaosk8s looks first, so it can only reach the simulated cluster named here.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with serving(until=30, speed=0) as server:
        secrets = {
            "KUBERNETES_HOST": server.url,
            "KUBERNETES_API_KEY": server.token,
            "KUBERNETES_VERIFY_SSL": "true",
            "KUBERNETES_CA_CERT_FILE": str(server.ca_path),
        }

        def advance(seconds: float) -> None:
            with server.lock:
                server.sim.run_until(server.sim.now + seconds)

        assert deployment_available_and_healthy("payments-api", ns="production", secrets=secrets) is True
        before = {p["metadata"]["name"] for p in server.sim.store.list("Pod", "production")}
        terminate_pods(label_selector="app=payments-api", qty=2, ns="production", secrets=secrets)
        terminating = [p for p in server.sim.store.list("Pod", "production") if p["metadata"].get("deletionTimestamp")]
        assert len(terminating) == 2
        advance(5)
        with pytest.raises(ActivityFailed):  # two replacements are not ready yet
            deployment_available_and_healthy("payments-api", ns="production", secrets=secrets)
        advance(25)  # to 60 s, before the scenario's own rollout at 2m
        assert deployment_available_and_healthy("payments-api", ns="production", secrets=secrets) is True
        after = {p["metadata"]["name"] for p in server.sim.store.list("Pod", "production")}
        assert len(after - before) == 2 and len(after) == 6
        scale_deployment("payments-api", 3, ns="production", secrets=secrets)
        assert deployment(server)["spec"]["replicas"] == 3
        advance(40)
        assert len(server.sim.store.list("Pod", "production")) == 3
        assert deployment_available_and_healthy("payments-api", ns="production", secrets=secrets) is True


def test_the_python_client_deletes_a_collection_by_label(serving):
    with serving(until=30, speed=0) as server:
        _, core = clients(server)
        config_map = {"metadata": {"name": "flags-a", "labels": {"team": "payments"}}, "data": {"a": "1"}}
        core.create_namespaced_config_map("production", config_map)
        core.create_namespaced_config_map("production", {**config_map, "metadata": {"name": "flags-b"}})
        core.delete_collection_namespaced_config_map("production", label_selector="team=payments")
        assert [c.metadata.name for c in core.list_namespaced_config_map("production").items] == ["flags-b"]
        core.delete_collection_namespaced_pod("production", label_selector="app=payments-api")
        with server.lock:
            pods = server.sim.store.list("Pod", "production")
        assert len(pods) == 6 and all(p["metadata"].get("deletionTimestamp") for p in pods)  # graceful, as one by one
