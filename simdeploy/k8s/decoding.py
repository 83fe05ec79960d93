"""Strict decoding of a written object, as the API server's decoder reads it: shapes, types and unknown fields.

The schemas below are the parts of each kind the simulation reads, with the Go types of the API
(staging/src/k8s.io/api/core/v1/types.go, apps/v1/types.go, policy/v1/types.go): an int32 field
takes an integer that fits 32 bits, an IntOrString an integer or a string, a Quantity what
resource.ParseQuantity reads. Unknown fields are refused as `kubectl apply --validate=strict`
does; Argo Rollouts' custom resources are checked for the types of the fields we read only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from simdeploy.k8s.duration import MAX_SECONDS
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.k8s.shown import shown

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
    ("batch/v1", "Job"),
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
}


@dataclass(frozen=True)
class FieldError:
    """One invalid field, named by its path from the object root."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Scalar:
    """A scalar Go type: `problem(value)` says what is wrong with a value, or None."""

    problem: Callable[[object], str | None]


@dataclass(frozen=True)
class MapOf:
    """A Go map from strings to `values`."""

    values: object


@dataclass(frozen=True)
class Open:
    """A custom resource's object: the listed fields are checked, others are left alone."""

    fields: dict


def _integer(bits: int) -> Scalar:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def problem(value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"Invalid value: {shown(value)}: expected an integer"
        if not low <= value <= high:
            return f"Invalid value: {shown(value)}: must fit in int{bits} ({low} to {high})"
        return None

    return Scalar(problem)


def _int_or_string(value: object) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"Invalid value: {shown(value)}: expected an integer or a string"
    return INT32.problem(value)


def _quantity(value: object) -> str | None:
    try:
        parse_quantity(value)  # type: ignore[arg-type]
    except ValueError as error:
        return f"Invalid value: {error}"
    return None


def _seconds(value: object) -> str | None:
    problem = INT64.problem(value)
    if problem is None and value > MAX_SECONDS:  # type: ignore[operator]
        # The kubelet turns these into a time.Duration (int64 nanoseconds): longer would overflow it.
        return f"Invalid value: {shown(value)}: must be at most {int(MAX_SECONDS)} (the longest Go time.Duration)"
    return problem


INT32 = _integer(32)
INT64 = _integer(64)
SECONDS = Scalar(_seconds)  # an int64 count of seconds
INT_OR_STRING = Scalar(_int_or_string)
QUANTITY = Scalar(_quantity)
_ANY = None  # a field whose contents we do not check
_STRINGS = [str]
_LABELS = MapOf(str)

_LABEL_SELECTOR = {
    "matchLabels": _LABELS,
    "matchExpressions": [{"key": str, "operator": str, "values": _STRINGS}],
}
_EXEC = {"command": _STRINGS}
_HTTP_GET = {
    "path": str,
    "port": INT_OR_STRING,
    "host": str,
    "scheme": str,
    "httpHeaders": [{"name": str, "value": str}],
}
_TCP_SOCKET = {"port": INT_OR_STRING, "host": str}
_PROBE = {
    "exec": _EXEC,
    "httpGet": _HTTP_GET,
    "tcpSocket": _TCP_SOCKET,
    "grpc": {"port": INT32, "service": str},
    "initialDelaySeconds": INT32,
    "timeoutSeconds": INT32,
    "periodSeconds": INT32,
    "successThreshold": INT32,
    "failureThreshold": INT32,
    "terminationGracePeriodSeconds": SECONDS,
}
_LIFECYCLE_HANDLER = {"exec": _EXEC, "httpGet": _HTTP_GET, "tcpSocket": _TCP_SOCKET, "sleep": {"seconds": SECONDS}}
_RESOURCES = {"limits": MapOf(QUANTITY), "requests": MapOf(QUANTITY), "claims": list}
_CONTAINER = {
    "name": str,
    "image": str,
    "command": _STRINGS,
    "args": _STRINGS,
    "workingDir": str,
    "ports": [{"name": str, "containerPort": INT32, "hostPort": INT32, "hostIP": str, "protocol": str}],
    "envFrom": list,
    "env": list,
    "resources": _RESOURCES,
    "resizePolicy": list,
    "restartPolicy": str,
    "restartPolicyRules": list,
    "volumeMounts": list,
    "volumeDevices": list,
    "livenessProbe": _PROBE,
    "readinessProbe": _PROBE,
    "startupProbe": _PROBE,
    "lifecycle": {"postStart": _LIFECYCLE_HANDLER, "preStop": _LIFECYCLE_HANDLER, "stopSignal": str},
    "terminationMessagePath": str,
    "terminationMessagePolicy": str,
    "imagePullPolicy": str,
    "securityContext": _ANY,
    "stdin": bool,
    "stdinOnce": bool,
    "tty": bool,
}
_POD_SPEC_FIELDS = (
    "volumes ephemeralContainers dnsPolicy serviceAccountName serviceAccount automountServiceAccountToken "
    "hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname "
    "subdomain affinity schedulerName hostAliases priorityClassName dnsConfig "
    "readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead "
    "topologySpreadConstraints setHostnameAsFQDN os hostUsers schedulingGates resourceClaims "
    "resources hostnameOverride workloadRef"
).split()
_POD_SPEC = {
    **{name: _ANY for name in _POD_SPEC_FIELDS},
    "containers": [_CONTAINER],
    "initContainers": [_CONTAINER],
    "restartPolicy": str,
    "nodeName": str,
    "nodeSelector": _LABELS,
    "tolerations": [
        {"key": str, "operator": str, "value": str, "effect": str, "tolerationSeconds": SECONDS},
    ],
    "priority": INT32,
    "terminationGracePeriodSeconds": SECONDS,
    "activeDeadlineSeconds": SECONDS,
}
_OBJECT_META = {
    "name": str,
    "generateName": str,
    "namespace": str,
    "labels": _LABELS,
    "annotations": _LABELS,
    "uid": str,
    "resourceVersion": str,
    "generation": INT64,
    "creationTimestamp": _ANY,
    "deletionTimestamp": _ANY,
    "deletionGracePeriodSeconds": SECONDS,
    "ownerReferences": list,
    "finalizers": _STRINGS,
    "managedFields": list,
    "selfLink": str,
}
_TEMPLATE = {"metadata": _OBJECT_META, "spec": _POD_SPEC}
_SERVICE_SPEC_FIELDS = (
    "clusterIP clusterIPs externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName "
    "externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies "
    "ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution"
).split()
_ANALYSIS_ARG = Open(
    {
        "name": str,
        "value": str,
        "valueFrom": Open({"podTemplateHashValue": str, "fieldRef": Open({"fieldPath": str})}),
    }
)
_ANALYSIS = Open(
    {
        "templates": [Open({"templateName": str, "clusterScope": bool})],
        "args": [_ANALYSIS_ARG],
        "startingStep": INT32,
    }
)
_ROUTER = Open({"stableIngress": str, "trafficSplitName": str, "weightedTraefikServiceName": str})
_VIRTUAL_SERVICE = Open({"name": str, "routes": _STRINGS})
_TRAFFIC_ROUTING = Open(
    {
        "istio": Open({"virtualService": _VIRTUAL_SERVICE, "virtualServices": [_VIRTUAL_SERVICE]}),
        **{router: _ROUTER for router in ("nginx", "smi", "traefik", "alb")},
    }
)
_CANARY_STEP = Open(
    {
        "setWeight": INT32,
        "pause": Open({"duration": INT_OR_STRING}),
        "analysis": _ANALYSIS,
        "setCanaryScale": Open({"weight": INT32, "replicas": INT32, "matchTrafficWeight": bool}),
    }
)
# github.com/argoproj/argo-rollouts pkg/apis/rollouts/v1alpha1/types.go, for the fields the controller reads.
_ROLLOUT_SPEC = Open(
    {
        "replicas": INT32,
        "selector": _LABEL_SELECTOR,
        "template": _TEMPLATE,
        "minReadySeconds": INT32,
        "revisionHistoryLimit": INT32,
        "progressDeadlineSeconds": INT32,
        "paused": bool,
        "strategy": Open(
            {
                "canary": Open(
                    {
                        "steps": [_CANARY_STEP],
                        "maxSurge": INT_OR_STRING,
                        "maxUnavailable": INT_OR_STRING,
                        "stableService": str,
                        "canaryService": str,
                        "analysis": _ANALYSIS,
                        "scaleDownDelaySeconds": INT32,
                        "abortScaleDownDelaySeconds": INT32,
                        "dynamicStableScale": bool,
                        "trafficRouting": _TRAFFIC_ROUTING,
                    }
                ),
                "blueGreen": Open(
                    {
                        "activeService": str,
                        "previewService": str,
                        "autoPromotionEnabled": bool,
                        "autoPromotionSeconds": INT32,
                        "scaleDownDelaySeconds": INT32,
                        "previewReplicaCount": INT32,
                        "prePromotionAnalysis": _ANALYSIS,
                        "postPromotionAnalysis": _ANALYSIS,
                    }
                ),
            }
        ),
    }
)
_SPECS: dict[str, object] = {
    "Deployment": {
        "replicas": INT32,
        "selector": _LABEL_SELECTOR,
        "template": _TEMPLATE,
        "strategy": {"type": str, "rollingUpdate": {"maxSurge": INT_OR_STRING, "maxUnavailable": INT_OR_STRING}},
        "minReadySeconds": INT32,
        "revisionHistoryLimit": INT32,
        "paused": bool,
        "progressDeadlineSeconds": INT32,
    },
    "ReplicaSet": {
        "replicas": INT32,
        "minReadySeconds": INT32,
        "selector": _LABEL_SELECTOR,
        "template": _TEMPLATE,
    },
    "Pod": _POD_SPEC,
    "Service": {
        **{name: _ANY for name in _SERVICE_SPEC_FIELDS},
        "selector": _LABELS,
        "type": str,
        "ports": [
            {
                "name": str,
                "protocol": str,
                "appProtocol": str,
                "port": INT32,
                "targetPort": INT_OR_STRING,
                "nodePort": INT32,
            }
        ],
    },
    "PodDisruptionBudget": {
        "minAvailable": INT_OR_STRING,
        "maxUnavailable": INT_OR_STRING,
        "selector": _LABEL_SELECTOR,
        "unhealthyPodEvictionPolicy": str,
    },
    "Node": {
        "unschedulable": bool,
        "taints": [{"key": str, "value": str, "effect": str, "timeAdded": _ANY}],
        "podCIDR": str,
        "podCIDRs": _STRINGS,
        "providerID": str,
        "configSource": _ANY,
        "externalID": str,
    },
    "Rollout": _ROLLOUT_SPEC,
    # staging/src/k8s.io/api/batch/v1/types.go JobSpec
    "Job": {
        "parallelism": INT32,
        "completions": INT32,
        "activeDeadlineSeconds": SECONDS,
        "podFailurePolicy": _ANY,
        "successPolicy": _ANY,
        "backoffLimit": INT32,
        "backoffLimitPerIndex": INT32,
        "maxFailedIndexes": INT32,
        "selector": _LABEL_SELECTOR,
        "manualSelector": bool,
        "template": _TEMPLATE,
        "ttlSecondsAfterFinished": INT32,
        "completionMode": str,
        "suspend": bool,
        "podReplacementPolicy": str,
        "managedBy": str,
    },
}
# Top-level fields beside metadata and spec that a kind's objects carry.
_TOP_LEVEL: dict[str, dict] = {
    "ConfigMap": {"data": MapOf(str), "binaryData": MapOf(str), "immutable": bool},
    "Secret": {"data": MapOf(str), "stringData": MapOf(str), "type": str, "immutable": bool},
    "Node": {"status": Open({"capacity": MapOf(QUANTITY), "allocatable": MapOf(QUANTITY)})},
}


def decode_errors(obj: dict) -> list[FieldError]:
    """What strict decoding refuses before defaulting and validation: unknown fields and wrong shapes.

    Nulls are dropped from `obj` first, in place: Go's JSON decoder leaves the zero value for a null
    (encoding/json Unmarshal), and custom resources prune them, so `spec: null` or
    `periodSeconds: null` read as absent and defaulting fills them in as the API server does.
    """
    if not isinstance(obj, dict):
        return [FieldError("(root)", "expected a Kubernetes object (a mapping)")]
    drop_nulls(obj)
    errors = _envelope_errors(obj) or _number_errors(obj)
    if errors:
        return errors
    kind = obj["kind"]
    top_level = {"apiVersion", "kind", "metadata", "spec", "status", *_TOP_LEVEL.get(kind, {})}
    errors += [
        FieldError(shown(key) if not isinstance(key, str) else key, "unknown field")
        for key in obj
        if key not in top_level
    ]
    errors += _shape_errors(obj["metadata"], _OBJECT_META, "metadata")
    if "spec" in obj:
        errors += _shape_errors(obj["spec"], _SPECS.get(kind, dict), "spec")
    for field, schema in _TOP_LEVEL.get(kind, {}).items():
        if field in obj:
            errors += _shape_errors(obj[field], schema, field)
    return errors


def drop_nulls(value: object) -> object:
    """Remove null-valued keys from every mapping in `value`, in place; returns it."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:  # YAML aliases share objects: visit each once
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            for key in [k for k, v in item.items() if v is None]:
                del item[key]
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return value


def _number_errors(obj: dict) -> list[FieldError]:
    """NaN and infinities anywhere: JSON has no such numbers, so no client could have sent them."""
    errors: list[FieldError] = []
    stack: list[tuple[object, str]] = [(obj, "")]
    seen: set[int] = set()
    while stack and len(errors) < 10:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            errors.append(FieldError(path or "(root)", f"Invalid value: {item}: JSON numbers are finite"))
        elif isinstance(item, dict | list) and id(item) not in seen:
            seen.add(id(item))
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, value in pairs:
                name = key if isinstance(key, int) or (isinstance(key, str) and len(key) <= 80) else shown(key)
                step = f"[{name}]" if isinstance(item, list) else f".{name}" if path else str(name)
                stack.append((value, f"{path}{step}"))
    return sorted(errors, key=lambda error: error.path)


def _envelope_errors(obj: dict) -> list[FieldError]:
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj.get(field):
            return [FieldError(field, "Required value")]
    if (obj["apiVersion"], obj["kind"]) not in SUPPORTED_KINDS:
        known = ", ".join(f"{kind} ({api})" for api, kind in sorted(SUPPORTED_KINDS, key=lambda k: k[1]))
        return [
            FieldError("kind", f"no support for {shown(obj['apiVersion'])} {shown(obj['kind'])}; supported: {known}")
        ]
    meta = obj.get("metadata")
    if meta is None:
        return [FieldError("metadata", "Required value")]
    if not isinstance(meta, dict):
        return [FieldError("metadata", f"Invalid value: expected a mapping, got {_type_name(meta)}")]
    return []


def _shape_errors(value: object, schema: object, path: str) -> list[FieldError]:
    """Strict decoding of one value against its schema: unknown fields and wrongly typed values."""
    if schema is _ANY:
        return []
    if isinstance(schema, Scalar):
        problem = schema.problem(value)
        return [] if problem is None else [FieldError(path, problem)]
    if isinstance(schema, type):
        if schema is bool and not isinstance(value, bool):
            return [FieldError(path, f"Invalid value: {shown(value)}: expected a boolean")]
        if not isinstance(value, schema):
            return [FieldError(path, f"Invalid value: {shown(value)}: expected {_TYPE_NAMES[schema]}")]
        return []
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [FieldError(path, f"Invalid value: expected a list, got {_type_name(value)}")]
        errors: list[FieldError] = []
        for index, item in enumerate(value):
            errors += _shape_errors(item, schema[0], f"{path}[{index}]")
        return errors
    if not isinstance(value, dict):
        return [FieldError(path, f"Invalid value: expected a mapping, got {_type_name(value)}")]
    errors = []
    if isinstance(schema, MapOf):
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append(FieldError(path, f"Invalid value: {shown(key)}: keys must be strings"))
            else:
                errors += _shape_errors(item, schema.values, f"{path}.{key}")
        return errors
    fields, open_ = (schema.fields, True) if isinstance(schema, Open) else (schema, False)
    for key, item in value.items():
        if key in fields:
            errors += _shape_errors(item, fields[key], f"{path}.{key}")
        elif not open_:
            errors.append(FieldError(f"{path}.{shown(key) if not isinstance(key, str) else key}", "unknown field"))
    return errors


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "a list", dict: "a mapping"}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)
