"""RollingUpdate steps, ported from upstream pkg/controller/deployment/rolling_test.go.

Every row runs the real controller (see deployment_fakes.Harness) and checks what it wrote.
"""

from __future__ import annotations

import pytest
from deployment_fakes import Harness, new_deployment, rs

from simdeploy.sim.cluster.deployment import rolling


def with_available(replica_set: dict, available: int) -> dict:
    replica_set["status"] = {"availableReplicas": available}
    return replica_set


# TestDeploymentController_reconcileNewReplicaSet: maxUnavailable 0; the new RS scales up within maxSurge,
# or down when it is above spec.replicas. expected_new is None when no scaling is expected.
@pytest.mark.parametrize(
    "replicas, max_surge, old_replicas, new_replicas, expected_new",
    [
        pytest.param(10, 0, 10, 0, None, id="no room to surge: should not scale up"),
        pytest.param(10, 2, 10, 0, 2, id="surge 2 over 10 old"),
        pytest.param(10, 2, 5, 0, 7, id="surge 2 over 5 old"),
        pytest.param(10, 2, 10, 2, None, id="surge already used"),
        pytest.param(10, 2, 2, 11, 10, id="new above spec: should scale down"),
    ],
)
def test_reconcile_new_replica_set(replicas, max_surge, old_replicas, new_replicas, expected_new):
    h = Harness()
    # Upstream names both RSs "foo-v2"; the store needs distinct names, which the algorithm never reads.
    new_rs = rs("foo-new", new_replicas)
    old_rs = rs("foo-old", old_replicas)
    h.add(new_rs, old_rs)
    d = new_deployment("foo", replicas, max_surge=max_surge, max_unavailable=0, selector={"foo": "bar"})

    scaled = rolling.reconcile_new_replica_set(h.dc, [new_rs, old_rs], new_rs, d)

    if expected_new is None:
        assert not scaled
        assert h.writes == []
        assert new_rs["spec"]["replicas"] == new_replicas
    else:
        assert scaled
        assert [(w.name, w.replicas) for w in h.writes] == [("foo-new", expected_new)]
        assert new_rs["spec"]["replicas"] == expected_new
    assert old_rs["spec"]["replicas"] == old_replicas


# TestDeploymentController_reconcileOldReplicaSets: maxSurge 0. Upstream asserts only `scaled`; its
# expectedOldReplicas column is unchecked there, and is checked here (the last row, left blank upstream,
# keeps its 8).
@pytest.mark.parametrize(
    "replicas, max_unavailable, old_replicas, new_replicas, old_available, new_available, scaled, expected_old",
    [
        pytest.param(10, 0, 10, 0, 10, 0, True, 9, id="maxUnavailable 0 still lets one go"),
        pytest.param(10, 2, 10, 0, 10, 0, True, 8, id="scale down by maxUnavailable"),
        pytest.param(10, 2, 10, 0, 8, 0, True, 8, id="unhealthy old replicas cleaned up"),
        pytest.param(10, 2, 10, 0, 9, 0, True, 8, id="one unhealthy cleaned up, one ready scaled down"),
        pytest.param(10, 2, 8, 2, 8, 0, False, 8, id="unavailable new pods block further scale down"),
    ],
)
def test_reconcile_old_replica_sets(
    replicas, max_unavailable, old_replicas, new_replicas, old_available, new_available, scaled, expected_old
):
    h = Harness()
    new_rs = with_available(rs("foo-new", new_replicas, {"foo": "new"}), new_available)
    old_rs = with_available(rs("foo-old", old_replicas, {"foo": "old"}), old_available)
    h.add(new_rs, old_rs)
    d = new_deployment("foo", replicas, max_surge=0, max_unavailable=max_unavailable, selector={"foo": "new"})

    assert rolling.reconcile_old_replica_sets(h.dc, [old_rs, new_rs], [old_rs], new_rs, d) is scaled

    assert old_rs["spec"]["replicas"] == expected_old
    assert new_rs["spec"]["replicas"] == new_replicas
    assert all(w.name == "foo-old" for w in h.writes)


# TestDeploymentController_cleanupUnhealthyReplicas: an old RS of 10 with `available` available pods,
# deployment 10 replicas, maxSurge 2, maxUnavailable 2.
@pytest.mark.parametrize(
    "old_replicas, available, max_cleanup, expected_cleanup",
    [
        pytest.param(10, 8, 1, 1, id="capped by maxCleanupCount"),
        pytest.param(10, 8, 3, 2, id="capped by the unhealthy count"),
        pytest.param(10, 8, 0, 0, id="nothing allowed"),
        pytest.param(10, 10, 3, 0, id="nothing unhealthy"),
    ],
)
def test_cleanup_unhealthy_replicas(old_replicas, available, max_cleanup, expected_cleanup):
    h = Harness()
    old_rs = with_available(rs("foo-v2", old_replicas), available)
    h.add(old_rs)
    d = new_deployment("foo", 10, max_surge=2, max_unavailable=2)

    old_rss, cleaned = rolling.cleanup_unhealthy_replicas(h.dc, [old_rs], d, max_cleanup)

    assert cleaned == expected_cleanup
    assert [r["spec"]["replicas"] for r in old_rss] == [old_replicas - expected_cleanup]
    assert len(h.updates()) == (1 if expected_cleanup else 0)


# TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate: allRSs is just the old RS; maxSurge 0.
# expected_old is None when no scaling is expected.
@pytest.mark.parametrize(
    "replicas, max_unavailable, available, old_replicas, expected_old",
    [
        pytest.param(10, 0, 10, 10, 9, id="maxUnavailable 0 still lets one go"),
        pytest.param(10, 2, 10, 10, 8, id="scale down by maxUnavailable"),
        pytest.param(10, 2, 8, 10, None, id="at minAvailable"),
        pytest.param(10, 2, 10, 0, None, id="old RS already at 0"),
        pytest.param(10, 2, 1, 10, None, id="below minAvailable"),
    ],
)
def test_scale_down_old_replica_sets_for_rolling_update(
    replicas, max_unavailable, available, old_replicas, expected_old
):
    h = Harness()
    old_rs = with_available(rs("foo-v2", old_replicas), available)
    h.add(old_rs)
    d = new_deployment("foo", replicas, max_surge=0, max_unavailable=max_unavailable, selector={"foo": "bar"})

    scaled = rolling.scale_down_old_replica_sets_for_rolling_update(h.dc, [old_rs], [old_rs], d)

    if expected_old is None:
        assert scaled == 0
        assert h.writes == []
        assert old_rs["spec"]["replicas"] == old_replicas
    else:
        assert scaled == old_replicas - expected_old
        assert [(w.name, w.replicas) for w in h.writes] == [("foo-v2", expected_old)]


# Not an upstream row: rolling.go's reconcileOldReplicaSets returns (false, nil) when cleanupUnhealthyReplicas
# fails. It fails when an old RS's status still counts more available pods than its new, lower spec (the
# ReplicaSet controller has not caught up yet): spec - available is negative, which would scale it *up*.
def test_reconcile_old_replica_sets_swallows_a_cleanup_error():
    h = Harness()
    new_rs = with_available(rs("foo-new", 2), 2)
    old_rs = with_available(rs("foo-old", 8), 10)
    h.add(new_rs, old_rs)
    d = new_deployment("foo", 10, max_surge=0, max_unavailable=2)

    assert rolling.reconcile_old_replica_sets(h.dc, [old_rs, new_rs], [old_rs], new_rs, d) is False

    assert old_rs["spec"]["replicas"] == 8
    assert h.writes == []
