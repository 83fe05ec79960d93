"""Cross-references inside a scenario: every node, object, image, route and template that something names exists."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from simdeploy.k8s.admission import admit
from simdeploy.k8s.duration import MAX_SECONDS
from simdeploy.k8s.labels import parse_selector, selector_matches
from simdeploy.k8s.node_util import node_object
from simdeploy.k8s.patch import json_merge_patch
from simdeploy.k8s.shown import shown
from simdeploy.k8s.timeutil import DEFAULT_EPOCH, parse_time
from simdeploy.scenario.errors import Problem
from simdeploy.scenario.schema import (
    DeletePodsAction,
    NodeAction,
    NodeGroup,
    PatchAction,
    SetBehaviourAction,
    SetImageAction,
    SetWeightsAction,
)

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario

# The kinds a `patch` action's target may name (kubectl's short names too), and the kinds they are.
PATCH_KINDS = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "service": "Service",
    "services": "Service",
    "svc": "Service",
    "node": "Node",
    "nodes": "Node",
    "pdb": "PodDisruptionBudget",
    "poddisruptionbudget": "PodDisruptionBudget",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
    "replicaset": "ReplicaSet",
    "rs": "ReplicaSet",
    "pod": "Pod",
    "rollout": "Rollout",
    "rollouts": "Rollout",
    "ro": "Rollout",
}
_GENERATED = re.compile(r"(.*)-([1-9][0-9]*)")  # <namePrefix>-<n>


def check_references(scenario: Scenario, problems: list[Problem]) -> None:
    """Every object, node, image and route the timeline names exists; every image used has a behaviour."""
    spec = scenario.spec
    _check_calendar(scenario, problems)
    _check_node_names(spec.cluster.nodes, problems)
    objects = {(o["kind"], *_object_key(o)) for o in scenario.manifests}
    images: dict[str, str] = {}
    for obj in scenario.manifests:
        images.update(_images_of(obj, "manifests"))
    for index, action in enumerate(spec.timeline):
        where = f"timeline[{index}]"
        if action.at > spec.duration:
            problems.append(
                Problem(f"{where}.at", f"{action.at:g}s is after the scenario's duration ({spec.duration:g}s)")
            )
        for obj in scenario.action_manifests.get(index, []):
            objects.add((obj["kind"], *_object_key(obj)))
            images.update(_images_of(obj, f"{where}.manifest"))
        namespace = action.namespace or default_namespace(scenario)
        if isinstance(action, SetImageAction):
            images.setdefault(action.image, f"{where}.image")
        if isinstance(action, SetBehaviourAction) and action.image not in spec.versions:
            problems.append(Problem(f"{where}.image", f"no version named {shown(action.image)} under versions"))
        if isinstance(action, DeletePodsAction):
            problems += _selector_problems(action.selector, f"{where}.selector")
        if isinstance(action, NodeAction) and not _node_exists(scenario, action.node):
            problems.append(Problem(f"{where}.node", f"no node {shown(action.node)} in cluster.nodes"))
        if isinstance(action, PatchAction):
            problems += _patch_target_problems(scenario, objects, action, namespace, f"{where}.target")
        for field, kind in (("rollout", "Rollout"), ("deployment", "Deployment")):
            name = getattr(action, field, None)
            if isinstance(name, str) and (kind, namespace, name) not in objects:
                problems.append(
                    Problem(
                        f"{where}.{field}",
                        f"no {kind} {shown(name)} in namespace {shown(namespace)} in the scenario's manifests",
                    )
                )
    if not problems:
        _check_patches(scenario, problems)
    _check_traffic(scenario, problems)
    _check_analysis(scenario, problems)
    for image, used_by in images.items():
        if image not in spec.versions:
            problems.append(Problem("versions", f"no behaviour for image {shown(image)} (used by {used_by})"))


def _check_patches(scenario: Scenario, problems: list[Problem]) -> None:
    """Each `patch` action leaves its object as the API server would take it (applied in timeline order, to the
    objects as the manifests and earlier actions left them): found now rather than as a failure mid-run."""
    spec = scenario.spec
    objects = {(o["kind"], *_object_key(o)): o for o in scenario.manifests}
    for index, action in sorted(enumerate(spec.timeline), key=lambda pair: (pair[1].at, pair[0])):
        for obj in scenario.action_manifests.get(index, []):
            objects[(obj["kind"], *_object_key(obj))] = obj
        if not isinstance(action, PatchAction):
            continue
        kind_text, name = action.target.split("/", 1)
        kind = PATCH_KINDS[kind_text.lower()]
        if kind == "Node":
            target = _node(spec.cluster.nodes, name) or next(
                o for o in scenario.manifests if o["kind"] == "Node" and o["metadata"].get("name") == name
            )
        else:
            target = objects[(kind, action.namespace or default_namespace(scenario), name)]
        patched = json_merge_patch(copy.deepcopy(target), copy.deepcopy(action.patch))
        errors = admit(copy.deepcopy(patched)) if isinstance(patched, dict) else []
        problems += [Problem(f"timeline[{index}].patch", f"{action.target} would be invalid: {e}") for e in errors]
        if not errors:
            objects[(kind, *_object_key(patched))] = patched


def _node(groups: list[NodeGroup], name: str) -> dict | None:
    """The Node object the cluster makes for `name`, if one of its groups makes it."""
    for group in groups:
        if group.name == name or (group.name is None and _generator([group], name) is not None):
            return node_object(name, group.cpu, group.memory, group.pods, group.labels)
    return None


def _check_calendar(scenario: Scenario, problems: list[Problem]) -> None:
    """Every timestamp the run can write fits the calendar (which ends with the year 9999): the scenario's end,
    and deadlines as far past it as the longest grace period or duration (MAX_SECONDS) reaches."""
    start_time = scenario.spec.cluster.start_time
    start = parse_time(start_time) if start_time else DEFAULT_EPOCH
    try:
        start + timedelta(seconds=scenario.spec.duration + MAX_SECONDS)
    except OverflowError:
        where = "cluster.startTime" if start_time else "duration"
        problems.append(Problem(where, "too close to the year 9999: the run's timestamps would not fit the calendar"))


def _check_node_names(groups: list[NodeGroup], problems: list[Problem]) -> None:
    """No two node groups make a node of the same name (computed without listing the nodes of large groups)."""
    named: dict[str, int] = {}
    prefixes: dict[str, int] = {}
    for index, group in enumerate(groups):
        if group.name is not None:
            other = named.setdefault(group.name, index)
            field = "name"
        else:
            other = prefixes.setdefault(group.name_prefix, index)
            field = "namePrefix"
        if other != index:
            problems.append(
                Problem(
                    f"cluster.nodes[{index}].{field}",
                    f"{shown(group.name or group.name_prefix)} makes the same node names as cluster.nodes[{other}]",
                )
            )
    for name, index in named.items():
        generated = _generator(groups, name)
        if generated is not None:
            problems.append(
                Problem(f"cluster.nodes[{index}].name", f"{shown(name)} is also a node of cluster.nodes[{generated}]")
            )


def _generator(groups: list[NodeGroup], name: str) -> int | None:
    """The index of the `namePrefix` group that makes a node called `name`, if one does."""
    match = _GENERATED.fullmatch(name)
    if match is None:
        return None
    prefix, number = match.group(1), int(match.group(2)) if len(match.group(2)) < 12 else None
    for index, group in enumerate(groups):
        if group.name is None and group.name_prefix == prefix and number is not None and number <= group.count:
            return index
    return None


def _node_exists(scenario: Scenario, name: str) -> bool:
    groups = scenario.spec.cluster.nodes
    if any(group.name == name for group in groups) or _generator(groups, name) is not None:
        return True
    return any(o["kind"] == "Node" and o["metadata"].get("name") == name for o in scenario.manifests)


def _selector_problems(selector: str | dict, where: str) -> list[Problem]:
    try:
        if isinstance(selector, str):
            parse_selector(selector)
        else:
            unknown = set(selector) - {"matchLabels", "matchExpressions"}
            if unknown:
                return [Problem(f"{where}.{sorted(map(str, unknown))[0]}", "unknown field")]
            selector_matches(selector, {})
    except (ValueError, TypeError, AttributeError) as error:
        message = str(error) if isinstance(error, ValueError) else "expected matchLabels (a map) or matchExpressions"
        return [Problem(where, message)]
    return []


def _patch_target_problems(
    scenario: Scenario, objects: set, action: PatchAction, namespace: str, where: str
) -> list[Problem]:
    kind_text, name = action.target.split("/", 1)
    kind = PATCH_KINDS.get(kind_text.lower())
    if kind is None:
        return [Problem(where, f"cannot patch {shown(kind_text)}; known kinds: {', '.join(sorted(PATCH_KINDS))}")]
    if kind == "Node":
        return [] if _node_exists(scenario, name) else [Problem(where, f"no node {shown(name)} in cluster.nodes")]
    if (kind, namespace, name) not in objects:
        return [Problem(where, f"no {kind} {shown(name)} in namespace {shown(namespace)} in the scenario's manifests")]
    return []


def _check_analysis(scenario: Scenario, problems: list[Problem]) -> None:
    """AnalysisTemplates are valid, and every template a Rollout names exists."""
    if not any(obj.get("kind") in ("AnalysisTemplate", "Rollout") for obj in scenario.manifests):
        return
    # Argo's analysis machinery (PromQL, expressions) is loaded only for the scenarios that use it.
    from simdeploy.delivery.argo.analysis import validate_template

    templates: dict[tuple[str, str], dict] = {}
    valid = True
    for index, obj in enumerate(scenario.manifests):
        if obj.get("kind") == "AnalysisTemplate":
            templates[_object_key(obj)] = obj
            named = f"manifests[{index}] AnalysisTemplate/{obj['metadata'].get('name')}"
            found = validate_template(obj)
            problems += [Problem(f"{named}: {path}", message) for path, message in found]
            valid = valid and not found
    for index, obj in enumerate(scenario.manifests):
        if obj.get("kind") != "Rollout":
            continue
        namespace = obj["metadata"].get("namespace", "default")
        canary = (obj["spec"].get("strategy") or {}).get("canary") or {}
        blue_green = (obj["spec"].get("strategy") or {}).get("blueGreen") or {}
        uses = [("spec.strategy.canary.analysis", canary["analysis"])] if "analysis" in canary else []
        uses += [
            (f"spec.strategy.blueGreen.{f}", blue_green[f])
            for f in ("prePromotionAnalysis", "postPromotionAnalysis")
            if f in blue_green
        ]
        uses += [
            (f"spec.strategy.canary.steps[{i}].analysis", s["analysis"])
            for i, s in enumerate(canary.get("steps") or [])
            if "analysis" in s
        ]
        for where, spec in uses:
            named = f"manifests[{index}] Rollout/{obj['metadata']['name']}: {where}"
            if not spec.get("templates"):
                problems.append(Problem(f"{named}.templates", "Required value: an analysis names its templates"))
                continue
            found = []
            for ref in spec.get("templates") or []:
                if (namespace, ref.get("templateName")) not in templates:
                    problems.append(
                        Problem(
                            named, f"no AnalysisTemplate {shown(ref.get('templateName'))} in the scenario's manifests"
                        )
                    )
                else:
                    found.append(templates[(namespace, ref["templateName"])])
            if valid and found and len(found) == len(spec["templates"]):
                problems += _analysis_run_problems(found, spec.get("args") or [], named)


def _analysis_run_problems(templates: list[dict], args: list[dict], where: str) -> list[Problem]:
    """What the controller would meet making the AnalysisRun: merged args, each resolved, rendered metrics.

    The run is made as the Rollout controller makes it (NewAnalysisRunFromTemplates), without starting it; a
    valueFrom pod-template hash stands in for the hash the run would get.
    """
    from simdeploy.delivery.argo.analysis import AnalysisError, AnalysisRun

    try:
        AnalysisRun.from_template("check", templates, args, None, None, None, value_from=lambda _source: "0")
    except AnalysisError as error:
        return [Problem(where, str(error))]
    return []


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
                    Problem(f"routes[{index}].weights.{name}", f"no Service {shown(name)} in the scenario's manifests")
                )
    for index, traffic in enumerate(spec.traffic):
        target_ns = traffic.namespace or namespace
        if traffic.service is not None and (target_ns, traffic.service) not in services:
            problems.append(
                Problem(
                    f"traffic[{index}].service",
                    f"no Service {shown(traffic.service)} in namespace {shown(target_ns)} in the scenario's manifests",
                )
            )
        if traffic.route is not None and (target_ns, traffic.route) not in routes:
            problems.append(Problem(f"traffic[{index}].route", f"no route {shown(traffic.route)} under routes"))
    for index, action in enumerate(spec.timeline):
        if isinstance(action, SetWeightsAction) and ((action.namespace or namespace), action.route) not in routes:
            problems.append(Problem(f"timeline[{index}].route", f"no route {shown(action.route)} under routes"))


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
