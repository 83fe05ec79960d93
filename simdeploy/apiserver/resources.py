"""The resources the API server serves: group, version, plural, kind, scope and where the objects come from."""

from __future__ import annotations

from dataclasses import dataclass

STORE = "store"  # objects live in sim.store under `kind`; watchable through the change history
REVIEW = "review"  # created to be answered, never stored: what a caller asks about itself (reviews.py)
READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "delete", "deletecollection", "patch", "update")  # the writes writes.py implements
SCALABLE = ("Deployment", "ReplicaSet", "Rollout")


@dataclass(frozen=True)
class Resource:
    """One REST resource, e.g. apps/v1 deployments."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    source: str = STORE  # REVIEW, or the name of a view rendered from the simulation (see views.py)
    deletecollection: bool = True  # namespaces go one at a time (their registry has no DeleteCollection)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """How error messages name it: `pods`, `deployments.apps` (apimachinery's GroupResource)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def verbs(self) -> tuple[str, ...]:
        if self.source == REVIEW:
            return ("create",)
        if self.source != STORE:
            return ("get", "list")
        return tuple(v for v in READ_VERBS + WRITE_VERBS if self.deletecollection or v != "deletecollection")

    @property
    def subresources(self) -> tuple[tuple[str, str, str, str, tuple[str, ...]], ...]:
        """(subresource, group, version, kind, verbs) for discovery: status, scale, eviction."""
        if self.source != STORE:
            return ()
        found = [("status", self.group, self.version, self.kind, ("get", "patch", "update"))]
        if self.kind in SCALABLE:
            found.append(("scale", "autoscaling", "v1", "Scale", ("get", "patch", "update")))
        if self.kind == "Pod":
            found.append(("eviction", "policy", "v1", "Eviction", ("create",)))
        return tuple(found)


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "pods", "Pod", short_names=("po",), categories=("all",)),
    Resource("", "v1", "services", "Service", short_names=("svc",), categories=("all",)),
    Resource("", "v1", "endpoints", "Endpoints", short_names=("ep",), source="endpoints"),
    Resource("", "v1", "events", "Event", short_names=("ev",), source="events"),
    Resource("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",), deletecollection=False),
    Resource("", "v1", "nodes", "Node", namespaced=False, short_names=("no",)),
    Resource("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=("all",)),
    Resource("batch", "v1", "jobs", "Job", categories=("all",)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",)),
    Resource("argoproj.io", "v1alpha1", "rollouts", "Rollout", short_names=("ro",)),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, source=REVIEW),
    Resource("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, source=REVIEW),
    Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, source=REVIEW),
)

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(r.group for r in RESOURCES if r.group))


def find(group: str, version: str, plural: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def in_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if (r.group, r.version) == (group, version)]


def store_kinds() -> list[str]:
    return [r.kind for r in RESOURCES if r.source == STORE]
