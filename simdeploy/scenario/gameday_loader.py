"""Reading a game day: its world, the faults with their hidden moments drawn, and the runbook the team should follow,
checked at load with errors that name the file and the field."""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from simdeploy.scenario import schema
from simdeploy.scenario.drill import SloSpec
from simdeploy.scenario.drill_loader import Drill, check_runbook, load_drill
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.gameday import FaultSpec, GameDaySpec
from simdeploy.scenario.loader import Scenario, default_namespace, load_scenario, read_spec
from simdeploy.scenario.yamlfile import read_yaml


@dataclass
class Fault:
    """One fault of the plan, its moment drawn: what the facilitator injects, unseen by the team."""

    name: str
    at: float  # simulated seconds
    window: tuple[float, float] | None  # where `at` was drawn from, or None for a fixed moment
    actions: list[schema.ActionBase]  # timeline actions, each with `at` set to the fault's moment
    manifests: dict[int, list[dict]] = field(default_factory=dict)  # action index -> the objects of an `apply`


@dataclass
class GameDay:
    """A validated game day: the world to serve, the faults to hide in it, the runbook's drill to predict with."""

    spec: GameDaySpec
    source: str
    base_dir: Path
    world: Scenario  # what is served: the scenario at the game day's duration, its timeline dropped or kept
    faults: list[Fault]
    drill: Drill | None  # the runbook on the world with the faults in its timeline: the prediction's drill
    slo: SloSpec
    seed: int

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def namespace(self) -> str:
        return default_namespace(self.world)

    @property
    def duration(self) -> float:
        return self.world.spec.duration


def draw_moments(faults: list[FaultSpec], seed: int) -> list[float]:
    """Each fault's moment: its `at`, or a uniform draw within its window from a stream of the game day's own
    (the same seed gives the same plan; the scenario's draws are untouched), to the millisecond."""
    rng = random.Random(f"gameday-{seed}")
    return [f.at if f.window is None else round(rng.uniform(f.window.from_, f.window.to), 3) for f in faults]


def load_gameday(source: str | Path | dict, base_dir: str | Path | None = None) -> GameDay:
    """Read and validate a game day from a file or a dict; ScenarioError with every problem otherwise."""
    spec, data, name, directory = read_spec(source, base_dir, GameDaySpec, "metadata, scenario, players and faults")
    problems: list[Problem] = []
    drill = None
    if spec.drill is not None:
        drill = _load(lambda: load_drill(directory / spec.drill), f"drill ({spec.drill})", problems)
    world = _World.read(spec, directory, drill, problems)
    if world is None or problems:
        raise ScenarioError(name, problems)
    plain = _load(lambda: load_scenario(world.data, base_dir=world.directory), world.where, problems)
    if plain is None:
        raise ScenarioError(name, problems)
    duration = spec.duration if spec.duration is not None else plain.spec.duration
    seed = spec.seed if spec.seed is not None else plain.spec.seed
    _check_moments(spec, duration, problems)
    if problems:
        raise ScenarioError(name, problems)
    moments = draw_moments(spec.faults, seed)
    kept = list(world.data.get("timeline") or []) if spec.scenario_timeline == "keep" else []
    files: dict[str, str] = {}
    planned = _with_faults(world, kept, spec, moments, directory, duration, files)
    shapes = [isinstance(entry, dict) and "action" in entry for entry in data["faults"]]
    where = _FaultPaths(len(kept), spec.faults, shapes, world.where, files)
    try:
        whole = load_scenario(planned, base_dir=world.directory)
    except ScenarioError as error:
        raise ScenarioError(name, [where.problem(p) for p in error.problems]) from None
    drill = _runbook_drill(spec, directory, drill, whole, problems)
    if problems:
        raise ScenarioError(name, problems)
    served = dataclasses.replace(
        whole,
        spec=whole.spec.model_copy(update={"timeline": whole.spec.timeline[: len(kept)]}),
        action_manifests={i: objects for i, objects in whole.action_manifests.items() if i < len(kept)},
    )
    faults = _faults(spec, moments, whole, len(kept))
    slo = spec.slo or (drill.spec.slo if drill is not None and spec.runbook is None else SloSpec())
    if drill is not None:
        drill = dataclasses.replace(drill, spec=drill.spec.model_copy(update={"slo": slo}))
    return GameDay(spec, name, directory, served, faults, drill, slo, seed)


def _load(read, where: str, problems: list[Problem]):
    try:
        return read()
    except ScenarioError as error:
        problems += [Problem(where, str(p)) for p in error.problems]
        return None


@dataclass
class _World:
    """The scenario as written: its data, the directory its paths start from, and how errors name it."""

    data: dict
    directory: Path
    where: str

    @staticmethod
    def read(spec: GameDaySpec, directory: Path, drill: Drill | None, problems: list[Problem]) -> _World | None:
        if spec.scenario is None and drill is None:
            return None  # the drill did not load: its problems say why
        if spec.scenario is not None:
            written, base, where = spec.scenario, directory, "scenario"
        else:
            written, base, where = drill.spec.scenario, drill.base_dir, f"drill ({spec.drill}) scenario"
        if isinstance(written, dict):
            return _World(copy.deepcopy(written), base, where)
        path = base / written
        where = f"{where} ({written})"
        try:
            data = read_yaml(path)
        except ScenarioError as error:
            problems += [Problem(where, str(p)) for p in error.problems]
            return None
        if not isinstance(data, dict):
            problems.append(Problem(where, "expected a YAML mapping with metadata, manifests, versions and timeline"))
            return None
        return _World(data, path.parent, where)


def _check_moments(spec: GameDaySpec, duration: float, problems: list[Problem]) -> None:
    for index, fault in enumerate(spec.faults):
        if fault.at is not None and fault.at >= duration:
            problems.append(Problem(f"faults[{index}].at", f"{fault.at:g}s is not before the end ({duration:g}s)"))
        if fault.window is not None and fault.window.to > duration:
            message = f"{fault.window.to:g}s is after the end ({duration:g}s)"
            problems.append(Problem(f"faults[{index}].window.to", message))
        for number, action in enumerate(fault.actions):
            if "at" in action:
                message = "a fault's actions run at the fault's moment: give `at` or `window` on the fault"
                problems.append(Problem(f"faults[{index}].actions[{number}].at", message))


def _with_faults(
    world: _World,
    kept: list,
    spec: GameDaySpec,
    moments: list[float],
    directory: Path,
    duration: float,
    files: dict[str, str],
) -> dict:
    """The scenario with every fault in its timeline at its moment: what the runbook's prediction runs. `files`
    gets each `apply` file's name as the scenario reads it, and as written."""
    timeline = list(kept)
    for fault, moment in zip(spec.faults, moments, strict=True):
        for action in fault.actions:
            action = copy.deepcopy(action)
            manifest = action.get("manifest")
            if isinstance(manifest, dict) and isinstance(manifest.get("file"), str):
                # an `apply` names its file from the game-day file; the scenario reads from its own directory
                read = os.path.relpath(directory / manifest["file"], world.directory)
                files[read], manifest["file"] = manifest["file"], read
            timeline.append({**action, "at": moment})
    return {**world.data, "duration": duration, "timeline": timeline}


class _FaultPaths:
    """Problems found in the planned scenario, named where the user wrote them: a fault's action, or the world."""

    def __init__(self, kept: int, faults: list[FaultSpec], inline: list[bool], world: str, files: dict[str, str]):
        self.world = world
        self.kept = kept
        self.files = files  # an `apply`'s file as the scenario reads it -> as the game-day file wrote it
        self.paths: list[str] = []
        for index, fault in enumerate(faults):
            actions = range(len(fault.actions))
            self.paths += [f"faults[{index}]" if inline[index] else f"faults[{index}].actions[{n}]" for n in actions]

    def problem(self, problem: Problem) -> Problem:
        path, message = self._named(problem.path), self._named(problem.message)
        for read, written in self.files.items():
            message = message.replace(read, written)
        if path.startswith("faults["):
            return Problem(path, message)
        return Problem(self.world, str(Problem(path, message)))

    def _named(self, text: str) -> str:
        def fault(match: re.Match) -> str:
            index = int(match.group(1)) - self.kept
            return self.paths[index] if 0 <= index < len(self.paths) else match.group(0)

        return _TIMELINE.sub(fault, text)


_TIMELINE = re.compile(r"timeline\[(\d+)\]")


def _runbook_drill(
    spec: GameDaySpec, directory: Path, drill: Drill | None, whole: Scenario, problems: list[Problem]
) -> Drill | None:
    """The runbook the team is expected to follow, as a drill on the planned world (None without a runbook)."""
    if spec.runbook is not None:
        document = {
            "apiVersion": "simdeploy/v1alpha1",
            "kind": "Drill",
            "metadata": {"name": spec.metadata.name},
            "scenario": spec.scenario,
            "runbook": spec.runbook,
        }
        try:
            drill = load_drill(document, base_dir=directory)
        except ScenarioError as error:
            problems += [p for p in error.problems if not p.path.startswith("scenario")]  # the world's: said above
            return None
    if drill is None:
        return None
    drill = dataclasses.replace(drill, scenario=whole, commands=dict(drill.commands))
    if spec.scenario is not None and spec.drill is not None:  # the drill's runbook in another world: check again
        where = f"drill ({spec.drill})"
        problems += [Problem(where, str(p)) for p in check_runbook(drill)]
    return drill


def _faults(spec: GameDaySpec, moments: list[float], whole: Scenario, first: int) -> list[Fault]:
    faults, index = [], first
    for number, (fault, moment) in enumerate(zip(spec.faults, moments, strict=True)):
        count = len(fault.actions)
        actions = whole.spec.timeline[index : index + count]
        manifests = {n: whole.action_manifests[index + n] for n in range(count) if index + n in whole.action_manifests}
        window = None if fault.window is None else (fault.window.from_, fault.window.to)
        faults.append(Fault(fault.name or f"fault {number + 1}", moment, window, list(actions), manifests))
        index += count
    return faults
