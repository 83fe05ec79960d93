"""How each image behaves once started: startup, readiness, serving, crashes and shutdown."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from simdeploy.sim.distributions import Distribution, Fixed
from simdeploy.sim.latency import Latency, LogNormalLatency


@dataclass(frozen=True)
class VersionBehaviour:
    """The behaviour profile of one image (tag or digest).

    Times are measured from container start. `startup` is when the process listens (liveness and
    startup probes pass); /readyz turns 200 `ready_after` later and the app can really serve
    `serves_after` later. A readiness probe lies when /readyz passes before the app serves.
    """

    image: str
    version: str | None = None
    pull: Distribution = field(default_factory=lambda: Fixed(3.0))
    startup: Distribution = field(default_factory=lambda: Fixed(5.0))
    ready_after: Distribution = field(default_factory=lambda: Fixed(0.0))
    serves_after: Distribution | None = None
    never_ready: bool = False
    exit_after: Distribution | None = None
    exit_code: int = 1
    hang_after: Distribution | None = None
    shutdown: Distribution = field(default_factory=lambda: Fixed(1.0))
    # Serving: the share of requests that fail with 500, latency when idle, requests/s one pod serves.
    error_rate: float = 0.0
    latency: Latency = field(default_factory=lambda: LogNormalLatency(0.05, 0.25))
    capacity: float | None = None
    concurrency: int = 8  # requests one pod works on at once (its queueing model has this many servers)

    def with_changes(self, **changes) -> VersionBehaviour:
        return replace(self, **changes)

    def draw(self, rng: random.Random, started: float) -> ContainerRun:
        """The absolute times of one container run, drawn from this profile."""
        live = started + self.startup.sample(rng)
        ready_after = self.ready_after.sample(rng)
        ready = math.inf if self.never_ready else live + ready_after
        serves = live + (self.serves_after.sample(rng) if self.serves_after else ready_after)
        if self.never_ready:
            serves = math.inf
        exits = started + self.exit_after.sample(rng) if self.exit_after else math.inf
        hangs = started + self.hang_after.sample(rng) if self.hang_after else math.inf
        return ContainerRun(started, live, ready, serves, exits, hangs)


@dataclass(frozen=True, slots=True)
class ContainerRun:
    """When, during one run of a container, each endpoint starts and stops answering."""

    started: float
    live: float  # process listening: liveness and startup probes pass from here
    ready: float  # /readyz returns 200 from here
    serves: float  # the app can really serve requests from here
    exits: float  # the process exits by itself (a crash) at this time
    hangs: float  # from here every endpoint stops answering (probes time out)
