"""Checking every --set before any run: its path names a known field and each value is one the field can take.

An object field is asked of the API server's own decoding (`k8s.admission.admit`): an unknown field is
refused as `kubectl apply` reports it (strict decoding names the field), a badly typed or out-of-range
value as the API server's validation does. A scenario field is asked of the scenario loader. A value
is wrong only when no setting of the other swept fields makes it acceptable: maxSurge=0 next to a
swept maxUnavailable=0,1 is a point the API server rejects (a "rejected" row), not a bad --set.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from simdeploy.k8s.admission import admit
from simdeploy.k8s.validation import decode_errors
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.loader import load_scenario
from simdeploy.sweep.parameters import Parameter, SweepError, apply, find_object, split_path

# Maps whose keys are free (map[string]string upstream: ObjectMeta labels and annotations, PodSpec
# nodeSelector, LabelSelector matchLabels, ConfigMap and Secret data): any key may be added.
_FREE_MAPS = {"labels", "annotations", "nodeSelector", "matchLabels", "data", "binaryData", "stringData"}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # written bare by the loader, other keys as ["key"]
_PROBE_KEY = "simdeployProbeField"  # a name no schema has: the decoder refuses it where it knows the schema


def check_parameters(scenario: dict, parameters: list[Parameter], base_dir: Path) -> None:
    """Raise SweepError naming every --set whose path or values cannot work, before anything runs."""
    problems = _shape_problems(parameters)
    if problems:
        raise SweepError("\n".join(problems))
    usable = []
    for parameter in parameters:
        found = _path_problem(scenario, parameter, base_dir)
        if found:
            problems.append(found)
        else:
            usable.append(parameter)
    for parameter in usable:
        problems += _value_problems(scenario, parameter, usable, base_dir)
    if problems:
        raise SweepError("\n".join(problems))


def shown(value: object) -> str:
    """A value as written on the command line: true, 25%, 3."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shape_problems(parameters: list[Parameter]) -> list[str]:
    problems = []
    seen = set()
    for parameter in parameters:
        if parameter.path in seen:
            problems.append(f"--set {parameter.path}: given twice; put every value in one --set (PATH=V1,V2,...)")
        seen.add(parameter.path)
        if not parameter.values:
            problems.append(f"--set {parameter.path}: no values")
        repeated = sorted({shown(v) for v in parameter.values if parameter.values.count(v) > 1})
        if repeated:
            problems.append(f"--set {parameter.path}: value {', '.join(repeated)} given more than once")
    return problems


def _path_problem(scenario: dict, parameter: Parameter, base_dir: Path) -> str | None:
    """Why the path names no field (None when it does)."""
    path = parameter.path
    kind, name, parts = split_path(path)
    changed = copy.deepcopy(scenario)
    try:
        apply(changed, path, parameter.values[0])
    except SweepError as error:
        return f"--set {error}"
    if kind is None:
        unknown = [
            p for p in _scenario_problems(changed, base_dir) if p.message == "unknown field" and _related(p.path, parts)
        ]
        if not unknown:
            return None
        where = "" if unknown[0].path == _canonical(parts) else f" {unknown[0].path}"
        return f"--set {path}:{where} unknown field (not in the scenario format)"
    obj = find_object(changed, kind, name, path)
    unknown = [e for e in decode_errors(copy.deepcopy(obj)) if e.message == "unknown field" and _related(e.path, parts)]
    if unknown:
        # As `kubectl apply` prints it: strict decoding error: unknown field "spec.replicaz".
        return f'--set {path}: {kind} "{name}": strict decoding error: unknown field "{unknown[0].path}"'
    original = find_object(scenario, kind, name, path)
    if not _schema_knows(obj, parts) and not _present(original, parts) and not _in_free_map(parts):
        return (
            f'--set {path}: {kind} "{name}" has no field {_canonical(parts)} and simdeploy does not know the '
            "schema there, so it cannot tell whether the API server would accept it; sweep a field the manifest sets"
        )
    return None


def _value_problems(scenario: dict, parameter: Parameter, parameters: list[Parameter], base_dir: Path) -> list[str]:
    """One line per value that no setting of the other swept fields makes acceptable."""
    kind, name, _ = split_path(parameter.path)
    # Only the fields that can change the verdict vary with it: the same object's, or the scenario's.
    others = [p for p in parameters if p is not parameter and split_path(p.path)[:2] == (kind, name)]
    problems = []
    for value in parameter.values:
        refusals = []
        for combo in _combos(others):
            related, clean_otherwise = _verdict(scenario, parameter, value, combo, base_dir)
            if not clean_otherwise:
                continue  # another swept value breaks this setting: it says nothing about this value
            if not related:
                break
            refusals.append(related)
        else:
            if not refusals:  # every setting was broken by another value: judge this one on its own
                related, clean_otherwise = _verdict(scenario, parameter, value, (), base_dir)
                refusals = [related] if related and clean_otherwise else []
            if refusals:
                problems.append(f"--set {parameter.path}={shown(value)}: {'; '.join(refusals[0])}")
    return problems


def _verdict(scenario: dict, parameter: Parameter, value: object, combo: tuple, base_dir: Path) -> tuple[list, bool]:
    """The errors about the field with this value and these other settings, and whether there were no others."""
    kind, name, parts = split_path(parameter.path)
    changed = copy.deepcopy(scenario)
    for other, other_value in combo:
        apply(changed, other.path, other_value)
    apply(changed, parameter.path, value)
    if kind is None:
        problems = _scenario_problems(changed, base_dir)
        related = [str(p) for p in problems if _related(p.path, parts)]
        return related, len(related) == len(problems)
    errors = admit(copy.deepcopy(find_object(changed, kind, name, parameter.path)))
    related = [f'the {kind} "{name}" is invalid: {e}' for e in errors if _related(e.path, parts)]
    return related, len(related) == len(errors)


def _combos(others: list[Parameter]) -> Iterator[tuple[tuple[Parameter, object], ...]]:
    for values in itertools.product(*(p.values for p in others)):
        yield tuple(zip(others, values, strict=True))


def _scenario_problems(changed: dict, base_dir: Path) -> list[Problem]:
    """The loader's problems outside the manifests (the API server's verdicts on objects are rejected points)."""
    try:
        load_scenario(changed, base_dir)
    except ScenarioError as error:
        return [p for p in error.problems if not p.path.startswith("manifests[")]
    return []


def _related(error_path: str, parts: list[str | int]) -> bool:
    """Whether an error at `error_path` is about the field: the field itself, inside it, or a parent of it."""
    field = _canonical(parts)
    dotted = _canonical(parts, quote=False)
    for candidate in {field, dotted}:
        if error_path == candidate:
            return True
        for a, b in ((error_path, candidate), (candidate, error_path)):
            if a.startswith(b + ".") or a.startswith(b + "["):
                return True
    return False


def _canonical(parts: list[str | int], quote: bool = True) -> str:
    """The field path as the loader writes it: dots between names, [i] for items, ["k"] for odd keys."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif quote and not _plain(part):
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else part
    return text


def _plain(name: str) -> bool:
    return _PLAIN_KEY.fullmatch(name) is not None


def _schema_knows(obj: dict, parts: list[str | int]) -> bool:
    """Whether the decoder knows the schema of the mapping that holds the field (it refuses a made-up name there)."""
    names = [i for i, part in enumerate(parts) if isinstance(part, str)]
    if not names:
        return False
    holder: object = obj
    for part in parts[: names[-1]]:
        holder = holder[part]
    if not isinstance(holder, dict):
        return False
    holder[_PROBE_KEY] = 0  # not null: the decoder drops nulls before it looks
    try:
        return any(e.message == "unknown field" and e.path.endswith(_PROBE_KEY) for e in decode_errors(obj))
    finally:
        holder.pop(_PROBE_KEY, None)


def _present(obj: dict, parts: list[str | int]) -> bool:
    target: object = obj
    for part in parts:
        if isinstance(part, int):
            if not isinstance(target, list) or part >= len(target):
                return False
        elif not isinstance(target, dict) or part not in target:
            return False
        target = target[part]
    return True


def _in_free_map(parts: list[str | int]) -> bool:
    return len(parts) >= 2 and isinstance(parts[-1], str) and parts[-2] in _FREE_MAPS
