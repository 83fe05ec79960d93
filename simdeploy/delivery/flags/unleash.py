"""Unleash feature flags: the client API state compiled once, then isEnabled/getVariant per the client spec."""

from __future__ import annotations

import os
import random
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import mmh3

from simdeploy.delivery.flags.constraints import (
    Check,
    CompileError,
    always,
    compile_constraint,
    context_getter,
    ip_check,
    never,
    parse_networks,
)

# yggdrasil lib.rs VARIANT_NORMALIZATION_SEED; unleash-client-python variants/Variants.py VARIANT_HASH_SEED.
VARIANT_SEED = 86028157
FLAG_TYPES = ("release", "kill-switch", "experiment", "operational", "permission")
_hash = mmh3.hash
_EMPTY: dict = {}
_USIZE = re.compile(r"\+?[0-9]+")  # Rust usize::from_str, as yggdrasil get_rollout_target parses percentages


def normalized_hash(group: str, identifier: str, modulus: int = 100, seed: int = 0) -> int:
    """murmur3_x86_32 of UTF-8 "group:identifier", unsigned, modulo `modulus`, plus one: a bucket in 1..modulus."""
    return _hash(f"{group}:{identifier}", seed, False) % modulus + 1


class FlagError(ValueError):
    """A state document Unleash's own schema would reject; the message names the feature and the field path."""


@dataclass(frozen=True)
class FlagMeta:
    """What the simulator keeps about a flag besides its rules."""

    name: str
    type: str  # release, kill-switch, experiment, operational, permission (Unleash's types; others kept as given)
    project: str
    enabled: bool
    stale: bool
    owner: str | None
    expires: datetime | None
    error: str | None  # why the feature evaluates to false whatever the context (a literal that did not compile)


# --- structural validation: only what Unleash's schema (client-specification schema/*.js) rejects -------------------


def _fail(path: str, owner: str | None, what: str) -> FlagError:
    return FlagError(f"{path}: {what}" + (f" ({owner})" if owner else ""))


_KINDS = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list", dict: "an object"}


def _field(obj: dict, key: str, kinds: tuple, path: str, owner: str | None, required: bool = False) -> object:
    where = f"{path}.{key}" if path else key
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(where, owner, "is required")
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_KINDS[kind] for kind in kinds)
        raise _fail(where, owner, f"expected {expected}, got {type(value).__name__}")
    return value


def _object(value: object, path: str, owner: str | None) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, owner, f"expected an object, got {type(value).__name__}")
    return value


def _items(obj: dict, key: str, path: str, owner: str | None, kind: type | None = dict) -> Iterator[tuple[str, object]]:
    where = f"{path}.{key}" if path else key
    for index, item in enumerate(_field(obj, key, (list,), path, owner) or []):
        item_path = f"{where}[{index}]"
        if kind is dict:
            _object(item, item_path, owner)
        elif kind is not None and (not isinstance(item, kind) or isinstance(item, bool)):
            raise _fail(item_path, owner, f"expected {_KINDS[kind]}, got {type(item).__name__}")
        yield item_path, item


def _strings(obj: dict, key: str, path: str, owner: str) -> None:
    list(_items(obj, key, path, owner, str))


def _check_constraints(obj: dict, path: str, owner: str) -> None:
    for item_path, constraint in _items(obj, "constraints", path, owner):
        _field(constraint, "contextName", (str,), item_path, owner, required=True)
        _field(constraint, "operator", (str,), item_path, owner, required=True)
        _field(constraint, "value", (str, int, float), item_path, owner)
        _field(constraint, "caseInsensitive", (bool,), item_path, owner)
        _field(constraint, "inverted", (bool,), item_path, owner)
        _strings(constraint, "values", item_path, owner)


def _check_variants(obj: dict, path: str, owner: str) -> None:
    for item_path, variant in _items(obj, "variants", path, owner):
        _field(variant, "name", (str,), item_path, owner, required=True)
        weight = _field(variant, "weight", (int, float), item_path, owner)
        if weight is not None and (weight < 0 or not (isinstance(weight, int) or weight.is_integer())):
            raise _fail(f"{item_path}.weight", owner, f"expected a non-negative integer, got {weight!r}")
        if _field(variant, "payload", (dict,), item_path, owner) is not None:
            _field(variant["payload"], "type", (str,), f"{item_path}.payload", owner, required=True)
            _field(variant["payload"], "value", (str,), f"{item_path}.payload", owner, required=True)
        _field(variant, "stickiness", (str,), item_path, owner)
        for override_path, override in _items(variant, "overrides", item_path, owner):
            _field(override, "contextName", (str,), override_path, owner, required=True)
            _strings(override, "values", override_path, owner)


def _check_feature(feature: object, path: str) -> dict:
    feature = _object(feature, path, None)
    name = _field(feature, "name", (str,), path, None, required=True)
    owner = f"feature {name!r}"
    _field(feature, "enabled", (bool,), path, owner, required=True)
    for key in ("description", "project", "type"):
        _field(feature, key, (str,), path, owner)
    for key in ("impressionData", "stale"):
        _field(feature, key, (bool,), path, owner)
    for strategy_path, strategy in _items(feature, "strategies", path, owner):
        _field(strategy, "name", (str,), strategy_path, owner, required=True)
        for key, value in (_field(strategy, "parameters", (dict,), strategy_path, owner) or {}).items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
                raise _fail(
                    f"{strategy_path}.parameters.{key}", owner, f"expected a string, got {type(value).__name__}"
                )
        _check_constraints(strategy, strategy_path, owner)
        list(_items(strategy, "segments", strategy_path, owner, int))
        _check_variants(strategy, strategy_path, owner)
    _check_variants(feature, path, owner)
    for dependency_path, dependency in _items(feature, "dependencies", path, owner):
        _field(dependency, "feature", (str,), dependency_path, owner, required=True)
        _field(dependency, "enabled", (bool,), dependency_path, owner)
        _strings(dependency, "variants", dependency_path, owner)
    return feature


def _check_segment(segment: object, path: str) -> dict:
    segment = _object(segment, path, None)
    segment_id = _field(segment, "id", (int,), path, None, required=True)
    _field(segment, "name", (str,), path, f"segment {segment_id}")
    _check_constraints(segment, path, f"segment {segment_id}")
    return segment


def _load(state: object) -> tuple[list[dict], list[dict]]:
    """Features and segments of a full state document, or of a delta-API event list replayed from empty."""
    state = _object(state, "state", None)
    if "events" in state and "features" not in state:
        return _replay(state)
    _field(state, "version", (int,), "", None)
    features = [_check_feature(feature, path) for path, feature in _items(state, "features", "", None, None)]
    segments = [_check_segment(segment, path) for path, segment in _items(state, "segments", "", None, None)]
    return features, segments


def client_state(state: object) -> dict:
    """The full client API state {version, features, segments} of a state document or a delta event list;
    FlagError when it is malformed. The flag runtime changes features in this form."""
    features, segments = _load(state)
    version = state.get("version") if isinstance(state, dict) else None
    return {"version": 1 if version is None else version, "features": features, "segments": segments}


def _replay(state: dict) -> tuple[list[dict], list[dict]]:
    # Delta API (client-specification schema/delta-event-schema.js, spec files 19 and 20).
    features: dict[str, dict] = {}
    segments: dict[int, dict] = {}
    for path, event in _items(state, "events", "", None):
        kind = _field(event, "type", (str,), path, None, required=True)
        if kind == "hydration":
            features = {f["name"]: f for f in (_check_feature(f, p) for p, f in _items(event, "features", path, None))}
            segments = {s["id"]: s for s in (_check_segment(s, p) for p, s in _items(event, "segments", path, None))}
        elif kind == "feature-updated":
            feature = _check_feature(event.get("feature"), f"{path}.feature")
            features[feature["name"]] = feature
        elif kind == "feature-removed":
            features.pop(_field(event, "featureName", (str,), path, None, required=True), None)
        elif kind == "segment-updated":
            segment = _check_segment(event.get("segment"), f"{path}.segment")
            segments[segment["id"]] = segment
        elif kind == "segment-removed":
            segments.pop(_field(event, "segmentId", (int,), path, None, required=True), None)
        # Other event types are ignored, as a client meeting a newer server would.
    return list(features.values()), list(segments.values())


# --- compilation ---------------------------------------------------------------------------------------------------


def _all_of(checks: list[Check], rule: Check) -> Check:
    if not checks:
        return rule
    checks_tuple = tuple(checks)

    def match(ctx: dict) -> bool:
        for check in checks_tuple:
            if not check(ctx):
                return False
        return rule(ctx)

    return match


def _any_of(matches: list[Check]) -> Check:
    live = [match for match in matches if match is not never]
    if always in live:
        return always
    if len(live) <= 1:
        return live[0] if live else never
    live_tuple = tuple(live)

    def rule(ctx: dict) -> bool:
        for match in live_tuple:
            if match(ctx):
                return True
        return False

    return rule


def _percent(params: dict, key: str, capped: bool = True) -> int | None:
    raw = params.get(key)
    if raw is None or not _USIZE.fullmatch(raw):
        return None  # not an integer ("55.5", missing): the strategy is false
    if capped and int(raw) > 100:
        raise CompileError(f"{key} {raw} is above 100")  # the rule grammar admits 0..100% only (strategy_grammar.pest)
    return int(raw)


def _rollout(percent: int, group: str, stickiness: str, rnd: Callable[[], float]) -> Check:
    # normalized_hash(group, value) <= percent  <=>  hash % 100 < percent, saving the +1 on the hot path.
    prefix = group + ":"
    if stickiness == "random":
        return lambda ctx: rnd() * 100 < percent  # a uniform bucket 1..100 from the simulation's RNG
    if stickiness == "default":

        def rule(ctx: dict) -> bool:
            # yggdrasil strategy_upgrade.rs DEFAULT_STICKINESS: userId, else sessionId, else random.
            value = ctx.get("userId")
            if value is None:
                value = ctx.get("sessionId")
                if value is None:
                    return rnd() * 100 < percent
            if value.__class__ is not str:
                value = str(value)
            return _hash(prefix + value, 0, False) % 100 < percent

        return rule
    get = context_getter(stickiness)  # a named field that is missing makes the strategy false, never random
    return lambda ctx: (value := get(ctx)) is not None and _hash(prefix + value, 0, False) % 100 < percent


def _hostname() -> str:
    return os.environ.get("hostname") or socket.gethostname()  # yggdrasil strategy_parsing.rs get_hostname


def _rule(name: str, params: dict, feature: str, rnd: Callable[[], float]) -> Check:
    """The strategy's own test (yggdrasil strategy_upgrade.rs upgrade_strategy); constraints are added by the caller."""
    if name == "default":
        return always
    if name == "flexibleRollout":
        rollout = _percent(params, "rollout")
        if rollout is None:
            return never
        return _rollout(rollout, params.get("groupId", feature), params.get("stickiness", "default"), rnd)
    if name in ("gradualRolloutUserId", "gradualRolloutSessionId"):
        percentage, group = _percent(params, "percentage"), params.get("groupId")
        if percentage is None or group is None:
            return never
        return _rollout(percentage, group, "userId" if name == "gradualRolloutUserId" else "sessionId", rnd)
    if name == "gradualRolloutRandom":
        percentage = _percent(params, "percentage", capped=False)
        return never if percentage is None else lambda ctx: rnd() * 100 < percentage
    if name == "userWithId":
        if "userIds" not in params:
            return never
        wanted, get = frozenset(part.strip() for part in params["userIds"].split(",")), context_getter("userId")
        return lambda ctx: (value := get(ctx)) is not None and value in wanted
    if name == "remoteAddress":
        if "IPs" not in params:
            return never
        return ip_check(context_getter("remoteAddress"), parse_networks([p.strip() for p in params["IPs"].split(",")]))
    if name == "applicationHostname":
        hosts = {host.strip().lower() for host in params.get("hostNames", "").split(",")}
        return always if _hostname().lower() in hosts else never
    return never  # a custom strategy: false, as in an SDK with no handler registered for it


def _compile_strategy(strategy: dict, params: dict, feature: str, segments: dict, rnd: Callable[[], float]) -> Check:
    used = [segments.get(segment_id) for segment_id in strategy.get("segments") or []]
    if None in used:
        return never  # a missing segment makes this strategy false (yggdrasil strategy_upgrade.rs upgrade_strategy)
    checks: list[Check] = []
    for segment in used:
        if isinstance(segment, CompileError):  # its constraints are inlined in the rule, so the feature breaks
            raise CompileError(str(segment))
        checks.extend(segment)
    rule = _rule(strategy["name"], params, feature, rnd)
    checks = [compile_constraint(constraint) for constraint in strategy.get("constraints") or []] + checks
    if rule is never or never in checks:
        return never
    return _all_of([check for check in checks if check is not always], rule)


def _disabled(feature_enabled: bool) -> dict:
    return {"name": "disabled", "enabled": False, "feature_enabled": feature_enabled}


class _Picker:
    """Weighted variant choice (yggdrasil lib.rs resolve_variant): overrides, then a sticky hash into the weights."""

    def __init__(self, variants: list[dict], group: str, stickiness: str | None, overrides: bool) -> None:
        self.choices, total = [], 0
        for variant in variants:
            total += int(variant.get("weight") or 0)
            payload = variant.get("payload")
            self.choices.append((total, variant["name"], dict(payload) if payload is not None else None))
        self.total, self.prefix = total, group + ":"
        self.overrides = tuple(
            (context_getter(rule["contextName"]), frozenset(rule.get("values") or []), index)
            for index, variant in enumerate(variants if overrides else [])
            for rule in variant.get("overrides") or []
        )
        if stickiness in (None, "default"):  # get_seed: userId, else sessionId, else random (no remoteAddress)
            user, session = context_getter("userId"), context_getter("sessionId")
            self.seed = lambda ctx: user(ctx) if ctx.get("userId") is not None else session(ctx)
        else:
            self.seed = (lambda ctx: None) if stickiness == "random" else context_getter(stickiness)

    def pick(self, ctx: dict, rnd: Callable[[], float]) -> dict:
        for get, values, index in self.overrides:
            if (value := get(ctx)) is not None and value in values:
                return self.result(self.choices[index])
        if self.total <= 0:
            return _disabled(True)
        seed = self.seed(ctx)
        if seed is None:
            target = int(rnd() * self.total) + 1
        else:
            target = _hash(self.prefix + seed, VARIANT_SEED, False) % self.total + 1
        for choice in self.choices:
            if choice[0] >= target:
                return self.result(choice)
        return _disabled(True)  # unreachable: the last cumulative weight is the total

    @staticmethod
    def result(choice: tuple) -> dict:
        _, name, payload = choice
        if payload is None:
            return {"name": name, "enabled": True, "feature_enabled": True}
        return {"name": name, "payload": dict(payload), "enabled": True, "feature_enabled": True}


@dataclass
class _Feature:
    name: str
    on: bool  # enabled in the document and compiled
    check: Check  # the whole isEnabled, dependencies included once linked
    strategies: tuple  # (match, strategy variants declared, picker or None) per strategy, in order
    picker: _Picker | None  # feature-level variants
    dependencies: list
    meta: FlagMeta
    gates: tuple = ()


def _expiry(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _compile_feature(feature: dict, segments: dict, rnd: Callable[[], float]) -> _Feature:
    name, sources = feature["name"], feature.get("strategies") or []
    strategies, error = [], None
    try:
        for source in sources:
            # Parameters are strings in the schema; numbers from older servers are read as their text.
            params = {key: str(value) for key, value in (source.get("parameters") or {}).items() if value is not None}
            match = _compile_strategy(source, params, name, segments, rnd)
            variants, group = source.get("variants"), params.get("groupId", name)
            picker = _Picker(variants, group, params.get("stickiness", "default"), False) if variants else None
            strategies.append((match, variants is not None, picker))
    except CompileError as exc:
        error = str(exc)  # yggdrasil compile(): "Failed to compile toggle, this will always be off"
    on = feature["enabled"] and error is None
    check = (_any_of([match for match, _, _ in strategies]) if sources else always) if on else never
    variants, owner = feature.get("variants") or [], feature.get("owner")
    kind, project, stale = feature.get("type") or "release", feature.get("project") or "default", feature.get("stale")
    owner, expires = owner if isinstance(owner, str) else None, _expiry(feature.get("expires"))
    meta = FlagMeta(name, kind, project, feature["enabled"], bool(stale), owner, expires, error)
    picker = _Picker(variants, name, variants[0].get("stickiness"), overrides=True) if variants else None
    return _Feature(name, on, check, tuple(strategies), picker, feature.get("dependencies") or [], meta)


class FlagSet:
    """Compiled features of one Unleash state document; evaluation never re-parses anything."""

    def __init__(self, features: dict[str, _Feature], rng: random.Random) -> None:
        self._features = features
        self._random = rng.random
        for feature in features.values():
            if feature.dependencies:
                feature.gates = tuple(self._gate(dependency) for dependency in feature.dependencies)
                feature.check = self._gated(feature.gates, feature.check)
        self._checks = {name: feature.check for name, feature in features.items()}

    @classmethod
    def from_unleash(cls, state: dict, rng: random.Random | None = None) -> FlagSet:
        """Validate and compile a client API state ({"version", "features", "segments"}) or a delta event list."""
        rng = rng if rng is not None else random.Random()
        features, segment_sources = _load(state)
        segments: dict[int, tuple | CompileError] = {}
        for segment in segment_sources:  # each segment compiled once, shared by the strategies that use it
            try:
                segments[segment["id"]] = tuple(compile_constraint(c) for c in segment.get("constraints") or [])
            except CompileError as exc:
                segments[segment["id"]] = exc
        return cls({feature["name"]: _compile_feature(feature, segments, rng.random) for feature in features}, rng)

    def is_enabled(self, name: str, context: dict) -> bool:
        check = self._checks.get(name)
        return False if check is None else check(context or _EMPTY)

    def get_variant(self, name: str, context: dict) -> dict:
        feature = self._features.get(name)
        return _disabled(False) if feature is None else self._variant(feature, context or _EMPTY)

    def meta(self, name: str) -> FlagMeta:
        return self._features[name].meta

    def names(self) -> list[str]:
        return list(self._features)

    def __contains__(self, name: object) -> bool:
        return name in self._features

    def __len__(self) -> int:
        return len(self._features)

    def _variant(self, feature: _Feature, ctx: dict) -> dict:
        if not feature.on:
            return _disabled(False)
        for gate in feature.gates:
            if not gate(ctx):
                return _disabled(False)
        picker = feature.picker
        if feature.strategies:
            enabled = False
            # yggdrasil lib.rs check_variant_by_toggle: the first matching strategy that declares "variants" picks;
            # declared but empty falls back to the feature's variants.
            for match, declared, strategy_picker in feature.strategies:
                if match(ctx):
                    enabled = True
                    if declared:
                        picker = strategy_picker or feature.picker
                        break
            if not enabled:
                return _disabled(False)
        return _disabled(True) if picker is None else picker.pick(ctx, self._random)

    def _gate(self, dependency: dict) -> Check:
        """One parent dependency (spec 17): the parent must exist and have no dependencies of its own."""
        parent = self._features.get(dependency["feature"])
        if parent is None or parent.dependencies:
            return never
        if dependency.get("enabled") is False:
            return lambda ctx: not parent.check(ctx)
        wanted = frozenset(dependency.get("variants") or [])
        if not wanted:
            return parent.check

        def variant_matches(ctx: dict) -> bool:
            # A parent without variants yields "disabled" (unleash-client-node client.ts isParentDependencySatisfied).
            variant = self._variant(parent, ctx)
            return variant["feature_enabled"] and variant["name"] in wanted

        return variant_matches

    @staticmethod
    def _gated(gates: tuple, check: Check) -> Check:
        def gated(ctx: dict) -> bool:
            for gate in gates:
                if not gate(ctx):
                    return False
            return check(ctx)

        return gated
