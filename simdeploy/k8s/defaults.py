"""API defaulting: the fields the API server fills in when a manifest leaves them out.

Follows pkg/apis/apps/v1/defaults.go and pkg/apis/core/v1/defaults.go for the kinds we model.
"""

from __future__ import annotations

from collections.abc import Callable

from simdeploy.k8s.job_util import default_job


def apply_defaults(obj: dict) -> dict:
    """Fill in API defaults in place, for the kinds that have them; returns the object."""
    metadata = obj.setdefault("metadata", {})
    if obj.get("kind") not in ("Node", "Namespace"):
        metadata.setdefault("namespace", "default")
    defaulter = _DEFAULTERS.get(obj.get("kind", ""))
    if defaulter is not None:
        defaulter(obj)
    return obj


def default_deployment(deployment: dict) -> None:
    spec = deployment.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("minReadySeconds", 0)
    default_pod_template(spec.setdefault("template", {}))


def default_rollout(rollout: dict) -> None:
    """argoproj.io Rollout: the pod template is defaulted like any pod template; Argo's own defaults
    (replicas 1, maxSurge/maxUnavailable "25") are read at use, not written (utils/defaults)."""
    spec = rollout.setdefault("spec", {})
    default_pod_template(spec.setdefault("template", {}))


def default_replica_set(rs: dict) -> None:
    spec = rs.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("minReadySeconds", 0)
    default_pod_template(spec.setdefault("template", {}))


def default_pod_template(template: dict) -> None:
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}))


def default_batch_job(job: dict) -> None:
    default_job(job)
    default_pod_template(job["spec"]["template"])


def default_pod(pod: dict) -> None:
    default_pod_spec(pod.setdefault("spec", {}))
    pod.setdefault("status", {}).setdefault("phase", "Pending")


def default_pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("initContainers") or []:
        default_container(container)
    for container in spec.setdefault("containers", []):
        default_container(container)


def default_container(container: dict) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    untagged = ":" not in tag and "@" not in tag
    pull_always = untagged or tag.endswith(":latest")
    container.setdefault("imagePullPolicy", "Always" if pull_always else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port["protocol"] = port.get("protocol") or "TCP"
    for hook in ("postStart", "preStop"):
        handler = (container.get("lifecycle") or {}).get(hook) or {}
        if "httpGet" in handler:
            default_http_get(handler["httpGet"])
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        if container.get(probe_name) is not None:
            default_probe(container[probe_name])


def default_probe(probe: dict) -> None:
    """SetDefaults_Probe: a zero is unset, as in Go."""
    probe.setdefault("initialDelaySeconds", 0)
    for field, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(field):
            probe[field] = value
    if "httpGet" in probe:
        default_http_get(probe["httpGet"])


def default_http_get(action: dict) -> None:
    """SetDefaults_HTTPGetAction."""
    action["path"] = action.get("path") or "/"
    action["scheme"] = action.get("scheme") or "HTTP"


def default_service(service: dict) -> None:
    spec = service.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port["protocol"] = port.get("protocol") or "TCP"
        if port.get("targetPort") in (None, 0, ""):  # SetDefaults_Service: an unset target is the port
            port["targetPort"] = port.get("port")


_DEFAULTERS: dict[str, Callable[[dict], None]] = {
    "Deployment": default_deployment,
    "ReplicaSet": default_replica_set,
    "Rollout": default_rollout,
    "Pod": default_pod,
    "Service": default_service,
    "Job": default_batch_job,
}
