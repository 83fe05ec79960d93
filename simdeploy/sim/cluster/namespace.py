"""The namespace controller: empties a terminating Namespace, waits for its pods to go, then removes it.

Follows pkg/controller/namespace/deletion/namespaced_resources_deleter.go: every namespaced object in the
namespace is deleted (pods gracefully, dependents with their owners), the namespace's conditions say what
remains, and once nothing does the `kubernetes` finalizer is removed and the Namespace is gone.
"""

from __future__ import annotations

from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import NAMESPACE_FINALIZER, Api
from simdeploy.sim.cluster.store import DELETED, NotFound, Store
from simdeploy.sim.workqueue import WorkQueue

# The conditions the controller keeps on a terminating namespace, in its order, when nothing fails:
# (type, reason, message). NamespaceContentRemaining turns True while objects remain.
_SETTLED = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)


class NamespaceController:
    """Deletes what each terminating Namespace holds, then the Namespace itself."""

    def __init__(self, clock: Clock, store: Store, api: Api, latency: float):
        self.clock = clock
        self.store = store
        self.api = api
        self.queue = WorkQueue(clock, latency, self.sync)
        self.terminating: set[str] = set()
        store.watch("Namespace", self._on_namespace)
        store.watch("Pod", self._on_pod)

    def _on_namespace(self, event_type: str, namespace: dict) -> None:
        name = namespace["metadata"]["name"]
        if event_type == DELETED:
            self.terminating.discard(name)
        elif namespace["metadata"].get("deletionTimestamp") and name not in self.terminating:
            self.terminating.add(name)
            self.queue.add(name)

    def _on_pod(self, event_type: str, pod: dict) -> None:
        # The last pod leaving is what a terminating namespace waits for (the upstream controller polls instead).
        if event_type == DELETED and self.terminating and pod["metadata"].get("namespace") in self.terminating:
            self.queue.add(pod["metadata"]["namespace"])

    def sync(self, name: str) -> None:
        namespace = self.store.find("Namespace", "", name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            self.terminating.discard(name)
            return
        remaining = self._delete_all_content(name)
        self._set_conditions(namespace, remaining)
        if remaining:
            return  # a pod's DELETED event brings it back
        spec = namespace.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != NAMESPACE_FINALIZER]
        if spec["finalizers"]:  # someone else's finalizer: the namespace stays until they remove it
            self.store.update(namespace)
            return
        self.store.delete("Namespace", "", name)

    def _delete_all_content(self, name: str) -> dict[str, int]:
        """Delete every object in the namespace; the resources that still have some (pods terminating)."""
        kinds = [kind for kind in self.store.kinds() if kind not in ("Namespace", "Pod")] + ["Pod"]
        for kind in kinds:  # owners before pods: a ReplicaSet left alive would replace the pods deleted
            for obj in self.store.list(kind, name):
                try:
                    self.api.delete(kind, name, obj["metadata"]["name"])
                except NotFound:  # collected with its owner a moment ago
                    pass
        remaining = {}
        for kind in kinds:
            count = len(self.store.list(kind, name))
            if count:
                remaining[kind] = count
        return remaining

    def _set_conditions(self, namespace: dict, remaining: dict[str, int]) -> None:
        stamp = self.store.timestamp()
        status = namespace.setdefault("status", {})
        old = {c["type"]: c for c in status.get("conditions") or ()}
        conditions = []
        for kind, reason, message in _SETTLED:
            state = "False"
            if kind == "NamespaceContentRemaining" and remaining:
                # `pods. has 2 resource instances`: resource.group, empty for the core group.
                listed = ", ".join(sorted(f"{_resource(k)} has {n} resource instances" for k, n in remaining.items()))
                state, reason, message = "True", "SomeResourcesRemain", f"Some resources are remaining: {listed}"
            before = old.get(kind)
            unchanged = before is not None and before.get("status") == state
            conditions.append(
                {
                    "type": kind,
                    "status": state,
                    "lastTransitionTime": before["lastTransitionTime"] if unchanged else stamp,
                    "reason": reason,
                    "message": message,
                }
            )
        if conditions != status.get("conditions"):
            status["conditions"] = conditions
            self.store.update(namespace)


_GROUPS = {
    "Deployment": "apps",
    "ReplicaSet": "apps",
    "PodDisruptionBudget": "policy",
    "Rollout": "argoproj.io",
    "AnalysisRun": "argoproj.io",
    "AnalysisTemplate": "argoproj.io",
}


def _resource(kind: str) -> str:
    """`pods.`, `deployments.apps`: how the controller names a resource in its conditions."""
    plural = kind.lower() + ("es" if kind.endswith("s") else "s")
    return f"{plural}.{_GROUPS.get(kind, '')}"
