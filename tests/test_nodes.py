"""Scheduling and nodes: placement, FailedScheduling, cordon, drain with PDBs, and node failure.

Upstream references: the scheduler's filter plugins and FitError message (pkg/scheduler), kubectl
drain (k8s.io/kubectl pkg/drain), the node lifecycle and taint-eviction controllers
(pkg/controller/nodelifecycle, pkg/controller/tainteviction) with their default timings: node
monitor period 5 s, grace 50 s, default unreachable toleration 300 s.
"""

from __future__ import annotations

from collections import Counter

import pytest

import simdeploy
from simdeploy.sim.simulation import Simulation

IMAGE = "img:1"
FAIL_NODE_1_AT_120 = {"at": "120s", "action": "fail-node", "node": "node-1"}


def deployment(
    name: str = "web",
    replicas: int = 1,
    cpu: str | None = None,
    memory: str | None = None,
    pod_spec: dict | None = None,
) -> dict:
    """A Deployment of one container, with optional CPU and memory requests."""
    requests = {key: value for key, value in (("cpu", cpu), ("memory", memory)) if value is not None}
    container = {"name": "app", "image": IMAGE, **({"resources": {"requests": requests}} if requests else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], **(pod_spec or {})},
            },
        },
    }


def pdb(min_available: int, app: str = "web") -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}},
    }


def simulate(
    *manifests: dict,
    nodes: list[dict] | None = None,
    timeline: tuple = (),
    version: dict | None = None,
    until: float = 0.0,
) -> Simulation:
    sim = simdeploy.load(
        {
            "metadata": {"name": "nodes"},
            "duration": "1h",
            "cluster": {"nodes": nodes or [{"count": 2}], "containerStart": "1s"},
            "manifests": [{"inline": m} for m in manifests],
            "versions": {IMAGE: {"pull": "0s", "startup": "1s", "shutdown": "1s", **(version or {})}},
            "timeline": list(timeline),
        }
    )
    sim.run_until(until)
    return sim


def pods(sim: Simulation, app: str = "web") -> list[dict]:
    return sim.store.list("Pod", "default", {"matchLabels": {"app": app}})


def node_of(pod: dict) -> str | None:
    return pod["spec"].get("nodeName")


def condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in obj["status"].get("conditions", ()) if c["type"] == kind), None)


def events(sim: Simulation, reason: str) -> list[dict]:
    return [e for e in sim.recorder.events if e["reason"] == reason]


# -- scheduling ------------------------------------------------------------------------


def test_a_pod_that_fits_no_node_stays_pending_with_upstreams_failed_scheduling_message():
    sim = simulate(deployment(replicas=3, cpu="5"), nodes=[{"count": 2, "cpu": "8"}], until=60)
    pending = [p for p in pods(sim) if node_of(p) is None]
    assert len(pending) == 1
    assert pending[0]["status"]["phase"] == "Pending"
    scheduled = condition(pending[0], "PodScheduled")
    assert scheduled["status"] == "False"
    assert scheduled["reason"] == "Unschedulable"
    assert scheduled["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    (failed,) = events(sim, "FailedScheduling")
    assert failed["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    assert failed["type"] == "Warning"


def test_a_node_short_of_several_resources_reports_each_of_them():
    # NodeResourcesFit lists every insufficient resource of a node.
    sim = simulate(deployment(cpu="10", memory="64Gi"), nodes=[{"count": 2, "cpu": "8", "memory": "32Gi"}], until=10)
    (failed,) = events(sim, "FailedScheduling")
    assert failed["message"] == "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory."


def test_the_reasons_are_sorted_as_count_and_reason_strings_like_upstream():
    # FitError sorts "<count> <reason>" strings: "1 node(s)..." comes before "2 Insufficient cpu".
    sim = simulate(
        deployment(cpu="10"),
        nodes=[{"count": 3, "cpu": "8"}],
        timeline=({"at": "0s", "action": "cordon", "node": "node-1"},),
        until=10,
    )
    (failed,) = events(sim, "FailedScheduling")
    assert failed["message"] == "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."


def test_a_pending_pod_is_scheduled_once_a_terminating_pod_has_freed_its_room():
    # One 8-CPU node: `hog` (6 CPU) leaves no room for `web` (4 CPU) until hog's pod is gone.
    sim = simulate(
        deployment("hog", cpu="6"),
        deployment("web", cpu="4"),
        nodes=[{"count": 1, "cpu": "8"}],
        timeline=({"at": "60s", "action": "scale", "deployment": "hog", "replicas": 0},),
        until=60.5,
    )
    (web,) = pods(sim, "web")
    assert node_of(web) is None, "a terminating pod still holds its requests"
    assert pods(sim, "hog")[0]["metadata"]["deletionTimestamp"]
    sim.run_until(62)
    assert pods(sim, "hog") == []
    assert node_of(web) == "node-1"
    assert condition(web, "PodScheduled")["status"] == "True"
    (scheduled,) = [e for e in events(sim, "Scheduled") if e["name"] == web["metadata"]["name"]]
    assert 61 <= scheduled["t"] < 61.2


def test_replicas_spread_evenly_across_nodes():
    sim = simulate(deployment(replicas=6), nodes=[{"count": 3}], until=30)
    assert Counter(node_of(p) for p in pods(sim)) == {"node-1": 2, "node-2": 2, "node-3": 2}


def test_a_cordoned_node_takes_no_new_pods_but_keeps_its_own():
    sim = simulate(
        deployment(replicas=2),
        timeline=(
            {"at": "30s", "action": "cordon", "node": "node-1"},
            {"at": "40s", "action": "scale", "deployment": "web", "replicas": 6},
        ),
        until=60,
    )
    placed = Counter(node_of(p) for p in pods(sim))
    assert placed == {"node-1": 1, "node-2": 5}
    assert sim.store.get("Node", "", "node-1")["spec"]["unschedulable"] is True
    assert [e["reason"] for e in sim.recorder.events if e["kind"] == "Node"] == ["NodeNotSchedulable"]


def test_a_node_selector_places_pods_only_on_matching_nodes():
    sim = simulate(
        deployment(replicas=3, pod_spec={"nodeSelector": {"disk": "ssd"}}),
        nodes=[{"count": 2}, {"name": "fast", "labels": {"disk": "ssd"}}],
        until=30,
    )
    assert {node_of(p) for p in pods(sim)} == {"fast"}


def test_a_node_selector_no_node_matches_leaves_the_pod_pending():
    sim = simulate(deployment(pod_spec={"nodeSelector": {"disk": "ssd"}}), until=30)
    (failed,) = events(sim, "FailedScheduling")
    assert failed["message"] == "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."


# -- drain and PodDisruptionBudgets ----------------------------------------------------


def test_drain_cordons_the_node_and_evicts_its_pods_which_are_replaced_elsewhere():
    sim = simulate(deployment(replicas=2), timeline=({"at": "60s", "action": "drain", "node": "node-1"},), until=59)
    (victim,) = [p for p in pods(sim) if node_of(p) == "node-1"]
    sim.run_until(60)
    assert victim["metadata"]["deletionTimestamp"]
    assert [e["name"] for e in events(sim, "Evicted")] == [victim["metadata"]["name"]]
    assert sim.store.get("Node", "", "node-1")["spec"]["unschedulable"] is True
    sim.run_until(70)
    assert sim.store.find("Pod", "default", victim["metadata"]["name"]) is None
    assert [node_of(p) for p in pods(sim)] == ["node-2", "node-2"]


def test_a_pdb_with_min_available_equal_to_replicas_refuses_the_eviction_and_drain_retries_every_5_s():
    sim = simulate(
        deployment(replicas=2),
        pdb(min_available=2),
        timeline=({"at": "60s", "action": "drain", "node": "node-1"},),
        until=59,
    )
    (victim,) = [p for p in pods(sim) if node_of(p) == "node-1"]
    sim.run_until(90)
    refused = events(sim, "EvictionRefused")
    assert [e["t"] for e in refused] == [60, 65, 70, 75, 80, 85, 90]
    assert refused[0]["message"] == (
        f'error when evicting pods/"{victim["metadata"]["name"]}" -n "default" (will retry after 5s): '
        "Cannot evict pod as it would violate the pod's disruption budget."
    )
    assert not victim["metadata"].get("deletionTimestamp")
    assert sim.store.find("Pod", "default", victim["metadata"]["name"]) is victim
    assert events(sim, "Evicted") == []


def test_a_refused_eviction_goes_through_at_the_next_retry_once_the_budget_allows_it():
    # Scaling to 3 at 92 s gives a third Ready pod (on node-2) at about 93 s: the retry at 95 s evicts.
    sim = simulate(
        deployment(replicas=2),
        pdb(min_available=2),
        timeline=(
            {"at": "60s", "action": "drain", "node": "node-1"},
            {"at": "92s", "action": "scale", "deployment": "web", "replicas": 3},
        ),
        until=120,
    )
    assert [e["t"] for e in events(sim, "EvictionRefused")][-1] == 90
    assert [e["t"] for e in events(sim, "Evicted")] == [95]


# -- node failure ----------------------------------------------------------------------


def test_a_failed_nodes_pods_stay_ready_in_the_api_until_the_node_is_marked_not_ready():
    sim = simulate(deployment(replicas=4), nodes=[{"count": 3}], timeline=(FAIL_NODE_1_AT_120,))
    sim.run_until(169.9)
    on_node = [p for p in pods(sim) if node_of(p) == "node-1"]
    assert len(on_node) == 2
    assert all(condition(p, "Ready")["status"] == "True" for p in on_node), "nobody has noticed yet"
    assert condition(sim.store.get("Node", "", "node-1"), "Ready")["status"] == "True"
    # 50 s grace, checked every 5 s: at 170 s the node turns Unknown and its pods unready.
    sim.run_until(170)
    node = sim.store.get("Node", "", "node-1")
    assert condition(node, "Ready")["status"] == "Unknown"
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoSchedule"),
    }
    assert all(condition(p, "Ready")["status"] == "False" for p in on_node)
    # MarkPodsNotReady sets only the Ready condition.
    assert all(condition(p, "ContainersReady")["status"] == "True" for p in on_node)
    assert [e["t"] for e in sim.recorder.events if e["reason"] == "NodeNotReady"] == [170]


def test_a_node_failure_is_noticed_at_the_first_monitor_check_after_the_grace_period():
    sim = simulate(deployment(), timeline=({"at": "122s", "action": "fail-node", "node": "node-1"},), until=200)
    # 122 + 50 = 172: the next 5 s check is at 175 s.
    assert [e["t"] for e in events(sim, "NodeNotReady")] == [175]


def test_after_300_s_unreachable_the_pods_are_marked_for_deletion_never_removed_and_replaced_elsewhere():
    sim = simulate(deployment(replicas=4), nodes=[{"count": 3}], timeline=(FAIL_NODE_1_AT_120,))
    sim.run_until(469.9)
    on_node = [p for p in pods(sim) if node_of(p) == "node-1"]
    assert not any(p["metadata"].get("deletionTimestamp") for p in on_node)
    assert len(pods(sim)) == 4
    sim.run_until(470)
    assert all(p["metadata"].get("deletionTimestamp") for p in on_node)
    assert [e["t"] for e in events(sim, "TaintManagerEviction")] == [470, 470]
    sim.run_until(1800)
    # The dead kubelet never confirms: the pods stay Terminating for ever.
    for pod in on_node:
        assert sim.store.find("Pod", "default", pod["metadata"]["name"]) is pod
    replacements = [p for p in pods(sim) if not p["metadata"].get("deletionTimestamp")]
    assert len(replacements) == 4
    assert all(node_of(p) != "node-1" and condition(p, "Ready")["status"] == "True" for p in replacements)


@pytest.mark.parametrize(
    "toleration, evicted_at",
    [
        pytest.param({"tolerationSeconds": 30}, [200], id="tolerationSeconds 30: evicted 30 s after NotReady"),
        pytest.param({}, [], id="no tolerationSeconds: tolerated for ever"),
    ],
)
def test_a_pods_own_unreachable_toleration_replaces_the_300_s_default(toleration, evicted_at):
    tolerations = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", **toleration}]
    sim = simulate(
        deployment(replicas=2, pod_spec={"tolerations": tolerations}),
        timeline=(FAIL_NODE_1_AT_120,),
        until=1000,
    )
    assert [e["t"] for e in events(sim, "TaintManagerEviction")] == evicted_at


def test_a_pod_terminating_when_its_node_dies_stays_terminating():
    # Deleted at 60 s with a 30 s preStop; the node dies at 65 s, so nobody finishes the deletion.
    pre_stop = {"lifecycle": {"preStop": {"exec": {"command": ["sleep", "30"]}}}}
    manifest = deployment()
    manifest["spec"]["template"]["spec"]["containers"][0].update(pre_stop)
    sim = simulate(
        manifest,
        nodes=[{"count": 1}],
        timeline=(
            {"at": "60s", "action": "delete-pods", "selector": "app=web"},
            {"at": "65s", "action": "fail-node", "node": "node-1"},
        ),
        until=59,
    )
    (pod,) = pods(sim)
    sim.run_until(600)
    assert sim.store.find("Pod", "default", pod["metadata"]["name"]) is pod
    assert pod["metadata"]["deletionTimestamp"]
    assert condition(pod, "Ready")["status"] == "False", "MarkPodsNotReady covers terminating pods too"


def test_no_pod_is_placed_on_a_node_marked_not_ready():
    sim = simulate(
        deployment(replicas=1),
        timeline=(
            {"at": "10s", "action": "fail-node", "node": "node-2"},
            {"at": "100s", "action": "scale", "deployment": "web", "replicas": 5},
        ),
        until=120,
    )
    assert {node_of(p) for p in pods(sim)} == {"node-1"}
