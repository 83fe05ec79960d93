"""Proportional scaling and history cleanup, ported from upstream pkg/controller/deployment/sync_test.go.

Every row runs the real controller (see deployment_fakes.Harness) and checks what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from deployment_fakes import Harness, new_deployment, rs, rs_with_status

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.deployment import sync

MAX_INT32 = 2**31 - 1

NEW = "2016-05-20T02:00:00Z"
OLD = "2016-05-20T01:00:00Z"
OLDER = "2016-05-20T00:00:00Z"


@dataclass(frozen=True)
class ScaleCase:
    """One TestScale row. RSs are (name, spec.replicas, creationTimestamp).

    Every RS starts annotated as last scaled by the old deployment (desired = old_replicas unless
    `desired` says otherwise, max = desired + MaxSurge(old deployment)).
    """

    replicas: int
    old_replicas: int
    new: tuple[str, int, str] | None
    old: tuple[tuple[str, int, str], ...]
    expected: dict[str, int]
    surge: int = 0
    old_surge: int = 0
    unavailable: int = 0
    wasnt_updated: frozenset[str] = frozenset()
    desired: dict[str, int] = field(default_factory=dict)


# TestScale. Upstream's newDeployment defaults maxSurge and maxUnavailable to 0, not 25%.
SCALE_CASES = [
    pytest.param(
        ScaleCase(12, 10, ("foo-v1", 10, NEW), (), {"foo-v1": 12}),
        id="normal scaling event: 10 -> 12",
    ),
    pytest.param(
        ScaleCase(5, 10, ("foo-v1", 10, NEW), (), {"foo-v1": 5}),
        id="normal scaling event: 10 -> 5",
    ),
    pytest.param(
        ScaleCase(10, 5, ("foo-v2", 2, NEW), (("foo-v1", 3, OLD),), {"foo-v2": 4, "foo-v1": 6}),
        id="proportional scaling: 5 -> 10",
    ),
    pytest.param(
        ScaleCase(3, 5, ("foo-v2", 2, NEW), (("foo-v1", 3, OLD),), {"foo-v2": 1, "foo-v1": 2}),
        id="proportional scaling: 5 -> 3",
    ),
    pytest.param(
        ScaleCase(4, 9, ("foo-v2", 8, NEW), (("foo-v1", 1, OLD),), {"foo-v2": 4, "foo-v1": 0}),
        id="proportional scaling: 9 -> 4",
    ),
    pytest.param(
        ScaleCase(
            10,
            7,
            ("foo-v3", 2, NEW),
            (("foo-v2", 3, OLD), ("foo-v1", 2, OLDER)),
            {"foo-v3": 3, "foo-v2": 4, "foo-v1": 3},
        ),
        id="proportional scaling: 7 -> 10",
    ),
    pytest.param(
        ScaleCase(
            8,
            13,
            ("foo-v3", 2, NEW),
            (("foo-v2", 8, OLD), ("foo-v1", 3, OLDER)),
            {"foo-v3": 1, "foo-v2": 5, "foo-v1": 2},
        ),
        id="proportional scaling: 13 -> 8",
    ),
    # Scales up the new replica set.
    pytest.param(
        ScaleCase(
            4,
            3,
            ("foo-v3", 1, NEW),
            (("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)),
            {"foo-v3": 2, "foo-v2": 1, "foo-v1": 1},
        ),
        id="leftover distribution: 3 -> 4",
    ),
    # Scales down the older replica set.
    pytest.param(
        ScaleCase(
            2,
            3,
            ("foo-v3", 1, NEW),
            (("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)),
            {"foo-v3": 1, "foo-v2": 1, "foo-v1": 0},
        ),
        id="leftover distribution: 3 -> 2",
    ),
    # Scales up the latest replica set first.
    pytest.param(
        ScaleCase(5, 4, None, (("foo-v2", 2, OLD), ("foo-v1", 2, OLDER)), {"foo-v2": 3, "foo-v1": 2}),
        id="proportional scaling (no new rs): 4 -> 5",
    ),
    # Scales down to zero.
    pytest.param(
        ScaleCase(
            0,
            6,
            ("foo-v3", 3, NEW),
            (("foo-v2", 2, OLD), ("foo-v1", 1, OLDER)),
            {"foo-v3": 0, "foo-v2": 0, "foo-v1": 0},
        ),
        id="proportional scaling: 6 -> 0",
    ),
    # Scales up from zero.
    pytest.param(
        ScaleCase(
            6,
            6,
            ("foo-v3", 0, NEW),
            (("foo-v2", 0, OLD), ("foo-v1", 0, OLDER)),
            {"foo-v3": 6, "foo-v2": 0, "foo-v1": 0},
            wasnt_updated=frozenset({"foo-v2", "foo-v1"}),
        ),
        id="proportional scaling: 0 -> 6",
    ),
    # Deployment scaled from 3 to 5 while foo-v2 still says it was last scaled for 3: v3 and v1 keep
    # their size, foo-v2 takes the extra replica.
    pytest.param(
        ScaleCase(
            5,
            5,
            ("foo-v3", 2, NEW),
            (("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)),
            {"foo-v3": 2, "foo-v2": 2, "foo-v1": 1},
            wasnt_updated=frozenset({"foo-v3", "foo-v1"}),
            desired={"foo-v2": 3},
        ),
        id="failed rs update",
    ),
    pytest.param(
        ScaleCase(20, 10, ("foo-v2", 6, NEW), (("foo-v1", 6, OLD),), {"foo-v2": 11, "foo-v1": 11}, 2, 2),
        id="deployment with surge pods",
    ),
    pytest.param(
        ScaleCase(50, 10, ("foo-v2", 5, NEW), (("foo-v1", 8, OLD),), {"foo-v2": 22, "foo-v1": 34}, 6, 3),
        id="change both surge and size",
    ),
    # Upstream also changes the template (a label "another": "label"), so there is no new RS yet.
    pytest.param(
        ScaleCase(14, 10, None, (("foo-v2", 7, NEW), ("foo-v1", 3, OLD)), {"foo-v2": 10, "foo-v1": 4}),
        id="change both size and template",
    ),
    # The new RS has spec == desired == replicas but no available pods, so it is not saturated.
    pytest.param(
        ScaleCase(2, 2, ("foo-v2", 2, NEW), (("foo-v1", 1, OLD),), {"foo-v2": 2, "foo-v1": 1}, 1, 1, 1),
        id="saturated but broken new replica set does not affect old pods",
    ),
]


@pytest.mark.parametrize("case", SCALE_CASES)
def test_scale(case: ScaleCase):
    h = Harness()
    d = new_deployment("foo", case.replicas, max_surge=case.surge, max_unavailable=case.unavailable)
    old_d = new_deployment("foo", case.old_replicas, max_surge=case.old_surge, max_unavailable=case.unavailable)
    new_rs = rs(case.new[0], case.new[1], created=case.new[2]) if case.new is not None else None
    old_rss = [rs(name, replicas, created=created) for name, replicas, created in case.old]
    for replica_set in filter(None, [new_rs, *old_rss]):
        desired = case.desired.get(replica_set["metadata"]["name"], case.old_replicas)
        du.set_replicas_annotations(replica_set, desired, desired + du.max_surge(old_d))
        replica_set["status"] = {"availableReplicas": 0}
    h.add(new_rs, *old_rss)

    sync.scale(h.dc, d, new_rs, old_rss)

    sizes = {r["metadata"]["name"]: r["spec"]["replicas"] for r in filter(None, [new_rs, *old_rss])}
    assert sizes == case.expected
    written = {w.name for w in h.updates()}
    assert not written & case.wasnt_updated
    # Whatever the controller wrote carries the annotations of the deployment's current size.
    annotations = {
        du.DESIRED_REPLICAS_ANNOTATION: str(case.replicas),
        du.MAX_REPLICAS_ANNOTATION: str(case.replicas + du.max_surge(d)),
    }
    for replica_set in filter(None, [new_rs, *old_rss]):
        if replica_set["metadata"]["name"] in written:
            assert replica_set["metadata"]["annotations"] == annotations


# TestDeploymentController_cleanupDeployment: RSs are (name, spec.replicas, status.replicas), without
# creationTimestamp or revision, so they sort by name. Upstream counts deletions; the names are checked too.
@pytest.mark.parametrize(
    "old_rss, limit, expected_deleted",
    [
        pytest.param([("foo-1", 0, 0), ("foo-2", 0, 0), ("foo-3", 0, 0)], 1, {"foo-1", "foo-2"}, id="keep 1 of 3"),
        pytest.param(
            [("foo-1", 0, 0), ("foo-2", 0, 1), ("foo-3", 1, 0), ("foo-4", 1, 1)],
            0,
            {"foo-1"},
            id="only spec == status == 0 is deleted",
        ),
        pytest.param([("foo-1", 0, 0), ("foo-2", 0, 0)], 0, {"foo-1", "foo-2"}, id="keep none"),
        pytest.param([("foo-1", 1, 1), ("foo-2", 1, 1)], 0, set(), id="all still have replicas"),
        pytest.param([("foo-1", 0, 0, "being deleted")], 0, set(), id="already being deleted"),
        pytest.param(
            [("foo-1", 0, 0), ("foo-2", 0, 0), ("foo-3", 0, 0)], MAX_INT32, set(), id="unlimited revisionHistoryLimit"
        ),
    ],
)
def test_cleanup_deployment(old_rss, limit, expected_deleted):
    h = Harness()
    replica_sets = []
    for name, spec_replicas, status_replicas, *deleting in old_rss:
        replica_set = rs_with_status(name, spec_replicas, status_replicas, {"foo": "bar"})
        if deleting:
            replica_set["metadata"]["deletionTimestamp"] = h.store.timestamp()
        replica_sets.append(replica_set)
    h.add(*replica_sets)
    d = new_deployment("foo", 1, revision_history_limit=limit, selector={"foo": "bar"})

    sync.cleanup_deployment(h.dc, replica_sets, d)

    assert h.deleted() == expected_deleted
    assert {r["metadata"]["name"] for r in h.store.list("ReplicaSet")} == {r[0] for r in old_rss} - expected_deleted


BEFORE, NOW, AFTER, LATER = (
    "2025-12-31T23:59:00Z",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:01:00Z",
    "2026-01-01T00:02:00Z",
)


# TestDeploymentController_cleanupDeploymentOrder: RSs are (name, replicas, creationTimestamp, revision);
# creation order is always foo-1 < foo-2 < foo-3 < foo-4. A missing revision counts as revision 0.
@pytest.mark.parametrize(
    "old_rss, limit, expected_deleted",
    [
        pytest.param([("foo-1", 0, BEFORE, "1"), ("foo-2", 0, NOW, "2")], 1, {"foo-1"}, id="rs1 < rs2: delete rs1"),
        pytest.param([("foo-1", 0, BEFORE, "2"), ("foo-2", 0, NOW, "1")], 1, {"foo-2"}, id="rs2 < rs1: delete rs2"),
        pytest.param(
            [("foo-1", 0, BEFORE, "1"), ("foo-2", 0, NOW, None)], 1, {"foo-2"}, id="rs2 has no revision: delete rs2"
        ),
        pytest.param(
            [("foo-1", 0, BEFORE, None), ("foo-2", 0, NOW, "2")], 1, {"foo-1"}, id="rs1 has no revision: delete rs1"
        ),
        pytest.param(
            [("foo-1", 1, BEFORE, "1"), ("foo-2", 0, NOW, "2"), ("foo-3", 0, AFTER, "3")],
            1,
            {"foo-2"},
            id="rs1 < rs2 < rs3 but rs1 has replicas: delete rs2",
        ),
        pytest.param(
            [("foo-1", 1, BEFORE, "1"), ("foo-2", 1, NOW, "2"), ("foo-3", 0, AFTER, "3")],
            1,
            set(),
            id="rs1 and rs2 have replicas: delete nothing",
        ),
        pytest.param(
            [("foo-1", 0, BEFORE, "3"), ("foo-2", 0, NOW, "1"), ("foo-3", 0, AFTER, "4"), ("foo-4", 0, LATER, "2")],
            2,
            {"foo-2", "foo-4"},
            id="rs2 < rs4 < rs1 < rs3: delete rs2 and rs4",
        ),
    ],
)
def test_cleanup_deployment_order(old_rss, limit, expected_deleted):
    h = Harness()
    replica_sets = []
    for name, replicas, created, revision in old_rss:
        replica_set = rs(name, replicas, {"foo": "bar"}, created)
        if revision is not None:
            replica_set["metadata"]["annotations"] = {du.REVISION_ANNOTATION: revision}
        replica_set["status"] = {"replicas": replicas}
        replica_sets.append(replica_set)
    h.add(*replica_sets)
    d = new_deployment("foo", 1, revision_history_limit=limit, selector={"foo": "bar"})

    sync.cleanup_deployment(h.dc, replica_sets, d)

    assert h.deleted() == expected_deleted
