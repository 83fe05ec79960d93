"""The service graph's part of the result document: each Service's figures, each edge's, and rollouts' blast radius.

The blast radius of a rollout (a Deployment's, from its template change to its completion; an Argo
Rollout's, from its update to its completion or abort; the end of the run if it never ended) is the
rolled-out Service and the Services that call it, directly or not, whose requests got worse while it
ran: an error ratio at least FELT_ERRORS above the minute before, or a worst p99 at least FELT_LATENCY
times the minute before's. Services that do not call it are never in it, whatever happened to them.
"""

from __future__ import annotations

from simdeploy.sim.metrics.mesh import Interval, MeshMetrics
from simdeploy.sim.result import (
    BlastRadius,
    EdgeFigures,
    Felt,
    Result,
    ServiceFigures,
    fraction,
    requests,
    seconds,
)
from simdeploy.sim.traffic.graph import ServiceGraph

FELT_ERRORS = 0.001  # error ratio, added to the one before the rollout
FELT_LATENCY = 1.2  # worst p99, times the one before
BEFORE = 60.0  # s: the stretch before a rollout it is compared with


def graph_summary(graph: ServiceGraph, mesh: MeshMetrics, workloads: dict[str, str], result: Result) -> dict:
    """`services`, `edges` and `blast_radius` for the summary."""
    worst: dict[str, float] = {}
    for interval in mesh.intervals:
        if interval.p99_s is not None:
            worst[interval.service] = max(worst.get(interval.service, 0.0), interval.p99_s)
    services: dict[str, ServiceFigures] = {}
    for name in graph.order:
        totals = graph.services[name]
        services[name] = {
            "workload": workloads.get(name, name),
            "requests": requests(totals.requests),
            "errors": requests(totals.failed),
            "availability": fraction(1 - totals.failed / totals.requests) if totals.requests > 0 else None,
            "user_requests": requests(totals.external),
            "user_errors": requests(totals.external_failed),
            "degraded": requests(totals.degraded),
            "fallbacks": requests(totals.fallbacks),
            "p99_latency_max_s": fraction(worst[name]) if name in worst else None,
        }
    edges: list[EdgeFigures] = [
        {
            "caller": edge.call.caller,
            "callee": edge.call.callee,
            "calls": requests(edge.totals.calls),
            "skipped": requests(edge.totals.skipped),
            "failed": requests(edge.totals.failed),
            "attempts": requests(edge.totals.attempts),
            "retries": requests(edge.totals.retries),
            "retries_denied": requests(edge.totals.retries_denied),
            "timeouts": requests(edge.totals.timeouts),
            "mean_latency_s": fraction(edge.totals.latency_sum / edge.totals.calls) if edge.totals.calls else None,
        }
        for edge in graph.edges
    ]
    return {"services": services, "edges": edges, "blast_radius": blast_radius(graph, mesh, workloads, result)}


def blast_radius(
    graph: ServiceGraph, mesh: MeshMetrics, workloads: dict[str, str], result: Result
) -> list[BlastRadius]:
    """For each rollout of a workload behind a Service of the graph, the Services that felt it."""
    import networkx as nx

    by_workload = {workload: name for name, workload in workloads.items() if name in graph.services}
    directed = nx.DiGraph((edge.call.caller, edge.call.callee) for edge in graph.edges)
    end = float(result["duration_s"])
    rows: list[BlastRadius] = []
    for workload, started, ended in rollout_windows(result, end):
        service = by_workload.get(workload)
        if service is None:
            continue
        candidates = [service, *sorted(nx.ancestors(directed, service))]
        felt = [f for f in (_felt(mesh.intervals, name, started, ended) for name in candidates) if f is not None]
        rows.append(
            {
                "service": service,
                "workload": workload,
                "started_s": seconds(started),
                "ended_s": seconds(ended),
                "felt_by": felt,
            }
        )
    return sorted(rows, key=lambda row: (row["started_s"], row["service"]))


def rollout_windows(result: Result, end: float) -> list[tuple[str, float, float]]:
    """(workload, started, ended) of every rollout of the run, Deployments' and Argo Rollouts'."""
    summary = result["summary"]
    windows = []
    for name, deployment in summary["deployments"].items():
        for rollout in deployment["rollouts"]:
            ended = rollout["completed_s"] if rollout["completed_s"] is not None else end
            windows.append((name, rollout["started_s"], ended))
    for name, argo in (summary.get("argo_rollouts") or {}).items():
        if argo["updated_s"] is not None:
            ended = next((t for t in (argo["completed_s"], argo["aborted_s"]) if t is not None), end)
            windows.append((name, argo["updated_s"], max(ended, argo["updated_s"])))
    return windows


def _felt(intervals: list[Interval], service: str, started: float, ended: float) -> Felt | None:
    mine = [i for i in intervals if i.service == service]
    # An interval ending after the rollout began saw part of it; one ending at or before it saw none.
    during = [i for i in mine if started < i.t and i.since < ended]
    before = [i for i in mine if started - BEFORE < i.t <= started]
    if not during:
        return None
    ratio = _ratio(during)
    ratio_before = _ratio(before) if before else 0.0
    p99 = max((i.p99_s for i in during if i.p99_s is not None), default=None)
    p99_before = max((i.p99_s for i in before if i.p99_s is not None), default=None)
    worse_errors = ratio - ratio_before >= FELT_ERRORS
    slower = p99 is not None and p99_before is not None and p99 >= FELT_LATENCY * p99_before
    if not (worse_errors or slower):
        return None
    return {
        "service": service,
        "error_ratio": fraction(ratio),
        "error_ratio_before": fraction(ratio_before),
        "p99_s": None if p99 is None else fraction(p99),
        "p99_before_s": None if p99_before is None else fraction(p99_before),
    }


def _ratio(intervals: list[Interval]) -> float:
    sent = sum(i.requests for i in intervals)
    return sum(i.errors for i in intervals) / sent if sent > 0 else 0.0
