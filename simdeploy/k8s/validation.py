"""API validation for the kinds we model: the errors the API server would answer with a 422.

Rules follow pkg/apis/apps/validation and pkg/apis/core/validation; unknown fields are rejected
as `kubectl apply --validate=strict` does, for the parts of each object whose schema we know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.intstr import get_scaled_value_from_int_or_percent
from simdeploy.k8s.labels import selector_matches

SUPPORTED_KINDS = {
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("policy/v1", "PodDisruptionBudget"),
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
}
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_ANY = None  # a field whose contents we do not check

_PROBE = {
    "exec": _ANY,
    "httpGet": _ANY,
    "tcpSocket": _ANY,
    "grpc": _ANY,
    "initialDelaySeconds": int,
    "timeoutSeconds": int,
    "periodSeconds": int,
    "successThreshold": int,
    "failureThreshold": int,
    "terminationGracePeriodSeconds": int,
}
_CONTAINER = {
    "name": str,
    "image": str,
    "command": list,
    "args": list,
    "workingDir": str,
    "ports": list,
    "envFrom": list,
    "env": list,
    "resources": _ANY,
    "resizePolicy": list,
    "restartPolicy": str,
    "restartPolicyRules": list,
    "volumeMounts": list,
    "volumeDevices": list,
    "livenessProbe": _PROBE,
    "readinessProbe": _PROBE,
    "startupProbe": _PROBE,
    "lifecycle": {"postStart": _ANY, "preStop": _ANY, "stopSignal": str},
    "terminationMessagePath": str,
    "terminationMessagePolicy": str,
    "imagePullPolicy": str,
    "securityContext": _ANY,
    "stdin": bool,
    "stdinOnce": bool,
    "tty": bool,
}
_POD_SPEC_FIELDS = (
    "volumes initContainers ephemeralContainers restartPolicy activeDeadlineSeconds dnsPolicy "
    "nodeSelector serviceAccountName serviceAccount automountServiceAccountToken nodeName "
    "hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname "
    "subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig "
    "readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead "
    "topologySpreadConstraints setHostnameAsFQDN os hostUsers schedulingGates resourceClaims "
    "resources hostnameOverride workloadRef"
).split()
_POD_SPEC = {
    **{name: _ANY for name in _POD_SPEC_FIELDS},
    "containers": [_CONTAINER],
    "terminationGracePeriodSeconds": int,
}
_OBJECT_META = {
    "name": str,
    "generateName": str,
    "namespace": str,
    "labels": dict,
    "annotations": dict,
    "uid": str,
    "resourceVersion": str,
    "generation": int,
    "creationTimestamp": _ANY,
    "deletionTimestamp": _ANY,
    "deletionGracePeriodSeconds": int,
    "ownerReferences": list,
    "finalizers": list,
    "managedFields": list,
    "selfLink": str,
}
_TEMPLATE = {"metadata": _OBJECT_META, "spec": _POD_SPEC}
_SERVICE_SPEC_FIELDS = (
    "clusterIP clusterIPs externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName "
    "externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies "
    "ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution"
).split()
_SCHEMAS: dict[str, dict] = {
    "Deployment": {
        "replicas": int,
        "selector": _ANY,
        "template": _TEMPLATE,
        "strategy": {"type": str, "rollingUpdate": {"maxSurge": _ANY, "maxUnavailable": _ANY}},
        "minReadySeconds": int,
        "revisionHistoryLimit": int,
        "paused": bool,
        "progressDeadlineSeconds": int,
    },
    "ReplicaSet": {
        "replicas": int,
        "minReadySeconds": int,
        "selector": _ANY,
        "template": _TEMPLATE,
    },
    "Pod": _POD_SPEC,
    "Service": {
        **{name: _ANY for name in _SERVICE_SPEC_FIELDS},
        "selector": dict,
        "type": str,
        "ports": [{"name": str, "protocol": str, "appProtocol": str, "port": int, "targetPort": _ANY, "nodePort": int}],
    },
    "PodDisruptionBudget": {
        "minAvailable": _ANY,
        "maxUnavailable": _ANY,
        "selector": _ANY,
        "unhealthyPodEvictionPolicy": str,
    },
}


@dataclass(frozen=True)
class FieldError:
    """One invalid field, named by its path from the object root."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate(obj: dict) -> list[FieldError]:
    """Every problem the API server would report for this object (empty when valid)."""
    return decode_errors(obj) or rule_errors(obj)


def rule_errors(obj: dict) -> list[FieldError]:
    """The validation rules of the object's kind, for an object that decodes (see decode_errors)."""
    check = _CHECKS.get(obj["kind"])
    return check(obj) if check is not None else []


def decode_errors(obj: dict) -> list[FieldError]:
    """What strict decoding refuses before defaulting and validation: unknown fields and wrong shapes."""
    errors = _validate_envelope(obj)
    if errors:
        return errors
    kind, spec = obj["kind"], obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        return [FieldError("spec", f"Invalid value: expected a mapping, got {_type_name(type(spec))}")]
    if kind in _SCHEMAS and spec is not None:
        errors += _unknown_fields(spec, _SCHEMAS[kind], "spec")
    elif kind == "Rollout" and spec is not None and "template" in spec:
        errors += _unknown_fields(spec["template"], _TEMPLATE, "spec.template")
    errors += _unknown_fields(obj["metadata"], _OBJECT_META, "metadata")
    for field in ("labels", "annotations"):
        pairs = obj["metadata"].get(field)
        for key, value in pairs.items() if isinstance(pairs, dict) else ():
            if not isinstance(value, str):
                errors.append(FieldError(f"metadata.{field}.{key}", f"Invalid value: {value!r}: expected a string"))
    return errors


def _validate_envelope(obj: dict) -> list[FieldError]:
    if not isinstance(obj, dict):
        return [FieldError("(root)", "expected a Kubernetes object (a mapping)")]
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj.get(field):
            return [FieldError(field, "Required value")]
    if (obj["apiVersion"], obj["kind"]) not in SUPPORTED_KINDS:
        known = ", ".join(f"{kind} ({api})" for api, kind in sorted(SUPPORTED_KINDS, key=lambda k: k[1]))
        return [FieldError("kind", f"no support for {obj['apiVersion']} {obj['kind']}; supported: {known}")]
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [FieldError("metadata", "Required value")]
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        return [FieldError("metadata.name", "Required value: name or generateName is required")]
    if name and (not isinstance(name, str) or not _DNS1123_SUBDOMAIN.fullmatch(name) or len(name) > 253):
        return [
            FieldError(
                "metadata.name",
                f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.'",
            )
        ]
    return []


def _unknown_fields(value: object, schema: object, path: str) -> list[FieldError]:
    """Strict decoding: unknown fields and wrongly typed scalars in the parts we know."""
    if schema is _ANY or value is None:
        return []
    if isinstance(schema, type):
        if schema is int and (isinstance(value, bool) or not isinstance(value, int)):
            return [FieldError(path, f"Invalid value: {value!r}: expected an integer")]
        if schema is not int and not isinstance(value, schema):
            return [FieldError(path, f"Invalid value: {value!r}: expected {_type_name(schema)}")]
        return []
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [FieldError(path, f"Invalid value: expected a list, got {_type_name(type(value))}")]
        errors: list[FieldError] = []
        for index, item in enumerate(value):
            errors += _unknown_fields(item, schema[0], f"{path}[{index}]")
        return errors
    if not isinstance(value, dict):
        return [FieldError(path, f"Invalid value: expected a mapping, got {_type_name(type(value))}")]
    errors = []
    for key, item in value.items():
        if key not in schema:
            errors.append(FieldError(f"{path}.{key}", "unknown field"))
        else:
            errors += _unknown_fields(item, schema[key], f"{path}.{key}")
    return errors


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "a boolean",
        list: "a list",
        dict: "a mapping",
    }.get(kind, kind.__name__)


def _check_int_or_percent(value: object, path: str) -> list[FieldError]:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return [FieldError(path, f"Invalid value: {value!r}: must be an integer or percentage (e.g. '5%')")]
    if isinstance(value, int):
        return [] if value >= 0 else [FieldError(path, f"Invalid value: {value}: must be greater than or equal to 0")]
    try:
        scaled = get_scaled_value_from_int_or_percent(value, 100, True)
    except ValueError:
        return [FieldError(path, f"Invalid value: {value!r}: must be an integer or percentage (e.g. '5%')")]
    return [] if scaled >= 0 else [FieldError(path, f"Invalid value: {value!r}: must be greater than or equal to 0")]


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
    try:
        matches = selector_matches(selector, labels)
    except ValueError as error:
        return [FieldError("spec.selector", f"Invalid value: {error}")]
    if "template" in spec and not matches:
        return [
            FieldError(
                "spec.template.metadata.labels",
                f"Invalid value: {labels}: `selector` does not match template `labels`",
            )
        ]
    return []


def _check_pod_spec(spec: dict, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = spec.get("containers")
    if not containers:
        return [FieldError(f"{path}.containers", "Required value")]
    names = set()
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not container.get("name"):
            errors.append(FieldError(f"{where}.name", "Required value"))
        elif container["name"] in names:
            errors.append(FieldError(f"{where}.name", f"Duplicate value: {container['name']!r}"))
        names.add(container.get("name"))
        if not container.get("image"):
            errors.append(FieldError(f"{where}.image", "Required value"))
        for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(probe_name)
            if probe is not None:
                errors += _check_probe(probe, probe_name, f"{where}.{probe_name}")
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errors.append(FieldError(f"{path}.terminationGracePeriodSeconds", "must be greater than or equal to 0"))
    return errors


def _check_probe(probe: dict, name: str, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in probe]
    if len(handlers) != 1:
        errors.append(FieldError(path, "must specify exactly one handler type (exec, httpGet, tcpSocket, grpc)"))
    for field, minimum in (
        ("periodSeconds", 1),
        ("timeoutSeconds", 1),
        ("successThreshold", 1),
        ("failureThreshold", 1),
    ):
        value = probe.get(field)
        if isinstance(value, int) and value < minimum:
            errors.append(
                FieldError(
                    f"{path}.{field}",
                    f"Invalid value: {value}: must be greater than or equal to {minimum}",
                )
            )
    if name != "readinessProbe" and probe.get("successThreshold", 1) != 1:
        errors.append(FieldError(f"{path}.successThreshold", f"Invalid value: {probe['successThreshold']}: must be 1"))
    return errors


def _check_deployment(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "Required value")]
    errors = _check_selector(obj)
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        value = spec.get(field)
        if isinstance(value, int) and value < 0:
            errors.append(FieldError(f"spec.{field}", f"Invalid value: {value}: must be greater than or equal to 0"))
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    if kind not in ("RollingUpdate", "Recreate"):
        errors.append(
            FieldError(
                "spec.strategy.type",
                f'Unsupported value: "{kind}": supported values: "Recreate", "RollingUpdate"',
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
        errors += _check_pod_spec(template["spec"], "spec.template.spec")
        policy = template["spec"].get("restartPolicy", "Always")
        if policy != "Always":
            errors.append(
                FieldError(
                    "spec.template.spec.restartPolicy",
                    f'Unsupported value: "{policy}": supported values: "Always"',
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
                f"Invalid value: {unavailable!r}: must not be greater than 100%",
            )
        )
    if _is_zero(surge) and _is_zero(unavailable):
        errors.append(
            FieldError(
                f"{path}.maxUnavailable",
                f"Invalid value: {unavailable!r}: may not be 0 when `maxSurge` is 0",
            )
        )
    return errors


def _check_replica_set(obj: dict) -> list[FieldError]:
    errors = _check_selector(obj)
    template = obj["spec"].get("template") or {}
    if isinstance(template.get("spec"), dict):
        errors += _check_pod_spec(template["spec"], "spec.template.spec")
    return errors


def _check_pod(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "Required value")]
    return _check_pod_spec(spec, "spec")


def _check_service(obj: dict) -> list[FieldError]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if selector is not None and not isinstance(selector, dict):
        return [FieldError("spec.selector", "Invalid value: expected a map of labels")]
    return []


def _check_pdb(obj: dict) -> list[FieldError]:
    spec = obj.get("spec") or {}
    has_min, has_max = "minAvailable" in spec, "maxUnavailable" in spec
    if has_min and has_max:
        return [FieldError("spec", "Invalid value: minAvailable and maxUnavailable cannot be both set")]
    if not has_min and not has_max:
        return [FieldError("spec", "Required value: one of minAvailable or maxUnavailable")]
    field = "minAvailable" if has_min else "maxUnavailable"
    errors = _check_int_or_percent(spec[field], f"spec.{field}")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
        errors.append(FieldError("spec.unhealthyPodEvictionPolicy", f'Unsupported value: "{policy}"'))
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
    errors = _check_selector(obj)
    strategy = spec.get("strategy") or {}
    kinds = [k for k in ("canary", "blueGreen") if k in strategy]
    if len(kinds) != 1:
        return errors + [FieldError("spec.strategy", "Invalid value: exactly one of canary or blueGreen is required")]
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        errors.append(FieldError("spec.template.spec", "Required value"))
    else:
        errors += _check_pod_spec(template["spec"], "spec.template.spec")
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
        return [FieldError(f"{path}.setWeight", f"Invalid value: {value!r}: must be an integer from 0 to 100")]
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
}
