"""Reading a drill: the drill file, its scenario and runbook, and every reference the steps make, checked at load
with errors that name the file and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from simdeploy.k8s.kubectl_cli import KubectlCommand, KubectlLineError, parse_kubectl
from simdeploy.scenario.drill import ConditionSpec, DrillSpec, RunbookSpec
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.loader import Scenario, _problem, _read_manifests, default_namespace, load_scenario, read_spec
from simdeploy.scenario.schema import ManifestRef
from simdeploy.scenario.yamlfile import read_yaml
from simdeploy.sim.metrics.promql import PromQLError, parse


@dataclass
class Drill:
    """A validated drill with its scenario loaded, its kubectl lines parsed and its `apply -f` files read."""

    spec: DrillSpec
    runbook: RunbookSpec
    scenario: Scenario
    source: str
    base_dir: Path
    commands: dict[int, KubectlCommand] = field(default_factory=dict)  # step index -> its kubectl line
    apply_manifests: dict[int, list[dict]] = field(default_factory=dict)  # step index -> objects of apply -f

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def namespace(self) -> str:
        return default_namespace(self.scenario)


def load_drill(source: str | Path | dict, base_dir: str | Path | None = None) -> Drill:
    """Read and validate a drill from a file or a dict; ScenarioError with every problem otherwise."""
    spec, _, name, directory = read_spec(source, base_dir, DrillSpec, "metadata, scenario and runbook")
    problems: list[Problem] = []
    runbook = _runbook(spec, directory, problems)
    scenario = _scenario(spec, directory, problems)
    if runbook is None or scenario is None:
        raise ScenarioError(name, problems)
    drill = Drill(spec, runbook, scenario, name, directory)
    _check_steps(drill, problems)
    if problems:
        raise ScenarioError(name, problems)
    return drill


def _runbook(spec: DrillSpec, directory: Path, problems: list[Problem]) -> RunbookSpec | None:
    if isinstance(spec.runbook, dict):
        data, prefix = spec.runbook, ("runbook",)
    else:
        try:
            data, prefix = read_yaml(directory / spec.runbook), (f"runbook ({spec.runbook})",)
        except ScenarioError as error:
            problems += [Problem("runbook", f"{spec.runbook}: {p}") for p in error.problems]
            return None
    try:
        return RunbookSpec.model_validate(data)
    except ValidationError as error:
        problems += [_problem({**e, "loc": (*prefix, *e["loc"])}) for e in error.errors()]
        return None


def _scenario(spec: DrillSpec, directory: Path, problems: list[Problem]) -> Scenario | None:
    try:
        if isinstance(spec.scenario, dict):
            return load_scenario(spec.scenario, base_dir=directory)
        return load_scenario(directory / spec.scenario)
    except ScenarioError as error:
        where = "scenario" if isinstance(spec.scenario, dict) else f"scenario ({spec.scenario})"
        problems += [Problem(where, str(p)) for p in error.problems]
        return None


def check_runbook(drill: Drill) -> list[Problem]:
    """What the runbook's trigger and steps name that the drill's scenario lacks (a runbook moved to another world)."""
    problems: list[Problem] = []
    _check_steps(drill, problems)
    return problems


# -- references -----------------------------------------------------------------------------------------------


def _check_steps(drill: Drill, problems: list[Problem]) -> None:
    world = _World(drill)
    trigger = drill.runbook.trigger
    where = _runbook_path(drill)
    if trigger.alert is not None:
        world.alert(trigger.alert, f"{where}.trigger.alert", problems)
    if trigger.condition is not None:
        world.condition(trigger.condition, f"{where}.trigger.condition", problems)
    if trigger.expectation is not None and trigger.expectation not in drill.scenario.spec.expect:
        missing = f"the scenario has no {trigger.expectation!r} in its expect section"
        problems.append(Problem(f"{where}.trigger.expectation", missing))
    for index, step in enumerate(drill.runbook.steps):
        at = f"{where}.steps[{index}]"
        if step.when is not None:
            world.condition(step.when, f"{at}.when", problems)
        if step.expect is not None:
            world.condition(step.expect, f"{at}.expect", problems)
        if step.kubectl is not None:
            try:
                command = parse_kubectl(step.kubectl)
            except KubectlLineError as error:
                problems.append(Problem(f"{at}.kubectl", f"{step.name!r}: {error}"))
                continue
            drill.commands[index] = command
            world.command(command, f"{at}.kubectl", problems)
            if command.command == "apply":
                objects = []
                for number, file in enumerate(command.options["filename"]):
                    ref = ManifestRef(file=file)
                    objects += _read_manifests(ref, drill.base_dir, f"{at}.kubectl -f[{number}]", problems)
                drill.apply_manifests[index] = objects
        if step.flag is not None:
            flag = step.flag.disable or step.flag.enable or step.flag.set_rollout
            world.flag(flag, f"{at}.flag", problems)
        if step.traffic_shift is not None:
            world.traffic_shift(step.traffic_shift, f"{at}.trafficShift", problems)


def _runbook_path(drill: Drill) -> str:
    return "runbook" if isinstance(drill.spec.runbook, dict) else f"runbook ({drill.spec.runbook})"


class _World:
    """What the scenario holds, for checking what the runbook names."""

    def __init__(self, drill: Drill):
        scenario = drill.scenario
        self.namespace = drill.namespace
        objects = scenario.manifests + [o for objs in scenario.action_manifests.values() for o in objs]
        self.objects = {(o["kind"], _namespace(o), o["metadata"].get("name")) for o in objects}
        self.nodes = _node_names(scenario)
        self.alerts = sorted({rule.name for group in scenario.rule_groups for rule in group.rules})
        self.routes = {(r.namespace or self.namespace, r.name) for r in scenario.spec.routes}
        features = (scenario.flag_state or {}).get("features") or []
        self.flags = None if scenario.flag_state is None else {f.get("name") for f in features}

    def alert(self, name: str, where: str, problems: list[Problem]) -> None:
        if name not in self.alerts:
            known = ", ".join(self.alerts) or "none: the scenario has no alerting rules"
            problems.append(Problem(where, f"no alerting rule named {name!r} in the scenario (rules: {known})"))

    def condition(self, condition: ConditionSpec, where: str, problems: list[Problem]) -> None:
        namespace = condition.namespace or self.namespace
        if condition.deployment is not None:
            self._exists("Deployment", namespace, condition.deployment, f"{where}.deployment", problems)
        if condition.rollout is not None:
            self._exists("Rollout", namespace, condition.rollout, f"{where}.rollout", problems)
        if condition.alert is not None:
            self.alert(condition.alert, f"{where}.alert", problems)
        if condition.query is not None:
            try:
                parse(condition.query)
            except PromQLError as error:
                problems.append(Problem(f"{where}.query", str(error)))

    def command(self, command: KubectlCommand, where: str, problems: list[Problem]) -> None:
        if command.kind == "Node":
            for name in command.names:
                if name not in self.nodes:
                    problems.append(Problem(where, f"no node {name!r} in the scenario's cluster"))
        elif command.kind in ("Deployment", "Rollout", "Service", "ConfigMap") and not command.reads_only:
            namespace = command.namespace or self.namespace
            for name in command.names:
                self._exists(command.kind, namespace, name, where, problems)

    def flag(self, name: str, where: str, problems: list[Problem]) -> None:
        if self.flags is None:
            problems.append(Problem(where, "the scenario has no feature flags (a `flags` section)"))
        elif name not in self.flags:
            problems.append(
                Problem(where, f"no flag {name!r} in the scenario's flags ({', '.join(sorted(self.flags))})")
            )

    def traffic_shift(self, shift, where: str, problems: list[Problem]) -> None:
        namespace = shift.namespace or self.namespace
        if shift.route is not None and (namespace, shift.route) not in self.routes:
            problems.append(Problem(f"{where}.route", f"no route {shift.route!r} under the scenario's routes"))
        if shift.service is not None:
            self._exists("Service", namespace, shift.service, f"{where}.service", problems)

    def _exists(self, kind: str, namespace: str, name: str, where: str, problems: list[Problem]) -> None:
        if (kind, namespace, name) not in self.objects:
            problems.append(Problem(where, f"no {kind} {name!r} in namespace {namespace!r} in the scenario"))


def _namespace(obj: dict) -> str:
    return "" if obj["kind"] in ("Node", "Namespace") else obj["metadata"].get("namespace", "default")


def _node_names(scenario: Scenario) -> set[str]:
    names = set()
    for group in scenario.spec.cluster.nodes:
        if group.name:
            names.add(group.name)
        else:
            names.update(f"{group.name_prefix}-{i}" for i in range(1, group.count + 1))
    return names
