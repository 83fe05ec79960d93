"""Pod helpers from upstream Kubernetes: activity, readiness, availability, deletion order."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

from simdeploy.k8s.quantity import parse_quantity
from simdeploy.k8s.timeutil import parse_time

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

# pkg/controller/controller_utils.go podPhaseToOrdinal; phases not listed count as 0, like Go's map.
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _metadata(pod: dict) -> dict:
    return pod.get("metadata") or {}


def _status(pod: dict) -> dict:
    return pod.get("status") or {}


def _node_name(pod: dict) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def _time_or_none(text: str | None) -> datetime | None:
    """A metav1.Time; missing or empty is Go's zero time, returned as None."""
    return parse_time(text) if text else None


def is_pod_active(pod: dict) -> bool:
    """Not Succeeded/Failed and not being deleted (controller_utils.go IsPodActive)."""
    phase = _status(pod).get("phase")
    return phase not in ("Succeeded", "Failed") and not _metadata(pod).get("deletionTimestamp")


def filter_active_pods(pods: list[dict]) -> list[dict]:
    """The active pods, in their original order (controller_utils.go FilterActivePods)."""
    return [pod for pod in pods if is_pod_active(pod)]


def get_pod_ready_condition(pod: dict) -> dict | None:
    """The status.conditions entry of type Ready, or None (pkg/api/v1/pod/util.go)."""
    for condition in _status(pod).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return None


def is_pod_ready(pod: dict) -> bool:
    """The Ready condition exists and is "True"."""
    condition = get_pod_ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def is_pod_available(pod: dict, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and ready for more than min_ready_seconds (pkg/api/v1/pod/util.go IsPodAvailable).

    Boundary choice: strict "<" (lastTransitionTime + minReadySeconds < now), as kubectl's copy
    and releases before the v1.34-era util.go, which switched to "<=". A pod ready for exactly
    minReadySeconds is therefore not yet available. A missing lastTransitionTime is unavailable
    unless min_ready_seconds is 0.
    """
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = _time_or_none(get_pod_ready_condition(pod).get("lastTransitionTime"))
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def pod_deletion_cost(pod: dict) -> int:
    """The pod-deletion-cost annotation as int32; 0 when unset or invalid.

    Mirrors GetDeletionCostFromPodAnnotations: "+10", "008", non-integers and values outside
    int32 are invalid.
    """
    value = (_metadata(pod).get("annotations") or {}).get(POD_DELETION_COST)
    if not value or not (value[0] == "-" or value == "0" or value[0] in "123456789"):
        return 0
    digits = value[1:] if value[0] == "-" else value
    if not digits.isdigit() or not digits.isascii():
        return 0
    cost = int(value)
    return cost if _INT32_MIN <= cost <= _INT32_MAX else 0


def max_container_restarts(pod: dict) -> int:
    """The highest restartCount among status.containerStatuses (0 when there are none)."""
    counts = [c.get("restartCount") or 0 for c in _status(pod).get("containerStatuses") or []]
    return max([0, *counts])


_MICROSECOND = timedelta(microseconds=1)


def _log2_bucket(moment: datetime, now: datetime) -> int:
    """controller_utils.go logarithmicRankDiff: int(log2(now - t in nanoseconds)), -1 if <= 0."""
    nanoseconds = (now - moment) // _MICROSECOND * 1000
    return nanoseconds.bit_length() - 1 if nanoseconds > 0 else -1


class RankParts(NamedTuple):
    """What a pod's deletion rank depends on, read once from the pod (it changes only with it)."""

    node: str
    scheduled: int
    phase: int
    ready: int
    cost: int
    ready_since: datetime | None
    restarts: int
    created: datetime | None
    uid: str
    tie_break: tuple


def rank_parts(pod: dict) -> RankParts:
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    ready_condition = None
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Ready":
            ready_condition = condition
            break
    ready = ready_condition is not None and ready_condition.get("status") == "True"
    created = _time_or_none(metadata.get("creationTimestamp"))
    annotations = metadata.get("annotations")
    node = (pod.get("spec") or {}).get("nodeName") or ""
    newest_first = (0, 0.0) if created is None else (1, -created.timestamp())
    return RankParts(
        node=node,
        scheduled=1 if node else 0,
        phase=_PHASE_ORDINAL.get(status.get("phase"), 0),
        ready=1 if ready else 0,
        cost=pod_deletion_cost(pod) if annotations and POD_DELETION_COST in annotations else 0,
        ready_since=_time_or_none(ready_condition.get("lastTransitionTime")) if ready else None,
        restarts=max_container_restarts(pod),
        created=created,
        uid=metadata.get("uid") or "",
        tie_break=(*newest_first, metadata.get("name") or ""),
    )


def rank_key(parts: RankParts, related_on_same_node: int, now: datetime, buckets: dict | None = None) -> tuple:
    """The deletion sort key of pod_deletion_rank_key, from precomputed parts.

    `buckets` caches log2 buckets by timestamp within one ranking (many pods share a second).
    """
    if buckets is None:
        buckets = {}
    ready_rank: tuple = (0,)
    if parts.ready and parts.ready_since is not None:
        bucket = buckets.get(parts.ready_since)
        if bucket is None:
            bucket = buckets[parts.ready_since] = _log2_bucket(parts.ready_since, now)
        ready_rank = (1, bucket, parts.uid)
    created_rank: tuple = (0,)
    if parts.created is not None:
        bucket = buckets.get(parts.created)
        if bucket is None:
            bucket = buckets[parts.created] = _log2_bucket(parts.created, now)
        created_rank = (1, bucket, parts.uid)
    ranking = (
        parts.scheduled,
        parts.phase,
        parts.ready,
        parts.cost,
        -related_on_same_node,
        ready_rank,
        -parts.restarts,
        created_rank,
    )
    return ranking, parts.tie_break


def pod_deletion_rank_key(pod: dict, related_on_same_node: int, now: datetime) -> tuple:
    """Key such that sorted(pods, key=...) lists first the pods a ReplicaSet deletes first.

    Returns (ranking, tie_break). `ranking` encodes ActivePodsWithRanks.Less
    (pkg/controller/controller_utils.go) with PodDeletionCost and LogarithmicScaleDown on:
      1. unscheduled before scheduled; 2. Pending < Unknown < Running;
      3. not Ready before Ready; 4. lower pod-deletion-cost first;
      5. more co-located active related pods on the node first (related_on_same_node);
      6. Ready for less time first (log2 buckets of ns, then UID) - only for Ready pods;
      7. more container restarts first; 8. created more recently first (log2 buckets, then UID).
    Two pods with equal `ranking` are equivalent to upstream. Go's sort is not stable, so
    `tie_break` (newest creationTimestamp, then name) makes our order deterministic.

    Approximation: upstream goes on to steps 7-8 only when two ready times are exactly equal
    (and to "equal" only for equal creation times), while a key compares the UID of pods in
    the same bucket whether or not their times are equal. Pods without metadata.uid behave
    exactly as upstream.
    """
    return rank_key(rank_parts(pod), related_on_same_node, now)


def rank_pods_for_deletion(pods_to_rank: list[dict], related_pods: list[dict], now: datetime) -> list[dict]:
    """pods_to_rank in the order the ReplicaSet controller deletes them.

    Each pod's rank is the number of active pods in related_pods on the same node name (the
    unscheduled "" node included), as getPodsRankedByRelatedPodsOnSameNode in
    pkg/controller/replicaset/replica_set.go. related_pods are normally the pods of every
    ReplicaSet of the same Deployment and should include pods_to_rank.
    """
    if not pods_to_rank:
        return []
    on_node = Counter(_node_name(pod) for pod in related_pods if is_pod_active(pod))
    buckets: dict = {}

    def key(pod: dict) -> tuple:
        parts = rank_parts(pod)
        return rank_key(parts, on_node[parts.node], now, buckets)

    return sorted(pods_to_rank, key=key)


def pod_requests(pod: dict) -> tuple[float, float]:
    """CPU cores and memory bytes requested (limits stand in for missing requests, as defaulted)."""
    cpu = memory = 0.0
    for container in pod["spec"]["containers"]:
        resources = container.get("resources") or {}
        requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        if "cpu" in requests:
            cpu += parse_quantity(requests["cpu"])
        if "memory" in requests:
            memory += parse_quantity(requests["memory"])
    return cpu, memory
