"""From a loaded drill to a Simulation with the runbook engine attached; its result gains a `drill` section."""

from __future__ import annotations

import json
import random

from simdeploy.delivery.runbook.conditions import Condition
from simdeploy.delivery.runbook.engine import Runbook, RunbookEngine, Step
from simdeploy.delivery.runbook.incident import Slo, incident_figures, step_verdicts
from simdeploy.k8s.duration import format_duration
from simdeploy.scenario.behaviour import distribution
from simdeploy.scenario.build import build
from simdeploy.scenario.drill import ConditionSpec, StepSpec
from simdeploy.scenario.drill_loader import Drill
from simdeploy.sim.distributions import Uniform
from simdeploy.sim.simulation import Simulation

# Argo CD looks at git every 3 minutes (argocd-cm `timeout.reconciliation`, default 180s): a revert pushed at a
# random moment waits for the next look, uniformly 0-3 min, unless a webhook makes it immediate.
DEFAULT_SYNC_DELAY = Uniform(0.0, 180.0)


def build_drill(drill: Drill, seed: int | None = None, record_pod_events: bool = True) -> Simulation:
    """The drill's scenario, built and ready to run, with the runbook's responders and steps in it."""
    sim = build(drill.scenario, seed, record_pod_events=record_pod_events)
    engine = RunbookEngine(sim, runbook_of(drill), responders_rng(sim.seed))
    sim.result_hooks.append(lambda result: add_drill_section(drill, engine, result))
    return sim


def responders_rng(seed: int) -> random.Random:
    """The responders' own random stream for a seed: the same in the simulation and on a real cluster."""
    return random.Random(f"runbook-{seed}")


def fault_of(drill: Drill) -> float | None:
    """When the fault comes: the scenario's first timeline action."""
    timeline = drill.scenario.spec.timeline
    return min(action.at for action in timeline) if timeline else None


def runbook_of(drill: Drill, namespace: str | None = None) -> Runbook:
    """The drill's runbook for the engine; `namespace`: where it acts when that is not the scenario's (a drill's
    own namespace on a real cluster), conditions naming the scenario's namespace included."""
    spec = drill.runbook
    rename = {drill.namespace: namespace} if namespace else {}
    namespace = namespace or drill.namespace
    trigger: dict
    if spec.trigger.alert is not None:
        trigger = {"alert": spec.trigger.alert}
    elif spec.trigger.at is not None:
        trigger = {"at": spec.trigger.at}
    elif spec.trigger.expectation is not None:
        trigger = {"condition": _expectation(drill, spec.trigger.expectation)}
    else:
        trigger = {"condition": _condition(spec.trigger.condition, namespace, rename)}
    steps = [_step(drill, index, step, namespace, rename) for index, step in enumerate(spec.steps)]
    return Runbook(
        name=spec.name or drill.name,
        trigger=trigger,
        acknowledge=distribution(spec.responders.acknowledge),
        step_time=distribution(spec.responders.step),
        steps=steps,
        namespace=namespace,
        manifest_sets=_manifest_sets(drill),
    )


def _step(drill: Drill, index: int, spec: StepSpec, namespace: str, rename: dict[str, str]) -> Step:
    step = Step(
        name=spec.name,
        action=_ACTION_NAMES[spec.action],
        text=describe_step(spec),
        when=_condition(spec.when, namespace, rename) if spec.when is not None else None,
        expect=_condition(spec.expect, namespace, rename) if spec.expect is not None else None,
        within=spec.expect.within if spec.expect is not None else 0.0,
        deadline=spec.deadline,
        manual=distribution(spec.manual) if spec.manual is not None else None,
    )
    if spec.kubectl is not None:
        step.kubectl = drill.commands[index]
        step.manifests = drill.apply_manifests.get(index, [])
    elif spec.flag is not None:
        step.flag = spec.flag.model_dump(by_alias=True, exclude_none=True)
    elif spec.traffic_shift is not None:
        step.traffic = spec.traffic_shift.model_dump(exclude_none=True)
    elif spec.migrate is not None:
        step.migrate = spec.migrate.model_dump(exclude_none=True)
    elif spec.gitops_revert is not None:
        delay = spec.gitops_revert.sync_delay
        step.sync_delay = distribution(delay) if delay is not None else DEFAULT_SYNC_DELAY
    else:
        step.wait = spec.wait
    return step


_ACTION_NAMES = {
    "kubectl": "kubectl",
    "flag": "flag",
    "gitops_revert": "gitopsRevert",
    "traffic_shift": "trafficShift",
    "migrate": "migrate",
    "wait": "wait",
}


def describe_step(spec: StepSpec) -> str:
    """The step's action in one line, as a responder would say it."""
    if spec.kubectl is not None:
        line = spec.kubectl.strip()
        return line if line.startswith("kubectl") else f"kubectl {line}"
    if spec.flag is not None:
        if spec.flag.set_rollout is not None:
            return f"flag {spec.flag.set_rollout}: rollout {spec.flag.percent}%"
        return f"flag {spec.flag.disable}: disable" if spec.flag.disable else f"flag {spec.flag.enable}: enable"
    if spec.traffic_shift is not None:
        shift = spec.traffic_shift
        if shift.route is not None:
            return f"traffic shift: route {shift.route} -> {json.dumps(shift.weights, sort_keys=True)}"
        return f"traffic shift: service {shift.service} selector {json.dumps(shift.selector, sort_keys=True)}"
    if spec.gitops_revert is not None:
        return "git revert + GitOps sync"
    if spec.migrate is not None:
        return f"flyway migrate{' -target=' + spec.migrate.to if spec.migrate.to else ''} (forward fix)"
    return f"wait {format_duration(spec.wait)}"


def _condition(spec: ConditionSpec, namespace: str, rename: dict[str, str] | None = None) -> Condition:
    condition = spec.model_dump(exclude_none=True, exclude={"within"})
    if condition.get("namespace") in (rename or {}):
        condition["namespace"] = rename[condition["namespace"]]
    return Condition(condition, namespace)


def _expectation(drill: Drill, name: str) -> Condition:
    """A scenario expectation watched while the run goes on: it pages the team when it fails."""
    expect = drill.scenario.expect
    field = next(f for f, info in type(expect).model_fields.items() if (info.alias or f) == name)
    bound = getattr(expect, field)
    shown = f"{bound:.3%}" if name in ("availability", "errorRatio") else f"{bound:g}"
    return Condition({"expectation": name, "bound": bound, "shown": shown}, drill.namespace)


def _manifest_sets(drill: Drill) -> list[tuple[float, list[dict]]]:
    """The desired state in git after each manifest change: the scenario's manifests, then each `apply`."""
    scenario = drill.scenario
    state = {_key(obj): obj for obj in scenario.manifests}
    sets = [(0.0, list(state.values()))]
    for index, action in sorted(enumerate(scenario.spec.timeline), key=lambda pair: pair[1].at):
        objects = scenario.action_manifests.get(index)
        if objects:
            state = {**state, **{_key(obj): obj for obj in objects}}
            sets.append((action.at, list(state.values())))
    return sets


def _key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["kind"], meta.get("namespace", "default"), meta.get("name", "")


def add_drill_section(drill: Drill, engine: RunbookEngine, result: dict) -> None:
    """The result's `drill` section: what the runbook did, the incident's figures, the verdicts."""
    slo = Slo(drill.spec.slo.availability, drill.spec.slo.window, drill.spec.slo.mitigation_hold)
    record = engine.record()
    incident = incident_figures(result, record, fault_of(drill), slo)
    steps = step_verdicts(record, result["duration_s"])
    expectations = _judge(drill, incident)
    reasons = [f"step {s['name']!r}: {', '.join(s['reasons'])}" for s in steps if s["verdict"] == "fail"]
    if drill.spec.expect.recovers and incident["recovered_s"] is None:
        reasons.append("the steady state did not return before the scenario ended")
    reasons += [f"{e['name']}: {e['shown']} (expected {e['expected']})" for e in expectations if e["verdict"] == "fail"]
    for row, verdict in zip(record["steps"], steps, strict=True):
        row.update(verdict=verdict["verdict"], reasons=verdict["reasons"])
    result["drill"] = {
        "name": drill.name,
        "slo": {"availability": slo.availability, "window_s": slo.window, "mitigation_hold_s": slo.mitigation_hold},
        **record,
        "incident": incident,
        "expectations": expectations,
        "verdict": "fail" if reasons else "pass",
        "reasons": reasons,
    }


_TIMES = {
    "time_to_detect": "timeToDetect",
    "time_to_acknowledge": "timeToAcknowledge",
    "time_to_mitigate": "timeToMitigate",
    "time_to_recover": "timeToRecover",
}


def _judge(drill: Drill, incident: dict) -> list[dict]:
    """The drill's `expect` section against the incident figures: each a ceiling."""
    expect = drill.spec.expect
    verdicts = []
    for field, name in _TIMES.items():
        limit = getattr(expect, field)
        if limit is not None:
            measured = incident[f"{field}_s"]
            shown = "never" if measured is None else format_duration(measured)
            ok = measured is not None and measured <= limit
            verdicts.append(_verdict(name, f"<= {format_duration(limit)}", measured, shown, ok))
    if expect.errors is not None:
        measured = incident["errors"]
        verdicts.append(
            _verdict("errors", f"<= {expect.errors:g}", measured, f"{measured:g}", measured <= expect.errors)
        )
    if expect.error_budget_burned is not None:
        measured = incident["error_budget_burned"]
        shown = "n/a" if measured is None else f"{measured:.2%}"
        ok = measured is not None and measured <= expect.error_budget_burned
        verdicts.append(_verdict("errorBudgetBurned", f"<= {expect.error_budget_burned:.2%}", measured, shown, ok))
    return verdicts


def _verdict(name: str, expected: str, measured, shown: str, ok: bool) -> dict:
    return {
        "name": name,
        "expected": expected,
        "measured": measured,
        "shown": shown,
        "verdict": "pass" if ok else "fail",
    }
