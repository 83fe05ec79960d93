"""Recreate steps, ported from upstream pkg/controller/deployment/recreate_test.go."""

from __future__ import annotations

import pytest
from deployment_fakes import Harness, new_deployment, new_replica_set, rs_with_status

from simdeploy.sim.cluster.deployment import recreate


# TestScaleDownOldReplicaSets: every old RS ends at 0 replicas.
@pytest.mark.parametrize("old_rs_sizes, replicas", [pytest.param([3], 3, id="one old RS of 3")])
def test_scale_down_old_replica_sets_for_recreate(old_rs_sizes, replicas):
    h = Harness()
    d = new_deployment("foo", replicas, selector={"foo": "bar"})
    old_rss = [new_replica_set(d, f"foo-{n}", size) for n, size in enumerate(old_rs_sizes)]
    h.add(d, *old_rss)

    assert recreate.scale_down_old_replica_sets_for_recreate(h.dc, old_rss, d) is True

    assert [r["spec"]["replicas"] for r in old_rss] == [0] * len(old_rs_sizes)
    assert [(w.name, w.replicas) for w in h.updates()] == [(r["metadata"]["name"], 0) for r in old_rss]


def rs_with_uid(uid: str) -> dict:
    """rsWithUID: an RS of 0 replicas owned by a deployment, with that uid."""
    d = new_deployment("foo", 1, selector={"foo": "bar"})
    replica_set = new_replica_set(d, f"foo-{uid}", 0)
    replica_set["metadata"]["uid"] = uid
    return replica_set


def pods(*phases: str | None) -> list[dict]:
    """Pods in these phases; None is a pod without a phase (upstream's empty v1.Pod{})."""
    return [{"status": {"phase": phase}} if phase else {} for phase in phases]


# TestOldPodsRunning: old pods count until they reach Failed or Succeeded, whatever the RS status says.
@pytest.mark.parametrize(
    "new_rs, old_rss, pod_map, expected",
    [
        pytest.param(None, [], {}, False, id="no old RSs"),
        pytest.param(
            None,
            [rs_with_uid("some-uid"), rs_with_uid("other-uid")],
            {"some-uid": pods(None, None), "other-uid": pods(None, None)},
            True,
            id="old RSs with running pods",
        ),
        pytest.param(
            None, [rs_with_status("rs-1", 0, 1)], {}, True, id="old RSs without pods but with non-zero status replicas"
        ),
        pytest.param(
            None, [rs_with_status("rs-1", 0, 0)], {}, False, id="old RSs without pods or non-zero status replicas"
        ),
        pytest.param(
            None,
            [rs_with_status("rs-1", 0, 0)],
            {"uid-1": pods("Failed", "Succeeded")},
            False,
            id="old RSs with zero status replicas but pods in terminal state are present",
        ),
        pytest.param(
            None,
            [rs_with_status("rs-1", 0, 0)],
            {"uid-1": pods("Unknown")},
            True,
            id="old RSs with zero status replicas but pod in unknown phase present",
        ),
        pytest.param(
            None,
            [rs_with_status("rs-1", 0, 0)],
            {"uid-1": pods("Pending")},
            True,
            id="old RSs with zero status replicas with pending pod present",
        ),
        pytest.param(
            None,
            [rs_with_status("rs-1", 0, 0)],
            {"uid-1": pods("Running")},
            True,
            id="old RSs with zero status replicas with running pod present",
        ),
        pytest.param(
            None,
            [rs_with_status("rs-1", 0, 0)],
            {"uid-1": pods("Failed", "Succeeded"), "uid-2": [], "uid-3": pods("Pending")},
            True,
            id="old RSs with zero status replicas but pods in terminal state and pending are present",
        ),
    ],
)
def test_old_pods_running(new_rs, old_rss, pod_map, expected):
    assert recreate.old_pods_running(new_rs, old_rss, pod_map) is expected
