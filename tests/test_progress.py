"""The Progressing condition, ported from upstream pkg/controller/deployment/progress_test.go.

Every row runs the real controller (see deployment_fakes.Harness) at a fixed now().
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from deployment_fakes import Harness, rs_with_available

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.deployment import progress

MAX_INT32 = 2**31 - 1
TEST_TIME = "2017-02-15T18:49:00Z"
NOW = "2026-01-01T00:00:00Z"  # long past TEST_TIME + 60s: any deadline counted from TEST_TIME has passed


def current_deployment(
    deadline: int | None, replicas: int, status_replicas: int, updated: int, available: int, conditions=None
) -> dict:
    """currentDeployment: a Recreate deployment named progress-test whose status has been observed."""
    spec = {"replicas": replicas, "strategy": {"type": du.RECREATE_STRATEGY}}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    status = {"replicas": status_replicas, "updatedReplicas": updated, "availableReplicas": available}
    if conditions is not None:
        status["conditions"] = [dict(c) for c in conditions]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "progress-test", "namespace": "default"},
        "spec": spec,
        "status": status,
    }


def new_status(replicas: int, updated: int, available: int) -> dict:
    return {"replicas": replicas, "updatedReplicas": updated, "availableReplicas": available}


def progressing(status: str, reason: str, message: str | None = None, updated=None, transitioned=None) -> dict:
    """A Progressing condition; timestamps left out are unset (Go's zero time)."""
    condition = {"type": du.DEPLOYMENT_PROGRESSING, "status": status, "reason": reason}
    if message is not None:
        condition["message"] = message
    if updated is not None:
        condition["lastUpdateTime"] = updated
    if transitioned is not None:
        condition["lastTransitionTime"] = transitioned
    return condition


FAILED = progressing("False", du.TIMED_OUT_REASON)
STUCK = {"type": du.DEPLOYMENT_PROGRESSING, "status": "True", "lastUpdateTime": "2017-02-15T18:49:00Z"}


# TestRequeueStuckDeployment: deadline 60s; `stuck` was last updated at 18:49:00, so the deadline is 18:50:00.
# Returns seconds until the progress check, 0 for "now" or -1 for "no check needed". It enqueues the
# deployment at once (rate limited) when less than a second is left, else after the remaining time + 1s.
@pytest.mark.parametrize(
    "d, status, now, expected, expected_enqueue",
    [
        pytest.param(current_deployment(None, 4, 3, 3, 2), new_status(3, 3, 2), None, -1, [], id="nil deadline"),
        pytest.param(
            current_deployment(MAX_INT32, 4, 3, 3, 2), new_status(3, 3, 2), None, -1, [], id="infinite deadline"
        ),
        pytest.param(
            current_deployment(60, 4, 3, 3, 2), new_status(3, 3, 2), None, -1, [], id="no progressing condition found"
        ),
        pytest.param(current_deployment(60, 3, 3, 3, 3), new_status(3, 3, 3), None, -1, [], id="complete: no requeue"),
        pytest.param(
            current_deployment(60, 3, 3, 3, 0, [FAILED]),
            new_status(3, 3, 0),
            None,
            -1,
            [],
            id="already failed: no requeue",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 1, [STUCK]),
            new_status(3, 3, 1),
            datetime(2017, 2, 15, 18, 49, 30, tzinfo=UTC),
            30,
            [31],
            id="stuck deployment - 30s",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 1, [STUCK]),
            new_status(3, 3, 1),
            datetime(2017, 2, 15, 18, 49, 59, tzinfo=UTC),
            1,
            [2],
            id="stuck deployment - 1s",
        ),
        # Upstream is 1ns past 18:49:59; Python datetimes stop at microseconds.
        pytest.param(
            current_deployment(60, 3, 3, 3, 1, [STUCK]),
            new_status(3, 3, 1),
            datetime(2017, 2, 15, 18, 49, 59, 1, tzinfo=UTC),
            0,
            [None],
            id="less than a second left: now",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 1, [STUCK]),
            new_status(3, 3, 1),
            datetime(2017, 2, 15, 18, 50, 0, tzinfo=UTC),
            0,
            [None],
            id="at the deadline: now",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 1, [STUCK]),
            new_status(3, 3, 1),
            datetime(2017, 2, 15, 18, 50, 1, tzinfo=UTC),
            0,
            [None],
            id="1s after deadline: now",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 1, [STUCK]),
            new_status(3, 3, 1),
            datetime(2017, 2, 15, 18, 51, 0, tzinfo=UTC),
            0,
            [None],
            id="60s after deadline: now",
        ),
    ],
)
def test_requeue_stuck_deployment(d, status, now, expected, expected_enqueue):
    h = Harness(now or NOW)

    assert progress.requeue_stuck_deployment(h.dc, d, status) == pytest.approx(expected)

    assert [delay for _, delay in h.enqueued] == pytest.approx(expected_enqueue)


NEW_RS_AVAILABLE = progressing("True", du.NEW_RS_AVAILABLE_REASON, None, TEST_TIME, TEST_TIME)
REPLICA_SET_UPDATED = progressing("True", du.REPLICA_SET_UPDATED_REASON, None, TEST_TIME, TEST_TIME)


# TestSyncRolloutStatus: deadline 60s (or none). RSs are (name, spec, status.replicas, available); new_rs is
# added to all_rss. `expected` is the whole Progressing condition afterwards (None: there is none).
# Upstream checks status and reason; its timestamp checks compare the row with itself, so they are made real here.
@pytest.mark.parametrize(
    "d, all_rss, new_rs, expected",
    [
        pytest.param(
            current_deployment(None, 3, 2, 2, 2, [REPLICA_SET_UPDATED]),
            [("bar", 0, 1, 1)],
            ("foo", 3, 2, 2),
            None,
            id="General: remove Progressing condition if there is no progress deadline",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 3, [NEW_RS_AVAILABLE]),
            [("bar", 3, 3, 3)],
            None,
            NEW_RS_AVAILABLE,
            id="General: do not estimate progress of deployment with only one active ReplicaSet",
        ),
        pytest.param(
            current_deployment(60, 3, 2, 2, 2, [REPLICA_SET_UPDATED]),
            [("bar", 0, 1, 1)],
            ("foo", 3, 2, 2),
            progressing("True", du.REPLICA_SET_UPDATED_REASON, 'ReplicaSet "foo" is progressing.', NOW, TEST_TIME),
            id="DeploymentProgressing: keep lastTransitionTime if already Progressing=True",
        ),
        pytest.param(
            current_deployment(60, 3, 2, 2, 2, [FAILED]),
            [("bar", 0, 1, 1)],
            ("foo", 3, 2, 2),
            progressing("True", du.REPLICA_SET_UPDATED_REASON, 'ReplicaSet "foo" is progressing.', NOW, NOW),
            id="DeploymentProgressing: update everything if Progressing=False",
        ),
        pytest.param(
            current_deployment(60, 3, 2, 2, 2, []),
            [("bar", 0, 1, 1)],
            ("foo", 3, 2, 2),
            progressing("True", du.REPLICA_SET_UPDATED_REASON, 'ReplicaSet "foo" is progressing.', NOW, NOW),
            id="DeploymentProgressing: create Progressing condition if it does not exist",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 3, [REPLICA_SET_UPDATED]),
            [],
            ("foo", 3, 3, 3),
            progressing(
                "True", du.NEW_RS_AVAILABLE_REASON, 'ReplicaSet "foo" has successfully progressed.', NOW, TEST_TIME
            ),
            id="DeploymentComplete: keep lastTransitionTime if already Progressing=True",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 3, [FAILED]),
            [],
            ("foo", 3, 3, 3),
            progressing("True", du.NEW_RS_AVAILABLE_REASON, 'ReplicaSet "foo" has successfully progressed.', NOW, NOW),
            id="DeploymentComplete: update everything if Progressing=False",
        ),
        pytest.param(
            current_deployment(60, 3, 3, 3, 3, []),
            [],
            ("foo", 3, 3, 3),
            progressing("True", du.NEW_RS_AVAILABLE_REASON, 'ReplicaSet "foo" has successfully progressed.', NOW, NOW),
            id="DeploymentComplete: create Progressing condition if it does not exist",
        ),
        pytest.param(
            current_deployment(60, 0, 3, 3, 3, [REPLICA_SET_UPDATED]),
            [("foo", 0, 0, 0)],
            None,
            progressing(
                "True",
                du.NEW_RS_AVAILABLE_REASON,
                'Deployment "progress-test" has successfully progressed.',
                NOW,
                TEST_TIME,
            ),
            id="DeploymentComplete: defend against NPE when newRS=nil",
        ),
        pytest.param(
            current_deployment(60, 3, 2, 2, 2, [REPLICA_SET_UPDATED]),
            [],
            ("foo", 3, 2, 2),
            progressing("False", du.TIMED_OUT_REASON, 'ReplicaSet "foo" has timed out progressing.', NOW, NOW),
            id="DeploymentTimedOut: update status if rollout exceeds Progress Deadline",
        ),
        pytest.param(
            current_deployment(60, 3, 2, 2, 2, [FAILED]),
            [],
            ("foo", 3, 2, 2),
            FAILED,
            id="DeploymentTimedOut: do not update status if deployment has existing timedOut condition",
        ),
    ],
)
def test_sync_rollout_status(d, all_rss, new_rs, expected):
    h = Harness(NOW)
    h.add(d)
    new = rs_with_available(*new_rs) if new_rs is not None else None
    replica_sets = [rs_with_available(*r) for r in all_rss] + ([new] if new is not None else [])

    progress.sync_rollout_status(h.dc, replica_sets, new, d)

    assert du.get_deployment_condition(d["status"], du.DEPLOYMENT_PROGRESSING) == expected
    # Upstream's test controller has no event recorder: syncRolloutStatus emits no events.
    assert h.events == []


def replica_failure(message: str) -> dict:
    return {
        "type": du.DEPLOYMENT_REPLICA_FAILURE,
        "status": "True",
        "reason": "FailedCreate",
        "message": message,
        "lastTransitionTime": TEST_TIME,
    }


# Not an upstream row: syncRolloutStatus promotes a ReplicaFailure condition, the new RS's before any old
# RS's, through ReplicaSetToDeploymentCondition (lastUpdateTime = lastTransitionTime), and drops it once
# no RS reports one.
def test_sync_rollout_status_copies_replica_failure():
    h = Harness(NOW)
    d = current_deployment(None, 3, 2, 2, 2)
    h.add(d)
    old = rs_with_available("bar", 0, 1, 1)
    old["status"]["conditions"] = [replica_failure("old")]
    new = rs_with_available("foo", 3, 2, 2)
    new["status"]["conditions"] = [replica_failure("new")]

    progress.sync_rollout_status(h.dc, [old, new], new, d)

    assert du.get_deployment_condition(d["status"], du.DEPLOYMENT_REPLICA_FAILURE) == {
        "type": du.DEPLOYMENT_REPLICA_FAILURE,
        "status": "True",
        "reason": "FailedCreate",
        "message": "new",
        "lastUpdateTime": TEST_TIME,
        "lastTransitionTime": TEST_TIME,
    }

    del old["status"]["conditions"], new["status"]["conditions"]
    progress.sync_rollout_status(h.dc, [old, new], new, d)

    assert du.get_deployment_condition(d["status"], du.DEPLOYMENT_REPLICA_FAILURE) is None
