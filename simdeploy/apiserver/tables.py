"""Table responses (meta.k8s.io/v1) with kubectl's usual columns, ages measured in simulated time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from simdeploy.k8s.job_util import completions_text, job_status_text
from simdeploy.k8s.labels import format_selector
from simdeploy.k8s.timeutil import parse_time

TABLE_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(accept: str) -> bool:
    # kubectl get asks `application/json;as=Table;v=v1;g=meta.k8s.io,...` for human output; -o json does not
    # (staging/src/k8s.io/kubectl/pkg/cmd/get/get.go transformRequests).
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration, as kubectl prints AGE."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def _age(obj: dict, now: datetime) -> str:
    stamp = obj["metadata"].get("creationTimestamp")
    return "<unknown>" if not stamp else human_duration((now - parse_time(stamp)).total_seconds())


def _containers(obj: dict) -> list[dict]:
    return obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


def _init_status(pod: dict) -> str | None:
    """printPod's init-container part: `Init:N/M` while they run, `Init:<reason>` when one fails or waits."""
    statuses = pod.get("status", {}).get("initContainerStatuses") or []
    total = len(pod.get("spec", {}).get("initContainers") or [])
    for index, container in enumerate(statuses):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode") == 0:
            continue
        if terminated is not None:
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
            return f"Init:{reason}"
        if waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{total}"
    return None


def _pod_status(pod: dict) -> str:
    """A simplified printPod: the phase, overridden by a waiting/terminated reason, then Terminating."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    initializing = _init_status(pod)
    if initializing is not None:
        return "Terminating" if pod["metadata"].get("deletionTimestamp") else initializing
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _pod_row(pod: dict, now: datetime) -> list:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    total = len(pod.get("spec", {}).get("containers", []))
    status = pod.get("status", {})
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        restarts,
        _age(pod, now),
        status.get("podIP") or "<none>",
        pod.get("spec", {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _workload_wide(obj: dict) -> list:
    containers = _containers(obj)
    return [
        ",".join(c["name"] for c in containers),
        ",".join(c.get("image", "") for c in containers),
        format_selector(obj.get("spec", {}).get("selector")) or "<none>",
    ]


def _deployment_row(d: dict, now: datetime) -> list:
    spec, status = d.get("spec", {}), d.get("status", {})
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    up, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    return [d["metadata"]["name"], ready, up, available, _age(d, now), *_workload_wide(d)]


def _replicaset_row(rs: dict, now: datetime) -> list:
    spec, status = rs.get("spec", {}), rs.get("status", {})
    row = [rs["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0)]
    return [*row, _age(rs, now), *_workload_wide(rs)]


def _job_row(job: dict, now: datetime) -> list:
    status = job.get("status", {})
    took = ""
    if status.get("startTime"):
        end = parse_time(status["completionTime"]) if status.get("completionTime") else now
        took = human_duration((end - parse_time(status["startTime"])).total_seconds())
    row = [job["metadata"]["name"], job_status_text(job), completions_text(job), took, _age(job, now)]
    return [*row, *_workload_wide(job)]


def _service_row(svc: dict, now: datetime) -> list:
    spec = svc.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])) or "<none>"
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        "<none>",
        ports,
        _age(svc, now),
        selector,
    ]


def _node_row(node: dict, now: datetime) -> list:
    conditions = {c["type"]: c.get("status") for c in node.get("status", {}).get("conditions", [])}
    status = {"True": "Ready", "False": "NotReady"}.get(conditions.get("Ready"), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return [node["metadata"]["name"], status, "<none>", _age(node, now), "v1.37.0-simdeploy"]


def _event_row(event: dict, now: datetime) -> list:
    involved = event["involvedObject"]
    seen = human_duration((now - parse_time(event["lastTimestamp"])).total_seconds())
    return [seen, event["type"], event["reason"], f"{involved['kind'].lower()}/{involved['name']}", event["message"]]


def _endpoints_row(ep: dict, now: datetime) -> list:
    pairs = [
        f"{a['ip']}:{p['port']}"
        for subset in ep.get("subsets", [])
        for a in subset["addresses"]
        for p in subset["ports"]
    ]
    shown = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [ep["metadata"]["name"], shown or "<none>", _age(ep, now)]


def _namespace_row(ns: dict, now: datetime) -> list:
    return [ns["metadata"]["name"], ns.get("status", {}).get("phase", "Active"), _age(ns, now)]


def _generic_row(obj: dict, now: datetime) -> list:
    return [obj["metadata"]["name"], _age(obj, now)]


def _columns(*specs: str) -> list[dict]:
    """'Name:string', a trailing '+' marks a wide-only column (priority 1: shown with -o wide)."""
    columns = []
    for spec in specs:
        name, _, kind = spec.rstrip("+").partition(":")
        column = {"name": name, "type": kind or "string", "format": "name" if name == "Name" else "", "priority": 0}
        column["priority"] = 1 if spec.endswith("+") else 0
        columns.append(column)
    return columns


_WIDE_WORKLOAD = ("Containers+", "Images+", "Selector+")
_PRINTERS: dict[str, tuple[list[dict], Callable[[dict, datetime], list]]] = {
    "Pod": (
        _columns(
            "Name", "Ready", "Status", "Restarts:integer", "Age", "IP+", "Node+", "Nominated Node+", "Readiness Gates+"
        ),
        _pod_row,
    ),
    "Deployment": (
        _columns("Name", "Ready", "Up-to-date:integer", "Available:integer", "Age", *_WIDE_WORKLOAD),
        _deployment_row,
    ),
    "ReplicaSet": (
        _columns("Name", "Desired:integer", "Current:integer", "Ready:integer", "Age", *_WIDE_WORKLOAD),
        _replicaset_row,
    ),
    "Job": (_columns("Name", "Status", "Completions", "Duration", "Age", *_WIDE_WORKLOAD), _job_row),
    "Service": (_columns("Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector+"), _service_row),
    "Node": (_columns("Name", "Status", "Roles", "Age", "Version"), _node_row),
    "Endpoints": (_columns("Name", "Endpoints", "Age"), _endpoints_row),
    "Namespace": (_columns("Name", "Status", "Age"), _namespace_row),
    "Event": (_columns("Last Seen", "Type", "Reason", "Object", "Message"), _event_row),
}
_GENERIC = (_columns("Name", "Age"), _generic_row)


def _partial_metadata(obj: dict) -> dict:
    # kubectl fills the NAMESPACE column of `-A` and the LABELS column of --show-labels from each row's
    # object metadata (staging/src/k8s.io/cli-runtime/pkg/printers/tableprinter.go decorateTable).
    meta = obj["metadata"]
    keep = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "annotations")
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {k: meta[k] for k in keep if k in meta},
    }


def table(kind: str, objects: list[dict], now: datetime, resource_version: str) -> dict:
    columns, row = _PRINTERS.get(kind, _GENERIC)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": [{"cells": row(obj, now), "object": _partial_metadata(obj)} for obj in objects],
    }
