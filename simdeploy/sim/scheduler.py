"""The scheduler: binds pending pods to nodes with room for their CPU, memory and pod-count requests."""

from __future__ import annotations

import heapq
from collections import Counter, OrderedDict
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


@dataclass
class NodeInfo:
    """A node as the scheduler caches it: capacity, whether it takes pods, and what is placed on it."""

    name: str
    cpu: float
    memory: float
    pods: int
    takes_pods: str | None  # None, or why the node takes no pods at all
    usage: NodeUsage = field(default_factory=NodeUsage)
    version: int = 0

    def unfit(self, cpu: float, memory: float) -> str | None:
        if self.takes_pods:
            return self.takes_pods
        if self.usage.pods + 1 > self.pods:
            return "Too many pods"
        if cpu and self.usage.cpu + cpu > self.cpu + 1e-9:
            return "Insufficient cpu"
        if memory and self.usage.memory + memory > self.memory + 1e-9:
            return "Insufficient memory"
        return None

    def score(self, owner: str | None) -> tuple:
        # Spread the replicas of one owner (default topology spreading), then least allocated.
        load = self.usage.cpu / (self.cpu or 1.0) + self.usage.memory / (self.memory or 1.0)
        return (self.usage.by_owner[owner], load, self.usage.pods, self.name)


class Scheduler:
    """Places each new pod after the scheduling latency; retries unschedulable pods when room frees.

    Candidate nodes sit in one heap per owner, ordered by score; an entry whose node changed since
    it was pushed is re-scored when it comes up, so placing a pod costs O(log nodes).
    """

    MAX_HEAPS = 8

    def __init__(self, clock: Clock, store: Store, recorder: Recorder, latency: float):
        self.clock = clock
        self.store = store
        self.recorder = recorder
        self.latency = latency
        self.nodes: dict[str, NodeInfo] = {}
        self._heaps: OrderedDict[str | None, list] = OrderedDict()
        self._placed: dict[str, tuple[str, float, float, str | None]] = {}  # pod uid -> placement
        self._unschedulable: dict[str, dict] = {}  # pod uid -> pod, in arrival order
        self._retry_pending = False
        store.watch("Pod", self._on_pod)
        store.watch("Node", self._on_node)

    @property
    def usage(self) -> dict[str, NodeUsage]:
        return {name: info.usage for name, info in self.nodes.items()}

    # -- watches ---------------------------------------------------------------

    def _on_pod(self, event_type: str, pod: dict) -> None:
        if event_type == ADDED and not pod["spec"].get("nodeName"):
            self.clock.call_later(self.latency, lambda: self._schedule(pod))
        elif event_type == DELETED:
            uid = pod["metadata"]["uid"]
            self._unschedulable.pop(uid, None)
            placed = self._placed.pop(uid, None)
            if placed is not None:
                node, cpu, memory, owner = placed
                info = self.nodes[node]
                info.usage.cpu -= cpu
                info.usage.memory -= memory
                info.usage.pods -= 1
                info.usage.by_owner[owner] -= 1
                self._changed(info)
                self._retry_soon()

    def _on_node(self, event_type: str, node: dict) -> None:
        name = node["metadata"]["name"]
        if event_type == DELETED:
            self.nodes.pop(name, None)
            return
        allocatable = node["status"]["allocatable"]
        info = self.nodes.get(name) or NodeInfo(name, 0.0, 0.0, 0, None)
        info.cpu = parse_quantity(allocatable.get("cpu", 0))
        info.memory = parse_quantity(allocatable.get("memory", 0))
        info.pods = int(allocatable.get("pods", 110))
        if node["spec"].get("unschedulable"):
            info.takes_pods = "node(s) were unschedulable"
        elif not _node_ready(node):
            info.takes_pods = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
        else:
            info.takes_pods = None
        self.nodes[name] = info
        self._changed(info)
        self._retry_soon()

    def _changed(self, info: NodeInfo) -> None:
        """A node's score may have dropped: offer it afresh to every owner's heap."""
        info.version += 1
        for owner, heap in self._heaps.items():
            heapq.heappush(heap, (info.score(owner), info.version, info.name))

    def _retry_soon(self) -> None:
        if self._unschedulable and not self._retry_pending:
            self._retry_pending = True
            self.clock.call_later(self.latency, self._retry)

    def _retry(self) -> None:
        self._retry_pending = False
        for pod in list(self._unschedulable.values()):
            self._schedule(pod)

    # -- placing ---------------------------------------------------------------

    def _schedule(self, pod: dict) -> None:
        meta = pod["metadata"]
        if self.store.find("Pod", meta["namespace"], meta["name"]) is not pod:
            return
        if meta.get("deletionTimestamp") or pod["spec"].get("nodeName"):
            return
        cpu, memory = pod_requests(pod)
        owner = controller_uid(pod)
        info = self._choose(owner, cpu, memory)
        if info is None:
            first = meta["uid"] not in self._unschedulable
            self._unschedulable[meta["uid"]] = pod
            if first:
                message = self._unschedulable_message(cpu, memory)
                self._set_scheduled(pod, False, message)
                self.recorder.event("Pod", meta["name"], "FailedScheduling", message, warning=True)
            return
        self._unschedulable.pop(meta["uid"], None)
        info.usage.cpu += cpu
        info.usage.memory += memory
        info.usage.pods += 1
        info.usage.by_owner[owner] += 1
        self._changed(info)
        self._placed[meta["uid"]] = (info.name, cpu, memory, owner)
        pod["spec"]["nodeName"] = info.name
        self.recorder.event(
            "Pod", meta["name"], "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {info.name}"
        )
        self._set_scheduled(pod, True, None)

    def _heap(self, owner: str | None) -> list:
        heap = self._heaps.get(owner)
        if heap is None:
            heap = [(info.score(owner), info.version, info.name) for info in self.nodes.values()]
            heapq.heapify(heap)
            self._heaps[owner] = heap
            if len(self._heaps) > self.MAX_HEAPS:
                self._heaps.popitem(last=False)
        self._heaps.move_to_end(owner)
        return heap

    def _choose(self, owner: str | None, cpu: float, memory: float) -> NodeInfo | None:
        """The best-scoring node that fits; a node that does not fit is offered again when it changes."""
        heap = self._heap(owner)
        while heap:
            _, version, name = heapq.heappop(heap)
            info = self.nodes.get(name)
            if info is None or version != info.version:
                continue  # stale: _changed() pushed a current entry for this node
            if not info.unfit(cpu, memory):
                return info
        return None

    def _unschedulable_message(self, cpu: float, memory: float) -> str:
        reasons = Counter(info.unfit(cpu, memory) or "" for info in self.nodes.values())
        reasons.pop("", None)
        return _unschedulable_message(reasons, len(self.nodes))

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


def _node_ready(node: dict) -> bool:
    for condition in node.get("status", {}).get("conditions", ()):
        if condition["type"] == "Ready":
            return condition["status"] == "True"
    return True


def _unschedulable_message(reasons: Counter, nodes: int) -> str:
    detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return f"0/{nodes} nodes are available: {detail}." if detail else f"0/{nodes} nodes are available."
