"""The disruption controller: keeps each PodDisruptionBudget's status (disruptionsAllowed) current."""

from __future__ import annotations

from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.pdb_util import compute_pdb_status
from simdeploy.k8s.timeutil import sim_to_datetime
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.store import DELETED, Store, controller_uid
from simdeploy.sim.workqueue import WorkQueue


class DisruptionController:
    """Recomputes PDB status after pod, PDB or scale changes (pkg/controller/disruption)."""

    def __init__(self, clock: Clock, store: Store, latency: float):
        self.clock = clock
        self.store = store
        self.queue = WorkQueue(clock, latency, self.sync)
        store.watch("PodDisruptionBudget", self._on_pdb)
        store.watch("Pod", self._on_pod)
        store.watch("Deployment", self._on_pod)

    def _on_pdb(self, event_type: str, pdb: dict) -> None:
        if event_type != DELETED:
            self.queue.add(f"{pdb['metadata']['namespace']}/{pdb['metadata']['name']}")

    def _on_pod(self, event_type: str, obj: dict) -> None:
        if not self.store.count("PodDisruptionBudget"):
            return
        namespace = obj["metadata"].get("namespace")
        for pdb in self.store.list("PodDisruptionBudget", namespace):
            self.queue.add(f"{namespace}/{pdb['metadata']['name']}")

    def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        pdb = self.store.find("PodDisruptionBudget", namespace, name)
        if pdb is None:
            return
        selector = pdb["spec"].get("selector")
        pods = [
            pod
            for pod in self.store.list("Pod", namespace)
            if selector is not None and selector_matches(selector, pod["metadata"].get("labels"))
        ]
        now = sim_to_datetime(self.store.epoch, self.clock.now)
        status = compute_pdb_status(pdb, pods, self._controller_scale(pods), now)
        if {**pdb.get("status", {}), **status} != pdb.get("status"):
            pdb.setdefault("status", {}).update(status)
            self.store.update(pdb)

    def _controller_scale(self, pods: list[dict]) -> int:
        """Sum of spec.replicas of the Deployments (or bare ReplicaSets) that own these pods."""
        scales: dict[str, int] = {}
        seen: set[str] = set()
        for pod in pods:
            rs_uid = controller_uid(pod)
            if rs_uid is None or rs_uid in seen:
                continue
            seen.add(rs_uid)
            rs = self.store.controller_of(pod, "ReplicaSet")
            if rs is None:
                continue
            deployment = self.store.controller_of(rs, "Deployment")
            owner = deployment or rs
            scales[owner["metadata"]["uid"]] = owner["spec"].get("replicas", 1)
        return sum(scales.values())
