"""The scheduler: binds pending pods to nodes with room for their CPU, memory and pod-count requests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from simdeploy.k8s.quantity import parse_quantity
from simdeploy.sim.clock import Clock
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.store import ADDED, DELETED, Store, controller_uid


@dataclass
class NodeUsage:
    """What the scheduler has placed on one node."""

    cpu: float = 0.0
    memory: float = 0.0
    pods: int = 0
    by_owner: Counter = field(default_factory=Counter)


def pod_requests(pod: dict) -> tuple[float, float]:
    """CPU cores and memory bytes requested (limits stand in for missing requests, as defaulted)."""
    cpu = memory = 0.0
    for container in pod["spec"]["containers"]:
        resources = container.get("resources") or {}
        requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        if "cpu" in requests:
            cpu += parse_quantity(requests["cpu"])
        if "memory" in requests:
            memory += parse_quantity(requests["memory"])
    return cpu, memory


class Scheduler:
    """Places each new pod after the scheduling latency; retries unschedulable pods when room frees."""

    def __init__(self, clock: Clock, store: Store, recorder: Recorder, latency: float):
        self.clock = clock
        self.store = store
        self.recorder = recorder
        self.latency = latency
        self.usage: dict[str, NodeUsage] = {}
        self._placed: dict[str, tuple[str, float, float, str | None]] = {}  # pod uid -> placement
        self._unschedulable: dict[str, dict] = {}  # pod uid -> pod, in arrival order
        self._retry_pending = False
        store.watch("Pod", self._on_pod)
        store.watch("Node", self._on_node)

    def _on_pod(self, event_type: str, pod: dict) -> None:
        if event_type == ADDED and not pod["spec"].get("nodeName"):
            self.clock.call_later(self.latency, lambda: self._schedule(pod))
        elif event_type == DELETED:
            uid = pod["metadata"]["uid"]
            self._unschedulable.pop(uid, None)
            placed = self._placed.pop(uid, None)
            if placed is not None:
                node, cpu, memory, owner = placed
                usage = self.usage[node]
                usage.cpu -= cpu
                usage.memory -= memory
                usage.pods -= 1
                usage.by_owner[owner] -= 1
                self._retry_soon()

    def _on_node(self, event_type: str, node: dict) -> None:
        self._retry_soon()

    def _retry_soon(self) -> None:
        if self._unschedulable and not self._retry_pending:
            self._retry_pending = True
            self.clock.call_later(self.latency, self._retry)

    def _retry(self) -> None:
        self._retry_pending = False
        for pod in list(self._unschedulable.values()):
            self._schedule(pod, retry=True)

    def _schedule(self, pod: dict, retry: bool = False) -> None:
        meta = pod["metadata"]
        if self.store.find("Pod", meta["namespace"], meta["name"]) is not pod:
            return
        if meta.get("deletionTimestamp") or pod["spec"].get("nodeName"):
            return
        cpu, memory = pod_requests(pod)
        owner = controller_uid(pod)
        node, reasons = self._choose(cpu, memory, owner)
        if node is None:
            first = meta["uid"] not in self._unschedulable
            self._unschedulable[meta["uid"]] = pod
            message = _unschedulable_message(reasons, self.store.count("Node"))
            if first:
                self._set_scheduled(pod, False, message)
                self.recorder.event("Pod", meta["name"], "FailedScheduling", message, warning=True)
            return
        self._unschedulable.pop(meta["uid"], None)
        usage = self.usage.setdefault(node, NodeUsage())
        usage.cpu += cpu
        usage.memory += memory
        usage.pods += 1
        usage.by_owner[owner] += 1
        self._placed[meta["uid"]] = (node, cpu, memory, owner)
        pod["spec"]["nodeName"] = node
        self.recorder.event(
            "Pod",
            meta["name"],
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
        )
        self._set_scheduled(pod, True, None)

    def _choose(self, cpu: float, memory: float, owner: str | None) -> tuple[str | None, Counter]:
        best, best_score = None, None
        reasons: Counter = Counter()
        for node in self.store.list("Node"):
            name = node["metadata"]["name"]
            allocatable = node["status"]["allocatable"]
            usage = self.usage.get(name) or NodeUsage()
            reason = _unfit(node, usage, cpu, memory)
            if reason:
                reasons[reason] += 1
                continue
            node_cpu = parse_quantity(allocatable.get("cpu", 0)) or 1.0
            node_memory = parse_quantity(allocatable.get("memory", 0)) or 1.0
            # Spread replicas of one owner (default topology spreading), then least allocated.
            load = (usage.cpu + cpu) / node_cpu + (usage.memory + memory) / node_memory
            score = (usage.by_owner[owner], load, usage.pods, name)
            if best_score is None or score < best_score:
                best, best_score = name, score
        return best, reasons

    def _set_scheduled(self, pod: dict, scheduled: bool, message: str | None) -> None:
        status = pod.setdefault("status", {"phase": "Pending"})
        condition = {
            "type": "PodScheduled",
            "status": "True" if scheduled else "False",
            "lastProbeTime": None,
            "lastTransitionTime": self.store.timestamp(),
        }
        if not scheduled:
            condition.update(reason="Unschedulable", message=message)
        status["conditions"] = [c for c in status.get("conditions", []) if c["type"] != "PodScheduled"]
        status["conditions"].append(condition)
        self.store.update(pod)


def _unfit(node: dict, usage: NodeUsage, cpu: float, memory: float) -> str | None:
    if node["spec"].get("unschedulable"):
        return "node(s) were unschedulable"
    if not _node_ready(node):
        return "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
    allocatable = node["status"]["allocatable"]
    if usage.pods + 1 > int(allocatable.get("pods", 110)):
        return "Too many pods"
    if cpu and usage.cpu + cpu > parse_quantity(allocatable.get("cpu", 0)) + 1e-9:
        return "Insufficient cpu"
    if memory and usage.memory + memory > parse_quantity(allocatable.get("memory", 0)) + 1e-9:
        return "Insufficient memory"
    return None


def _node_ready(node: dict) -> bool:
    for condition in node.get("status", {}).get("conditions", ()):
        if condition["type"] == "Ready":
            return condition["status"] == "True"
    return True


def _unschedulable_message(reasons: Counter, nodes: int) -> str:
    detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return f"0/{nodes} nodes are available: {detail}." if detail else f"0/{nodes} nodes are available."
