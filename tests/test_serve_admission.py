"""Production's admission gates behind `simdeploy serve`: the real kubectl gets the API server's refusal and exits 1,
and nothing it asked for is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from serve_helpers import kubectl, needs_kubectl, send

import simdeploy
from simdeploy.apiserver import ApiServer

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "payments-environments.yaml"
SIGNED = "registry.example.com/payments-api@sha256:de5e77e58a3841820990264224e1eb7ff51c8d28d8285bdb49ff6808d21d1e57"
UNSIGNED = "registry.example.com/payments-api@sha256:90809e96232f9a00d959da4ea10c8ae52dbe8b65d7ec19ddf1ca3f4a3e391907"
TAG = "registry.example.com/payments-api:2.9.0"
pytestmark = needs_kubectl


@pytest.fixture(scope="module")
def served():
    """The environments scenario served from 30 s in (before its own timeline's promotions)."""
    sim = simdeploy.load(SCENARIO)
    sim.run_until(30)
    server = ApiServer(sim, "payments-environments", speed=1)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def image_in(server: ApiServer, namespace: str) -> str:
    with server.lock:
        deployment = server.sim.store.get("Deployment", namespace, "payments-api")
        return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_kubectl_apply_of_a_tag_into_production_gets_the_policys_refusal(served, tmp_path):
    path = tmp_path / "deployment.yaml"
    rendered = simdeploy.load_scenario(SCENARIO).environments[2].objects[1]
    deployment = json.loads(json.dumps(rendered))
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = TAG
    path.write_text(yaml.safe_dump(deployment))
    before = image_in(served, "production")
    done = kubectl(served, tmp_path, "apply", "-f", str(path))
    assert done.returncode == 1
    assert (
        "ValidatingAdmissionPolicy 'require-image-digest' with binding 'require-image-digest-production' denied "
        f"request: images in production must be pinned by digest (name@sha256:<64 hex digits>): "
        f'spec.template.spec.containers[0].image "{TAG}" is pinned by tag, not by digest'
    ) in done.stderr
    assert image_in(served, "production") == before  # nothing written
    deployment["metadata"]["namespace"] = "staging"  # staging has no such gate
    deployment["spec"]["replicas"] = 2
    path.write_text(yaml.safe_dump(deployment))
    done = kubectl(served, tmp_path, "apply", "-f", str(path))
    assert done.returncode == 0, done.stderr
    assert image_in(served, "staging") == TAG


def test_kubectl_set_image_of_an_unsigned_digest_gets_the_webhooks_refusal(served, tmp_path):
    before = image_in(served, "production")
    done = kubectl(served, tmp_path, "set", "image", "deployment/payments-api", f"api={UNSIGNED}", "-n", "production")
    assert done.returncode == 1
    said = " ".join(done.stderr.split())
    assert (
        'deployments.apps "payments-api" is forbidden: admission webhook "policy.sigstore.dev" denied the request'
        in said
    )
    assert f"{UNSIGNED} signature key validation failed for authority payments-release" in said
    assert image_in(served, "production") == before
    done = kubectl(served, tmp_path, "set", "image", "deployment/payments-api", f"api={SIGNED}", "-n", "production")
    assert done.returncode == 0, done.stderr
    assert image_in(served, "production") == SIGNED


def test_the_refusals_are_the_api_servers_statuses(served):
    path = "/apis/apps/v1/namespaces/production/deployments/payments-api"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": TAG}]}}}}
    code, status = send(served, "PATCH", path, patch, "application/strategic-merge-patch+json")
    assert (code, status["reason"], status["code"]) == (422, "Invalid", 422)
    assert status["details"]["kind"] == "deployments" and status["details"]["group"] == "apps"
    assert status["details"]["causes"][0]["message"].startswith("ValidatingAdmissionPolicy 'require-image-digest'")
    patch["spec"]["template"]["spec"]["containers"][0]["image"] = UNSIGNED
    code, status = send(served, "PATCH", path, patch, "application/strategic-merge-patch+json")
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"].startswith('deployments.apps "payments-api" is forbidden: admission webhook')


def test_kubectl_get_events_in_a_namespace_lists_that_environments_objects_only(served, tmp_path):
    # The same Deployment in dev, staging and production: each namespace's events are its own (involvedObject).
    done = kubectl(served, tmp_path, "get", "events", "-n", "staging", "-o", "json")
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["items"]
    assert events and {e["involvedObject"]["namespace"] for e in events} == {"staging"}
    deployment = [e for e in events if e["involvedObject"]["kind"] == "Deployment"]
    with served.lock:
        uid = served.sim.store.get("Deployment", "staging", "payments-api")["metadata"]["uid"]
    assert deployment and {e["involvedObject"]["uid"] for e in deployment} == {uid}
    described = kubectl(served, tmp_path, "describe", "deployment", "payments-api", "-n", "staging")
    assert "Scaled up replica set" in described.stdout and "from 0 to 2" in described.stdout  # staging's size
    assert "from 0 to 12" not in described.stdout  # production's, not staging's
