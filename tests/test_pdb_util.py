"""PodDisruptionBudget arithmetic and eviction decisions behave like upstream Kubernetes.

Tables ported from kubernetes/kubernetes:
- pkg/controller/disruption/disruption_test.go: TestNoSelector, TestUnavailable,
  TestIntegerMaxUnavailable, TestIntegerMaxUnavailableWithScaling,
  TestPercentageMaxUnavailableWithScaling, TestNakedPod, TestReplicaSet, TestScaleResource,
  TestMultipleControllers, TestReplicationController, TestTwoControllers (checkpoints),
  TestUpdateDisruptedPods. Each sync step becomes one row: (spec, controller scale, ready flags
  of the selected pods) -> (allowed, current, desired, expected).
- pkg/registry/core/pod/storage/eviction_test.go: TestEviction and TestEvictionIgnorePDB rows
  that do not depend on storage conflicts, each run under the unhealthyPodEvictionPolicy values
  upstream runs it with; TestEvictionPDBStatus.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from simdeploy.k8s.pdb_util import (
    BUDGET_VIOLATION_MESSAGE,
    TOO_MANY_PDBS_MESSAGE,
    compute_pdb_status,
    count_healthy_pods,
    desired_healthy,
    disruptions_allowed,
    eviction_charged_pdb,
    eviction_decision,
    expected_pod_count,
    matching_pdbs,
    prune_disrupted_pods,
    uses_controller_scale,
)
from simdeploy.k8s.timeutil import format_time

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


def ts(moment):
    return format_time(moment)


def pdb(min_available=None, max_unavailable=None, **status):
    spec = {"selector": {"matchLabels": {"foo": "bar"}}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"metadata": {"name": "foobar", "namespace": "default"}, "spec": spec, "status": status}


def pod(name, ready=True, phase="Running", **metadata):
    conditions = [{"type": "Ready", "status": "True"}] if ready else []
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"foo": "bar"}, **metadata},
        "status": {"phase": phase, "conditions": conditions},
    }


# --- desired healthy and expected pods -------------------------------------------------------

# (spec, controller scale, selected pods, desiredHealthy, expectedPods)
DESIRED = [
    ({"minAvailable": 3}, 0, 4, 3, 4),  # integer minAvailable counts the selected pods
    ({"minAvailable": "34%"}, 3, 3, 2, 3),  # 1.02 rounds up
    ({"minAvailable": "28%"}, 11, 5, 4, 11),  # 3.08 rounds up
    ({"minAvailable": "28%"}, 22, 9, 7, 22),  # 6.16 rounds up
    ({"minAvailable": "20%"}, 10, 1, 2, 10),
    ({"minAvailable": "1%"}, 1, 2, 1, 1),
    ({"minAvailable": "50%"}, 5, 5, 3, 5),
    ({"maxUnavailable": 2}, 7, 1, 5, 7),
    ({"maxUnavailable": 2}, 5, 1, 3, 5),
    ({"maxUnavailable": "30%"}, 7, 1, 4, 7),  # maxUnavailable 2.1 rounds up to 3
    ({"maxUnavailable": "30%"}, 3, 1, 2, 3),  # 0.9 rounds up to 1
    ({"maxUnavailable": "50%"}, 5, 5, 2, 5),  # 2.5 rounds up to 3
    ({"maxUnavailable": 1}, 0, 1, 0, 0),  # never below 0
    ({"maxUnavailable": 0}, 4, 4, 4, 4),
    ({}, 4, 4, 0, 0),  # neither rule set
]


@pytest.mark.parametrize(("spec", "scale", "selected", "desired", "expected"), DESIRED)
def test_desired_healthy_and_expected_pods(spec, scale, selected, desired, expected):
    budget = {"spec": spec}
    assert desired_healthy(budget, scale, selected) == desired
    assert expected_pod_count(budget, scale, selected) == expected


@pytest.mark.parametrize(
    ("spec", "uses_scale"),
    [
        ({"minAvailable": 3}, False),
        ({"minAvailable": "50%"}, True),
        ({"maxUnavailable": 1}, True),
        ({"maxUnavailable": "10%"}, True),
        ({"minAvailable": 1, "maxUnavailable": 1}, True),  # maxUnavailable is read first
        ({}, False),
    ],
)
def test_which_rules_use_the_controllers_scale(spec, uses_scale):
    assert uses_controller_scale({"spec": spec}) is uses_scale


@pytest.mark.parametrize("value", ["3", "ten%", "%", "3.5%"])
def test_a_string_that_is_not_a_percentage_is_an_error(value):
    with pytest.raises(ValueError, match="IntOrString"):
        desired_healthy({"spec": {"maxUnavailable": value}}, 10, 10)


@pytest.mark.parametrize(
    ("current", "desired", "expected", "allowed"),
    [(4, 3, 4, 1), (3, 3, 4, 0), (2, 3, 4, 0), (5, 0, 0, 0), (9, 7, 22, 2), (1, 0, 0, 0)],
)
def test_disruptions_allowed(current, desired, expected, allowed):
    assert disruptions_allowed(current, desired, expected) == allowed


# --- disruption controller scenarios ------------------------------------------------------


def selected(*ready_flags):
    return [pod(f"pod-{i}", ready) for i, ready in enumerate(ready_flags)]


R, U = True, False  # a Ready pod, an unready pod

# (upstream test and step, spec, controller scale, ready flags)
#   -> (allowed, current, desired, expected)
SCENARIOS = [
    ("TestNoSelector no pods", {"minAvailable": 3}, 0, (), (0, 0, 3, 0)),
    ("TestNoSelector one pod", {"minAvailable": 3}, 0, (R,), (0, 1, 3, 1)),
    ("TestUnavailable 0 pods", {"minAvailable": 3}, 0, (), (0, 0, 3, 0)),
    ("TestUnavailable 1 pod", {"minAvailable": 3}, 0, (R,), (0, 1, 3, 1)),
    ("TestUnavailable 2 pods", {"minAvailable": 3}, 0, (R, R), (0, 2, 3, 2)),
    ("TestUnavailable 3 pods", {"minAvailable": 3}, 0, (R, R, R), (0, 3, 3, 3)),
    ("TestUnavailable 4 pods", {"minAvailable": 3}, 0, (R, R, R, R), (1, 4, 3, 4)),
    ("TestUnavailable one unready", {"minAvailable": 3}, 0, (U, R, R, R), (0, 3, 3, 4)),
    ("TestIntegerMaxUnavailable no pods", {"maxUnavailable": 1}, 0, (), (0, 0, 0, 0)),
    ("TestIntegerMaxUnavailable naked pod", {"maxUnavailable": 1}, 0, (R,), (0, 1, 0, 0)),
    ("TestIntegerMaxUnavailableWithScaling 7", {"maxUnavailable": 2}, 7, (R,), (0, 1, 5, 7)),
    ("TestIntegerMaxUnavailableWithScaling 5", {"maxUnavailable": 2}, 5, (R,), (0, 1, 3, 5)),
    ("TestPercentageMaxUnavailableWithScaling 7", {"maxUnavailable": "30%"}, 7, (R,), (0, 1, 4, 7)),
    ("TestPercentageMaxUnavailableWithScaling 3", {"maxUnavailable": "30%"}, 3, (R,), (0, 1, 2, 3)),
    ("TestNakedPod no pods", {"minAvailable": "28%"}, 0, (), (0, 0, 0, 0)),
    ("TestNakedPod naked pod", {"minAvailable": "28%"}, 0, (R,), (0, 1, 0, 0)),
    ("TestReplicaSet", {"minAvailable": "20%"}, 10, (R,), (0, 1, 2, 10)),
    ("TestScaleResource", {"maxUnavailable": 5}, 10, (R, R, R, R), (0, 4, 5, 10)),
    ("TestMultipleControllers no controller", {"minAvailable": "1%"}, 0, (R, R), (0, 2, 0, 0)),
    ("TestMultipleControllers one RC", {"minAvailable": "1%"}, 1, (R, R), (1, 2, 1, 1)),
    ("TestReplicationController no pods", {"minAvailable": "34%"}, 0, (), (0, 0, 0, 0)),
    ("TestReplicationController 1 pod", {"minAvailable": "34%"}, 3, (R,), (0, 1, 2, 3)),
    ("TestReplicationController 2 pods", {"minAvailable": "34%"}, 3, (R, R), (0, 2, 2, 3)),
    ("TestReplicationController 3 pods", {"minAvailable": "34%"}, 3, (R, R, R), (1, 3, 2, 3)),
    ("TestReplicationController rogue", {"minAvailable": "34%"}, 3, (R, R, R, R), (2, 4, 2, 3)),
    ("TestTwoControllers no pods", {"minAvailable": "28%"}, 0, (), (0, 0, 0, 0)),
    ("TestTwoControllers 6 unready", {"minAvailable": "28%"}, 11, (U,) * 6, (0, 0, 4, 11)),
    ("TestTwoControllers 4 ready", {"minAvailable": "28%"}, 11, (U,) * 6 + (R,) * 4, (0, 4, 4, 11)),
    ("TestTwoControllers 5 ready", {"minAvailable": "28%"}, 11, (U,) * 6 + (R,) * 5, (1, 5, 4, 11)),
    (
        "TestTwoControllers second RS, 7 unready",
        {"minAvailable": "28%"},
        22,
        (U,) * 6 + (R,) * 5 + (U,) * 7,
        (0, 5, 7, 22),
    ),
    (
        "TestTwoControllers both full",
        {"minAvailable": "28%"},
        22,
        (U,) * 6 + (R,) * 5 + (U,) * 7 + (R,) * 4,
        (2, 9, 7, 22),
    ),
    (
        "TestTwoControllers one down",
        {"minAvailable": "28%"},
        22,
        (U,) * 6 + (R,) * 4 + (U,) * 8 + (R,) * 4,
        (1, 8, 7, 22),
    ),
    (
        "TestTwoControllers two down",
        {"minAvailable": "28%"},
        22,
        (U,) * 6 + (R,) * 3 + (U,) * 9 + (R,) * 4,
        (0, 7, 7, 22),
    ),
]


@pytest.mark.parametrize(("case", "spec", "scale", "ready_flags", "want"), SCENARIOS, ids=[r[0] for r in SCENARIOS])
def test_disruption_controller_status(case, spec, scale, ready_flags, want):
    budget = {"metadata": {"name": "foobar", "generation": 1}, "spec": spec}
    status = compute_pdb_status(budget, selected(*ready_flags), scale, NOW)
    got = (
        status["disruptionsAllowed"],
        status["currentHealthy"],
        status["desiredHealthy"],
        status["expectedPods"],
    )
    assert got == want
    assert status["observedGeneration"] == 1
    assert status["disruptedPods"] == {}


def test_update_disrupted_pods():
    """TestUpdateDisruptedPods: terminating, expired and vanished entries are dropped."""
    budget = pdb(min_available=1)
    budget["status"]["disruptedPods"] = {
        "p1": ts(NOW),  # removed: the pod's deletion started
        "p2": ts(NOW - timedelta(minutes=3)),  # removed: expired
        "p3": ts(NOW - timedelta(minutes=1)),  # kept: the pod is untouched
        "notthere": ts(NOW),  # removed: the pod is gone
    }
    pods = [pod("p1", deletionTimestamp=ts(NOW)), pod("p2"), pod("p3")]
    status = compute_pdb_status(budget, pods, 0, NOW)
    assert status == {
        "disruptionsAllowed": 0,
        "currentHealthy": 1,
        "desiredHealthy": 1,
        "expectedPods": 3,
        "disruptedPods": {"p3": ts(NOW - timedelta(minutes=1))},
        "observedGeneration": 0,
    }


DISRUPTED_AGES = [
    (timedelta(seconds=119), 0),  # still expected to be deleted soon: not healthy
    (timedelta(seconds=120), 1),  # DeletionTimeout reached: counts again
    (timedelta(minutes=3), 1),
]


@pytest.mark.parametrize(("age", "healthy"), DISRUPTED_AGES)
def test_disrupted_pod_counts_again_after_two_minutes(age, healthy):
    assert count_healthy_pods([pod("p")], {"p": ts(NOW - age)}, NOW) == healthy
    assert count_healthy_pods([pod("p")], {"p": NOW - age}, NOW) == healthy


def test_terminating_and_unready_pods_are_not_healthy():
    pods = [pod("a"), pod("b", ready=False), pod("c", deletionTimestamp=ts(NOW))]
    assert count_healthy_pods(pods, None, NOW) == 1


def test_prune_keeps_an_entry_until_its_timeout_has_passed():
    budget = pdb(min_available=1, disruptedPods={"p": ts(NOW - timedelta(minutes=2))})
    assert prune_disrupted_pods(budget, [pod("p")], NOW) == {"p": ts(NOW - timedelta(minutes=2))}
    assert prune_disrupted_pods(budget, [pod("p")], NOW + timedelta(seconds=1)) == {}


# --- eviction decision --------------------------------------------------------------------

NIL, IF_HEALTHY, ALWAYS = None, "IfHealthyBudget", "AlwaysAllow"
ALL_POLICIES = (NIL, IF_HEALTHY, ALWAYS)


def budget(selector=None, allowed=0, current=0, desired=0):
    selector = {"matchLabels": {"a": "true"}} if selector is None else selector
    status = {"disruptionsAllowed": allowed, "currentHealthy": current, "desiredHealthy": desired}
    return {
        "metadata": {"name": "foo", "namespace": "default"},
        "spec": {"selector": selector},
        "status": status,
    }


def evicted_pod(phase="Running", ready=None, terminating=False):
    """eviction_test.go's validNewPod with labels a=true, on node foo."""
    status = {"phase": phase}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    metadata = {"name": "t", "namespace": "default", "labels": {"a": "true"}}
    if terminating:
        metadata["deletionTimestamp"] = ts(NOW)
    return {"metadata": metadata, "spec": {"nodeName": "foo"}, "status": status}


# (case, pdb, pod, policies upstream runs the row with, expected HTTP status)
EVICTIONS = [
    # TestEviction
    ("no disruptions allowed, pod running", budget(), evicted_pod(), (NIL, IF_HEALTHY), 429),
    ("no disruptions allowed, pod pending", budget(), evicted_pod("Pending"), ALL_POLICIES, 200),
    (
        "no disruptions allowed, pod succeeded",
        budget(),
        evicted_pod("Succeeded"),
        ALL_POLICIES,
        200,
    ),
    ("no disruptions allowed, pod failed", budget(), evicted_pod("Failed"), ALL_POLICIES, 200),
    ("disruptions allowed", budget(allowed=1), evicted_pod(ready=True), ALL_POLICIES, 200),
    (
        "non-matching pdbs",
        budget({"matchLabels": {"b": "true"}}),
        evicted_pod(ready=True),
        ALL_POLICIES,
        200,
    ),
    ("empty selector, pod running", budget({}), evicted_pod(), (NIL, IF_HEALTHY), 429),
    # TestEvictionIgnorePDB
    ("pod pending, deleted without PDB check", budget(), evicted_pod("Pending"), ALL_POLICIES, 200),
    (
        "no disruptions allowed, pod terminating",
        budget(),
        evicted_pod(terminating=True),
        ALL_POLICIES,
        200,
    ),
    (
        "pod healthy, unhealthy pod not ours",
        budget(current=2, desired=2),
        evicted_pod(ready=True),
        ALL_POLICIES,
        429,
    ),
    (
        "disruptions allowed, pod healthy, honours the PDB",
        budget(allowed=1, current=3, desired=3),
        evicted_pod(ready=True),
        ALL_POLICIES,
        200,
    ),
    (
        "no disruptions allowed, pod unhealthy, unhealthy pod ours",
        budget(current=2, desired=2),
        evicted_pod(ready=False),
        ALL_POLICIES,
        200,
    ),
    (
        "no disruptions allowed, pod unhealthy, AlwaysAllow skips the PDB check",
        budget(),
        evicted_pod(ready=False),
        (ALWAYS,),
        200,
    ),
    (
        "empty selector, pod healthy, not deleted",
        budget({}, current=3, desired=3),
        evicted_pod(ready=True),
        ALL_POLICIES,
        429,
    ),
]

EVICTION_RUNS = [
    pytest.param(pdb_, pod_, policy, code, id=f"{case} [{policy or 'nil'}]")
    for case, pdb_, pod_, policies, code in EVICTIONS
    for policy in policies
]


@pytest.mark.parametrize(("pdb_", "pod_", "policy", "code"), EVICTION_RUNS)
def test_eviction_decision(pdb_, pod_, policy, code):
    pdb_ = copy.deepcopy(pdb_)
    if policy is not None:
        pdb_["spec"]["unhealthyPodEvictionPolicy"] = policy
    got_code, message = eviction_decision(pod_, [pdb_], NOW)
    assert got_code == code
    if code == 429:
        assert message == BUDGET_VIOLATION_MESSAGE


def test_unready_pod_under_if_healthy_budget_waits_while_the_application_is_degraded():
    degraded = budget(current=1, desired=2)
    assert eviction_decision(evicted_pod(ready=False), [degraded], NOW)[0] == 429
    degraded["spec"]["unhealthyPodEvictionPolicy"] = ALWAYS
    assert eviction_decision(evicted_pod(ready=False), [degraded], NOW)[0] == 200


def test_more_than_one_matching_pdb_is_a_server_error():
    code, message = eviction_decision(evicted_pod(ready=True), [budget(allowed=1), budget({})], NOW)
    assert (code, message) == (500, TOO_MANY_PDBS_MESSAGE)


def test_terminal_pods_skip_even_the_multiple_pdb_check():
    assert eviction_decision(evicted_pod("Succeeded"), [budget(), budget({})], NOW)[0] == 200


def test_stale_pdb_status_is_too_many_requests():
    stale = budget(allowed=3)
    stale["metadata"]["generation"] = 2
    stale["status"]["observedGeneration"] = 1
    assert eviction_decision(evicted_pod(ready=True), [stale], NOW) == (
        429,
        BUDGET_VIOLATION_MESSAGE,
    )


def test_negative_budget_is_forbidden():
    code, message = eviction_decision(evicted_pod(ready=True), [budget(allowed=-1)], NOW)
    assert code == 403
    assert message.endswith("pdb disruptions allowed is negative")


def test_too_many_unconfirmed_disruptions_is_forbidden():
    crowded = budget(allowed=5)
    crowded["status"]["disruptedPods"] = {f"p{i}": ts(NOW) for i in range(2001)}
    assert eviction_decision(evicted_pod(ready=True), [crowded], NOW)[0] == 403
    crowded["status"]["disruptedPods"].pop("p0")
    assert eviction_decision(evicted_pod(ready=True), [crowded], NOW)[0] == 200


def test_pdbs_in_other_namespaces_and_with_invalid_selectors_do_not_match():
    elsewhere = budget()
    elsewhere["metadata"]["namespace"] = "other"
    invalid = budget({"matchExpressions": [{"key": "a", "operator": "illegal"}]})
    absent = budget()
    absent["spec"]["selector"] = None
    assert matching_pdbs(evicted_pod(), [elsewhere, invalid, absent]) == []
    assert eviction_decision(evicted_pod(ready=True), [elsewhere, invalid, absent], NOW)[0] == 200


# TestEvictionPDBStatus: a successful eviction charges the budget; the caller decrements.
@pytest.mark.parametrize("allowed", [1, 3])
def test_allowed_eviction_names_the_budget_to_charge_and_mutates_nothing(allowed):
    guarded = budget(allowed=allowed)
    before = copy.deepcopy(guarded)
    assert eviction_decision(evicted_pod(ready=True), [guarded], NOW)[0] == 200
    assert eviction_charged_pdb(evicted_pod(ready=True), [guarded], NOW) is guarded
    assert guarded == before


@pytest.mark.parametrize(
    ("pod_", "budgets"),
    [
        (evicted_pod("Pending"), [budget(allowed=1)]),  # no budget check at all
        (evicted_pod(ready=False), [budget(allowed=1, current=2, desired=2)]),  # unready pod
        (evicted_pod(ready=True), []),  # no PDB
        (evicted_pod(ready=True), [budget(allowed=0)]),  # refused
    ],
)
def test_evictions_that_consume_no_budget(pod_, budgets):
    assert eviction_charged_pdb(pod_, budgets, NOW) is None
