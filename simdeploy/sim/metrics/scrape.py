"""Prometheus scrapes of the simulated cluster: request metrics and kube-state-metrics, every interval.

Request metrics are named like a mesh sidecar in front of each pod exports them (every request a
pod of that version was sent counts, connection failures included):
`http_requests_total{namespace,service,app,version,code}` and the histogram
`http_request_duration_seconds{namespace,service,app,version}`. Object metrics follow
kube-state-metrics. Between scrapes the scraper also keeps one `traffic` row per service and
version: requests, errors and p99 latency over the interval, for plots and the summary; the run's worst
p99 is that of the Services traffic sources send to (with a service graph, not of those only other
Services call). `hooks` scrape more at each scrape (the service graph's series, sim/metrics/mesh.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from simdeploy.sim.clock import LATE, Clock
from simdeploy.sim.cluster.store import Store
from simdeploy.sim.latency import DEFAULT_BUCKETS
from simdeploy.sim.metrics.promql_functions import bucket_quantile
from simdeploy.sim.metrics.tsdb import SeriesStore
from simdeploy.sim.result import TrafficRow, fraction, requests, seconds
from simdeploy.sim.traffic.model import TrafficModel

_LE = [f"{bound:g}" for bound in DEFAULT_BUCKETS] + ["+Inf"]
_BOUNDS = [*DEFAULT_BUCKETS, math.inf]
# Per-pod series cost one series per pod per scrape; beyond this many pods they are left out.
POD_SERIES_LIMIT = 100


class Scraper:
    """Samples counters and object state into a SeriesStore at every scrape interval."""

    def __init__(self, clock: Clock, store: Store, traffic: TrafficModel, series: SeriesStore | None, interval: float):
        """With `series` None only the traffic rows are kept (sweeps that need no PromQL skip the TSDB)."""
        self.clock = clock
        self.store = store
        self.traffic = traffic
        self.series = series
        self.interval = interval
        self.rows: list[TrafficRow] = []
        self.p99_max: float | None = None
        self.hooks: list[Callable[[float], None]] = []  # more to scrape, called with the moment (the service graph)
        self._previous: dict[tuple, tuple[float, float, list[float]]] = {}
        # Scrapes run "late": after every tick and state change of the same moment, so they see it.
        clock.call_at(0.0, self._scrape, LATE)

    def _scrape(self) -> None:
        now = self.clock.now
        self._request_metrics(now)
        for hook in self.hooks:
            hook(now)
        if self.series is not None:
            self._object_metrics(now)
        self.clock.call_later(self.interval, self._scrape, LATE)

    # -- requests ----------------------------------------------------------------

    def _app(self, namespace: str, service: str) -> str:
        obj = self.store.find("Service", namespace, service)
        selector = (obj or {}).get("spec", {}).get("selector") or {}
        return selector.get("app", service)

    def _request_metrics(self, now: float) -> None:
        errors_by_key: dict[tuple, float] = {}
        add = self.series.add if self.series is not None else _discard
        for (namespace, service, version, code), count in self.traffic.requests.items():
            labels = {
                "namespace": namespace,
                "service": service,
                "app": self._app(namespace, service),
                "version": version,
                "code": code,
            }
            add("http_requests_total", labels, now, count)
            if code.startswith("5"):
                key = (namespace, service, version)
                errors_by_key[key] = errors_by_key.get(key, 0.0) + count
        interval_buckets = [0.0] * len(_BOUNDS)
        for key, histogram in self.traffic.latency.items():
            namespace, service, version = key
            labels = {
                "namespace": namespace,
                "service": service,
                "app": self._app(namespace, service),
                "version": version,
            }
            if self.series is not None:
                for le, value in zip(_LE, histogram.buckets, strict=True):
                    add("http_request_duration_seconds_bucket", {**labels, "le": le}, now, value)
                add("http_request_duration_seconds_count", labels, now, histogram.sent)
                add("http_request_duration_seconds_sum", labels, now, self.traffic.latency_sum[key])
            errors = errors_by_key.get(key, 0.0)
            before = self._previous.get(key, (0.0, 0.0, [0.0] * len(_BOUNDS)))
            increase = [b - a for a, b in zip(before[2], histogram.buckets, strict=True)]
            self._previous[key] = (histogram.sent, errors, list(histogram.buckets))
            sent = histogram.sent - before[0]
            if now > 0 and sent > 0:
                self.rows.append(
                    {
                        "t": seconds(now),
                        "service": service,
                        "version": version,
                        "requests": requests(sent),
                        "errors": requests(errors - before[1]),
                        "p99_s": _round(bucket_quantile(0.99, list(zip(_BOUNDS, increase, strict=True)))),
                    }
                )
                if not self._internal(namespace, service):
                    interval_buckets = [a + b for a, b in zip(interval_buckets, increase, strict=True)]
        if sum(interval_buckets[-1:]) > 0:
            p99 = bucket_quantile(0.99, list(zip(_BOUNDS, interval_buckets, strict=True)))
            if not math.isnan(p99):
                self.p99_max = p99 if self.p99_max is None else max(self.p99_max, p99)

    def _internal(self, namespace: str, service: str) -> bool:
        """A Service of the service graph that only other Services call: its users are not the run's users."""
        graph = getattr(self.traffic, "graph", None)  # a drill's probe counts have no graph
        return graph is not None and graph.internal(namespace, service)

    # -- objects (kube-state-metrics) ----------------------------------------------

    def _object_metrics(self, now: float) -> None:
        add = self.series.add
        for d in self.store.list("Deployment"):
            labels = {"namespace": d["metadata"]["namespace"], "deployment": d["metadata"]["name"]}
            status = d.get("status", {})
            add("kube_deployment_spec_replicas", labels, now, d["spec"].get("replicas", 1))
            add("kube_deployment_status_replicas", labels, now, status.get("replicas", 0))
            add("kube_deployment_status_replicas_available", labels, now, status.get("availableReplicas", 0))
            add("kube_deployment_status_replicas_unavailable", labels, now, status.get("unavailableReplicas", 0))
            add("kube_deployment_status_replicas_updated", labels, now, status.get("updatedReplicas", 0))
            add("kube_deployment_status_replicas_ready", labels, now, status.get("readyReplicas", 0))
            add("kube_deployment_status_observed_generation", labels, now, status.get("observedGeneration", 0))
            add("kube_deployment_metadata_generation", labels, now, d["metadata"].get("generation", 0))
        for rs in self.store.list("ReplicaSet"):
            labels = {"namespace": rs["metadata"]["namespace"], "replicaset": rs["metadata"]["name"]}
            status = rs.get("status", {})
            add("kube_replicaset_spec_replicas", labels, now, rs["spec"].get("replicas", 1))
            add("kube_replicaset_status_replicas", labels, now, status.get("replicas", 0))
            add("kube_replicaset_status_ready_replicas", labels, now, status.get("readyReplicas", 0))
        if self.store.count("Pod") > POD_SERIES_LIMIT:
            return
        for pod in self.store.list("Pod"):
            base = {"namespace": pod["metadata"]["namespace"], "pod": pod["metadata"]["name"]}
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", ())
            )
            add("kube_pod_status_ready", {**base, "condition": "true"}, now, 1.0 if ready else 0.0)
            add("kube_pod_status_ready", {**base, "condition": "false"}, now, 0.0 if ready else 1.0)
            for container in pod.get("status", {}).get("containerStatuses", ()):
                labels = {**base, "container": container["name"]}
                add("kube_pod_container_status_restarts_total", labels, now, container.get("restartCount", 0))


def _discard(*_args: object) -> None:
    pass


def _round(value: float) -> float | None:
    return None if math.isnan(value) else fraction(value)
