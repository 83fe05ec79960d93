"""From a validated scenario to a ready-to-run Simulation: behaviours, nodes and timeline actions."""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

from simdeploy.delivery.argo.rollout import RolloutController
from simdeploy.delivery.flags.traffic import FlagEffect, FlagRuntime, population
from simdeploy.k8s.labels import parse_selector
from simdeploy.k8s.node_util import node_object
from simdeploy.k8s.timeutil import DEFAULT_EPOCH, parse_time
from simdeploy.scenario import schema
from simdeploy.scenario.behaviour import behaviour
from simdeploy.scenario.expect import ExpectSpec, judge
from simdeploy.scenario.limits import scale_problem
from simdeploy.scenario.loader import Scenario, default_namespace, load_scenario
from simdeploy.scenario.references import PATCH_KINDS
from simdeploy.scenario.schema_build import attach_schema, schema_action
from simdeploy.scenario.services_build import attach_graph
from simdeploy.sim.cluster.kubectl import KubectlError
from simdeploy.sim.metrics.alerts import AlertEvaluator, first_change
from simdeploy.sim.simulation import Action, ClusterSettings, Simulation
from simdeploy.sim.traffic.model import Effect, Route, Source
from simdeploy.sim.traffic.rates import Constant, Diurnal, Ramp, RateProfile, Series, Spike, Steps


def load(
    source: str | Path | dict,
    seed: int | None = None,
    base_dir: str | Path | None = None,
    **options,
) -> Simulation:
    """Load a scenario (file or dict) and build its Simulation, ready to run."""
    return build(load_scenario(source, base_dir), seed, **options)


def build(
    scenario: Scenario, seed: int | None = None, record_pod_events: bool = True, record_metrics: bool = True
) -> Simulation:
    """The Simulation of a scenario; sweeps turn off pod events and, without alert rules, the TSDB."""
    spec = scenario.spec
    behaviours = {image: behaviour(image, version) for image, version in spec.versions.items()}
    namespace = default_namespace(scenario)
    actions = [
        Action(
            action.at,
            index,
            describe(action, namespace),
            _action(action, scenario.action_manifests.get(index, []), namespace),
        )
        for index, action in enumerate(spec.timeline)
    ]
    simulation = Simulation(
        name=spec.metadata.name,
        manifests=scenario.manifests,
        behaviours=behaviours,
        duration=spec.duration,
        seed=spec.seed if seed is None else seed,
        cluster=cluster_settings(spec.cluster),
        actions=actions,
        record_pod_events=record_pod_events,
        record_metrics=record_metrics or bool(scenario.rule_groups),
    )
    # The environments' gates judge every write from now on; the manifests applied above passed them when the
    # scenario loaded (scenario/environments.py), as they would have had to be admitted to exist.
    simulation.api.policies = scenario.policies
    if any(obj.get("kind") == "Rollout" for obj in scenario.manifests):
        simulation.rollouts = RolloutController(simulation)
    if scenario.flag_state is not None:
        attach_flags(simulation, spec, scenario.flag_state, scenario.manifests)
    if spec.databases:
        attach_schema(simulation, spec)
    for route in spec.routes:
        simulation.traffic.set_route(Route(route.namespace or namespace, route.name, dict(route.weights)))
    for traffic in spec.traffic:
        profile = rate_profile(traffic.rate, scenario.rate_files)
        ns = traffic.namespace or namespace
        simulation.traffic.add_source(Source(ns, profile, traffic.service, traffic.route, traffic.start))
    if scenario.rule_groups:
        # Built after the Simulation, hence after its Scraper: evaluations see the scrape of the same instant.
        simulation.alerts = AlertEvaluator(
            simulation.clock,
            simulation.metrics,
            simulation.recorder,
            scenario.rule_groups,
            spec.cluster.evaluation_interval,
        )
    if spec.services is not None:
        attach_graph(simulation, scenario)
    if scenario.expect.model_fields_set:  # last: expectations judge every other part of the summary
        simulation.result_hooks.append(lambda result: _add_expectations(scenario.expect, result))
    return simulation


def cluster_only(scenario: Scenario) -> Scenario:
    """The scenario's cluster without what runs on it: its nodes, settings, version behaviours, flags and alerting
    rules, but no manifests, traffic, routes or timeline (a cluster a drill runner brings its own workload to)."""
    spec = scenario.spec.model_copy(update={"timeline": [], "traffic": [], "routes": []})
    return dataclasses.replace(scenario, spec=spec, manifests=[], action_manifests={}, rate_files={})


def rate_profile(spec: schema.RateSpec, rate_files: dict) -> RateProfile:
    if spec.constant is not None:
        return Constant(spec.constant)
    if spec.steps is not None:
        steps = sorted(spec.steps, key=lambda step: step.at)
        return Steps(tuple(step.at for step in steps), tuple(step.rps for step in steps))
    if spec.ramp is not None:
        return Ramp(spec.ramp.from_, spec.ramp.to, spec.ramp.over, spec.ramp.start)
    if spec.diurnal is not None:
        d = spec.diurnal
        return Diurnal(d.mean, d.amplitude, d.period, d.peak_at)
    if spec.spike is not None:
        return Spike(spec.spike.base, spec.spike.peak, spec.spike.at, spec.spike.duration)
    times, rates = rate_files[spec.csv]
    return Series(times, rates)


def cluster_settings(cluster: schema.Cluster) -> ClusterSettings:
    nodes = []
    for group in cluster.nodes:
        names = [group.name] if group.name else [f"{group.name_prefix}-{i}" for i in range(1, group.count + 1)]
        nodes += [node_object(name, group.cpu, group.memory, group.pods, group.labels) for name in names]
    return ClusterSettings(
        nodes=tuple(nodes),
        controller_latency=cluster.controller_latency,
        scheduling_latency=cluster.scheduling_latency,
        container_start=cluster.container_start,
        endpoint_propagation_delay=cluster.endpoint_propagation_delay,
        node_monitor_grace=cluster.node_monitor_grace_period,
        eviction_toleration=cluster.unreachable_toleration,
        epoch=parse_time(cluster.start_time) if cluster.start_time else DEFAULT_EPOCH,
        tick=cluster.tick,
        scrape_interval=cluster.scrape_interval,
        overload_code=cluster.overload,
    )


NAMESPACED_TARGETS = ("deployment", "rollout", "target", "route")  # what an action names inside a namespace


def describe(action: schema.ActionBase, default_namespace: str | None = None) -> str:
    """A kubectl-like line for an action, for the timeline; an object outside `default_namespace` is named
    `namespace/name`, as the summary names workloads (environments put same-named objects in several)."""
    field, target = next(
        (
            (f, getattr(action, f, None))
            for f in ("deployment", "rollout", "node", "image", "flag", "target", "route", "app", "table", "database")
            if getattr(action, f, None)
        ),
        (None, None),
    )
    namespace = getattr(action, "namespace", None)
    if field in NAMESPACED_TARGETS and default_namespace and namespace and namespace != default_namespace:
        target = f"{namespace}/{target}"
    return f"{action.action} {target}" if target else action.action


def operator_action(action: schema.ActionBase, default_ns: str, by: str | None = None) -> Callable[[Simulation], str]:
    """A timeline action to run now, by hand (`simdeploy ctl do`, the flag console), by the user `by`; `apply`
    needs manifests."""
    if isinstance(action, schema.ApplyAction):
        raise ValueError("apply: use `kubectl apply -f` against the served cluster")
    if isinstance(action, schema.SyncAction):
        raise ValueError(
            "sync: a sync applies a manifest set from git; use `kubectl apply -f` against the served cluster"
        )
    if isinstance(action, schema.ScaleAction):
        run = _checked_scale(action, action.namespace or default_ns)
    else:
        run = _action(action, [], default_ns)
    return lambda sim: sim.act(describe(action, default_ns), run, by)  # in the result's `actions`, as the timeline's


def scheduled_action(action: schema.ActionBase, manifests: list[dict], default_ns: str) -> Callable[[Simulation], str]:
    """A timeline action as the scenario's timeline runs it (an `apply` with its objects): a game day's hidden fault."""
    return _action(action, manifests, default_ns)


def _checked_scale(action: schema.ScaleAction, namespace: str) -> Callable[[Simulation], str]:
    """A scale the scenario's limits were not there to check: refuse what the nodes could never hold."""

    def run(sim: Simulation) -> str:
        deployment = sim.store.find("Deployment", namespace, action.deployment)
        problem = deployment and scale_problem(deployment, action.replicas, sim.store.list("Node"))
        if problem:
            raise KubectlError(f"replicas: {problem}")
        return sim.kubectl.scale(namespace, action.deployment, action.replicas)

    return run


def _action(action: schema.ActionBase, manifests: list[dict], default_ns: str) -> Callable[[Simulation], str]:
    ns = action.namespace or default_ns
    match action:
        case schema.ApplyAction():
            return lambda sim: "\n".join(sim.kubectl.apply(copy.deepcopy(obj)) for obj in manifests)
        case schema.SetImageAction():
            kind, name = ("Rollout", action.rollout) if action.rollout else ("Deployment", action.deployment)
            return lambda sim: sim.kubectl.set_image(ns, name, action.container, action.image, kind)
        case schema.ScaleAction():
            return lambda sim: sim.kubectl.scale(ns, action.deployment, action.replicas)
        case schema.PauseAction() if action.rollout:
            return lambda sim: _rollouts(sim, action.rollout).pause(ns, action.rollout, True)
        case schema.ResumeAction() if action.rollout:
            return lambda sim: _rollouts(sim, action.rollout).pause(ns, action.rollout, False)
        case schema.PauseAction():
            return lambda sim: sim.kubectl.pause(ns, action.deployment)
        case schema.ResumeAction():
            return lambda sim: sim.kubectl.resume(ns, action.deployment)
        case schema.RolloutUndoAction() if action.rollout:
            return lambda sim: _rollouts(sim, action.rollout).undo(ns, action.rollout, action.to_revision)
        case schema.RolloutUndoAction():
            return lambda sim: sim.kubectl.rollout_undo(ns, action.deployment, action.to_revision)
        case schema.DeletePodsAction():
            selector = parse_selector(action.selector) if isinstance(action.selector, str) else action.selector
            return lambda sim: sim.kubectl.delete_pods(ns, selector, action.count, action.percent, action.grace_period)
        case schema.NodeAction():
            return _node_action(action)
        case schema.SetBehaviourAction():
            return lambda sim: _set_behaviour(sim, action)
        case schema.RolloutAction():
            return lambda sim: _rollout_action(sim, ns, action)
        case schema.SetWeightsAction():
            return lambda sim: _set_weights(sim, ns, action)
        case schema.PatchAction():
            kind, name = action.target.split("/", 1)
            return lambda sim: sim.kubectl.patch(_kind(kind), "" if _kind(kind) == "Node" else ns, name, action.patch)
        case schema.FlagAction() | schema.SetRolloutAction():
            return flag_action(action)
        case schema.SyncAction() | schema.MigrateAction() | schema.LongTransactionAction():
            return schema_action(action, manifests, ns)
    raise ValueError(f"unsupported action {action.action}")


def _node_action(action: schema.NodeAction) -> Callable[[Simulation], str]:
    operations = {
        "cordon": lambda sim: sim.nodes.cordon(action.node),
        "uncordon": lambda sim: sim.nodes.cordon(action.node, unschedulable=False),
        "drain": lambda sim: sim.nodes.drain(action.node),
        "fail-node": lambda sim: sim.nodes.fail(action.node),
    }
    operation = operations[action.action]

    def run(sim: Simulation) -> str:
        operation(sim)
        return f"node/{action.node} {action.action}"

    return run


def _set_behaviour(sim: Simulation, action: schema.SetBehaviourAction) -> str:
    changed = behaviour(action.image, action.behaviour, sim.behaviours[action.image])
    sim.set_behaviour(changed)
    sim.recorder.event(
        "Version",
        action.image,
        "BehaviourChanged",
        f"{action.image} now behaves as the scenario's set-behaviour says",
    )
    return f"version {action.image} changed"


def _add_expectations(expect: ExpectSpec, result: dict) -> None:
    result["summary"]["expectations"] = judge(expect, result, first_change(result["events"]))


def _rollouts(sim: Simulation, name: str):
    if sim.rollouts is None:
        raise KubectlError(f'rollouts.argoproj.io "{name}" not found')
    return sim.rollouts


def _rollout_action(sim: Simulation, namespace: str, action: schema.RolloutAction) -> str:
    controller = _rollouts(sim, action.rollout)
    operation = {"promote": controller.promote, "abort": controller.abort_action, "retry": controller.retry}
    return operation[action.action](namespace, action.rollout, action.full)


def _set_weights(sim: Simulation, namespace: str, action: schema.SetWeightsAction) -> str:
    sim.traffic.set_route(Route(namespace, action.route, dict(action.weights)))
    weights = ", ".join(f"{name}={weight:g}" for name, weight in action.weights.items())
    sim.recorder.event("Route", action.route, "SetWeights", f"route {action.route} weights now {weights}")
    return f"route/{action.route} weights set"


def _kind(text: str) -> str:
    return PATCH_KINDS.get(text.lower(), text)


# -- feature flags --------------------------------------------------------------------------


def attach_flags(simulation: Simulation, spec: schema.ScenarioSpec, state: dict, manifests: list[dict]) -> FlagRuntime:
    """Give the Simulation its flag runtime; the flags that effects or actions name split the traffic."""
    flags = spec.flags
    actions = [a.flag for a in spec.timeline if isinstance(a, schema.FlagAction | schema.SetRolloutAction)]
    tracked = list(dict.fromkeys([e.flag for e in flags.effects] + actions))
    effects = [
        FlagEffect(
            e.flag, e.when, Effect(e.version, e.error_rate, e.latency_factor, e.capacity_factor, tuple(e.skip_calls))
        )
        for e in flags.effects
    ]
    context = {"environment": "production", "appName": _app_name(spec, manifests), **flags.context}
    runtime = FlagRuntime(
        state,
        tracked,
        effects,
        population(flags.users, context),
        flags.propagation,
        simulation.clock,
        simulation.recorder,
        simulation.cluster.epoch,
        random.Random(f"unleash:{simulation.seed}"),  # its own stream: flags never shift the pods' draws
    )
    simulation.flags = runtime
    if tracked:
        simulation.traffic.cohort_source = runtime
    totals = simulation.traffic.cohort_totals
    simulation.result_hooks.append(lambda result: result["summary"].update(runtime.summary(totals)))
    return runtime


def _app_name(spec: schema.ScenarioSpec, manifests: list[dict]) -> str:
    """What the SDK would be configured with as appName: the first workload's name."""
    for obj in manifests:
        if obj.get("kind") in ("Deployment", "Rollout"):
            return obj["metadata"]["name"]
    return spec.metadata.name


def flag_action(action: schema.FlagAction | schema.SetRolloutAction) -> Callable[[Simulation], str]:
    if isinstance(action, schema.SetRolloutAction):
        return lambda sim: sim.flags.set_rollout(action.flag, action.percent)
    if action.action == "enable-flag":
        return lambda sim: sim.flags.enable(action.flag)
    return lambda sim: sim.flags.disable(action.flag)
