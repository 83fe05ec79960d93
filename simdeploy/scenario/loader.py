"""Reading a scenario: YAML, schema, manifests and cross-references, with errors that name file and field."""

from __future__ import annotations

import copy
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from simdeploy.delivery.argo.analysis import validate_template
from simdeploy.k8s.admission import admit
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.labels import parse_selector
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.expect import ExpectSpec
from simdeploy.scenario.flags import check_flags, flag_warnings, read_state
from simdeploy.scenario.limits import check_limits
from simdeploy.scenario.rules import load_rule_file, parse_rule_groups
from simdeploy.scenario.schema import (
    ACTION_NAMES,
    AlertsRef,
    ApplyAction,
    DeletePodsAction,
    ManifestRef,
    ScenarioSpec,
    SetBehaviourAction,
    SetImageAction,
    SetWeightsAction,
)
from simdeploy.scenario.yamlfile import LOADER, read_yaml, yaml_message
from simdeploy.sim.metrics.alerts import RuleGroup


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
        raise ScenarioError(name, [_problem(e) for e in error.errors()]) from None
    scenario = Scenario(spec, name, directory)
    problems: list[Problem] = []
    try:
        scenario.expect = ExpectSpec.model_validate(spec.expect)
    except ValidationError as error:
        problems += [_problem({**e, "loc": ("expect", *e["loc"])}) for e in error.errors()]
    for index, ref in enumerate(spec.manifests):
        scenario.manifests += _read_manifests(ref, directory, f"manifests[{index}]", problems)
    for index, action in enumerate(spec.timeline):
        if isinstance(action, ApplyAction):
            objects = _read_manifests(action.manifest, directory, f"timeline[{index}].manifest", problems)
            scenario.action_manifests[index] = objects
    for index, traffic in enumerate(spec.traffic):
        if traffic.rate.csv is not None and traffic.rate.csv not in scenario.rate_files:
            rates = _read_rates(directory / traffic.rate.csv, f"traffic[{index}].rate.csv", problems)
            if rates is not None:
                scenario.rate_files[traffic.rate.csv] = rates
    for index, ref in enumerate(spec.alerts):
        scenario.rule_groups += _read_rule_groups(ref, directory, f"alerts[{index}]", problems)
    if spec.flags is not None:
        scenario.flag_state = read_state(spec.flags, directory, problems)
    if not problems:
        _check_references(scenario, problems)
        check_flags(spec, scenario.flag_state, problems)
        check_limits(scenario, default_namespace(scenario), problems)
    if problems:
        raise ScenarioError(name, problems)
    if scenario.flag_state is not None:
        scenario.warnings += flag_warnings(spec, scenario.flag_state)
    return scenario


def _read_yaml_mapping(path: Path) -> dict:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(
            str(path),
            [Problem("", "expected a YAML mapping with metadata, manifests, versions and timeline")],
        )
    return data


def _problem(error: dict) -> Problem:
    """A pydantic error as a field path and a sentence."""
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_TAGS:
            continue  # the discriminated-union branch name, not a field
        elif not _PLAIN_KEY.fullmatch(str(part)):
            path += f'["{part}"]'
        else:
            path += f".{part}" if path else str(part)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "union_tag_invalid":
        message = f"unknown action {error['input'].get('action')!r}; expected one of: {', '.join(ACTION_NAMES)}"
    elif error["type"] == "union_tag_not_found":
        message = f"every timeline entry needs `action`: one of {', '.join(ACTION_NAMES)}"
    return Problem(path, message)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_UNION_TAGS = set(ACTION_NAMES)


def _read_manifests(ref: ManifestRef, directory: Path, where: str, problems: list[Problem]) -> list[dict]:
    if ref.inline is not None:
        documents, origin = (
            ([ref.inline] if isinstance(ref.inline, dict) else None),
            f"{where}.inline",
        )
        if documents is None:
            try:
                documents = [d for d in yaml.load_all(ref.inline, Loader=LOADER) if d is not None]
            except yaml.YAMLError as error:
                problems.append(Problem(f"{where}.inline", yaml_message(error)))
                return []
    else:
        path = directory / ref.file
        origin = f"{where}.file ({ref.file})"
        try:
            documents = [d for d in yaml.load_all(path.read_text(), Loader=LOADER) if d is not None]
        except FileNotFoundError:
            problems.append(Problem(f"{where}.file", f"file not found: {path}"))
            return []
        except yaml.YAMLError as error:
            problems.append(Problem(f"{where}.file", f"{ref.file}: {yaml_message(error)}"))
            return []
    objects = []
    for number, document in enumerate(documents, start=1):
        label = origin if len(documents) == 1 else f"{origin} document {number}"
        if not isinstance(document, dict):
            problems.append(Problem(label, "expected a Kubernetes object (a mapping)"))
            continue
        obj = copy.deepcopy(document)
        errors = admit(obj)
        if errors:
            named = f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"
            problems += [Problem(f"{label} {named}: {e.path}", e.message) for e in errors]
            continue
        objects.append(document)
    return objects


def _read_rule_groups(ref: AlertsRef, directory: Path, where: str, problems: list[Problem]) -> list[RuleGroup]:
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
        rows = list(csv.reader(path.read_text().splitlines()))
    except FileNotFoundError:
        problems.append(Problem(where, f"file not found: {path}"))
        return None
    points = []
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and not _is_number(row[0]) and not _is_duration(row[0])):
            continue  # blank line or header
        try:
            points.append((parse_duration(_number_or_text(row[0])), float(row[1])))
        except (ValueError, IndexError):
            problems.append(Problem(where, f"{path.name} line {number}: expected `time,rps`, got {','.join(row)!r}"))
            return None
    if not points or [t for t, _ in points] != sorted({t for t, _ in points}):
        problems.append(Problem(where, f"{path.name}: needs rows of time,rps with increasing times"))
        return None
    return tuple(t for t, _ in points), tuple(r for _, r in points)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text.strip())
    except ValueError:
        return False
    return True


def _number_or_text(text: str) -> float | str:
    return float(text) if _is_number(text) else text.strip()


def _check_references(scenario: Scenario, problems: list[Problem]) -> None:
    """Every deployment an action names exists, and every image used has a behaviour."""
    spec = scenario.spec
    deployments = {_object_key(o) for o in scenario.manifests if o["kind"] == "Deployment"}
    rollouts = {_object_key(o) for o in scenario.manifests if o["kind"] == "Rollout"}
    images: dict[str, str] = {}
    for obj in scenario.manifests:
        images.update(_images_of(obj, "manifests"))
    for index, action in enumerate(spec.timeline):
        where = f"timeline[{index}]"
        if action.at > spec.duration:
            problems.append(
                Problem(
                    f"{where}.at",
                    f"{action.at:g}s is after the scenario's duration ({spec.duration:g}s)",
                )
            )
        for obj in scenario.action_manifests.get(index, []):
            if obj["kind"] == "Deployment":
                deployments.add(_object_key(obj))
            images.update(_images_of(obj, f"{where}.manifest"))
        if isinstance(action, SetImageAction):
            images.setdefault(action.image, f"{where}.image")
        if isinstance(action, SetBehaviourAction) and action.image not in spec.versions:
            problems.append(Problem(f"{where}.image", f"no version named {action.image!r} under versions"))
        if isinstance(action, DeletePodsAction) and isinstance(action.selector, str):
            try:
                parse_selector(action.selector)
            except ValueError as error:
                problems.append(Problem(f"{where}.selector", str(error)))
        rollout = getattr(action, "rollout", None)
        if rollout is not None and isinstance(rollout, str):
            namespace = action.namespace or default_namespace(scenario)
            if (namespace, rollout) not in rollouts:
                problems.append(
                    Problem(
                        f"{where}.rollout",
                        f"no Rollout {rollout!r} in namespace {namespace!r} in the scenario's manifests",
                    )
                )
        name = getattr(action, "deployment", None)
        if name is not None:
            namespace = action.namespace or default_namespace(scenario)
            if (namespace, name) not in deployments:
                problems.append(
                    Problem(
                        f"{where}.deployment",
                        f"no Deployment {name!r} in namespace {namespace!r} in the scenario's manifests",
                    )
                )
    _check_traffic(scenario, problems)
    _check_analysis(scenario, problems)
    for image, used_by in images.items():
        if image not in spec.versions:
            problems.append(Problem("versions", f"no behaviour for image {image!r} (used by {used_by})"))


def _check_analysis(scenario: Scenario, problems: list[Problem]) -> None:
    """AnalysisTemplates are valid, and every template a Rollout names exists."""
    templates = set()
    for index, obj in enumerate(scenario.manifests):
        if obj.get("kind") == "AnalysisTemplate":
            templates.add(_object_key(obj))
            named = f"manifests[{index}] AnalysisTemplate/{obj['metadata'].get('name')}"
            problems += [Problem(f"{named}: {path}", message) for path, message in validate_template(obj)]
    for index, obj in enumerate(scenario.manifests):
        if obj.get("kind") != "Rollout":
            continue
        namespace = obj["metadata"].get("namespace", "default")
        canary = (obj["spec"].get("strategy") or {}).get("canary") or {}
        blue_green = (obj["spec"].get("strategy") or {}).get("blueGreen") or {}
        uses = [("spec.strategy.canary.analysis", canary.get("analysis") or {})]
        uses += [
            (f"spec.strategy.blueGreen.{f}", blue_green.get(f) or {})
            for f in ("prePromotionAnalysis", "postPromotionAnalysis")
        ]
        uses += [
            (f"spec.strategy.canary.steps[{i}].analysis", s["analysis"])
            for i, s in enumerate(canary.get("steps") or [])
            if "analysis" in s
        ]
        for where, spec in uses:
            for ref in spec.get("templates") or []:
                if (namespace, ref.get("templateName")) not in templates:
                    problems.append(
                        Problem(
                            f"manifests[{index}] Rollout/{obj['metadata']['name']}: {where}",
                            f"no AnalysisTemplate {ref.get('templateName')!r} in the scenario's manifests",
                        )
                    )


def _check_traffic(scenario: Scenario, problems: list[Problem]) -> None:
    """Traffic goes to Services the scenario defines, or through routes it defines."""
    spec = scenario.spec
    namespace = default_namespace(scenario)
    objects = scenario.manifests + [o for objs in scenario.action_manifests.values() for o in objs]
    services = {_object_key(o) for o in objects if o["kind"] == "Service"}
    routes = {(r.namespace or namespace, r.name) for r in spec.routes}
    for index, route in enumerate(spec.routes):
        for name in route.weights:
            if (route.namespace or namespace, name) not in services:
                problems.append(
                    Problem(f"routes[{index}].weights.{name}", f"no Service {name!r} in the scenario's manifests")
                )
    for index, traffic in enumerate(spec.traffic):
        target_ns = traffic.namespace or namespace
        if traffic.service is not None and (target_ns, traffic.service) not in services:
            problems.append(
                Problem(
                    f"traffic[{index}].service",
                    f"no Service {traffic.service!r} in namespace {target_ns!r} in the scenario's manifests",
                )
            )
        if traffic.route is not None and (target_ns, traffic.route) not in routes:
            problems.append(Problem(f"traffic[{index}].route", f"no route {traffic.route!r} under routes"))
    for index, action in enumerate(spec.timeline):
        if isinstance(action, SetWeightsAction) and ((action.namespace or namespace), action.route) not in routes:
            problems.append(Problem(f"timeline[{index}].route", f"no route {action.route!r} under routes"))


def _object_key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace", "default"), meta.get("name", "")


def _images_of(obj: dict, where: str) -> dict[str, str]:
    template = obj.get("spec", {}).get("template", {}) if obj["kind"] != "Pod" else obj
    containers = (template.get("spec") or {}).get("containers") or []
    name = f"{obj['kind'].lower()}/{obj['metadata'].get('name')}"
    return {c["image"]: f"{where} {name} container {c['name']}" for c in containers if "image" in c}


def default_namespace(scenario: Scenario) -> str:
    """The namespace actions use when they name none: the manifests' one if they share it."""
    namespaces = {o.get("metadata", {}).get("namespace", "default") for o in scenario.manifests if o["kind"] != "Node"}
    return namespaces.pop() if len(namespaces) == 1 else "default"
