"""The service graph's metrics at each scrape: per-edge series named as Istio exports them, per-Service intervals.

Each edge's calls are series as Istio's sidecars export them (istio.io "Istio Standard Metrics"):
`istio_requests_total` with `reporter="source"` (the caller's sidecar: one per call, with its final
code after retries; a call whose last attempt timed out is 504 with `response_flags="UT"`) and
`reporter="destination"` (the callee's sidecar: one per attempt, with the callee's answer), and the
histogram `istio_request_duration_milliseconds` of the calls as the caller waited for them (retries and
backoff included). Labels: `source_workload`, `source_workload_namespace`, `destination_workload`,
`destination_workload_namespace`, `destination_service` (the Service's cluster name),
`destination_service_name`, `destination_service_namespace`, `response_code`, `response_flags`.
Between scrapes, each Service of the graph keeps a row per interval (requests, errors, p99 over its
versions), from which the summary finds each Service's worst p99 and the blast radius of rollouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simdeploy.sim.latency import DEFAULT_BUCKETS
from simdeploy.sim.metrics.promql_functions import bucket_quantile
from simdeploy.sim.metrics.tsdb import SeriesStore
from simdeploy.sim.traffic.graph import MESH_BUCKETS_MS, TIMED_OUT, ServiceGraph
from simdeploy.sim.traffic.model import TrafficModel

_BOUNDS = [*DEFAULT_BUCKETS, math.inf]
_LE_MS = [f"{bound:g}" for bound in MESH_BUCKETS_MS] + ["+Inf"]


@dataclass(frozen=True)
class Interval:
    """One Service's requests over the scrape interval ending at `t`."""

    t: float
    since: float  # the previous scrape
    service: str
    requests: float
    errors: float
    p99_s: float | None


class MeshMetrics:
    """Adds the graph's series at every scrape (when there is a TSDB) and keeps each Service's intervals."""

    def __init__(
        self, graph: ServiceGraph, workloads: dict[str, str], traffic: TrafficModel, series: SeriesStore | None
    ):
        self.graph = graph
        self.workloads = workloads
        self.traffic = traffic
        self.series = series
        self.intervals: list[Interval] = []
        self._previous: dict[str, tuple[float, float, list[float]]] = {}
        self._last = 0.0  # the previous scrape

    def scrape(self, now: float) -> None:
        self._service_intervals(now)
        if self.series is not None:
            for edge in self.graph.edges:
                self._edge_series(edge, now)

    def _service_intervals(self, now: float) -> None:
        namespace = self.graph.namespace
        sent: dict[str, float] = {}
        errors: dict[str, float] = {}
        for (ns, service, _, code), count in self.traffic.requests.items():
            if ns == namespace and service in self.graph.services:
                sent[service] = sent.get(service, 0.0) + count
                if code.startswith("5"):
                    errors[service] = errors.get(service, 0.0) + count
        buckets: dict[str, list[float]] = {}
        for (ns, service, _), histogram in self.traffic.latency.items():
            if ns == namespace and service in self.graph.services:
                merged = buckets.setdefault(service, [0.0] * len(_BOUNDS))
                for index, value in enumerate(histogram.buckets):
                    merged[index] += value
        since, self._last = self._last, now
        for service in self.graph.order:
            total, failed = sent.get(service, 0.0), errors.get(service, 0.0)
            cumulative = buckets.get(service, [0.0] * len(_BOUNDS))
            before = self._previous.get(service, (0.0, 0.0, [0.0] * len(_BOUNDS)))
            self._previous[service] = (total, failed, list(cumulative))
            requests = total - before[0]
            if now <= 0 or requests <= 0:
                continue
            increase = [b - a for a, b in zip(before[2], cumulative, strict=True)]
            p99 = bucket_quantile(0.99, list(zip(_BOUNDS, increase, strict=True)))
            p99_s = None if math.isnan(p99) else p99
            self.intervals.append(Interval(now, since, service, requests, failed - before[1], p99_s))

    def _edge_series(self, edge, now: float) -> None:
        namespace, call, totals = self.graph.namespace, edge.call, edge.totals
        labels = {
            "source_workload": self.workloads.get(call.caller, call.caller),
            "source_workload_namespace": namespace,
            "destination_workload": self.workloads.get(call.callee, call.callee),
            "destination_workload_namespace": namespace,
            "destination_service": f"{call.callee}.{namespace}.svc.cluster.local",
            "destination_service_name": call.callee,
            "destination_service_namespace": namespace,
        }
        add = self.series.add
        source = {"reporter": "source", **labels}
        for code, count in sorted(totals.source_codes.items()):
            late = totals.timed_out_calls if code == TIMED_OUT else 0.0
            if count - late > 1e-9 or not late:
                add("istio_requests_total", {**source, "response_code": code, "response_flags": "-"}, now, count - late)
            if late:
                add("istio_requests_total", {**source, "response_code": code, "response_flags": "UT"}, now, late)
        for code, count in sorted(totals.destination_codes.items()):
            add(
                "istio_requests_total",
                {"reporter": "destination", **labels, "response_code": code, "response_flags": "-"},
                now,
                count,
            )
        for le, value in zip(_LE_MS, totals.buckets, strict=True):
            add("istio_request_duration_milliseconds_bucket", {**source, "le": le}, now, value)
        add("istio_request_duration_milliseconds_count", source, now, totals.buckets[-1])
        add("istio_request_duration_milliseconds_sum", source, now, totals.latency_sum * 1000)
