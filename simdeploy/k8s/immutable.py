"""Fields the API server will not change on update: the ValidateXUpdate rules we model.

- apps/v1 Deployments and ReplicaSets keep their `spec.selector` (pkg/apis/apps/validation/validation.go,
  ValidateDeploymentUpdate and ValidateReplicaSetUpdate: selector mutation is refused for apps/v1).
- batch/v1 Jobs keep `spec.selector`, `spec.completionMode`, `spec.completions` and `spec.template`
  (pkg/apis/batch/validation/validation.go, ValidateJobSpecUpdate). Two upstream exceptions: an Indexed
  Job may change completions together with parallelism (elastic Indexed Jobs), and a suspended Job that
  never started may change its template's labels, annotations and node scheduling directives.

This is what makes `kubectl apply` of an edited migration Job fail with "field is immutable": the
Job must be deleted and created again (Argo CD's BeforeHookCreation does that for hooks).
"""

from __future__ import annotations

import copy

from simdeploy.k8s.decoding import FieldError
from simdeploy.k8s.shown import shown

IMMUTABLE = "field is immutable"
SCHEDULING_DIRECTIVES = ("nodeSelector", "tolerations", "affinity", "schedulingGates")


def update_errors(old: dict, new: dict) -> list[FieldError]:
    """The immutable fields `new` changes, for an update of the stored object `old` (both defaulted)."""
    kind = new.get("kind")
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if kind in ("Deployment", "ReplicaSet"):
        return _unchanged(old_spec, new_spec, "selector")
    if kind == "Job":
        return _job_errors(old, old_spec, new_spec)
    return []


def _job_errors(old: dict, old_spec: dict, new_spec: dict) -> list[FieldError]:
    errors = _unchanged(old_spec, new_spec, "selector") + _unchanged(old_spec, new_spec, "completionMode")
    elastic = new_spec.get("completionMode") == "Indexed" and (
        old_spec.get("completions") == old_spec.get("parallelism")
        and new_spec.get("completions") == new_spec.get("parallelism")
    )
    if not elastic:
        errors += _unchanged(old_spec, new_spec, "completions")
    never_started = old_spec.get("suspend") and not (old.get("status") or {}).get("startTime")
    old_template, new_template = old_spec.get("template"), new_spec.get("template")
    if never_started:
        old_template, new_template = _without_scheduling(old_template), _without_scheduling(new_template)
    if old_template != new_template:
        errors.append(_immutable("spec.template", new_spec.get("template")))
    return errors


def _unchanged(old_spec: dict, new_spec: dict, name: str) -> list[FieldError]:
    if old_spec.get(name) == new_spec.get(name):
        return []
    return [_immutable(f"spec.{name}", new_spec.get(name))]


def _immutable(path: str, value: object) -> FieldError:
    return FieldError(path, f"Invalid value: {shown(value)}: {IMMUTABLE}")


def _without_scheduling(template: object) -> object:
    """The template without what a suspended, never started Job may still change."""
    if not isinstance(template, dict):
        return template
    template = copy.deepcopy(template)
    metadata = template.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("labels", None)
        metadata.pop("annotations", None)
    spec = template.get("spec")
    if isinstance(spec, dict):
        for name in SCHEDULING_DIRECTIVES:
            spec.pop(name, None)
    return template
