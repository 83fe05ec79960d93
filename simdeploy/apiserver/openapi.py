"""OpenAPI v3 documents, just enough for kubectl's server-side validation (`apply`, `replace`, `create -f`).

kubectl reads /openapi/v3 for the group-versions, then a group-version's document for the operations. When
a write operation declares the `fieldValidation` query parameter and names its kind in the
`x-kubernetes-group-version-kind` extension, kubectl leaves validation to the server and needs no schemas
(staging/src/k8s.io/kubectl/pkg/util/openapi and cmd/util/helpers.go).
"""

from __future__ import annotations

import hashlib
import json

from simdeploy.apiserver.resources import RESOURCES, Resource

_WRITE_PARAMETERS = [
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
]


def _url_key(resource: Resource) -> str:
    """The key of a group-version in the root document: `api/v1`, `apis/apps/v1`."""
    return f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"


def _group_versions() -> dict[str, list[Resource]]:
    found: dict[str, list[Resource]] = {}
    for resource in RESOURCES:
        found.setdefault(_url_key(resource), []).append(resource)
    return found


def _operation(resource: Resource, action: str, parameters: bool) -> dict:
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    operation = {
        "operationId": f"{action}{resource.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "responses": {"200": {"description": "OK"}},
    }
    if parameters:
        operation["parameters"] = _WRITE_PARAMETERS
    return operation


def group_version_document(key: str) -> dict | None:
    """The document of one group-version (`apis/apps/v1`), or None when we serve no such group-version."""
    resources = _group_versions().get(key)
    if resources is None:
        return None
    paths: dict[str, dict] = {}
    for resource in resources:
        scope = f"/{key}/namespaces/{{namespace}}" if resource.namespaced else f"/{key}"
        collection = f"{scope}/{resource.plural}"
        paths[collection] = {"get": _operation(resource, "list", False), "post": _operation(resource, "post", True)}
        paths[f"{collection}/{{name}}"] = {
            "get": _operation(resource, "get", False),
            "put": _operation(resource, "put", True),
            "patch": _operation(resource, "patch", True),
            "delete": _operation(resource, "delete", False),
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (simdeploy)", "version": "v1.37.0"}, "paths": paths}


def root_document() -> dict:
    """/openapi/v3: each group-version with a URL whose hash changes when its document does."""
    paths = {}
    for key in _group_versions():
        digest = hashlib.sha512(json.dumps(group_version_document(key), sort_keys=True).encode()).hexdigest()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest[:128].upper()}"}
    return {"paths": paths}
