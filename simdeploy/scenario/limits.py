"""What a scenario may ask of the machine: refuse runs that cannot finish, warn about long ones.

The simulation's cost grows with periodic work (traffic ticks, scrapes, rule evaluations) and with
the number of pods; both are known before the run starts. The figures below come from
bench/bench_core.py and timing runs on a 2-core machine: a traffic tick costs about 8 µs, a scrape
about 80 µs and 4 KB of samples kept for the run, an alerting rule about 200 µs per evaluation; a
pod about 0.3 ms over its life and 20 KB. A work unit is one traffic tick. With a service graph, a tick
also costs about 20 µs per Service of the graph and 25 µs per edge (bench/bench_graph.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from simdeploy.k8s.deployment_util import resolve_fenceposts
from simdeploy.k8s.duration import format_duration
from simdeploy.k8s.pod_util import pod_requests
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.scenario.errors import Problem
from simdeploy.scenario.schema import ScaleAction

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario

MIN_INTERVAL = 0.01  # s: ticks, scrapes and evaluations finer than 10 ms resolve nothing a rollout shows

TICK_COST, SCRAPE_COST, RULE_EVALUATION_COST = 1, 50, 20  # work units; a scrape also weighs its memory
GRAPH_SERVICE_COST, GRAPH_EDGE_COST = 3, 3  # work units a tick adds per Service and per edge of a service graph
MAX_WORK = 20_000_000  # units: minutes of wall time and gigabytes of samples; refused beyond
WARN_WORK = 1_000_000  # units: about 10 s
WARN_DURATION = 24 * 3600.0  # s of simulated time

OVERCOMMIT = 10  # a workload may ask for 10x the pods its nodes hold (the rest wait Pending)...
PENDING_ALLOWANCE = 1_000  # ...and up to a thousand pods, most of them Pending, are always cheap
MAX_PODS = 100_000  # pods at once in the whole scenario: about 2 GB and a minute per rollout
WARN_PODS = 30_000


def check_limits(scenario: Scenario, namespace: str, problems: list[Problem]) -> None:
    """Add a problem for each request the machine cannot finish, and a warning for each long run.

    The scenario's references have been checked; `namespace` is the one its actions default to.
    """
    spec = scenario.spec
    too_fine = _interval_problems(scenario)
    if too_fine:
        problems += too_fine
        return  # a 1 ns tick would also fail the work ceiling: one message is enough
    work = expected_work(scenario)
    if work.units > MAX_WORK:
        problems.append(
            Problem(
                "duration",
                f"{format_duration(spec.duration)} simulated is {work} ({work.units:,} work units; at most "
                f"{MAX_WORK:,} finish in reasonable time, a traffic tick counting {work.tick_cost}, a scrape "
                f"{SCRAPE_COST}, a rule evaluation {RULE_EVALUATION_COST}): shorten the duration or lengthen "
                f"{work.heaviest_field()}",
            )
        )
    elif work.units > WARN_WORK or spec.duration > WARN_DURATION:
        scenario.warnings.append(
            f"duration: a long run: {format_duration(spec.duration)} simulated is {work} "
            f"({work.units:,} work units, refused beyond {MAX_WORK:,}); Ctrl-C stops `simdeploy run` "
            "and prints what was simulated so far"
        )
    demands = list(_demands(scenario, namespace))
    too_many = _pod_problems(scenario, demands)
    problems += too_many
    total = sum(d.pods for d in _largest_per_workload(demands))
    if not too_many and total > WARN_PODS:
        scenario.warnings.append(
            f"manifests: the workloads ask for up to {total:,} pods at once (refused beyond {MAX_PODS:,}): "
            "each rollout takes a while and memory grows with the pods"
        )


# -- periodic work -----------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """The periodic steps a run will take."""

    ticks: int  # traffic ticks (only with traffic)
    scrapes: int
    evaluations: int  # one alerting rule evaluated once
    tick_cost: int = TICK_COST  # work units of one tick (more with a service graph)

    @property
    def units(self) -> int:
        return self.ticks * self.tick_cost + self.scrapes * SCRAPE_COST + self.evaluations * RULE_EVALUATION_COST

    def heaviest_field(self) -> str:
        costs = {
            "cluster.tick": self.ticks * self.tick_cost,
            "cluster.scrapeInterval": self.scrapes * SCRAPE_COST,
            "cluster.evaluationInterval": self.evaluations * RULE_EVALUATION_COST,
        }
        return max(costs, key=costs.__getitem__)

    def __str__(self) -> str:
        parts = [f"{self.ticks:,} traffic ticks"] if self.ticks else []
        parts.append(f"{self.scrapes:,} scrapes")
        if self.evaluations:
            parts.append(f"{self.evaluations:,} rule evaluations")
        return ", ".join(parts)


def expected_work(scenario: Scenario) -> Work:
    """The traffic ticks, scrapes and rule evaluations of a run to the scenario's end."""
    spec = scenario.spec
    duration, cluster = spec.duration, spec.cluster
    ticks = int(duration / cluster.tick) if spec.traffic else 0  # the tick runs only once there is traffic
    scrapes = int(duration / cluster.scrape_interval) + 1  # from t = 0
    evaluations = sum(
        (int(duration / (group.interval or cluster.evaluation_interval)) + 1) * len(group.rules)
        for group in scenario.rule_groups
    )
    tick_cost = TICK_COST
    if spec.services is not None:
        services = {name for edge in spec.services.edges for name in (edge.caller, edge.callee)}
        tick_cost += GRAPH_SERVICE_COST * len(services) + GRAPH_EDGE_COST * len(spec.services.edges)
    return Work(ticks, scrapes, evaluations, tick_cost)


def _interval_problems(scenario: Scenario) -> list[Problem]:
    cluster, duration = scenario.spec.cluster, scenario.spec.duration
    found = [
        Problem(f"cluster.{name}", _too_fine(value, what, duration))
        for name, value, what in (
            ("tick", cluster.tick, "a traffic tick"),
            ("scrapeInterval", cluster.scrape_interval, "a scrape"),
            ("evaluationInterval", cluster.evaluation_interval, "an evaluation of the alerting rules"),
        )
        if value < MIN_INTERVAL
    ]
    found += [
        Problem(f"alerts: group {group.name!r} interval", _too_fine(group.interval, "an evaluation", duration))
        for group in scenario.rule_groups
        if group.interval is not None and group.interval < MIN_INTERVAL
    ]
    for index, obj in enumerate(scenario.manifests):
        if obj.get("kind") != "AnalysisTemplate":
            continue
        for number, metric in enumerate((obj.get("spec") or {}).get("metrics") or []):
            interval = _argo_duration(metric["interval"]) if metric.get("interval") else None
            if interval is not None and interval < MIN_INTERVAL:
                where = f"manifests[{index}] AnalysisTemplate/{obj['metadata'].get('name')}"
                problem = _too_fine(interval, "a measurement", duration)
                found.append(Problem(f"{where}: spec.metrics[{number}].interval", problem))
    return found


def _too_fine(seconds: float, what: str, duration: float) -> str:
    steps = f"{duration / seconds:,.0f}" if seconds > 0 else "endless"
    return (
        f"{_short(seconds)} is below the 10ms floor: {what} every {_short(seconds)} over "
        f"{format_duration(duration)} is {steps} steps, and nothing a rollout shows needs it; use 10ms or more"
    )


def _short(seconds: float) -> str:
    """A sub-second duration readably: 1ns, 250µs, 5ms."""
    for unit, scale in (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3)):
        if seconds < scale * 1000:
            return f"{seconds / scale:g}{unit}"
    return format_duration(seconds)


# -- pods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """The most pods one workload asks for at once, where the scenario asks it."""

    where: str  # field path of the replica count
    key: tuple[str, str, str]  # kind, namespace, name
    replicas: int
    pods: int  # replicas plus what a rollout adds (surge, a blue-green preview)
    cpu: float  # requests of one pod
    memory: float

    def extra(self) -> str:
        return f" (+{self.pods - self.replicas:,} during a rollout)" if self.pods > self.replicas else ""


def scale_problem(workload: dict, replicas: int, nodes: list[dict]) -> str | None:
    """Why scaling a Deployment, ReplicaSet or Rollout to `replicas` on these Node objects cannot be
    simulated, or None (for a facilitator's `simdeploy ctl do` scale, checked when it runs)."""
    demand = _demand({**workload, "spec": {**(workload.get("spec") or {}), "replicas": replicas}}, "")
    if demand is None:
        return None
    beyond = _too_many(demand, _node_shapes(nodes))
    if beyond is None and demand.pods > MAX_PODS:
        beyond = f"{replicas:,} replicas{demand.extra()}: at most {MAX_PODS:,} pods can be simulated"
    return beyond


def _pod_problems(scenario: Scenario, demands: list[Demand]) -> list[Problem]:
    nodes = _nodes(scenario)
    slots = sum(count * pods for count, _cpu, _memory, pods in nodes)
    found = [Problem(d.where, message) for d in demands if (message := _too_many(d, nodes)) is not None]
    if found:
        return found
    largest = _largest_per_workload(demands)
    total = sum(d.pods for d in largest)
    biggest = max(largest, key=lambda d: d.pods, default=None)
    if biggest is not None and total > MAX_PODS:
        found.append(
            Problem(
                biggest.where,
                f"the workloads ask for up to {total:,} pods at once ({biggest.pods:,} here); at most "
                f"{MAX_PODS:,} can be simulated in reasonable time and memory",
            )
        )
    elif biggest is not None and total > max(OVERCOMMIT * slots, PENDING_ALLOWANCE):
        found.append(
            Problem(
                biggest.where,
                f"together the workloads ask for up to {total:,} pods at once ({biggest.pods:,} here), far "
                f"beyond the {slots:,} pods the {_node_count(nodes)} nodes hold; at most "
                f"{OVERCOMMIT * slots:,} can be simulated: add nodes (cluster.nodes) or lower the replicas",
            )
        )
    return found


def _too_many(demand: Demand, nodes: list[tuple[int, float, float, int]]) -> str | None:
    fit = _pods_that_fit(nodes, demand.cpu, demand.memory)
    allowed = max(OVERCOMMIT * fit, PENDING_ALLOWANCE)
    if demand.pods <= allowed:
        return None
    slots = sum(count * pods for count, _cpu, _memory, pods in nodes)
    return (
        f"{demand.replicas:,} replicas{demand.extra()} is far beyond what the nodes hold: "
        f"{_capacity(nodes, fit, slots, demand)}; at most {allowed:,} pods at once can be simulated "
        f"({OVERCOMMIT}x what fits, the rest waiting Pending): add nodes (cluster.nodes) or lower the replicas"
    )


def _largest_per_workload(demands: list[Demand]) -> list[Demand]:
    largest: dict[tuple, Demand] = {}
    for demand in demands:
        if demand.key not in largest or demand.pods > largest[demand.key].pods:
            largest[demand.key] = demand
    return list(largest.values())


def _demands(scenario: Scenario, namespace: str) -> Iterator[Demand]:
    """Every replica count the scenario sets: manifests, applied manifests and scale actions."""
    known: dict[tuple, dict] = {}  # the latest manifest of each workload, for scale actions
    for index, obj in enumerate(scenario.manifests):
        demand = _demand(obj, f"manifests[{index}]")
        if demand is not None:
            known[demand.key] = obj
            yield demand
    for index, action in enumerate(scenario.spec.timeline):
        for obj in scenario.action_manifests.get(index, []):
            demand = _demand(obj, f"timeline[{index}].manifest")
            if demand is not None:
                known[demand.key] = obj
                yield demand
        if isinstance(action, ScaleAction):
            obj = known.get(("Deployment", action.namespace or namespace, action.deployment))
            if obj is not None:
                scaled = _demand({**obj, "spec": {**obj["spec"], "replicas": action.replicas}}, "")
                yield replace(scaled, where=f"timeline[{index}].replicas")


def _demand(obj: dict, where: str) -> Demand | None:
    kind = obj.get("kind")
    if kind not in ("Deployment", "ReplicaSet", "Rollout"):
        return None
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int):
        return None
    pods = replicas
    if kind == "Deployment" and (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        try:
            surge, _ = resolve_fenceposts(
                rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"), replicas
            )
        except ValueError:
            surge = 0  # admission has reported it
        pods += surge
    elif kind == "Rollout":
        pods *= 2  # a blue-green preview, or a canary with traffic routing, can be as large as the stable set
    cpu, memory = pod_requests({"spec": (spec.get("template") or {}).get("spec") or {"containers": []}})
    key = (kind, meta.get("namespace", "default"), meta.get("name", ""))
    return Demand(f"{where} {kind}/{key[2]}: spec.replicas", key, replicas, pods, cpu, memory)


# -- nodes --------------------------------------------------------------------------


def _nodes(scenario: Scenario) -> list[tuple[int, float, float, int]]:
    """(count, cpu, memory, pods) of the cluster's node groups and of Node manifests."""
    nodes = [
        (group.count if group.name is None else 1, parse_quantity(group.cpu), parse_quantity(group.memory), group.pods)
        for group in scenario.spec.cluster.nodes
    ]
    objects = scenario.manifests + [obj for objs in scenario.action_manifests.values() for obj in objs]
    return nodes + _node_shapes([obj for obj in objects if obj.get("kind") == "Node"])


def _node_shapes(nodes: list[dict]) -> list[tuple[int, float, float, int]]:
    """(1, cpu, memory, pods) of Node objects, as the scheduler reads them (110 pods when unsaid)."""
    shapes = []
    for node in nodes:
        status = node.get("status") or {}
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        cpu, memory = parse_quantity(allocatable.get("cpu", 0)), parse_quantity(allocatable.get("memory", 0))
        shapes.append((1, cpu, memory, int(allocatable.get("pods", 110))))
    return shapes


def _pods_that_fit(nodes: list[tuple[int, float, float, int]], cpu: float, memory: float) -> int:
    """Pods of one shape the nodes hold, by pod count and by requests (scheduler.py's NodeResourcesFit)."""
    total = 0
    for count, node_cpu, node_memory, pods in nodes:
        fit = pods
        if cpu > 0:
            fit = min(fit, int(node_cpu / cpu + 1e-9))
        if memory > 0:
            fit = min(fit, int(node_memory // memory))
        total += count * fit
    return total


def _node_count(nodes: list[tuple[int, float, float, int]]) -> int:
    return sum(count for count, *_ in nodes)


def _capacity(nodes: list[tuple[int, float, float, int]], fit: int, slots: int, demand: Demand) -> str:
    text = f"the {_node_count(nodes):,} nodes hold {slots:,} pods"
    if fit < slots:
        requests = [f"cpu {demand.cpu:g}"] if demand.cpu else []
        requests += [f"memory {demand.memory / 2**20:g}Mi"] if demand.memory else []
        text += f", or {fit:,} requesting {' and '.join(requests)} each"
    return text


def _argo_duration(text: object) -> float | None:
    """An AnalysisTemplate's duration (loaded only for scenarios that have one: keeps `validate` fast); None when it
    is not one (the template's own checks name it)."""
    from simdeploy.delivery.argo.analysis_template import AnalysisError, parse_duration_argo

    try:
        return parse_duration_argo(text)
    except AnalysisError:
        return None
