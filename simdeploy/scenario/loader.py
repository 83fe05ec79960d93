"""Reading a scenario: YAML, schema, manifests and cross-references, with errors that name file and field."""

from __future__ import annotations

import copy
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from simdeploy.k8s.admission import admit
from simdeploy.k8s.decoding import drop_nulls
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.shown import shown
from simdeploy.scenario.errors import Problem, ScenarioError, key_step
from simdeploy.scenario.expect import ExpectSpec, check_expectations
from simdeploy.scenario.fields import MAX_RATE
from simdeploy.scenario.flags import check_flags, flag_warnings, read_state
from simdeploy.scenario.limits import check_limits
from simdeploy.scenario.references import check_references, default_namespace
from simdeploy.scenario.schema import (
    ACTION_NAMES,
    AlertsRef,
    ApplyAction,
    ManifestRef,
    ScenarioSpec,
)
from simdeploy.scenario.schema_checks import check_schema, schema_warnings
from simdeploy.scenario.schema_databases import SyncAction
from simdeploy.scenario.services_check import check_services
from simdeploy.scenario.yamlfile import InputError, parse_yaml, read_text, read_yaml

if TYPE_CHECKING:
    from simdeploy.scenario.dora import DoraSpec
    from simdeploy.scenario.environments import Environment
    from simdeploy.sim.metrics.alerts import RuleGroup

__all__ = ["Scenario", "default_namespace", "load_scenario"]


@dataclass
class Scenario:
    """A validated scenario with its manifests read and defaulted."""

    spec: ScenarioSpec
    source: str  # the file it came from, or "<dict>"
    base_dir: Path
    manifests: list[dict] = field(default_factory=list)
    action_manifests: dict[int, list[dict]] = field(default_factory=dict)  # timeline index -> objects
    rate_files: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)  # csv -> data
    expect: ExpectSpec = field(default_factory=ExpectSpec)
    warnings: list[str] = field(default_factory=list)
    rule_groups: list[RuleGroup] = field(default_factory=list)  # alerting rules, from files and inline
    flag_state: dict | None = None  # the Unleash client API state of the `flags` section
    environments: list[Environment] = field(default_factory=list)  # rendered overlays, in promotion order
    dora: DoraSpec | None = None  # the `dora` section, checked

    @property
    def policies(self) -> list:
        """The environments' admission gates, for the API server's write path."""
        return [policy for environment in self.environments for policy in environment.policies]

    @property
    def name(self) -> str:
        return self.spec.metadata.name


def load_scenario(source: str | Path | dict, base_dir: str | Path | None = None) -> Scenario:
    """Read and validate a scenario from a file path or a dict; raises ScenarioError."""
    if isinstance(source, dict):
        name, data = "<dict>", copy.deepcopy(source)
        directory = Path(base_dir or ".")
    else:
        path = Path(source)
        name, directory = str(path), Path(base_dir) if base_dir else path.parent
        data = _read_yaml_mapping(path)
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(name, _problems(error.errors())) from None
    scenario = Scenario(spec, name, directory)
    problems: list[Problem] = []
    try:
        scenario.expect = ExpectSpec.model_validate(spec.expect)
    except ValidationError as error:
        problems += _problems(error.errors(), ("expect",))
    for index, ref in enumerate(spec.manifests):
        scenario.manifests += _read_manifests(ref, directory, f"manifests[{index}]", problems)
    if spec.environments:
        from simdeploy.scenario.environments import read_environments

        scenario.environments = read_environments(scenario, problems)
        scenario.manifests += [obj for environment in scenario.environments for obj in environment.objects]
    for index, action in enumerate(spec.timeline):
        if isinstance(action, ApplyAction):
            objects = _read_manifests(action.manifest, directory, f"timeline[{index}].manifest", problems)
            scenario.action_manifests[index] = objects
        elif isinstance(action, SyncAction):
            scenario.action_manifests[index] = _read_manifest_set(action, directory, f"timeline[{index}]", problems)
    for index, traffic in enumerate(spec.traffic):
        if traffic.rate.csv is not None and traffic.rate.csv not in scenario.rate_files:
            rates = _read_rates(directory / traffic.rate.csv, f"traffic[{index}].rate.csv", problems)
            if rates is not None:
                scenario.rate_files[traffic.rate.csv] = rates
    for index, ref in enumerate(spec.alerts):
        scenario.rule_groups += _read_rule_groups(ref, directory, f"alerts[{index}]", problems)
    if spec.flags is not None:
        scenario.flag_state = read_state(spec.flags, directory, problems)
    if spec.dora is not None and not problems:
        from simdeploy.scenario.dora import read_dora

        scenario.dora = read_dora(scenario, problems)
    if not problems:
        check_references(scenario, problems)
        check_flags(spec, scenario.flag_state, problems)
        check_services(scenario, problems)
        problems += check_expectations(scenario.expect, _alert_names(scenario), _graph_services(scenario))
    if not problems:  # the limits read manifests and templates as their own checks have passed them
        check_limits(scenario, default_namespace(scenario), problems)
        check_schema(scenario, problems)
    if problems:
        raise ScenarioError(name, problems)
    if scenario.flag_state is not None:
        scenario.warnings += flag_warnings(spec, scenario.flag_state)
    scenario.warnings += schema_warnings(scenario)
    return scenario


Spec = TypeVar("Spec", bound=BaseModel)


def read_spec(
    source: str | Path | dict, base_dir: str | Path | None, model: type[Spec], holds: str
) -> tuple[Spec, dict, str, Path]:
    """A drill's or game day's document (a file, or a dict) validated by `model`: (spec, the document as read, the
    name errors give, the directory its paths are relative to). ScenarioError when it is not a mapping (of what
    `holds`) or not valid."""
    if isinstance(source, dict):
        name, data, directory = "<dict>", copy.deepcopy(source), Path(base_dir or ".")
    else:
        path = Path(source)
        name, directory = str(path), Path(base_dir) if base_dir else path.parent
        data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(name, [Problem("", f"expected a YAML mapping with {holds}")])
    try:
        return model.model_validate(data), data, name, directory
    except ValidationError as error:
        raise ScenarioError(name, [_problem(e) for e in error.errors()]) from None


def _alert_names(scenario: Scenario) -> set[str]:
    return {rule.name for group in scenario.rule_groups for rule in group.rules}


def _graph_services(scenario: Scenario) -> set[str] | None:
    """The Services of the scenario's service graph, None without one."""
    edges = scenario.spec.services.edges if scenario.spec.services is not None else None
    return None if edges is None else {name for edge in edges for name in (edge.caller, edge.callee)}


def _read_manifest_set(action: SyncAction, directory: Path, where: str, problems: list[Problem]) -> list[dict]:
    """A sync's manifest set: each entry a {file} or {inline} reference, as the scenario's manifests."""
    objects = []
    for number, raw in enumerate(action.manifests):
        try:
            ref = ManifestRef.model_validate(raw)
        except ValidationError as error:
            problems += _problems(
                error.errors(), (*where.replace("[", ".").replace("]", "").split("."), "manifests", number)
            )
            continue
        objects += _read_manifests(ref, directory, f"{where}.manifests[{number}]", problems)
    return objects


def _read_yaml_mapping(path: Path) -> dict:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(
            str(path),
            [Problem("", "expected a YAML mapping with metadata, manifests, versions and timeline")],
        )
    return data


def _problems(errors: list[dict], prefix: tuple = ()) -> list[Problem]:
    """Pydantic's errors as field paths and sentences; a union's branches at one path make one problem."""
    merged: dict[str, list[str]] = {}
    for error in errors:
        problem = _problem({**error, "loc": (*prefix, *error["loc"])})
        messages = merged.setdefault(problem.path, [])
        if problem.message not in messages:
            messages.append(problem.message)
    return [Problem(path, " or ".join(messages)) for path, messages in merged.items()]


def _problem(error: dict) -> Problem:
    """A pydantic error as a field path and a sentence."""
    path = ""
    loc = list(error["loc"])
    while loc and loc[-1] in _TYPE_TAGS:
        loc.pop()  # the branch of a union (`str | dict`) that was tried, not a field
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_TAGS:
            continue  # the discriminated-union branch name, not a field
        else:
            step = key_step(part)
            path += step[1:] if not path and step.startswith(".") else step
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "union_tag_invalid":
        tag = error["input"].get("action") if isinstance(error["input"], dict) else None
        message = f"unknown action {shown(tag)}; expected one of: {', '.join(ACTION_NAMES)}"
    elif error["type"] == "union_tag_not_found":
        message = f"every timeline entry needs `action`: one of {', '.join(ACTION_NAMES)}"
    return Problem(path, message)


_TYPE_TAGS = {"str", "dict[str,any]", "int", "float", "bool", "list[any]"}
_UNION_TAGS = set(ACTION_NAMES)


def _read_manifests(ref: ManifestRef, directory: Path, where: str, problems: list[Problem]) -> list[dict]:
    if ref.inline is not None:
        origin = f"{where}.inline"
        try:
            documents = [ref.inline] if isinstance(ref.inline, dict) else parse_yaml(ref.inline)
        except InputError as error:
            problems.append(Problem(origin, str(error)))
            return []
    else:
        origin = f"{where}.file ({ref.file})"
        try:
            documents = parse_yaml(read_text(directory / ref.file))
        except InputError as error:
            problems.append(Problem(f"{where}.file", f"{ref.file}: {error}"))
            return []
    return admitted(documents, origin, problems)


def admitted(documents: list, origin: str, problems: list[Problem]) -> list[dict]:
    """The documents that are objects the API server would admit (as written, nulls dropped); problems for others."""
    objects = []
    for number, document in enumerate(documents, start=1):
        label = origin if len(documents) == 1 else f"{origin} document {number}"
        if not isinstance(document, dict):
            problems.append(Problem(label, "expected a Kubernetes object (a mapping)"))
            continue
        drop_nulls(document)  # as the API server's decoder does; what is stored has no nulls either
        obj = copy.deepcopy(document)
        errors = admit(obj)
        if errors:
            named = _named(obj)
            problems += [Problem(f"{label} {named}: {e.path}", e.message) for e in errors]
            continue
        if not obj["metadata"].get("name"):  # kubectl apply: "cannot use generate name with apply"
            problems.append(Problem(f"{label} {_named(obj)}: metadata.name", "Required value: apply needs a name"))
            continue
        objects.append(document)
    return objects


def _named(obj: dict) -> str:
    """Kind/name of an object as written, for messages (either may be missing or not a string)."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    kind, name = obj.get("kind", "?"), meta.get("name", "?")
    return "/".join(text if isinstance(text, str) and len(text) <= 80 else shown(text) for text in (kind, name))


def _read_rule_groups(ref: AlertsRef, directory: Path, where: str, problems: list[Problem]) -> list[RuleGroup]:
    # PromQL and the alerting machinery are loaded only for scenarios with alerts (keeps `validate` fast).
    from simdeploy.scenario.rules import load_rule_file, parse_rule_groups

    if ref.groups is not None:
        groups, found = parse_rule_groups({"groups": ref.groups}, f"{where}.")
        problems += found
        return groups
    try:
        return load_rule_file(directory / ref.file)
    except ScenarioError as error:
        problems += [Problem(f"{where}.file", f"{ref.file}: {problem}") for problem in error.problems]
        return []


def _read_rates(path: Path, where: str, problems: list[Problem]) -> tuple[tuple, tuple] | None:
    """A CSV of `time,rps` rows (time in seconds or a duration; a header row is allowed)."""
    try:
        rows = list(csv.reader(read_text(path).splitlines()))
    except InputError as error:
        problems.append(Problem(where, f"{path.name}: {error}"))
        return None
    except csv.Error as error:
        problems.append(Problem(where, f"{path.name}: not CSV: {error}"))
        return None
    points = []
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and not _is_number(row[0]) and not _is_duration(row[0])):
            continue  # blank line or header
        try:
            rate = float(row[1])
            if not 0 <= rate <= MAX_RATE:  # NaN fails this too
                raise ValueError("the rate must be a number from 0 to 1e9")
            points.append((parse_duration(_number_or_text(row[0])), rate))
        except (ValueError, IndexError):
            problems.append(
                Problem(where, f"{path.name} line {number}: expected `time,rps`, got {shown(','.join(row))}")
            )
            return None
    if not points or [t for t, _ in points] != sorted({t for t, _ in points}):
        problems.append(Problem(where, f"{path.name}: needs rows of time,rps with increasing times"))
        return None
    return tuple(t for t, _ in points), tuple(r for _, r in points)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text.strip())
    except ValueError:
        return False
    return True


def _number_or_text(text: str) -> float | str:
    return float(text) if _is_number(text) else text.strip()
