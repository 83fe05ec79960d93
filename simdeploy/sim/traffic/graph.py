"""The service graph: requests flowing from Service to Service through calls, with timeouts, retries and fallbacks.

Each tick the graph serves every Service once, in networkx's topological order (callers first), with
the requests its traffic sources send plus the calls of its callers: a caller's pods that take a request
on make `calls` calls per request to each callee (a fractional fan-out: 0.3 means 30% of the requests
make one call), less the requests whose user a kill switch cuts the call for. Then, callees first, each
Service's answer is worked out and counted: what its callees answered feeds it *in the same tick*, so a
slow or failing callee is felt upstream at once. An attempt fails when the callee fails it (at once or
after working on it) or, with a `timeout` per attempt, when the callee's answer comes later than that:
the share of the callee's latency above the timeout is an error upstream (504), and the callee still did
the work. Failed attempts are retried `retries` times with exponential backoff; the one thing that lags
is how many: a tick's retries follow the share of attempts that failed on that edge in the previous tick
(a fluid model cannot know the failures of the attempts it is sending), so a retry storm builds tick by
tick, as it does. A retry budget caps retries at a ratio of the calls (Finagle's RetryBudget, Envoy's
retry_budget: 20% by default there) plus a few per second. A call that still fails makes the caller's
request fail (502), or degrade, or be served by the caller's fallback (`onFailure`); a request's latency
is its pod's own plus its calls', fitted as sim/traffic/composition.py says.

Every request a Service is sent and every call an edge makes is counted once per tick, as succeeded or as
failed; attempts are counted by the callee like any request (its sidecar sees them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import networkx as nx

from simdeploy.sim.latency import Latency
from simdeploy.sim.traffic.composition import Spread, as_latency, atoms, fit, rounded, shifted_cut
from simdeploy.sim.traffic.model import FAST, TrafficModel

FAIL, DEGRADE, FALLBACK = "fail", "degrade", "fallback"
DEPENDENCY_FAILED = "502"  # what a caller answers when a call it cannot do without failed
TIMED_OUT = "504"  # what the caller's sidecar records for an attempt past its timeout (Envoy: flag UT)
# Istio's default buckets for istio_request_duration_milliseconds.
MESH_BUCKETS_MS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000)


@dataclass(frozen=True)
class Call:
    """An edge: the caller's requests call the callee `calls` times each."""

    caller: str
    callee: str
    calls: float = 1.0  # per request of the caller (fan-out)
    timeout: float | None = None  # per attempt, s (Istio's retries.perTryTimeout); None: wait for the answer
    retries: int = 0  # attempts after the first
    backoff: float = 0.025  # s: base interval of the fully jittered exponential backoff (Envoy's default)
    max_backoff: float | None = None  # s; 10 x backoff by default, as Envoy caps it
    budget: float | None = None  # retries at most this share of the calls (None: no budget)
    min_retries_per_second: float = 10.0  # with a budget, retries always allowed (Finagle's minRetriesPerSec)
    on_failure: str = FAIL  # fail | degrade | fallback: what a failed call does to the caller's request


@dataclass
class EdgeTotals:
    """What an edge did since the start: calls and their outcome, attempts, retries, timeouts."""

    calls: float = 0.0  # made (first attempts)
    skipped: float = 0.0  # not made: a kill switch cut them, the caller served its fallback
    succeeded: float = 0.0
    failed: float = 0.0  # after every retry
    attempts: float = 0.0  # calls and retries, as the callee counted them
    attempts_failed: float = 0.0  # as the caller saw them (timeouts included)
    retries: float = 0.0
    retries_denied: float = 0.0  # wanted, but over the retry budget
    timeouts: float = 0.0
    latency_sum: float = 0.0  # s, over calls (retries and backoff included)
    source_codes: dict[str, float] = field(default_factory=dict)  # calls by final code, as the caller's sidecar
    timed_out_calls: float = 0.0  # calls whose last attempt timed out (504, flag UT)
    destination_codes: dict[str, float] = field(default_factory=dict)  # attempts by the callee's answer
    buckets: list[float] = field(default_factory=lambda: [0.0] * (len(MESH_BUCKETS_MS) + 1))  # calls, cumulative


@dataclass
class ServiceTotals:
    """What a Service of the graph was sent since the start, and what became of it."""

    requests: float = 0.0  # from traffic sources and callers' attempts
    failed: float = 0.0
    external: float = 0.0  # from traffic sources (users)
    external_failed: float = 0.0
    degraded: float = 0.0  # served without a callee's part (onFailure: degrade)
    fallbacks: float = 0.0  # served by the fallback (onFailure: fallback, or the call cut by a kill switch)


@dataclass
class Edge:
    call: Call
    totals: EdgeTotals = field(default_factory=EdgeTotals)
    longest: float = 0.0  # the longest a call can take (inf without a timeout)
    failing: float = 0.0  # share of attempts that failed in the last tick: how many retries the next one sends
    # this tick
    made: float = 0.0
    retries: float = 0.0
    wanted: float = 0.0
    rounds: tuple[float, ...] = ()  # retries reaching each round (1..N)


@dataclass
class Answer:
    """How a Service answered in one tick: what its callers' attempts meet."""

    fast: float = 0.0  # share failed at once (no endpoint, refused, rejected)
    served: float = 1.0  # share its pods worked on
    failing: float = 0.0  # share of those that failed (own errors, failed dependencies)
    pieces: tuple[tuple[float, Latency, float, float], ...] = ()  # (share of served, latency, factor, shift)
    extra: float = 0.0  # mean time (s) its own calls add to each request
    codes: dict[str, float] = field(default_factory=dict)  # share of its requests answered with each code
    _cuts: dict[float, tuple[float, float, float]] = field(default_factory=dict)

    def cut(self, limit: float) -> tuple[float, float, float]:
        """Over the served: P(answer later than `limit`), E[min(latency, limit)], E[min(latency, limit)^2]."""
        found = self._cuts.get(limit)
        if found is None:
            late = first = second = 0.0
            for weight, latency, factor, shift in self.pieces:
                over, m1, m2 = shifted_cut(latency, factor, shift, limit)
                late, first, second = late + weight * over, first + weight * m1, second + weight * m2
            found = self._cuts[limit] = (late, first, second)
        return found


@dataclass
class Own:
    """A Service's own serving in one tick, as the traffic model's serving code reported it."""

    load: float
    fast: float = 0.0
    fast_by_version: dict[str, float] = field(default_factory=dict)
    served: float = 0.0
    pieces: list[tuple[str, float, Latency, float]] = field(default_factory=list)  # version, n, latency, factor
    counts: dict[tuple[str, str], float] = field(default_factory=dict)  # (version, code) -> n
    tallies: list[tuple] = field(default_factory=list)

    @classmethod
    def of(cls, load: float, records: list[tuple]) -> Own:
        own = cls(load)
        for record in records:
            if record[0] == "count":
                _, version, code, n = record
                own.counts[(version, code)] = own.counts.get((version, code), 0.0) + n
            elif record[0] == "observe":
                _, version, n, latency, factor = record
                if latency is None:
                    own.fast += n
                    own.fast_by_version[version] = own.fast_by_version.get(version, 0.0) + n
                else:
                    own.served += n
                    own.pieces.append((version, n, latency, factor))
            else:
                own.tallies.append(record[1:])
        return own


class ServiceGraph:
    """Services of one namespace calling each other, a directed acyclic graph of `Call`s."""

    def __init__(self, namespace: str, calls: Iterable[Call], tick: float):
        self.namespace = namespace
        self.tick_length = tick
        graph = nx.DiGraph()
        self.edges: list[Edge] = []
        for call in calls:
            graph.add_edge(call.caller, call.callee)
            self.edges.append(Edge(call, longest=rounded(_longest(call))))
        self.order: list[str] = list(nx.lexicographical_topological_sort(graph))  # raises on a cycle
        self.out: dict[str, list[Edge]] = {name: [] for name in self.order}
        for edge in self.edges:
            self.out[edge.call.caller].append(edge)
        self.services = {name: ServiceTotals() for name in self.order}
        self._skip_mix: object = None
        self._skip: dict[str, float] = {}

    def internal(self, namespace: str, name: str) -> bool:
        """Whether the Service is in the graph and no traffic source has sent it requests so far."""
        totals = self.services.get(name) if namespace == self.namespace else None
        return totals is not None and totals.external <= 0

    # -- one tick ----------------------------------------------------------------------------------

    def tick(self, model: TrafficModel, arriving: dict[tuple[str, str], float]) -> tuple[float, float]:
        """Serve this tick's requests through the graph; returns the traffic sources' (sent, failed)."""
        sent = failed = 0.0
        for (namespace, service), requests in arriving.items():
            if namespace != self.namespace or service not in self.services:
                s, f = model.serve(namespace, service, requests)  # a Service outside the graph
                sent, failed = sent + s, failed + f
        skip = self._skip_shares(model)
        load = {name: arriving.get((self.namespace, name), 0.0) for name in self.order}
        own: dict[str, Own] = {}
        for name in self.order:  # callers first: each Service's load is complete when its turn comes
            own[name] = self._serve_own(model, name, load[name])
            for edge in self.out[name]:
                self._send(edge, own[name].served, skip.get(edge.call.callee, 0.0))
                load[edge.call.callee] += edge.made + edge.retries
        answers: dict[str, Answer] = {}
        for name in reversed(self.order):  # callees first: what they answered feeds their callers now
            external = arriving.get((self.namespace, name), 0.0)
            answers[name], external_failed = self._answer(model, name, own[name], external, answers, skip)
            sent, failed = sent + external, failed + external_failed
        return sent, failed

    def _skip_shares(self, model: TrafficModel) -> dict[str, float]:
        """Callee -> share of the requests whose cohort's kill switch skips calls to it."""
        mix = model.cohort_mix
        if mix is not self._skip_mix:
            skip: dict[str, float] = {}
            for share, cohort in mix:
                for callee in {name for effect in cohort.effects for name in effect.skip_calls}:
                    skip[callee] = skip.get(callee, 0.0) + share
            self._skip_mix, self._skip = mix, {name: min(1.0, share) for name, share in skip.items()}
        return self._skip

    def _serve_own(self, model: TrafficModel, name: str, load: float) -> Own:
        """The Service's pods serve `load` through the traffic model's serving code, outcome collected."""
        return Own.of(load, model.serve_collected(self.namespace, name, load))

    def _send(self, edge: Edge, served: float, skipped: float) -> None:
        """The calls the caller's working requests make on this edge, and the retries the last tick calls for."""
        call = edge.call
        edge.made = served * call.calls * (1.0 - skipped)
        rounds = [edge.made * edge.failing**k for k in range(1, call.retries + 1)]
        wanted = sum(rounds)
        allowed = wanted
        if call.budget is not None:
            allowed = min(wanted, call.budget * edge.made + call.min_retries_per_second * self.tick_length)
        edge.wanted, edge.retries = wanted, allowed
        scale = allowed / wanted if wanted > 0 else 0.0
        edge.rounds = tuple(r * scale for r in rounds)
        totals = edge.totals
        totals.calls += edge.made
        totals.skipped += served * call.calls * skipped
        totals.attempts += edge.made + allowed
        totals.retries += allowed
        totals.retries_denied += wanted - allowed

    def _answer(
        self,
        model: TrafficModel,
        name: str,
        own: Own,
        external: float,
        answers: dict[str, Answer],
        skip: dict[str, float],
    ) -> tuple[Answer, float]:
        """Work out and count the Service's requests given its callees' answers; returns (answer, external failed)."""
        extra_mean = extra_variance = 0.0
        bound = 0.0  # the most time the calls can add: finite when every call has a timeout
        ok = {FAIL: 1.0, DEGRADE: 1.0, FALLBACK: 1.0}
        for edge in self.out[name]:
            mean, variance, call_failing = self._settle(edge, answers[edge.call.callee])
            skipped = skip.get(edge.call.callee, 0.0)
            calls = edge.call.calls
            bound += math.ceil(calls) * edge.longest
            extra_mean += (1 - skipped) * calls * mean
            extra_variance += (1 - skipped) * calls * variance + skipped * (1 - skipped) * (calls * mean) ** 2
            ok[edge.call.on_failure] *= 1.0 - (1 - skipped) * (1.0 - _all_succeed(calls, call_failing))
            ok[FALLBACK] *= 1.0 - skipped
        dependency_failed = 1.0 - ok[FAIL]
        succeeded = sum(n for (_, code), n in own.counts.items() if code == "200")
        totals = self.services[name]
        kept = succeeded * (1.0 - dependency_failed)
        totals.degraded += kept * (1.0 - ok[DEGRADE])
        totals.fallbacks += kept * (1.0 - ok[FALLBACK])
        failed = own.load - kept
        totals.requests += own.load
        totals.failed += failed
        share = external / own.load if own.load > 0 else 0.0
        totals.external += external
        totals.external_failed += failed * share
        shifts = atoms(extra_mean, extra_variance, bound)
        self._count(model, name, own, dependency_failed, shifts, share)
        return self._summarise(own, kept, shifts, extra_mean), failed * share

    def _settle(self, edge: Edge, answer: Answer) -> tuple[float, float, float]:
        """The outcome of the edge's calls this tick; returns the mean and variance of a call's time and the
        share of calls that failed."""
        call, totals = edge.call, edge.totals
        attempts = edge.made + edge.retries
        limit = call.timeout if call.timeout is not None else math.inf
        late, first, second = answer.cut(limit)
        timed_out = answer.served * late
        failing = answer.fast + timed_out + (answer.served - timed_out) * answer.failing
        failing = min(1.0, failing)
        succeeded = min(edge.made, attempts * (1.0 - failing))
        call_failed = edge.made - succeeded
        if attempts > 0:
            edge.failing = failing
        totals.succeeded += succeeded
        totals.failed += call_failed
        totals.attempts_failed += attempts * failing
        totals.timeouts += attempts * timed_out
        attempt_mean = answer.fast * FAST + answer.served * first
        attempt_second = answer.fast * FAST * FAST + answer.served * second
        per_call = attempts / edge.made if edge.made > 0 else 1.0
        backoff = sum(r * _backoff(call, k) for k, r in enumerate(edge.rounds, start=1))
        mean = per_call * attempt_mean + (backoff / edge.made if edge.made > 0 else 0.0)
        variance = per_call * max(attempt_second - attempt_mean * attempt_mean, 0.0)
        if edge.made > 0:
            self._count_edge(edge, answer, succeeded, call_failed, failing, timed_out, attempts, mean, variance)
        return mean, variance, call_failed / edge.made if edge.made > 0 else failing

    def _count_edge(
        self,
        edge: Edge,
        answer: Answer,
        succeeded: float,
        call_failed: float,
        failing: float,
        timed_out: float,
        attempts: float,
        mean: float,
        variance: float,
    ) -> None:
        totals = edge.totals
        codes = totals.source_codes
        codes["200"] = codes.get("200", 0.0) + succeeded
        if call_failed > 0 and failing > 0:
            late = timed_out / failing  # the last attempt's failure, as often a timeout as any attempt's
            codes[TIMED_OUT] = codes.get(TIMED_OUT, 0.0) + call_failed * late
            totals.timed_out_calls += call_failed * late
            answered = sum(share for code, share in answer.codes.items() if code != "200")
            for code, share in answer.codes.items():
                if code != "200" and answered > 0:
                    codes[code] = codes.get(code, 0.0) + call_failed * (1 - late) * share / answered
        for code, share in answer.codes.items():
            totals.destination_codes[code] = totals.destination_codes.get(code, 0.0) + attempts * share
        totals.latency_sum += edge.made * mean
        fitted = as_latency(fit(mean, variance))
        made = edge.made
        totals.buckets = [
            b + made * f for b, f in zip(totals.buckets, _mesh_fractions(fitted, edge.longest), strict=True)
        ]

    def _count(
        self,
        model: TrafficModel,
        name: str,
        own: Own,
        dependency_failed: float,
        shifts: tuple[tuple[float, float], ...],
        external_share: float,
    ) -> None:
        """Count the Service's requests in the traffic model: codes, latency with its calls', users' cohorts."""
        namespace = self.namespace
        for (version, code), n in own.counts.items():
            if code == "200" and dependency_failed > 0:
                model.add_requests(namespace, name, version, "200", n * (1.0 - dependency_failed))
                model.add_requests(namespace, name, version, DEPENDENCY_FAILED, n * dependency_failed)
            else:
                model.add_requests(namespace, name, version, code, n)
        for version, n, latency, factor in own.pieces:
            key = (namespace, name, version)
            if shifts[0][1] > 0:
                model.observe_latency(key, n, Spread(latency, rounded(factor), shifts), 1.0)
            else:
                model.observe_latency(key, n, latency, factor)
        for version, n in own.fast_by_version.items():
            model.observe_latency((namespace, name, version), n, None, 1.0)
        if external_share > 0:
            for cohort, sent, failed in own.tallies:
                kept = (sent - failed) * (1.0 - dependency_failed)
                model.tally_cohort(cohort, sent * external_share, (sent - kept) * external_share)

    def _summarise(self, own: Own, kept: float, shifts: tuple[tuple[float, float], ...], extra: float) -> Answer:
        if own.load <= 0:
            return Answer(extra=extra)
        served = own.served
        pieces = tuple(
            (n / served * weight, latency, rounded(factor), shift)
            for _, n, latency, factor in own.pieces
            for weight, shift in shifts
        )
        codes: dict[str, float] = {}
        for (_, code), n in own.counts.items():
            codes[code] = codes.get(code, 0.0) + n / own.load
        dependency = codes.get("200", 0.0) - kept / own.load
        if dependency > 0:
            codes["200"] -= dependency
            codes[DEPENDENCY_FAILED] = codes.get(DEPENDENCY_FAILED, 0.0) + dependency
        return Answer(
            fast=own.fast / own.load,
            served=served / own.load,
            failing=(served - kept) / served if served > 0 else 0.0,
            pieces=pieces,
            extra=extra,
            codes=codes,
        )


def _all_succeed(calls: float, failing: float) -> float:
    """The share of requests none of whose `calls` calls failed: a fractional fan-out k = n + f makes n calls, and
    one more for a share f of the requests."""
    whole = math.floor(calls)
    return (1.0 - failing) ** whole * (1.0 - (calls - whole) * failing)


def _backoff(call: Call, retry: int) -> float:
    """Mean wait before the retry-th retry: fully jittered, uniform over [0, (2^retry - 1) x base], capped
    (envoyproxy/envoy source/common/common/backoff_strategy.cc, JitteredExponentialBackOffStrategy)."""
    ceiling = call.max_backoff if call.max_backoff is not None else 10 * call.backoff
    return min((2**retry - 1) * call.backoff, ceiling) / 2


def _longest(call: Call) -> float:
    """The longest a call can take: every attempt timing out, with the longest backoffs (inf without a timeout)."""
    if call.timeout is None:
        return math.inf
    ceiling = call.max_backoff if call.max_backoff is not None else 10 * call.backoff
    return (call.retries + 1) * call.timeout + sum(
        min((2**k - 1) * call.backoff, ceiling) for k in range(1, call.retries + 1)
    )


@lru_cache(maxsize=4096)
def _mesh_fractions(latency: Latency, longest: float) -> tuple[float, ...]:
    """Cumulative shares of calls at each of Istio's bucket bounds (ms), then +Inf; none longer than `longest`."""
    return (*(1.0 if le / 1000 >= longest else latency.cdf(le / 1000) for le in MESH_BUCKETS_MS), 1.0)
