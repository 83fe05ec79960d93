"""API validation for the kinds we model: the errors the API server would answer with a 422.

Rules follow pkg/apis/apps/validation and pkg/apis/core/validation; they run on an object that
strict decoding (k8s/decoding.py) has accepted, so every field they read has its API type.
"""

from __future__ import annotations

import re

from simdeploy.k8s.decoding import SUPPORTED_KINDS, FieldError, decode_errors
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.intstr import get_scaled_value_from_int_or_percent
from simdeploy.k8s.job_validation import check_job
from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.pod_validation import (
    NEGATIVE,
    check_label_selector,
    check_labels,
    check_pod_spec,
    check_port_number,
    check_port_number_or_name,
    check_protocol,
)
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.k8s.shown import shown

__all__ = ["SUPPORTED_KINDS", "FieldError", "decode_errors", "rule_errors", "validate"]

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def validate(obj: dict) -> list[FieldError]:
    """Every problem the API server would report for this object (empty when valid)."""
    return decode_errors(obj) or rule_errors(obj)


def rule_errors(obj: dict) -> list[FieldError]:
    """The validation rules of the object's kind, for an object that decodes (see decode_errors)."""
    errors = _check_name(obj["metadata"]) + check_labels(obj["metadata"].get("labels"), "metadata.labels")
    check = _CHECKS.get(obj["kind"])
    return errors + (check(obj) if check is not None else [])


def _check_name(meta: dict) -> list[FieldError]:
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        return [FieldError("metadata.name", "Required value: name or generateName is required")]
    if name and (not _DNS1123_SUBDOMAIN.fullmatch(name) or len(name) > 253):
        return [
            FieldError(
                "metadata.name",
                f"Invalid value: {shown(name)}: a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.'",
            )
        ]
    return []


def _check_int_or_percent(value: object, path: str) -> list[FieldError]:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return [FieldError(path, f"Invalid value: {shown(value)}: must be an integer or percentage (e.g. '5%')")]
    if isinstance(value, int):
        return [] if value >= 0 else [FieldError(path, f"Invalid value: {value}: must be greater than or equal to 0")]
    try:
        scaled = get_scaled_value_from_int_or_percent(value, 100, True)
    except ValueError:
        return [FieldError(path, f"Invalid value: {shown(value)}: must be an integer or percentage (e.g. '5%')")]
    return (
        [] if scaled >= 0 else [FieldError(path, f"Invalid value: {shown(value)}: must be greater than or equal to 0")]
    )


def _is_zero(value: object) -> bool:
    return value == 0 or value == "0%"


def _check_selector(obj: dict, required: bool = True) -> list[FieldError]:
    spec = obj["spec"]
    selector = spec.get("selector")
    if selector is None:
        return [FieldError("spec.selector", "Required value")] if required else []
    if not isinstance(selector, dict):
        return [FieldError("spec.selector", "Invalid value: expected a LabelSelector mapping")]
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [FieldError("spec.selector", "Invalid value: empty selector is invalid for deployment")]
    labels = (spec.get("template", {}).get("metadata") or {}).get("labels") or {}
    label_errors = check_labels(labels, "spec.template.metadata.labels")
    if label_errors:
        return label_errors
    try:
        matches = selector_matches(selector, labels)
    except ValueError as error:
        return [FieldError("spec.selector", f"Invalid value: {error}")]
    if "template" in spec and not matches:
        return [
            FieldError(
                "spec.template.metadata.labels",
                f"Invalid value: {shown(labels)}: `selector` does not match template `labels`",
            )
        ]
    return []


def _check_deployment(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "Required value")]
    errors = _check_selector(obj) + _check_non_negative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    if kind not in ("RollingUpdate", "Recreate"):
        errors.append(
            FieldError(
                "spec.strategy.type",
                f'Unsupported value: {shown(kind)}: supported values: "Recreate", "RollingUpdate"',
            )
        )
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        errors.append(
            FieldError(
                "spec.strategy.rollingUpdate",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
            )
        )
    if kind == "RollingUpdate" and rolling is not None:
        errors += _check_rolling_update(rolling)
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        if deadline <= spec.get("minReadySeconds", 0):
            errors.append(
                FieldError(
                    "spec.progressDeadlineSeconds",
                    f"Invalid value: {deadline}: must be greater than minReadySeconds",
                )
            )
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        errors.append(FieldError("spec.template.spec", "Required value"))
    else:
        errors += check_pod_spec(template["spec"], "spec.template.spec")
        policy = template["spec"].get("restartPolicy", "Always")
        if policy != "Always":
            errors.append(
                FieldError(
                    "spec.template.spec.restartPolicy",
                    f'Unsupported value: {shown(policy)}: supported values: "Always"',
                )
            )
    return errors


def _check_rolling_update(rolling: dict) -> list[FieldError]:
    path = "spec.strategy.rollingUpdate"
    surge = rolling.get("maxSurge", "25%")
    unavailable = rolling.get("maxUnavailable", "25%")
    errors = _check_int_or_percent(surge, f"{path}.maxSurge") + _check_int_or_percent(
        unavailable, f"{path}.maxUnavailable"
    )
    if errors:
        return errors
    if isinstance(unavailable, str) and get_scaled_value_from_int_or_percent(unavailable, 100, True) > 100:
        errors.append(
            FieldError(
                f"{path}.maxUnavailable",
                f"Invalid value: {shown(unavailable)}: must not be greater than 100%",
            )
        )
    if _is_zero(surge) and _is_zero(unavailable):
        errors.append(
            FieldError(
                f"{path}.maxUnavailable",
                f"Invalid value: {shown(unavailable)}: may not be 0 when `maxSurge` is 0",
            )
        )
    return errors


def _check_non_negative(spec: dict, fields: tuple[str, ...]) -> list[FieldError]:
    """ValidateNonnegativeField for each of `fields` that is set."""
    return [
        FieldError(f"spec.{f}", NEGATIVE.format(spec[f])) for f in fields if spec.get(f) is not None and spec[f] < 0
    ]


def _check_replica_set(obj: dict) -> list[FieldError]:
    errors = _check_selector(obj) + _check_non_negative(obj["spec"], ("replicas", "minReadySeconds"))
    template = obj["spec"].get("template") or {}
    if isinstance(template.get("spec"), dict):
        errors += check_pod_spec(template["spec"], "spec.template.spec")
    return errors


def _check_pod(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "Required value")]
    return check_pod_spec(spec, "spec")


def _check_service(obj: dict) -> list[FieldError]:
    """validateServicePort for each port: numbers in range, a target port number or name, unique names."""
    errors = check_labels((obj.get("spec") or {}).get("selector"), "spec.selector")
    ports = (obj.get("spec") or {}).get("ports") or []
    names: set[str] = set()
    for index, port in enumerate(ports):
        where = f"spec.ports[{index}]"
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            errors.append(FieldError(f"{where}.name", "Required value"))
        elif name in names:
            errors.append(FieldError(f"{where}.name", f"Duplicate value: {shown(name)}"))
        names.add(name)
        if "port" not in port:
            errors.append(FieldError(f"{where}.port", "Required value"))
        else:
            errors += check_port_number(port["port"], f"{where}.port")
        errors += check_protocol(port.get("protocol", "TCP"), f"{where}.protocol")
        if port.get("targetPort") not in (None, 0):
            errors += check_port_number_or_name(port["targetPort"], f"{where}.targetPort")
    return errors


def _check_node(obj: dict) -> list[FieldError]:
    """A node's capacity and allocatable resources are not negative."""
    errors: list[FieldError] = []
    status = obj.get("status") or {}
    for field in ("capacity", "allocatable"):
        for name, value in (status.get(field) or {}).items():
            if parse_quantity(value) < 0:
                errors.append(FieldError(f"status.{field}.{name}", NEGATIVE.format(shown(value))))
    return errors


def _check_pdb(obj: dict) -> list[FieldError]:
    spec = obj.get("spec") or {}
    has_min, has_max = "minAvailable" in spec, "maxUnavailable" in spec
    if has_min and has_max:
        return [FieldError("spec", "Invalid value: minAvailable and maxUnavailable cannot be both set")]
    if not has_min and not has_max:
        return [FieldError("spec", "Required value: one of minAvailable or maxUnavailable")]
    field = "minAvailable" if has_min else "maxUnavailable"
    errors = _check_int_or_percent(spec[field], f"spec.{field}")
    errors += check_label_selector(spec.get("selector") or {}, "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
        errors.append(FieldError("spec.unhealthyPodEvictionPolicy", f"Unsupported value: {shown(policy)}"))
    return errors


_CANARY_STEPS = {
    "setWeight",
    "pause",
    "analysis",
    "setCanaryScale",
    "experiment",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
}


def _check_rollout(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "Required value")]
    errors = _check_selector(obj) + _check_non_negative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
    strategy = spec.get("strategy") or {}
    kinds = [k for k in ("canary", "blueGreen") if k in strategy]
    if len(kinds) != 1:
        return errors + [FieldError("spec.strategy", "Invalid value: exactly one of canary or blueGreen is required")]
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        errors.append(FieldError("spec.template.spec", "Required value"))
    else:
        errors += check_pod_spec(template["spec"], "spec.template.spec")
    if kinds == ["blueGreen"] and not (strategy["blueGreen"] or {}).get("activeService"):
        errors.append(FieldError("spec.strategy.blueGreen.activeService", "Required value"))
    if kinds == ["canary"]:
        canary = strategy["canary"] or {}
        for field in ("maxSurge", "maxUnavailable"):
            if field in canary:
                errors += _check_int_or_percent(canary[field], f"spec.strategy.canary.{field}")
        for index, step in enumerate(canary.get("steps") or []):
            errors += _check_canary_step(step, f"spec.strategy.canary.steps[{index}]")
    return errors


def _check_canary_step(step: object, path: str) -> list[FieldError]:
    if not isinstance(step, dict) or len(step) != 1:
        return [FieldError(path, "Invalid value: a step has exactly one of " + ", ".join(sorted(_CANARY_STEPS)))]
    ((kind, value),) = step.items()
    if kind not in _CANARY_STEPS:
        return [FieldError(f"{path}.{kind}", "unknown field")]
    if kind == "setWeight" and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100):
        return [FieldError(f"{path}.setWeight", f"Invalid value: {shown(value)}: must be an integer from 0 to 100")]
    if kind == "pause" and isinstance(value, dict) and "duration" in value:
        try:
            parse_duration(value["duration"])
        except ValueError as error:
            return [FieldError(f"{path}.pause.duration", f"Invalid value: {error}")]
    if kind == "analysis" and not (isinstance(value, dict) and value.get("templates")):
        return [FieldError(f"{path}.analysis.templates", "Required value")]
    return []


_CHECKS = {
    "Rollout": _check_rollout,
    "Deployment": _check_deployment,
    "ReplicaSet": _check_replica_set,
    "Pod": _check_pod,
    "Service": _check_service,
    "PodDisruptionBudget": _check_pdb,
    "Node": _check_node,
    "Job": check_job,
}
