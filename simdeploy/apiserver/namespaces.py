"""Namespaces as the server shows them, and NamespaceLifecycle admission: what may be created where.

A scenario's objects live in namespaces it never declares. Those namespaces exist implicitly, as `default`,
`kube-public` and `kube-system` do: listed as Active, rendered rather than stored, so that serving a scenario
adds nothing to its store (whose every write would shift the names generated after it). The first write to an
implicit namespace (a label, a delete) stores it; from then on it is an ordinary Namespace object, deleted by
the namespace controller (sim/cluster/namespace.py). Namespaces created through the API are stored at once.
"""

from __future__ import annotations

import copy

from simdeploy.apiserver.resources import Resource
from simdeploy.apiserver.status import ApiError, not_found
from simdeploy.k8s.timeutil import format_time
from simdeploy.sim.cluster.store import Conflict, NotFound

SYSTEM = ("default", "kube-public", "kube-system")
# The namespaces NamespaceLifecycle never lets go (staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/
# lifecycle/admission.go immortalNamespaces).
IMMORTAL = SYSTEM


def namespaces_in_use(sim) -> list[str]:
    """The namespaces objects live in, and the system ones."""
    used = {o["metadata"].get("namespace") for kind in sim.store.kinds() for o in sim.store.list(kind)}
    return sorted(set(SYSTEM) | {n for n in used if n})


def _implicit(sim, name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": f"namespace-{name}",
            "resourceVersion": "1",
            "creationTimestamp": format_time(sim.store.epoch),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def listed(sim) -> list[dict]:
    """Every namespace: the stored ones and the implicit ones."""
    stored = sim.store.list("Namespace")
    names = {n["metadata"]["name"] for n in stored}
    return stored + [_implicit(sim, name) for name in namespaces_in_use(sim) if name not in names]


def find(sim, name: str) -> dict | None:
    """The namespace `name`, stored or implicit, or None."""
    stored = sim.store.find("Namespace", "", name)
    if stored is not None:
        return stored
    return _implicit(sim, name) if _in_use(sim, name) else None


def is_implicit(sim, namespace: dict) -> bool:
    return sim.store.find("Namespace", "", namespace["metadata"]["name"]) is not namespace


def store(sim, namespace: dict) -> dict:
    """Store an implicit namespace as it is shown (or as a write changed it)."""
    meta = namespace["metadata"]
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        meta.pop(field, None)
    return sim.api.create(namespace)


def write_implicit(sim, shown: dict, changed: dict, subresource: str | None, expect_version: str | None) -> dict:
    """A write to an implicit namespace: checked as any update is (sim.api.update), then stored as it turned out.

    A refused write (Invalid, Conflict) stores nothing, and neither does one that changes nothing.
    """
    if expect_version and expect_version != shown["metadata"]["resourceVersion"]:
        raise Conflict(
            f'Operation cannot be fulfilled on namespaces "{shown["metadata"]["name"]}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        )
    namespace = copy.deepcopy(shown)
    try:
        return sim.api.update(namespace, changed, subresource)  # changes nothing: still implicit
    except NotFound:  # admitted, and updated in place, but not in the store yet: store it so
        return store(sim, namespace)


def _in_use(sim, name: str) -> bool:
    return name in SYSTEM or any(sim.store.list(kind, name) for kind in sim.store.kinds())


def admit_create(sim, resource: Resource, namespace: str, name: str) -> None:
    """NamespaceLifecycle on a create in `namespace`: 404 if it does not exist, 403 while it terminates."""
    found = find(sim, namespace)
    if found is None:
        raise not_found("namespaces", namespace)
    if found.get("status", {}).get("phase") == "Terminating":
        message = f"unable to create new content in namespace {namespace} because it is being terminated"
        named = f'{resource.qualified} "{name}"' if name else resource.qualified
        cause = {
            "reason": "NamespaceTerminating",
            "message": f"namespace {namespace} is being terminated",
            "field": "metadata.namespace",
        }
        details = {"name": name, "group": resource.group, "kind": resource.plural, "causes": [cause]}
        raise ApiError(403, "Forbidden", f"{named} is forbidden: {message}", {k: v for k, v in details.items() if v})


def admit_delete(name: str) -> None:
    """NamespaceLifecycle on deleting a namespace: the system ones stay (403)."""
    if name in IMMORTAL:
        raise ApiError(
            403,
            "Forbidden",
            f'namespaces "{name}" is forbidden: this namespace may not be deleted',
            {"name": name, "kind": "namespaces"},
        )
