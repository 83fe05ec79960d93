"""API validation of batch/v1 Jobs: the rules of pkg/apis/batch/validation/validation.go we model."""

from __future__ import annotations

from simdeploy.k8s.decoding import FieldError
from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.pod_validation import NEGATIVE, check_label_selector, check_pod_spec
from simdeploy.k8s.shown import shown

RESTART_POLICIES = ("OnFailure", "Never")
COMPLETION_MODES = ("NonIndexed", "Indexed")


def check_job(job: dict) -> list[FieldError]:
    """validateJobSpec for the fields we model, and the pod template (a Job's pods must not restart Always)."""
    spec = job.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "Required value")]
    errors = [
        FieldError(f"spec.{name}", NEGATIVE.format(spec[name]))
        for name in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished")
        if spec.get(name) is not None and spec[name] < 0
    ]
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and deadline <= 0:
        errors.append(FieldError("spec.activeDeadlineSeconds", f"Invalid value: {deadline}: must be greater than 0"))
    mode = spec.get("completionMode")
    if mode not in COMPLETION_MODES:
        supported = ", ".join(f'"{m}"' for m in COMPLETION_MODES)
        errors.append(
            FieldError("spec.completionMode", f"Unsupported value: {shown(mode)}: supported values: {supported}")
        )
    elif mode == "Indexed" and spec.get("completions") is None:
        errors.append(FieldError("spec.completions", "Required value: when completion mode is Indexed"))
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if spec.get("manualSelector"):
        if not selector:
            errors.append(FieldError("spec.selector", "Required value"))
        else:
            errors += check_label_selector(selector, "spec.selector")
            if not selector_matches(selector, labels):
                errors.append(
                    FieldError(
                        "spec.template.metadata.labels",
                        f"Invalid value: {shown(labels)}: `selector` does not match template `labels`",
                    )
                )
    elif selector:
        errors += check_label_selector(selector, "spec.selector")
    pod_spec = template.get("spec")
    if not isinstance(pod_spec, dict):
        return [*errors, FieldError("spec.template.spec", "Required value")]
    errors += check_pod_spec(pod_spec, "spec.template.spec")
    policy = pod_spec.get("restartPolicy")
    supported = ", ".join(f'"{p}"' for p in RESTART_POLICIES)
    if policy == "Always":  # the pod default: a Job template must choose
        errors.append(FieldError("spec.template.spec.restartPolicy", f"Required value: valid values: {supported}"))
    elif policy not in RESTART_POLICIES:
        errors.append(
            FieldError(
                "spec.template.spec.restartPolicy", f"Unsupported value: {shown(policy)}: supported values: {supported}"
            )
        )
    return errors
