"""simdeploy's demo app: an HTTP server that behaves as one scenario version says, for drills on a real cluster."""

# Standard library only: it runs in python:3.12-slim with nothing installed. Configuration:
#   SIMDEPLOY_BEHAVIOUR  the scenario's `versions` entry as JSON, durations in seconds ({"startup": {"lognormal":
#                        {"median": 8, "p95": 15}}, "errorRate": 0.05, "latency": {"p50": 0.02, "p99": 0.12}, ...})
#   PORT                 the port of /, /livez and /readyz (8080)
#   SIMDEPLOY_SEED       seeds every draw (reproducible runs); SIMDEPLOY_HOST the address to bind (0.0.0.0)
#   SIMDEPLOY_IMAGE      the scenario image this process stands for (only echoed in the log)
# The rules are the simulator's; each comment names the simdeploy module the rule comes from. Times count from
# the process start, as the simulator counts them from container start (simdeploy/sim/behaviour.py).

from __future__ import annotations

import bisect
import json
import math
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from statistics import NormalDist
from urllib.parse import urlsplit

# The defaults of simdeploy/sim/behaviour.py VersionBehaviour, for fields the entry leaves out.
DEFAULTS = {
    "startup": 5.0,
    "readyAfter": 0.0,
    "neverReady": False,
    "exitCode": 1,
    "shutdown": 1.0,
    "errorRate": 0.0,
    "latency": {"p50": 0.05, "p99": 0.25},
    "concurrency": 8,
}
FIELDS = (
    "version",
    "pull",  # the image is loaded into the cluster, never pulled: read and ignored
    "startup",
    "readyAfter",
    "servesAfter",
    "neverReady",
    "exitAfter",
    "exitCode",
    "failLivenessAfter",
    "shutdown",
    "errorRate",
    "latency",
    "capacity",
    "concurrency",
)
LIVENESS_PATHS = ("/livez", "/healthz")
READINESS_PATH = "/readyz"
WINDOW = 1.0  # seconds over which capacity (requests/s) is counted: the simulator's default tick
_Z95 = 1.6448536269514722  # as simdeploy/sim/distributions.py writes it: one seed, the same draws
_Z99 = NormalDist().inv_cdf(0.99)
# simdeploy/sim/latency.py: queueing stretches latency at most this much; beyond saturation requests are rejected.
MAX_STRETCH = 20.0


class ConfigError(ValueError):
    """A bad SIMDEPLOY_BEHAVIOUR, PORT or SIMDEPLOY_SEED; the message names the field."""


# -- reading the behaviour ---------------------------------------------------------------


def _seconds(value, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a number of seconds, got {json.dumps(value)}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"{where}: expected {'more than' if positive else 'at least'} 0 seconds, got {value}")
    return float(value)


def _fields(value, where: str, names: tuple[str, ...]) -> dict:
    if not isinstance(value, dict) or set(value) != set(names):
        raise ConfigError(f"{where}: expected {{{', '.join(names)}}}, got {json.dumps(value)}")
    return value


def distribution(value, where: str):
    """A sampler (rng -> seconds) for a duration or {fixed|uniform|normal|lognormal|empirical: ...}.

    Draws as simdeploy/sim/distributions.py does, so one seed gives the simulator's numbers.
    """
    if not isinstance(value, dict):
        fixed = _seconds(value, where)
        return lambda rng: fixed
    if len(value) != 1:
        raise ConfigError(f"{where}: give a number of seconds or one of fixed, uniform, normal, lognormal, empirical")
    [(kind, spec)] = value.items()
    inner = f"{where}.{kind}"
    if kind == "fixed":
        fixed = _seconds(spec, inner)
        return lambda rng: fixed
    if kind == "uniform":
        spec = _fields(spec, inner, ("min", "max"))
        low, high = (_seconds(spec[k], f"{inner}.{k}") for k in ("min", "max"))
        if high < low:
            raise ConfigError(f"{inner}: max must not be less than min")
        return lambda rng: rng.uniform(low, high)
    if kind == "normal":
        spec = _fields(spec, inner, ("mean", "stddev"))
        mean, stddev = (_seconds(spec[k], f"{inner}.{k}") for k in ("mean", "stddev"))
        return lambda rng: max(0.0, rng.gauss(mean, stddev))
    if kind == "lognormal":
        spec = _fields(spec, inner, ("median", "p95"))
        median, p95 = _seconds(spec["median"], f"{inner}.median", True), _seconds(spec["p95"], f"{inner}.p95")
        if p95 <= median:
            raise ConfigError(f"{inner}: p95 must be greater than median")
        mu, sigma = math.log(median), (math.log(p95) - math.log(median)) / _Z95
        return lambda rng: rng.lognormvariate(mu, sigma)
    if kind == "empirical":
        if not isinstance(spec, list) or not spec:
            raise ConfigError(f"{inner}: expected a non-empty list of seconds")
        values = tuple(_seconds(item, f"{inner}[{index}]") for index, item in enumerate(spec))
        return lambda rng: rng.choice(values)
    raise ConfigError(f"{where}: unknown distribution {kind!r} (fixed, uniform, normal, lognormal, empirical)")


def latency(value, where: str):
    """A sampler (rng -> seconds) of the idle latency: a lognormal through p50 and p99, or a histogram.

    simdeploy/sim/latency.py: LogNormalLatency and HistogramLatency (linear between bucket bounds); a draw is
    the distribution's quantile at a uniform random level.
    """
    if isinstance(value, dict) and set(value) == {"histogram"}:
        buckets = value["histogram"]
        if not isinstance(buckets, list) or not buckets:
            raise ConfigError(f"{where}.histogram: expected a list of {{le, fraction}}")
        bounds, fractions = [], []
        for index, bucket in enumerate(buckets):
            bucket = _fields(bucket, f"{where}.histogram[{index}]", ("le", "fraction"))
            bounds.append(_seconds(bucket["le"], f"{where}.histogram[{index}].le", True))
            fractions.append(_seconds(bucket["fraction"], f"{where}.histogram[{index}].fraction", True))
        if bounds != sorted(set(bounds)) or fractions != sorted(fractions) or fractions[-1] != 1:
            raise ConfigError(f"{where}.histogram: le and fraction must increase, the last fraction be 1")

        def from_histogram(rng: random.Random) -> float:
            q = rng.random()
            index = bisect.bisect_left(fractions, q)
            low_x = bounds[index - 1] if index else 0.0
            low_f = fractions[index - 1] if index else 0.0
            span = fractions[index] - low_f
            return low_x + (bounds[index] - low_x) * ((q - low_f) / span if span else 1.0)

        return from_histogram
    spec = _fields(value, where, ("p50", "p99"))
    p50, p99 = _seconds(spec["p50"], f"{where}.p50", True), _seconds(spec["p99"], f"{where}.p99", True)
    if p99 < p50:
        raise ConfigError(f"{where}: p99 must not be less than p50")
    sigma = (math.log(p99) - math.log(p50)) / _Z99
    return lambda rng: p50 * math.exp(sigma * rng.gauss(0.0, 1.0))


def stretch(utilisation: float, workers: int) -> float:
    """How much M/M/c queueing multiplies latency at this utilisation: simdeploy/sim/latency.py stretch()."""
    if utilisation <= 0:
        return 1.0
    if utilisation >= 1:
        return MAX_STRETCH
    offered = workers * utilisation
    term, total = 1.0, 1.0
    for k in range(1, workers):
        term *= offered / k
        total += term
    last = term * offered / workers / (1 - utilisation)
    waiting = last / (total + last)
    return min(1.0 + waiting / (workers * (1 - utilisation)), MAX_STRETCH)


@dataclass(frozen=True)
class Behaviour:
    """One version's behaviour, read from SIMDEPLOY_BEHAVIOUR; samplers take a random.Random."""

    version: str | None
    startup: object
    ready_after: object
    serves_after: object | None
    never_ready: bool
    exit_after: object | None
    exit_code: int
    hang_after: object | None
    shutdown: object
    error_rate: float
    latency: object
    capacity: float | None
    concurrency: int


def read_behaviour(text: str) -> Behaviour:
    """The behaviour in `text` (JSON); raises ConfigError naming the field."""
    where = "SIMDEPLOY_BEHAVIOUR"
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where}: not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a JSON object (a scenario's versions entry)")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown field (known: {', '.join(FIELDS)})")
    entry = {**DEFAULTS, **{key: value for key, value in raw.items() if value is not None}}

    def optional(name: str):
        return distribution(entry[name], f"{where}.{name}") if name in entry else None

    def flag(name: str) -> bool:
        if not isinstance(entry[name], bool):
            raise ConfigError(f"{where}.{name}: expected true or false, got {json.dumps(entry[name])}")
        return entry[name]

    def integer(name: str, low: int, high: int) -> int:
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{where}.{name}: expected a whole number from {low} to {high}, got {json.dumps(value)}")
        return value

    error_rate = entry["errorRate"]
    if isinstance(error_rate, bool) or not isinstance(error_rate, int | float) or not 0 <= error_rate <= 1:
        raise ConfigError(f"{where}.errorRate: expected a share from 0 to 1, got {json.dumps(error_rate)}")
    capacity = entry.get("capacity")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int | float) or capacity <= 0):
        raise ConfigError(f"{where}.capacity: expected requests per second (more than 0), got {json.dumps(capacity)}")
    version = entry.get("version")
    if version is not None and not isinstance(version, str):
        raise ConfigError(f"{where}.version: expected a string, got {json.dumps(version)}")
    if "pull" in entry:
        distribution(entry["pull"], f"{where}.pull")
    return Behaviour(
        version=version,
        startup=optional("startup"),
        ready_after=optional("readyAfter"),
        serves_after=optional("servesAfter"),
        never_ready=flag("neverReady"),
        exit_after=optional("exitAfter"),
        exit_code=integer("exitCode", 0, 255),
        hang_after=optional("failLivenessAfter"),
        shutdown=optional("shutdown"),
        error_rate=float(error_rate),
        latency=latency(entry["latency"], f"{where}.latency"),
        capacity=None if capacity is None else float(capacity),
        concurrency=integer("concurrency", 1, 10000),
    )


# -- one run of the process ----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """When, in seconds from the process start, each endpoint starts and stops answering (inf: never)."""

    live: float  # listening: /livez answers
    ready: float  # /readyz answers 200
    serves: float  # / really serves
    hangs: float  # every request hangs from here
    exits: float  # the process exits with exitCode

    @classmethod
    def draw(cls, behaviour: Behaviour, rng: random.Random) -> Plan:
        """simdeploy/sim/behaviour.py VersionBehaviour.draw, in the same order of draws."""
        live = behaviour.startup(rng)
        ready_after = behaviour.ready_after(rng)
        ready = math.inf if behaviour.never_ready else live + ready_after
        serves = live + (behaviour.serves_after(rng) if behaviour.serves_after else ready_after)
        if behaviour.never_ready:
            serves = math.inf
        exits = behaviour.exit_after(rng) if behaviour.exit_after else math.inf
        hangs = behaviour.hang_after(rng) if behaviour.hang_after else math.inf
        return cls(live, ready, serves, hangs, exits)


class App:
    """The state one process shares between its request threads, its timers and its log."""

    def __init__(self, behaviour: Behaviour, seed: str | None, image: str | None) -> None:
        self.started = time.monotonic()
        self.behaviour, self.image = behaviour, image
        self.rng = random.Random(seed)
        self.draws = threading.Lock()  # random.Random's gauss() keeps state between calls
        self.plan = Plan.draw(behaviour, self.rng)
        self.admitted: deque[float] = deque()  # when each request of the last WINDOW seconds was admitted
        self.admission = threading.Lock()
        self.listening = threading.Event()
        self.terminating = threading.Event()
        self.output = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.started

    def draw(self, sampler) -> float:
        with self.draws:
            return sampler(self.rng)

    def chance(self, probability: float) -> bool:
        with self.draws:
            return self.rng.random() < probability

    def log(self, event: str, **fields) -> None:
        """One JSON line on stdout per lifecycle moment: the drill runner reads them back with `kubectl logs`."""
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "t": round(self.now(), 3),
            "event": event,
            "version": self.behaviour.version,
            "image": self.image,
            **fields,
        }
        with self.output:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

    def exit(self, code: int, reason: str) -> None:
        self.log("exiting", code=code, reason=reason)
        os._exit(code)

    def hang_if_hung(self) -> None:
        """simdeploy/sim/cluster/container.py: once hung, no endpoint answers (probes time out)."""
        if self.now() >= self.plan.hangs:
            threading.Event().wait()

    def admit(self) -> float | None:
        """The pod's utilisation with this request admitted, or None when it is over capacity.

        simdeploy/sim/traffic/model.py: a pod serves up to `capacity` requests/s and rejects the rest at once;
        the utilisation (served / capacity) stretches the latency of those it serves.
        """
        capacity = self.behaviour.capacity
        if capacity is None:
            return 0.0
        window = max(WINDOW, 1.0 / capacity)  # below 1 request/s, a window long enough to hold one
        with self.admission:
            now = time.monotonic()
            while self.admitted and self.admitted[0] <= now - window:
                self.admitted.popleft()
            if len(self.admitted) + 1 > capacity * window + 1e-9:
                return None
            self.admitted.append(now)
            return len(self.admitted) / (capacity * window)


class Handler(BaseHTTPRequestHandler):
    """/livez, /readyz and every other path as the application's own."""

    server_version = "simdeploy-demo-app/0.1.0"
    app: App  # set on the subclass main() makes

    def log_message(self, format: str, *args) -> None:
        """One line per lifecycle moment, not per request: access lines are left out."""

    def do_GET(self) -> None:
        app = self.app
        app.hang_if_hung()
        path = urlsplit(self.path).path
        if path in LIVENESS_PATHS:
            self.reply(200, "ok")
        elif path == READINESS_PATH:
            ready = app.now() >= app.plan.ready
            self.reply(200 if ready else 503, "ready" if ready else "not ready")
        else:
            self.serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def serve(self) -> None:
        """The application's own requests, as simdeploy/sim/traffic/model.py serves a pod's share."""
        app, behaviour = self.app, self.app.behaviour
        if app.terminating.is_set():
            # simdeploy/sim/cluster/kubelet.py: on SIGTERM the app stops taking requests; the mesh answers 503.
            return self.reply(503, "shutting down")
        if app.now() < app.plan.serves:
            return self.reply(503, "not serving yet")  # /readyz may already say 200: lying readiness
        utilisation = app.admit()
        if utilisation is None:
            return self.reply(503, "over capacity")
        # Errors are served requests too: they take the version's latency, as in the simulator.
        failed = app.chance(behaviour.error_rate)
        time.sleep(app.draw(behaviour.latency) * stretch(utilisation, behaviour.concurrency))
        app.hang_if_hung()
        self.reply(500 if failed else 200, "injected error" if failed else "ok")

    def reply(self, code: int, text: str) -> None:
        body = f"{text}\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Simdeploy-Version", self.app.behaviour.version or "")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # bursts beyond capacity must reach the app to be answered 503


def _lifecycle(app: App) -> None:
    """Log each moment of the plan as it comes, and exit at exitAfter."""
    plan = app.plan
    moments = [(plan.ready, "ready"), (plan.serves, "serving"), (plan.hangs, "hung"), (plan.exits, "exit")]
    for at, what in sorted(moment for moment in moments if moment[0] < math.inf):
        if what in ("ready", "serving") and at >= plan.hangs:
            continue  # simdeploy/sim/cluster/container.py: a hung app never turns ready or serving
        time.sleep(max(0.0, at - app.now()))
        if what == "exit":
            app.exit(app.behaviour.exit_code, "exitAfter")
        if what in ("ready", "serving"):
            app.listening.wait()  # the listener opens at `live`; a line must not say ready before it
        app.log(what)


def _shutdown(app: App) -> None:
    """SIGTERM: serve no new request, let those in flight finish, exit 0 after `shutdown`."""
    app.terminating.wait()
    took = app.draw(app.behaviour.shutdown)
    app.log("terminating", shutdown=round(took, 3))
    time.sleep(took)
    app.exit(0, "SIGTERM")


def _plan_fields(plan: Plan) -> dict:
    return {name: None if value == math.inf else round(value, 3) for name, value in vars(plan).items()}


def main() -> int:
    try:
        behaviour = read_behaviour(os.environ.get("SIMDEPLOY_BEHAVIOUR", ""))
        port_text = os.environ.get("PORT", "8080")
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ConfigError(f"PORT: expected a port number (0-65535), got {port_text!r}")
    except ConfigError as error:
        print(f"demo-app: error: {error}", file=sys.stderr)
        return 2
    app = App(behaviour, os.environ.get("SIMDEPLOY_SEED"), os.environ.get("SIMDEPLOY_IMAGE"))
    app.log("starting", plan=_plan_fields(app.plan))
    for signum in (signal.SIGTERM, signal.SIGINT):
        # The handler only sets an event: logging from it could deadlock on a lock the main thread holds.
        signal.signal(signum, lambda *_: app.terminating.set())
    threading.Thread(target=_lifecycle, args=(app,), daemon=True).start()
    threading.Thread(target=_shutdown, args=(app,), daemon=True).start()
    time.sleep(app.plan.live)  # start-up: nothing listens yet, so probes see "connection refused"
    handler = type("BoundHandler", (Handler,), {"app": app})
    try:
        server = Server((os.environ.get("SIMDEPLOY_HOST", "0.0.0.0"), int(port_text)), handler)
    except OSError as error:
        app.log("exiting", code=1, reason=f"cannot listen: {error}")
        return 1
    app.log("listening", port=server.server_address[1])
    app.listening.set()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
