"""The Simulation: one simulated cluster, its controllers and kubelets, driven in simulated time."""

from __future__ import annotations

import copy
import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from simdeploy.k8s.node_util import node_object
from simdeploy.k8s.timeutil import DEFAULT_EPOCH
from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import Api, Invalid
from simdeploy.sim.cluster.deployment.controller import DeploymentController
from simdeploy.sim.cluster.disruption import DisruptionController
from simdeploy.sim.cluster.job import JobController
from simdeploy.sim.cluster.kubectl import Kubectl, KubectlError
from simdeploy.sim.cluster.kubelet import Kubelet
from simdeploy.sim.cluster.namespace import NamespaceController
from simdeploy.sim.cluster.nodes import Nodes
from simdeploy.sim.cluster.replicaset import ReplicaSetController
from simdeploy.sim.cluster.scheduler import Scheduler
from simdeploy.sim.cluster.store import NotFound, Store
from simdeploy.sim.measure import Measurements
from simdeploy.sim.metrics.alerts import AlertEvaluator
from simdeploy.sim.metrics.scrape import Scraper
from simdeploy.sim.metrics.tsdb import SeriesStore
from simdeploy.sim.outcome import result_document
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.result import Result
from simdeploy.sim.traffic.endpoints import Endpoints
from simdeploy.sim.traffic.model import TrafficModel

SLICE_WALL = 0.1  # s of wall time between two progress calls of run_until


# What an operator action may fail with, as kubectl would report it, without stopping the run.
ACTION_ERRORS = (KubectlError, Invalid, NotFound)


@dataclass(frozen=True)
class ClusterSettings:
    """The cluster's nodes and the latencies of its control plane (defaults: the README's scenario format)."""

    nodes: tuple[dict, ...] = field(
        default_factory=lambda: tuple(node_object(f"node-{i}", 8, "32Gi", 110) for i in (1, 2, 3))
    )
    controller_latency: float = 0.05
    scheduling_latency: float = 0.05
    container_start: float = 1.0
    endpoint_propagation_delay: float = 1.0
    node_monitor_grace: float = 50.0
    eviction_toleration: float = 300.0
    epoch: datetime = DEFAULT_EPOCH
    tick: float = 1.0  # traffic is computed per tick
    scrape_interval: float = 15.0
    overload_code: str = "503"  # what a saturated pod answers; "504" models clients timing out


@dataclass(order=True)
class Action:
    """A scheduled operator action: at time `at`, run `apply(simulation)`."""

    at: float
    order: int
    description: str = field(compare=False)
    apply: Callable[[Simulation], str] = field(compare=False)


class Simulation:
    """A namespace-scale Kubernetes cluster in simulated time.

    Build it from manifests, behaviours and actions (or with simdeploy.load for a scenario file),
    then run() to the end, or run_until() a moment, change objects through `kubectl`, `api` or
    `store`, and carry on.
    """

    def __init__(
        self,
        name: str,
        manifests: list[dict],
        behaviours: dict[str, VersionBehaviour],
        duration: float,
        seed: int = 1,
        cluster: ClusterSettings | None = None,
        actions: list[Action] | None = None,
        record_pod_events: bool = True,
        record_metrics: bool = True,
    ):
        self.name = name
        self.seed = seed
        self.duration = duration
        self.cluster = cluster or ClusterSettings()
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.store = Store(lambda: self.clock.now, self.cluster.epoch)
        self.recorder = Recorder(lambda: self.clock.now, record_pod_events=record_pod_events)
        self.store.watch("ReplicaSet", lambda _event, rs: self.recorder.replica_set(rs))
        self.measurements = Measurements(self.store, lambda: self.clock.now, self.recorder)
        self.api = Api(self.clock, self.store)
        latency = self.cluster.controller_latency
        self.kubelet = Kubelet(
            self.clock,
            self.store,
            self.rng,
            self.recorder,
            dict(behaviours),
            self.cluster.container_start,
        )
        self.kubelet.serving_listeners.append(self.measurements.serving_changed)
        self.scheduler = Scheduler(self.clock, self.store, self.recorder, self.cluster.scheduling_latency)
        self.replica_sets = ReplicaSetController(self.clock, self.store, self.api, self.recorder, latency)
        self.deployments = DeploymentController(self.clock, self.store, self.api, self.recorder, latency)
        self.jobs = JobController(self.clock, self.store, self.api, self.recorder, latency)
        self.disruption = DisruptionController(self.clock, self.store, latency)
        self.namespaces = NamespaceController(self.clock, self.store, self.api, latency)
        self.nodes = Nodes(
            self.clock,
            self.store,
            self.api,
            self.kubelet,
            self.recorder,
            self.cluster.node_monitor_grace,
            self.cluster.eviction_toleration,
        )
        self.rollouts = None  # the Argo Rollouts controller, when the scenario has Rollouts (delivery layer)
        self.flags = None  # the feature flags' runtime, when the scenario has flags (delivery layer)
        self.schema = None  # the databases and their migrations, when the scenario has some (delivery layer)
        self.applications = None  # Argo CD Applications by name, once a `sync` ran (delivery layer)
        self.result_hooks: list[Callable[[Result], None]] = []  # add to the result document (expectations...)
        self.kubectl = Kubectl(self.store, self.api, self.nodes, self.recorder, self.rng)
        self.endpoints = Endpoints(self.clock, self.store, self.kubelet, self.cluster.endpoint_propagation_delay)
        self.traffic = TrafficModel(
            self.clock, self.endpoints, self.kubelet.behaviours, self.cluster.tick, self.cluster.overload_code
        )
        self.metrics = SeriesStore() if record_metrics else None
        self.scraper = Scraper(self.clock, self.store, self.traffic, self.metrics, self.cluster.scrape_interval)
        self.alerts: AlertEvaluator | None = None  # alerting rules, when the scenario has some (set after the scraper)
        for node in self.cluster.nodes:
            self.nodes.add(copy.deepcopy(node))
        for manifest in manifests:
            self.kubectl.apply(manifest)  # apply works on its own copy
        for action in sorted(actions or []):
            self.at(action.at, action.description, action.apply)

    @property
    def now(self) -> float:
        return self.clock.now

    @property
    def behaviours(self) -> dict[str, VersionBehaviour]:
        return self.kubelet.behaviours

    def at(self, moment: float, description: str, apply: Callable[[Simulation], str]) -> None:
        """Run an operator action at a simulated time; a kubectl error lands on the timeline."""

        def run() -> None:
            try:
                self.act(description, apply)
            except ACTION_ERRORS as error:
                self.recorder.event("Action", description, "Failed", f"error: {error}", warning=True)

        self.clock.call_at(moment, run)

    def act(self, description: str, apply: Callable[[Simulation], str], by: str | None = None) -> str:
        """Run an operator action now and keep it in the result's `actions`; a kubectl error is kept, then raised.

        `description` is the action's name and what it names, as the scenario's timeline says it (`drain node-2`);
        `by` is who ran it by hand on a served world (the user its token names), None for the timeline.
        """
        try:
            message = apply(self) or ""
        except ACTION_ERRORS as error:
            self.recorder.action(description, f"error: {error}", failed=True, by=by)
            raise
        self.recorder.action(description, message, by=by)
        return message

    def run_until(self, moment: float, progress: Callable[[float], None] | None = None) -> None:
        """Advance simulated time to `moment`.

        With `progress`, time advances in slices and progress(now) is called after each; it may raise
        (KeyboardInterrupt, say) to stop the run there, between two events. Slices grow or shrink so
        that each takes about SLICE_WALL seconds of wall time, so a short run makes only a few calls.
        Slicing changes nothing simulated: every event runs in the same order as in one stretch.
        """
        if progress is None:
            self.clock.run_until(moment)
            return
        span = max(moment - self.now, 0.0)
        step, finest = span / 1000, span / 100_000  # at most 100,000 slices, however slow the events
        target = self.now
        collecting = gc.isenabled()
        gc.disable()  # for the whole run, as Clock.run_until does for a stretch: no collection between slices
        try:
            while target < moment:
                started = time.perf_counter()
                target = min(self.now + step, moment) if step > 0 else moment
                self.clock.run_until(target)
                progress(self.now)
                wall = time.perf_counter() - started
                step = max(finest, step * (min(4.0, max(0.25, SLICE_WALL / wall)) if wall > 0 else 4.0))
        finally:
            if collecting:
                gc.enable()

    def run(self, progress: Callable[[float], None] | None = None) -> Result:
        """Run to the scenario's end and return the result document (`progress`: see run_until)."""
        self.run_until(self.duration, progress)
        return self.result()

    def set_behaviour(self, behaviour: VersionBehaviour, hang_now: bool = True, exit_now: bool = True) -> None:
        """Change how an image behaves from now on, for new and running containers."""
        self.kubelet.behaviours[behaviour.image] = behaviour
        self.kubelet.change_behaviour(behaviour, hang_now, exit_now)

    # -- result ----------------------------------------------------------------

    def result(self) -> Result:
        """The result document (the contract of `simdeploy run --json`, declared in sim/result.py)."""
        result = result_document(
            scenario=self.name,
            seed=self.seed,
            duration=self.duration,
            versions={b.image: b.version for b in self.behaviours.values() if b.version},
            measurements=self.measurements,
            recorder=self.recorder,
            sent=self.traffic.total.sent,
            failed=self.traffic.total.failed,
            p99_max=self.scraper.p99_max,
            traffic=self.scraper.rows,
            alerts=self.alerts.history() if self.alerts is not None else [],
        )
        for hook in self.result_hooks:
            hook(result)
        return result
