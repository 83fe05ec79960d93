"""The drills' demo app (drills/app/app.py) as a local process, and its rules against the simulator's."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from statistics import NormalDist

import pytest

from simdeploy.drill.demo_app import BEHAVIOUR_VAR, IMAGE_VAR, app_dir, behaviour_env
from simdeploy.scenario.behaviour import behaviour as sim_behaviour
from simdeploy.scenario.behaviour import distribution as sim_distribution
from simdeploy.scenario.loader import load_scenario
from simdeploy.scenario.schema import DistributionSpec, VersionSpec
from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.latency import stretch as sim_stretch

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "drills" / "app" / "app.py"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _import_app():
    spec = importlib.util.spec_from_file_location("simdeploy_demo_app", APP)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


app = _import_app()


# -- the app as a process -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoApp:
    """drills/app/app.py on a free loopback port; its JSON log lines collected as they come."""

    def __init__(self, behaviour: dict | str, seed: str | None = "7", image: str | None = None, **env: str) -> None:
        self.port = _free_port()
        environment = {"PATH": os.environ.get("PATH", ""), "SIMDEPLOY_HOST": "127.0.0.1", "PORT": str(self.port)}
        environment[BEHAVIOUR_VAR] = behaviour if isinstance(behaviour, str) else json.dumps(behaviour)
        if seed is not None:
            environment["SIMDEPLOY_SEED"] = seed
        if image is not None:
            environment[IMAGE_VAR] = image
        environment.update(env)
        self.process = subprocess.Popen(
            [sys.executable, str(APP)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[dict] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for text in self.process.stdout:
            with self._changed:
                self.lines.append(json.loads(text))
                self._changed.notify_all()

    def wait_for(self, event: str, timeout: float = 10.0) -> dict:
        with self._changed:
            found = self._changed.wait_for(lambda: self.events().get(event), timeout)
        assert found, f"no {event!r} line within {timeout}s; got {self.lines}"
        return found

    def events(self) -> dict[str, dict]:
        return {line["event"]: line for line in self.lines}

    def request(self, path: str = "/", timeout: float = 10.0) -> tuple[int, float]:
        """(status, seconds) of one GET."""
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status, time.monotonic() - started
        finally:
            connection.close()

    def status(self, path: str = "/") -> int:
        return self.request(path)[0]

    def exit_code(self, timeout: float = 10.0) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def start():
    started: list[DemoApp] = []

    def make(behaviour, **options) -> DemoApp:
        started.append(DemoApp(behaviour, **options))
        return started[-1]

    yield make
    for process in started:
        process.close()


def _many(demo: DemoApp, count: int, workers: int = 4) -> list[tuple[int, float]]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: demo.request(), range(count)))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_nothing_listens_before_startup_then_livez_answers(start):
    demo = start({"startup": 0.6})
    demo.wait_for("starting")
    with pytest.raises(ConnectionRefusedError):
        demo.request("/livez")
    listening = demo.wait_for("listening")
    assert listening["t"] >= 0.6 and listening["port"] == demo.port
    assert demo.status("/livez") == 200
    assert demo.status("/healthz") == 200


def test_readyz_turns_200_ready_after_past_startup(start):
    demo = start({"startup": 0.2, "readyAfter": 0.8})
    demo.wait_for("listening")
    assert demo.status("/readyz") == 503
    assert demo.status("/") == 503  # without servesAfter the app serves from the moment it is ready
    ready = demo.wait_for("ready")
    assert ready["t"] >= 1.0
    assert demo.status("/readyz") == 200
    assert demo.status("/") == 200


def test_never_ready_never_passes_readiness_nor_serves(start):
    demo = start({"startup": 0.1, "neverReady": True})
    demo.wait_for("listening")
    time.sleep(0.5)
    assert demo.status("/livez") == 200
    assert demo.status("/readyz") == 503
    assert demo.status("/") == 503
    assert "ready" not in demo.events() and "serving" not in demo.events()
    assert demo.lines[0]["plan"]["ready"] is None and demo.lines[0]["plan"]["serves"] is None


def test_lying_readiness_is_ready_before_it_serves_and_logs_each_moment(start):
    image = "registry.example.com/payments-api:2.9.0"
    demo = start({"version": "2.9.0", "startup": 0.2, "readyAfter": 0, "servesAfter": 1.0}, image=image)
    demo.wait_for("ready")
    assert demo.status("/readyz") == 200
    assert demo.status("/") == 503  # /readyz says ready; the app cannot serve yet
    serving = demo.wait_for("serving")
    assert demo.status("/") == 200
    assert [line["event"] for line in demo.lines] == ["starting", "listening", "ready", "serving"]
    times = [line["t"] for line in demo.lines]
    assert times == sorted(times) and serving["t"] >= 1.2
    for line in demo.lines:
        assert line["version"] == "2.9.0" and line["image"] == image
        assert datetime.fromisoformat(line["ts"].replace("Z", "+00:00")).tzinfo is not None
    assert demo.lines[0]["plan"] == {"live": 0.2, "ready": 0.2, "serves": 1.2, "hangs": None, "exits": None}


def test_error_ratio_matches_error_rate(start):
    demo = start({"startup": 0.05, "errorRate": 0.2, "latency": {"p50": 0.0002, "p99": 0.0005}}, seed="11")
    demo.wait_for("serving")
    codes = [code for code, _ in _many(demo, 2000)]
    assert set(codes) == {200, 500}
    assert 0.16 <= codes.count(500) / len(codes) <= 0.24


def test_one_seed_gives_one_run(start):
    behaviour = {
        "startup": {"lognormal": {"median": 0.2, "p95": 0.4}},
        "errorRate": 0.5,
        "latency": {"p50": 0.0002, "p99": 0.0005},
    }
    first, again, other = start(behaviour, seed="3"), start(behaviour, seed="3"), start(behaviour, seed="4")
    runs = []
    for demo in (first, again, other):
        demo.wait_for("serving")
        runs.append((demo.lines[0]["plan"], [demo.status() for _ in range(60)]))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_latency_follows_p50_and_p99(start):
    demo = start({"startup": 0.05, "latency": {"p50": 0.03, "p99": 0.12}})
    demo.wait_for("serving")
    seconds = [elapsed for code, elapsed in _many(demo, 240, workers=8) if code == 200]
    assert len(seconds) == 240
    # A lognormal through 30 ms and 120 ms: p10 16 ms, p50 30 ms, p90 64 ms (plus loopback HTTP).
    assert 0.014 <= _quantile(seconds, 0.1) <= 0.035
    assert 0.027 <= _quantile(seconds, 0.5) <= 0.06
    assert 0.05 <= _quantile(seconds, 0.9) <= 0.15


def test_latency_histogram_bounds_every_request(start):
    histogram = [{"le": 0.04, "fraction": 0.5}, {"le": 0.06, "fraction": 1}]
    demo = start({"startup": 0.05, "latency": {"histogram": histogram}})
    demo.wait_for("serving")
    seconds = [elapsed for _, elapsed in _many(demo, 80, workers=8)]
    assert 0.02 <= _quantile(seconds, 0.5) <= 0.07
    assert _quantile(seconds, 0.1) < 0.045 < _quantile(seconds, 0.9)


def test_beyond_capacity_requests_get_503_at_once_and_the_rest_are_stretched(start):
    demo = start({"startup": 0.05, "capacity": 10, "concurrency": 8, "latency": {"p50": 0.05, "p99": 0.05}})
    demo.wait_for("serving")
    barrier = threading.Barrier(30)

    def burst(_):
        barrier.wait()
        return demo.request()

    with ThreadPoolExecutor(30) as pool:
        replies = list(pool.map(burst, range(30)))
    served = sorted(elapsed for code, elapsed in replies if code == 200)
    rejected = [elapsed for code, elapsed in replies if code == 503]
    assert (len(served), len(rejected)) == (10, 20)  # 10 requests/s: the rest of the second is rejected
    assert max(rejected) < max(served)
    # The 10th request in the second finds the pod saturated: 50 ms stretched 20 times, as the simulator caps it.
    assert served[-1] >= 0.5
    time.sleep(1.1)
    code, elapsed = demo.request()
    assert code == 200 and elapsed < 0.5


def test_exit_after_exits_with_exit_code(start):
    demo = start({"startup": 0.1, "exitAfter": 1.0, "exitCode": 3})
    demo.wait_for("listening")
    assert demo.status("/livez") == 200
    assert demo.exit_code() == 3
    exiting = demo.wait_for("exiting")
    assert exiting["code"] == 3 and exiting["reason"] == "exitAfter" and exiting["t"] >= 1.0


def test_fail_liveness_after_hangs_every_request(start):
    demo = start({"startup": 0.1, "failLivenessAfter": 1.0})
    demo.wait_for("serving")
    assert demo.status("/livez") == 200 and demo.status("/") == 200
    hung = demo.wait_for("hung")
    assert hung["t"] >= 1.0
    for path in ("/livez", "/readyz", "/"):
        with pytest.raises(TimeoutError):
            demo.request(path, timeout=0.5)
    assert demo.process.poll() is None  # hung, not gone: the kubelet's liveness probe must kill it


def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_exits_0_after_shutdown(start):
    demo = start({"startup": 0.1, "shutdown": 1.0, "latency": {"p50": 0.7, "p99": 0.7}})
    demo.wait_for("serving")
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(demo.request)
        time.sleep(0.3)  # the request is in service (0.7 s) when SIGTERM comes
        demo.process.send_signal(signal.SIGTERM)
        terminating = demo.wait_for("terminating")
        assert demo.status("/livez") == 200  # the process is still there, answering probes
        assert demo.status("/") == 503
        assert in_flight.result()[0] == 200
    assert demo.exit_code() == 0
    exiting = demo.wait_for("exiting")
    assert exiting["reason"] == "SIGTERM" and exiting["code"] == 0
    assert terminating["shutdown"] == 1.0 and exiting["t"] - terminating["t"] >= 0.99


@pytest.mark.parametrize(
    ("behaviour", "env", "named"),
    [
        ('{"startup": "8s"}', {}, "SIMDEPLOY_BEHAVIOUR.startup: expected a number of seconds"),
        ('{"startUp": 8}', {}, "SIMDEPLOY_BEHAVIOUR.startUp: unknown field"),
        ("{startup: 8}", {}, "SIMDEPLOY_BEHAVIOUR: not JSON"),
        ("{}", {"PORT": "http"}, "PORT: expected a port number"),
    ],
)
def test_bad_configuration_exits_2_naming_the_field(behaviour, env, named):
    environment = {"PATH": os.environ.get("PATH", ""), BEHAVIOUR_VAR: behaviour, **env}
    process = subprocess.run([sys.executable, str(APP)], env=environment, capture_output=True, text=True, timeout=10)
    assert process.returncode == 2
    assert named in process.stderr and "Traceback" not in process.stderr
    assert process.stdout == ""


@pytest.mark.parametrize(
    ("behaviour", "named"),
    [
        ({"latency": {"p50": 0.1}}, "SIMDEPLOY_BEHAVIOUR.latency: expected {p50, p99}"),
        ({"latency": {"p50": 0.2, "p99": 0.1}}, "p99 must not be less than p50"),
        ({"startup": {"lognormal": {"median": 8, "p95": 5}}}, "SIMDEPLOY_BEHAVIOUR.startup.lognormal: p95 must be"),
        ({"startup": {"gamma": {"k": 2}}}, "unknown distribution 'gamma'"),
        ({"errorRate": 1.5}, "SIMDEPLOY_BEHAVIOUR.errorRate: expected a share from 0 to 1"),
        ({"concurrency": 0}, "SIMDEPLOY_BEHAVIOUR.concurrency"),
        ({"neverReady": "yes"}, "SIMDEPLOY_BEHAVIOUR.neverReady: expected true or false"),
        ({"shutdown": {"empirical": [1, -2]}}, "SIMDEPLOY_BEHAVIOUR.shutdown.empirical[1]"),
    ],
)
def test_bad_behaviour_names_the_field(behaviour, named):
    with pytest.raises(app.ConfigError, match=named.replace("[", r"\[").replace("{", r"\{")):
        app.read_behaviour(json.dumps(behaviour))


# -- the app's rules are the simulator's --------------------------------------------------------


def test_defaults_are_the_simulators():
    defaults = VersionBehaviour("image")
    read = app.read_behaviour("{}")
    rng = random.Random(0)
    assert read.startup(rng) == defaults.startup.seconds
    assert read.ready_after(rng) == defaults.ready_after.seconds
    assert read.shutdown(rng) == defaults.shutdown.seconds
    assert (read.serves_after, read.exit_after, read.hang_after) == (None, None, None)
    assert (read.never_ready, read.exit_code, read.error_rate) == (defaults.never_ready, defaults.exit_code, 0.0)
    assert (read.capacity, read.concurrency) == (defaults.capacity, defaults.concurrency)
    assert app.DEFAULTS["latency"] == {"p50": defaults.latency.p50, "p99": defaults.latency.p99}


@pytest.mark.parametrize(("capacity", "admitted"), [(3, [1 / 3, 2 / 3, 1.0, None]), (0.5, [1.0, None, None])])
def test_capacity_admits_that_many_requests_a_second_with_their_utilisation(capacity, admitted):
    demo = app.App(app.read_behaviour(json.dumps({"capacity": capacity})), "1", None)
    assert [demo.admit() for _ in admitted] == pytest.approx(admitted)
    assert app.App(app.read_behaviour("{}"), "1", None).admit() == 0.0  # no capacity: never saturated


def test_stretch_is_the_simulators():
    for workers in (1, 2, 8, 64):
        for utilisation in (0.0, 0.1, 0.5, 0.83, 0.95, 0.999, 1.0, 1.5):
            assert app.stretch(utilisation, workers) == pytest.approx(sim_stretch(utilisation, workers), rel=1e-12)


@pytest.mark.parametrize(
    "spec",
    [
        8,
        {"fixed": 2.5},
        {"uniform": {"min": 1, "max": 4}},
        {"normal": {"mean": 3, "stddev": 2}},
        {"lognormal": {"median": 8, "p95": 15}},
        {"empirical": [3, 4, 9]},
    ],
)
def test_duration_draws_are_the_simulators(spec):
    ours, theirs = random.Random(5), random.Random(5)
    sample = app.distribution(spec, "x")
    simulated = sim_distribution(DistributionSpec.model_validate(spec))
    assert [sample(ours) for _ in range(50)] == [simulated.sample(theirs) for _ in range(50)]


class _Level:
    """A stand-in random.Random returning one level, to compare quantile functions."""

    def __init__(self, q: float) -> None:
        self.q = q

    def random(self) -> float:
        return self.q

    def gauss(self, mu: float, sigma: float) -> float:
        return mu + sigma * NormalDist().inv_cdf(self.q)


@pytest.mark.parametrize(
    "latency",
    [
        {"p50": 0.02, "p99": 0.12},
        {"p50": 0.05, "p99": 0.05},
        {"histogram": [{"le": 0.01, "fraction": 0.2}, {"le": 0.05, "fraction": 0.9}, {"le": 1, "fraction": 1}]},
    ],
)
def test_latency_draws_follow_the_simulators_quantiles(latency):
    sample = app.latency(latency, "latency")
    simulated = sim_behaviour("image", VersionSpec.model_validate({"latency": latency})).latency
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        assert sample(_Level(q)) == pytest.approx(simulated.quantile(q), rel=1e-9)


# -- behaviour_env: the app reads what the scenario says ------------------------------------------


def _versions():
    for path in SCENARIOS:
        scenario = load_scenario(path)
        for image, spec in scenario.spec.versions.items():
            yield path.stem, image, spec


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_behaviour_env_makes_the_app_draw_what_the_simulator_draws(seed):
    checked = 0
    for scenario, image, spec in _versions():
        env = behaviour_env(spec, image)
        assert env[IMAGE_VAR] == image
        read = app.read_behaviour(env[BEHAVIOUR_VAR])
        simulated = sim_behaviour(image, spec)
        run = simulated.draw(random.Random(seed), 0.0)
        plan = app.Plan.draw(read, random.Random(seed))
        assert (plan.live, plan.ready, plan.serves, plan.hangs, plan.exits) == pytest.approx(
            (run.live, run.ready, run.serves, run.hangs, run.exits)
        ), (scenario, image)
        assert (read.version, read.error_rate, read.capacity) == (
            simulated.version,
            simulated.error_rate,
            simulated.capacity,
        )
        assert (read.never_ready, read.exit_code, read.concurrency) == (
            simulated.never_ready,
            simulated.exit_code,
            simulated.concurrency,
        )
        assert read.shutdown(random.Random(seed)) == pytest.approx(simulated.shutdown.sample(random.Random(seed)))
        for q in (0.1, 0.5, 0.99):
            assert read.latency(_Level(q)) == pytest.approx(simulated.latency.quantile(q), rel=1e-6)
        checked += 1
    assert checked >= 30


def test_app_dir_is_the_docker_build_context():
    assert (app_dir() / "Dockerfile").is_file() and (app_dir() / "app.py") == APP
    dockerfile = (app_dir() / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in dockerfile and "COPY app.py" in dockerfile and "EXPOSE 8080" in dockerfile
    assert "\nUSER " in dockerfile
    imports = {
        line.split()[1].split(".")[0] for line in APP.read_text().splitlines() if line.startswith(("import ", "from "))
    }
    assert imports <= set(sys.stdlib_module_names) | {"__future__"}  # python:3.12-slim has nothing else
