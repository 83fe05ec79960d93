"""The status a kubelet reports for a pod: phase, container and init-container statuses, and conditions.

Follows pkg/kubelet/kubelet_pods.go (getPhase, generateAPIPodStatus) and pkg/kubelet/status/generate.go for the
conditions: `Initialized` once every init container has completed, `ContainersReady`/`Ready` once the app's
containers are ready, and a pod whose containers have all stopped for good ends Succeeded (every one exited 0)
or Failed.
"""

from __future__ import annotations

from collections.abc import Callable

from simdeploy.sim.cluster.container import Container, container_status

CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def finished_phase(containers: list[Container]) -> str | None:
    """Succeeded or Failed once every app container has terminated for good (restartPolicy Never / OnFailure)."""
    if not containers or any(c.state != "terminated" for c in containers):
        return None
    return "Succeeded" if all((c.last_exit or {}).get("exitCode") == 0 for c in containers) else "Failed"


def write_pod_status(
    status: dict,
    init: list[Container],
    containers: list[Container],
    initialized: bool,
    phase: str | None,
    stamp: Callable[[float], str],
    now_stamp: str,
) -> bool:
    """Fill `status` in place; returns whether the pod is Ready."""
    ready = initialized and phase is None and all(c.ready for c in containers)
    running = any(c.state in ("running", "stopping") for c in containers)
    if phase is not None:
        status["phase"] = phase
    elif not initialized:
        status["phase"] = "Pending"
    else:
        status["phase"] = "Running" if running else status.get("phase", "Pending")
    if init:
        status["initContainerStatuses"] = [container_status(c, stamp) for c in init]
    status["containerStatuses"] = [container_status(c, stamp) for c in containers]
    conditions = {c["type"]: c for c in status.get("conditions", [])}
    set_condition(conditions, "Initialized", initialized, now_stamp)
    set_condition(conditions, "ContainersReady", ready, now_stamp)
    set_condition(conditions, "Ready", ready, now_stamp)
    status["conditions"] = [conditions[t] for t in CONDITION_ORDER if t in conditions]
    return ready


def set_condition(conditions: dict, kind: str, value: bool, stamp: str) -> None:
    text = "True" if value else "False"
    current = conditions.get(kind)
    if current is not None and current["status"] == text:
        return
    conditions[kind] = {
        "type": kind,
        "status": text,
        "lastProbeTime": None,
        "lastTransitionTime": stamp,
    }
