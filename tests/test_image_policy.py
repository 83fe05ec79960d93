"""Image references and the admission gates on them: the digest pin and the signature policy, on the one write path."""

from __future__ import annotations

import copy

import pytest

import simdeploy
from simdeploy.k8s.image_policy import RequireDigest, RequireSignature, digest_problem, images
from simdeploy.k8s.image_ref import ReferenceError, parse_reference, with_digest
from simdeploy.sim.cluster.api import Denied, Invalid

DIGEST = "sha256:" + "0123456789abcdef" * 4
SIGNED = f"registry.example.com/payments-api@{DIGEST}"
OTHER = "sha256:" + "fedcba9876543210" * 4


@pytest.mark.parametrize(
    "image, name, tag, digest",
    [
        ("nginx", "nginx", None, None),
        ("registry.example.com/payments-api:2.9.0", "registry.example.com/payments-api", "2.9.0", None),
        (SIGNED, "registry.example.com/payments-api", None, DIGEST),
        (f"localhost:5000/team/app:v1@{DIGEST}", "localhost:5000/team/app", "v1", DIGEST),
        ("[::1]:5000/app_x__y-z.w:latest", "[::1]:5000/app_x__y-z.w", "latest", None),
    ],
)
def test_references_parse_as_the_runtime_parses_them(image, name, tag, digest):
    reference = parse_reference(image)
    assert (reference.name, reference.tag, reference.digest) == (name, tag, digest)


@pytest.mark.parametrize(
    "image, message",
    [
        ("registry.example.com/payments-api@sha256:abc123def456...", "invalid reference format"),  # the seed's
        ("registry.example.com/payments-api@sha256:abc123...", "invalid reference format"),
        ("", "invalid reference format"),
        ("registry.example.com/Payments-API:1", "repository name must be lowercase"),
        ("registry.example.com/payments-api@sha256:" + "a" * 40, "invalid checksum digest length"),
        ("registry.example.com/payments-api@sha256:" + "A" * 64, "invalid checksum digest format"),
        ("registry.example.com/payments-api@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("registry.example.com/payments-api:" + "t" * 129, "invalid reference format"),
        ("a/" * 128 + "b", "repository name must not be more than 255 characters"),
        ("a-" * 200 + "!", "invalid reference format"),  # fails at once, not after exponential backtracking
    ],
)
def test_references_that_do_not_parse_say_why_in_the_libraries_words(image, message):
    with pytest.raises(ReferenceError, match=message):
        parse_reference(image)


def test_pinning_replaces_the_tag_with_the_digest_as_kustomize_does():
    assert with_digest("registry.example.com/payments-api:2.9.0", DIGEST) == SIGNED
    assert with_digest(f"registry.example.com/payments-api@{OTHER}", DIGEST) == SIGNED


def deployment(image: str, namespace: str = "production", init: str | None = None) -> dict:
    spec = {"containers": [{"name": "api", "image": image}]}
    if init is not None:
        spec["initContainers"] = [{"name": "migrate", "image": init}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "payments-api", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "payments-api"}},
            "template": {"metadata": {"labels": {"app": "payments-api"}}, "spec": spec},
        },
    }


def test_images_are_found_in_every_kind_that_runs_pods():
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    assert list(images(pod)) == [("spec.containers[0].image", "x")]
    assert list(images(deployment("a", init="b"))) == [
        ("spec.template.spec.initContainers[0].image", "b"),
        ("spec.template.spec.containers[0].image", "a"),
    ]
    assert list(images({"kind": "Service", "spec": {}})) == []


@pytest.mark.parametrize(
    "image, problem",
    [
        (SIGNED, None),
        ("registry.example.com/payments-api:2.9.0", "is pinned by tag, not by digest"),
        ("registry.example.com/payments-api", "has no digest"),
        ("registry.example.com/payments-api@sha256:abc123def456...", "not a valid image reference: invalid reference"),
    ],
)
def test_the_digest_pin_accepts_only_a_valid_digest(image, problem):
    found = digest_problem("spec.x.image", image)
    assert found is None if problem is None else problem in found


def test_a_digest_policy_refusal_is_the_validating_admission_policy_status():
    gate = RequireDigest("production", binding="require-image-digest-production")
    denial = gate(deployment("registry.example.com/payments-api:2.9.0"))
    cause = (
        "ValidatingAdmissionPolicy 'require-image-digest' with binding 'require-image-digest-production' denied "
        "request: images in production must be pinned by digest (name@sha256:<64 hex digits>): "
        'spec.template.spec.containers[0].image "registry.example.com/payments-api:2.9.0" '
        "is pinned by tag, not by digest"
    )
    assert (denial.code, denial.reason) == (422, "Invalid")
    assert denial.message == f'deployments.apps "payments-api" is forbidden: {cause}'
    assert denial.details == {
        "name": "payments-api",
        "group": "apps",
        "kind": "deployments",
        "causes": [{"message": cause}],
    }
    assert gate(deployment(SIGNED)) is None
    assert gate(deployment("registry.example.com/payments-api:2.9.0", namespace="staging")) is None  # not bound there
    assert "initContainers[0]" in gate(deployment(SIGNED, init="busybox:1.36")).message


def test_a_signature_refusal_is_the_webhooks_status():
    gate = RequireSignature("production", "payments-release", frozenset({SIGNED}))
    unsigned = f"registry.example.com/payments-api@{OTHER}"
    denial = gate(deployment(unsigned))
    assert (denial.code, denial.reason) == (403, "Forbidden")
    assert denial.message == (
        'deployments.apps "payments-api" is forbidden: admission webhook "policy.sigstore.dev" denied the request: '
        "validation failed: failed policy: signed-by-payments-release: spec.template.spec.containers[0].image "
        f"{unsigned} signature key validation failed for authority payments-release for {unsigned}: "
        "no matching signatures"
    )
    assert denial.details == {"name": "payments-api", "group": "apps", "kind": "deployments"}
    assert gate(deployment(SIGNED)) is None
    assert gate(deployment(unsigned, namespace="dev")) is None


@pytest.fixture
def gated():
    """A simulation whose production namespace requires signed digests, with one signed Deployment in it."""
    versions = {SIGNED: {"startup": "1s"}, f"registry.example.com/payments-api@{OTHER}": {"startup": "1s"}}
    sim = simdeploy.load(
        {"metadata": {"name": "gated"}, "manifests": [{"inline": deployment(SIGNED)}], "versions": versions}
    )
    sim.api.policies = [
        RequireDigest("production", binding="require-image-digest-production"),
        RequireSignature("production", "payments-release", frozenset({SIGNED})),
    ]
    return sim


def test_a_refused_update_changes_nothing(gated):
    stored = gated.store.get("Deployment", "production", "payments-api")
    before = copy.deepcopy(stored)
    changed = copy.deepcopy(stored)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/payments-api:2.9.0"
    with pytest.raises(Denied) as refused:
        gated.api.update(stored, changed)
    assert isinstance(refused.value, Invalid)  # every caller that reports an Invalid reports this one too
    assert refused.value.denial.reason == "Invalid"
    assert gated.store.get("Deployment", "production", "payments-api") == before


def test_the_gates_run_in_admission_order_and_only_after_validation(gated):
    unsigned_tag = deployment("registry.example.com/payments-api:2.9.1")
    unsigned_tag["metadata"]["name"] = "other"
    with pytest.raises(Denied) as refused:
        gated.api.create(unsigned_tag)
    assert "ValidatingAdmissionPolicy" in str(refused.value)  # the policy before the webhook
    broken = deployment("registry.example.com/payments-api:2.9.1")
    broken["spec"]["replicas"] = -1
    with pytest.raises(Invalid) as invalid:
        gated.api.create(broken)
    assert not isinstance(invalid.value, Denied)  # validation refuses first, as on the real server
    assert gated.store.find("Deployment", "production", "other") is None


def test_status_writes_and_unchanged_writes_are_not_policed(gated):
    gated.api.policies.append(lambda obj: pytest.fail("policed a write that changes nothing"))
    stored = gated.store.get("Deployment", "production", "payments-api")
    gated.api.update(stored, copy.deepcopy(stored))
    gated.api.policies.pop()
    gated.api.policies.append(lambda obj: pytest.fail("policed a status write"))
    changed = copy.deepcopy(stored)
    changed["status"] = {**changed.get("status", {}), "observedGeneration": 99}
    gated.api.update(stored, changed, subresource="status")


def test_the_signed_digest_is_admitted_and_rolls_out(gated):
    gated.kubectl.set_image("production", "payments-api", "api", SIGNED)
    gated.kubectl.scale("production", "payments-api", 3)
    gated.run_until(60)
    assert gated.store.get("Deployment", "production", "payments-api")["status"]["availableReplicas"] == 3


def test_a_runbook_line_a_gate_refuses_reads_as_kubectl_prints_it(gated):
    from simdeploy.delivery.runbook.actions import run_kubectl
    from simdeploy.k8s.kubectl_cli import parse_kubectl

    def line(image: str):
        return run_kubectl(
            gated, parse_kubectl(f"kubectl set image deployment/payments-api api={image}"), "production", []
        )

    tag = line("registry.example.com/payments-api:2.9.0")
    assert tag.failed
    assert tag.message.startswith('The deployments "payments-api" is invalid: : ValidatingAdmissionPolicy ')
    unsigned = line(f"registry.example.com/payments-api@{OTHER}")
    assert unsigned.failed
    assert unsigned.message.startswith('Error from server (Forbidden): deployments.apps "payments-api" is forbidden: ')
