"""PATCH requests: the Content-Type names the patch format (k8s/patch.py applies it), the body is decoded here."""

from __future__ import annotations

from simdeploy.apiserver.bodies import decode_patch
from simdeploy.apiserver.status import ApiError, bad_request
from simdeploy.k8s import patch as patches

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
# Server-side apply is approximated by a strategic merge of the applied manifest (no field managers).
PATCH_TYPES = {
    MERGE: patches.MERGE,
    JSON_PATCH: patches.JSON_PATCH,
    STRATEGIC: patches.STRATEGIC,
    APPLY: patches.STRATEGIC,
}


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def is_apply(content_type: str) -> bool:
    """A server-side apply (`kubectl apply --server-side`), which creates the object when it is missing."""
    return media_type(content_type) == APPLY


def decode(content_type: str, body: bytes) -> tuple[str, object]:
    """(patch type for k8s/patch.py, decoded patch) of a PATCH request; 415 or 400 when it cannot be read."""
    kind = media_type(content_type)
    if kind not in PATCH_TYPES:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - {kind}")
    return PATCH_TYPES[kind], decode_patch(body, as_yaml=kind == APPLY)


def apply(target: dict, content_type: str, body: bytes) -> dict:
    """`target` with the request's patch applied, as a new document (for subresources such as /scale)."""
    patch_type, patch = decode(content_type, body)
    try:
        return patches.apply_patch(target, patch_type, patch)
    except patches.PatchError as error:
        raise patch_error(error) from None


def patch_error(error: patches.PatchError) -> ApiError:
    if error.code == 422:
        return ApiError(422, "Invalid", str(error))
    return bad_request(str(error))
