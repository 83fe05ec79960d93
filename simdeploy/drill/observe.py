"""Observing a real cluster during a drill: its objects mirrored into a local store, a probe load through the
Service proxy, and the simulation's own measuring machinery run on both, so that the observed run yields the
same result document (and the same alerts) as a simulated one.

Drill time `t` is seconds since the manifests were applied, in the cluster's clock (the wall clock, or the
simulated clock of `simdeploy serve`, see timebase.py). A driver thread keeps the local Clock at `t`, so the
scenario's alerting rules are evaluated at their interval on what the probe measured, and the runbook engine's
waits and deadlines run on the same time.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from simdeploy.drill.kube import KubeClient, KubeError
from simdeploy.drill.timebase import TimeBase
from simdeploy.k8s.timeutil import DEFAULT_EPOCH
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.store import ADDED, DELETED, Store
from simdeploy.sim.latency import DEFAULT_BUCKETS
from simdeploy.sim.measure import Measurements
from simdeploy.sim.metrics.alerts import AlertEvaluator, RuleGroup
from simdeploy.sim.metrics.scrape import Scraper
from simdeploy.sim.metrics.tsdb import SeriesStore
from simdeploy.sim.outcome import result_document
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.result import Result
from simdeploy.sim.traffic.model import Totals

WATCHED = ("Deployment", "ReplicaSet", "Pod", "Rollout")
DRIVE_INTERVAL = 0.05  # s of wall time between two advances of the local clock


class ProbeTraffic:
    """The probe's requests counted as the traffic model counts its own (what the Scraper reads)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], float] = defaultdict(float)
        self.latency: dict[tuple[str, str, str], Totals] = {}
        self.latency_sum: dict[tuple[str, str, str], float] = defaultdict(float)
        self.total = Totals()

    def record(self, namespace: str, service: str, version: str, code: str, seconds: float) -> None:
        self.requests[(namespace, service, version, code)] += 1
        key = (namespace, service, version)
        histogram = self.latency.setdefault(key, Totals())
        histogram.sent += 1
        self.total.sent += 1
        if code.startswith("5"):
            self.total.failed += 1
        first = bisect.bisect_left(DEFAULT_BUCKETS, seconds)
        for index in range(first, len(DEFAULT_BUCKETS) + 1):  # cumulative: every bucket at or above
            histogram.buckets[index] += 1
            self.total.buckets[index] += 1
        self.latency_sum[key] += seconds


class Observation:
    """A real cluster's namespace, mirrored and measured on drill time."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        scenario_namespace: str,
        timebase: TimeBase,
        rule_groups: list[RuleGroup],
        scrape_interval: float = 15.0,
        evaluation_interval: float = 15.0,
    ):
        self.client = client
        self.namespace = namespace  # the run's namespace on the cluster
        self.scenario_namespace = scenario_namespace  # the one the scenario names, as metrics label it
        self.timebase = timebase
        self.lock = threading.RLock()
        self.clock = Clock()
        self.store = Store(lambda: self.clock.now, DEFAULT_EPOCH)
        self.recorder = Recorder(lambda: self.clock.now)
        self.store.watch("ReplicaSet", lambda _event, rs: self.recorder.replica_set(rs))
        self.store.watch("Pod", self._pod_event)
        self.measurements = Measurements(self.store, lambda: self.clock.now, self.recorder)
        self.metrics = SeriesStore()
        self.traffic = ProbeTraffic()
        self.scraper = Scraper(self.clock, self.store, self.traffic, self.metrics, scrape_interval)
        self.alerts = (
            AlertEvaluator(self.clock, self.metrics, self.recorder, rule_groups, evaluation_interval)
            if rule_groups
            else None
        )
        self.rollouts = None  # what conditions look for on a Simulation: Rollouts are in the store here
        self.flags = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ready: dict[str, bool] = {}
        self.pods: dict[str, dict] = {}  # every pod seen, by name, as first seen (gone ones too): for calibration
        self.errors: list[str] = []  # what went wrong while observing (a watch that failed, ...)

    @property
    def now(self) -> float:
        return self.clock.now

    # -- running --------------------------------------------------------------------------------------------

    def start(self, probes: list[tuple[str, str]], rate: float, rng: random.Random) -> None:
        """Watch the namespace, drive the clock, and send `rate` requests/s to each (service, port) in `probes`."""
        self._spawn("drive", self._drive)
        for kind in WATCHED:
            if kind == "Rollout" and not self._served(kind):
                continue
            self._spawn(f"watch {kind}", lambda kind=kind: self._watch(kind))
        for service, port in probes:
            self._spawn(
                f"probe {service}", lambda s=service, p=port: self._probe(s, p, rate, random.Random(rng.random()))
            )

    def stop(self) -> None:
        self._stop.set()
        self.client.close_streams()
        for thread in self._threads:
            thread.join(timeout=10)

    def advance(self) -> float:
        """Bring the local clock to the cluster's drill time now (under the lock); returns that time."""
        with self.lock:
            now = max(self.timebase.now(), self.clock.now)
            self.clock.run_until(now)
            return now

    def at(self, moment: float, callback: Callable[[], None]) -> None:
        with self.lock:
            self.clock.call_at(max(moment, self.clock.now), callback)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guarded(name, target), name=f"simdeploy-drill {name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guarded(self, name: str, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as error:  # an observer thread must not die silently
                self.errors.append(f"{name}: {type(error).__name__}: {error}")

        return run

    def _drive(self) -> None:
        while not self._stop.wait(DRIVE_INTERVAL):
            self.advance()

    # -- objects --------------------------------------------------------------------------------------------

    def _served(self, kind: str) -> bool:
        try:
            self.client.list(kind, self.namespace)
        except KubeError:
            return False
        return True

    def _watch(self, kind: str) -> None:
        """List, then watch from the list's resourceVersion; start over when a stream ends (or expires)."""
        while not self._stop.is_set():
            listed = self.client.list(kind, self.namespace)
            with self.lock:
                self.advance()
                for obj in listed.get("items", []):
                    self._mirror(ADDED, {**obj, "kind": kind, "apiVersion": listed.get("apiVersion", "")})
            version = (listed.get("metadata") or {}).get("resourceVersion", "")
            try:
                for event in self.client.watch(kind, self.namespace, version, timeout=60):
                    if self._stop.is_set():
                        return
                    if event.get("type") == "ERROR":
                        break  # 410 Gone: list again
                    obj = event.get("object") or {}
                    obj.setdefault("kind", kind)
                    with self.lock:
                        self.advance()
                        self._mirror(event.get("type", ""), obj)
            except KubeError as error:
                self.errors.append(f"watch {kind}: {error}")
                self._stop.wait(1.0)
            except Exception:  # a stream ended by close_streams() on stop
                if not self._stop.is_set():
                    raise

    def _mirror(self, event_type: str, obj: dict) -> None:
        if event_type not in ("ADDED", "MODIFIED", "DELETED"):
            return
        self.store.mirror(DELETED if event_type == "DELETED" else "MODIFIED", obj)

    def _pod_event(self, event_type: str, pod: dict) -> None:
        """The moments worth a line on the observed timeline: a pod created, Ready, not Ready, gone."""
        name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace")
        if event_type == DELETED:
            self._ready.pop(name, None)
            self.recorder.event("Pod", name, "Deleted", f"pod {name} is gone", namespace=namespace)
            return
        conditions = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
        ready = conditions.get("Ready") == "True"
        if name not in self._ready:
            self.pods.setdefault(name, pod)
            image = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", "")
            self.recorder.event("Pod", name, "Created", f"pod {name} ({image})", namespace=namespace)
        if ready != self._ready.get(name, False):
            said = "Ready" if ready else "not Ready"
            self.recorder.event("Pod", name, "Ready" if ready else "NotReady", said, namespace=namespace)
        self._ready[name] = ready

    # -- the probe load -------------------------------------------------------------------------------------

    def _probe(self, service: str, port: str, rate: float, rng: random.Random) -> None:
        """`rate` requests per second of drill time through the API server's Service proxy, spread evenly, counted
        as the traffic model counts its own (on a served simulation at 20x, 20 times as many per wall second)."""
        path = f"/api/v1/namespaces/{self.namespace}/services/{service}:{port}/proxy/"
        next_at = time.monotonic() + rng.uniform(0, 1.0 / rate)
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at = max(next_at, time.monotonic() - 1.0) + 1.0 / (rate * max(self.timebase.speed, 0.05))
            started = time.monotonic()
            try:
                code, headers, body = self.client.raw("GET", path)
            except KubeError:
                code, headers, body = 503, {}, b""  # the proxy itself unreachable: the user sees a failure too
            latency = time.monotonic() - started
            version, modelled = _answer(headers, body)
            with self.lock:
                self.advance()
                self.traffic.record(
                    self.scenario_namespace, service, version, str(code), modelled if modelled is not None else latency
                )

    # -- the result -----------------------------------------------------------------------------------------

    def result(self, name: str, seed: int, duration: float, versions: dict[str, str]) -> Result:
        with self.lock:
            return result_document(
                scenario=name,
                seed=seed,
                duration=duration,
                versions=versions,
                measurements=self.measurements,
                recorder=self.recorder,
                sent=self.traffic.total.sent,
                failed=self.traffic.total.failed,
                p99_max=self.scraper.p99_max,
                traffic=self.scraper.rows,
                alerts=self.alerts.history() if self.alerts is not None else [],
            )


def _answer(headers: dict, body: bytes) -> tuple[str, float | None]:
    """The version that answered and the latency it models, when the answer says: the demo app and `simdeploy
    serve` name the version in `X-Simdeploy-Version`; serve, which does not wait out its modelled latency, gives
    it in `X-Simdeploy-Latency` (else the request's own time through the proxy counts)."""
    lowered = {str(k).lower(): v for k, v in headers.items()}
    version = lowered.get("x-simdeploy-version")
    if not version:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        version = document.get("version") if isinstance(document, dict) else None
    try:
        modelled = float(lowered["x-simdeploy-latency"]) if "x-simdeploy-latency" in lowered else None
    except ValueError:
        modelled = None
    return str(version or "unknown"), modelled
