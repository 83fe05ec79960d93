"""API validation for the kinds we model: the errors the API server would answer with a 422.

Rules follow pkg/apis/apps/validation and pkg/apis/core/validation; they run on an object that
strict decoding (k8s/decoding.py) has accepted, so every field they read has its API type.
"""

from __future__ import annotations

import re

from simdeploy.k8s.decoding import SUPPORTED_KINDS, FieldError, decode_errors
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.intstr import get_scaled_value_from_int_or_percent
from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.k8s.shown import shown

__all__ = ["SUPPORTED_KINDS", "FieldError", "decode_errors", "rule_errors", "validate"]

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def validate(obj: dict) -> list[FieldError]:
    """Every problem the API server would report for this object (empty when valid)."""
    return decode_errors(obj) or rule_errors(obj)


def rule_errors(obj: dict) -> list[FieldError]:
    """The validation rules of the object's kind, for an object that decodes (see decode_errors)."""
    errors = _check_name(obj["metadata"])
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


def _check_pod_spec(spec: dict, path: str) -> list[FieldError]:
    """pkg/apis/core/validation ValidatePodSpec, for the fields the simulation reads."""
    errors: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        errors.append(FieldError(f"{path}.terminationGracePeriodSeconds", _NEGATIVE.format(grace)))
        grace = None
    containers = spec.get("containers")
    if not containers:
        return errors + [FieldError(f"{path}.containers", "Required value")]
    names: set[str] = set()
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or []):
            errors += _check_container(container, f"{path}.{field}[{index}]", names, grace)
    return errors


def _check_container(container: dict, where: str, names: set[str], grace: int | None) -> list[FieldError]:
    errors: list[FieldError] = []
    name = container.get("name")
    if not name:
        errors.append(FieldError(f"{where}.name", "Required value"))
    elif name in names:
        errors.append(FieldError(f"{where}.name", f"Duplicate value: {shown(name)}"))
    elif not _DNS1123_LABEL.fullmatch(name) or len(name) > 63:
        errors.append(FieldError(f"{where}.name", f"Invalid value: {shown(name)}: {_LABEL_MESSAGE}"))
    names.add(name)
    if not container.get("image"):
        errors.append(FieldError(f"{where}.image", "Required value"))
    errors += _check_container_ports(container.get("ports") or [], f"{where}.ports")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if probe is not None:
            errors += _check_probe(probe, probe_name, f"{where}.{probe_name}")
    for hook in ("postStart", "preStop"):
        handler = (container.get("lifecycle") or {}).get(hook)
        if handler is not None:
            errors += _check_handler(handler, f"{where}.lifecycle.{hook}", _LIFECYCLE_HANDLERS, grace)
    errors += _check_resources(container.get("resources") or {}, f"{where}.resources")
    return errors


def _check_container_ports(ports: list[dict], path: str) -> list[FieldError]:
    """validateContainerPorts: names are IANA service names, unique; port numbers 1-65535."""
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, port in enumerate(ports):
        where = f"{path}[{index}]"
        name = port.get("name")
        if name:
            problems = _port_name_problems(name)
            errors += [FieldError(f"{where}.name", f"Invalid value: {shown(name)}: {p}") for p in problems]
            if not problems and name in names:
                errors.append(FieldError(f"{where}.name", f"Duplicate value: {shown(name)}"))
            names.add(name)
        if not port.get("containerPort"):
            errors.append(FieldError(f"{where}.containerPort", "Required value"))
        else:
            errors += _check_port_number(port["containerPort"], f"{where}.containerPort")
        if port.get("hostPort"):
            errors += _check_port_number(port["hostPort"], f"{where}.hostPort")
        errors += _check_protocol(port.get("protocol", "TCP"), f"{where}.protocol")
    return errors


def _check_port_number(value: int, path: str) -> list[FieldError]:
    if 1 <= value <= 65535:
        return []
    return [FieldError(path, f"Invalid value: {value}: must be between 1 and 65535, inclusive")]


def _check_port_number_or_name(value: int | str, path: str) -> list[FieldError]:
    """ValidatePortNumOrName: a number in range, or a valid port name."""
    if isinstance(value, int):
        return _check_port_number(value, path)
    return [FieldError(path, f"Invalid value: {shown(value)}: {p}") for p in _port_name_problems(value)]


def _port_name_problems(name: str) -> list[str]:
    """IsValidPortName (apimachinery pkg/util/validation): an IANA_SVC_NAME."""
    problems = []
    if len(name) > 15:
        problems.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
        problems.append("must contain at least one letter (a-z)")
    if "--" in name:
        problems.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        problems.append("must not begin or end with a hyphen")
    return problems


def _check_protocol(protocol: str, path: str) -> list[FieldError]:
    if protocol in ("TCP", "UDP", "SCTP"):
        return []
    return [FieldError(path, f'Unsupported value: {shown(protocol)}: supported values: "SCTP", "TCP", "UDP"')]


def _check_probe(probe: dict, name: str, path: str) -> list[FieldError]:
    """validateProbe, validateLivenessProbe, validateReadinessProbe, validateStartupProbe."""
    errors = _check_handler(probe, path, _PROBE_HANDLERS, None)
    for field, minimum in (
        ("initialDelaySeconds", 0),
        ("periodSeconds", 1),
        ("timeoutSeconds", 1),
        ("successThreshold", 1),
        ("failureThreshold", 1),
    ):
        value = probe.get(field)
        if value is not None and value < minimum:
            message = f"Invalid value: {value}: must be greater than or equal to {minimum}"
            errors.append(FieldError(f"{path}.{field}", message))
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and name == "readinessProbe":
        errors.append(
            FieldError(
                f"{path}.terminationGracePeriodSeconds", f"Invalid value: {grace}: must not be set for readinessProbes"
            )
        )
    elif grace is not None and grace <= 0:
        errors.append(
            FieldError(f"{path}.terminationGracePeriodSeconds", f"Invalid value: {grace}: must be greater than 0")
        )
    if name != "readinessProbe" and probe.get("successThreshold", 1) != 1:
        errors.append(FieldError(f"{path}.successThreshold", f"Invalid value: {probe['successThreshold']}: must be 1"))
    return errors


def _check_handler(handler: dict, path: str, kinds: tuple[str, ...], grace: int | None) -> list[FieldError]:
    """validateHandler: exactly one handler type, each valid."""
    given = [kind for kind in kinds if kind in handler]
    if not given:
        return [FieldError(path, f"Required value: must specify a handler type ({', '.join(kinds)})")]
    errors = [FieldError(f"{path}.{kind}", "Forbidden: may not specify more than 1 handler type") for kind in given[1:]]
    kind, action = given[0], handler[given[0]]
    where = f"{path}.{kind}"
    if kind == "exec" and not action.get("command"):
        errors.append(FieldError(f"{where}.command", "Required value"))
    elif kind == "httpGet":
        if not action.get("path"):
            errors.append(FieldError(f"{where}.path", "Required value"))
        errors += _check_port_number_or_name(action.get("port", 0), f"{where}.port")
        scheme = action.get("scheme", "HTTP")
        if scheme not in ("HTTP", "HTTPS"):
            errors.append(
                FieldError(f"{where}.scheme", f'Unsupported value: {shown(scheme)}: supported values: "HTTP", "HTTPS"')
            )
    elif kind == "tcpSocket":
        errors += _check_port_number_or_name(action.get("port", 0), f"{where}.port")
    elif kind == "grpc":
        errors += _check_port_number(action.get("port", 0), f"{where}.port")
    elif kind == "sleep":
        seconds = action.get("seconds", 0)
        if grace is not None and not 0 < seconds <= grace:
            message = f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace})"
            errors.append(FieldError(where, f"Invalid value: {seconds}: {message}"))
    return errors


def _check_resources(resources: dict, path: str) -> list[FieldError]:
    """validateResourceRequirements: quantities are not negative, and requests do not exceed limits."""
    errors: list[FieldError] = []
    amounts: dict[str, dict[str, float]] = {}
    for kind in ("limits", "requests"):
        for name, value in (resources.get(kind) or {}).items():
            amount = amounts.setdefault(kind, {})[name] = parse_quantity(value)
            if amount < 0:
                errors.append(FieldError(f"{path}.{kind}.{name}", _NEGATIVE.format(shown(value))))
    for name, request in amounts.get("requests", {}).items():
        limit = amounts.get("limits", {}).get(name)
        if limit is not None and request > limit:
            message = f"must be less than or equal to {name} limit of {shown(resources['limits'][name])}"
            errors.append(
                FieldError(f"{path}.requests.{name}", f"Invalid value: {shown(resources['requests'][name])}: {message}")
            )
    return errors


_NEGATIVE = "Invalid value: {}: must be greater than or equal to 0"
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


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
        errors += _check_pod_spec(template["spec"], "spec.template.spec")
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
        FieldError(f"spec.{f}", _NEGATIVE.format(spec[f])) for f in fields if spec.get(f) is not None and spec[f] < 0
    ]


def _check_replica_set(obj: dict) -> list[FieldError]:
    errors = _check_selector(obj) + _check_non_negative(obj["spec"], ("replicas", "minReadySeconds"))
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
    """validateServicePort for each port: numbers in range, a target port number or name, unique names."""
    errors: list[FieldError] = []
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
            errors += _check_port_number(port["port"], f"{where}.port")
        errors += _check_protocol(port.get("protocol", "TCP"), f"{where}.protocol")
        if port.get("targetPort") not in (None, 0):
            errors += _check_port_number_or_name(port["targetPort"], f"{where}.targetPort")
    return errors


def _check_node(obj: dict) -> list[FieldError]:
    """A node's capacity and allocatable resources are not negative."""
    errors: list[FieldError] = []
    status = obj.get("status") or {}
    for field in ("capacity", "allocatable"):
        for name, value in (status.get(field) or {}).items():
            if parse_quantity(value) < 0:
                errors.append(FieldError(f"status.{field}.{name}", _NEGATIVE.format(shown(value))))
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
}
