"""Feature flags: every case of the Unleash client specification, plus hashing, compile-once, errors and our choices."""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import mmh3
import pytest

from simdeploy.delivery.flags import constraints as flag_constraints
from simdeploy.delivery.flags import unleash as flags
from simdeploy.delivery.flags.constraints import CompileError, compile_rust_regex
from simdeploy.delivery.flags.unleash import VARIANT_SEED, FlagError, FlagSet, normalized_hash

SPEC_DIR = Path(__file__).parent / "data" / "unleash-client-specification"
SPEC_CASES = 279  # tag v6.1.0: 22 files, tests + variantTests


def _spec(file_name: str) -> dict:
    return json.loads((SPEC_DIR / file_name).read_text(encoding="utf-8"))


def _spec_cases() -> list:
    cases, seen = [], set()
    for file_name in json.loads((SPEC_DIR / "index.json").read_text()):
        spec = _spec(file_name)
        for kind in ("tests", "variantTests"):
            for case in spec.get(kind, []):
                ident = f"{file_name.removesuffix('.json')}::{kind}::{case['description']}"
                while ident in seen:
                    ident += "'"
                seen.add(ident)
                cases.append(pytest.param(file_name, kind, case, id=ident))
    return cases


@functools.cache
def _spec_flags(file_name: str, seed: int = 0) -> FlagSet:
    return FlagSet.from_unleash(_spec(file_name)["state"], rng=random.Random(seed))


def _run(flagset: FlagSet, kind: str, case: dict) -> object:
    if kind == "tests":
        return flagset.is_enabled(case["toggleName"], case["context"])
    return flagset.get_variant(case["toggleName"], case["context"])


@pytest.mark.parametrize(("file_name", "kind", "case"), _spec_cases())
def test_client_specification(file_name: str, kind: str, case: dict) -> None:
    result = _run(_spec_flags(file_name), kind, case)
    if kind == "tests":
        assert result is case["expectedResult"]
    else:
        assert result == case["expectedResult"]


def test_specification_suite_is_whole_and_licensed() -> None:
    assert len(_spec_cases()) == SPEC_CASES
    assert "Apache License" in (SPEC_DIR / "LICENSE").read_text()


def test_specification_does_not_depend_on_the_seed() -> None:
    for param in _spec_cases():
        file_name, kind, case = param.values
        for seed in (1, 2, 3):
            assert _run(_spec_flags(file_name, seed), kind, case) == case["expectedResult"], param.id


# --- hashing and rollout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "identifier", "seed", "expected"),
    [
        ("Feature.flexibleRollout.10", "174", 0, 10),
        ("Feature.flexibleRollout.10", "499", 0, 32),
        ("Feature.flexibleRollout.userId.55", "25", 0, 55),
        ("Feature.Variants.D", "712", VARIANT_SEED, 1),
        ("Feature.Variants.D", "525", VARIANT_SEED, 30),
        ("Feature.Variants.D", "537", VARIANT_SEED, 70),
    ],
)
def test_normalized_hash_vectors(group: str, identifier: str, seed: int, expected: int) -> None:
    assert normalized_hash(group, identifier, 100, seed) == expected


def test_normalized_hash_is_unsigned_murmur3_of_utf8() -> None:
    for identifier in ("Hellø", "😊_φriend_你好", "42"):
        key = f"grp:{identifier}".encode()
        assert normalized_hash("grp", identifier, 1000) == mmh3.hash(key, 0, signed=False) % 1000 + 1


def _rollout_state(rollout: str, stickiness: str = "default", name: str = "checkout-v2") -> dict:
    params = {"rollout": rollout, "stickiness": stickiness, "groupId": name}
    return {
        "version": 2,
        "features": [
            {"name": name, "enabled": True, "strategies": [{"name": "flexibleRollout", "parameters": params}]}
        ],
    }


def test_rollout_is_inclusive_monotone_and_proportional() -> None:
    users = [{"userId": str(i)} for i in range(20_000)]
    on = {}
    for rollout in ("10", "25", "55"):
        flagset = FlagSet.from_unleash(_rollout_state(rollout))
        on[rollout] = {ctx["userId"] for ctx in users if flagset.is_enabled("checkout-v2", ctx)}
    assert on["10"] <= on["25"] <= on["55"]  # raising the percentage only adds users
    assert abs(len(on["25"]) / len(users) - 0.25) < 0.02
    boundary = FlagSet.from_unleash(_rollout_state("55", "userId", "Feature.flexibleRollout.userId.55"))
    assert boundary.is_enabled("Feature.flexibleRollout.userId.55", {"userId": "25"})  # hash 55 at 55%: <=


def test_random_stickiness_follows_the_seeded_rng() -> None:
    def draws(seed: int, state: dict, name: str, context: dict) -> list[bool]:
        flagset = FlagSet.from_unleash(state, rng=random.Random(seed))
        return [flagset.is_enabled(name, context) for _ in range(4000)]

    random_rollout = _rollout_state("30", "random")
    assert draws(42, random_rollout, "checkout-v2", {"userId": "1"}) == draws(42, random_rollout, "checkout-v2", {})
    assert draws(42, random_rollout, "checkout-v2", {}) != draws(43, random_rollout, "checkout-v2", {})
    assert abs(sum(draws(7, random_rollout, "checkout-v2", {})) / 4000 - 0.30) < 0.03
    no_ids = _rollout_state("30")  # default stickiness without userId/sessionId is random too
    assert draws(5, no_ids, "checkout-v2", {}) == draws(5, no_ids, "checkout-v2", {})
    gradual = {
        "features": [
            {
                "name": "r",
                "enabled": True,
                "strategies": [{"name": "gradualRolloutRandom", "parameters": {"percentage": "20"}}],
            }
        ]
    }
    assert abs(sum(draws(9, gradual, "r", {})) / 4000 - 0.20) < 0.03
    variants = [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]
    state = {"features": [{"name": "v", "enabled": True, "strategies": [], "variants": variants}]}
    sequences = []
    for _ in range(2):
        flagset = FlagSet.from_unleash(state, rng=random.Random(3))
        sequences.append([flagset.get_variant("v", {})["name"] for _ in range(50)])
    assert sequences[0] == sequences[1] and set(sequences[0]) == {"a", "b"}


# --- compile once -------------------------------------------------------------------------------------------------

HEAVY = {
    "version": 2,
    "segments": [
        {"id": 1, "constraints": [{"contextName": "region", "operator": "STR_STARTS_WITH", "values": ["eu-"]}]}
    ],
    "features": [
        {
            "name": "heavy",
            "enabled": True,
            "strategies": [
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": "100", "stickiness": "default", "groupId": "heavy"},
                    "segments": [1],
                    "constraints": [
                        {"contextName": "environment", "operator": "IN", "values": ["prod"]},
                        {"contextName": "appVersion", "operator": "SEMVER_GTE", "value": "2.3.0"},
                        {"contextName": "cpu", "operator": "NUM_LT", "value": "0.8"},
                        {"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2024-01-01T00:00:00.000Z"},
                        {"contextName": "userId", "operator": "REGEX", "value": "^u[0-9]+$"},
                        {"contextName": "remoteAddress", "operator": "IN_CIDR", "values": ["10.0.0.0/8"]},
                    ],
                }
            ],
        },
        {"name": "plain", "enabled": True, "strategies": [{"name": "default"}]},
    ],
}
HEAVY_CONTEXT = {
    "userId": "u17",
    "environment": "prod",
    "remoteAddress": "10.1.2.3",
    "currentTime": "2025-06-01T12:00:00Z",
    "properties": {"appVersion": "2.10.1", "cpu": "0.5", "region": "eu-west-1"},
}


def test_features_compile_once_and_literals_are_not_reparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = flags._compile_feature
    monkeypatch.setattr(flags, "_compile_feature", lambda *args: calls.append(args[0]["name"]) or real(*args))
    flagset = FlagSet.from_unleash(HEAVY)
    assert calls == ["heavy", "plain"]

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed a literal at evaluation time")

    for target, attribute in [
        (re, "compile"),
        (ipaddress, "ip_network"),
        (flag_constraints, "compile_constraint"),
        (flag_constraints, "compile_rust_regex"),
        (flags, "compile_constraint"),
        (flags, "_compile_feature"),
    ]:
        monkeypatch.setattr(target, attribute, refuse)
    for _ in range(1000):
        assert flagset.is_enabled("heavy", HEAVY_CONTEXT)
        assert flagset.get_variant("heavy", HEAVY_CONTEXT)["feature_enabled"]
    assert not flagset.is_enabled("heavy", {**HEAVY_CONTEXT, "remoteAddress": "192.168.0.1"})
    assert calls == ["heavy", "plain"]


# --- structural errors ---------------------------------------------------------------------------------------------

BASE = {
    "version": 2,
    "segments": [
        {"id": 1, "name": "beta", "constraints": [{"contextName": "environment", "operator": "IN", "values": ["prod"]}]}
    ],
    "features": [
        {"name": "alpha", "enabled": True, "strategies": [{"name": "default", "segments": [1], "constraints": []}]},
        {"name": "beta", "enabled": False, "strategies": [{"name": "userWithId", "parameters": {"userIds": "1,2"}}]},
        {
            "name": "gamma",
            "enabled": True,
            "variants": [{"name": "blue", "weight": 500, "payload": {"type": "string", "value": "b"}}],
        },
        {
            "name": "checkout-v2",
            "enabled": True,
            "dependencies": [{"feature": "alpha"}],
            "strategies": [
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": "25"},
                    "constraints": [{"contextName": "environment", "operator": "IN", "values": ["prod"]}],
                }
            ],
        },
    ],
}


def _set(path: list, value: object) -> callable:
    def mutate(state: dict) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "path", "owner"),
    [
        (
            _set(["features", 3, "strategies", 0, "parameters", "rollout"], ["25"]),
            "features[3].strategies[0].parameters.rollout",
            "checkout-v2",
        ),
        (_set(["features", 0, "name"], KeyError), "features[0].name", None),
        (_set(["features", 1, "name"], 7), "features[1].name", None),
        (_set(["features", 1, "enabled"], "yes"), "features[1].enabled", "beta"),
        (_set(["features", 0, "strategies"], {"name": "default"}), "features[0].strategies", "alpha"),
        (_set(["features", 0, "strategies", 0, "name"], KeyError), "features[0].strategies[0].name", "alpha"),
        (_set(["features", 0, "strategies", 0, "segments"], ["1"]), "features[0].strategies[0].segments[0]", "alpha"),
        (
            _set(["features", 3, "strategies", 0, "constraints", 0, "operator"], KeyError),
            "features[3].strategies[0].constraints[0].operator",
            "checkout-v2",
        ),
        (
            _set(["features", 3, "strategies", 0, "constraints", 0, "values"], [1]),
            "features[3].strategies[0].constraints[0].values[0]",
            "checkout-v2",
        ),
        (
            _set(["features", 3, "strategies", 0, "constraints", 0, "inverted"], "no"),
            "features[3].strategies[0].constraints[0].inverted",
            "checkout-v2",
        ),
        (_set(["features", 2, "variants", 0, "weight"], "500"), "features[2].variants[0].weight", "gamma"),
        (_set(["features", 2, "variants", 0, "weight"], -1), "features[2].variants[0].weight", "gamma"),
        (
            _set(["features", 2, "variants", 0, "payload", "value"], KeyError),
            "features[2].variants[0].payload.value",
            "gamma",
        ),
        (
            _set(["features", 3, "dependencies", 0, "feature"], KeyError),
            "features[3].dependencies[0].feature",
            "checkout-v2",
        ),
        (_set(["segments", 0, "id"], KeyError), "segments[0].id", None),
        (
            _set(["segments", 0, "constraints", 0, "contextName"], 3),
            "segments[0].constraints[0].contextName",
            "segment 1",
        ),
        (_set(["features"], {"alpha": {}}), "features", None),
        (_set(["features", 1], "beta"), "features[1]", None),
    ],
)
def test_structural_problems_raise_flag_error_with_the_field_path(
    mutate: callable, path: str, owner: str | None
) -> None:
    state = copy.deepcopy(BASE)
    mutate(state)
    with pytest.raises(FlagError, match=rf"^{re.escape(path)}: ") as error:
        FlagSet.from_unleash(state)
    assert isinstance(error.value, ValueError)
    if owner:
        assert owner in str(error.value)


def test_base_document_loads_and_state_must_be_an_object() -> None:
    flagset = FlagSet.from_unleash(copy.deepcopy(BASE))
    assert flagset.is_enabled("alpha", {"environment": "prod"}) and not flagset.is_enabled("alpha", {})
    with pytest.raises(FlagError, match="^state: "):
        FlagSet.from_unleash([])


# --- semantic problems the SDKs tolerate: false, never an exception --------------------------------------------------


def _one(strategies: list, **extra: object) -> FlagSet:
    return FlagSet.from_unleash(
        {"version": 2, "features": [{"name": "f", "enabled": True, "strategies": strategies, **extra}]}
    )


def _with(*constraints: dict) -> list:
    return [{"name": "default", "constraints": list(constraints)}]


@pytest.mark.parametrize(
    ("strategies", "context", "compile_error"),
    [
        ([{"name": "flexibleRollout", "parameters": {"rollout": "55.5"}}], {"userId": "1"}, False),
        ([{"name": "flexibleRollout", "parameters": {"rollout": "101"}}], {"userId": "1"}, True),  # grammar: 0..100%
        (
            [{"name": "flexibleRollout", "parameters": {"rollout": "100", "stickiness": "tenant"}}],
            {"userId": "1"},
            False,
        ),
        ([{"name": "gradualRolloutUserId", "parameters": {"percentage": "100"}}], {"userId": "1"}, False),  # no groupId
        ([{"name": "myCustomStrategy", "parameters": {}}], {"userId": "1"}, False),
        (_with({"contextName": "n", "operator": "NUM_EQ", "value": "abc"}), {"properties": {"n": "1"}}, True),
        (_with({"contextName": "t", "operator": "DATE_AFTER", "value": "yesterday"}), {}, True),
        (_with({"contextName": "v", "operator": "SEMVER_EQ", "value": "1.2"}), {"properties": {"v": "1.2.0"}}, True),
        (_with({"contextName": "v", "operator": "SEMVER_EQ", "value": "v1.2.0", "inverted": True}), {}, False),
        (_with({"contextName": "u", "operator": "REGEX", "value": "(?<=a)b"}), {"properties": {"u": "ab"}}, True),
        (_with({"contextName": "u", "operator": "LIKE", "value": "x", "inverted": True}), {}, False),
        ([{"name": "default", "segments": [404]}], {}, False),
    ],
)
def test_semantic_problems_evaluate_false(strategies: list, context: dict, compile_error: bool) -> None:
    flagset = _one(strategies, variants=[{"name": "x", "weight": 1}])
    assert flagset.is_enabled("f", context) is False
    assert flagset.get_variant("f", context) == {"name": "disabled", "enabled": False, "feature_enabled": False}
    assert (flagset.meta("f").error is not None) is compile_error


def test_unknown_operator_and_missing_segment_only_disable_their_strategy() -> None:
    # yggdrasil strategy_upgrade.rs and unleash-client-node agree: the constraint/strategy is false, others still count.
    unknown = {"name": "default", "constraints": [{"contextName": "x", "operator": "FUTURE_OP", "values": ["1"]}]}
    flagset = _one(
        [unknown, {"name": "default", "segments": [9]}, {"name": "userWithId", "parameters": {"userIds": "7"}}]
    )
    assert flagset.is_enabled("f", {"userId": "7"}) and not flagset.is_enabled("f", {"userId": "8"})
    assert flagset.meta("f").error is None


# --- operators and context ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "properties", "expected"),
    [
        ({"operator": "NUM_EQ", "value": "12"}, {"x": "12.0"}, True),
        ({"operator": "NUM_EQ", "value": "12"}, {"x": " 12"}, False),  # Rust f64 parsing: no whitespace
        ({"operator": "NUM_GTE", "value": "1e3"}, {"x": "1000"}, True),
        ({"operator": "SEMVER_EQ", "value": "1.2.2"}, {"x": "1.2.2+metadata"}, True),  # build metadata is ignored
        ({"operator": "SEMVER_GT", "value": "1.2.2"}, {"x": "1.2.2+metadata"}, False),
        ({"operator": "SEMVER_LT", "value": "1.0.0"}, {"x": "1.0.0-rc.1"}, True),
        ({"operator": "SEMVER_GT", "value": "1.0.0-alpha.beta"}, {"x": "1.0.0-alpha.1"}, False),  # numeric < alpha
        ({"operator": "SEMVER_EQ", "value": "1.2.2"}, {"x": "01.2.2"}, False),  # leading zero: not SemVer
        ({"operator": "STR_CONTAINS", "values": ["EMAIL"], "caseInsensitive": True}, {"x": "some-email.com"}, True),
        ({"operator": "IN", "values": ["Prod"], "caseInsensitive": True}, {"x": "prod"}, False),  # as yggdrasil
        ({"operator": "IN_CIDR", "values": ["10.0.0.0/8", "::/0"]}, {"x": "2001:db8::1"}, True),
        ({"operator": "IN_CIDR", "values": ["10.0.0.0/8"]}, {"x": "not-an-ip"}, False),
        ({"operator": "DATE_BEFORE", "value": "2030-01-01T00:00:00+01:00"}, {"x": "2029-12-31T22:30:00Z"}, True),
        ({"operator": "DATE_BEFORE", "value": "2030-01-01T00:00:00+01:00"}, {"x": "2029-12-31T23:30:00Z"}, False),
        ({"operator": "NOT_IN", "values": ["a"], "inverted": True}, {}, False),
    ],
)
def test_operators(constraint: dict, properties: dict, expected: bool) -> None:
    flagset = _one(_with({"contextName": "x", **constraint}))
    assert flagset.is_enabled("f", {"properties": properties}) is expected


def test_context_conveniences() -> None:
    flagset = _one(_with({"contextName": "tier", "operator": "IN", "values": ["gold"]}))
    assert flagset.is_enabled("f", {"tier": "gold"})  # top-level unknown keys count as properties, as UnleashClient
    assert flagset.is_enabled("f", {"properties": {"tier": "gold"}, "tier": "silver"})
    ids = FlagSet.from_unleash(_rollout_state("10", "userId", "Feature.flexibleRollout.10"))
    assert ids.is_enabled("Feature.flexibleRollout.10", {"userId": 174})  # non-strings are str()-ed
    dated = _one(_with({"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2024-01-01T00:00:00Z"}))
    assert dated.is_enabled("f", {})  # missing currentTime is now
    assert not dated.is_enabled("f", {"currentTime": datetime(2023, 6, 1, tzinfo=UTC)})  # a simulation clock
    assert dated.is_enabled("f", None)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^cat$", "cat\n", False),  # Rust's $ does not match before a trailing newline
        ("(?:(?i)a)b", "Ab", True),
        ("(?:(?i)a)b", "AB", False),  # an inline flag ends with its group
        ("a(?i)b|c", "C", True),  # ... but spans alternation
        ("^[[:^digit:]x]+$", "abx", True),
        ("^[[:^digit:]x]+$", "ab1", False),
        (r"^\x{41}\u0042$", "AB", True),
        ("(?x) a b  # comment", "ab", True),
    ],
)
def test_rust_regex_translation(pattern: str, text: str, expected: bool) -> None:
    assert (compile_rust_regex(pattern).search(text) is not None) is expected


@pytest.mark.parametrize("pattern", ["(?=a)b", r"(a)\1", r"\p{Greek}", "[a[b]]", "[a&&b]", "*a", "a{2", "(?P<1>x)"])
def test_rust_regex_rejections(pattern: str) -> None:
    with pytest.raises(CompileError):
        compile_rust_regex(pattern)


# --- variants, dependencies, metadata --------------------------------------------------------------------------


def test_first_matching_strategy_that_declares_variants_picks() -> None:
    # yggdrasil lib.rs check_variant_by_toggle (unleash-client-node would fall back to the feature's variants here).
    flexible = {
        "name": "flexibleRollout",
        "parameters": {"rollout": "100"},
        "variants": [{"name": "strategy", "weight": 1}],
    }
    flagset = _one([{"name": "default"}, flexible], variants=[{"name": "feature", "weight": 1}])
    assert flagset.get_variant("f", {"userId": "1"})["name"] == "strategy"
    declared_empty = _one([{"name": "default", "variants": []}, flexible], variants=[{"name": "feature", "weight": 1}])
    assert declared_empty.get_variant("f", {"userId": "1"})["name"] == "feature"
    zero = _one([], variants=[{"name": "a", "weight": 0}])
    assert zero.get_variant("f", {}) == {"name": "disabled", "enabled": False, "feature_enabled": True}


def test_variant_dependency_on_a_parent_without_variants() -> None:
    state = {
        "features": [
            {"name": "parent", "enabled": True, "strategies": []},
            {
                "name": "blue",
                "enabled": True,
                "strategies": [],
                "dependencies": [{"feature": "parent", "variants": ["blue"]}],
            },
            {
                "name": "off",
                "enabled": True,
                "strategies": [],
                "dependencies": [{"feature": "parent", "enabled": False}],
            },
        ]
    }
    flagset = FlagSet.from_unleash(state)
    assert not flagset.is_enabled("blue", {})  # the parent's variant is "disabled"
    assert not flagset.is_enabled("off", {})


def test_metadata() -> None:
    flagset = FlagSet.from_unleash(
        {
            "features": [
                {
                    "name": "kill",
                    "enabled": True,
                    "type": "kill-switch",
                    "owner": "payments",
                    "expires": "2026-03-01",
                    "stale": True,
                },
                {"name": "plain", "enabled": False, "project": "web"},
            ]
        }
    )
    kill, plain = flagset.meta("kill"), flagset.meta("plain")
    assert (kill.type, kill.owner, kill.expires, kill.stale) == (
        "kill-switch",
        "payments",
        datetime(2026, 3, 1, tzinfo=UTC),
        True,
    )
    assert (plain.type, plain.project, plain.owner, plain.expires, plain.enabled) == (
        "release",
        "web",
        None,
        None,
        False,
    )
    assert kill.type in flags.FLAG_TYPES and sorted(flagset.names()) == ["kill", "plain"] and "kill" in flagset
    assert flagset.get_variant("unknown", {}) == {"name": "disabled", "enabled": False, "feature_enabled": False}
