"""The one write path (sim/cluster/api.py): every user write is admitted once, keeps what the server owns,
keeps status and spec apart, bumps the generation on spec changes, and leaves nothing half-written."""

from __future__ import annotations

import copy

import pytest

import simdeploy
from simdeploy.k8s import admission
from simdeploy.k8s.patch import JSON_PATCH, MERGE, STRATEGIC, PatchError
from simdeploy.sim.cluster.api import Invalid
from simdeploy.sim.cluster.store import Conflict

NS = "default"


def deployment(replicas: int = 4, image: str = "web:1") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def simulation(*manifests: dict) -> simdeploy.Simulation:
    versions = {f"web:{n}": {"startup": "3s", "pull": "1s"} for n in (1, 2)}
    return simdeploy.load(
        {"metadata": {"name": "t"}, "manifests": [{"inline": m} for m in manifests], "versions": versions}
    )


def web(sim) -> dict:
    return sim.store.get("Deployment", NS, "web")


@pytest.fixture
def sim():
    sim = simulation(deployment())
    sim.run_until(30)
    return sim


@pytest.fixture
def admissions(monkeypatch):
    """How many times admission ran (decode, default, validate), counted at the module every caller uses."""
    calls = []
    real = admission.admit

    def counting(obj):
        calls.append(obj.get("kind"))
        return real(obj)

    monkeypatch.setattr("simdeploy.sim.cluster.api.admit", counting)
    return calls


def test_a_spec_change_bumps_the_generation_and_the_resource_version(sim):
    d = web(sim)
    before = copy.deepcopy(d["metadata"])
    changed = copy.deepcopy(d)
    changed["spec"]["replicas"] = 6
    assert sim.api.update(d, changed) is d  # in place: controllers hold references to stored objects
    assert d["spec"]["replicas"] == 6 and d["metadata"]["generation"] == before["generation"] + 1
    assert int(d["metadata"]["resourceVersion"]) > int(before["resourceVersion"])


def test_a_label_change_moves_the_resource_version_but_not_the_generation(sim):
    d = web(sim)
    before = copy.deepcopy(d["metadata"])
    changed = copy.deepcopy(d)
    changed["metadata"]["labels"] = {"team": "payments"}
    sim.api.update(d, changed)
    assert d["metadata"]["labels"] == {"team": "payments"} and d["metadata"]["generation"] == before["generation"]
    assert d["metadata"]["resourceVersion"] != before["resourceVersion"]


def test_a_write_that_changes_nothing_once_defaulted_moves_nothing(sim):
    d = web(sim)
    before = copy.deepcopy(d)
    changed = copy.deepcopy(d)
    del changed["spec"]["revisionHistoryLimit"]  # the default (10) comes back in admission
    sim.api.update(d, changed)
    assert d == before


def test_server_owned_fields_cannot_be_set_or_removed(sim):
    d = web(sim)
    before = copy.deepcopy(d["metadata"])
    changed = copy.deepcopy(d)
    changed["metadata"].update(uid="forged", creationTimestamp="2000-01-01T00:00:00Z", generation=99)
    del changed["metadata"]["resourceVersion"]
    changed["kind"] = "ReplicaSet"
    changed["spec"]["replicas"] = 5
    sim.api.update(d, changed)
    for field in ("uid", "creationTimestamp", "name", "namespace"):
        assert d["metadata"][field] == before[field]
    assert d["metadata"]["generation"] == before["generation"] + 1 and d["kind"] == "Deployment"


def test_the_object_keeps_its_status_and_the_status_subresource_keeps_the_rest(sim):
    d = web(sim)
    status = copy.deepcopy(d["status"])
    changed = copy.deepcopy(d)
    changed["status"] = {"replicas": 99}
    changed["spec"]["paused"] = True
    sim.api.update(d, changed)
    assert d["status"] == status and d["spec"]["paused"] is True
    changed = copy.deepcopy(d)
    changed["status"]["observedGeneration"] = 42
    changed["spec"]["paused"] = False
    sim.api.update(d, changed, subresource="status")
    assert d["status"]["observedGeneration"] == 42 and d["spec"]["paused"] is True


def test_an_invalid_write_is_refused_whole_and_names_the_field(sim):
    d = web(sim)
    before = copy.deepcopy(d)
    changed = copy.deepcopy(d)
    changed["spec"]["replicas"] = -1
    changed["metadata"]["labels"] = {"team": "payments"}
    with pytest.raises(Invalid) as refused:
        sim.api.update(d, changed)
    assert [e.path for e in refused.value.errors] == ["spec.replicas"]
    assert d == before  # nothing half-written: neither the labels nor the replicas


def test_a_stale_resource_version_is_a_conflict(sim):
    d = web(sim)
    stale = str(int(d["metadata"]["resourceVersion"]) - 1)
    changed = copy.deepcopy(d)
    changed["spec"]["replicas"] = 2
    with pytest.raises(Conflict):
        sim.api.update(d, changed, expect_version=stale)
    assert d["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("patch_type", "patch"),
    [
        (MERGE, {"spec": {"replicas": 2}}),
        (STRATEGIC, {"spec": {"replicas": 2}}),
        (JSON_PATCH, [{"op": "replace", "path": "/spec/replicas", "value": 2}]),
    ],
)
def test_patches_of_each_type_go_through_the_same_write(sim, admissions, patch_type, patch):
    sim.api.patch("Deployment", NS, "web", patch_type, patch)
    assert web(sim)["spec"]["replicas"] == 2 and admissions == ["Deployment"]


def test_a_failing_json_patch_changes_nothing(sim):
    before = copy.deepcopy(web(sim))
    operations = [
        {"op": "replace", "path": "/spec/replicas", "value": 2},
        {"op": "test", "path": "/spec/paused", "value": True},
    ]
    with pytest.raises(PatchError):
        sim.api.patch("Deployment", NS, "web", JSON_PATCH, operations)
    assert web(sim) == before


def test_kubectl_commands_admit_each_write_once(sim, admissions):
    assert sim.kubectl.apply(deployment()) == "deployment/web unchanged"
    sim.kubectl.set_image(NS, "web", "web", "web:2")
    sim.kubectl.scale(NS, "web", 5)
    sim.kubectl.pause(NS, "web")
    sim.kubectl.resume(NS, "web")
    sim.kubectl.patch("Deployment", NS, "web", {"metadata": {"labels": {"a": "b"}}})
    assert admissions == ["Deployment"] * 6


def test_cordon_is_a_write_through_the_api(sim, admissions):
    sim.nodes.cordon("node-1")
    node = sim.store.get("Node", "", "node-1")
    assert node["spec"]["unschedulable"] is True and admissions == ["Node"]
