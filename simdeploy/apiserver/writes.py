"""Writes through the simulation's API rules: patch, replace, the scale subresource, delete, eviction, create."""

from __future__ import annotations

import copy

from simdeploy.apiserver import namespaces, patches
from simdeploy.apiserver.bodies import decode_body
from simdeploy.apiserver.resources import STORE, Resource
from simdeploy.apiserver.status import ApiError, bad_request, method_not_allowed, not_found
from simdeploy.k8s.validation import FieldError
from simdeploy.scenario.limits import scale_problem
from simdeploy.sim.cluster.api import Denied, EvictionRefused, Invalid
from simdeploy.sim.cluster.store import AlreadyExists, Conflict, NotFound

_SCALABLE = ("Deployment", "Rollout", "ReplicaSet")


def _stored(sim, resource: Resource, namespace: str | None, name: str) -> dict:
    if resource.source != STORE:
        raise ApiError(405, "MethodNotAllowed", f"{resource.plural} are read-only in the simulation")
    if resource.kind == "Namespace":
        obj = namespaces.find(sim, name)
    else:
        obj = sim.store.find(resource.kind, namespace or "", name)
    if obj is None:
        raise not_found(resource.qualified, name)
    return obj


def _invalid(error: Invalid, resource: Resource) -> ApiError:
    if isinstance(error, Denied):  # an admission policy's refusal carries its own Status
        denial = error.denial
        return ApiError(denial.code, denial.reason, denial.message, denial.details)
    # With `field` set, kubectl prints "The Deployment "x" is invalid: spec.replicas: Invalid value: ...".
    causes = [{"reason": "FieldValueInvalid", "message": e.message, "field": e.path} for e in error.errors]
    return ApiError(422, "Invalid", str(error), {"name": error.name, "kind": resource.kind, "causes": causes})


def _within_limits(sim, resource: Resource, obj: dict, before: dict | None = None) -> None:
    """A workload's replicas far beyond what the nodes hold cannot be simulated (scenario/limits.py): 422."""
    spec = obj.get("spec")
    if resource.kind not in _SCALABLE or not isinstance(spec, dict):
        return
    replicas = spec.get("replicas")
    earlier = ((before or {}).get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas == earlier:
        return
    problem = scale_problem(obj, replicas, sim.store.list("Node"))
    if problem is not None:
        name = (obj.get("metadata") or {}).get("name", "")
        raise _invalid(
            Invalid(resource.kind, name, [FieldError("spec.replicas", f"Invalid value: {problem}")]), resource
        )


def _write(sim, resource: Resource, stored: dict, changed: dict, subresource=None, expect_version=None) -> dict:
    """The one write (sim/cluster/api.py Api.update), its refusals as API Statuses."""
    if subresource != "status":
        _within_limits(sim, resource, changed, stored)
    try:
        if resource.kind == "Namespace" and namespaces.is_implicit(sim, stored):
            return namespaces.write_implicit(sim, stored, changed, subresource, expect_version)
        return sim.api.update(stored, changed, subresource, expect_version)
    except Invalid as error:
        raise _invalid(error, resource) from None
    except Conflict as error:
        raise ApiError(409, "Conflict", str(error)) from None


def patch(sim, resource: Resource, namespace: str | None, name: str, subresource: str | None, ctype: str, body: bytes):
    """PATCH an object (or its status or scale); returns (code, document)."""
    if subresource == "scale":
        return 200, patch_scale(sim, resource, namespace, name, ctype, body)
    if patches.is_apply(ctype) and subresource is None and _missing(sim, resource, namespace, name):
        return _apply_create(sim, resource, namespace, name, body)
    stored = _stored(sim, resource, namespace, name)
    return 200, _write(sim, resource, stored, patches.apply(stored, ctype, body), subresource)


def replace(sim, resource: Resource, namespace: str | None, name: str, subresource: str | None, body: bytes) -> dict:
    """PUT a whole object (kubectl replace, client update): its resourceVersion, if sent, is a precondition."""
    stored = _stored(sim, resource, namespace, name)
    sent = decode_body(body)
    meta = _mapping(sent, "metadata")
    if meta.get("name") != name:
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    for field, expected in (("kind", resource.kind), ("apiVersion", resource.group_version)):
        if sent.get(field) not in (None, expected):
            raise bad_request(f"{field} {sent[field]!r} does not match the URL ({expected})")
    if resource.namespaced and meta.get("namespace") not in (None, namespace):
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    return _write(sim, resource, stored, sent, subresource, meta.get("resourceVersion"))


def _mapping(document: dict, key: str) -> dict:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise bad_request(f"{key} must be an object")
    return value


# -- the scale subresource -------------------------------------------------------


def _selector_text(obj: dict) -> str:
    selector = obj["spec"].get("selector") or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for requirement in selector.get("matchExpressions") or ():
        values = ",".join(requirement.get("values") or ())
        operator = requirement["operator"]
        if operator in ("In", "NotIn"):
            parts.append(f"{requirement['key']} {operator.lower()} ({values})")
        else:
            parts.append(requirement["key"] if operator == "Exists" else f"!{requirement['key']}")
    return ",".join(parts)


def scale_of(obj: dict) -> dict:
    """The autoscaling/v1 Scale of a Deployment (or Rollout, ReplicaSet)."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": _selector_text(obj)},
    }


def _scalable(sim, resource: Resource, namespace: str | None, name: str) -> dict:
    if resource.kind not in _SCALABLE:
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
    return _stored(sim, resource, namespace, name)


def get_scale(sim, resource: Resource, namespace: str | None, name: str) -> dict:
    return scale_of(_scalable(sim, resource, namespace, name))


def _set_replicas(sim, resource: Resource, obj: dict, scale: dict, expect_version: str | None = None) -> dict:
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(
            422, "Invalid", f'Scale.autoscaling "{obj["metadata"]["name"]}" is invalid: spec.replicas: {replicas!r}'
        )
    changed = copy.deepcopy(obj)
    changed["spec"]["replicas"] = replicas
    _write(sim, resource, obj, changed, expect_version=expect_version)
    return scale_of(obj)


def patch_scale(sim, resource: Resource, namespace: str | None, name: str, ctype: str, body: bytes) -> dict:
    obj = _scalable(sim, resource, namespace, name)
    return _set_replicas(sim, resource, obj, patches.apply(scale_of(obj), ctype, body))


def put_scale(sim, resource: Resource, namespace: str | None, name: str, body: bytes) -> dict:
    """PUT …/scale: a whole Scale (kubectl sends no Content-Type); its resourceVersion is a precondition."""
    obj = _scalable(sim, resource, namespace, name)
    scale = decode_body(body)
    return _set_replicas(sim, resource, obj, scale, _mapping(scale, "metadata").get("resourceVersion"))


# -- delete, eviction, create ------------------------------------------------------


def _success(resource: Resource, name: str, uid: str, code: int = 200) -> dict:
    details = {"name": name, "kind": resource.plural, "uid": uid}
    if resource.group:
        details["group"] = resource.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details, "code": code}


def delete(sim, resource: Resource, namespace: str | None, name: str, body: bytes, params: dict) -> dict:
    """DELETE: pods go gracefully and the reply is the Pod (clients decode it as one); others get a Status."""
    obj = _stored(sim, resource, namespace, name)
    options = decode_body(body)
    wanted = _mapping(options, "preconditions").get("resourceVersion")
    if wanted and wanted != obj["metadata"].get("resourceVersion"):
        raise ApiError(409, "Conflict", _modified(f"{obj['kind'].lower()}s", name))
    if resource.kind == "Namespace":
        return _delete_namespace(sim, obj)
    grace = options.get("gracePeriodSeconds", params.get("gracePeriodSeconds"))
    if resource.kind == "Pod":
        try:
            grace = None if grace in (None, "") else int(grace)
        except ValueError:
            raise bad_request(f"invalid gracePeriodSeconds {grace!r}") from None
        sim.api.delete_pod(obj, grace)
        return copy.deepcopy(obj)
    uid = obj["metadata"]["uid"]
    try:
        sim.api.delete(resource.kind, namespace or "", name)
    except NotFound:
        raise not_found(resource.qualified, name) from None
    return _success(resource, name, uid)


def _modified(plural: str, name: str) -> str:
    return (
        f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def _delete_namespace(sim, namespace: dict) -> dict:
    """DELETE of a namespace: refused for the system ones, else Terminating until emptied; the reply is the
    Namespace, as the real server's (it is not gone yet)."""
    name = namespace["metadata"]["name"]
    namespaces.admit_delete(name)
    if namespaces.is_implicit(sim, namespace):
        namespaces.store(sim, namespace)
    return copy.deepcopy(sim.api.delete_namespace(name))


def delete_collection(sim, resource: Resource, namespace: str | None, selectors, body: bytes, params: dict) -> dict:
    """DELETE on a collection (deletecollection): each object the selectors match, as one DELETE each would.

    The answer is the list of what was deleted, pods in their graceful-deletion state (as the registry's
    DeleteCollection returns them).
    """
    if resource.source != STORE or not resource.deletecollection:
        raise method_not_allowed("DELETE")
    kind = resource.kind
    matched = [o for o in sim.store.list(kind, namespace) if selectors.matches(o)]
    deleted = []
    for obj in matched:
        meta = obj["metadata"]
        answer = delete(sim, resource, meta.get("namespace") or None, meta["name"], body, params)
        deleted.append(answer if answer.get("kind") == kind else copy.deepcopy(obj))
    return {
        "kind": f"{kind}List",
        "apiVersion": resource.group_version,
        "metadata": {"resourceVersion": str(sim.store.resource_version)},
        "items": deleted,
    }


def evict(sim, resource: Resource, namespace: str | None, name: str) -> tuple[int, dict]:
    """POST …/pods/NAME/eviction: 201 and a Status, or 429 TooManyRequests when a PodDisruptionBudget refuses."""
    if resource.kind != "Pod":
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
    pod = _stored(sim, resource, namespace, name)
    try:
        sim.api.evict(pod)
    except EvictionRefused as refused:
        reason = "TooManyRequests" if refused.code == 429 else "Forbidden"
        causes = [{"reason": "DisruptionBudget", "message": str(refused)}] if refused.code == 429 else []
        raise ApiError(refused.code, reason, str(refused), {"causes": causes}) from None
    return 201, _success(resource, name, pod["metadata"]["uid"], 201)


def _missing(sim, resource: Resource, namespace: str | None, name: str) -> bool:
    if resource.kind == "Namespace":
        return namespaces.find(sim, name) is None
    return resource.source == STORE and sim.store.find(resource.kind, namespace or "", name) is None


def _apply_create(sim, resource: Resource, namespace: str | None, name: str, body: bytes) -> tuple[int, dict]:
    """Server-side apply of a missing object creates it (201), named by the URL."""
    obj = patches.apply({}, patches.APPLY, body)
    meta = _mapping(obj, "metadata")
    if meta.get("name") not in (None, name):
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    obj["metadata"] = {**meta, "name": name}
    return _create_object(sim, resource, namespace, obj)


def create(sim, resource: Resource, namespace: str | None, body: bytes) -> tuple[int, dict]:
    """POST a new object: defaulted and validated by sim.api.create; 201 and the stored object."""
    return _create_object(sim, resource, namespace, decode_body(body))


def _create_object(sim, resource: Resource, namespace: str | None, obj: dict) -> tuple[int, dict]:
    if resource.source != STORE:
        raise method_not_allowed("POST")
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise _invalid(
            Invalid(resource.kind, "", [FieldError("metadata", "Invalid value: expected a mapping")]), resource
        )
    if resource.namespaced:
        if meta.get("namespace") not in (None, namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    obj["kind"], obj["apiVersion"] = resource.kind, resource.group_version
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        meta.pop(field, None)
    name = meta.get("name") if isinstance(meta.get("name"), str) else ""
    if resource.namespaced:
        namespaces.admit_create(sim, resource, namespace, name)
    try:
        if resource.kind == "Namespace" and name and namespaces.find(sim, name) is not None:
            raise AlreadyExists(name)  # an implicit namespace exists too
        _within_limits(sim, resource, obj)
        stored = sim.api.create(obj)
    except Invalid as error:
        raise _invalid(error, resource) from None
    except AlreadyExists:
        raise ApiError(
            409,
            "AlreadyExists",
            f'{resource.qualified} "{name}" already exists',
            {"name": name, "kind": resource.plural},
        ) from None
    return 201, stored
