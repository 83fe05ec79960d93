"""Argo Rollouts canary replica arithmetic on Kubernetes-shaped dicts, ported from upstream."""

# Follows argoproj/argo-rollouts utils/replicaset/canary.go at commit 01240d81 (after PR #4900 and the #4973 fix)
# and the helpers it calls in utils/replicaset/replicaset.go, utils/defaults and utils/weightutil. Objects are dicts
# in JSON shape; a Go nil is an absent key or None, while `trafficRouting: {}` or `setCanaryScale: {}` counts as set.

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from simdeploy.k8s.intstr import get_scaled_value_from_int_or_percent

Obj = dict[str, Any]

ROLLOUT_UNIQUE_LABEL_KEY = "rollouts-pod-template-hash"
REVISION_ANNOTATION = "rollout.argoproj.io/revision"
DEFAULT_REPLICAS = 1
# The defaults are the strings "25", without "%": Argo resolves them with the deprecated
# intstr.GetValueFromIntOrPercent, which reads every string as a percentage (see _legacy_scaled_value).
DEFAULT_MAX_SURGE = "25"
DEFAULT_MAX_UNAVAILABLE = "25"
DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30
DEFAULT_MAX_TRAFFIC_WEIGHT = 100
# spec.strategy.canary.replicaProgressThreshold.type values (PR #4341).
PROGRESS_TYPE_PODS = "Pods"
PROGRESS_TYPE_PERCENTAGE = "Percent"


def _canary(rollout: Obj) -> Obj | None:
    return ((rollout.get("spec") or {}).get("strategy") or {}).get("canary")


def _canary_field(rollout: Obj, key: str) -> Any:
    canary = _canary(rollout)
    return None if canary is None else canary.get(key)


def _traffic_routing(rollout: Obj) -> Obj | None:
    return _canary_field(rollout, "trafficRouting")


def _weight(weights: Obj, destination: str) -> int:
    return (weights.get(destination) or {}).get("weight") or 0


def _steps(rollout: Obj) -> list[Obj]:
    return _canary_field(rollout, "steps") or []


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _spec_replicas(rs: Obj) -> int:
    """spec.replicas of a Rollout or ReplicaSet; absent reads as 1 (defaults.GetReplicasOrDefault)."""
    value = (rs.get("spec") or {}).get("replicas")
    return DEFAULT_REPLICAS if value is None else value


def _available(rs: Obj) -> int:
    return _status(rs).get("availableReplicas") or 0


def _name(rs: Obj) -> str:
    return (rs.get("metadata") or {}).get("name", "")


def _pod_hash(rs: Obj) -> str:
    return ((rs.get("metadata") or {}).get("labels") or {}).get(ROLLOUT_UNIQUE_LABEL_KEY, "")


# --- defaults (utils/defaults/defaults.go, utils/weightutil/weight.go) --------------------------------------------


def get_max_surge_or_default(rollout: Obj) -> int | str:
    value = _canary_field(rollout, "maxSurge")
    return DEFAULT_MAX_SURGE if value is None else value


def get_max_unavailable_or_default(rollout: Obj) -> int | str:
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    for key in ("blueGreen", "canary"):
        value = (strategy.get(key) or {}).get("maxUnavailable")
        if value is not None:
            return value
    return DEFAULT_MAX_UNAVAILABLE


def get_abort_scale_down_delay_seconds_or_default(rollout: Obj) -> tuple[int | None, bool]:
    """(delay seconds, explicitly set). None means "never scale down" (an explicit 0)."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    blue_green, canary = strategy.get("blueGreen"), strategy.get("canary")
    if blue_green is not None:
        explicit = blue_green.get("abortScaleDownDelaySeconds")
    elif canary is not None and canary.get("trafficRouting") is not None:
        explicit = canary.get("abortScaleDownDelaySeconds")
    else:
        return 0, False  # basic canary: abortScaleDownDelaySeconds does not apply
    if explicit is None:
        return DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS, False
    return (None if explicit == 0 else explicit), True


def has_explicit_abort_scale_down_delay(rollout: Obj) -> bool:
    """True when abortScaleDownDelaySeconds is set to a real delay (> 0), as PR #4900's tests pin it down."""
    delay, was_set = get_abort_scale_down_delay_seconds_or_default(rollout)
    return was_set and delay is not None


def max_traffic_weight(rollout: Obj) -> int:
    value = (_traffic_routing(rollout) or {}).get("maxTrafficWeight")
    return DEFAULT_MAX_TRAFFIC_WEIGHT if value is None else value


# --- maxSurge / maxUnavailable (utils/replicaset/replicaset.go) ----------------------------------------------------


def _legacy_scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    # intstr.GetValueFromIntOrPercent (deprecated) strips every "%" and treats any string as a percentage,
    # so "25" means 25%. Argo still calls it, unlike the Deployment controller.
    value = 0 if value is None else value
    if isinstance(value, str):
        value = value.replace("%", "") + "%"
    return get_scaled_value_from_int_or_percent(value, total, round_up)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None, desired: int) -> tuple[int, int]:
    surge = _legacy_scaled_value(max_surge, desired, True)
    unavailable = _legacy_scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        # Both resolved to zero (rounding): allow one unavailable pod, on the theory that surge may hit quota.
        unavailable = 1
    return surge, unavailable


def max_surge(rollout: Obj) -> int:
    if _canary(rollout) is None:
        return 0
    surge, unavailable = get_max_surge_or_default(rollout), get_max_unavailable_or_default(rollout)
    return resolve_fenceposts(surge, unavailable, _spec_replicas(rollout))[0]


def max_unavailable(rollout: Obj) -> int:
    replicas = _spec_replicas(rollout)
    if replicas == 0:
        return 0
    unavailable = get_max_unavailable_or_default(rollout)
    if _canary(rollout) is not None:
        value = resolve_fenceposts(get_max_surge_or_default(rollout), unavailable, replicas)[1]
    else:
        value = _legacy_scaled_value(unavailable, replicas, False)
    return min(value, replicas)


def get_replica_count_for_replica_sets(replica_sets: Iterable[Obj | None]) -> int:
    return sum(_spec_replicas(rs) for rs in replica_sets if rs is not None)


def get_available_replica_count_for_replica_sets(replica_sets: Iterable[Obj | None]) -> int:
    return sum(_available(rs) for rs in replica_sets if rs is not None)


# --- steps and weights -----------------------------------------------------------------------------------------


def get_current_canary_step(rollout: Obj) -> tuple[Obj | None, int | None]:
    """The step at status.currentStepIndex (default 0); (None, index) once past the last step."""
    steps = _steps(rollout)
    if _canary(rollout) is None or not steps:
        return None, None
    index = _status(rollout).get("currentStepIndex") or 0
    if len(steps) <= index:
        return None, index
    return steps[index], index


def get_current_set_weight(rollout: Obj) -> int:
    """The latest setWeight at or before the current step; 0 if none, maxWeight past the last step, 0 on abort."""
    # Upstream's comment says it "defaults to 100" when no setWeight precedes the step; the code returns 0.
    if _status(rollout).get("abort"):
        return 0
    step, index = get_current_canary_step(rollout)
    if step is None:
        return max_traffic_weight(rollout)
    for earlier in reversed(_steps(rollout)[: index + 1]):
        if earlier.get("setWeight") is not None:
            return earlier["setWeight"]
    return 0


def use_set_canary_scale(rollout: Obj) -> Obj | None:
    """The setCanaryScale in effect: trafficRouting only, not after matchTrafficWeight, not on abort unless the
    canary is kept (abortScaleDownDelaySeconds: 0)."""
    if _traffic_routing(rollout) is None:
        return None
    if _status(rollout).get("abort") and get_abort_scale_down_delay_seconds_or_default(rollout)[0] is not None:
        return None
    step, index = get_current_canary_step(rollout)
    if step is None:
        return None
    for earlier in reversed(_steps(rollout)[: index + 1]):
        scale = earlier.get("setCanaryScale")
        if scale is None:
            continue
        return None if scale.get("matchTrafficWeight") else scale
    return None


def get_canary_replicas_or_weight(
    rollout: Obj, new_rs: Obj | None = None, stable_rs: Obj | None = None
) -> tuple[int | None, int]:
    """(setCanaryScale.replicas, 0), or (None, weight). Full promotion, a first deploy, or a rollback onto the
    stable hash go straight to maxWeight."""
    status = _status(rollout)
    stable_hash = status.get("stableRS") or ""
    if status.get("promoteFull") or stable_hash == "" or (status.get("currentPodHash") or "") == stable_hash:
        return None, max_traffic_weight(rollout)
    scale = use_set_canary_scale(rollout)
    if scale is not None:
        if scale.get("replicas") is not None:
            return scale["replicas"], 0
        if scale.get("weight") is not None:
            return None, scale["weight"]
    return None, get_desired_canary_weight(rollout, new_rs, stable_rs)


def get_desired_canary_weight(rollout: Obj, new_rs: Obj | None, stable_rs: Obj | None) -> int:
    """The set weight, except on an abort with dynamicStableScale: step back down the setWeight steps (PR #4035)."""
    if not (_status(rollout).get("abort") and _canary_field(rollout, "dynamicStableScale")):
        return get_current_set_weight(rollout)
    if new_rs is None or stable_rs is None:
        return get_current_set_weight(rollout)
    weight_max = max_traffic_weight(rollout)
    replicas = _spec_replicas(rollout)
    # Work backwards from the replicas the stable already has, so the canary's scale-down keeps pace with it.
    expected_canary = replicas - _available(stable_rs)
    canary_replicas = max(expected_canary, _available(new_rs))
    if has_explicit_abort_scale_down_delay(rollout):
        # The canary is held at full size until its deadline, so its size must not hold the weight up (#4898).
        canary_replicas = expected_canary
    for step in reversed(_steps(rollout)):
        weight = step.get("setWeight")
        if weight is not None and traffic_weight_to_replicas(replicas, weight, weight_max) < canary_replicas:
            return weight
    return 0


def traffic_weight_to_replicas(replicas: int, weight: int, max_weight: int = DEFAULT_MAX_TRAFFIC_WEIGHT) -> int:
    """Replicas for a traffic weight, rounded up (upstream trafficWeightToReplicas)."""
    return int(math.ceil(float(weight) * float(replicas) / float(max_weight)))


def check_min_pods_per_replica_set(rollout: Obj, count: int) -> int:
    """Raise a non-zero traffic-routed count to minPodsPerReplicaSet, itself capped at spec.replicas (PR #4570)."""
    minimum = _canary_field(rollout, "minPodsPerReplicaSet")
    if count == 0 or minimum is None or _traffic_routing(rollout) is None:
        return count
    return max(count, min(minimum, _spec_replicas(rollout)))


# --- basic canary (no trafficRouting) -------------------------------------------------------------------------


def calculate_replica_counts_for_basic_canary(
    rollout: Obj, canary_rs: Obj | None, stable_rs: Obj | None, other_rss: list[Obj | None]
) -> tuple[int, int]:
    """(canary, stable) replicas for this reconcile pass: approach the weighted split within maxSurge and
    maxUnavailable, stable scaling up before the canary, and older ReplicaSets draining first."""
    replicas = _spec_replicas(rollout)
    _, desired_weight = get_canary_replicas_or_weight(rollout, canary_rs, stable_rs)
    surge = max_surge(rollout)
    desired_new, desired_stable = approximate_weighted_canary_stable_replica_counts(
        replicas, desired_weight, max_traffic_weight(rollout), surge
    )
    new_count = 0 if canary_rs is None else _spec_replicas(canary_rs)
    stable_count = 0
    scale_stable = check_stable_rs_exists(canary_rs, stable_rs)
    if scale_stable:
        stable_count = _spec_replicas(stable_rs)
    else:
        # No distinct stable ReplicaSet: skip the steps and take the new ReplicaSet to 100%.
        desired_new, desired_stable = replicas, 0

    max_allowed = replicas + surge
    all_rss = [*other_rss, canary_rs, *([stable_rs] if scale_stable else [])]
    scale_up = max_allowed - get_replica_count_for_replica_sets(all_rss)
    if scale_stable and _spec_replicas(stable_rs) < desired_stable and scale_up > 0:
        grown = min(desired_stable, _spec_replicas(stable_rs) + scale_up)
        scale_up -= grown - _spec_replicas(stable_rs)
        stable_count = grown
    if canary_rs is not None and _spec_replicas(canary_rs) < desired_new and scale_up > 0:
        new_count = min(desired_new, _spec_replicas(canary_rs) + scale_up)

    if get_replica_count_for_replica_sets(other_rss) > 0:
        # Older ReplicaSets scale down first, before the new or stable one is considered.
        return new_count, stable_count

    min_available = replicas - max_unavailable(rollout)
    # Raising the canary may ignore the stable's availability; lowering it (abort) may ignore the canary's.
    increasing = canary_rs is None or desired_new >= _spec_replicas(canary_rs)
    countable = get_replicas_for_scale_down(canary_rs, not increasing)
    countable += get_replicas_for_scale_down(stable_rs, increasing)
    if countable <= min_available:
        return new_count, stable_count
    scale_down = countable - min_available
    if not increasing:
        new_count = calculate_scale_down_replica_count(canary_rs, desired_new, scale_down, new_count)
        new_count, stable_count = adjust_replica_within_limits(
            canary_rs, stable_rs, new_count, stable_count, max_allowed, min_available
        )
    elif scale_stable:
        stable_count = calculate_scale_down_replica_count(stable_rs, desired_stable, scale_down, stable_count)
        stable_count, new_count = adjust_replica_within_limits(
            stable_rs, canary_rs, stable_count, new_count, max_allowed, min_available
        )
    return new_count, stable_count


def approximate_weighted_canary_stable_replica_counts(
    spec_replicas: int, desired_weight: int, max_weight: int, surge: int
) -> tuple[int, int]:
    """The (canary, stable) split closest to the weight, totalling R or (with surge) R+1; ties round up, and a
    weight strictly between 0 and max never yields 0 unless R is 1 without surge."""
    if spec_replicas == 0:
        return 0, 0
    ceil_count = int(math.ceil(float(spec_replicas * desired_weight) / float(max_weight)))
    floor_count = int(math.floor(float(spec_replicas * desired_weight) / float(max_weight)))
    zero_allowed = desired_weight in (max_weight, 0) or (spec_replicas == 1 and surge == 0)
    options: list[tuple[int, int]] = []
    if ceil_count < spec_replicas or zero_allowed:
        options.append((ceil_count, spec_replicas))
    if not floor_ceiling_tied(desired_weight, max_weight, spec_replicas) and (floor_count != 0 or zero_allowed):
        options.append((floor_count, spec_replicas))
    if surge > 0:
        options.append((ceil_count, spec_replicas + 1))
        tied = floor_ceiling_tied(desired_weight, max_weight, spec_replicas + 1)
        if not tied and (floor_count != 0 or zero_allowed):
            options.append((floor_count, spec_replicas + 1))
    if not options:
        return 0, spec_replicas  # upstream: "should not get here"
    best = options[0]
    for option in options[1:]:
        # Strictly closer only: on equal distance the earlier option wins.
        if weight_delta(desired_weight, max_weight, *option) < weight_delta(desired_weight, max_weight, *best):
            best = option
    return best[0], best[1] - best[0]


def floor_ceiling_tied(desired_weight: int, max_weight: int, total_replicas: int) -> bool:
    """Whether floor and ceiling are equally far from the weight (fraction exactly .5), e.g. 3 replicas at 50%."""
    return math.modf(float(total_replicas) * (float(desired_weight) / float(max_weight)))[0] == 0.5


def weight_delta(desired_weight: int, max_weight: int, canary_replicas: int, total_replicas: int) -> float:
    return abs(float(canary_replicas * max_weight) / float(total_replicas) - float(desired_weight))


def calculate_scale_down_replica_count(drain_rs: Obj | None, desired: int, scale_down: int, drain_count: int) -> int:
    """Scale the drained ReplicaSet (the one whose availability was ignored) down toward its desired count."""
    if drain_rs is not None and _spec_replicas(drain_rs) > desired:
        drain_count = max(desired, _spec_replicas(drain_rs) - scale_down)
    return drain_count


def adjust_replica_within_limits(
    drain_rs: Obj | None, adjust_rs: Obj | None, drain: int, adjust: int, max_allowed: int, min_available: int
) -> tuple[int, int]:
    """Trim the other ReplicaSet to stay within maxSurge, giving back what that trim would take below minAvailable;
    any remaining excess comes off the drained ReplicaSet. Returns the (drain, adjust) counts."""
    over = max(0, adjust + drain - max_allowed)
    total_available = 0
    if drain_rs is not None:
        total_available += min(_available(drain_rs), drain)
    if adjust_rs is not None:
        adjust -= over
        total_available += min(_available(adjust_rs), adjust)
        lost_availability = max(0, _available(adjust_rs) - adjust)
        still_needed = max(0, min_available - total_available)
        adjust += min(lost_availability, still_needed)
        drain -= max(0, adjust + drain - max_allowed)
    return drain, adjust


def check_stable_rs_exists(new_rs: Obj | None, stable_rs: Obj | None) -> bool:
    """Whether a stable ReplicaSet exists and differs (by name) from the new one."""
    if stable_rs is None:
        return False
    return new_rs is None or _name(new_rs) != _name(stable_rs)


def get_replicas_for_scale_down(rs: Obj | None, ignore_availability: bool) -> int:
    """Replicas to count toward availability: spec if already scaling down or availability is ignored (so a
    crash-looping ReplicaSet can still be scaled down), else available."""
    if rs is None:
        return 0
    if _spec_replicas(rs) < _available(rs) or ignore_availability:
        return _spec_replicas(rs)
    return _available(rs)


# --- traffic-routed canary ----------------------------------------------------------------------------------------


def calculate_replica_counts_for_traffic_routed_canary(
    rollout: Obj, canary_rs: Obj | None = None, stable_rs: Obj | None = None, weights: Obj | None = None
) -> tuple[int, int]:
    """(canary, stable) replicas with a traffic router: maxSurge/maxUnavailable do not apply; stable stays at
    spec.replicas unless dynamicStableScale. weights (status.canary.weights shape) defaults to the rollout's."""
    if weights is None:
        weights = (_status(rollout).get("canary") or {}).get("weights")
    replicas = _spec_replicas(rollout)
    scale_replicas, desired_weight = get_canary_replicas_or_weight(rollout, canary_rs, stable_rs)
    weight_max = max_traffic_weight(rollout)
    # An explicit setCanaryScale.replicas skips the minPodsPerReplicaSet floor here.
    canary_count = scale_replicas
    if canary_count is None:
        canary_count = check_min_pods_per_replica_set(
            rollout, traffic_weight_to_replicas(replicas, desired_weight, weight_max)
        )
    if not _canary_field(rollout, "dynamicStableScale"):
        return canary_count, replicas

    # Stable follows the higher of the desired and the actual stable weight: it must not shrink before traffic
    # has left it, and must grow ahead of traffic coming back.
    stable_count = traffic_weight_to_replicas(replicas, weight_max - desired_weight, weight_max)
    if weights is not None:
        stable_count = max(stable_count, traffic_weight_to_replicas(replicas, _weight(weights, "stable"), weight_max))
        if _status(rollout).get("abort"):
            # Do not shrink the canary while traffic still reaches it...
            by_traffic = traffic_weight_to_replicas(replicas, _weight(weights, "canary"), weight_max)
            canary_count = max(by_traffic, canary_count)
            # ...but never grow a drained aborted canary back because stable is short (HPA, eviction; #4973).
            if (
                canary_rs is not None
                and (canary_rs.get("spec") or {}).get("replicas") is not None
                and not _status(rollout).get("promoteFull")
                and check_stable_rs_exists(canary_rs, stable_rs)
                and use_set_canary_scale(rollout) is None
            ):
                canary_count = min(canary_count, max(by_traffic, canary_rs["spec"]["replicas"]))
    return check_min_pods_per_replica_set(rollout, canary_count), check_min_pods_per_replica_set(rollout, stable_count)


# --- step completion and ReplicaSet lookup --------------------------------------------------------------------


def all_desired_are_available(rs: Obj | None, desired: int) -> bool:
    return rs is not None and desired == _spec_replicas(rs) and desired == _available(rs)


def all_desired_are_created(rs: Obj | None, desired: int) -> bool:
    return rs is not None and desired == _spec_replicas(rs) and desired == (_status(rs).get("replicas") or 0)


def replica_progress_threshold_met(threshold: Obj | None, rs: Obj | None, desired: int) -> bool:
    """Whether enough new pods are available to finish a step: all of them unless replicaProgressThreshold is set."""
    if threshold is None or rs is None or (threshold.get("value") or 0) < 0:
        return all_desired_are_available(rs, desired)
    value = threshold.get("value") or 0
    if threshold.get("type") == PROGRESS_TYPE_PERCENTAGE:
        if desired == 0:
            return True
        current = float(_available(rs)) / float(desired) * 100
        return current >= float(value) or abs(current - float(value)) <= 1e-10
    return _available(rs) >= value


def at_desired_replica_counts_for_canary(
    rollout: Obj, new_rs: Obj | None, stable_rs: Obj | None, older_rss: list[Obj | None], weights: Obj | None
) -> bool:
    """Whether a setWeight/setCanaryScale step has finished scaling (rollout/canary.go's step completion test)."""
    traffic_routed = _traffic_routing(rollout) is not None
    if traffic_routed:
        desired_new, desired_stable = calculate_replica_counts_for_traffic_routed_canary(
            rollout, new_rs, stable_rs, weights
        )
    else:
        desired_new, desired_stable = calculate_replica_counts_for_basic_canary(rollout, new_rs, stable_rs, older_rss)
    if not replica_progress_threshold_met(_canary_field(rollout, "replicaProgressThreshold"), new_rs, desired_new):
        return False
    dynamic = traffic_routed and _canary_field(rollout, "dynamicStableScale")
    if not dynamic and not all_desired_are_created(stable_rs, desired_stable):
        return False
    # Older ReplicaSets serve traffic only in a basic canary; a router keeps them out otherwise.
    return traffic_routed or get_available_replica_count_for_replica_sets(older_rss) == 0


def get_other_rss(rollout: Obj, new_rs: Obj | None, stable_rs: Obj | None, all_rss: list[Obj | None]) -> list[Obj]:
    """The ReplicaSets that are neither the new nor the stable one."""
    skip = {_name(rs) for rs in (new_rs, stable_rs) if rs is not None}
    return [rs for rs in all_rss if rs is not None and _name(rs) not in skip]


def get_stable_rs(rollout: Obj, new_rs: Obj | None, rs_list: list[Obj | None]) -> Obj | None:
    """The ReplicaSet whose rollouts-pod-template-hash label is status.stableRS."""
    stable_hash = _status(rollout).get("stableRS") or ""
    if stable_hash == "":
        return None
    if new_rs is not None and _pod_hash(new_rs) == stable_hash:
        return new_rs
    return next((rs for rs in rs_list if rs is not None and _pod_hash(rs) == stable_hash), None)
