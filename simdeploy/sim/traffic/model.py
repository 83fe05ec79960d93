"""The fluid traffic model: request counts per tick, split over routed pods, served, failed or queued.

Each tick, every traffic source sends rate x tick requests to a Service (or through a weighted
route to several). They are split over the Service's routed pods evenly, computed per group of
identical pods. A group whose app cannot serve (not yet warm, crashed, hung, past SIGTERM) fails
its share; a serving group fails its version's error rate, serves up to its capacity and rejects
the rest; queueing stretches latency by 1 / (1 - utilisation). Requests are conserved: every
request sent is counted once, as succeeded or as failed, in the tick it was sent. With user cohorts
(feature flags), each group's share is split over them by their share of the users, and a cohort's
effects change how that version serves it. With a service graph (sim/traffic/graph.py), the graph serves
each Service once per tick with its sources' requests and its callers' calls, and this model's serving
code collects the outcome for it (`serve_collected`) instead of counting it, so that what callees answer can change
what the callers' requests see before anything is counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.clock import EARLY, Clock
from simdeploy.sim.latency import DEFAULT_BUCKETS, HistogramLatency, Latency, LogNormalLatency, bucket_counts, stretch
from simdeploy.sim.traffic.endpoints import Endpoints, GroupKey
from simdeploy.sim.traffic.rates import RateProfile

NO_ENDPOINT = "none"  # version label of requests that found no endpoint at all
FAST = 0.001  # s: how long a request failed at once (refused, rejected, no endpoint) takes


@dataclass(frozen=True)
class Route:
    """Istio VirtualService-style weights: a share of the route's traffic to each Service."""

    namespace: str
    name: str
    weights: dict[str, float]  # Service name -> weight


@dataclass
class Source:
    """Requests arriving for a Service, or for a route, following a rate profile."""

    namespace: str
    profile: RateProfile
    service: str | None = None
    route: str | None = None
    start: float = 0.0


@dataclass
class Totals:
    """Requests counted since the start (or since an interval began)."""

    sent: float = 0.0
    failed: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * (len(DEFAULT_BUCKETS) + 1))


@dataclass(frozen=True)
class Effect:
    """How a version serves a cohort's requests differently (a feature flag's code path)."""

    version: str | None = None  # an image or a version name; None: every version
    error_rate: float = 0.0  # added to the version's own
    latency_factor: float = 1.0  # stretches the version's latency
    capacity_factor: float = 1.0  # a request costs 1 / capacity_factor of a plain one
    skip_calls: tuple[str, ...] = ()  # Services whose calls these requests skip (a kill switch): fallback served


@dataclass(frozen=True)
class Cohort:
    """Users who see the same flags: the (flag, cohort) pairs they are counted under, and the effects they get."""

    labels: tuple[tuple[str, str], ...]
    effects: tuple[Effect, ...] = ()
    _on: dict = field(default_factory=dict, compare=False, repr=False)  # (image, version) -> combined effect

    def effect(self, image: str, version: str) -> tuple[float, float, float]:
        """(added error rate, latency factor, capacity factor) on one version: errors add, factors multiply."""
        combined = self._on.get((image, version))
        if combined is None:
            error, latency, capacity = 0.0, 1.0, 1.0
            for effect in self.effects:
                if effect.version is None or effect.version in (image, version):
                    error += effect.error_rate
                    latency *= effect.latency_factor
                    capacity *= effect.capacity_factor
            combined = self._on[(image, version)] = (error, latency, capacity)
        return combined


@dataclass(frozen=True)
class Overlay:
    """How the pods of one image serve differently for a while, as code outside the traffic model decides it
    (a database's schema and locks): extra errors, requests timing out, and a latency factor."""

    error_rate: float = 0.0  # share of served requests failing with 500, added to the version's own
    timeout_rate: float = 0.0  # share of requests that wait past the client's timeout (counted as 504)
    timeout_after: float = 0.0  # how long those waited before giving up (their latency)
    latency_factor: float = 1.0  # stretches the latency of the requests served


NO_OVERLAY = Overlay()


class OverlaySource(Protocol):
    def overlay(self, image: str, start: float, end: float) -> Overlay:
        """How pods running `image` serve the requests sent between `start` and `end`."""


class CohortSource(Protocol):
    def at(self, moment: float) -> tuple[tuple[float, Cohort], ...]:
        """The cohorts requests come from at `moment`, with their shares (summing to 1)."""


class TrafficModel:
    """Sends each source's requests every tick and keeps Prometheus-style counters of the outcome."""

    def __init__(
        self,
        clock: Clock,
        endpoints: Endpoints,
        behaviours: dict[str, VersionBehaviour],
        tick: float = 1.0,
        overload_code: str = "503",
    ):
        self.clock = clock
        self.endpoints = endpoints
        self.behaviours = behaviours
        self.tick = tick
        self.overload_code = overload_code
        self.sources: list[Source] = []
        self.routes: dict[tuple[str, str], Route] = {}
        # Cumulative counters, as an exporter holds them.
        self.requests: dict[tuple[str, str, str, str], float] = defaultdict(float)  # (ns, svc, version, code)
        self.latency: dict[tuple[str, str, str], Totals] = {}  # (ns, svc, version) -> histogram
        self.latency_sum: dict[tuple[str, str, str], float] = defaultdict(float)
        self.total = Totals()
        self.listeners: list = []  # called with (time, sent, failed) after every tick
        self.cohort_source: CohortSource | None = None  # user cohorts (feature flags), None: all users alike
        self.overlay_source: OverlaySource | None = None  # per-image serving overlays (schema changes), or none
        self.cohort_totals: dict[tuple[str, str], list[float]] = {}  # (flag, cohort) -> [sent, failed]
        # How busy each group of pods with a capacity was in the last tick: (namespace, service, group) ->
        # (utilisation, share of its requests rejected). What a single request arriving now would meet.
        self.load: dict[tuple[str, str, GroupKey], tuple[float, float]] = {}
        self._mix: tuple[tuple[float, Cohort], ...] = ()
        self._overlaid_cache: dict[tuple, VersionBehaviour] = {}
        self._started = False
        self.graph = None  # the service graph (sim/traffic/graph.py), when Services call each other
        self._sink: list | None = None  # while a list, serving outcomes are collected there, not counted

    def add_source(self, source: Source) -> None:
        self.sources.append(source)
        if not self._started:
            self._started = True
            self.clock.call_later(self.tick, self._tick, EARLY)

    def set_route(self, route: Route) -> None:
        self.routes[(route.namespace, route.name)] = route

    # -- one tick --------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock.now
        sent = failed = 0.0
        # The cohorts of the middle of the tick: exact when their shares change linearly (SDK polling).
        self._mix = self.cohort_source.at(now - self.tick / 2) if self.cohort_source is not None else ()
        self.load.clear()
        # Each Service's requests from every source are served together: its pods have one capacity.
        arriving: dict[tuple[str, str], float] = {}
        for source in self.sources:
            if now - self.tick < source.start:
                continue
            requests = source.profile.at(now - self.tick) * self.tick
            for service, share in self._destinations(source):
                key = (source.namespace, service)
                arriving[key] = arriving.get(key, 0.0) + requests * share
        if self.graph is not None:
            sent, failed = self.graph.tick(self, arriving)
        else:
            for (namespace, service), requests in arriving.items():
                s, f = self.serve(namespace, service, requests)
                sent += s
                failed += f
        self.total.sent += sent
        self.total.failed += failed
        for listener in self.listeners:
            listener(now, sent, failed)
        self.clock.call_later(self.tick, self._tick, EARLY)

    def _destinations(self, source: Source) -> list[tuple[str, float]]:
        if source.service is not None:
            return [(source.service, 1.0)]
        route = self.routes.get((source.namespace, source.route))
        weights = {name: w for name, w in (route.weights if route else {}).items() if w > 0}
        total = sum(weights.values())
        return [(name, w / total) for name, w in weights.items()] if total else []

    def serve(self, namespace: str, service: str, requests: float) -> tuple[float, float]:
        """Serve `requests` on the Service's routed pods; returns (sent, failed)."""
        view = self.endpoints.view(namespace, service)
        groups = view.groups if view is not None else {}
        pods = sum(groups.values())
        if requests <= 0:
            return 0.0, 0.0
        if not pods:
            self._count(namespace, service, NO_ENDPOINT, "503", requests, None, 1.0)
            self._tally_all(requests, requests)
            return requests, requests
        failed = 0.0
        for group, count in groups.items():
            _, image, serving = group
            share = requests * count / pods
            behaviour = self.behaviours[image]
            version = behaviour.version or image
            if not serving:
                # Connection refused: the mesh answers 503 at once.
                self._count(namespace, service, version, "503", share, None, 1.0)
                self._tally_all(share, share)
                failed += share
                continue
            if self.overlay_source is not None:
                overlay = self.overlay_source.overlay(image, self.clock.now - self.tick, self.clock.now)
                if overlay.timeout_rate > 0:
                    timed_out = share * overlay.timeout_rate
                    self._count(namespace, service, version, "504", timed_out, self._waited(overlay.timeout_after), 1.0)
                    self._tally_all(timed_out, timed_out)
                    failed += timed_out
                    share -= timed_out
                    if share <= 1e-12:
                        continue
                if overlay != NO_OVERLAY:
                    behaviour = self._overlaid(behaviour, overlay)
            if self._mix:
                failed += self._serve_cohorts(namespace, service, group, behaviour, count, share)
                continue
            served, utilisation = share, 0.0
            if behaviour.capacity:
                capacity = count * behaviour.capacity * self.tick
                served = min(share, capacity)
                utilisation = served / capacity
                self._busy(namespace, service, group, utilisation, 1.0 - served / share)
            rejected = share - served
            errors = served * behaviour.error_rate
            factor = stretch(utilisation, behaviour.concurrency)
            self._count(namespace, service, version, "200", served - errors, behaviour, factor)
            self._count(namespace, service, version, "500", errors, behaviour, factor)
            self._count(namespace, service, version, self.overload_code, rejected, None, 1.0)
            failed += errors + rejected
        return requests, failed

    def serve_collected(self, namespace: str, service: str, requests: float) -> list[tuple]:
        """Serve as `serve` does, but return the outcome as records instead of counting it: ("count", version,
        code, requests), ("observe", version, requests, latency, factor) and ("tally", cohort, sent, failed)."""
        records: list[tuple] = []
        self._sink = records
        try:
            self.serve(namespace, service, requests)
        finally:
            self._sink = None
        return records

    @property
    def cohort_mix(self) -> tuple[tuple[float, Cohort], ...]:
        """This tick's user cohorts with their shares of the users (empty: all users alike)."""
        return self._mix

    def _waited(self, seconds: float) -> VersionBehaviour:
        """A stand-in version whose every answer takes `seconds`: how requests that timed out are observed."""
        key = (None, seconds)
        waited = self._overlaid_cache.get(key)
        if waited is None:
            waited = self._overlaid_cache[key] = VersionBehaviour(
                "timed-out", latency=LogNormalLatency(seconds, seconds)
            )
        return waited

    def _overlaid(self, behaviour: VersionBehaviour, overlay: Overlay) -> VersionBehaviour:
        """The version as it serves under an overlay: errors added, latency stretched (cached per pair)."""
        key = (behaviour, overlay)
        changed = self._overlaid_cache.get(key)
        if changed is None:
            error_rate = min(1.0, behaviour.error_rate + overlay.error_rate)
            latency = _scaled(behaviour.latency, overlay.latency_factor) if overlay.latency_factor != 1 else None
            changed = behaviour.with_changes(error_rate=error_rate, **({"latency": latency} if latency else {}))
            if len(self._overlaid_cache) > 1000:
                self._overlaid_cache.clear()
            self._overlaid_cache[key] = changed
        return changed

    def _serve_cohorts(
        self, namespace: str, service: str, group: GroupKey, behaviour: VersionBehaviour, count: int, share: float
    ) -> float:
        """Serve one group's share split over the user cohorts; returns the failed requests."""
        image = group[1]
        version = behaviour.version or image
        parts = [(share * part, cohort.effect(image, version), cohort) for part, cohort in self._mix]
        by_effect: dict[tuple[float, float, float], float] = {}  # cohorts served alike are counted together
        for sent, effect, _ in parts:
            by_effect[effect] = by_effect.get(effect, 0.0) + sent
        admitted, utilisation = 1.0, 0.0
        if behaviour.capacity:
            capacity = count * behaviour.capacity * self.tick
            demand = sum(sent / effect[2] for effect, sent in by_effect.items())
            # Saturated pods reject without knowing who asks: every cohort loses the same fraction.
            admitted = min(1.0, capacity / demand) if demand > 0 else 1.0
            utilisation = min(demand, capacity) / capacity
            self._busy(namespace, service, group, utilisation, 1.0 - admitted)
        queueing = stretch(utilisation, behaviour.concurrency)
        succeeded = errors = rejected = 0.0
        served_by_factor: dict[float, float] = {}  # the histogram has no code label: merge by latency factor
        for (error_rate, latency_factor, _), sent in by_effect.items():
            served = sent * admitted
            failing = served * min(1.0, behaviour.error_rate + error_rate)
            succeeded, errors, rejected = succeeded + served - failing, errors + failing, rejected + sent - served
            served_by_factor[latency_factor] = served_by_factor.get(latency_factor, 0.0) + served
        for code, requests in (("200", succeeded), ("500", errors), (self.overload_code, rejected)):
            if requests > 0:
                self.add_requests(namespace, service, version, code, requests)
        key = (namespace, service, version)
        for latency_factor, served in served_by_factor.items():
            if served > 0:
                self._observe(key, served, behaviour, queueing * latency_factor)
        if rejected > 0:
            self._observe(key, rejected, None, 1.0)
        for sent, (error_rate, _, _), cohort in parts:
            kept = admitted * (1.0 - min(1.0, behaviour.error_rate + error_rate))
            self.tally_cohort(cohort, sent, sent * (1.0 - kept))
        return errors + rejected

    def _busy(self, namespace: str, service: str, group: GroupKey, utilisation: float, rejected: float) -> None:
        if utilisation > 0:  # an idle group is what a group missing from `load` means
            self.load[(namespace, service, group)] = (utilisation, rejected)

    def _tally_all(self, sent: float, failed: float) -> None:
        """Requests that failed before any code ran: each cohort fails its share."""
        for part, cohort in self._mix:
            self.tally_cohort(cohort, sent * part, failed * part)

    def tally_cohort(self, cohort: Cohort, sent: float, failed: float) -> None:
        """Add to a user cohort's sent and failed requests."""
        if self._sink is not None:
            self._sink.append(("tally", cohort, sent, failed))
            return
        for label in cohort.labels:
            totals = self.cohort_totals.get(label)
            if totals is None:
                totals = self.cohort_totals[label] = [0.0, 0.0]
            totals[0] += sent
            totals[1] += failed

    def _count(
        self,
        namespace: str,
        service: str,
        version: str,
        code: str,
        requests: float,
        behaviour: VersionBehaviour | None,
        factor: float,
    ) -> None:
        """Add to the request counter and the latency histogram (None: failed fast, in the first bucket)."""
        if requests <= 0:
            return
        self.add_requests(namespace, service, version, code, requests)
        self._observe((namespace, service, version), requests, behaviour, factor)

    def add_requests(self, namespace: str, service: str, version: str, code: str, requests: float) -> None:
        """Add to the request counter."""
        if self._sink is not None:
            self._sink.append(("count", version, code, requests))
            return
        self.requests[(namespace, service, version, code)] += requests

    def _observe(
        self, key: tuple[str, str, str], requests: float, behaviour: VersionBehaviour | None, factor: float
    ) -> None:
        """Add requests to the latency histogram of (namespace, service, version)."""
        latency = None if behaviour is None else behaviour.latency
        if self._sink is not None:
            self._sink.append(("observe", key[2], requests, latency, factor))
            return
        self.observe_latency(key, requests, latency, factor)

    def observe_latency(
        self, key: tuple[str, str, str], requests: float, latency: Latency | None, factor: float
    ) -> None:
        """Add requests answered in `latency` stretched by `factor` (None: failed fast, in the first bucket)."""
        histogram = self.latency.get(key)
        if histogram is None:
            histogram = self.latency[key] = Totals()
        histogram.sent += requests
        if latency is None:
            counts = [requests] * (len(DEFAULT_BUCKETS) + 1)
            self.latency_sum[key] += FAST * requests
        else:
            counts = bucket_counts(latency, requests, factor)
            self.latency_sum[key] += latency.mean(factor) * requests
        for index, value in enumerate(counts):
            histogram.buckets[index] += value
            self.total.buckets[index] += value


def _scaled(latency: Latency, factor: float) -> Latency:
    """The same latency distribution with every latency multiplied by `factor`."""
    if isinstance(latency, LogNormalLatency):
        return LogNormalLatency(latency.p50 * factor, latency.p99 * factor)
    return HistogramLatency(tuple(bound * factor for bound in latency.bounds), latency.fractions)
