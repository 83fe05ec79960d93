"""Recreate: scale every old ReplicaSet to zero, wait for old pods to be gone, then scale up the new one.

Follows pkg/controller/deployment/recreate.go.
"""

from __future__ import annotations

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.deployment import sync


def rollout_recreate(dc, d: dict, rs_list: list[dict], pod_map: dict[str, list[dict]]) -> None:
    # Don't create a new RS if not already existed, so that we avoid scaling up before scaling down.
    new_rs, old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, False)
    all_rss = [*old_rss, new_rs] if new_rs is not None else list(old_rss)
    active_old_rss = du.filter_active_replica_sets(old_rss)
    if scale_down_old_replica_sets_for_recreate(dc, active_old_rss, d):
        dc.sync_rollout_status(all_rss, new_rs, d)
        return
    if old_pods_running(new_rs, old_rss, pod_map):
        dc.sync_rollout_status(all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        if new_rs is None:
            return
        all_rss = [*old_rss, new_rs]
    scale_up_new_replica_set_for_recreate(dc, new_rs, d)
    if du.deployment_complete(d, d.get("status", {})):
        sync.cleanup_deployment(dc, old_rss, d)
    dc.sync_rollout_status(all_rss, new_rs, d)


def scale_down_old_replica_sets_for_recreate(dc, old_rss: list[dict], d: dict) -> bool:
    scaled = False
    for rs in old_rss:
        if rs["spec"]["replicas"] == 0:
            continue
        scaled_rs, _ = dc.scale_replica_set_and_record_event(rs, 0, d)
        scaled = scaled or scaled_rs
    return scaled


def old_pods_running(new_rs: dict | None, old_rss: list[dict], pod_map: dict[str, list[dict]]) -> bool:
    """True while any old pod still exists in a phase other than Failed or Succeeded."""
    if du.get_actual_replica_count(old_rss) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        for pod in pods:
            if pod.get("status", {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


def scale_up_new_replica_set_for_recreate(dc, new_rs: dict, d: dict) -> bool:
    scaled, _ = dc.scale_replica_set_and_record_event(new_rs, d["spec"]["replicas"], d)
    return scaled
