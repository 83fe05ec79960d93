"""The Progressing condition: progress, completion and progressDeadlineSeconds.

Follows pkg/controller/deployment/progress.go; `dc` is the DeploymentController (the Go receiver).
"""

from __future__ import annotations

from simdeploy.k8s import deployment_util as du
from simdeploy.k8s.timeutil import parse_time
from simdeploy.sim.cluster.deployment.sync import calculate_status


def sync_rollout_status(dc, all_rss: list[dict], new_rs: dict | None, d: dict) -> None:
    new_status = calculate_status(dc, all_rss, new_rs, d)
    if not du.has_progress_deadline(d):
        du.remove_deployment_condition(new_status, du.DEPLOYMENT_PROGRESSING)
    current = du.get_deployment_condition(d.get("status", {}), du.DEPLOYMENT_PROGRESSING)
    is_complete_deployment = (
        new_status["replicas"] == new_status["updatedReplicas"]
        and current is not None
        and current.get("reason") == du.NEW_RS_AVAILABLE_REASON
    )
    if du.has_progress_deadline(d) and not is_complete_deployment:
        _update_progressing(dc, d, new_rs, new_status, current)
    _copy_replica_failure(all_rss, new_rs, new_status)
    if new_status == d.get("status"):
        requeue_stuck_deployment(dc, d, new_status)
        return
    d["status"] = new_status
    dc.store.update(d)


def _update_progressing(dc, d: dict, new_rs: dict | None, new_status: dict, current: dict | None) -> None:
    subject = (
        f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None else f'Deployment "{d["metadata"]["name"]}"'
    )
    now = dc.now()
    if du.deployment_complete(d, new_status):
        message = f"{subject} has successfully progressed."
        condition = du.new_deployment_condition(
            du.DEPLOYMENT_PROGRESSING, "True", du.NEW_RS_AVAILABLE_REASON, message, now
        )
        du.set_deployment_condition(new_status, condition)
    elif du.deployment_progressing(d, new_status):
        message = f"{subject} is progressing."
        condition = du.new_deployment_condition(
            du.DEPLOYMENT_PROGRESSING, "True", du.REPLICA_SET_UPDATED_REASON, message, now
        )
        # Keep the transition time if we were already progressing; only lastUpdateTime moves on.
        if current is not None and current.get("status") == "True":
            condition["lastTransitionTime"] = current["lastTransitionTime"]
        du.remove_deployment_condition(new_status, du.DEPLOYMENT_PROGRESSING)
        du.set_deployment_condition(new_status, condition)
    elif du.deployment_timed_out(d, new_status, now):
        message = f"{subject} has timed out progressing."
        condition = du.new_deployment_condition(du.DEPLOYMENT_PROGRESSING, "False", du.TIMED_OUT_REASON, message, now)
        du.set_deployment_condition(new_status, condition)


def _copy_replica_failure(all_rss: list[dict], new_rs: dict | None, new_status: dict) -> None:
    failure = None
    candidates = [new_rs] if new_rs is not None else []
    candidates += [rs for rs in all_rss if rs is not new_rs]
    for rs in candidates:
        for condition in rs.get("status", {}).get("conditions", ()):
            if condition["type"] == "ReplicaFailure":
                failure = condition
                break
        if failure is not None:
            break
    if failure is not None:
        du.set_deployment_condition(new_status, replica_set_to_deployment_condition(failure))
    else:
        du.remove_deployment_condition(new_status, du.DEPLOYMENT_REPLICA_FAILURE)


def replica_set_to_deployment_condition(condition: dict) -> dict:
    """ReplicaSetToDeploymentCondition: an RS condition has no lastUpdateTime; use its lastTransitionTime."""
    result = {key: condition[key] for key in ("type", "status", "reason", "message") if key in condition}
    if "lastTransitionTime" in condition:
        result["lastUpdateTime"] = result["lastTransitionTime"] = condition["lastTransitionTime"]
    return result


def requeue_stuck_deployment(dc, d: dict, new_status: dict) -> float:
    """Check again when the progress deadline would pass; -1 when there is nothing to wait for."""
    current = du.get_deployment_condition(d.get("status", {}), du.DEPLOYMENT_PROGRESSING)
    if not du.has_progress_deadline(d) or current is None:
        return -1
    if du.deployment_complete(d, new_status) or current.get("reason") == du.TIMED_OUT_REASON:
        return -1
    last_update = parse_time(current["lastUpdateTime"])
    deadline = last_update.timestamp() + d["spec"]["progressDeadlineSeconds"]
    after = deadline - dc.now().timestamp()
    if after < 1:
        dc.enqueue(d)
        return 0
    # Add a second to avoid skew in the delayed enqueue, but report the time left (progress.go).
    dc.enqueue_after(d, after + 1)
    return after
