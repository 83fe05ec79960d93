"""Nodes: creation, cordon, drain with evictions, and failure as the node lifecycle controller sees it."""

from __future__ import annotations

import copy
import math

from simdeploy.k8s.quantity import parse_quantity
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import Api, EvictionRefused
from simdeploy.sim.cluster.kubelet import Kubelet
from simdeploy.sim.cluster.store import Store
from simdeploy.sim.recorder import Recorder

# kubectl drain retries a refused eviction every 5 s and polls for deletion every 1 s (pkg/drain).
EVICTION_RETRY = 5.0
# Node lifecycle controller defaults: --node-monitor-period 5 s, grace 50 s (1.32+), and the
# default NoExecute toleration of 300 s before pods on an unreachable node are evicted.
NODE_MONITOR_PERIOD = 5.0
UNREACHABLE = "node.kubernetes.io/unreachable"


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
        changed = copy.deepcopy(node)  # kubectl cordon: a user's write, through the API rules
        changed["spec"]["unschedulable"] = unschedulable
        self.api.update(node, changed)
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
            self.recorder.object_event(
                pod,
                "EvictionRefused",
                f'error when evicting pods/"{meta["name"]}" -n "{meta["namespace"]}" (will retry after 5s): {refused}',
                warning=True,
            )
            self.clock.call_later(EVICTION_RETRY, lambda: self._evict(pod, node))
            return
        self.recorder.object_event(pod, "Evicted", f"Evicted from node {node} by drain")

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
            {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": stamp},
            {"key": UNREACHABLE, "effect": "NoSchedule"},
        ]
        self.store.update(node)
        self.recorder.event("Node", name, "NodeNotReady", f"Node {name} status is now: NodeNotReady", warning=True)
        # pkg/controller/util/node MarkPodsNotReady: every pod bound to the node, terminating ones too.
        for pod in self.store.list("Pod"):
            if pod["spec"].get("nodeName") == name and _mark_pod_not_ready(pod, stamp):
                self.store.update(pod)
        # The taint-eviction controller deletes each pod once its toleration of the taint runs out.
        for pod in self._pods_on(name):
            seconds = unreachable_toleration(pod, self.eviction_toleration)
            if seconds is not None:
                self.clock.call_later(seconds, lambda pod=pod: self._evict_unreachable(name, pod))

    def _evict_unreachable(self, name: str, pod: dict) -> None:
        meta = pod["metadata"]
        if self.store.find("Pod", meta["namespace"], meta["name"]) is not pod or meta.get("deletionTimestamp"):
            return
        if pod["spec"].get("nodeName") != name:
            return
        self.recorder.object_event(
            pod,
            "TaintManagerEviction",
            f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
        )
        self.api.delete_pod(pod)


def unreachable_toleration(pod: dict, default: float) -> float | None:
    """Seconds a pod stays on an unreachable node before it is evicted; None for ever.

    The DefaultTolerationSeconds admission plugin gives a pod with no toleration for the
    unreachable:NoExecute taint one of `default` seconds. Otherwise the first toleration that
    tolerates the taint decides: its tolerationSeconds, or for ever without one; none at all means
    at once (taint-eviction controller, getMinTolerationTime).
    """
    covered = False
    for toleration in pod["spec"].get("tolerations") or ():
        if toleration.get("effect") not in (None, "", "NoExecute"):
            continue
        if toleration.get("key") not in (None, "", UNREACHABLE):
            continue
        covered = True
        if toleration.get("operator") == "Exists" or toleration.get("value") in (None, ""):
            seconds = toleration.get("tolerationSeconds")
            return None if seconds is None else max(float(seconds), 0.0)
    return 0.0 if covered else default


def _mark_pod_not_ready(pod: dict, stamp: str) -> bool:
    """Set the pod's Ready condition (only that one) to False; say whether it changed."""
    for condition in pod.get("status", {}).get("conditions", ()):
        if condition["type"] == "Ready" and condition["status"] != "False":
            condition["status"] = "False"
            condition["lastTransitionTime"] = stamp
            return True
    return False
