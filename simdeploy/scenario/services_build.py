"""The scenario's service graph in a Simulation: the graph in the traffic model, its metrics and its summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simdeploy.scenario.services_check import graph_namespace, workloads

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario
    from simdeploy.sim.simulation import Simulation
    from simdeploy.sim.traffic.graph import ServiceGraph


def attach_graph(simulation: Simulation, scenario: Scenario) -> ServiceGraph:
    """Route the scenario's traffic through its service graph; scrape the graph's series; summarise it."""
    # networkx comes with the graph: loaded only for scenarios that have one.
    from simdeploy.sim.graph_outcome import graph_summary
    from simdeploy.sim.metrics.mesh import MeshMetrics
    from simdeploy.sim.traffic.graph import Call, ServiceGraph

    calls = []
    for edge in scenario.spec.services.edges:
        retries = edge.retries
        calls.append(
            Call(
                edge.caller,
                edge.callee,
                calls=edge.calls,
                timeout=edge.timeout,
                retries=retries.count if retries else 0,
                backoff=retries.backoff if retries else 0.025,
                max_backoff=retries.max_backoff if retries else None,
                budget=retries.budget if retries else None,
                min_retries_per_second=retries.min_per_second if retries else 0.0,
                on_failure=edge.on_failure,
            )
        )
    graph = ServiceGraph(graph_namespace(scenario), calls, simulation.cluster.tick)
    simulation.traffic.graph = graph
    names = workloads(scenario)
    mesh = MeshMetrics(graph, names, simulation.traffic, simulation.metrics)
    simulation.scraper.hooks.append(mesh.scrape)
    simulation.result_hooks.append(lambda result: result["summary"].update(graph_summary(graph, mesh, names, result)))
    return graph
