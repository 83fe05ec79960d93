"""Admission policies on the images a write asks for: pinned by digest (a ValidatingAdmissionPolicy) and signed
(an image-signature webhook), each refusing with the words and the Status the real API server sends.

Both run after decoding, defaulting and validation, as validating admission does on the real server
(ValidatingAdmissionPolicy before ValidatingAdmissionWebhook in kube-apiserver's plugin order). Their refusals:
- ValidatingAdmissionPolicy (staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go):
  `admission.NewForbidden` with the message `ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied
  request: <message>`, reason Invalid (the policy sets none), so HTTP 422, one cause carrying that message;
- a webhook (staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/errors/statuserror.go ToStatusErr): the
  webhook's message after `admission webhook "<name>" denied the request: `, behind `<resource> "<name>" is
  forbidden: `; a webhook that sets no code gets 403 Forbidden. The signature message follows sigstore's
  policy-controller (`validation failed: failed policy: ...: no matching signatures`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from simdeploy.k8s.image_ref import ReferenceError, parse_reference

# Where each kind keeps its pod spec, and its resource and API group (for `deployments.apps "x" is forbidden`).
_POD_SPECS = {
    "Pod": (("spec",), "pods", ""),
    "Deployment": (("spec", "template", "spec"), "deployments", "apps"),
    "ReplicaSet": (("spec", "template", "spec"), "replicasets", "apps"),
    "StatefulSet": (("spec", "template", "spec"), "statefulsets", "apps"),
    "DaemonSet": (("spec", "template", "spec"), "daemonsets", "apps"),
    "Job": (("spec", "template", "spec"), "jobs", "batch"),
    "Rollout": (("spec", "template", "spec"), "rollouts", "argoproj.io"),
}
SIGNATURE_WEBHOOK = "policy.sigstore.dev"


@dataclass(frozen=True)
class Denial:
    """A refused write, as the Status the API server answers with."""

    code: int
    reason: str
    message: str
    details: dict


def kubectl_says(denial: Denial) -> str:
    """What kubectl prints for the refusal: an Invalid Status with causes as `The <kind> "<name>" is invalid: <field>:
    <message>` (the policy's cause has no field), any other as `Error from server (<reason>): <message>`."""
    details = denial.details
    if denial.reason == "Invalid" and details.get("causes"):
        causes = ", ".join(f"{c.get('field', '')}: {c['message']}" for c in details["causes"])
        return f'The {details["kind"]} "{details["name"]}" is invalid: {causes}'
    return f"Error from server ({denial.reason}): {denial.message}"


def images(obj: dict) -> Iterator[tuple[str, str]]:
    """(field path, image) of every container and init container of an object that runs pods."""
    where = _POD_SPECS.get(obj.get("kind"))
    if where is None:
        return
    spec = obj
    for key in where[0]:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return
    path = ".".join(where[0])
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or []):
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                yield f"{path}.{field}[{index}].image", container["image"]


def _forbidden(obj: dict, reason: str, code: int, message: str, causes: bool) -> Denial:
    _, resource, group = _POD_SPECS[obj["kind"]]
    name = (obj.get("metadata") or {}).get("name") or "Unknown"
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "group": group, "kind": resource}
    if causes:
        details["causes"] = [{"message": message}]
    return Denial(code, reason, f'{qualified} "{name}" is forbidden: {message}', details)


@dataclass(frozen=True)
class RequireDigest:
    """Images in `namespace` must be pinned by a valid digest: a ValidatingAdmissionPolicy bound to the namespace."""

    namespace: str
    binding: str
    policy: str = "require-image-digest"

    def __call__(self, obj: dict) -> Denial | None:
        if (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return None
        problems = [problem for path, image in images(obj) if (problem := digest_problem(path, image))]
        if not problems:
            return None
        message = (
            f"ValidatingAdmissionPolicy '{self.policy}' with binding '{self.binding}' denied request: "
            f"images in {self.namespace} must be pinned by digest (name@sha256:<64 hex digits>): {'; '.join(problems)}"
        )
        return _forbidden(obj, "Invalid", 422, message, causes=True)


def digest_problem(path: str, image: str) -> str | None:
    """Why `image` is not pinned by digest, or None. A reference the runtime cannot parse is not pinned by anything
    (the API server would store it, and the kubelet would leave the pod waiting with InvalidImageName)."""
    try:
        reference = parse_reference(image)
    except ReferenceError as error:
        return f'{path} "{image}" is not a valid image reference: {error}'
    if reference.digest is None:
        return (
            f'{path} "{image}" is pinned by tag, not by digest' if reference.tag else f'{path} "{image}" has no digest'
        )
    return None


@dataclass(frozen=True)
class RequireSignature:
    """Images in `namespace` must be signed by `key`: sigstore's policy-controller webhook with one authority."""

    namespace: str
    key: str
    signed: frozenset[str]

    @property
    def policy(self) -> str:
        return f"signed-by-{self.key}"

    def __call__(self, obj: dict) -> Denial | None:
        if (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return None
        failures = [
            f"failed policy: {self.policy}: {path} {image} signature key validation failed for authority "
            f"{self.key} for {image}: no matching signatures"
            for path, image in images(obj)
            if image not in self.signed
        ]
        if not failures:
            return None
        message = (
            f'admission webhook "{SIGNATURE_WEBHOOK}" denied the request: validation failed: {"; ".join(failures)}'
        )
        return _forbidden(obj, "Forbidden", 403, message, causes=False)
