"""A sweep plan: the grid (or a random sample) of settings, each checked, with seeds derived per run.

Seeds come from the sweep seed, the point's settings and the replicate number, hashed -- never
from the order in which workers finish -- so every executor produces the same rows.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.loader import load_scenario
from simdeploy.sweep.checks import check_parameters
from simdeploy.sweep.identity import identity, scenario_digest
from simdeploy.sweep.parameters import Parameter, SweepError, apply, inline_manifests


@dataclass(frozen=True)
class Point:
    """One setting of every parameter, and the scenario it makes."""

    settings: dict  # path -> value
    scenario: dict
    rejected: str | None = None  # why the API server would refuse it

    @property
    def key(self) -> str:
        return json.dumps(self.settings, sort_keys=True)


@dataclass(frozen=True)
class Run:
    """One simulation to run: a point and a seed."""

    point: Point
    replicate: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.point.key}#{self.replicate}"


@dataclass
class Plan:
    parameters: list[Parameter]
    points: list[Point]
    seeds: int
    base_dir: Path
    sweep_seed: int
    runs: list[Run] = field(default_factory=list)
    identity: dict = field(default_factory=dict)  # what decides the rows; kept beside them for --resume


def make_plan(
    source: str | Path | dict,
    parameters: list[Parameter],
    seeds: int = 1,
    sample: int | None = None,
    sweep_seed: int = 0,
    base_dir: str | Path | None = None,
) -> Plan:
    """Expand the grid (or draw `sample` points), apply and check each point, and list the runs.

    Raises SweepError (or ScenarioError, for the scenario itself) before anything runs.
    """
    if isinstance(source, dict):
        scenario, directory, where = copy.deepcopy(source), Path(base_dir or "."), None
    else:
        path = Path(source)
        load_scenario(path, base_dir)  # the scenario itself must be valid first (raises ScenarioError)
        scenario, directory, where = yaml.safe_load(path.read_text()), Path(base_dir or path.parent), path
    scenario = inline_manifests(scenario, directory)
    if seeds < 1:
        raise SweepError("--seeds must be at least 1")
    if sample is not None and sample < 1:
        raise SweepError("--sample must be at least 1")
    check_parameters(scenario, parameters, directory)
    combos = list(itertools.product(*(p.values for p in parameters)))
    if sample is not None:
        combos = random.Random(sweep_seed).sample(combos, min(sample, len(combos)))
    points = [_point(scenario, parameters, combo, directory) for combo in combos]
    plan = Plan(parameters, points, seeds, directory, sweep_seed)
    source_path = str(where.resolve()) if where is not None else None
    digest = scenario_digest(scenario, directory)
    plan.identity = identity(source_path, digest, parameters, seeds, sample, sweep_seed)
    plan.runs = [
        Run(p, r, derive_seed(sweep_seed, p.key, r)) for p in points if p.rejected is None for r in range(seeds)
    ]
    return plan


def derive_seed(sweep_seed: int, point_key: str, replicate: int) -> int:
    digest = hashlib.sha256(f"{sweep_seed}|{point_key}|{replicate}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _point(scenario: dict, parameters: list[Parameter], combo: tuple, directory: Path) -> Point:
    changed = copy.deepcopy(scenario)
    settings = {}
    for parameter, value in zip(parameters, combo, strict=True):
        apply(changed, parameter.path, value)
        settings[parameter.path] = value
    try:
        load_scenario(changed, directory)
    except ScenarioError as error:
        # Objects the API server would refuse are a result ("rejected"); anything else is a bad --set.
        if all(problem.path.startswith("manifests[") for problem in error.problems):
            return Point(settings, changed, rejected="; ".join(str(p) for p in error.problems))
        described = ", ".join(f"{k}={v}" for k, v in settings.items())
        details = "; ".join(str(p) for p in error.problems)
        raise SweepError(f"with {described}: {details}") from None
    return Point(settings, changed)
