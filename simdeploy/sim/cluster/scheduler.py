"""The scheduler: binds pending pods to nodes with room for their CPU, memory and pod-count requests."""

from __future__ import annotations

import heapq
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from simdeploy.k8s.pod_util import pod_requests
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.store import ADDED, DELETED, Store, controller_uid
from simdeploy.sim.recorder import Recorder


@dataclass
class NodeUsage:
    """What the scheduler has placed on one node."""

    cpu: float = 0.0
    memory: float = 0.0
    pods: int = 0
    by_owner: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Need:
    """What a pod asks of a node; pods of one ReplicaSet ask the same, so they share a node heap."""

    owner: str | None
    cpu: float
    memory: float
    node_selector: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, pod: dict) -> Need:
        cpu, memory = pod_requests(pod)
        selector = tuple(sorted((pod["spec"].get("nodeSelector") or {}).items()))
        return cls(controller_uid(pod), cpu, memory, selector)


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
    labels: dict = field(default_factory=dict)

    def unfit(self, need: Need) -> tuple[str, ...]:
        """Why the pod cannot go here, as the first failing filter plugin says; () when it fits.

        Plugin order of the default profile: NodeUnschedulable, TaintToleration, NodeAffinity, then
        NodeResourcesFit, which reports every resource that is short (noderesources/fit.go).
        """
        if self.takes_pods:
            return (self.takes_pods,)
        if any(self.labels.get(key) != value for key, value in need.node_selector):
            return ("node(s) didn't match Pod's node affinity/selector",)
        reasons = []
        if self.usage.pods + 1 > self.pods:
            reasons.append("Too many pods")
        if need.cpu and self.usage.cpu + need.cpu > self.cpu + 1e-9:
            reasons.append("Insufficient cpu")
        if need.memory and self.usage.memory + need.memory > self.memory + 1e-9:
            reasons.append("Insufficient memory")
        return tuple(reasons)

    def score(self, owner: str | None) -> tuple:
        # Spread the replicas of one owner (default topology spreading), then least allocated.
        load = self.usage.cpu / (self.cpu or 1.0) + self.usage.memory / (self.memory or 1.0)
        return (self.usage.by_owner[owner], load, self.usage.pods, self.name)


class Scheduler:
    """Places each new pod after the scheduling latency; retries unschedulable pods when room frees.

    Candidate nodes sit in one heap per owner and request, ordered by score; an entry whose node
    changed since it was pushed is re-scored when it comes up, so placing a pod costs O(log nodes).
    """

    MAX_HEAPS = 8

    def __init__(self, clock: Clock, store: Store, recorder: Recorder, latency: float):
        self.clock = clock
        self.store = store
        self.recorder = recorder
        self.latency = latency
        self.nodes: dict[str, NodeInfo] = {}
        self._heaps: OrderedDict[Need, list] = OrderedDict()
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
        info.labels = dict(node["metadata"].get("labels") or {})
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
        for need, heap in self._heaps.items():
            heapq.heappush(heap, (info.score(need.owner), info.version, info.name))

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
        need = Need.of(pod)
        info = self._choose(need)
        if info is None:
            first = meta["uid"] not in self._unschedulable
            self._unschedulable[meta["uid"]] = pod
            if first:
                message = self._unschedulable_message(need)
                self._set_scheduled(pod, False, message)
                self.recorder.object_event(pod, "FailedScheduling", message, warning=True)
            return
        self._unschedulable.pop(meta["uid"], None)
        info.usage.cpu += need.cpu
        info.usage.memory += need.memory
        info.usage.pods += 1
        info.usage.by_owner[need.owner] += 1
        self._changed(info)
        self._placed[meta["uid"]] = (info.name, need.cpu, need.memory, need.owner)
        pod["spec"]["nodeName"] = info.name
        self.recorder.object_event(
            pod, "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {info.name}"
        )
        self._set_scheduled(pod, True, None)

    def _heap(self, need: Need) -> list:
        heap = self._heaps.get(need)
        if heap is None:
            heap = [(info.score(need.owner), info.version, info.name) for info in self.nodes.values()]
            heapq.heapify(heap)
            self._heaps[need] = heap
            if len(self._heaps) > self.MAX_HEAPS:
                self._heaps.popitem(last=False)
        self._heaps.move_to_end(need)
        return heap

    def _choose(self, need: Need) -> NodeInfo | None:
        """The best-scoring node that fits; a node that does not fit is offered again when it changes."""
        heap = self._heap(need)
        while heap:
            _, version, name = heapq.heappop(heap)
            info = self.nodes.get(name)
            if info is None or version != info.version:
                continue  # stale: _changed() pushed a current entry for this node
            if not info.unfit(need):
                return info
        return None

    def _unschedulable_message(self, need: Need) -> str:
        reasons = Counter(reason for info in self.nodes.values() for reason in info.unfit(need))
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
    """FitError.Error() in pkg/scheduler/framework: the "<count> <reason>" strings, sorted as strings."""
    detail = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    return f"0/{nodes} nodes are available: {detail}." if detail else f"0/{nodes} nodes are available."
