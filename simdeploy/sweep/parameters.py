"""Sweep parameters: `--set PATH=V1,V2,...`, the values they take, and how a PATH addresses a scenario.

A PATH is either an object field, `KIND/NAME:FIELD.PATH` (e.g.
`deployment/payments-api:spec.strategy.rollingUpdate.maxSurge`), or a scenario field written like
the file, with brackets for keys that hold dots or slashes (e.g. `cluster.controllerLatency`,
`versions["registry.example.com/payments-api:2.9.0"].startup`, `traffic[0].rate`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_KINDS = {
    "deployment": "Deployment",
    "deploy": "Deployment",
    "service": "Service",
    "svc": "Service",
    "poddisruptionbudget": "PodDisruptionBudget",
    "pdb": "PodDisruptionBudget",
    "replicaset": "ReplicaSet",
    "rs": "ReplicaSet",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
}
_OBJECT_PATH = re.compile(r"(?P<kind>[A-Za-z]+)/(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?):(?P<field>.+)")
_PART = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"]+)"\]|\[\'([^\']+)\'\]')


class SweepError(ValueError):
    """A --set that cannot be applied: names the parameter and what is wrong."""


@dataclass(frozen=True)
class Parameter:
    """One swept field and the values it takes."""

    path: str
    values: tuple


def parse_set(text: str) -> Parameter:
    """`PATH=V1,V2,...` -> Parameter; values are ints, floats, or kept as text (percents, durations)."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path or not raw.strip():
        raise SweepError(f"--set {text!r}: expected PATH=V1,V2,... (e.g. deployment/web:spec.replicas=2,4)")
    values = tuple(parse_value(item) for item in _split_values(raw))
    if any(v == "" for v in values):
        raise SweepError(f"--set {text!r}: empty value in the list")
    split_path(path)  # fail early on a malformed path
    return Parameter(path, values)


def _split_values(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",")]


def parse_value(text: str) -> int | float | str | bool:
    """The YAML meaning of a value: 3 -> int, 0.5 -> float, true -> bool; "25%" and "30s" stay text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, int | float | bool) and not isinstance(value, str) else text


def split_path(path: str) -> tuple[str | None, str | None, list[str | int]]:
    """(kind, name, parts) for an object path; (None, None, parts) for a scenario path."""
    match = _OBJECT_PATH.fullmatch(path)
    if match:
        kind = _KINDS.get(match["kind"].lower())
        if kind is None:
            raise SweepError(f"{path}: unknown kind {match['kind']!r} (deployment, service, pdb, configmap...)")
        return kind, match["name"], _parts(match["field"], path)
    return None, None, _parts(path, path)


def _parts(text: str, whole: str) -> list[str | int]:
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None or match.end() == position:
            raise SweepError(f"{whole}: cannot read the field path at {text[position:]!r}")
        name, index, quoted, single = match.groups()
        parts.append(int(index) if index is not None else (name or quoted or single))
        position = match.end()
    if not parts:
        raise SweepError(f"{whole}: empty field path")
    return parts


def inline_manifests(scenario: dict, base_dir: Path) -> dict:
    """The scenario with every manifest file read into inline objects, so that paths can reach them."""
    scenario = copy.deepcopy(scenario)
    inlined = []
    for ref in scenario.get("manifests") or []:
        if isinstance(ref, dict) and "file" in ref:
            path = base_dir / ref["file"]
            try:
                documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            except (OSError, yaml.YAMLError):
                inlined.append(ref)  # the scenario loader reports it properly
                continue
            inlined += [{"inline": document} for document in documents]
        else:
            inlined.append(ref)
    scenario["manifests"] = inlined
    return scenario


def apply(scenario: dict, path: str, value: object) -> None:
    """Set one field of a scenario dict (with inlined manifests) in place."""
    kind, name, parts = split_path(path)
    if kind is not None:
        target = find_object(scenario, kind, name, path)
    else:
        target = scenario
    _set(target, parts, value, path)


def find_object(scenario: dict, kind: str, name: str, path: str) -> dict:
    """The manifest object of that kind and name in a scenario with inlined manifests."""
    for ref in scenario.get("manifests") or []:
        obj = ref.get("inline", ref) if isinstance(ref, dict) else None
        if isinstance(obj, dict) and obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
            return obj
    raise SweepError(f"{path}: no {kind} named {name!r} in the scenario's manifests")


def _set(target: object, parts: list[str | int], value: object, path: str) -> None:
    for depth, part in enumerate(parts[:-1]):
        following = parts[depth + 1]
        if isinstance(part, int):
            if not isinstance(target, list) or part >= len(target):
                raise SweepError(f"{path}: no item [{part}] there")
            target = target[part]
            continue
        if not isinstance(target, dict):
            raise SweepError(f"{path}: {part!r} is inside a value that is not a mapping")
        if part not in target:
            if isinstance(following, int):
                raise SweepError(f"{path}: no list {part!r} there")
            target[part] = {}
        target = target[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or last >= len(target):
            raise SweepError(f"{path}: no item [{last}] there")
    elif not isinstance(target, dict):
        raise SweepError(f"{path}: {last!r} is inside a value that is not a mapping")
    target[last] = value
