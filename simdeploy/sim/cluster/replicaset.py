"""The ReplicaSet controller: keeps spec.replicas active pods and reports ready and available counts.

Follows pkg/controller/replicaset/replica_set.go: terminating pods do not count (replacements are
created at once), at most burstReplicas creations or deletions per sync, deletion in the rank
order of ActivePodsWithRanks, and a requeue after minReadySeconds when every pod is ready but not
yet available.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from dataclasses import dataclass, field

from simdeploy.k8s.pod_util import RankParts, rank_key, rank_parts
from simdeploy.k8s.service_account import volume_name, with_service_account
from simdeploy.k8s.timeutil import parse_time, sim_to_datetime
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import Api
from simdeploy.sim.cluster.store import ADDED, DELETED, Store, controller_uid
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.workqueue import WorkQueue

BURST_REPLICAS = 500


@dataclass
class PodCounts:
    """The controller's running tally of one ReplicaSet's pods, kept up to date from pod events."""

    active: dict[str, dict] = field(default_factory=dict)  # uid -> pod
    ready_since: dict[str, float] = field(default_factory=dict)  # uid -> simulated time
    available: set[str] = field(default_factory=set)
    waiting: deque = field(default_factory=deque)  # (ready_since, uid) not yet available
    terminating: set[str] = field(default_factory=set)
    # uid -> (resourceVersion, what its deletion rank needs), filled when the pods are first ranked
    rank: dict[str, tuple[str, RankParts]] = field(default_factory=dict)


class ReplicaSetController:
    """Reconciles every ReplicaSet in the store."""

    def __init__(self, clock: Clock, store: Store, api: Api, recorder: Recorder, latency: float):
        self.clock = clock
        self.store = store
        self.api = api
        self.recorder = recorder
        self.queue = WorkQueue(clock, latency, self.sync)
        self.counts: dict[str, PodCounts] = {}  # by ReplicaSet uid
        # Active pods per node of each group of related ReplicaSets (one Deployment's), for ranking.
        self._group_of: dict[str, str] = {}  # ReplicaSet uid -> group uid
        self._colocated: dict[str, Counter] = {}  # group uid -> node -> active pods
        self._placed: dict[str, tuple[str, str]] = {}  # active pod uid -> (group, node)
        self._key_of: dict[str, str] = {}  # ReplicaSet uid -> its queue key "namespace/name"
        self._pod_specs: dict[str, tuple[dict, dict]] = {}  # ReplicaSet uid -> (template spec, admitted pod spec)
        self._epoch_ts = store.epoch.timestamp()
        store.watch("ReplicaSet", self._on_replica_set)
        store.watch("Pod", self._on_pod)

    # -- watches ---------------------------------------------------------------

    def _on_replica_set(self, event_type: str, rs: dict) -> None:
        meta = rs["metadata"]
        if event_type == DELETED:
            self.counts.pop(meta["uid"], None)
            self._key_of.pop(meta["uid"], None)
            self._pod_specs.pop(meta["uid"], None)
            return
        self._group_of[meta["uid"]] = controller_uid(rs) or meta["uid"]
        key = self._key_of[meta["uid"]] = f"{meta['namespace']}/{meta['name']}"
        self.queue.add(key)

    def _on_pod(self, event_type: str, pod: dict) -> None:
        owner = controller_uid(pod)
        if owner is None:
            return
        counts = self.counts.setdefault(owner, PodCounts())
        uid = pod["metadata"]["uid"]
        status = pod.get("status", {})
        gone = event_type == DELETED
        terminating = not gone and bool(pod["metadata"].get("deletionTimestamp"))
        active = not gone and not terminating and status.get("phase") not in ("Succeeded", "Failed")
        if terminating:
            counts.terminating.add(uid)
        else:
            counts.terminating.discard(uid)
        since = self._ready_since(pod) if active else None
        if active:
            counts.active[uid] = pod
        else:
            counts.active.pop(uid, None)
            counts.rank.pop(uid, None)
        node = (pod["spec"].get("nodeName") or "") if active else None
        self._place(uid, self._group_of.get(owner, owner), node)
        if since is None:
            counts.ready_since.pop(uid, None)
            counts.available.discard(uid)
        elif counts.ready_since.get(uid) != since:
            became_ready = uid not in counts.ready_since
            counts.ready_since[uid] = since
            counts.available.discard(uid)
            counts.waiting.append((since, uid))
            if became_ready:
                self._requeue_when_available(pod, owner)
        if event_type == ADDED and not active:
            return
        key = self._key_of.get(owner)
        if key is not None:
            self.queue.add(key)

    def _place(self, uid: str, group: str, node: str | None) -> None:
        """Keep the per-node count of active related pods (node None: no longer active)."""
        before = self._placed.get(uid)
        after = (group, node) if node is not None else None
        if before == after:
            return
        if before is not None:
            self._colocated[before[0]][before[1]] -= 1
            del self._placed[uid]
        if after is not None:
            self._colocated.setdefault(group, Counter())[node] += 1
            self._placed[uid] = after

    def _requeue_when_available(self, pod: dict, owner_uid: str) -> None:
        """A pod turned Ready: look again once minReadySeconds have passed (updatePod upstream)."""
        rs = self.store.controller_of(pod, "ReplicaSet")
        min_ready = rs["spec"].get("minReadySeconds", 0) if rs is not None else 0
        if min_ready > 0:
            self.queue.add_after(self._key_of[owner_uid], min_ready + 1)

    def _ready_since(self, pod: dict) -> float | None:
        for condition in pod.get("status", {}).get("conditions", ()):
            if condition["type"] == "Ready":
                if condition["status"] != "True":
                    return None
                return parse_time(condition["lastTransitionTime"]).timestamp() - self._epoch_ts
        return None

    # -- sync ------------------------------------------------------------------

    def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        rs = self.store.find("ReplicaSet", namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        counts = self.counts.setdefault(rs["metadata"]["uid"], PodCounts())
        self._manage_replicas(rs, counts)
        self._update_status(rs, counts)

    def _manage_replicas(self, rs: dict, counts: PodCounts) -> None:
        diff = len(counts.active) - rs["spec"].get("replicas", 1)
        if diff < 0:
            for _ in range(min(-diff, BURST_REPLICAS)):
                pod = self.api.create(self._new_pod(rs), trusted=True)
                self.recorder.object_event(
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                )
        elif diff > 0:
            for pod in self._pods_to_delete(rs, counts, min(diff, BURST_REPLICAS)):
                self.recorder.object_event(
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                )
                self.api.delete_pod(pod)

    def _pods_to_delete(self, rs: dict, counts: PodCounts, count: int) -> list[dict]:
        """The `count` pods upstream would delete first (getPodsToDelete, ActivePodsWithRanks)."""
        if count >= len(counts.active):
            return list(counts.active.values())  # no need to rank pods that all go
        now = sim_to_datetime(self.store.epoch, self.clock.now)
        colocated = self._colocated.get(self._group_of.get(rs["metadata"]["uid"], ""), Counter())
        buckets: dict = {}

        def key(uid: str) -> tuple:
            version = counts.active[uid]["metadata"]["resourceVersion"]
            cached = counts.rank.get(uid)
            if cached is None or cached[0] != version:
                cached = counts.rank[uid] = (version, rank_parts(counts.active[uid]))
            parts = cached[1]
            return rank_key(parts, colocated[parts.node], now, buckets)

        return [counts.active[uid] for uid in heapq.nsmallest(count, counts.active, key=key)]

    def _pod_spec(self, rs: dict) -> dict:
        """The template's pod spec as the ServiceAccount admission leaves it, made once per template."""
        template = rs["spec"]["template"]["spec"]
        cached = self._pod_specs.get(rs["metadata"]["uid"])
        if cached is None or cached[0] is not template:
            cached = (template, with_service_account(template, volume_name(rs["metadata"]["name"])))
            self._pod_specs[rs["metadata"]["uid"]] = cached
        return cached[1]

    def _new_pod(self, rs: dict) -> dict:
        template = rs["spec"]["template"]
        meta = template.get("metadata", {})
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": rs["metadata"]["name"] + "-",
                "namespace": rs["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": rs["metadata"]["name"],
                        "uid": rs["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            # Pods of one ReplicaSet share one spec's (immutable) containers and volumes, as admitted.
            "spec": dict(self._pod_spec(rs)),
            "status": {"phase": "Pending"},
        }

    # -- status ----------------------------------------------------------------

    def _refresh_available(self, counts: PodCounts, min_ready: float) -> None:
        now = self.clock.now
        while counts.waiting:
            since, uid = counts.waiting[0]
            if counts.ready_since.get(uid) != since:
                counts.waiting.popleft()  # no longer ready, or ready again since a later time
                continue
            if min_ready > 0 and not since + min_ready < now:
                break
            counts.waiting.popleft()
            counts.available.add(uid)

    def _update_status(self, rs: dict, counts: PodCounts) -> None:
        min_ready = float(rs["spec"].get("minReadySeconds", 0))
        self._refresh_available(counts, min_ready)
        spec_replicas = rs["spec"].get("replicas", 1)
        new = {
            "replicas": len(counts.active),
            "fullyLabeledReplicas": len(counts.active),
            "readyReplicas": len(counts.ready_since),
            "availableReplicas": len(counts.available),
            "terminatingReplicas": len(counts.terminating),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = rs.setdefault("status", {})
        if any(status.get(k) != v for k, v in new.items()):
            status.update(new)
            self.store.update(rs)
        if min_ready > 0 and new["readyReplicas"] == spec_replicas != new["availableReplicas"]:
            self.queue.add_after(f"{rs['metadata']['namespace']}/{rs['metadata']['name']}", min_ready)
