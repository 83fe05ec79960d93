"""Measurements over a run: pods, availability, surge and rollouts, per Deployment and cluster-wide."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.cluster.store import DELETED, Store, controller_uid
from simdeploy.sim.recorder import Recorder


@dataclass
class Rollout:
    """One rollout: the Deployment moved to a new (or an older) template."""

    revision: int
    started: float
    completed: float | None = None


@dataclass
class DeploymentMeasure:
    """What was observed of one Deployment."""

    name: str
    replicas: int = 0
    active_pods: int = 0  # pods not terminating and not finished
    pods: int = 0  # pods existing, terminating included
    peak_pods: int = 0  # most active pods at once
    peak_pods_including_terminating: int = 0
    available: int = 0
    min_available: int | None = None
    serving: int = 0  # pods Ready whose app can really serve
    min_serving: int | None = None
    max_surge: int = 0
    max_unavailable: int = 0
    deadline_exceeded: bool = False  # ever
    timed_out: bool = False  # now
    revision: str | None = None
    generation: int = 0
    spec_changed_at: float = 0.0
    image: str | None = None
    rollouts: list[Rollout] = field(default_factory=list)
    replica_sets: dict[str, int] = field(default_factory=dict)  # RS name -> available

    @property
    def rolling_out(self) -> bool:
        return bool(self.rollouts)

    def observe(self) -> None:
        """Update the extremes once any field changed."""
        self.peak_pods = max(self.peak_pods, self.active_pods)
        self.peak_pods_including_terminating = max(self.peak_pods_including_terminating, self.pods)
        if self.rolling_out:
            self.min_available = _least(self.min_available, self.available)
            self.min_serving = _least(self.min_serving, self.serving)
            self.max_unavailable = max(self.max_unavailable, self.replicas - self.available)
            self.max_surge = max(self.max_surge, self.active_pods - self.replicas)


def _least(current: int | None, value: int) -> int:
    return value if current is None else min(current, value)


class Measurements:
    """Watches the store and keeps the figures that the result summary reports."""

    def __init__(self, store: Store, now: Callable[[], float], recorder: Recorder | None = None):
        self.store = store
        self.now = now
        self.recorder = recorder
        self.deployments: dict[str, DeploymentMeasure] = {}
        self.pods = 0  # existing, terminating included
        self.active_pods = 0
        self.peak_pods = 0
        self.peak_pods_including_terminating = 0
        self._rs_owner: dict[str, DeploymentMeasure] = {}  # RS uid -> its Deployment's measure
        self._pod_state: dict[str, PodState] = {}
        self._serving: dict[str, int] = {}  # ReplicaSet name -> its pods Ready and really serving
        store.watch("Deployment", self._on_deployment)
        store.watch("ReplicaSet", self._on_replica_set)
        store.watch("Pod", self._on_pod)

    def _name_of(self, meta: dict, name: str | None = None) -> str:
        # Results name objects outside the first workload's namespace `namespace/name` (sim/recorder.py).
        if self.recorder is None:
            return meta["name"] if name is None else name
        return self.recorder.name_of(meta, name)

    def _on_deployment(self, event_type: str, d: dict) -> None:
        name = self._name_of(d["metadata"])
        measure = self.deployments.setdefault(name, DeploymentMeasure(name))
        if event_type == DELETED:
            return
        measure.replicas = d["spec"].get("replicas", 1)
        measure.image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        revision = (d["metadata"].get("annotations") or {}).get(du.REVISION_ANNOTATION)
        now = self.now()
        if d["metadata"].get("generation", 0) != measure.generation:
            measure.generation = d["metadata"].get("generation", 0)
            measure.spec_changed_at = now
        if revision is not None and revision != measure.revision:
            if measure.revision is not None:
                # The rollout began when the user changed the template, not when the controller saw it.
                measure.rollouts.append(Rollout(int(revision), measure.spec_changed_at))
            measure.revision = revision
        status = d.get("status", {})
        condition = du.get_deployment_condition(status, du.DEPLOYMENT_PROGRESSING)
        timed_out = condition is not None and condition.get("reason") == du.TIMED_OUT_REASON
        if timed_out and not measure.timed_out and self.recorder is not None:
            # Not an API event upstream, but the moment `kubectl rollout status` gives up.
            self.recorder.event(
                "Deployment", d["metadata"]["name"], du.TIMED_OUT_REASON, condition["message"], warning=True
            )
        measure.timed_out = timed_out
        measure.deadline_exceeded = measure.deadline_exceeded or timed_out
        current = measure.rollouts[-1] if measure.rollouts else None
        if current is not None and current.completed is None and du.deployment_complete(d, status):
            current.completed = now
        measure.observe()

    def _on_replica_set(self, event_type: str, rs: dict) -> None:
        owner = controller_uid(rs)
        if owner is None:
            return
        uid = rs["metadata"]["uid"]
        measure = self._rs_owner.get(uid)
        if measure is None:
            deployment = self._deployment_named(rs)
            if deployment is None:
                return
            measure = self.deployments.setdefault(deployment, DeploymentMeasure(deployment))
            self._rs_owner[uid] = measure
        available = 0 if event_type == DELETED else rs.get("status", {}).get("availableReplicas", 0)
        measure.replica_sets[rs["metadata"]["name"]] = available
        measure.available = sum(measure.replica_sets.values())
        measure.observe()

    def _deployment_named(self, rs: dict) -> str | None:
        for ref in rs["metadata"].get("ownerReferences") or ():
            if ref.get("controller") and ref["kind"] == "Deployment":
                return self._name_of(rs["metadata"], ref["name"])
        return None

    def _on_pod(self, event_type: str, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        before = self._pod_state.get(uid, _NO_POD)
        finished = pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
        counted = event_type != DELETED and not finished
        active = counted and not pod["metadata"].get("deletionTimestamp")
        ready = active and _is_ready(pod)
        self._update(pod, before, PodState(counted, active, ready, before.serving and counted))

    def serving_changed(self, pod: dict, serving: bool) -> None:
        """The kubelet says whether the pod's app really answers requests now."""
        before = self._pod_state.get(pod["metadata"]["uid"], _NO_POD)
        self._update(pod, before, PodState(before.counted, before.active, before.ready, serving))

    def _update(self, pod: dict, before: PodState, after: PodState) -> None:
        if after == before:
            return
        uid = pod["metadata"]["uid"]
        if after.counted or after.serving:
            self._pod_state[uid] = after
        else:
            self._pod_state.pop(uid, None)
        self.pods += after.counted - before.counted
        self.active_pods += after.active - before.active
        serving = after.ready_and_serving - before.ready_and_serving
        if serving and self.recorder is not None:
            owner = _replica_set_of(pod)
            if owner is not None:
                owner = self._name_of(pod["metadata"], owner)
                self._serving[owner] = self._serving.get(owner, 0) + serving
                self.recorder.serving(owner, self._serving[owner])
        self.peak_pods = max(self.peak_pods, self.active_pods)
        self.peak_pods_including_terminating = max(self.peak_pods_including_terminating, self.pods)
        measure = self._rs_owner.get(controller_uid(pod) or "")
        if measure is not None:
            measure.pods += after.counted - before.counted
            measure.active_pods += after.active - before.active
            measure.serving += after.ready_and_serving - before.ready_and_serving
            measure.observe()


class PodState(NamedTuple):  # a tuple: made for every pod event, so cheap to build
    counted: bool  # exists and has not finished (terminating included)
    active: bool  # counted and not terminating
    ready: bool  # active and its Ready condition is True
    serving: bool  # its app really answers requests (from the kubelet)

    @property
    def ready_and_serving(self) -> bool:
        return self.ready and self.serving


_NO_POD = PodState(False, False, False, False)


def _replica_set_of(pod: dict) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or ():
        if ref.get("controller") and ref["kind"] == "ReplicaSet":
            return ref["name"]
    return None


def _is_ready(pod: dict) -> bool:
    for condition in pod.get("status", {}).get("conditions", ()):
        if condition["type"] == "Ready":
            return condition["status"] == "True"
    return False
