"""The API server's write rules over the store: defaulting, validation, graceful deletion, eviction, GC."""

from __future__ import annotations

from datetime import timedelta

from simdeploy.k8s.admission import admit
from simdeploy.k8s.pdb_util import eviction_charged_pdb, eviction_decision
from simdeploy.k8s.timeutil import format_time, sim_to_datetime
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.store import NotFound, Store


class Invalid(ValueError):
    """The object failed API validation (HTTP 422)."""

    def __init__(self, kind: str, name: str, errors: list):
        self.errors = errors
        details = "; ".join(str(error) for error in errors)
        super().__init__(f'{kind} "{name}" is invalid: {details}')


class EvictionRefused(RuntimeError):
    """The eviction would violate a PodDisruptionBudget (HTTP 429) or is not allowed."""

    def __init__(self, code: int, message: str):
        self.code = code
        super().__init__(message)


class Api:
    """Create, update, delete and evict as the API server does, on the simulation's store."""

    def __init__(self, clock: Clock, store: Store):
        self.clock = clock
        self.store = store

    def create(self, obj: dict, trusted: bool = False) -> dict:
        """Create with defaulting and validation; `trusted` skips both for objects a controller
        stamped out of an already validated template (the outcome would be the same)."""
        if trusted:
            return self.store.create(obj)
        errors = admit(obj)
        if errors:
            raise Invalid(_kind_of(obj), _name_of(obj), errors)
        return self.store.create(obj)

    def replace_spec(self, obj: dict) -> dict:
        """Record a changed spec (a user edit): default, validate and bump the generation."""
        errors = admit(obj)
        if errors:
            raise Invalid(obj["kind"], obj["metadata"]["name"], errors)
        return self.store.update(obj, spec_changed=True)

    def delete_pod(self, pod: dict, grace_seconds: int | None = None) -> None:
        """Graceful deletion: set deletionTimestamp; unscheduled or finished pods go at once."""
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return
        phase = pod.get("status", {}).get("phase")
        if grace_seconds is None:
            grace_seconds = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        if not pod["spec"].get("nodeName") or phase in ("Succeeded", "Failed") or grace_seconds == 0:
            self.store.delete("Pod", meta["namespace"], meta["name"])
            return
        deadline = sim_to_datetime(self.store.epoch, self.clock.now) + timedelta(seconds=grace_seconds)
        meta["deletionTimestamp"] = format_time(deadline)
        meta["deletionGracePeriodSeconds"] = grace_seconds
        self.store.update(pod)

    def evict(self, pod: dict) -> None:
        """The Eviction subresource: delete the pod unless a PodDisruptionBudget forbids it."""
        now = sim_to_datetime(self.store.epoch, self.clock.now)
        meta = pod["metadata"]
        pdbs = self.store.list("PodDisruptionBudget", meta["namespace"])
        code, message = eviction_decision(pod, pdbs, now)
        if code != 200:
            raise EvictionRefused(code, message)
        charged = eviction_charged_pdb(pod, pdbs, now)
        if charged is not None:
            status = charged.setdefault("status", {})
            status["disruptionsAllowed"] = status.get("disruptionsAllowed", 0) - 1
            status.setdefault("disruptedPods", {})[meta["name"]] = format_time(now)
            self.store.update(charged)
        self.delete_pod(pod)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete an object; its dependents are garbage-collected (background propagation)."""
        obj = self.store.get(kind, namespace, name)
        if kind == "Pod":
            self.delete_pod(obj)
            return
        self.store.delete(kind, namespace, name)
        self._collect_dependents(obj["metadata"]["uid"])

    def _collect_dependents(self, owner_uid: str) -> None:
        for kind in ("ReplicaSet", "Pod"):
            for dependent in self.store.owned_by(kind, owner_uid):
                meta = dependent["metadata"]
                try:
                    self.delete(kind, meta["namespace"], meta["name"])
                except NotFound:
                    pass


def _kind_of(obj: dict) -> str:
    return str(obj.get("kind") or "object")


def _name_of(obj: dict) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, dict) else ""
