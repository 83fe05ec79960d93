"""Scaling events, proportional scaling, paused conditions, history cleanup and status.

Follows pkg/controller/deployment/sync.go; `dc` is the DeploymentController (the Go receiver).
"""

from __future__ import annotations

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.store import NotFound

_MAX_INT32 = 2**31 - 1


def sync_status_only(dc, d: dict, rs_list: list[dict]) -> None:
    new_rs, old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, False)
    all_rss = [*old_rss, new_rs] if new_rs is not None else list(old_rss)
    sync_deployment_status(dc, all_rss, new_rs, d)


def sync(dc, d: dict, rs_list: list[dict]) -> None:
    """Reconcile a paused Deployment or a scaling event: scale, never roll out."""
    new_rs, old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, False)
    scale(dc, d, new_rs, old_rss)
    annotations = d["metadata"].get("annotations") or {}
    if d["spec"].get("paused") and du.ROLLBACK_TO_ANNOTATION not in annotations:
        cleanup_deployment(dc, old_rss, d)
    all_rss = [*old_rss, new_rs] if new_rs is not None else list(old_rss)
    sync_deployment_status(dc, all_rss, new_rs, d)


def check_paused_conditions(dc, d: dict) -> None:
    """Set Progressing=Unknown when a Deployment is paused or resumed (this restarts the deadline)."""
    if not du.has_progress_deadline(d):
        return
    status = d.setdefault("status", {})
    condition = du.get_deployment_condition(status, du.DEPLOYMENT_PROGRESSING)
    if condition is not None and condition.get("reason") == du.TIMED_OUT_REASON:
        return
    paused_condition_exists = condition is not None and condition.get("reason") == du.PAUSED_DEPLOY_REASON
    paused = bool(d["spec"].get("paused"))
    if paused and not paused_condition_exists:
        new = du.new_deployment_condition(
            du.DEPLOYMENT_PROGRESSING,
            "Unknown",
            du.PAUSED_DEPLOY_REASON,
            "Deployment is paused",
            dc.now(),
        )
    elif not paused and paused_condition_exists:
        new = du.new_deployment_condition(
            du.DEPLOYMENT_PROGRESSING,
            "Unknown",
            du.RESUMED_DEPLOY_REASON,
            "Deployment is resumed",
            dc.now(),
        )
    else:
        return
    du.set_deployment_condition(status, new)
    dc.store.update(d)


def is_scaling_event(dc, d: dict, rs_list: list[dict]) -> bool:
    """True when an active ReplicaSet was last scaled for a different spec.replicas."""
    new_rs, old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, False)
    all_rss = [*old_rss, new_rs] if new_rs is not None else list(old_rss)
    for rs in du.filter_active_replica_sets(all_rss):
        desired = du.get_desired_replicas_annotation(rs)
        if desired is not None and desired != d["spec"]["replicas"]:
            return True
    return False


def scale(dc, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
    """Scale the ReplicaSets to spec.replicas, proportionally during a rollout."""
    replicas = d["spec"]["replicas"]
    active_or_latest = du.find_active_or_latest(new_rs, old_rss)
    if active_or_latest is not None:
        if active_or_latest["spec"]["replicas"] == replicas:
            return
        dc.scale_replica_set_and_record_event(active_or_latest, replicas, d)
        return
    if du.is_saturated(d, new_rs):
        for old in du.filter_active_replica_sets(old_rss):
            dc.scale_replica_set_and_record_event(old, 0, d)
        return
    if not du.is_rolling_update(d):
        return
    all_rss = du.filter_active_replica_sets([*old_rss, new_rs])
    all_rss_replicas = du.get_replica_count(all_rss)
    allowed_size = replicas + du.max_surge(d) if replicas > 0 else 0
    to_add = allowed_size - all_rss_replicas
    if to_add > 0:
        all_rss = du.replica_sets_by_size_newer(all_rss)
        operation = "up"
    elif to_add < 0:
        all_rss = du.replica_sets_by_size_older(all_rss)
        operation = "down"
    else:
        operation = ""
    sizes: dict[str, int] = {}
    added = 0
    for rs in all_rss:
        proportion = du.get_replica_set_proportion(rs, d, to_add, added)
        sizes[rs["metadata"]["name"]] = rs["spec"]["replicas"] + proportion
        added += proportion
    if to_add != 0 and all_rss:
        # Whatever rounding left over goes to the largest ReplicaSet.
        first = all_rss[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    for rs in all_rss:
        # Even an unchanged size rewrites the desired/max annotations (scaleReplicaSet).
        dc.scale_replica_set(rs, sizes[rs["metadata"]["name"]], d, operation)


def cleanup_deployment(dc, old_rss: list[dict], d: dict) -> None:
    """Delete the oldest unused ReplicaSets beyond revisionHistoryLimit."""
    if not du.has_revision_history_limit(d):
        return
    alive = [rs for rs in old_rss if rs is not None and not rs["metadata"].get("deletionTimestamp")]
    diff = len(alive) - d["spec"]["revisionHistoryLimit"]
    if diff <= 0:
        return
    for rs in du.replica_sets_by_revision(alive)[:diff]:
        status = rs.get("status", {})
        if status.get("replicas", 0) != 0 or rs["spec"]["replicas"] != 0:
            continue
        # An unset generation is 0, as in Go (sync_test.go's RSs have neither generation nor observedGeneration).
        if rs["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
            continue
        try:
            dc.api.delete("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"])
        except NotFound:
            pass


def sync_deployment_status(dc, all_rss: list[dict], new_rs: dict | None, d: dict) -> None:
    """Write the status computed from the ReplicaSets if it changed (no Progressing logic here)."""
    new_status = calculate_status(dc, all_rss, new_rs, d)
    if new_status != d.get("status"):
        d["status"] = new_status
        dc.store.update(d)


def calculate_status(dc, all_rss: list[dict], new_rs: dict | None, d: dict) -> dict:
    available = du.get_available_replica_count(all_rss)
    total = du.get_replica_count(all_rss)
    old = d.get("status", {})
    status = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": du.get_actual_replica_count(all_rss),
        "updatedReplicas": du.get_actual_replica_count([new_rs]) if new_rs is not None else 0,
        "readyReplicas": du.get_ready_replica_count(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    terminating = du.get_terminating_replica_count(all_rss)
    if terminating is not None:
        status["terminatingReplicas"] = terminating
    if "collisionCount" in old:
        status["collisionCount"] = old["collisionCount"]
    status["conditions"] = [dict(c) for c in old.get("conditions", [])]
    if available >= d["spec"]["replicas"] - du.max_unavailable(d):
        condition = du.new_deployment_condition(
            du.DEPLOYMENT_AVAILABLE,
            "True",
            du.MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            dc.now(),
        )
    else:
        condition = du.new_deployment_condition(
            du.DEPLOYMENT_AVAILABLE,
            "False",
            du.MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            dc.now(),
        )
    du.set_deployment_condition(status, condition)
    if not status["conditions"]:
        del status["conditions"]
    return status
