"""The PATCH body types the API server applies: JSON merge (RFC 7386), JSON patch (RFC 6902), strategic merge."""

from __future__ import annotations

import copy
import json

import jsonpatch
import yaml

from simdeploy.apiserver.status import ApiError, bad_request
from simdeploy.sim.cluster.kubectl import json_merge_patch

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

# The lists of the objects we serve that strategic merge merges element by element, and the key it matches on.
# Lists named `ports` match on containerPort (containers) or port (services), whichever the elements carry.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "taints": "key",
    "tolerations": "key",
    "hostAliases": "ip",
    "ownerReferences": "uid",
}
_PORT_KEYS = ("containerPort", "port")


def is_apply(content_type: str) -> bool:
    """A server-side apply (`kubectl apply --server-side`), which creates the object when it is missing."""
    return content_type.split(";")[0].strip().lower() == APPLY


def apply_patch(target: dict, content_type: str, body: bytes) -> dict:
    """`target` with the patch applied, as a new document (the target is left as it was)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in (MERGE, JSON_PATCH, STRATEGIC, APPLY):
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - {kind}")
    try:
        patch = yaml.safe_load(body) if kind == APPLY else json.loads(body or b"null")
    except (ValueError, yaml.YAMLError) as error:
        raise bad_request(f"error decoding patch: {error}") from None
    document = copy.deepcopy(target)
    if kind == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json patch must be a list of operations")
        try:
            return jsonpatch.apply_patch(document, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
            message = f"the server rejected our request due to an error in our request: {error}"
            raise ApiError(422, "Invalid", message) from None
    if not isinstance(patch, dict):
        raise bad_request("patch body must be a JSON object")
    if kind == MERGE:
        return json_merge_patch(document, patch)
    return strategic_merge(document, patch)


def strategic_merge(target: object, patch: object, field: str = "") -> object:
    """Kubernetes strategic merge for our objects: like a merge patch, but keyed lists merge element by element.

    Honours the directives kubectl emits: `$patch: replace|delete`, `$retainKeys`, `$setElementOrder/<list>`
    (the order is kept from the patch, the elements it names) and `$deleteFromPrimitiveList/<list>`.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive == "delete":
        return None
    target = target if isinstance(target, dict) else {}
    retain = patch.pop("$retainKeys", None)
    orders = {k.split("/", 1)[1]: patch.pop(k) for k in list(patch) if k.startswith("$setElementOrder/")}
    removals = {k.split("/", 1)[1]: patch.pop(k) for k in list(patch) if k.startswith("$deleteFromPrimitiveList/")}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, list):
            target[key] = _merge_list(target.get(key), value, key, orders.get(key))
        else:
            merged = strategic_merge(target.get(key), value, key)
            if merged is None:
                target.pop(key, None)
            else:
                target[key] = merged
    for key, values in removals.items():
        if isinstance(target.get(key), list):
            target[key] = [v for v in target[key] if v not in values]
    if retain is not None:
        for key in [k for k in target if k not in retain]:
            del target[key]
    return target


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":
        return next((k for k in _PORT_KEYS if any(isinstance(i, dict) and k in i for i in items)), None)
    return MERGE_KEYS.get(field)


def _merge_list(current: object, patch: list, field: str, order: list | None) -> list:
    current = current if isinstance(current, list) else []
    key = _merge_key(field, patch + list(order or []) + current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)  # lists without a merge key are replaced, as in a merge patch
    merged = list(current)
    for item in patch:
        if item.get("$patch") == "replace":
            return [{k: v for k, v in i.items() if k != "$patch"} for i in copy.deepcopy(patch)]
        index = next(
            (n for n, old in enumerate(merged) if isinstance(old, dict) and old.get(key) == item.get(key)), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(strategic_merge({}, item, field))
        else:
            merged[index] = strategic_merge(merged[index], item, field)
    if order:
        wanted = [o.get(key) for o in order if isinstance(o, dict)]
        rank = {value: n for n, value in enumerate(wanted)}
        merged.sort(key=lambda i: rank.get(i.get(key), len(rank)))
    return merged
