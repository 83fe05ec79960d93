"""Discovery documents: /version, aggregated (apidiscovery.k8s.io/v2) and legacy /api, /apis, /api/v1, /apis/G/V."""

from __future__ import annotations

from simdeploy.apiserver.resources import GROUPS, RESOURCES, Resource, in_group_version

# client-go parses the body as aggregated discovery only when the Content-Type names its group, version and
# kind (k8s.io/client-go/discovery/discovery_client.go ContentTypeIsGVK); with plain application/json it reads
# it as legacy discovery, finds no resources in it, and kubectl says `doesn't have a resource type`.
AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# Within ±1 minor of kubectl 1.37, so `kubectl version` prints no skew warning
# (staging/src/k8s.io/kubectl/pkg/cmd/version/skew_warning.go supportedMinorVersionSkew).
VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0-simdeploy",
    "gitCommit": "simdeploy",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "python",
    "compiler": "simdeploy",
    "platform": "linux/amd64",
}


def wants_aggregated(accept: str) -> bool:
    return "g=apidiscovery.k8s.io" in accept and "as=APIGroupDiscoveryList" in accept


def _versions_of(group: str) -> list[str]:
    return list(dict.fromkeys(r.version for r in RESOURCES if r.group == group))


def _aggregated_resource(r: Resource) -> dict:
    entry = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        # `kubectl get deploy` needs them: client-go/restmapper/shortcut.go expands short names from discovery.
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)  # `kubectl get all` needs them
    if r.subresources:  # `kubectl drain` looks for pods/eviction here before it evicts
        entry["subresources"] = [
            {"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": list(verbs)}
            for sub, g, v, k, verbs in r.subresources
        ]
    return entry


def _aggregated_group(group: str) -> dict:
    versions = [
        {
            "version": v,
            "resources": [_aggregated_resource(r) for r in in_group_version(group, v)],
            "freshness": "Current",
        }
        for v in _versions_of(group)
    ]
    return {"metadata": {"name": group}, "versions": versions}


def aggregated(core: bool) -> dict:
    """GET /api (core) or GET /apis (every named group) as an APIGroupDiscoveryList."""
    groups = [""] if core else list(GROUPS)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_aggregated_group(g) for g in groups],
    }


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str) -> dict:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in _versions_of(group)]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def api_group_list() -> dict:
    groups = [{k: v for k, v in api_group(g).items() if k not in ("kind", "apiVersion")} for g in GROUPS]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict | None:
    resources = in_group_version(group, version)
    if not resources:
        return None
    items = []
    for r in resources:
        item = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            item["shortNames"] = list(r.short_names)
        if r.categories:
            item["categories"] = list(r.categories)
        items.append(item)
        for sub, g, v, k, verbs in r.subresources:
            items.append(
                {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "group": g,
                    "version": v,
                    "kind": k,
                    "verbs": list(verbs),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": resources[0].group_version,
        "resources": items,
    }
