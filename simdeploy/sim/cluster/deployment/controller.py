"""The Deployment controller: its work queue, syncDeployment, and the ReplicaSet bookkeeping it shares.

Mirrors pkg/controller/deployment/deployment_controller.go and the ReplicaSet helpers of sync.go;
the strategies live in rolling.py and recreate.py, scaling and cleanup in sync.py, conditions in
progress.py.
"""

from __future__ import annotations

import copy
from datetime import datetime

from simdeploy.k8s import deployment_util as du
from simdeploy.k8s.hashing import compute_hash
from simdeploy.k8s.timeutil import sim_to_datetime
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import Api
from simdeploy.sim.cluster.deployment import progress, recreate, rollback, rolling, sync
from simdeploy.sim.cluster.store import DELETED, AlreadyExists, Store, controller_uid
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.workqueue import WorkQueue

# Upstream caps revision-history at 2000 characters (deployment_controller.go).
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000


class DeploymentController:
    """Reconciles every Deployment in the store, one sync per queued key."""

    def __init__(self, clock: Clock, store: Store, api: Api, recorder: Recorder, latency: float):
        self.clock = clock
        self.store = store
        self.api = api
        self.recorder = recorder
        self.queue = WorkQueue(clock, latency, self.sync_deployment)
        store.watch("Deployment", self._on_deployment)
        store.watch("ReplicaSet", self._on_replica_set)
        store.watch("Pod", self._on_pod)

    def now(self) -> datetime:
        return sim_to_datetime(self.store.epoch, self.clock.now)

    def event(self, deployment: dict, reason: str, message: str, warning: bool = False) -> None:
        self.recorder.object_event(deployment, reason, message, warning)

    # -- watches ---------------------------------------------------------------

    def _on_deployment(self, event_type: str, deployment: dict) -> None:
        if event_type != DELETED:
            self.enqueue(deployment)

    def enqueue(self, deployment: dict) -> None:
        self.queue.add(f"{deployment['metadata']['namespace']}/{deployment['metadata']['name']}")

    def enqueue_after(self, deployment: dict, delay: float) -> None:
        key = f"{deployment['metadata']['namespace']}/{deployment['metadata']['name']}"
        self.queue.add_after(key, delay)

    def _on_replica_set(self, event_type: str, rs: dict) -> None:
        owner = self.store.controller_of(rs, "Deployment")
        if owner is not None:
            self.enqueue(owner)

    def _on_pod(self, event_type: str, pod: dict) -> None:
        # Recreate waits for old pods to be gone (deletePod in deployment_controller.go).
        if event_type != DELETED:
            return
        rs = self.store.controller_of(pod, "ReplicaSet")
        owner = rs and self.store.controller_of(rs, "Deployment")
        if owner is not None and owner["spec"]["strategy"]["type"] == du.RECREATE_STRATEGY:
            self.enqueue(owner)

    # -- syncDeployment --------------------------------------------------------

    def sync_deployment(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        d = self.store.find("Deployment", namespace, name)
        if d is None:
            return
        selector = d["spec"].get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.event(
                d,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
                True,
            )
            if d.get("status", {}).get("observedGeneration") != d["metadata"]["generation"]:
                d.setdefault("status", {})["observedGeneration"] = d["metadata"]["generation"]
                self.store.update(d)
            return
        rs_list = self.get_replica_sets_for_deployment(d)
        if d["metadata"].get("deletionTimestamp"):
            sync.sync_status_only(self, d, rs_list)
            return
        sync.check_paused_conditions(self, d)
        if d["spec"].get("paused"):
            sync.sync(self, d, rs_list)
            return
        if du.ROLLBACK_TO_ANNOTATION in (d["metadata"].get("annotations") or {}):
            rollback.rollback(self, d, rs_list)
            return
        if sync.is_scaling_event(self, d, rs_list):
            sync.sync(self, d, rs_list)
            return
        if d["spec"]["strategy"]["type"] == du.RECREATE_STRATEGY:
            recreate.rollout_recreate(self, d, rs_list, self.get_pod_map_for_deployment(rs_list))
        else:
            rolling.rollout_rolling(self, d, rs_list)

    def get_replica_sets_for_deployment(self, d: dict) -> list[dict]:
        return du.replica_sets_by_creation_timestamp(self.store.owned_by("ReplicaSet", d["metadata"]["uid"]))

    def get_pod_map_for_deployment(self, rs_list: list[dict]) -> dict[str, list[dict]]:
        return {rs["metadata"]["uid"]: self.store.owned_by("Pod", rs["metadata"]["uid"]) for rs in rs_list}

    # -- ReplicaSets (sync.go) -------------------------------------------------

    def get_all_replica_sets_and_sync_revision(
        self, d: dict, rs_list: list[dict], create_if_not_existed: bool
    ) -> tuple[dict | None, list[dict]]:
        _, all_old_rss = du.find_old_replica_sets(d, rs_list)
        new_rs = self.get_new_replica_set(d, rs_list, all_old_rss, create_if_not_existed)
        return new_rs, all_old_rss

    def get_new_replica_set(
        self, d: dict, rs_list: list[dict], old_rss: list[dict], create_if_not_existed: bool
    ) -> dict | None:
        existing = du.find_new_replica_set(d, rs_list)
        new_revision = str(du.max_revision(old_rss) + 1)
        if existing is not None:
            return self._sync_existing_new_replica_set(d, existing, new_revision)
        if not create_if_not_existed:
            return None
        return self._create_new_replica_set(d, old_rss, new_revision)

    def _sync_existing_new_replica_set(self, d: dict, rs: dict, new_revision: str) -> dict:
        annotations_updated = du.set_new_replica_set_annotations(
            d, rs, new_revision, True, MAX_REV_HISTORY_LENGTH_IN_CHARS
        )
        min_ready = d["spec"].get("minReadySeconds", 0)
        min_ready_changed = rs["spec"].get("minReadySeconds", 0) != min_ready
        if annotations_updated or min_ready_changed:
            rs["spec"]["minReadySeconds"] = min_ready
            return self.store.update(rs, spec_changed=min_ready_changed)
        needs_update = set_deployment_revision(d, rs["metadata"]["annotations"][du.REVISION_ANNOTATION])
        status = d.setdefault("status", {})
        if du.has_progress_deadline(d) and du.get_deployment_condition(status, du.DEPLOYMENT_PROGRESSING) is None:
            message = f'Found new replica set "{rs["metadata"]["name"]}"'
            condition = du.new_deployment_condition(
                du.DEPLOYMENT_PROGRESSING, "True", du.FOUND_NEW_RS_REASON, message, self.now()
            )
            du.set_deployment_condition(status, condition)
            needs_update = True
        if needs_update:
            self.store.update(d)
        return rs

    def _create_new_replica_set(self, d: dict, old_rss: list[dict], new_revision: str) -> dict | None:
        template = copy.deepcopy(d["spec"]["template"])
        collision_count = d.get("status", {}).get("collisionCount")
        pod_hash = compute_hash(template, collision_count)
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels[du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = pod_hash
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = pod_hash
        name = f"{d['metadata']['name']}-{pod_hash}"
        new_rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": d["metadata"]["namespace"],
                "labels": dict(labels),
                "ownerReferences": [_controller_ref(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        new_rs["spec"]["replicas"] = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        du.set_new_replica_set_annotations(d, new_rs, new_revision, False, MAX_REV_HISTORY_LENGTH_IN_CHARS)
        try:
            created = self.api.create(new_rs)
        except AlreadyExists:
            return self._handle_hash_collision(d, name)
        replicas = created["spec"]["replicas"]
        if replicas > 0:
            self.event(d, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}")
        set_deployment_revision(d, new_revision)
        if du.has_progress_deadline(d):
            condition = du.new_deployment_condition(
                du.DEPLOYMENT_PROGRESSING,
                "True",
                du.NEW_REPLICA_SET_REASON,
                f'Created new replica set "{name}"',
                self.now(),
            )
            du.set_deployment_condition(d.setdefault("status", {}), condition)
        self.store.update(d)
        return created

    def _handle_hash_collision(self, d: dict, name: str) -> dict | None:
        existing = self.store.get("ReplicaSet", d["metadata"]["namespace"], name)
        if controller_uid(existing) == d["metadata"]["uid"] and du.equal_ignore_hash(
            existing["spec"]["template"], d["spec"]["template"]
        ):
            return existing
        status = d.setdefault("status", {})
        status["collisionCount"] = status.get("collisionCount", 0) + 1
        self.store.update(d)
        return None

    def scale_replica_set_and_record_event(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        if rs["spec"].get("replicas", 1) == new_scale:
            return False, rs
        operation = "up" if rs["spec"].get("replicas", 1) < new_scale else "down"
        return self.scale_replica_set(rs, new_scale, d, operation)

    def scale_replica_set(self, rs: dict, new_scale: int, d: dict, operation: str) -> tuple[bool, dict]:
        old_scale = rs["spec"].get("replicas", 1)
        size_needs_update = old_scale != new_scale
        desired = d["spec"]["replicas"]
        annotations_need_update = du.replicas_annotations_need_update(rs, desired, desired + du.max_surge(d))
        if not size_needs_update and not annotations_need_update:
            return False, rs
        rs["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs, desired, desired + du.max_surge(d))
        self.store.update(rs, spec_changed=size_needs_update)
        if size_needs_update:
            self.event(
                d,
                "ScalingReplicaSet",
                f"Scaled {operation} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}",
            )
        return True, rs

    def sync_rollout_status(self, all_rss: list[dict], new_rs: dict | None, d: dict) -> None:
        progress.sync_rollout_status(self, all_rss, new_rs, d)


def set_deployment_revision(d: dict, revision: str) -> bool:
    """SetDeploymentRevision: record the new ReplicaSet's revision on the Deployment."""
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(du.REVISION_ANNOTATION) == revision:
        return False
    annotations[du.REVISION_ANNOTATION] = revision
    return True


def _controller_ref(d: dict) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": d["metadata"]["name"],
        "uid": d["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
