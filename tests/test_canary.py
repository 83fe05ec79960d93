"""Argo Rollouts canary replica arithmetic, ported from upstream canary_test.go and replicaset_test.go tables."""

# Tables follow argoproj/argo-rollouts utils/replicaset/canary_test.go at commit 01240d81 and the resolveFenceposts /
# MaxSurge / MaxUnavailable tables of utils/replicaset/replicaset_test.go. Row names are upstream's.

from __future__ import annotations

import pytest

from simdeploy.delivery.argo import canary as c
from simdeploy.delivery.argo.canary import (
    calculate_replica_counts_for_basic_canary,
    calculate_replica_counts_for_traffic_routed_canary,
)

TR = {}  # &v1alpha1.RolloutTrafficRouting{}: set, but empty


# --- object builders (upstream's newRollout / newRS / newSetCanaryScale) -------------------------------------------


def new_rollout(
    spec_replicas, set_weight, max_surge, max_unavailable, current_pod_hash, stable_pod_hash, scs=None, rtr=None
):
    step = {"setWeight": set_weight}
    if scs is not None:
        step["setCanaryScale"] = dict(scs)
    canary = {"maxUnavailable": max_unavailable, "maxSurge": max_surge, "steps": [step]}
    if rtr is not None:
        canary["trafficRouting"] = dict(rtr)
    return {
        "spec": {"replicas": spec_replicas, "strategy": {"canary": canary}},
        "status": {"stableRS": stable_pod_hash, "currentPodHash": current_pod_hash},
    }


def new_rs(pod_hash_label, spec_replicas, available_replicas):
    return {
        "metadata": {"name": pod_hash_label, "labels": {c.ROLLOUT_UNIQUE_LABEL_KEY: pod_hash_label}},
        "spec": {"replicas": spec_replicas},
        "status": {"availableReplicas": available_replicas},
    }


def new_set_canary_scale(replicas, weight, match_traffic_weight):
    scs = {"matchTrafficWeight": match_traffic_weight}
    if replicas is not None:
        scs["replicas"] = replicas
    if weight is not None:
        scs["weight"] = weight
    return scs


def weights(canary_weight, stable_weight):
    return {"canary": {"weight": canary_weight}, "stable": {"weight": stable_weight}}


# --- TestCalculateReplicaCountsForCanary ----------------------------------------------------------------------
# Columns: replicas, setWeight, maxSurge, maxUnavailable, stable (spec, available), canary (spec, available),
# expected (canary, stable) as the functions return them, and the row's extra fields.


def _row(name, replicas, weight, surge, unavailable, stable, canary, expected, **extra):
    return pytest.param(replicas, weight, surge, unavailable, stable, canary, expected, extra, id=name)


# fmt: off
CALCULATE_REPLICA_COUNTS_ROWS = [
    _row("Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas",
         10, 100, 3, 0, (7, 8), (6, 3), (6, 7)),
    _row("Use max surge int to scale up canary", 10, 20, 2, 0, (10, 10), (0, 0), (2, 10)),
    _row("Use max surge percentage to scale up canary", 10, 20, "20%", 0, (10, 10), (0, 0), (2, 10)),
    _row("Scale down extra stable replicas", 10, 20, "20%", 0, (10, 10), (2, 2), (2, 8)),
    _row("Do not go past max surge", 10, 30, 2, 0, (10, 10), (0, 0), (2, 10)),
    _row("Use max unavailable int to scale down stableRS", 10, 20, 0, 2, (10, 10), (0, 0), (0, 8)),
    _row("Use max surge percentage to scale down stableRS", 10, 20, 0, "20%", (10, 10), (0, 0), (0, 8)),
    _row("Do not go past max unavailable", 10, 30, 0, 2, (10, 10), (0, 0), (0, 8)),
    _row("Use Max Surge and Max Unavailable", 10, 50, 2, 1, (10, 10), (0, 0), (2, 9)),
    _row("Scale canaryRS to zero on setWeight of 0%", 10, 0, 1, 1, (10, 10), (1, 1), (0, 10)),
    _row("Scale stable to zero on setWeight of 100%", 10, 100, 1, 1, (1, 1), (10, 10), (10, 0)),
    _row("Do not scale canaryRS down to zero on non-zero weight", 1, 20, 1, 0, (1, 1), (0, 0), (1, 1)),
    _row("Do not scale canaryRS down to zero on non-100 weight", 1, 90, 1, 0, (1, 1), (0, 0), (1, 1)),
    _row("Scale canaryRS to zero on <50 weight without surge", 1, 49, 0, 1, (1, 1), (0, 0), (0, 1)),
    _row("Scale stableRS down to zero on >=50 weight without surge", 1, 51, 0, 1, (1, 1), (0, 0), (0, 0)),
    _row("Scale canaryRS to one on >=50 weight without surge and stable replicas",
         1, 51, 0, 1, (0, 0), (0, 0), (1, 0)),
    _row("Scale up Stable before canaryRS", 10, 30, 1, 0, (1, 1), (0, 0), (1, 7), older_rs=(3, 3)),
    _row("Scale down canaryRS and stable", 10, 30, 0, 3, (8, 5), (4, 4), (3, 7)),
    _row("Scale down stable and canary available", 10, 100, 1, 0, (10, 2), (10, 8), (9, 2)),
    _row("Do not scale down canaryRS or stable when older RS count >= scaleDownCount",
         10, 30, 0, 1, (8, 6), (4, 2), (4, 8), older_rs=(3, 3)),
    _row("Do not round past maxSurge with uneven setWeight divisor", 10, 5, 0, 1, (10, 10), (0, 0), (0, 9)),
    _row("Do not round past maxSurge with uneven setWeight divisor (part 2)",
         10, 5, 0, 1, (9, 9), (0, 0), (1, 9)),
    _row("Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas",
         10, 10, "0%", "0%", (10, 10), (0, 0), (0, 9)),
    _row("For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting "
         "(and ignore setWeight)",
         1, 100, 0, 0, (1, 1), (0, 0), (9, 1), scs=new_set_canary_scale(9, None, False), rtr=TR),
    _row("Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)",
         4, 100, 0, 0, (4, 4), (0, 0), (8, 4), scs=new_set_canary_scale(None, 200, False), rtr=TR),
    _row("Ignore setCanaryScale replicas/weight when matchTrafficWeight is true",
         10, 20, "20%", 0, (10, 10), (0, 0), (2, 10), scs=new_set_canary_scale(9, 100, True), rtr=TR),
    _row("Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas",
         10, 20, "20%", 0, (10, 10), (0, 0), (2, 10), scs=new_set_canary_scale(9, 100, False)),
    _row("honor maxSurge during scale up when stableRS unavailable", 4, 100, 1, 0, (4, 1), (0, 0), (1, 4)),
    _row("scale down to maxunavailable without exceeding maxSurge", 3, 99, 0, 2, (3, 3), (0, 0), (0, 1)),
    _row("scale down to maxunavailable without exceeding maxSurge (part 2)", 3, 99, 0, 2, (1, 1), (0, 0), (2, 1)),
    _row("honor maxUnavailable during scale down stableRS unavailable", 4, 100, 1, 0, (4, 1), (1, 1), (1, 3)),
    _row("honor maxUnavailable when aborting or reducing weight part 1", 4, 0, 1, 0, (0, 0), (4, 4), (4, 1)),
    _row("honor maxUnavailable when aborting or reducing weight part 2", 4, 0, 1, 0, (1, 0), (4, 4), (4, 1)),
    _row("honor maxUnavailable when aborting or reducing weight part 3", 4, 0, 1, 0, (1, 1), (4, 4), (3, 1)),
    _row("promote full does not consider weight", 4, 1, 4, 4, (4, 4), (0, 0), (4, 0), promote_full=True),
    _row("promote full still honors maxSurge/maxUnavailable", 4, 1, 3, 0, (4, 4), (0, 0), (3, 4), promote_full=True),
    _row("aborted with abortScaleDownDelaySeconds:0 and setCanaryScale",
         1, 0, 0, 0, (1, 1), (1, 1), (1, 1), scs=new_set_canary_scale(1, None, False), rtr=TR,
         abort_delay=0, abort=True),
    _row("aborted with abortScaleDownDelaySeconds>0 and setCanaryScale",
         1, 0, 0, 0, (1, 1), (1, 1), (0, 1), scs=new_set_canary_scale(1, None, False), rtr=TR,
         abort_delay=30, abort=True),
    _row("Honor MinPodsPerReplicaSet when using trafficRouting and starting canary",
         10, 5, 0, 0, (10, 10), (0, 0), (2, 10), rtr=TR, min_pods=2),
    _row("Cap MinPodsPerReplicaSet when it exceeds rollout replicas with trafficRouting",
         1, 100, 0, 0, (1, 1), (0, 0), (1, 1), rtr=TR, min_pods=2, promote_full=True),
]
# fmt: on


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "unavailable", "stable", "canary", "expected", "extra"),
    CALCULATE_REPLICA_COUNTS_ROWS,
)
def test_calculate_replica_counts_for_canary(replicas, weight, surge, unavailable, stable, canary, expected, extra):
    rtr = extra.get("rtr")
    rollout = new_rollout(replicas, weight, surge, unavailable, "canary", "stable", extra.get("scs"), rtr)
    rollout["status"]["promoteFull"] = extra.get("promote_full", False)
    rollout["status"]["abort"] = extra.get("abort", False)
    strategy = rollout["spec"]["strategy"]["canary"]
    if extra.get("abort_delay") is not None:
        strategy["abortScaleDownDelaySeconds"] = extra["abort_delay"]
    if extra.get("min_pods") is not None:
        strategy["minPodsPerReplicaSet"] = extra["min_pods"]
    stable_rs = new_rs("stable", *stable)
    canary_rs = new_rs("canary", *canary)
    older_rs = new_rs("older", *extra["older_rs"]) if "older_rs" in extra else None
    if rtr is not None:
        counts = calculate_replica_counts_for_traffic_routed_canary(rollout)
    else:
        counts = calculate_replica_counts_for_basic_canary(rollout, canary_rs, stable_rs, [older_rs])
    assert counts == expected


def test_calculate_replica_counts_table_is_complete():
    assert len(CALCULATE_REPLICA_COUNTS_ROWS) == 40


# --- TestApproximateWeightedNewStableReplicaCounts ------------------------------------------------------------

# (replicas, weight, maxWeight, maxSurge, canary, stable); the trailing comment is the resulting canary share.
# fmt: off
APPROXIMATE_ROWS = [
    (0, 0, 100, 0, 0, 0), (0, 50, 100, 0, 0, 0), (0, 100, 100, 0, 0, 0),   # 0%
    (0, 0, 100, 1, 0, 0), (0, 50, 100, 1, 0, 0), (0, 100, 100, 1, 0, 0),   # 0%
    (1, 0, 100, 0, 0, 1),     # 0%
    (1, 1, 100, 0, 0, 1),     # 0%
    (1, 49, 100, 0, 0, 1),    # 0%
    (1, 50, 100, 0, 1, 0),    # 100%
    (1, 99, 100, 0, 1, 0),    # 100%
    (1, 100, 100, 0, 1, 0),   # 100%
    (1, 0, 100, 1, 0, 1),     # 0%
    (1, 1, 100, 1, 1, 1),     # 50%
    (1, 49, 100, 1, 1, 1),    # 50%
    (1, 50, 100, 1, 1, 1),    # 50%
    (1, 99, 100, 1, 1, 1),    # 50%
    (1, 100, 100, 1, 1, 0),   # 100%
    (2, 0, 100, 0, 0, 2),     # 0%
    (2, 1, 100, 0, 1, 1),     # 50%
    (2, 50, 100, 0, 1, 1),    # 50%
    (2, 99, 100, 0, 1, 1),    # 50%
    (2, 100, 100, 0, 2, 0),   # 100%
    (2, 0, 100, 1, 0, 2),     # 0%
    (2, 1, 100, 1, 1, 2),     # 33.3%
    (2, 50, 100, 1, 1, 1),    # 50%
    (2, 99, 100, 1, 2, 1),    # 66.6%
    (2, 100, 100, 1, 2, 0),   # 100%
    (3, 10, 100, 0, 1, 2),    # 33.3%
    (3, 25, 100, 0, 1, 2),    # 33.3%
    (3, 33, 100, 0, 1, 2),    # 33.3%
    (3, 34, 100, 0, 1, 2),    # 33.3%
    (3, 49, 100, 0, 1, 2),    # 33.3%
    (3, 50, 100, 0, 2, 1),    # 66.6%
    (3, 10, 100, 1, 1, 3),    # 25%
    (3, 25, 100, 1, 1, 3),    # 25%
    (3, 33, 100, 1, 1, 2),    # 33.3%
    (3, 34, 100, 1, 1, 2),    # 33.3%
    (3, 49, 100, 1, 2, 2),    # 50%
    (3, 50, 100, 1, 2, 2),    # 50%
    (10, 0, 100, 1, 0, 10),   # 0%
    (10, 1, 100, 0, 1, 9),    # 10%
    (10, 14, 100, 0, 1, 9),   # 10%
    (10, 15, 100, 0, 2, 8),   # 20%
    (10, 16, 100, 0, 2, 8),   # 20%
    (10, 99, 100, 0, 9, 1),   # 90%
    (10, 100, 100, 1, 10, 0), # 100%
    (10, 0, 100, 1, 0, 10),   # 0%
    (10, 1, 100, 1, 1, 10),   # 9.1%
    (10, 18, 100, 1, 2, 9),   # 18.1%
    (10, 19, 100, 1, 2, 9),   # 18.1%
    (10, 20, 100, 1, 2, 8),   # 20%
    (10, 23, 100, 1, 2, 8),   # 20%
    (10, 24, 100, 1, 3, 8),   # 27.2%
    (10, 25, 100, 1, 3, 8),   # 27.2%
    (10, 99, 100, 1, 10, 1),  # 90.9%
    (10, 100, 100, 1, 10, 0), # 100%
]
# fmt: on


@pytest.mark.parametrize(("replicas", "weight", "max_weight", "surge", "exp_canary", "exp_stable"), APPROXIMATE_ROWS)
def test_approximate_weighted_new_stable_replica_counts(replicas, weight, max_weight, surge, exp_canary, exp_stable):
    counts = c.approximate_weighted_canary_stable_replica_counts(replicas, weight, max_weight, surge)
    assert counts == (exp_canary, exp_stable)


def test_approximate_table_is_complete():
    assert len(APPROXIMATE_ROWS) == 57


# --- single-case tests of the calculators ----------------------------------------------------------------------


def test_calculate_replica_counts_for_new_deployment():
    rollout = new_rollout(10, 10, 0, 1, "canary", "stable")
    stable_rs = new_rs("stable", 10, 0)
    same_rs = new_rs("stable", 10, 0)
    assert calculate_replica_counts_for_basic_canary(rollout, same_rs, stable_rs, []) == (10, 0)


def test_calculate_replica_counts_for_canary_traffic_routing():
    rollout = new_rollout(10, 10, 0, 1, "canary", "stable", rtr=TR)
    assert calculate_replica_counts_for_traffic_routed_canary(rollout) == (1, 10)


def test_calculate_replica_counts_for_canary_stable_rs_edge_cases():
    rollout = new_rollout(10, 10, 0, 1, "", "")
    rs = new_rs("stable", 9, 9)
    assert calculate_replica_counts_for_basic_canary(rollout, rs, None, []) == (10, 0)
    assert calculate_replica_counts_for_basic_canary(rollout, rs, rs, []) == (10, 0)


def test_traffic_weight_to_replicas():
    assert c.traffic_weight_to_replicas(10, 0, 100) == 0
    assert c.traffic_weight_to_replicas(10, 20, 100) == 2
    assert c.traffic_weight_to_replicas(10, 25, 100) == 3
    assert c.traffic_weight_to_replicas(10, 33, 100) == 4
    assert c.traffic_weight_to_replicas(10, 99, 100) == 10
    assert c.traffic_weight_to_replicas(10, 100, 100) == 10
    assert c.traffic_weight_to_replicas(23, 100000000, 100000000) == 23


# --- TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale ---------------------------------------------
# Columns: replicas, second setWeight (upstream's rolloutMaxReplicas, passed to newRollout as the weight), abort,
# extra steps, weights (canary, stable), canary RS spec, stable RS (spec, available), expected (canary, stable).
# A RS with 0 spec replicas is not created. Upstream builds the canary RS with available == spec.


def _dynamic(name, replicas, weight, abort, steps, traffic, canary_spec, stable, expected):
    return pytest.param(replicas, weight, abort, steps, traffic, canary_spec, stable, expected, id=name)


# fmt: off
DYNAMIC_SCALE_ROWS = [
    _dynamic("Should scale stable replica up depending on next expected canary downscale step, if abort is true",
             10, 20, True, [60], (60, 40), 6, (4, 4), (6, 8)),
    _dynamic("Should scale stable replica up depending on available canary replicas, if actual number of canaries "
             "is less than expected and abort is true",
             10, 20, True, [60], (60, 40), 1, (4, 4), (6, 8)),
    _dynamic("Should scale stable replica up depending on available stable replicas, if abort is true",
             10, 20, True, [60], (60, 40), 2, (8, 4), (6, 8)),
    _dynamic("Should scale stable up as if canaries are scaled down to 0 if stable and canary replicas not passed, "
             "and abort is true",
             10, 20, True, [60], (60, 40), 0, (0, 0), (6, 10)),
    # without steps
    _dynamic("Should scale down stable", 10, 10, False, [], (10, 90), 0, (0, 0), (1, 9)),
    _dynamic("Should take max of desired canary (20) > actual (10)", 10, 20, False, [], (10, 90), 0, (0, 0), (2, 9)),
    _dynamic("Should leave canary scaled up if there is still traffic to it on abort",
             10, 20, True, [], (20, 80), 0, (0, 0), (2, 10)),
    _dynamic("Should reduce canary when there is less traffic to it on abort",
             10, 20, True, [], (10, 90), 0, (0, 0), (1, 10)),
]
# fmt: on


def _dynamic_rollout(replicas, weight, steps=()):
    rollout = new_rollout(replicas, weight, 0, 1, "canary", "stable", rtr={})
    rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] = True
    rollout["spec"]["strategy"]["canary"]["steps"] += [{"setWeight": w} for w in steps]
    return rollout


@pytest.mark.parametrize(
    ("replicas", "weight", "abort", "steps", "traffic", "canary_spec", "stable", "expected"), DYNAMIC_SCALE_ROWS
)
def test_calculate_replica_counts_for_canary_traffic_routing_dynamic_scale(
    replicas, weight, abort, steps, traffic, canary_spec, stable, expected
):
    rollout = _dynamic_rollout(replicas, weight, steps)
    rollout["status"]["abort"] = abort
    stable_rs = new_rs("stable", *stable) if stable[0] > 0 else None
    canary_rs = new_rs("canary", canary_spec, canary_spec) if canary_spec > 0 else None
    counts = calculate_replica_counts_for_traffic_routed_canary(rollout, canary_rs, stable_rs, weights(*traffic))
    assert counts == expected


def test_traffic_routed_canary_reads_weights_from_rollout_status():
    rollout = _dynamic_rollout(10, 20)
    rollout["status"]["canary"] = {"weights": weights(10, 90)}
    assert calculate_replica_counts_for_traffic_routed_canary(rollout) == (2, 9)


# --- TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay (PR #4900, issue #4898) -------------------------------


def _aborted_with_delay(abort_delay):
    rollout = new_rollout(10, 50, 1, 0, "canary", "stable", rtr={})
    canary = rollout["spec"]["strategy"]["canary"]
    canary["steps"] = [{"setWeight": 10}, {"setWeight": 50}]
    canary["dynamicStableScale"] = True
    if abort_delay is not None:
        canary["abortScaleDownDelaySeconds"] = abort_delay
    rollout["status"]["abort"] = True
    return rollout


@pytest.mark.parametrize(
    ("abort_delay", "stable_available", "expected_weight"),
    [
        pytest.param(
            None, 9, 10, id="no explicit delay: weight is held up by canary size (progressive drain unchanged)"
        ),
        pytest.param(30, 5, 10, id="explicit delay: weight steps down gradually while stable is scaling up"),
        pytest.param(30, 9, 0, id="explicit delay: weight reaches zero once stable nearly covers spec.Replicas"),
        pytest.param(0, 9, 10, id="explicit zero delay (leave canary up indefinitely): weight is held up by canary"),
    ],
)
def test_get_desired_canary_weight_on_abort_with_scale_down_delay(abort_delay, stable_available, expected_weight):
    rollout = _aborted_with_delay(abort_delay)
    canary_rs = new_rs("canary", 5, 5)
    stable_rs = new_rs("stable", stable_available, stable_available)
    assert c.get_desired_canary_weight(rollout, canary_rs, stable_rs) == expected_weight


def test_stable_scales_to_spec_replicas_once_abort_weight_reaches_zero():
    rollout = _aborted_with_delay(30)
    counts = calculate_replica_counts_for_traffic_routed_canary(
        rollout, new_rs("canary", 5, 5), new_rs("stable", 9, 9), weights(10, 90)
    )
    assert counts[1] == 10


# --- TestAbortedCanaryNotScaledUpOnStableAvailabilityGap (issue #4973) ------------------------------------------

GAP_STEPS = [5, 10, 20, 50, 100]


def _aborted(replicas, steps, current_pod_hash="canary", scs=None):
    rollout = new_rollout(replicas, 100, 0, 1, current_pod_hash, "stable", scs, rtr={})
    canary = rollout["spec"]["strategy"]["canary"]
    canary["dynamicStableScale"] = True
    if steps is not None:
        canary["steps"] = [{"setWeight": w} for w in steps]
    rollout["status"]["abort"] = True
    return rollout


@pytest.mark.parametrize(
    ("replicas", "stable", "canary", "traffic", "steps", "expected"),
    [
        pytest.param(12, (12, 10), (0, 0), (0, 100), GAP_STEPS, (0, 12),
                     id="canary drained to 0 should not scale up when spec.replicas increases and stable lags"),
        pytest.param(10, (10, 7), (0, 0), (0, 100), GAP_STEPS, (0, 10),
                     id="canary drained to 0 should not scale up when stable availability dips due to eviction"),
        pytest.param(10, (5, 5), (5, 5), (50, 50), [10, 50], (5, 9),
                     id="active abort drain is not affected by the ceiling cap"),
    ],
)  # fmt: skip
def test_aborted_canary_not_scaled_up_on_stable_availability_gap(replicas, stable, canary, traffic, steps, expected):
    rollout = _aborted(replicas, steps)
    counts = calculate_replica_counts_for_traffic_routed_canary(
        rollout, new_rs("canary", *canary), new_rs("stable", *stable), weights(*traffic)
    )
    assert counts == expected


def test_promote_full_while_aborted_is_not_capped_at_drained_canary_size():
    rollout = _aborted(10, GAP_STEPS)
    rollout["status"]["promoteFull"] = True
    counts = calculate_replica_counts_for_traffic_routed_canary(
        rollout, new_rs("canary", 0, 0), new_rs("stable", 10, 8), weights(0, 100)
    )
    assert counts == (10, 10)


def test_rollback_onto_stable_pod_hash_is_not_capped_at_zero():
    rollout = _aborted(10, GAP_STEPS, current_pod_hash="stable")
    counts = calculate_replica_counts_for_traffic_routed_canary(
        rollout, new_rs("stable", 0, 0), new_rs("stable", 10, 8), weights(0, 100)
    )
    assert counts == (10, 10)


def test_abort_scale_down_delay_zero_with_set_canary_scale_keeps_canary_scaled_up():
    rollout = _aborted(10, None, scs=new_set_canary_scale(1, None, False))
    rollout["spec"]["strategy"]["canary"]["abortScaleDownDelaySeconds"] = 0
    counts = calculate_replica_counts_for_traffic_routed_canary(
        rollout, new_rs("canary", 0, 0), new_rs("stable", 10, 10), weights(0, 100)
    )
    assert counts == (1, 10)


# --- helpers: steps, weights, setCanaryScale --------------------------------------------------------------------


def test_get_current_canary_step():
    rollout = new_rollout(10, 10, 0, 1, "", "")
    rollout["spec"]["strategy"]["canary"]["steps"] = []
    assert c.get_current_canary_step(rollout) == (None, None)

    rollout["spec"]["strategy"]["canary"]["steps"] = [{"pause": {}}]
    rollout["status"]["currentStepIndex"] = 0
    assert c.get_current_canary_step(rollout) == ({"pause": {}}, 0)

    rollout["status"]["currentStepIndex"] = 1
    assert c.get_current_canary_step(rollout) == (None, 1)


def test_get_current_set_weight():
    rollout = new_rollout(10, 10, 0, 1, "", "")
    rollout["status"]["currentStepIndex"] = 1
    assert c.get_current_set_weight(rollout) == 100

    rollout["status"]["currentStepIndex"] = 0
    assert c.get_current_set_weight(rollout) == 10

    rollout["status"]["abort"] = True
    assert c.get_current_set_weight(rollout) == 0


def test_get_current_set_weight_is_zero_without_an_earlier_set_weight():
    # The Go comment says the controller "defaults to 100" here; the code (followed) returns 0.
    rollout = new_rollout(10, 10, 0, 1, "", "")
    rollout["spec"]["strategy"]["canary"]["steps"] = [{"pause": {}}, {"setWeight": 40}]
    assert c.get_current_set_weight(rollout) == 0


def _two_step_rollout(second_step, status):
    canary = {"steps": [{"setWeight": 10}, second_step], "trafficRouting": {}}
    return {"spec": {"strategy": {"canary": canary}}, "status": status}


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param({"status": {"promoteFull": True}}, (None, 100), id="test full promote rollout"),
        pytest.param(
            _two_step_rollout({"setCanaryScale": {"weight": 20}}, {"currentStepIndex": 1, "stableRS": "stable-rs"}),
            (None, 20),
            id="test canary step weight",
        ),
        pytest.param(
            _two_step_rollout({"setCanaryScale": {"replicas": 5}}, {"currentStepIndex": 1, "stableRS": "stable-rs"}),
            (5, 0),
            id="test canary step replicas",
        ),
        pytest.param(
            {"spec": {"strategy": {"blueGreen": {}}}, "status": {"abort": True}},
            (None, 100),
            id="test get current step weight",
        ),
    ],
)
def test_get_canary_replicas_or_weight(rollout, expected):
    assert c.get_canary_replicas_or_weight(rollout) == expected


def test_use_set_canary_scale():
    scale = new_set_canary_scale(3, None, False)
    rollout = new_rollout(10, 10, 0, 1, "canary", "stable", scale, rtr=TR)
    assert c.use_set_canary_scale(rollout) == scale
    # Basic canary ignores it.
    del rollout["spec"]["strategy"]["canary"]["trafficRouting"]
    assert c.use_set_canary_scale(rollout) is None
    # A later matchTrafficWeight turns it off.
    rollout = new_rollout(10, 10, 0, 1, "canary", "stable", scale, rtr=TR)
    rollout["spec"]["strategy"]["canary"]["steps"].append({"setCanaryScale": {"matchTrafficWeight": True}})
    rollout["status"]["currentStepIndex"] = 1
    assert c.use_set_canary_scale(rollout) is None
    # On abort only abortScaleDownDelaySeconds: 0 keeps it.
    rollout["status"].update(currentStepIndex=0, abort=True)
    assert c.use_set_canary_scale(rollout) is None
    rollout["spec"]["strategy"]["canary"]["abortScaleDownDelaySeconds"] = 0
    assert c.use_set_canary_scale(rollout) == scale


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param({"canary": {}}, (0, False), id="basic canary: not applicable"),
        pytest.param({"canary": {"trafficRouting": {}}}, (30, False), id="traffic-routed default"),
        pytest.param({"canary": {"trafficRouting": {}, "abortScaleDownDelaySeconds": 0}}, (None, True), id="zero"),
        pytest.param({"canary": {"trafficRouting": {}, "abortScaleDownDelaySeconds": 5}}, (5, True), id="five"),
        pytest.param({"blueGreen": {}}, (30, False), id="blue-green default"),
    ],
)
def test_get_abort_scale_down_delay_seconds_or_default(strategy, expected):
    rollout = {"spec": {"strategy": strategy}}
    assert c.get_abort_scale_down_delay_seconds_or_default(rollout) == expected
    assert c.has_explicit_abort_scale_down_delay(rollout) == (expected[1] and expected[0] is not None)


def test_check_min_pods_per_replica_set():
    rollout = new_rollout(5, 10, 0, 1, "canary", "stable", rtr=TR)
    rollout["spec"]["strategy"]["canary"]["minPodsPerReplicaSet"] = 3
    assert c.check_min_pods_per_replica_set(rollout, 0) == 0
    assert c.check_min_pods_per_replica_set(rollout, 1) == 3
    assert c.check_min_pods_per_replica_set(rollout, 4) == 4
    rollout["spec"]["strategy"]["canary"]["minPodsPerReplicaSet"] = 9
    assert c.check_min_pods_per_replica_set(rollout, 1) == 5  # capped at spec.replicas (PR #4570)
    del rollout["spec"]["strategy"]["canary"]["trafficRouting"]
    assert c.check_min_pods_per_replica_set(rollout, 1) == 1  # traffic routing only


def test_max_traffic_weight_scales_weights():
    rollout = new_rollout(10, 100, 0, 1, "canary", "stable", rtr={"maxTrafficWeight": 1000})
    assert c.max_traffic_weight(rollout) == 1000
    assert calculate_replica_counts_for_traffic_routed_canary(rollout) == (1, 10)


# --- helpers: ReplicaSets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rs", "ignore_availability", "expected"),
    [
        pytest.param(None, False, 0, id="test rs is nil"),
        pytest.param({"spec": {"replicas": 3}, "status": {"availableReplicas": 5}}, False, 3,
                     id="test expected replicas is less than actual replicas"),
        pytest.param({"spec": {"replicas": 3}, "status": {"availableReplicas": 2}}, True, 3,
                     id="test ignore availability"),
        pytest.param({"spec": {"replicas": 3}, "status": {"availableReplicas": 2}}, False, 2,
                     id="test not ignore availability"),
    ],
)  # fmt: skip
def test_get_replicas_for_scale_down(rs, ignore_availability, expected):
    assert c.get_replicas_for_scale_down(rs, ignore_availability) == expected


def _named(name):
    return {"metadata": {"name": name, "labels": {c.ROLLOUT_UNIQUE_LABEL_KEY: name}}}


def test_get_other_rss():
    rs1, rs2 = _named("1"), _named("2")
    assert c.get_other_rss({}, None, None, [rs1]) == [rs1]
    assert c.get_other_rss({}, rs1, None, [rs1, rs2]) == [rs2]
    assert c.get_other_rss({}, None, rs1, [rs1, rs2]) == [rs2]


def test_get_stable_rs():
    rs1, rs2, rs3 = _named("1"), _named("2"), _named("3")
    rollout = {"status": {}}
    assert c.get_stable_rs(rollout, rs1, [rs2, rs3]) is None
    rollout["status"]["stableRS"] = "1"
    assert c.get_stable_rs(rollout, rs2, [rs3]) is None
    assert c.get_stable_rs(rollout, rs1, [rs2, rs3]) is rs1
    assert c.get_stable_rs(rollout, rs2, [rs1, rs2, rs3]) is rs1


@pytest.mark.parametrize(
    ("rs", "desired", "expected"),
    [
        pytest.param({"spec": {"replicas": 10}, "status": {"availableReplicas": 10}}, 10, True,
                     id="test correct return (true) when all desired pods are available"),
        pytest.param({"spec": {"replicas": 10}, "status": {"availableReplicas": 9}}, 10, False,
                     id="test correct return (false) when not all desired pods are available"),
        pytest.param(None, 10, False, id="test correct return (false) when all ReplicaSet is nil"),
        pytest.param({"spec": {}, "status": {"availableReplicas": 10}}, 10, False,
                     id="test correct return (false) when rs.Spec.Replicas is nil and desired != 1"),
        pytest.param({"spec": {}, "status": {"availableReplicas": 1}}, 1, True,
                     id="test correct return (true) when rs.Spec.Replicas is nil and desired is 1"),
    ],
)  # fmt: skip
def test_all_desired_are_available(rs, desired, expected):
    assert c.all_desired_are_available(rs, desired) is expected


def _available_rs(available, spec=None):
    rs = {"status": {"availableReplicas": available}, "spec": {}}
    if spec is not None:
        rs["spec"]["replicas"] = spec
    return rs


PODS, PERCENT = c.PROGRESS_TYPE_PODS, c.PROGRESS_TYPE_PERCENTAGE


@pytest.mark.parametrize(
    ("threshold", "rs", "desired", "expected"),
    [
        pytest.param({"type": PERCENT, "value": 90}, _available_rs(9), 10, True,
                     id="test using percentage that 90% availability of pods passes"),
        pytest.param({"type": PODS, "value": 9}, _available_rs(9), 10, True,
                     id="test using pod values that 90% availability of pods correctly passes"),
        pytest.param({"type": PERCENT, "value": 90}, _available_rs(8), 10, False,
                     id="test using percentage that under 90% availability of pods correctly fails"),
        pytest.param({"type": PODS, "value": 8}, _available_rs(7), 10, False,
                     id="test using pod values that under 8 pods correctly fails"),
        pytest.param({"type": PODS, "value": -100}, _available_rs(10, spec=10), 10, True,
                     id="test that when threshold is under 0, it defaults to 100% of pods being available"),
        pytest.param(None, _available_rs(10, spec=5), 10, False,
                     id="test that when threshold is nil, it defaults to 100% of pods being available"),
        pytest.param({"type": PODS, "value": 5}, None, 10, False,
                     id="test that when the replicaset is nil, it always returns false"),
        pytest.param({"type": PERCENT, "value": 100}, _available_rs(100), 10, True,
                     id="test that percentages well above the required threshold correctly pass"),
        pytest.param({"type": PERCENT, "value": 90}, _available_rs(0), 0, True,
                     id="test that when desired is 0, threshold is always met (percentage type only)"),
    ],
)  # fmt: skip
def test_all_replica_progress_threshold_met(threshold, rs, desired, expected):
    assert c.replica_progress_threshold_met(threshold, rs, desired) is expected


def _rs_with_status(name, spec, available, replicas):
    rs = new_rs("", spec, available)
    rs["metadata"]["name"] = name
    rs["status"]["replicas"] = replicas
    return rs


SCALE_2_2 = {"weight": 2, "replicas": 2, "matchTrafficWeight": False}


@pytest.mark.parametrize(
    ("weight", "scs", "new", "stable", "traffic", "expected"),
    [
        pytest.param(50, SCALE_2_2, (2, 2, 2), (2, 2, 2), (50, 50), True,
                     id="we are at desired replica counts and availability"),
        pytest.param(50, SCALE_2_2, (2, 1, 2), (2, 2, 2), (50, 50), False,
                     id="new replicaset is not at desired counts or availability"),
        pytest.param(75, {}, (3, 3, 3), (2, 2, 2), (75, 25), False,
                     id="stable replicaset is not at desired counts or availability"),
        pytest.param(75, {}, (3, 3, 1), (1, 0, 1), (75, 25), True,
                     id="stable replicaset is not at desired availability but is at correct count"),
        pytest.param(50, SCALE_2_2, (2, 2, 2), (2, 2, 3), (50, 50), False,
                     id="test that when status field lags behind spec.replicas we fail"),
    ],
)  # fmt: skip
def test_at_desired_replica_counts_for_canary(weight, scs, new, stable, traffic, expected):
    rollout = new_rollout(4, weight, 1, 1, "current", "stable", scs)
    new_replica_set = _rs_with_status("newRS", *new)
    stable_replica_set = _rs_with_status("stableRS", *stable)
    at_desired = c.at_desired_replica_counts_for_canary(
        rollout, new_replica_set, stable_replica_set, [], weights(*traffic)
    )
    assert at_desired is expected


# --- maxSurge / maxUnavailable (replicaset_test.go) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "desired", "expected"),
    [
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        ("oops", "39%", 10, None),
        ("55%", "urg", 10, None),
        (None, "39%", 10, (0, 3)),
        ("39%", None, 10, (4, 0)),
        (None, None, 10, (0, 1)),
    ],
)
def test_resolve_fenceposts(max_surge, max_unavailable, desired, expected):
    if expected is None:
        with pytest.raises(ValueError):
            c.resolve_fenceposts(max_surge, max_unavailable, desired)
    else:
        assert c.resolve_fenceposts(max_surge, max_unavailable, desired) == expected


def _rollout_with(replicas, **canary):
    return {"spec": {"replicas": replicas, "strategy": {"canary": canary}}}


BLUE_GREEN = {"spec": {"strategy": {"blueGreen": {}}}}


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param(_rollout_with(10, maxUnavailable=1, maxSurge=5), 5, id="maxSurge with int"),
        pytest.param(BLUE_GREEN, 0, id="maxSurge with BlueGreen deployment strategy"),
        pytest.param(_rollout_with(10, maxUnavailable=1, maxSurge="50%"), 5, id="maxSurge with percents"),
    ],
)
def test_max_surge(rollout, expected):
    assert c.max_surge(rollout) == expected


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param(_rollout_with(10, maxSurge=1, maxUnavailable=5), 5, id="maxUnavailable less than replicas"),
        pytest.param(_rollout_with(10, maxSurge=1, maxUnavailable=10), 10, id="maxUnavailable equal replicas"),
        pytest.param(_rollout_with(5, maxSurge=1, maxUnavailable=10), 5, id="maxUnavailable greater than replicas"),
        pytest.param(_rollout_with(0, maxSurge=1, maxUnavailable=10), 0, id="maxUnavailable with replicas is 0"),
        pytest.param(BLUE_GREEN, 0, id="maxUnavailable with BlueGreen deployment strategy"),
        pytest.param(_rollout_with(10, maxSurge=1, maxUnavailable="50%"), 5,
                     id="maxUnavailable less than replicas with percents"),
        pytest.param(_rollout_with(10, maxSurge=1, maxUnavailable="100%"), 10,
                     id="maxUnavailable equal replicas with percents"),
        pytest.param(_rollout_with(5, maxSurge=1, maxUnavailable="100%"), 5,
                     id="maxUnavailable greater than replicas with percents"),
    ],
)  # fmt: skip
def test_max_unavailable(rollout, expected):
    assert c.max_unavailable(rollout) == expected


def test_defaults_are_bare_25_read_as_percent():
    # defaults.go: DefaultMaxSurge = DefaultMaxUnavailable = "25" (no "%"); the deprecated
    # GetValueFromIntOrPercent reads any string as a percentage: surge ceil(2.5) = 3, unavailable floor(2.5) = 2.
    rollout = _rollout_with(10)
    assert c.get_max_surge_or_default(rollout) == "25"
    assert (c.max_surge(rollout), c.max_unavailable(rollout)) == (3, 2)
    assert c.max_surge(_rollout_with(10, maxSurge="40")) == 4


# --- the calculator as a reconcile loop ---------------------------------------------------------------------------


def test_basic_canary_converges_when_pods_become_available():
    # Reference worked example: R=10, W=50, maxSurge 2, maxUnavailable 1 gives (2, 9) on the first pass.
    rollout = new_rollout(10, 50, 2, 1, "canary", "stable")
    canary_rs, stable_rs = new_rs("canary", 0, 0), new_rs("stable", 10, 10)
    passes = []
    for _ in range(10):
        counts = calculate_replica_counts_for_basic_canary(rollout, canary_rs, stable_rs, [])
        passes.append(counts)
        if counts == (canary_rs["spec"]["replicas"], stable_rs["spec"]["replicas"]):
            break
        for rs, count in zip((canary_rs, stable_rs), counts, strict=True):
            rs["spec"]["replicas"] = count
            rs["status"]["availableReplicas"] = count  # every pod turns Ready before the next pass
        assert 10 - 1 <= sum(counts) <= 10 + 2  # within maxUnavailable and maxSurge on every pass
    assert passes[0] == (2, 9)
    assert passes[-1] == (5, 5)
