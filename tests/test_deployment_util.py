"""Deployment helper arithmetic, ported from upstream deployment_util_test.go table tests."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime

import pytest

from simdeploy.k8s import deployment_util as du

MAX_INT32 = 2**31 - 1
BEFORE = "2025-12-31T23:59:00Z"
NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:01:00Z"

_uids = itertools.count(1)


# --- object builders (the shapes upstream's generateDeployment / generateRS produce) ---------


def deployment(image="nginx", replicas=1):
    labels = {"name": image}
    container = {"name": image, "image": image, "imagePullPolicy": "Always"}
    return {
        "metadata": {"name": image, "annotations": {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [container],
                    "dnsPolicy": "ClusterFirst",
                    "terminationGracePeriodSeconds": 30,
                    "restartPolicy": "Always",
                    "securityContext": {},
                },
            },
        },
    }


def replica_set(d, name, replicas=0, hash_label=None, created=None):
    template = copy.deepcopy(d["spec"]["template"])
    if hash_label is not None:
        template["metadata"]["labels"][du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = hash_label
    metadata = {
        "uid": str(next(_uids)),
        "name": name,
        "labels": dict(template["metadata"]["labels"]),
    }
    if created is not None:
        metadata["creationTimestamp"] = created
    spec = {"replicas": replicas, "template": template, "selector": {"matchLabels": {}}}
    return {"metadata": metadata, "spec": spec}


def rolling(replicas, max_surge, max_unavailable, status=None):
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }
    return {"spec": {"replicas": replicas, "strategy": strategy}, "status": status or {}}


def recreate(replicas=None):
    spec = {"strategy": {"type": "Recreate"}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"spec": spec}


def rs_with(replicas=0, annotations=None, status=None):
    return {
        "metadata": {"annotations": annotations} if annotations is not None else {},
        "spec": {"replicas": replicas},
        "status": status or {},
    }


def pod_template(name, node_name, annotations, labels):
    return {
        "metadata": {"name": name, "annotations": annotations, "labels": labels},
        "spec": {"nodeName": node_name},
    }


# --- TestEqualIgnoreHash ---------------------------------------------------------------------

H = du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY

EQUAL_IGNORE_HASH_ROWS = [
    (
        "same spec, same labels",
        pod_template("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
        pod_template("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
        True,
    ),
    (
        "same spec, only pod-template-hash label value is different",
        pod_template("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
        pod_template("foo", "foo-node", {}, {H: "value-2", "something": "else"}),
        True,
    ),
    (
        "same spec, the former doesn't have pod-template-hash label",
        pod_template("foo", "foo-node", {}, {"something": "else"}),
        pod_template("foo", "foo-node", {}, {H: "value-2", "something": "else"}),
        True,
    ),
    (
        "same spec, different label, former lacks the hash label, same number of labels",
        pod_template("foo", "foo-node", {}, {"something": "else"}),
        pod_template("foo", "foo-node", {}, {H: "value-2"}),
        False,
    ),
    (
        "same spec, different label, latter lacks the hash label, same number of labels",
        pod_template("foo", "foo-node", {}, {H: "value-1"}),
        pod_template("foo", "foo-node", {}, {"something": "else"}),
        False,
    ),
    (
        "same spec, the label is different, and the pod-template-hash label value is the same",
        pod_template("foo", "foo-node", {}, {H: "value-1"}),
        pod_template("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
        False,
    ),
    (
        "different spec, same labels",
        pod_template("foo", "foo-node", {"former": "value"}, {H: "value-1", "something": "else"}),
        pod_template("foo", "foo-node", {"latter": "value"}, {H: "value-1", "something": "else"}),
        False,
    ),
    (
        "different spec, different pod-template-hash label value",
        pod_template("foo-1", "foo-node", {}, {H: "value-1", "something": "else"}),
        pod_template("foo-2", "foo-node", {}, {H: "value-2", "something": "else"}),
        False,
    ),
    (
        "different spec, the former doesn't have pod-template-hash label",
        pod_template("foo-1", "foo-node-1", {}, {"something": "else"}),
        pod_template("foo-2", "foo-node-2", {}, {H: "value-2", "something": "else"}),
        False,
    ),
    (
        "different spec, different labels",
        pod_template("foo", "foo-node-1", {}, {"something": "else"}),
        pod_template("foo", "foo-node-2", {}, {"nothing": "else"}),
        False,
    ),
]


@pytest.mark.parametrize(
    ("former", "latter", "expected"),
    [row[1:] for row in EQUAL_IGNORE_HASH_ROWS],
    ids=[row[0] for row in EQUAL_IGNORE_HASH_ROWS],
)
def test_equal_ignore_hash_in_both_orders_without_touching_inputs(former, latter, expected):
    former_before, latter_before = copy.deepcopy(former), copy.deepcopy(latter)
    assert du.equal_ignore_hash(former, latter) is expected
    assert du.equal_ignore_hash(latter, former) is expected
    assert (former, latter) == (former_before, latter_before)


def test_nil_and_empty_label_maps_are_equal():
    with_empty = pod_template("foo", "node", {}, {})
    without = {"metadata": {"name": "foo"}, "spec": {"nodeName": "node"}}
    only_hash = pod_template("foo", "node", None, {H: "abc"})
    assert du.equal_ignore_hash(with_empty, without)
    assert du.equal_ignore_hash(only_hash, without)


# --- TestFindNewReplicaSet / TestFindOldReplicaSets ------------------------------------------


def find_new_family():
    d = deployment("nginx")
    old_d = deployment("nginx")
    old_d["spec"]["template"]["spec"]["containers"][0]["name"] = "nginx-old-1"
    rss = {
        "newRS": replica_set(d, "newRS", hash_label="hash", created=LATER),
        "newRSDup": replica_set(d, "newRSDup", hash_label="different-hash", created=NOW),
        "oldRS": replica_set(old_d, "oldRS"),  # zero creation timestamp
    }
    return d, rss


@pytest.mark.parametrize(
    ("rs_names", "expected"),
    [
        pytest.param(["newRS", "oldRS"], "newRS", id="same template, different hash value"),
        pytest.param(["newRS", "oldRS", "newRSDup"], "newRSDup", id="oldest of two new RSs"),
        pytest.param(["oldRS"], None, id="no new RS"),
    ],
)
def test_find_new_replica_set(rs_names, expected):
    d, rss = find_new_family()
    found = du.find_new_replica_set(d, [rss[name] for name in rs_names])
    assert found is (rss[expected] if expected else None)


def find_old_family():
    d, rss = find_new_family()
    rss["newRS"]["spec"]["replicas"] = 1
    rss["oldRS"]["metadata"]["creationTimestamp"] = BEFORE
    return d, rss


@pytest.mark.parametrize(
    ("rs_names", "expected_all", "expected_required"),
    [
        pytest.param(["newRS", "oldRS"], ["oldRS"], [], id="old RSs"),
        pytest.param(["oldRS"], ["oldRS"], [], id="old RSs with no new RS"),
        pytest.param(["oldRS", "newRS", "newRSDup"], ["oldRS", "newRS"], ["newRS"], id="two new RSs"),
        pytest.param(["newRS"], [], [], id="no old RSs"),
    ],
)
def test_find_old_replica_sets(rs_names, expected_all, expected_required):
    d, rss = find_old_family()
    required, all_old = du.find_old_replica_sets(d, [rss[name] for name in rs_names])
    assert [rs["metadata"]["name"] for rs in all_old] == expected_all
    assert [rs["metadata"]["name"] for rs in required] == expected_required


# --- TestGetReplicaCountForReplicaSets -------------------------------------------------------


def count_family():
    return {
        "rs1": rs_with(1, status={"observedGeneration": 1, "replicas": 2, "terminatingReplicas": 3}),
        # Upstream sets rs1's observedGeneration twice, so rs2 is "never synced" (generation 0).
        "rs2": rs_with(2, status={"replicas": 3, "terminatingReplicas": 1}),
        "rs3": rs_with(3, status={"replicas": 0}),  # unsynced, no terminating count
        "rs4": rs_with(1, status={"observedGeneration": 1, "replicas": 1}),  # synced, no count
    }


@pytest.mark.parametrize(
    ("names", "count", "actual", "terminating"),
    [
        pytest.param(["rs1"], 1, 2, 3, id="scaling down rs1"),
        pytest.param(["rs1", "rs2"], 3, 5, 4, id="scaling down rs1 and rs2"),
        pytest.param(["rs3"], 3, 0, 0, id="scaling up rs3"),
        pytest.param(["rs1", "rs2", "rs3"], 6, 5, 4, id="down rs1 and rs2, up rs3"),
        pytest.param(["rs4"], 1, 1, None, id="unknown terminating status for rs4"),
        pytest.param(["rs1", "rs2", "rs3", "rs4"], 7, 6, None, id="unknown for rs4 with others"),
    ],
)
def test_replica_counts_for_replica_sets(names, count, actual, terminating):
    rss = count_family()
    sets = [rss[name] for name in names]
    assert du.get_replica_count(sets) == count
    assert du.get_actual_replica_count(sets) == actual
    assert du.get_terminating_replica_count(sets) == terminating


def test_ready_and_available_sums_skip_none_and_missing_fields():
    sets = [
        rs_with(3, status={"readyReplicas": 2, "availableReplicas": 1}),
        None,
        rs_with(2),
        rs_with(4, status={"readyReplicas": 4, "availableReplicas": 4}),
    ]
    assert du.get_replica_count(sets) == 9
    assert du.get_ready_replica_count(sets) == 6
    assert du.get_available_replica_count(sets) == 5


# --- TestResolveFenceposts -------------------------------------------------------------------


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
            du.resolve_fenceposts(max_surge, max_unavailable, desired)
    else:
        assert du.resolve_fenceposts(max_surge, max_unavailable, desired) == expected


# --- TestNewRSNewReplicas --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "dep_replicas", "new_rs_replicas", "max_surge", "expected"),
    [
        pytest.param("RollingUpdate", 1, 5, 1, 5, id="can not scale up - to newRSReplicas"),
        pytest.param("RollingUpdate", 6, 2, 10, 6, id="scale up - to depReplicas"),
        pytest.param("Recreate", 3, 1, 1, 3, id="recreate - to depReplicas"),
    ],
)
def test_new_rs_new_replicas(strategy, dep_replicas, new_rs_replicas, max_surge, expected):
    d = deployment("nginx", replicas=dep_replicas)
    d["spec"]["strategy"] = {
        "type": strategy,
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": max_surge},
    }
    new_rs = replica_set(d, "new", replicas=new_rs_replicas)
    rs5 = replica_set(d, "rs5", replicas=5)
    # Upstream passes allRSs=[rs5], which does not contain the new RS.
    assert du.new_rs_new_replicas(d, [rs5], new_rs) == expected


def test_new_rs_new_replicas_rejects_unknown_strategy():
    d = deployment("nginx")
    d["spec"]["strategy"] = {"type": "BlueGreen"}
    with pytest.raises(ValueError, match="BlueGreen"):
        du.new_rs_new_replicas(d, [], replica_set(d, "new"))


# --- TestGetCondition / TestSetCondition / TestRemoveCondition ------------------------------


def cond_progressing():
    return {"type": "Progressing", "status": "False", "reason": "ForSomeReason"}


def cond_progressing2():
    return {"type": "Progressing", "status": "True", "reason": "BecauseItIs"}


def cond_available():
    return {"type": "Available", "status": "True", "reason": "AwesomeController"}


def example_status():
    return {"conditions": [cond_progressing(), cond_available()]}


@pytest.mark.parametrize(
    ("cond_type", "exists"),
    [pytest.param("Available", True, id="exists"), pytest.param("ReplicaFailure", False, id="no")],
)
def test_get_deployment_condition(cond_type, exists):
    assert (du.get_deployment_condition(example_status(), cond_type) is not None) is exists


@pytest.mark.parametrize(
    ("status", "condition", "expected"),
    [
        pytest.param({}, cond_available(), {"conditions": [cond_available()]}, id="first time"),
        pytest.param({"conditions": [cond_progressing()]}, cond_available(), example_status(), id="simple"),
        pytest.param(
            {"conditions": [cond_progressing()]},
            cond_progressing2(),
            {"conditions": [cond_progressing2()]},
            id="overwrite",
        ),
    ],
)
def test_set_deployment_condition(status, condition, expected):
    du.set_deployment_condition(status, condition)
    assert status == expected


@pytest.mark.parametrize(
    ("status", "cond_type", "expected"),
    [
        pytest.param({}, "Progressing", {}, id="remove from empty status"),
        pytest.param({"conditions": [cond_progressing()]}, "Progressing", {}, id="simple remove"),
        pytest.param(example_status(), "ReplicaFailure", example_status(), id="removes nothing"),
    ],
)
def test_remove_deployment_condition(status, cond_type, expected):
    du.remove_deployment_condition(status, cond_type)
    assert status == expected


def test_set_condition_is_a_no_op_when_status_and_reason_are_unchanged():
    first = datetime(2026, 1, 1, tzinfo=UTC)
    status = {"conditions": [du.new_deployment_condition("Progressing", "True", "A", "m", first)]}
    later = du.new_deployment_condition("Progressing", "True", "A", "other", datetime.now(UTC))
    du.set_deployment_condition(status, later)
    assert status["conditions"][0]["message"] == "m"


def test_set_condition_keeps_transition_time_when_only_the_reason_changes():
    first = datetime(2026, 1, 1, tzinfo=UTC)
    second = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    status = {"conditions": [du.new_deployment_condition("Progressing", "True", "A", "m", first)]}
    du.set_deployment_condition(status, du.new_deployment_condition("Progressing", "True", "B", "m2", second))
    (cond,) = status["conditions"]
    assert cond["reason"] == "B"
    assert cond["lastUpdateTime"] == "2026-01-01T00:05:00Z"
    assert cond["lastTransitionTime"] == "2026-01-01T00:00:00Z"


# --- TestDeploymentComplete ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "current", "updated", "available", "max_unavailable", "max_surge", "expected"),
    [
        pytest.param(5, 5, 5, 4, 1, 0, False, id="min but not all pods available"),
        pytest.param(5, 5, 5, 3, 1, 0, False, id="min availability is not honored"),
        pytest.param(5, 5, 5, 5, 0, 0, True, id="complete"),
        pytest.param(5, 5, 4, 5, 0, 0, False, id="all pods available but not updated"),
        pytest.param(1, 2, 1, 1, 0, 1, False, id="still running old pods"),
        pytest.param(1, 1, 1, 0, 1, 1, False, id="one replica deployment never comes up"),
    ],
)
def test_deployment_complete(desired, current, updated, available, max_unavailable, max_surge, expected):
    status = {"replicas": current, "updatedReplicas": updated, "availableReplicas": available}
    d = rolling(desired, max_surge, max_unavailable, status)
    assert du.deployment_complete(d, d["status"]) is expected


# --- TestDeploymentProgressing ---------------------------------------------------------------


def counts(current, updated, ready, available):
    return {
        "replicas": current,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param((10, 4, 4, 4), (10, 6, 4, 4), True, id="updated pods"),
        pytest.param((10, 4, 4, 4), (10, 4, 4, 4), False, id="not progressing"),
        pytest.param((10, 4, 6, 6), (8, 4, 6, 6), True, id="old pods removed"),
        pytest.param((10, 7, 3, 3), (10, 6, 3, 3), False, id="less new pods"),
        pytest.param((10, 4, 7, 7), (8, 8, 5, 5), True, id="less overall but more new pods"),
        pytest.param((10, 10, 9, 8), (10, 10, 10, 8), True, id="more ready pods"),
        pytest.param((10, 10, 10, 9), (10, 10, 10, 10), True, id="more available pods"),
    ],
)
def test_deployment_progressing(old, new, expected):
    assert du.deployment_progressing({"status": counts(*old)}, counts(*new)) is expected


# --- TestDeploymentTimedOut ------------------------------------------------------------------


def at(minute, second):
    return datetime(2016, 1, 1, 0, minute, second, tzinfo=UTC)


def with_progressing(reason, deadline, last_update):
    condition = {"type": "Progressing", "status": "True", "reason": reason}
    condition["lastUpdateTime"] = last_update
    return {"spec": {"progressDeadlineSeconds": deadline}, "status": {"conditions": [condition]}}


@pytest.mark.parametrize(
    ("reason", "deadline", "last_update", "now", "expected"),
    [
        pytest.param("", None, "2016-01-01T00:01:09Z", at(1, 20), False, id="nil deadline"),
        pytest.param("", MAX_INT32, "2016-01-01T00:01:09Z", at(1, 20), False, id="infinite"),
        pytest.param("", 10, "2016-01-01T00:01:09Z", at(1, 20), True, id="10s deadline, 11s ago"),
        pytest.param("", 10, "2016-01-01T00:01:11Z", at(1, 20), False, id="10s deadline, 9s ago"),
        pytest.param(
            du.NEW_RS_AVAILABLE_REASON,
            None,
            "0001-01-01T00:00:00Z",
            at(1, 20),
            False,
            id="previous status was a complete deployment",
        ),
    ],
)
def test_deployment_timed_out(reason, deadline, last_update, now, expected):
    d = with_progressing(reason, deadline, last_update)
    assert du.deployment_timed_out(d, d["status"], now) is expected


def test_timed_out_boundary_is_strict_and_timed_out_reason_sticks():
    exactly = with_progressing("", 10, "2016-01-01T00:01:10Z")
    assert du.deployment_timed_out(exactly, exactly["status"], at(1, 20)) is False
    stuck = with_progressing(du.TIMED_OUT_REASON, 600, "2016-01-01T00:01:10Z")
    assert du.deployment_timed_out(stuck, stuck["status"], at(1, 11)) is True


# --- TestMaxUnavailable / TestMinAvailable ---------------------------------------------------

MAX_UNAVAILABLE_ROWS = [
    pytest.param(rolling(10, 1, 5), 5, id="less than replicas"),
    pytest.param(rolling(10, 1, 10), 10, id="equal replicas"),
    pytest.param(rolling(5, 1, 10), 5, id="greater than replicas"),
    pytest.param(rolling(0, 1, 10), 0, id="replicas is 0"),
    pytest.param(recreate(), 0, id="Recreate strategy"),
    pytest.param(rolling(10, 1, "50%"), 5, id="less than replicas with percents"),
    pytest.param(rolling(10, 1, "100%"), 10, id="equal replicas with percents"),
    pytest.param(rolling(5, 1, "100%"), 5, id="greater than replicas with percents"),
]


@pytest.mark.parametrize(("d", "expected"), MAX_UNAVAILABLE_ROWS)
def test_max_unavailable(d, expected):
    assert du.max_unavailable(d) == expected


MIN_AVAILABLE_ROWS = [
    pytest.param(rolling(10, 1, 5), 5, id="replicas greater than maxUnavailable"),
    pytest.param(rolling(10, 1, 10), 0, id="replicas equal maxUnavailable"),
    pytest.param(rolling(5, 1, 10), 0, id="replicas less than maxUnavailable"),
    pytest.param(rolling(0, 1, 10), 0, id="replicas is 0"),
    pytest.param(recreate(10), 0, id="Recreate strategy"),
    pytest.param(rolling(10, 1, "60%"), 4, id="greater with percents"),
    pytest.param(rolling(10, 1, "100%"), 0, id="equal with percents"),
    pytest.param(rolling(5, 1, "100%"), 0, id="less with percents"),
]


@pytest.mark.parametrize(("d", "expected"), MIN_AVAILABLE_ROWS)
def test_min_available(d, expected):
    assert du.min_available(d) == expected


def test_max_surge_goes_through_the_fenceposts():
    assert du.max_surge(rolling(10, "25%", "25%")) == 3
    assert du.max_surge(rolling(1, "25%", "25%")) == 1
    assert du.max_unavailable(rolling(1, "25%", "25%")) == 0
    assert du.max_surge(recreate(10)) == 0


# --- TestGetNonNegativeInt32FromAnnotation (through the desired-replicas annotation) ---------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="invalid empty"),
        pytest.param("invalid", None, id="invalid"),
        pytest.param("-1", None, id="invalid negative"),
        pytest.param("0", 0, id="valid zero"),
        pytest.param("13", 13, id="valid"),
        pytest.param(str(MAX_INT32), MAX_INT32, id="valid max"),
        pytest.param(str(MAX_INT32 + 1), None, id="invalid max out of range"),
        pytest.param(str(2**32), None, id="invalid max out of range 2"),
    ],
)
def test_desired_replicas_annotation(value, expected):
    annotations = {"foo": "2"}
    if value is not None:
        annotations[du.DESIRED_REPLICAS_ANNOTATION] = value
    assert du.get_desired_replicas_annotation(rs_with(annotations=annotations)) == expected


# --- TestAnnotationUtils ---------------------------------------------------------------------


def test_new_replica_set_annotations_trim_revision_history_to_the_char_limit():
    d = deployment("nginx")
    d["metadata"]["annotations"][du.REVISION_ANNOTATION] = "1"
    rs = replica_set(d, "rs")
    for i in range(10, 20):
        next_revision = str(i + 1)
        du.set_new_replica_set_annotations(d, rs, next_revision, True, 5)
        annotations = rs["metadata"]["annotations"]
        if i >= 12:
            assert annotations[du.REVISION_HISTORY_ANNOTATION] == f"{i - 1},{i}"
        assert annotations[du.REVISION_ANNOTATION] == next_revision


def test_set_replicas_annotations():
    rs = replica_set(deployment("nginx"), "rs")
    assert du.set_replicas_annotations(rs, 10, 11) is True
    annotations = rs["metadata"]["annotations"]
    assert annotations[du.DESIRED_REPLICAS_ANNOTATION] == "10"
    assert annotations[du.MAX_REPLICAS_ANNOTATION] == "11"
    assert du.set_replicas_annotations(rs, 10, 11) is False


def test_is_saturated():
    d = deployment("nginx")
    rs = rs_with(1, {du.DESIRED_REPLICAS_ANNOTATION: "1"}, {"availableReplicas": 1})
    assert du.is_saturated(d, rs) is True
    assert du.is_saturated(d, rs_with(1, {}, {"availableReplicas": 1})) is False
    assert du.is_saturated(d, rs_with(1, {du.DESIRED_REPLICAS_ANNOTATION: "1"})) is False
    assert du.is_saturated(d, None) is False


# --- TestReplicasAnnotationsNeedUpdate -------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param(None, True, id="annotations nil"),
        pytest.param({du.DESIRED_REPLICAS_ANNOTATION: "8", du.MAX_REPLICAS_ANNOTATION: "20"}, True),
        pytest.param({du.DESIRED_REPLICAS_ANNOTATION: "10", du.MAX_REPLICAS_ANNOTATION: "16"}, True),
        pytest.param({du.DESIRED_REPLICAS_ANNOTATION: "10", du.MAX_REPLICAS_ANNOTATION: "20"}, False),
    ],
)
def test_replicas_annotations_need_update(annotations, expected):
    assert du.replicas_annotations_need_update(rs_with(annotations=annotations), 10, 20) is expected


# --- TestGetReplicaSetFraction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("d_replicas", "d_status_replicas", "d_surge", "rs_replicas", "max_annotation", "expected"),
    [
        pytest.param(0, 0, 0, 10, None, -10, id="empty deployment always scales to 0"),
        pytest.param(10, 0, 0, 5, None, 0, id="unsynced, max-replicas missing"),
        pytest.param(10, 0, 0, 5, "0", 0, id="unsynced, max-replicas 0"),
        pytest.param(120, 100, 0, 50, None, 10, id="up 1/5, max-replicas missing"),
        pytest.param(120, 100, 0, 50, "0", 10, id="up 1/5, max-replicas 0"),
        pytest.param(120, 0, 0, 50, "100", 10, id="up 1/5"),
        pytest.param(120, 0, 10, 50, "110", 9, id="up 1/5 with maxSurge"),
        pytest.param(10, 0, 0, 6, "12", -1, id="down 1/6"),
        pytest.param(100, 0, 10, 50, "130", -8, id="down 1/6 with maxSurge"),
    ],
)
def test_replica_set_fraction(d_replicas, d_status_replicas, d_surge, rs_replicas, max_annotation, expected):
    d = rolling(d_replicas, d_surge, 1, {"replicas": d_status_replicas})
    annotations = {} if max_annotation is None else {du.MAX_REPLICAS_ANNOTATION: max_annotation}
    assert du.get_replica_set_fraction(rs_with(rs_replicas, annotations), d) == expected


# --- Beyond the upstream util tables ---------------------------------------------------------


def test_proportions_of_a_resize_during_a_rollout():
    # sync_test TestScale "change both surge and size": 10 -> 50 replicas, surge 3 -> 6.
    d = rolling(50, 6, 0)
    v1 = rs_with(8, {du.MAX_REPLICAS_ANNOTATION: "13"})
    v2 = rs_with(5, {du.MAX_REPLICAS_ANNOTATION: "13"})
    assert du.get_replica_set_proportion(v1, d, 43, 0) == 26
    assert du.get_replica_set_proportion(v2, d, 43, 26) == 17
    assert du.get_replica_set_proportion(v2, d, 43, 43) == 0
    assert du.get_replica_set_proportion(None, d, 43, 0) == 0


def test_proportion_is_capped_by_what_is_left():
    d = rolling(50, 6, 0)
    assert du.get_replica_set_proportion(rs_with(8, {du.MAX_REPLICAS_ANNOTATION: "13"}), d, 5, 0) == 5
    shrink = rolling(5, 0, 1)
    rs = rs_with(10, {du.MAX_REPLICAS_ANNOTATION: "10"})
    assert du.get_replica_set_proportion(rs, shrink, -3, 0) == -3


@pytest.mark.parametrize(("x", "expected"), [(0.0, 0), (0.49, 0), (0.5, 1), (2.5, 3), (-0.5, -1), (-2.4, -2)])
def test_round_to_int32_rounds_half_away_from_zero(x, expected):
    assert du.round_to_int32(x) == expected


def named(name, replicas=0, created=NOW, revision=None):
    annotations = {} if revision is None else {du.REVISION_ANNOTATION: revision}
    metadata = {"name": name, "creationTimestamp": created, "annotations": annotations}
    return {"metadata": metadata, "spec": {"replicas": replicas}}


def names(rss):
    return [rs["metadata"]["name"] for rs in rss]


def test_sort_orders():
    a, b = named("a", 3, BEFORE), named("b", 3, NOW)
    c, d = named("c", 5, LATER), named("d", 3, NOW)
    assert names(du.replica_sets_by_creation_timestamp([c, d, b, a])) == ["a", "b", "d", "c"]
    assert names(du.replica_sets_by_size_older([d, a, c, b])) == ["c", "a", "b", "d"]
    assert names(du.replica_sets_by_size_newer([a, b, c, d])) == ["c", "d", "b", "a"]


def test_sort_by_revision_falls_back_to_creation_order():
    r3, r1 = named("r3", created=BEFORE, revision="3"), named("r1", created=LATER, revision="1")
    bad, also1 = (
        named("bad", created=NOW, revision="x"),
        named("also1", created=BEFORE, revision="1"),
    )
    assert names(du.replica_sets_by_revision([r3, r1, also1])) == ["also1", "r1", "r3"]
    assert names(du.replica_sets_by_revision([bad, r1])) == ["bad", "r1"]


def test_revisions():
    rss = [named("a", revision="3"), named("b", revision="7"), named("c"), named("d", revision="x")]
    assert du.revision(rss[2]) == 0
    with pytest.raises(ValueError):
        du.revision(rss[3])
    assert du.max_revision(rss) == 7
    assert du.last_revision(rss) == 3
    assert du.last_revision([named("a", revision="4"), named("b", revision="4")]) == 4


def test_find_active_or_latest():
    old1, old2 = named("old1", 0, BEFORE), named("old2", 0, NOW)
    new = named("new", 0, LATER)
    assert du.find_active_or_latest(None, []) is None
    assert du.find_active_or_latest(new, [old1, old2]) is new
    assert du.find_active_or_latest(None, [old1, old2]) is old2
    active = named("active", 2, BEFORE)
    assert du.find_active_or_latest(new, [active, old2]) is active
    assert du.find_active_or_latest(named("n", 1, LATER), [active]) is None
    assert du.filter_active_replica_sets([active, None, old1]) == [active]


def test_new_replica_set_annotations_copy_deployment_annotations_and_set_replicas():
    d = rolling(4, 1, 0)
    d["metadata"] = {
        "annotations": {
            "team": "payments",
            du.LAST_APPLIED_ANNOTATION: "{}",
            du.ROLLBACK_TO_ANNOTATION: "2",
            du.REVISION_ANNOTATION: "9",
        }
    }
    rs = {"metadata": {}, "spec": {"replicas": 0}}
    assert du.set_new_replica_set_annotations(d, rs, "3", exists=False) is True
    assert rs["metadata"]["annotations"] == {
        "team": "payments",
        du.REVISION_ANNOTATION: "3",
        du.DESIRED_REPLICAS_ANNOTATION: "4",
        du.MAX_REPLICAS_ANNOTATION: "5",
    }
    assert du.set_new_replica_set_annotations(d, rs, "3", exists=True) is False
    assert du.set_new_replica_set_annotations(d, rs, "2", exists=True) is False
    assert rs["metadata"]["annotations"][du.REVISION_ANNOTATION] == "3"


def test_rollback_appends_the_old_revision_to_the_history():
    rs = named("rs", revision="2")
    assert du.set_new_replica_set_annotations({"metadata": {}}, rs, "5", exists=True) is True
    assert du.set_new_replica_set_annotations({"metadata": {}}, rs, "8", exists=True) is True
    assert rs["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "2,5"


@pytest.mark.parametrize(
    ("history", "limit", "expected"),
    [
        pytest.param("1,2", 5, "1,2,9", id="fits exactly"),
        pytest.param("1,22", 5, "22,9", id="one over the limit drops the oldest"),
        pytest.param("1", 1, "9", id="only the new entry fits"),
        pytest.param("1", 0, "1", id="nothing fits: history left as it was"),
    ],
)
def test_revision_history_char_limit(history, limit, expected):
    annotations = {du.REVISION_ANNOTATION: "9", du.REVISION_HISTORY_ANNOTATION: history}
    rs = {"metadata": {"annotations": annotations}}
    assert du.set_new_replica_set_annotations({}, rs, "10", True, limit) is True
    assert annotations[du.REVISION_HISTORY_ANNOTATION] == expected
    assert annotations[du.REVISION_ANNOTATION] == "10"


def test_new_deployment_condition_uses_rfc3339_times():
    now = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    cond = du.new_deployment_condition("Available", "True", du.MINIMUM_REPLICAS_AVAILABLE, "ok", now)
    assert cond == {
        "type": "Available",
        "status": "True",
        "lastUpdateTime": "2026-03-04T05:06:07Z",
        "lastTransitionTime": "2026-03-04T05:06:07Z",
        "reason": "MinimumReplicasAvailable",
        "message": "ok",
    }


def test_deadline_and_history_limit_flags():
    assert du.has_progress_deadline({"spec": {"progressDeadlineSeconds": 600}})
    assert not du.has_progress_deadline({"spec": {"progressDeadlineSeconds": MAX_INT32}})
    assert not du.has_progress_deadline({"spec": {}})
    assert du.has_revision_history_limit({"spec": {"revisionHistoryLimit": 0}})
    assert not du.has_revision_history_limit({"spec": {"revisionHistoryLimit": MAX_INT32}})
    assert du.is_rolling_update(rolling(1, 1, 0)) and not du.is_rolling_update(recreate())
