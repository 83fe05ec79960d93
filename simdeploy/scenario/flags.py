"""The scenario's feature flags: the Unleash state read and checked (scenario/build.py wires it into a run)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from simdeploy.delivery.flags.features import DISABLED, ENABLED, ROLLOUT_PARAMETERS, variant_names
from simdeploy.delivery.flags.unleash import FlagError, FlagSet, client_state
from simdeploy.k8s.shown import shown
from simdeploy.k8s.timeutil import DEFAULT_EPOCH, format_time, parse_time
from simdeploy.scenario.errors import Problem, key_step
from simdeploy.scenario.schema import FlagAction, FlagsSpec, ScenarioSpec, SetRolloutAction
from simdeploy.scenario.yamlfile import InputError, parse_yaml, read_text, strict_json

# -- reading -----------------------------------------------------------------------------


def read_state(spec: FlagsSpec, directory: Path, problems: list[Problem]) -> dict | None:
    """The Unleash client API state, inline or from its file, compiled once to check it; None if it is invalid."""
    if spec.state is not None:
        state, where, renames = spec.state, "flags.state", {}
    else:
        where = f"flags.file ({spec.file})"
        state, renames = _read_file(directory / spec.file, where, problems)
        if state is None:
            return None
    try:
        FlagSet.from_unleash(state)
        return client_state(state)  # the runtime works on the full state, whichever form the file has
    except FlagError as error:
        problems.append(_flag_problem(str(error), where, renames))
        return None


def _read_file(path: Path, where: str, problems: list[Problem]) -> tuple[dict | None, dict[str, str]]:
    """A state document (JSON or YAML), or a ConfigMap holding one JSON feature (or state) per data key."""
    try:
        documents = parse_yaml(read_text(path))
    except InputError as error:
        problems.append(Problem(where, str(error)))
        return None, {}
    if len(documents) != 1 or not isinstance(documents[0], dict):
        problems.append(Problem(where, "expected one document: an Unleash state {version, features} or a ConfigMap"))
        return None, {}
    if documents[0].get("kind") == "ConfigMap":
        return _from_config_map(documents[0], where, problems)
    return documents[0], {}


def _from_config_map(config_map: dict, where: str, problems: list[Problem]) -> tuple[dict | None, dict[str, str]]:
    """Features from each data key (as the seed chapter's unleash-features); features[i] is renamed to its key."""
    state: dict = {"version": 1, "features": [], "segments": []}
    renames: dict[str, str] = {}
    data = config_map.get("data") or {}
    if not isinstance(data, dict):
        problems.append(Problem(f"{where} data", "expected a mapping of keys to JSON text"))
        return None, renames
    for key, text in data.items():
        name = f"data{key_step(key)}"
        if not isinstance(text, str):
            problems.append(Problem(f"{where} {name}", f"expected JSON text, got {shown(text)}"))
            continue
        try:
            document = strict_json(text)
        except ValueError as error:
            problems.append(Problem(f"{where} {name}", f"invalid JSON: {error}"))
            continue
        if isinstance(document, dict) and "features" in document:  # a whole state under one key
            for field in ("features", "segments"):
                items = document.get(field) or []
                if not isinstance(items, list):
                    problems.append(Problem(f"{where} {name}", f"{field}: expected a list"))
                    continue
                state[field] += items
        else:
            renames[f"features[{len(state['features'])}]"] = name
            state["features"].append(document)
    return (None, renames) if problems else (state, renames)


def _flag_problem(message: str, where: str, renames: dict[str, str]) -> Problem:
    """A FlagError ("features[0].enabled: is required (feature 'x')") as a problem at the field's full path."""
    path, _, what = message.partition(": ")
    for prefix, name in renames.items():
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            path = name + path[len(prefix) :]
    if path == "state":
        return Problem(where, what)
    if where == "flags.state":
        return Problem(f"{where}{'' if path.startswith('[') else '.'}{path}", what)
    return Problem(f"{where} {path}", what)


# -- checking ----------------------------------------------------------------------------


def check_flags(spec: ScenarioSpec, state: dict | None, problems: list[Problem]) -> None:
    """Every flag an action or effect names exists, effects name a cohort and version there is."""
    features = {feature["name"]: feature for feature in (state or {}).get("features") or []}
    for index, action in enumerate(spec.timeline):
        if not isinstance(action, FlagAction | SetRolloutAction):
            continue
        where = f"timeline[{index}].flag"
        if state is None:
            problems.append(Problem(where, "the scenario has no flags section"))
        elif action.flag not in features:
            problems.append(Problem(where, f"no feature {shown(action.flag)} in the flags state"))
        elif isinstance(action, SetRolloutAction) and not _has_rollout(features[action.flag]):
            problems.append(
                Problem(where, f"feature {shown(action.flag)} has no flexibleRollout or gradualRollout strategy")
            )
    if spec.flags is None or state is None:
        return
    versions = set(spec.versions) | {v.version for v in spec.versions.values() if v.version}
    for index, effect in enumerate(spec.flags.effects):
        where = f"flags.effects[{index}]"
        if effect.flag not in features:
            problems.append(Problem(f"{where}.flag", f"no feature {shown(effect.flag)} in the flags state"))
            continue
        cohorts = [ENABLED, DISABLED, *variant_names(features[effect.flag])]
        if effect.when not in cohorts:
            problems.append(Problem(f"{where}.when", f"expected one of {', '.join(cohorts)}, got {shown(effect.when)}"))
        if effect.version is not None and effect.version not in versions:
            problems.append(
                Problem(f"{where}.version", f"no image or version named {shown(effect.version)} under versions")
            )


def _has_rollout(feature: dict) -> bool:
    return any(strategy.get("name") in ROLLOUT_PARAMETERS for strategy in feature.get("strategies") or [])


def flag_warnings(spec: ScenarioSpec, state: dict) -> list[str]:
    """Flags past their expiry when the scenario starts, and flags that can never be on."""
    start = _start(spec)
    flags, warnings = FlagSet.from_unleash(state), []
    for name in flags.names():
        meta = flags.meta(name)
        if meta.expires is not None and meta.expires < start:
            owner = f" (owner {meta.owner})" if meta.owner else ""
            warnings.append(
                f"flags: feature {shown(name)}{owner} expired {format_time(meta.expires)}, before the scenario starts "
                f"({format_time(start)}): remove the flag or extend its expiry"
            )
        if meta.error is not None:
            warnings.append(f"flags: feature {shown(name)} is always off: {meta.error}")
    return warnings


def _start(spec: ScenarioSpec) -> datetime:
    try:
        start = parse_time(spec.cluster.start_time) if spec.cluster.start_time else DEFAULT_EPOCH
    except ValueError:
        return DEFAULT_EPOCH
    return start if start.tzinfo is not None else start.replace(tzinfo=UTC)
