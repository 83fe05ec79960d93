"""Cross-references of the service graph: every Service it names exists and runs a workload, and it has no cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simdeploy.k8s.labels import labels_match
from simdeploy.k8s.shown import shown
from simdeploy.scenario.errors import Problem
from simdeploy.scenario.references import default_namespace

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario

WORKLOAD_KINDS = ("Deployment", "Rollout")


def graph_namespace(scenario: Scenario) -> str:
    services = scenario.spec.services
    return (services.namespace if services else None) or default_namespace(scenario)


def workloads(scenario: Scenario) -> dict[str, str]:
    """Service name -> the Deployment or Rollout whose pods it selects (the first in the manifests), in the
    graph's namespace."""
    namespace = graph_namespace(scenario)
    objects = scenario.manifests + [o for objs in scenario.action_manifests.values() for o in objs]
    found: dict[str, str] = {}
    for service in objects:
        meta = service.get("metadata", {})
        if service["kind"] != "Service" or meta.get("namespace", "default") != namespace:
            continue
        selector = (service.get("spec") or {}).get("selector")
        for obj in objects:
            labels = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels")
            in_namespace = obj.get("metadata", {}).get("namespace", "default") == namespace
            if obj["kind"] in WORKLOAD_KINDS and in_namespace and selector and labels_match(selector, labels):
                found.setdefault(meta["name"], obj["metadata"]["name"])
                break
    return found


def check_services(scenario: Scenario, problems: list[Problem]) -> None:
    """Each edge names Services of the manifests that run a Deployment or Rollout; no edge twice; no cycle;
    every call a flag's `skipCalls` names is an edge's callee."""
    spec = scenario.spec
    if spec.services is None:
        for index, effect in enumerate(spec.flags.effects if spec.flags else []):
            if effect.skip_calls:
                problems.append(Problem(f"flags.effects[{index}].skipCalls", "the scenario has no services section"))
        return
    # networkx is loaded only for scenarios with a service graph (keeps `validate` fast for the others).
    import networkx as nx

    namespace = graph_namespace(scenario)
    objects = scenario.manifests + [o for objs in scenario.action_manifests.values() for o in objs]
    defined = {o["metadata"]["name"] for o in objects if o["kind"] == "Service" and _namespace(o) == namespace}
    backed = workloads(scenario)
    graph = nx.DiGraph()
    seen: dict[tuple[str, str], int] = {}
    for index, edge in enumerate(spec.services.edges):
        where = f"services.edges[{index}]"
        known = True
        for field in ("caller", "callee"):
            name = getattr(edge, field)
            if name not in defined:
                problems.append(
                    Problem(
                        f"{where}.{field}",
                        f"no Service {shown(name)} in namespace {shown(namespace)} in the scenario's manifests",
                    )
                )
                known = False
            elif name not in backed:
                problems.append(
                    Problem(
                        f"{where}.{field}",
                        f"Service {shown(name)} selects the pods of no Deployment or Rollout "
                        "in the scenario's manifests",
                    )
                )
                known = False
        pair = (edge.caller, edge.callee)
        if pair in seen:
            problems.append(Problem(where, f"{edge.caller} -> {edge.callee} is already services.edges[{seen[pair]}]"))
            continue
        seen[pair] = index
        if not known:
            continue
        if edge.caller == edge.callee or (
            edge.callee in graph and edge.caller in graph and nx.has_path(graph, edge.callee, edge.caller)
        ):
            path = [edge.callee] if edge.caller == edge.callee else nx.shortest_path(graph, edge.callee, edge.caller)
            problems.append(Problem(where, f"cycle {' -> '.join([*path, edge.callee])}"))
            continue
        graph.add_edge(edge.caller, edge.callee)
    callees = {edge.callee for edge in spec.services.edges}
    for index, effect in enumerate(spec.flags.effects if spec.flags else []):
        for position, name in enumerate(effect.skip_calls):
            if name not in callees:
                problems.append(
                    Problem(
                        f"flags.effects[{index}].skipCalls[{position}]",
                        f"no edge calls {shown(name)} under services.edges",
                    )
                )
        if effect.skip_calls and effect.version is not None:
            problems.append(
                Problem(
                    f"flags.effects[{index}].version",
                    "skipCalls cuts a call for every version of the caller: "
                    "leave version out, or give the call's cut its own effect",
                )
            )


def _namespace(obj: dict) -> str:
    return obj.get("metadata", {}).get("namespace", "default")
