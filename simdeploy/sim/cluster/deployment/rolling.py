"""RollingUpdate: scale the new ReplicaSet up and old ones down within maxSurge and maxUnavailable.

Follows pkg/controller/deployment/rolling.go; `dc` is the DeploymentController (the Go receiver).
"""

from __future__ import annotations

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.deployment import sync


def rollout_rolling(dc, d: dict, rs_list: list[dict]) -> None:
    new_rs, old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, True)
    all_rss = [*old_rss, new_rs] if new_rs is not None else list(old_rss)
    # At most one direction per sync: scale up the new RS, or else scale down the old ones.
    if reconcile_new_replica_set(dc, all_rss, new_rs, d):
        dc.sync_rollout_status(all_rss, new_rs, d)
        return
    if reconcile_old_replica_sets(dc, all_rss, du.filter_active_replica_sets(old_rss), new_rs, d):
        dc.sync_rollout_status(all_rss, new_rs, d)
        return
    if du.deployment_complete(d, d.get("status", {})):
        sync.cleanup_deployment(dc, old_rss, d)
    dc.sync_rollout_status(all_rss, new_rs, d)


def reconcile_new_replica_set(dc, all_rss: list[dict], new_rs: dict | None, d: dict) -> bool:
    if new_rs is None:
        return False
    replicas = d["spec"]["replicas"]
    current = new_rs["spec"]["replicas"]
    if current == replicas:
        return False
    if current > replicas:
        scaled, _ = dc.scale_replica_set_and_record_event(new_rs, replicas, d)
        return scaled
    new_replicas_count = du.new_rs_new_replicas(d, all_rss, new_rs)
    scaled, _ = dc.scale_replica_set_and_record_event(new_rs, new_replicas_count, d)
    return scaled


def reconcile_old_replica_sets(dc, all_rss: list[dict], old_rss: list[dict], new_rs: dict | None, d: dict) -> bool:
    if du.get_replica_count(old_rss) == 0:
        return False  # cannot scale down further
    all_pods_count = du.get_replica_count(all_rss)
    max_unavailable = du.max_unavailable(d)
    # Scale down as far as availability allows, counting the new RS's unavailable pods against it,
    # so that a new RS stuck unavailable cannot drain the old ones (see rolling.go for the example).
    min_available = d["spec"]["replicas"] - max_unavailable
    new_rs_unavailable = 0
    if new_rs is not None:
        new_rs_unavailable = new_rs["spec"]["replicas"] - new_rs.get("status", {}).get("availableReplicas", 0)
    max_scaled_down = all_pods_count - min_available - new_rs_unavailable
    if max_scaled_down <= 0:
        return False
    try:
        old_rss, cleaned_up = cleanup_unhealthy_replicas(dc, old_rss, d, max_scaled_down)
    except ValueError:
        # Upstream swallows this error (status can show more available pods than spec while the
        # ReplicaSet controller is still deleting them) and tries again on the next sync.
        return False
    all_rss = [*old_rss, new_rs] if new_rs is not None else list(old_rss)
    scaled_down = scale_down_old_replica_sets_for_rolling_update(dc, all_rss, old_rss, d)
    return cleaned_up + scaled_down > 0


def cleanup_unhealthy_replicas(dc, old_rss: list[dict], d: dict, max_cleanup_count: int) -> tuple[list[dict], int]:
    """Scale old ReplicaSets down by their unavailable pods first, oldest ReplicaSet first."""
    old_rss = du.replica_sets_by_creation_timestamp(old_rss)
    total_scaled_down = 0
    for index, target in enumerate(old_rss):
        if total_scaled_down >= max_cleanup_count:
            break
        spec = target["spec"]["replicas"]
        available = target.get("status", {}).get("availableReplicas", 0)
        if spec == 0 or spec == available:
            continue  # nothing to clean up
        scaled_down = min(max_cleanup_count - total_scaled_down, spec - available)
        new_count = spec - scaled_down
        if new_count > spec:
            name = target["metadata"]["name"]
            raise ValueError(f"cleanup of unhealthy replicas asked to scale {name} up: {spec} -> {new_count}")
        _, updated = dc.scale_replica_set_and_record_event(target, new_count, d)
        total_scaled_down += scaled_down
        old_rss[index] = updated
    return old_rss, total_scaled_down


def scale_down_old_replica_sets_for_rolling_update(dc, all_rss: list[dict], old_rss: list[dict], d: dict) -> int:
    """Scale old ReplicaSets down while more than minAvailable pods are available."""
    min_available = d["spec"]["replicas"] - du.max_unavailable(d)
    available_pod_count = du.get_available_replica_count(all_rss)
    if available_pod_count <= min_available:
        return 0  # cannot scale down
    total_scale_down_count = available_pod_count - min_available
    total_scaled_down = 0
    for target in du.replica_sets_by_creation_timestamp(old_rss):
        if total_scaled_down >= total_scale_down_count:
            break
        spec = target["spec"]["replicas"]
        if spec == 0:
            continue
        scale_down_count = min(spec, total_scale_down_count - total_scaled_down)
        dc.scale_replica_set_and_record_event(target, spec - scale_down_count, d)
        total_scaled_down += scale_down_count
    return total_scaled_down
