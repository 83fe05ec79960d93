"""The promotion pipeline: changes merged, built once into a digest, and promoted environment by environment by each
hop's rule — every merge, a release-candidate tag, automatically after a soak, or an approval after it.

The pipeline holds one release per environment (work in progress of one, as a GitOps overlay holds one digest);
a release leaves an environment when it is promoted into the next one, or when it is stopped there (caught, rolled
back). The next change merges as soon as the first environment can take it: there is always a change waiting, so
the figures describe what the pipeline allows, not how fast a team writes code. Times are seconds from the first
merge. A promotion moves the digest the build made; nothing is rebuilt (the seed chapter's promotion pipeline).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Trigger = Literal["merge", "tag", "auto", "approval"]


class Distribution(Protocol):
    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class Hop:
    """How a release enters one environment."""

    environment: str
    trigger: Trigger
    sync: Distribution  # promotion commit -> the GitOps controller has synced it
    every: float | None = None  # tag: an RC tag is cut at every multiple of this
    soak: float = 0.0  # healthy in the previous environment at least this long first
    approval: Distribution | None = None  # approval: request (soak done) -> approved


@dataclass(frozen=True)
class Visit:
    """What happened to a release in an environment, from the moment it was synced there."""

    live_after: float  # its rollout there completed (or ended) this long after the sync
    stopped: bool = False  # it goes no further (caught and rolled back, or a production failure)
    busy_for: float | None = None  # the environment takes the next release this long after the sync (default: live)


@dataclass
class Stage:
    environment: str
    digest: str
    promoted_at: float
    synced_at: float
    live_at: float
    free_at: float


@dataclass
class Release:
    """One change through the pipeline: merged, built into a digest, promoted as far as it went."""

    index: int
    merged_at: float
    built_at: float
    digest: str
    stages: list[Stage] = field(default_factory=list)
    stopped_in: str | None = None  # the environment where it stopped, if it did before the last one

    @property
    def reached(self) -> str:
        return self.stages[-1].environment


def digest_of(seed: object, index: int) -> str:
    """The digest the build of change `index` pushes: sha256 of the change, stable for a seed."""
    return "sha256:" + hashlib.sha256(f"simdeploy-change:{seed}:{index}".encode()).hexdigest()


def next_tag(moment: float, every: float) -> float:
    """The first release-candidate tag at or after `moment` (tags are cut at 0, every, 2 x every, ...)."""
    return math.ceil(moment / every - 1e-9) * every


class Pipeline:
    """The hops in promotion order and the build; `run` streams changes through them."""

    def __init__(self, hops: list[Hop], build: Distribution):
        if not hops or hops[0].trigger != "merge" or any(hop.trigger == "merge" for hop in hops[1:]):
            raise ValueError("the first hop, and only it, is promoted on merge")
        self.hops = hops
        self.build = build

    def promotion_time(self, hop: Hop, earliest: float, rng: random.Random) -> float:
        """When a release that may enter `hop` from `earliest` on (soaked, and the environment free) enters it."""
        if hop.trigger == "tag":
            return next_tag(earliest, hop.every)
        if hop.trigger == "approval":
            return earliest + (hop.approval.sample(rng) if hop.approval is not None else 0.0)
        return earliest  # merge (the build is done) or auto (the soak is done)

    def run(
        self, changes: int, visit: Callable[[int, int, random.Random], Visit], rng: random.Random, seed: object = 0
    ) -> list[Release]:
        """Stream `changes` changes; visit(change, hop index, rng) says what happened to it in that environment."""
        free = [0.0] * len(self.hops)
        releases = []
        for index in range(changes):
            merged = free[0]
            built = merged + self.build.sample(rng)
            release = Release(index, merged, built, digest_of(seed, index))
            ready = built
            for number, hop in enumerate(self.hops):
                earliest = max(ready + hop.soak, free[number])
                promoted = self.promotion_time(hop, earliest, rng)
                if number > 0:
                    free[number - 1] = promoted  # the release moves on: the previous environment takes the next one
                synced = promoted + hop.sync.sample(rng)
                outcome = visit(index, number, rng)
                live = synced + outcome.live_after
                busy = outcome.busy_for if outcome.busy_for is not None else outcome.live_after
                free[number] = synced + busy
                release.stages.append(Stage(hop.environment, release.digest, promoted, synced, live, free[number]))
                if outcome.stopped:
                    if number < len(self.hops) - 1:
                        release.stopped_in = hop.environment
                    break
                ready = live
            releases.append(release)
        return releases
