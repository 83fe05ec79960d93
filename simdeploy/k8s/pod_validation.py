"""Pod spec validation: containers, their ports, probes, lifecycle handlers and resources; labels and selectors.

Rules and messages follow pkg/apis/core/validation/validation.go (ValidatePodSpec, validateContainerPorts,
validateProbe, validateHandler, validateLifecycle, validateResourceRequirements, ValidateLabels) and
apimachinery's IsValidPortNum/IsValidPortName, for objects that strict decoding has accepted.
"""

from __future__ import annotations

import re

from simdeploy.k8s.decoding import FieldError
from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.k8s.shown import shown


def check_labels(labels: dict | None, path: str) -> list[FieldError]:
    """ValidateLabels: each key a qualified name, each value a valid label value."""
    return check_label_selector({"matchLabels": labels}, path) if labels else []


def check_label_selector(selector: dict, path: str) -> list[FieldError]:
    """ValidateLabelSelector: keys, operators and values of every requirement."""
    try:
        selector_matches(selector, {})
    except ValueError as error:
        return [FieldError(path, f"Invalid value: {error}")]
    return []


def check_pod_spec(spec: dict, path: str) -> list[FieldError]:
    """pkg/apis/core/validation ValidatePodSpec, for the fields the simulation reads."""
    errors: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        errors.append(FieldError(f"{path}.terminationGracePeriodSeconds", NEGATIVE.format(grace)))
        grace = None
    errors += check_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
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
            errors += check_port_number(port["containerPort"], f"{where}.containerPort")
        if port.get("hostPort"):
            errors += check_port_number(port["hostPort"], f"{where}.hostPort")
        errors += check_protocol(port.get("protocol", "TCP"), f"{where}.protocol")
    return errors


def check_port_number(value: int, path: str) -> list[FieldError]:
    if 1 <= value <= 65535:
        return []
    return [FieldError(path, f"Invalid value: {value}: must be between 1 and 65535, inclusive")]


def check_port_number_or_name(value: int | str, path: str) -> list[FieldError]:
    """ValidatePortNumOrName: a number in range, or a valid port name."""
    if isinstance(value, int):
        return check_port_number(value, path)
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


def check_protocol(protocol: str, path: str) -> list[FieldError]:
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
        errors += check_port_number_or_name(action.get("port", 0), f"{where}.port")
        scheme = action.get("scheme", "HTTP")
        if scheme not in ("HTTP", "HTTPS"):
            errors.append(
                FieldError(f"{where}.scheme", f'Unsupported value: {shown(scheme)}: supported values: "HTTP", "HTTPS"')
            )
    elif kind == "tcpSocket":
        errors += check_port_number_or_name(action.get("port", 0), f"{where}.port")
    elif kind == "grpc":
        errors += check_port_number(action.get("port", 0), f"{where}.port")
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
                errors.append(FieldError(f"{path}.{kind}.{name}", NEGATIVE.format(shown(value))))
    for name, request in amounts.get("requests", {}).items():
        limit = amounts.get("limits", {}).get(name)
        if limit is not None and request > limit:
            message = f"must be less than or equal to {name} limit of {shown(resources['limits'][name])}"
            errors.append(
                FieldError(f"{path}.requests.{name}", f"Invalid value: {shown(resources['requests'][name])}: {message}")
            )
    return errors


NEGATIVE = "Invalid value: {}: must be greater than or equal to 0"
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
