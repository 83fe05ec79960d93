"""Deployment controller helper arithmetic on Kubernetes-shaped dicts, ported from upstream."""

# Behaviour follows kubernetes/kubernetes pkg/controller/deployment/util/deployment_util.go
# (v1.33+) and the ReplicaSet comparators of pkg/controller/controller_utils.go.
# Objects are plain dicts in Kubernetes JSON shape (camelCase). Missing status fields read as 0;
# a missing spec.replicas reads as 1, the API default. Other API defaults are not applied.

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cmp_to_key
from typing import Any

from simdeploy.k8s.intstr import get_scaled_value_from_int_or_percent
from simdeploy.k8s.timeutil import format_time, parse_time

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY = "pod-template-hash"

# Condition reasons.
REPLICA_SET_UPDATED_REASON = "ReplicaSetUpdated"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
NEW_REPLICA_SET_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"

# Condition types and strategy types.
DEPLOYMENT_PROGRESSING = "Progressing"
DEPLOYMENT_AVAILABLE = "Available"
DEPLOYMENT_REPLICA_FAILURE = "ReplicaFailure"
ROLLING_UPDATE_STRATEGY = "RollingUpdate"
RECREATE_STRATEGY = "Recreate"

MAX_INT32 = 2**31 - 1
_MAX_INT64 = 2**63 - 1
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_UINT = re.compile(r"[0-9]+")

_ANNOTATIONS_TO_SKIP = frozenset(
    {
        LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        ROLLBACK_TO_ANNOTATION,
    }
)

Obj = dict[str, Any]


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _replicas(obj: Obj) -> int:
    value = _spec(obj).get("replicas")
    return 1 if value is None else value


def _status_int(status: Obj, key: str) -> int:
    return status.get(key) or 0


def _annotations(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _ensure_annotations(obj: Obj) -> dict[str, str]:
    metadata = obj.setdefault("metadata", {})
    if metadata.get("annotations") is None:
        metadata["annotations"] = {}
    return metadata["annotations"]


def _rolling_update(deployment: Obj) -> Obj:
    return (_spec(deployment).get("strategy") or {}).get("rollingUpdate") or {}


def _parse_int64(text: str) -> int:
    """Go strconv.ParseInt(text, 10, 64)."""
    if not _GO_INT.fullmatch(text) or not -_MAX_INT64 - 1 <= int(text) <= _MAX_INT64:
        raise ValueError(f"invalid integer {text!r}")
    return int(text)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(surge, unavailable) for a rollout; both 0 becomes unavailable 1. Raises ValueError."""
    surge = get_scaled_value_from_int_or_percent(0 if max_surge is None else max_surge, desired, True)
    unavailable = get_scaled_value_from_int_or_percent(
        0 if max_unavailable is None else max_unavailable, desired, False
    )
    if surge == 0 and unavailable == 0:
        # Rounding down may resolve both to zero; then allow one unavailable pod.
        unavailable = 1
    return surge, unavailable


def _fenceposts_or_zero(deployment: Obj) -> tuple[int, int]:
    # Upstream ignores the error here ("caught by validation") and uses (0, 0).
    ru = _rolling_update(deployment)
    try:
        return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), _replicas(deployment))
    except ValueError:
        return 0, 0


def is_rolling_update(deployment: Obj) -> bool:
    return (_spec(deployment).get("strategy") or {}).get("type") == ROLLING_UPDATE_STRATEGY


def max_surge(deployment: Obj) -> int:
    if not is_rolling_update(deployment):
        return 0
    return _fenceposts_or_zero(deployment)[0]


def max_unavailable(deployment: Obj) -> int:
    if not is_rolling_update(deployment) or _replicas(deployment) == 0:
        return 0
    return min(_fenceposts_or_zero(deployment)[1], _replicas(deployment))


def min_available(deployment: Obj) -> int:
    if not is_rolling_update(deployment):
        return 0
    return _replicas(deployment) - max_unavailable(deployment)


def new_rs_new_replicas(deployment: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How many replicas the new RS should have now. Uses the raw maxSurge (no fencepost)."""
    strategy = (_spec(deployment).get("strategy") or {}).get("type")
    desired = _replicas(deployment)
    if strategy == RECREATE_STRATEGY:
        return desired
    if strategy != ROLLING_UPDATE_STRATEGY:
        raise ValueError(f"deployment type {strategy} isn't supported")
    surge = get_scaled_value_from_int_or_percent(_rolling_update(deployment).get("maxSurge"), desired, True)
    current = get_replica_count(all_rss)
    max_total = desired + surge
    if current >= max_total:
        return _replicas(new_rs)
    scale_up = min(max_total - current, desired - _replicas(new_rs))
    return _replicas(new_rs) + scale_up


def has_progress_deadline(deployment: Obj) -> bool:
    seconds = _spec(deployment).get("progressDeadlineSeconds")
    return seconds is not None and seconds != MAX_INT32


def has_revision_history_limit(deployment: Obj) -> bool:
    limit = _spec(deployment).get("revisionHistoryLimit")
    return limit is not None and limit != MAX_INT32


def deployment_complete(deployment: Obj, new_status: Obj) -> bool:
    """All desired replicas updated and available, no old pods, generation observed."""
    desired = _replicas(deployment)
    generation = (deployment.get("metadata") or {}).get("generation") or 0
    return (
        _status_int(new_status, "updatedReplicas") == desired
        and _status_int(new_status, "replicas") == desired
        and _status_int(new_status, "availableReplicas") == desired
        and _status_int(new_status, "observedGeneration") >= generation
    )


def deployment_progressing(deployment: Obj, new_status: Obj) -> bool:
    """Compare new_status against deployment.status: any step forward counts as progress."""
    old = _status(deployment)

    def old_pods(status: Obj) -> int:
        return _status_int(status, "replicas") - _status_int(status, "updatedReplicas")

    def grew(key: str) -> bool:
        return _status_int(new_status, key) > _status_int(old, key)

    return (
        grew("updatedReplicas")
        or old_pods(new_status) < old_pods(old)
        or grew("readyReplicas")
        or grew("availableReplicas")
    )


def deployment_timed_out(deployment: Obj, new_status: Obj, now: datetime) -> bool:
    """Progressing condition older than progressDeadlineSeconds (strictly), or already timed out."""
    if not has_progress_deadline(deployment):
        return False
    condition = get_deployment_condition(new_status, DEPLOYMENT_PROGRESSING)
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if condition.get("reason") == TIMED_OUT_REASON:
        return True
    deadline = timedelta(seconds=_spec(deployment)["progressDeadlineSeconds"])
    return parse_time(condition["lastUpdateTime"]) + deadline < now


def new_deployment_condition(cond_type: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_time(now)
    return {
        "type": cond_type,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def get_deployment_condition(status: Obj, cond_type: str) -> Obj | None:
    """A copy of the condition of that type, or None (upstream also returns a copy)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == cond_type:
            return dict(condition)
    return None


def set_deployment_condition(status: Obj, condition: Obj) -> None:
    """Replace the condition of that type; no-op when status and reason are unchanged."""
    current = get_deployment_condition(status, condition["type"])
    if current is not None and current.get("status") == condition.get("status"):
        if current.get("reason") == condition.get("reason"):
            return
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    others = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]]
    status["conditions"] = [*others, dict(condition)]


def remove_deployment_condition(status: Obj, cond_type: str) -> None:
    """Drop the condition of that type; an empty list is removed (Go nil, omitted in JSON)."""
    kept = [c for c in status.get("conditions") or [] if c.get("type") != cond_type]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def _creation_key(rs: Obj) -> tuple[datetime, str]:
    metadata = rs.get("metadata") or {}
    stamp = metadata.get("creationTimestamp")
    return (parse_time(stamp) if stamp else _ZERO_TIME, metadata.get("name") or "")


def _compare(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def replica_sets_by_creation_timestamp(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first; equal timestamps ordered by name."""
    return sorted(rss, key=_creation_key)


def replica_sets_by_size_older(rss: Iterable[Obj]) -> list[Obj]:
    """Largest spec.replicas first; ties older first."""
    return sorted(replica_sets_by_creation_timestamp(rss), key=lambda rs: -_replicas(rs))


def replica_sets_by_size_newer(rss: Iterable[Obj]) -> list[Obj]:
    """Largest spec.replicas first; ties newer first."""
    newest_first = sorted(rss, key=_creation_key, reverse=True)
    return sorted(newest_first, key=lambda rs: -_replicas(rs))


def _compare_by_revision(a: Obj, b: Obj) -> int:
    try:
        rev_a, rev_b = revision(a), revision(b)
    except ValueError:
        rev_a = rev_b = None
    if rev_a is None or rev_a == rev_b:
        return _compare(_creation_key(a), _creation_key(b))
    return _compare(rev_a, rev_b)


def replica_sets_by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """Lowest revision first; equal or unparsable revisions fall back to creation order."""
    return sorted(rss, key=cmp_to_key(_compare_by_revision))


def filter_active_replica_sets(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and _replicas(rs) > 0]


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active RS; with none active, new_rs or else the newest old RS; else None."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=_creation_key, reverse=True)
    active = filter_active_replica_sets([*newest_first, new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def _semantic(value: Any) -> Any:
    # apimachinery's semantic DeepEqual treats nil and empty maps/slices alike.
    if type(value) is dict:
        result = {}
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                item = _semantic(item)
                if not item:
                    continue
            elif item is None:
                continue
            result[key] = item
        return result
    if type(value) is list:
        return [_semantic(item) if type(item) in (dict, list) else item for item in value]
    return value


def _without_hash(template: Obj) -> Any:
    result = _semantic(template)  # rebuilt dicts, so popping below is safe
    metadata = result.get("metadata") or {}
    labels = metadata.get("labels") or {}
    labels.pop(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, None)
    if not labels:
        metadata.pop("labels", None)
    if not metadata:
        result.pop("metadata", None)
    return result


# Templates are compared on every sync; remember each one's normal form while it is unchanged.
_NORMAL_FORMS: dict[int, tuple[Obj, Obj, Any]] = {}


def _normal_form(template: Obj) -> Any:
    cached = _NORMAL_FORMS.get(id(template))
    if cached is not None and cached[0] is template and cached[1] == template:
        return cached[2]
    if len(_NORMAL_FORMS) > 4096:
        _NORMAL_FORMS.clear()
    normal = _without_hash(template)
    _NORMAL_FORMS[id(template)] = (template, copy.deepcopy(template), normal)
    return normal


def equal_ignore_hash(template1: Obj, template2: Obj) -> bool:
    """Pod templates equal once the pod-template-hash label is dropped. Inputs are untouched."""
    return _normal_form(template1) == _normal_form(template2)


def find_new_replica_set(deployment: Obj, rs_list: list[Obj]) -> Obj | None:
    """The oldest RS whose template matches the deployment's (ignoring the hash label)."""
    template = _spec(deployment).get("template") or {}
    for rs in replica_sets_by_creation_timestamp(rs_list):
        if equal_ignore_hash(_spec(rs).get("template") or {}, template):
            return rs
    return None


def _same_rs(a: Obj, b: Obj) -> bool:
    uid = (a.get("metadata") or {}).get("uid")
    return a is b or (bool(uid) and uid == (b.get("metadata") or {}).get("uid"))


def find_old_replica_sets(deployment: Obj, rs_list: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old RSs with spec.replicas != 0, all old RSs), both in creation order."""
    new_rs = find_new_replica_set(deployment, rs_list)
    # Upstream sorts rs_list in place inside FindNewReplicaSet; we return that order instead.
    all_old = [rs for rs in replica_sets_by_creation_timestamp(rs_list) if new_rs is None or not _same_rs(rs, new_rs)]
    required = [rs for rs in all_old if _replicas(rs) != 0]
    return required, all_old


def get_replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(_replicas(rs) for rs in rss if rs is not None)


def _status_sum(rss: Iterable[Obj | None], key: str) -> int:
    return sum(_status_int(_status(rs), key) for rs in rss if rs is not None)


def get_actual_replica_count(rss: Iterable[Obj | None]) -> int:
    return _status_sum(rss, "replicas")


def get_ready_replica_count(rss: Iterable[Obj | None]) -> int:
    return _status_sum(rss, "readyReplicas")


def get_available_replica_count(rss: Iterable[Obj | None]) -> int:
    return _status_sum(rss, "availableReplicas")


def get_terminating_replica_count(rss: Iterable[Obj | None]) -> int | None:
    """Sum of status.terminatingReplicas; None when a synced RS does not report it."""
    total = 0
    for rs in rss:
        if rs is None:
            continue
        status = _status(rs)
        terminating = status.get("terminatingReplicas")
        if terminating is None:
            if _status_int(status, "observedGeneration") == 0:
                continue  # never synced by the ReplicaSet controller: contributes nothing
            return None
        total += terminating
    return total


def revision(obj: Obj) -> int:
    """The revision annotation as an integer; 0 when absent, ValueError when unparsable."""
    text = _annotations(obj).get(REVISION_ANNOTATION)
    return 0 if text is None else _parse_int64(text)


def max_revision(rss: Iterable[Obj]) -> int:
    """Highest revision; RSs with an unparsable revision are skipped."""
    highest = 0
    for rs in rss:
        try:
            highest = max(highest, revision(rs))
        except ValueError:
            continue
    return highest


def last_revision(rss: Iterable[Obj]) -> int:
    """Second-highest revision (a repeated maximum counts twice, as upstream)."""
    highest = second = 0
    for rs in rss:
        try:
            value = revision(rs)
        except ValueError:
            continue
        if value >= highest:
            highest, second = value, highest
        elif value > second:
            second = value
    return second


def _copy_deployment_annotations(deployment: Obj, rs: Obj) -> bool:
    target = _ensure_annotations(rs)
    changed = False
    for key, value in _annotations(deployment).items():
        if key in _ANNOTATIONS_TO_SKIP or (key in target and target[key] == value):
            continue
        target[key] = value
        changed = True
    return changed


def _append_revision_history(annotations: dict[str, str], old: str, limit: int) -> None:
    history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
    entries = history.split(",")
    if not entries[0]:
        annotations[REVISION_HISTORY_ANNOTATION] = old
        return
    # Drop the oldest entries until the new list fits in `limit` characters.
    total = len(history) + len(old) + 1
    start = 0
    while total > limit and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    if total <= limit:
        annotations[REVISION_HISTORY_ANNOTATION] = ",".join([*entries[start:], old])


def set_new_replica_set_annotations(
    deployment: Obj,
    new_rs: Obj,
    new_revision: str,
    exists: bool,
    rev_history_limit_in_chars: int = 2000,
) -> bool:
    """Copy deployment annotations, raise the revision, keep revision-history; True if changed."""
    changed = _copy_deployment_annotations(deployment, new_rs)
    annotations = _ensure_annotations(new_rs)
    had_revision = REVISION_ANNOTATION in annotations
    old_revision = annotations.get(REVISION_ANNOTATION, "")
    try:
        old_int = _parse_int64(old_revision) if old_revision else 0
        new_int = _parse_int64(new_revision)
    except ValueError:
        return False  # upstream logs and reports "unchanged", even if annotations were copied
    if old_int < new_int:
        annotations[REVISION_ANNOTATION] = new_revision
        changed = True
        if had_revision:
            _append_revision_history(annotations, old_revision, rev_history_limit_in_chars)
    if not exists:
        desired = _replicas(deployment)
        if set_replicas_annotations(new_rs, desired, desired + max_surge(deployment)):
            changed = True
    return changed


def _non_negative_int32_annotation(rs: Obj, key: str) -> int | None:
    """Go ParseUint(value, 10, 32) capped at MaxInt32; None when absent or invalid."""
    text = _annotations(rs).get(key)
    if text is None or not _GO_UINT.fullmatch(text) or int(text) > MAX_INT32:
        return None
    return int(text)


def get_desired_replicas_annotation(rs: Obj) -> int | None:
    return _non_negative_int32_annotation(rs, DESIRED_REPLICAS_ANNOTATION)


def _replicas_annotations(desired: int, max_replicas: int) -> dict[str, str]:
    return {DESIRED_REPLICAS_ANNOTATION: str(desired), MAX_REPLICAS_ANNOTATION: str(max_replicas)}


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    """Record desired and max (desired + maxSurge) replicas on the RS; True if changed."""
    changed = replicas_annotations_need_update(rs, desired, max_replicas)
    _ensure_annotations(rs).update(_replicas_annotations(desired, max_replicas))
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    current = _annotations(rs)
    wanted = _replicas_annotations(desired, max_replicas)
    return any(current.get(key) != value for key, value in wanted.items())


def round_to_int32(x: float) -> int:
    """k8s.io/utils/integer.RoundToInt32: half away from zero, truncating like a Go cast."""
    return int(x - 0.5) if x < 0 else int(x + 0.5)


def get_replica_set_fraction(rs: Obj, deployment: Obj) -> int:
    """Replicas this RS gains (or loses, negative) when the deployment is resized."""
    desired = _replicas(deployment)
    if desired == 0:
        return -_replicas(rs)
    max_replicas = desired + max_surge(deployment)
    before = _non_negative_int32_annotation(rs, MAX_REPLICAS_ANNOTATION)
    if not before:
        # Annotation missing, invalid or 0: fall back to the deployment's current size.
        before = _status_int(_status(deployment), "replicas")
        if before == 0:
            return 0
    new_size = float(_replicas(rs) * max_replicas) / float(before)
    return round_to_int32(new_size) - _replicas(rs)


def get_replica_set_proportion(
    rs: Obj | None, deployment: Obj, deployment_replicas_to_add: int, deployment_replicas_added: int
) -> int:
    """The RS's share of a resize, never exceeding what is left to add (or remove)."""
    to_add, added = deployment_replicas_to_add, deployment_replicas_added
    if rs is None or _replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = get_replica_set_fraction(rs, deployment)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def is_saturated(deployment: Obj, rs: Obj | None) -> bool:
    """The RS owns all desired replicas: spec, desired annotation and available all match."""
    if rs is None:
        return False
    try:
        desired = _parse_int64(_annotations(rs).get(DESIRED_REPLICAS_ANNOTATION, ""))
    except ValueError:
        return False
    replicas = _replicas(deployment)
    return (
        _replicas(rs) == replicas and desired == replicas and _status_int(_status(rs), "availableReplicas") == replicas
    )
