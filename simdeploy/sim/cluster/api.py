"""The API server's write rules over the store: the one path every user write takes, deletion, eviction, GC.

kubectl (sim/cluster/kubectl.py), `simdeploy serve` (apiserver/writes.py) and the Argo Rollouts commands all
write through `Api.create`, `Api.update` and `Api.patch`: decoded, defaulted and validated once
(k8s/admission.py), server-owned fields kept, the status kept apart from the spec as the registry's
PrepareForUpdate does (pkg/registry/apps/deployment/strategy.go and its siblings), and the generation bumped
when the spec changes. Controllers stamp out objects from validated templates and write their own status
directly on the store.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import timedelta

from simdeploy.k8s import patch as patches
from simdeploy.k8s.admission import admit
from simdeploy.k8s.image_policy import Denial
from simdeploy.k8s.immutable import update_errors
from simdeploy.k8s.job_util import generate_selector
from simdeploy.k8s.pdb_util import eviction_charged_pdb, eviction_decision
from simdeploy.k8s.timeutil import format_time, sim_to_datetime
from simdeploy.k8s.validation import FieldError
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.store import Conflict, NotFound, Store

# The fields of metadata that only the server writes (a user's write can neither set nor remove them).
SERVER_OWNED = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# Kinds with a status subresource: a write of the object keeps the stored status, a write of /status
# keeps everything else.
WITH_STATUS = {
    "Deployment",
    "ReplicaSet",
    "Pod",
    "Service",
    "Node",
    "Namespace",
    "PodDisruptionBudget",
    "Rollout",
    "Job",
}
# What the registry fills in once a new object has its uid (pkg/registry/batch/job/strategy.go PrepareForCreate).
PREPARE_FOR_CREATE = {"Job": generate_selector}
NAMESPACE_FINALIZER = "kubernetes"  # the namespace controller's: removed once the namespace is empty
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class Invalid(ValueError):
    """The object failed API validation (HTTP 422)."""

    def __init__(self, kind: str, name: str, errors: list[FieldError]):
        self.kind = kind
        self.name = name
        self.errors = errors
        details = "; ".join(str(error) for error in errors)
        super().__init__(f'{kind} "{name}" is invalid: {details}')


class Denied(Invalid):
    """An admission policy refused the write (k8s/image_policy.py): its Status is the policy's, not a 422 of fields."""

    def __init__(self, kind: str, name: str, denial: Denial):
        self.kind = kind
        self.name = name
        self.denial = denial
        self.errors = [FieldError("", denial.message)]
        ValueError.__init__(self, denial.message)


class EvictionRefused(RuntimeError):
    """The eviction would violate a PodDisruptionBudget (HTTP 429) or is not allowed."""

    def __init__(self, code: int, message: str):
        self.code = code
        super().__init__(message)


class Api:
    """Create, update, patch, delete and evict as the API server does, on the simulation's store."""

    def __init__(self, clock: Clock, store: Store):
        self.clock = clock
        self.store = store
        # Validating admission after the built-in checks (policies, webhooks): each returns a Denial or None.
        self.policies: list[Callable[[dict], Denial | None]] = []

    # -- writes ----------------------------------------------------------------

    def create(self, obj: dict, trusted: bool = False) -> dict:
        """Store a new object, decoded, defaulted and validated; `trusted` skips admission for objects a
        controller stamped out of an already validated template (the outcome would be the same)."""
        if not trusted:
            errors = admit(obj)
            if obj.get("kind") == "Namespace" and not errors:
                errors = _prepare_namespace(obj)
            if errors:
                raise Invalid(_kind_of(obj), _name_of(obj), errors)
            self._police(obj)
        return self.store.create(obj, PREPARE_FOR_CREATE.get(obj["kind"]))

    def update(
        self, stored: dict, changed: dict, subresource: str | None = None, expect_version: str | None = None
    ) -> dict:
        """Write `changed`, a new version of the stored object `stored`, as one user write.

        `changed` is consumed (defaulted in place). A write that changes nothing leaves the object and its
        resourceVersion as they were, as on the real API server. Raises Invalid, Conflict.
        """
        meta = stored["metadata"]
        if expect_version and expect_version != meta.get("resourceVersion"):
            raise Conflict(
                f'Operation cannot be fulfilled on {stored["kind"].lower()}s "{meta["name"]}": the object has been '
                "modified; please apply your changes to the latest version and try again"
            )
        if not isinstance(changed.get("metadata", {}), dict):
            raise Invalid(stored["kind"], meta["name"], [FieldError("metadata", "Invalid value: expected a mapping")])
        if subresource == "status":
            status, changed = changed.get("status"), copy.deepcopy(stored)
            changed.pop("status", None)
            if status is not None:
                changed["status"] = status
        elif stored["kind"] in WITH_STATUS:
            changed.pop("status", None)
            if "status" in stored:
                changed["status"] = copy.deepcopy(stored["status"])
        _keep_server_fields(stored, changed)
        if stored["kind"] == "Namespace" and isinstance(changed.get("spec", {}), dict):
            # Only the namespace controller changes them, through /finalize (pkg/registry/core/namespace/strategy.go).
            spec = changed["spec"] = {k: v for k, v in changed.get("spec", {}).items() if k != "finalizers"}
            if "finalizers" in stored.get("spec", {}):
                spec["finalizers"] = copy.deepcopy(stored["spec"]["finalizers"])
            _label_namespace(changed)
        if changed == stored:
            return stored
        errors = admit(changed)
        if not errors and subresource != "status":
            errors = update_errors(stored, changed)
        if errors:
            raise Invalid(stored["kind"], meta["name"], errors)
        if changed == stored:  # equal once defaulted: nothing moves
            return stored
        if subresource != "status":
            self._police(changed)
        spec_changed = changed.get("spec") != stored.get("spec")
        stored.clear()  # in place: controllers and kubelets hold references to stored objects
        stored.update(changed)
        return self.store.update(stored, spec_changed=spec_changed)

    def patch(
        self, kind: str, namespace: str, name: str, patch_type: str, patch: object, subresource: str | None = None
    ) -> dict:
        """Apply a decoded patch (k8s/patch.py: merge, strategic, json) to a stored object and write it.

        Raises NotFound, PatchError, Invalid.
        """
        stored = self.store.get(kind, namespace, name)
        return self.update(stored, patches.apply_patch(stored, patch_type, patch), subresource)

    def _police(self, obj: dict) -> None:
        for policy in self.policies:
            denial = policy(obj)
            if denial is not None:
                raise Denied(_kind_of(obj), _name_of(obj), denial)

    # -- deletion --------------------------------------------------------------

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

    def delete_namespace(self, name: str) -> dict:
        """Begin deleting a Namespace: Terminating with a deletionTimestamp until the namespace controller has
        emptied it (sim/cluster/namespace.py); one without finalizers goes at once. Returns the Namespace.

        Follows pkg/registry/core/namespace/storage/storage.go Delete. Raises NotFound.
        """
        namespace = self.store.get("Namespace", "", name)
        meta = namespace["metadata"]
        if meta.get("deletionTimestamp"):
            return namespace
        if not (namespace.get("spec") or {}).get("finalizers"):
            return self.store.delete("Namespace", "", name)
        meta["deletionTimestamp"] = format_time(sim_to_datetime(self.store.epoch, self.clock.now))
        namespace.setdefault("status", {})["phase"] = "Terminating"
        return self.store.update(namespace)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete an object; its dependents are garbage-collected (background propagation)."""
        obj = self.store.get(kind, namespace, name)
        if kind == "Pod":
            self.delete_pod(obj)
            return
        if kind == "Namespace":
            self.delete_namespace(name)
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


def _keep_server_fields(stored: dict, changed: dict) -> None:
    """What the client sent for server-owned fields is replaced by the stored values (or dropped)."""
    meta = changed.setdefault("metadata", {})
    for field in SERVER_OWNED:
        if field in stored["metadata"]:
            meta[field] = stored["metadata"][field]
        else:
            meta.pop(field, None)
    changed["kind"] = stored["kind"]
    changed["apiVersion"] = stored.get("apiVersion")


def _prepare_namespace(namespace: dict) -> list[FieldError]:
    """A new Namespace as the registry stores it (pkg/registry/core/namespace/strategy.go PrepareForCreate): Active,
    with the `kubernetes` finalizer; its name must be a DNS-1123 label (apimachinery ValidateNamespaceName)."""
    name = namespace["metadata"].get("name")
    if isinstance(name, str) and (len(name) > 63 or not _DNS1123_LABEL.fullmatch(name)):
        return [
            FieldError(
                "metadata.name",
                f"Invalid value: {name!r}: a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character (at most 63 characters)",
            )
        ]
    spec = namespace.get("spec")
    spec = namespace["spec"] = dict(spec) if isinstance(spec, dict) else {}
    finalizers = list(spec.get("finalizers") or [])
    spec["finalizers"] = finalizers if NAMESPACE_FINALIZER in finalizers else [*finalizers, NAMESPACE_FINALIZER]
    namespace["status"] = {"phase": "Active"}
    _label_namespace(namespace)
    return []


def _label_namespace(namespace: dict) -> None:
    # Every namespace carries its name as a label, so that selectors can pick namespaces by name
    # (pkg/apis/core/v1/defaults.go SetDefaults_Namespace).
    meta = namespace["metadata"]
    labels = meta.get("labels") or {}
    if isinstance(labels, dict):  # anything else is admission's to refuse
        meta["labels"] = {**labels, "kubernetes.io/metadata.name": meta["name"]}


def _kind_of(obj: dict) -> str:
    return str(obj.get("kind") or "object")


def _name_of(obj: dict) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, dict) else ""
