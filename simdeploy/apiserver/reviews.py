"""What a caller may ask about itself: SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectRulesReview
(`can-i --list`) and SelfSubjectReview (`kubectl auth whoami`), answered from its role's rules."""

from __future__ import annotations

from simdeploy.apiserver.authorization import Attributes, allowed, rules_document
from simdeploy.apiserver.bodies import decode_body
from simdeploy.apiserver.resources import Resource
from simdeploy.apiserver.status import ApiError
from simdeploy.apiserver.users import User

_RESOURCE_FIELDS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
_PATH_FIELDS = ("path", "verb")


def review(resource: Resource, user: User, body: bytes) -> dict:
    """POST of one of the review resources: the review sent back with its status filled in (201)."""
    sent = decode_body(body)
    spec = sent.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise _invalid(resource, "spec", "Invalid value: expected an object")
    spec = spec or {}
    if resource.kind == "SelfSubjectAccessReview":
        status = _access(resource, user, spec)
    elif resource.kind == "SelfSubjectRulesReview":
        status = rules_document(user.role)
    else:
        status = {"userInfo": {"username": user.name, "groups": user.groups}}
    answer = {"kind": resource.kind, "apiVersion": resource.group_version, "metadata": {}, "status": status}
    if resource.kind != "SelfSubjectReview":
        answer["spec"] = spec
    return answer


def _access(resource: Resource, user: User, spec: dict) -> dict:
    asked = {key: spec.get(key) for key in ("resourceAttributes", "nonResourceAttributes") if spec.get(key)}
    if len(asked) != 1:
        # The real server's words (pkg/apis/authorization/validation/validation.go).
        message = (
            "Required value: one of resourceAttributes or nonResourceAttributes must be specified"
            if not asked
            else "Invalid value: cannot be specified in combination with resourceAttributes"
        )
        raise _invalid(resource, "spec.resourceAttributes" if not asked else "spec.nonResourceAttributes", message)
    [(key, fields)] = asked.items()
    known = _RESOURCE_FIELDS if key == "resourceAttributes" else _PATH_FIELDS
    if not isinstance(fields, dict):
        raise _invalid(resource, f"spec.{key}", "Invalid value: expected an object")
    for field, value in fields.items():
        if field in known and not isinstance(value, str):
            raise _invalid(resource, f"spec.{key}.{field}", f"Invalid value: expected a string, got {value!r}")
    if key == "resourceAttributes":
        attributes = Attributes(
            fields.get("verb", ""),
            True,
            group=fields.get("group", ""),
            resource=fields.get("resource", ""),
            subresource=fields.get("subresource", ""),
            namespace=fields.get("namespace", ""),
            name=fields.get("name", ""),
        )
    else:
        attributes = Attributes(fields.get("verb", ""), False, path=fields.get("path", ""))
    if allowed(user.role, attributes):
        return {"allowed": True, "reason": f'simdeploy serve: allowed by the {user.role} role of user "{user.name}"'}
    return {"allowed": False}


def _invalid(resource: Resource, field: str, message: str) -> ApiError:
    cause = {"reason": "FieldValueInvalid", "message": message, "field": field}
    return ApiError(
        422,
        "Invalid",
        f'{resource.kind}.{resource.group} "" is invalid: {field}: {message}',
        {"group": resource.group, "kind": resource.kind, "causes": [cause]},
    )
