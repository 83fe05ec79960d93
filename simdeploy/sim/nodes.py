"""Nodes: creation, cordon, drain with evictions, and failure as the node lifecycle controller sees it."""

from __future__ import annotations

import math

from simdeploy.k8s.quantity import parse_quantity
from simdeploy.sim.api import Api, EvictionRefused
from simdeploy.sim.clock import Clock
from simdeploy.sim.kubelet import Kubelet
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.store import Store

# kubectl drain retries a refused eviction every 5 s and polls for deletion every 1 s (pkg/drain).
EVICTION_RETRY = 5.0
# Node lifecycle controller defaults: --node-monitor-period 5 s, grace 50 s (1.32+), and the
# default NoExecute toleration of 300 s before pods on an unreachable node are evicted.
NODE_MONITOR_PERIOD = 5.0


def node_object(name: str, cpu: str | float, memory: str | float, pods: int, labels: dict | None = None) -> dict:
    """A Ready Node with the given allocatable resources."""
    capacity = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
        },
    }


class Nodes:
    """Cordon, drain and fail nodes, with the timings of kubectl and the node lifecycle controller."""

    def __init__(
        self,
        clock: Clock,
        store: Store,
        api: Api,
        kubelet: Kubelet,
        recorder: Recorder,
        monitor_grace: float = 50.0,
        eviction_toleration: float = 300.0,
    ):
        self.clock = clock
        self.store = store
        self.api = api
        self.kubelet = kubelet
        self.recorder = recorder
        self.monitor_grace = monitor_grace
        self.eviction_toleration = eviction_toleration

    def add(self, node: dict) -> None:
        parse_quantity(node["status"]["allocatable"]["cpu"])  # fail early on a malformed quantity
        self.store.create(node)
        self.kubelet.node(node["metadata"]["name"])

    def cordon(self, name: str, unschedulable: bool = True) -> None:
        node = self.store.get("Node", "", name)
        if bool(node["spec"].get("unschedulable")) == unschedulable:
            return
        node["spec"]["unschedulable"] = unschedulable
        self.store.update(node, spec_changed=True)
        reason = "NodeNotSchedulable" if unschedulable else "NodeSchedulable"
        self.recorder.event("Node", name, reason, f"Node {name} status is now: {reason}")

    def drain(self, name: str) -> None:
        """kubectl drain: cordon, then evict every pod on the node, retrying refused evictions."""
        self.cordon(name)
        for pod in self._pods_on(name):
            self._evict(pod, name)

    def _pods_on(self, name: str) -> list[dict]:
        return [
            pod
            for pod in self.store.list("Pod")
            if pod["spec"].get("nodeName") == name and not pod["metadata"].get("deletionTimestamp")
        ]

    def _evict(self, pod: dict, node: str) -> None:
        meta = pod["metadata"]
        if self.store.find("Pod", meta["namespace"], meta["name"]) is not pod or meta.get("deletionTimestamp"):
            return
        try:
            self.api.evict(pod)
        except EvictionRefused as refused:
            self.recorder.event(
                "Pod",
                meta["name"],
                "EvictionRefused",
                f"error when evicting pods/{meta['name']} -n {meta['namespace']} (will retry after 5s): {refused}",
                warning=True,
            )
            self.clock.call_later(EVICTION_RETRY, lambda: self._evict(pod, node))
            return
        self.recorder.event("Pod", meta["name"], "Evicted", f"Evicted from node {node} by drain")

    def fail(self, name: str) -> None:
        """The node stops: its containers die now; the control plane notices after the grace period."""
        self.kubelet.fail_node(name)
        self.recorder.event("Node", name, "NodeFailure", f"Node {name} stopped responding", warning=True)
        # The lifecycle controller checks every monitor period; it sees the missed heartbeats then.
        noticed = NODE_MONITOR_PERIOD * math.ceil((self.clock.now + self.monitor_grace) / NODE_MONITOR_PERIOD)
        self.clock.call_at(noticed, lambda: self._mark_not_ready(name))

    def _mark_not_ready(self, name: str) -> None:
        node = self.store.get("Node", "", name)
        stamp = self.store.timestamp()
        node["status"]["conditions"] = [
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastTransitionTime": stamp,
            }
        ]
        node["spec"]["taints"] = [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": stamp},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ]
        self.store.update(node)
        self.recorder.event("Node", name, "NodeNotReady", f"Node {name} status is now: NodeNotReady", warning=True)
        for pod in self._pods_on(name):
            _mark_pod_not_ready(pod, stamp)
            self.store.update(pod)
        self.clock.call_later(self.eviction_toleration, lambda: self._evict_unreachable(name))

    def _evict_unreachable(self, name: str) -> None:
        for pod in self._pods_on(name):
            self.recorder.event(
                "Pod",
                pod["metadata"]["name"],
                "TaintManagerEviction",
                f"Marking for deletion Pod {pod['metadata']['namespace']}/{pod['metadata']['name']}",
            )
            self.api.delete_pod(pod)


def _mark_pod_not_ready(pod: dict, stamp: str) -> None:
    for condition in pod.get("status", {}).get("conditions", ()):
        if condition["type"] in ("Ready", "ContainersReady") and condition["status"] == "True":
            condition["status"] = "False"
            condition["lastTransitionTime"] = stamp
