"""Service endpoints: which pods a Service routes to, as the control plane sees it and as the data plane
(kube-proxy, ingress, mesh) applies it after the propagation delay.

A pod is an endpoint while it matches the Service's selector, is Ready and is not terminating
(EndpointSlice `ready`). The data plane learns of each change `delay` seconds later, which is why
a terminating pod without a preStop sleep can still receive requests after it stopped listening.
Routed pods are kept as counts per group of identical pods (ReplicaSet, image, serving), so the
traffic model works per group, never per pod.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from simdeploy.k8s.labels import labels_match
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.kubelet import Kubelet
from simdeploy.sim.cluster.store import DELETED, Store

GroupKey = tuple[str, str, bool]  # (ReplicaSet name, image, serving)


@dataclass
class ServiceView:
    """One Service: its selector, its endpoints, and what the data plane routes to."""

    namespace: str
    name: str
    selector: dict | None
    ready: set[str] = field(default_factory=set)  # pod uids, control plane
    routed: dict[str, GroupKey] = field(default_factory=dict)  # pod uid -> group, data plane
    groups: Counter = field(default_factory=Counter)  # GroupKey -> routed pods


class Endpoints:
    """Keeps every Service's endpoints and their delayed data-plane copy."""

    def __init__(self, clock: Clock, store: Store, kubelet: Kubelet, delay: float):
        self.clock = clock
        self.store = store
        self.kubelet = kubelet
        self.delay = delay
        self.services: dict[tuple[str, str], ServiceView] = {}
        self._pods: dict[str, dict] = {}  # uid -> pod, for pods that are endpoints somewhere
        store.watch("Service", self._on_service)
        store.watch("Pod", self._on_pod)
        kubelet.serving_listeners.append(self._on_serving)

    def view(self, namespace: str, name: str) -> ServiceView | None:
        return self.services.get((namespace, name))

    def routed_pod(self, uid: str) -> dict | None:
        """The pod behind a routed uid: the data plane may still route to a pod already gone from the store."""
        return self._pods.get(uid)

    # -- control plane ---------------------------------------------------------

    def _on_service(self, event_type: str, service: dict) -> None:
        key = (service["metadata"]["namespace"], service["metadata"]["name"])
        if event_type == DELETED:
            view = self.services.get(key)
            if view is not None:
                view.selector = None
                self._resync(view)
            return
        selector = service.get("spec", {}).get("selector")
        view = self.services.get(key)
        if view is None:
            view = self.services[key] = ServiceView(key[0], key[1], selector)
        elif view.selector == selector:
            return
        view.selector = dict(selector) if selector else None
        self._resync(view)

    def _resync(self, view: ServiceView) -> None:
        for pod in self.store.list("Pod", view.namespace):
            self._update(view, pod, self._is_endpoint(view, pod))

    def _on_pod(self, event_type: str, pod: dict) -> None:
        if not self.services:
            return
        namespace = pod["metadata"]["namespace"]
        for view in self.services.values():
            if view.namespace == namespace:
                self._update(view, pod, event_type != DELETED and self._is_endpoint(view, pod))

    @staticmethod
    def _is_endpoint(view: ServiceView, pod: dict) -> bool:
        if not view.selector or pod["metadata"].get("deletionTimestamp"):
            return False
        for condition in pod.get("status", {}).get("conditions", ()):
            if condition["type"] == "Ready":
                return condition["status"] == "True" and labels_match(view.selector, pod["metadata"].get("labels"))
        return False

    def _update(self, view: ServiceView, pod: dict, is_endpoint: bool) -> None:
        uid = pod["metadata"]["uid"]
        if is_endpoint:
            self._pods[uid] = pod
        self._update_uid(view, uid, is_endpoint)

    def _update_uid(self, view: ServiceView, uid: str, is_endpoint: bool) -> None:
        if (uid in view.ready) == is_endpoint:
            return
        if is_endpoint:
            view.ready.add(uid)
        else:
            view.ready.discard(uid)
        self.clock.call_later(self.delay, lambda: self._route(view, uid, is_endpoint))

    # -- data plane ------------------------------------------------------------

    def _route(self, view: ServiceView, uid: str, routed: bool) -> None:
        if routed and uid not in view.routed:
            pod = self._pods.get(uid)
            if pod is None:
                return
            group = self._group(pod)
            view.routed[uid] = group
            view.groups[group] += 1
        elif not routed and uid in view.routed:
            group = view.routed.pop(uid)
            view.groups[group] -= 1
            if not view.groups[group]:
                del view.groups[group]
            if not any(uid in other.routed or uid in other.ready for other in self.services.values()):
                self._pods.pop(uid, None)

    def _group(self, pod: dict) -> GroupKey:
        runtime = self.kubelet.pods.get(pod["metadata"]["uid"])
        serving = runtime is not None and runtime.serving
        owner = next((ref["name"] for ref in pod["metadata"].get("ownerReferences") or () if ref.get("controller")), "")
        return owner, pod["spec"]["containers"][0]["image"], serving

    def _on_serving(self, pod: dict, serving: bool) -> None:
        uid = pod["metadata"]["uid"]
        for view in self.services.values():
            group = view.routed.get(uid)
            if group is None or group[2] == serving:
                continue
            view.groups[group] -= 1
            if not view.groups[group]:
                del view.groups[group]
            moved = (group[0], group[1], serving)
            view.routed[uid] = moved
            view.groups[moved] += 1
