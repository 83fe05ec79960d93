"""Writes through the simulation's API rules: patch, replace, the scale subresource, delete, eviction, create."""

from __future__ import annotations

import copy
import json

from simdeploy.apiserver import patches
from simdeploy.apiserver.resources import STORE, Resource
from simdeploy.apiserver.status import ApiError, bad_request, method_not_allowed, not_found
from simdeploy.k8s.admission import admit
from simdeploy.k8s.validation import SUPPORTED_KINDS, FieldError, decode_errors
from simdeploy.sim.cluster.api import EvictionRefused, Invalid
from simdeploy.sim.cluster.store import AlreadyExists, NotFound

# Kinds whose spec changes go through sim.api.replace_spec (defaulting, validation, generation) for the controllers.
_CONTROLLED = ("Deployment", "Rollout")
_SCALABLE = ("Deployment", "Rollout", "ReplicaSet")
# What a patch may not change: the server owns these.
_SERVER_FIELDS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp")


def _stored(sim, resource: Resource, namespace: str | None, name: str) -> dict:
    if resource.source != STORE:
        raise ApiError(405, "MethodNotAllowed", f"{resource.plural} are read-only in the simulation")
    obj = sim.store.find(resource.kind, namespace or "", name)
    if obj is None:
        raise not_found(resource.qualified, name)
    return obj


def decode_body(body: bytes) -> dict:
    """A request body that must be a JSON object (an empty body is `{}`); 400 otherwise."""
    try:
        document = json.loads(body or b"{}")
    except ValueError as error:
        raise bad_request(f"error decoding body: {error}") from None
    if not isinstance(document, dict):
        raise bad_request("the body must be a JSON object")
    return document


def _invalid(error: Invalid, resource: Resource, name: str) -> ApiError:
    # With `field` set, kubectl prints "The Deployment "x" is invalid: spec.replicas: Invalid value: ...".
    causes = [{"reason": "FieldValueInvalid", "message": e.message, "field": e.path} for e in error.errors]
    return ApiError(422, "Invalid", str(error), {"name": name, "kind": resource.kind, "causes": causes})


def _check_version(obj: dict, wanted: str | None) -> None:
    if wanted and wanted != obj["metadata"].get("resourceVersion"):
        kind = obj["kind"].lower()
        raise ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {kind}s "{obj["metadata"]["name"]}": the object has been modified; '
            "please apply your changes to the latest version and try again",
        )


def save(sim, resource: Resource, obj: dict, changed: dict) -> dict:
    """Write `changed` (a patched copy of the stored `obj`) into the store; spec changes bump the generation."""
    for field in _SERVER_FIELDS:
        if field in obj["metadata"]:
            changed.setdefault("metadata", {})[field] = obj["metadata"][field]
        else:
            changed.get("metadata", {}).pop(field, None)
    changed["kind"], changed["apiVersion"] = obj["kind"], obj.get("apiVersion", resource.group_version)
    if changed == obj:
        return obj  # a no-op patch: nothing moves, as on the real apiserver
    name = obj["metadata"]["name"]
    if (changed["apiVersion"], changed["kind"]) in SUPPORTED_KINDS:
        errors = decode_errors(changed)  # a patch must not leave a shape the controllers cannot read
        if errors:
            raise _invalid(Invalid(resource.kind, name, errors), resource, name)
    spec_changed = changed.get("spec") != obj.get("spec")
    if spec_changed and resource.kind in _CONTROLLED:
        errors = admit(copy.deepcopy(changed))
        if errors:
            raise _invalid(Invalid(resource.kind, name, errors), resource, name)
    obj.clear()  # in place: controllers and the kubelet hold references to stored objects
    obj.update(changed)
    if spec_changed and resource.kind in _CONTROLLED:
        return sim.api.replace_spec(obj)
    return sim.store.update(obj, spec_changed=spec_changed)


def patch(sim, resource: Resource, namespace: str | None, name: str, subresource: str | None, ctype: str, body: bytes):
    """PATCH an object (or its status or scale); returns (code, document)."""
    if subresource == "scale":
        return 200, patch_scale(sim, resource, namespace, name, ctype, body)
    if patches.is_apply(ctype) and subresource is None and _missing(sim, resource, namespace, name):
        return _apply_create(sim, resource, namespace, name, body)
    obj = _stored(sim, resource, namespace, name)
    changed = patches.apply_patch(obj, ctype, body)
    if subresource == "status":  # only the status moves
        changed = {**copy.deepcopy(obj), "status": changed.get("status", {})}
    elif not isinstance(changed.get("spec", {}), dict) or not isinstance(changed.get("metadata", {}), dict):
        raise ApiError(422, "Invalid", f'{resource.kind} "{name}" is invalid: spec and metadata must be objects')
    return 200, save(sim, resource, obj, changed)


def replace(sim, resource: Resource, namespace: str | None, name: str, subresource: str | None, body: bytes) -> dict:
    """PUT a whole object (kubectl replace, client update): its resourceVersion, if sent, is a precondition.

    As the real registry does for the kinds we serve, a PUT of the object keeps the stored status and a PUT
    of …/status keeps everything but the status (pkg/registry/apps/deployment/strategy.go PrepareForUpdate).
    """
    obj = _stored(sim, resource, namespace, name)
    sent = decode_body(body)
    meta = _mapping(sent, "metadata")
    if meta.get("name") != name:
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    for field, expected in (("kind", resource.kind), ("apiVersion", resource.group_version)):
        if sent.get(field) not in (None, expected):
            raise bad_request(f"{field} {sent[field]!r} does not match the URL ({expected})")
    if resource.namespaced and meta.get("namespace") not in (None, namespace):
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    _check_version(obj, meta.get("resourceVersion"))
    if subresource == "status":
        changed = {**copy.deepcopy(obj), "status": _mapping(sent, "status")}
    else:
        changed = {key: value for key, value in sent.items() if key != "status"}
        if "status" in obj:
            changed["status"] = copy.deepcopy(obj["status"])
        if not isinstance(changed.get("spec", {}), dict):
            raise ApiError(422, "Invalid", f'{resource.kind} "{name}" is invalid: spec must be an object')
    return save(sim, resource, obj, changed)


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


def _set_replicas(sim, resource: Resource, obj: dict, scale: dict) -> dict:
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(
            422, "Invalid", f'Scale.autoscaling "{obj["metadata"]["name"]}" is invalid: spec.replicas: {replicas!r}'
        )
    if replicas != obj["spec"].get("replicas"):
        changed = copy.deepcopy(obj)
        changed["spec"]["replicas"] = replicas
        save(sim, resource, obj, changed)
    return scale_of(obj)


def patch_scale(sim, resource: Resource, namespace: str | None, name: str, ctype: str, body: bytes) -> dict:
    obj = _scalable(sim, resource, namespace, name)
    return _set_replicas(sim, resource, obj, patches.apply_patch(scale_of(obj), ctype, body))


def put_scale(sim, resource: Resource, namespace: str | None, name: str, body: bytes) -> dict:
    """PUT …/scale: a whole Scale (kubectl sends no Content-Type); its resourceVersion is a precondition."""
    obj = _scalable(sim, resource, namespace, name)
    scale = decode_body(body)
    _check_version(obj, _mapping(scale, "metadata").get("resourceVersion"))
    return _set_replicas(sim, resource, obj, scale)


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
    _check_version(obj, _mapping(options, "preconditions").get("resourceVersion"))
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


def delete_collection(sim, resource: Resource, namespace: str | None, selectors, body: bytes, params: dict) -> dict:
    """DELETE on a collection (deletecollection): each object the selectors match, as one DELETE each would.

    The answer is the list of what was deleted, pods in their graceful-deletion state (as the registry's
    DeleteCollection returns them).
    """
    if resource.source != STORE:
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
    return resource.source == STORE and sim.store.find(resource.kind, namespace or "", name) is None


def _apply_create(sim, resource: Resource, namespace: str | None, name: str, body: bytes) -> tuple[int, dict]:
    """Server-side apply of a missing object creates it (201), named by the URL."""
    obj = patches.apply_patch({}, patches.APPLY, body)
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
            Invalid(resource.kind, "", [FieldError("metadata", "Invalid value: expected a mapping")]), resource, ""
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
    try:
        stored = sim.api.create(obj)
    except Invalid as error:
        raise _invalid(error, resource, meta.get("name", "")) from None
    except AlreadyExists:
        name = meta.get("name", "")
        raise ApiError(
            409,
            "AlreadyExists",
            f'{resource.qualified} "{name}" already exists',
            {"name": name, "kind": resource.plural},
        ) from None
    return 201, stored
