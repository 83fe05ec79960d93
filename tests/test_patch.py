"""The patch formats (k8s/patch.py): JSON merge (RFC 7386), JSON patch (RFC 6902) and strategic merge."""

from __future__ import annotations

import pytest

from simdeploy.k8s.patch import JSON_PATCH, MERGE, STRATEGIC, PatchError, apply_patch, json_merge_patch, strategic_merge

DEPLOYMENT = {
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "containers": [
                    {"name": "api", "image": "web:1", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "proxy:1"},
                ]
            }
        },
    },
}


# -- RFC 7386 (the examples of its appendix A) -----------------------------------------


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_json_merge_patch_follows_rfc_7386(target, patch, expected):
    assert json_merge_patch(target, patch) == expected


def test_merge_patch_replaces_lists_where_strategic_merge_merges_them_by_key():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "web:2"}]}}}}
    merged = apply_patch(DEPLOYMENT, MERGE, patch)
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "api", "image": "web:2"}]
    strategic = apply_patch(DEPLOYMENT, STRATEGIC, patch)
    containers = strategic["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("api", "web:2"), ("sidecar", "proxy:1")]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}]
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"  # the target is untouched


def test_json_patch_applies_all_operations_or_none():
    operations = [
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/color", "value": "blue"},
        {"op": "remove", "path": "/metadata/labels/tier"},
    ]
    patched = apply_patch(DEPLOYMENT, JSON_PATCH, operations)
    assert patched["spec"]["replicas"] == 5 and patched["metadata"]["labels"] == {"app": "web", "color": "blue"}
    failing = [*operations, {"op": "test", "path": "/spec/replicas", "value": 7}]
    with pytest.raises(PatchError) as refused:
        apply_patch(DEPLOYMENT, JSON_PATCH, failing)
    assert refused.value.code == 422 and DEPLOYMENT["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("patch_type", "patch", "code"),
    [
        (JSON_PATCH, {"op": "add"}, 400),  # not a list
        (JSON_PATCH, [{"op": "remove", "path": "/spec/nothing"}], 422),
        (JSON_PATCH, [{"op": "frobnicate", "path": "/spec"}], 422),
        (MERGE, ["a"], 400),
        (STRATEGIC, "text", 400),
        ("xml", {}, 400),
    ],
)
def test_malformed_patches_are_refused_with_the_code_the_api_server_answers(patch_type, patch, code):
    with pytest.raises(PatchError) as refused:
        apply_patch(DEPLOYMENT, patch_type, patch)
    assert refused.value.code == code


# -- strategic merge ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        (  # $setElementOrder keeps the order kubectl computed, the patch names only what changed
            {
                "containers": [
                    {"name": "a", "image": "1", "ports": [{"containerPort": 80}]},
                    {"name": "b", "image": "2"},
                ]
            },
            {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{"name": "b", "image": "3"}],
            },
            {
                "containers": [
                    {"name": "a", "image": "1", "ports": [{"containerPort": 80}]},
                    {"name": "b", "image": "3"},
                ]
            },
        ),
        (  # Service ports merge on `port`
            {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]},
            {"ports": [{"port": 80, "targetPort": 9090}, {"port": 8443}]},
            {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}, {"port": 8443}]},
        ),
        (  # $patch: delete removes one keyed element; lists without a merge key are replaced
            {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "args": ["x", "y"]},
            {"env": [{"name": "A", "$patch": "delete"}], "args": ["z"]},
            {"env": [{"name": "B", "value": "2"}], "args": ["z"]},
        ),
        (  # null deletes a key; $retainKeys drops the keys it does not name
            {"selector": {"app": "a"}, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
            {"selector": {"app": None, "color": "blue"}, "strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
            {"selector": {"color": "blue"}, "strategy": {"type": "Recreate"}},
        ),
        (  # $patch: replace on a map replaces it whole
            {"labels": {"a": "1", "b": "2"}},
            {"labels": {"$patch": "replace", "c": "3"}},
            {"labels": {"c": "3"}},
        ),
        (  # $patch: replace inside a keyed list replaces the whole list
            {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"env": [{"name": "C", "value": "3"}, {"$patch": "replace"}]},
            {"env": [{"name": "C", "value": "3"}]},
        ),
        (  # $deleteFromPrimitiveList removes values from a list of scalars
            {"finalizers": ["a", "b", "c"]},
            {"$deleteFromPrimitiveList/finalizers": ["b"]},
            {"finalizers": ["a", "c"]},
        ),
        (  # malformed directives are ignored rather than crashing
            {"env": [{"name": "A"}], "finalizers": ["a"]},
            {"$setElementOrder/env": "A", "$deleteFromPrimitiveList/finalizers": 3, "$retainKeys": "env"},
            {"env": [{"name": "A"}], "finalizers": ["a"]},
        ),
    ],
)
def test_strategic_merge_merges_keyed_lists(target, patch, expected):
    assert strategic_merge(target, patch) == expected
