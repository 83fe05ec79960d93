"""The patch formats the API server applies: JSON merge (RFC 7386), JSON patch (RFC 6902) and strategic merge.

Strategic merge follows staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go for the objects we
model: lists with a merge key merge element by element, other lists are replaced, and the directives kubectl
emits (`$patch`, `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`) are honoured.
"""

from __future__ import annotations

import copy

import jsonpatch

MERGE = "merge"  # application/merge-patch+json
STRATEGIC = "strategic"  # application/strategic-merge-patch+json (and server-side apply, approximated)
JSON_PATCH = "json"  # application/json-patch+json
PATCH_TYPES = (MERGE, STRATEGIC, JSON_PATCH)

# The lists of the objects we model that strategic merge merges element by element, and the key it matches on
# (the `patchMergeKey` tags of k8s.io/api). Lists named `ports` match on containerPort (containers) or port
# (services), whichever the elements carry.
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


class PatchError(ValueError):
    """The patch cannot be applied: malformed (HTTP 400) or failing against this object (HTTP 422)."""

    def __init__(self, message: str, code: int = 400):
        self.code = code
        super().__init__(message)


def apply_patch(target: dict, patch_type: str, patch: object) -> dict:
    """`target` with a decoded patch applied, as a new document; `target` itself is left as it was."""
    document = copy.deepcopy(target)
    if patch_type == JSON_PATCH:
        return json_patch(document, patch)
    if patch_type not in (MERGE, STRATEGIC):
        raise PatchError(f"unknown patch type {patch_type!r}; expected one of {', '.join(PATCH_TYPES)}")
    if not isinstance(patch, dict):
        raise PatchError("patch body must be a JSON object")
    patched = json_merge_patch(document, patch) if patch_type == MERGE else strategic_merge(document, patch)
    return patched if isinstance(patched, dict) else {}


def json_patch(target: object, operations: object) -> dict:
    """RFC 6902: a list of add/remove/replace/move/copy/test operations, all or nothing."""
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(target, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as error:
        raise PatchError(f"the server rejected our request due to an error in our request: {error}", 422) from None


def json_merge_patch(target: object, patch: object) -> object:
    """RFC 7386: mappings merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = json_merge_patch(target.get(key), value)
    return target


def strategic_merge(target: object, patch: object, field: str = "") -> object:
    """Kubernetes strategic merge: like a merge patch, but keyed lists merge element by element."""
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
        if isinstance(target.get(key), list) and isinstance(values, list):
            target[key] = [v for v in target[key] if v not in values]
    if isinstance(retain, list):
        for key in [k for k in target if k not in retain]:
            del target[key]
    return target


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":
        return next((k for k in _PORT_KEYS if any(isinstance(i, dict) and k in i for i in items)), None)
    return MERGE_KEYS.get(field)


def _merge_list(current: object, patch: list, field: str, order: object) -> list:
    current = current if isinstance(current, list) else []
    order = order if isinstance(order, list) else []
    key = _merge_key(field, patch + order + current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)  # lists without a merge key are replaced, as in a merge patch
    if any(item.get("$patch") == "replace" for item in patch):
        # The whole list becomes the patch's elements, directive elements left out (patch.go mergeSlice).
        return [copy.deepcopy(item) for item in patch if "$patch" not in item]
    merged = list(current)
    for item in patch:
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
        rank = {value: n for n, value in enumerate(wanted) if _hashable(value)}
        merged.sort(
            key=lambda i: (
                rank.get(i.get(key), len(rank)) if isinstance(i, dict) and _hashable(i.get(key)) else len(rank)
            )
        )
    return merged


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
