"""The service graph drawn from a result document: Services left to right, callers first; failing edges in red."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simdeploy.sim.result import EdgeFigures, Result, ServiceFigures

FAILING_EDGE = 0.01  # an edge at least this share of whose calls failed is marked failing
FAILING, HEALTHY, MUTED = "#c62828", "#2e7d32", "#8a8a8a"
DPI = 110


def failing(edge: EdgeFigures) -> bool:
    return edge["calls"] > 0 and edge["failed"] / edge["calls"] >= FAILING_EDGE


def graph_figure(result: Result) -> Figure:
    """Services as boxes (availability and worst p99), calls as arrows (failed share, retries, timeouts)."""
    import networkx as nx

    summary = result["summary"]
    services: dict[str, ServiceFigures] = summary.get("services") or {}
    edges: list[EdgeFigures] = summary.get("edges") or []
    graph = nx.DiGraph()
    graph.add_nodes_from(services)
    graph.add_edges_from((edge["caller"], edge["callee"]) for edge in edges)
    for layer, names in enumerate(nx.topological_generations(graph)):
        for name in names:
            graph.nodes[name]["layer"] = layer
    positions = nx.multipartite_layout(graph, subset_key="layer", align="vertical", scale=1.0)
    layers = 1 + max((graph.nodes[n]["layer"] for n in graph), default=0)
    widest = max((sum(1 for n in graph if graph.nodes[n]["layer"] == layer) for layer in range(layers)), default=1)
    figure = Figure(figsize=(max(6.0, 3.4 * layers), max(2.6, 1.5 * widest + 1.0)), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.02, 0.1, 0.96, 0.8))
    ax.axis("off")
    for edge in edges:
        bad = failing(edge)
        nx.draw_networkx_edges(
            graph,
            positions,
            edgelist=[(edge["caller"], edge["callee"])],
            ax=ax,
            edge_color=FAILING if bad else MUTED,
            width=2.6 if bad else 1.4,
            arrowsize=16,
            node_size=5200,
            node_shape="s",
            style="solid" if edge["calls"] else "dashed",
        )
        (x1, y1), (x2, y2) = positions[edge["caller"]], positions[edge["callee"]]
        ax.text(
            (x1 + x2) / 2,
            (y1 + y2) / 2 + 0.05,
            _edge_label(edge),
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=FAILING if bad else "#444",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"},
        )
    for name, figures in services.items():
        x, y = positions[name]
        availability = figures["availability"]
        bad = availability is not None and availability < 1 - FAILING_EDGE
        colour = FAILING if bad else HEALTHY
        ax.text(
            x,
            y,
            _node_label(name, figures),
            ha="center",
            va="center",
            fontsize=8,
            color="#1d232a",
            bbox={"boxstyle": "round,pad=0.5", "fc": "#fdecea" if bad else "#e7f5eb", "ec": colour, "lw": 1.5},
        )
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.45, max(xs) + 0.45)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    handles = [
        Line2D([], [], color=FAILING, linewidth=2.6, label=f"failing: ≥{FAILING_EDGE:.0%} of calls failed"),
        Line2D([], [], color=MUTED, linewidth=1.4, label="calls"),
    ]
    figure.legend(handles=handles, loc="lower left", fontsize=8, frameon=False, ncols=2)
    figure.text(0.02, 0.97, f"{result['scenario']}  ·  service graph", fontsize=11, fontweight="bold", va="top")
    return figure


def graph_png(result: Result) -> bytes:
    buffer = io.BytesIO()
    graph_figure(result).savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _node_label(name: str, figures: ServiceFigures) -> str:
    availability = figures["availability"]
    shown = "—" if availability is None else f"{availability * 100:.4g}%"
    p99 = figures["p99_latency_max_s"]
    lines = [
        name,
        f"{figures['workload']}" if figures["workload"] != name else None,
        f"availability {shown}",
        f"worst p99 {p99 * 1000:.0f} ms" if p99 is not None else None,
    ]
    if figures["fallbacks"]:
        lines.append(f"fallbacks {figures['fallbacks']:,.0f}")
    if figures["degraded"]:
        lines.append(f"degraded {figures['degraded']:,.0f}")
    return "\n".join(line for line in lines if line)


def _edge_label(edge: EdgeFigures) -> str:
    calls = edge["calls"]
    parts = [f"{edge['failed'] / calls:.1%} failed" if calls else "no calls made"]
    if edge["retries"]:
        parts.append(f"attempts x{edge['attempts'] / calls:.2f}" if calls else "retries")
    if edge["timeouts"]:
        parts.append(f"{edge['timeouts']:,.0f} timeouts")
    if edge["skipped"]:
        parts.append(f"{edge['skipped']:,.0f} skipped")
    return "\n".join(parts)
