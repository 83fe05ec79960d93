"""The scenario's faults as a Chaos Toolkit experiment, run with chaoslib: chaostoolkit-kubernetes actions for pod
kills, drains, cordons and scaling, simdeploy's own python actions for the rest, each waiting for its moment.

The experiment is plain data (chaostoolkit-lib's format): the steady-state hypothesis is every Deployment of the
scenario available and healthy; the method is the scenario's timeline; the rollbacks undo what a fault leaves
behind on the cluster (cordoned nodes). It runs with the `always` rollback strategy, so a game day's cluster is
cleaned up however the run ends.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from simdeploy.k8s.labels import format_selector, parse_selector
from simdeploy.scenario import schema
from simdeploy.scenario.build import describe
from simdeploy.scenario.loader import Scenario

CHAOS_ACTIONS = "simdeploy.drill.chaos_actions"
SERVED_ONLY = (schema.SetBehaviourAction, schema.FlagAction, schema.SetRolloutAction, schema.SetWeightsAction)
ARGO = (schema.RolloutAction,)


@dataclass
class Target:
    """Where the experiment runs, and how the scenario's names map onto that cluster."""

    kubeconfig: str
    context: str
    namespace: str  # the drill's own namespace on the cluster
    served: bool  # a `simdeploy serve`: its own faults (behaviour, flags, routes, node failure) are available
    zero: float  # the drill's time zero, in the cluster's clock (see timebase.py)
    nodes: dict[str, str] = field(default_factory=dict)  # scenario node -> cluster node
    manifests: Callable[[list[dict]], list[dict]] = lambda objects: objects  # namespace and image mapping
    containers: Callable[[str, str, str, str], list[dict]] = lambda ns, deployment, container, image: []


def unsupported(scenario: Scenario, served: bool) -> list[str]:
    """The scenario's timeline actions this cluster cannot inject, said as `timeline[i] (action): why`."""
    found = []
    for index, action in enumerate(scenario.spec.timeline):
        if isinstance(action, ARGO) and not served:
            found.append(f"timeline[{index}] ({describe(action)}): needs Argo Rollouts' controller; drill it on serve")
        elif isinstance(action, SERVED_ONLY) and not served:
            found.append(f"timeline[{index}] ({describe(action)}): only `simdeploy serve` can inject this")
        elif isinstance(action, schema.NodeAction) and action.action == "fail-node" and not served:
            found.append(f"timeline[{index}] ({describe(action)}): stop the node's machine by hand (kind: docker stop)")
    return found


def experiment(scenario: Scenario, drill_name: str, target: Target, duration: float) -> dict:
    """The Chaos Toolkit experiment of a drill's faults."""
    namespace = target.namespace
    method: list[dict] = []
    touched_nodes: set[str] = set()
    for index, action in sorted(enumerate(scenario.spec.timeline), key=lambda pair: (pair[1].at, pair[0])):
        activity = _activity(scenario, index, action, target)
        if activity is None:
            continue
        method.append(_wait(f"until {action.at:g}s (timeline[{index}])", action.at))
        method.append(activity)
        if isinstance(action, schema.NodeAction) and action.action in ("cordon", "drain"):
            touched_nodes.add(target.nodes.get(action.node, action.node))
    method.append(_wait(f"until the scenario ends at {duration:g}s", duration))
    deployments = [o["metadata"]["name"] for o in scenario.manifests if o["kind"] == "Deployment"]
    return {
        "version": "1.0.0",
        "title": f"simdeploy drill {drill_name}: the faults of scenario {scenario.name}",
        "description": scenario.spec.metadata.description or f"the timeline of {scenario.name}",
        "tags": ["simdeploy", "drill", drill_name],
        "configuration": {
            "ns": namespace,
            "simdeploy_clock": "served" if target.served else "wall",
            "simdeploy_zero": target.zero,
        },
        "secrets": {"k8s": {"KUBECONFIG": target.kubeconfig, "KUBERNETES_CONTEXT": target.context}},
        "steady-state-hypothesis": {
            "title": "every Deployment of the scenario is available and healthy",
            "probes": [
                {
                    "type": "probe",
                    "name": f"deployment {name} available and healthy",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaosk8s.deployment.probes",
                        "func": "deployment_available_and_healthy",
                        "secrets": ["k8s"],
                        "arguments": {"name": name, "ns": namespace, "raise_on_unavailable": False},
                    },
                }
                for name in deployments
            ],
        },
        "method": method,
        "rollbacks": [
            _python(f"uncordon {node}", "chaosk8s.node.actions", "uncordon_node", {"name": node})
            for node in sorted(touched_nodes)
        ],
    }


def _activity(scenario: Scenario, index: int, action: schema.ActionBase, target: Target) -> dict | None:
    ns = target.namespace
    name = f"timeline[{index}] {describe(action)}"
    match action:
        case schema.DeletePodsAction():
            selector = action.selector if isinstance(action.selector, str) else format_selector(action.selector)
            parse_selector(selector)  # checked at load already
            arguments = {"label_selector": selector, "ns": ns, "rand": True}
            if action.percent is not None:
                arguments.update(mode="percentage", qty=action.percent)
            elif action.count is not None:
                arguments.update(qty=action.count)
            else:
                arguments.update(all=True)
            if action.grace_period is not None:
                arguments["grace_period"] = action.grace_period
            return _python(name, "chaosk8s.pod.actions", "terminate_pods", arguments)
        case schema.ScaleAction():
            arguments = {"name": action.deployment, "replicas": action.replicas, "ns": ns}
            return _python(name, "chaosk8s.deployment.actions", "scale_deployment", arguments)
        case schema.NodeAction() if action.action == "drain":
            node = target.nodes.get(action.node, action.node)
            arguments = {"name": node, "delete_pods_with_local_storage": True, "timeout": 300}
            # chaosk8s waits for the evictions, polling every 10 s of wall time: in the background, so the next
            # faults keep their moments (and on a fast served clock, those 10 s are minutes).
            return {**_python(name, "chaosk8s.node.actions", "drain_nodes", arguments), "background": True}
        case schema.NodeAction() if action.action in ("cordon", "uncordon"):
            node = target.nodes.get(action.node, action.node)
            func = "cordon_node" if action.action == "cordon" else "uncordon_node"
            return _python(name, "chaosk8s.node.actions", func, {"name": node})
        case schema.SetImageAction() if action.deployment:
            containers = target.containers(ns, action.deployment, action.container, action.image)
            arguments = {"deployment": action.deployment, "containers": containers, "ns": ns}
            return _python(name, CHAOS_ACTIONS, "set_image", arguments)
        case schema.RolloutUndoAction() if action.deployment:
            arguments = {"deployment": action.deployment, "to_revision": action.to_revision, "ns": ns}
            return _python(name, CHAOS_ACTIONS, "rollout_undo", arguments)
        case schema.ApplyAction():
            objects = target.manifests(copy.deepcopy(scenario.action_manifests.get(index, [])))
            return _python(name, CHAOS_ACTIONS, "apply_manifests", {"manifests": objects})
        case schema.PatchAction():
            kind, object_name = action.target.split("/", 1)
            arguments = {"kind": _KINDS.get(kind.lower(), kind), "name": object_name, "patch": action.patch, "ns": ns}
            return _python(name, CHAOS_ACTIONS, "patch_object", arguments)
    if not target.served:
        return None  # refused before the run (unsupported): never reached
    served = action.model_dump(by_alias=True, exclude_none=True, exclude={"at"})
    if served.get("namespace") is not None or isinstance(action, schema.SetImageAction | schema.RolloutUndoAction):
        served["namespace"] = ns
    if isinstance(action, schema.NodeAction):
        served["node"] = target.nodes.get(action.node, action.node)
    return _python(name, CHAOS_ACTIONS, "served_action", {"action": served})


_KINDS = {"deployment": "Deployment", "deploy": "Deployment", "service": "Service", "svc": "Service", "node": "Node"}


def _python(name: str, module: str, func: str, arguments: dict) -> dict:
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "python", "module": module, "func": func, "secrets": ["k8s"], "arguments": arguments},
    }


def _wait(name: str, seconds: float) -> dict:
    return _python(f"wait {name}", CHAOS_ACTIONS, "wait_until", {"seconds": seconds})


# -- running it ------------------------------------------------------------------------------------------------


def run(experiment: dict, observation) -> dict:
    """Run the experiment with chaoslib in this (the main) thread; its journal. Each activity lands on the
    observed timeline as a `Chaos` event at the drill's time."""
    from chaoslib.experiment import run_experiment
    from chaoslib.run import RunEventHandler

    def event(name: str, reason: str, message: str, warning: bool = False) -> None:
        with observation.lock:
            observation.advance()
            observation.recorder.event("Chaos", name, reason, message, warning)

    class Timeline(RunEventHandler):
        def start_activity(self, activity: dict) -> None:
            if not activity.get("name", "").startswith("wait "):
                event(activity.get("name", "?"), "ActivityStarted", f"{activity.get('type')} started")

        def activity_completed(self, activity: dict, run: dict) -> None:
            if activity.get("name", "").startswith("wait ") and run.get("status") == "succeeded":
                return
            failed = run.get("status") != "succeeded"
            detail = "; ".join(run.get("exception") or [])[-300:] if failed else str(run.get("output"))[:200]
            event(activity.get("name", "?"), "ActivityFailed" if failed else "ActivityCompleted", detail, failed)

        def interrupted(self, experiment: dict, journal: dict) -> None:
            event("experiment", "Interrupted", "the experiment was interrupted", True)

        def start_rollbacks(self, experiment: dict) -> None:
            event("experiment", "Rollbacks", "running the experiment's rollbacks")

    settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
    # chaostoolkit-kubernetes finds the kubeconfig through $KUBECONFIG only (chaosk8s get_config_path) and then
    # loads the client's default location, which the kubernetes package read from $KUBECONFIG when imported:
    # both point at the drill's kubeconfig while the experiment runs. The context comes from its secrets.
    from kubernetes.config import kube_config

    path = experiment["secrets"]["k8s"]["KUBECONFIG"]
    previous = os.environ.get("KUBECONFIG"), kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    os.environ["KUBECONFIG"], kube_config.KUBE_CONFIG_DEFAULT_LOCATION = path, path
    try:
        return run_experiment(experiment, settings=settings, event_handlers=[Timeline()])
    finally:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous[1]
        if previous[0] is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous[0]


def summary(journal: dict) -> dict:
    """What the journal says, read as chaostoolkit-lib means it: the CLI's exit code alone hides a steady state
    missed before the method (status stays "completed") and failed actions (the journal stays "completed")."""
    before = (journal.get("steady_states") or {}).get("before") or {}
    after = (journal.get("steady_states") or {}).get("after") or {}
    failed = [r["activity"]["name"] for r in journal.get("run") or [] if r.get("status") != "succeeded"]
    rollbacks = [r["activity"]["name"] for r in journal.get("rollbacks") or [] if r.get("status") != "succeeded"]
    problems = []
    if journal.get("status") not in ("completed", None):
        problems.append(f"chaos experiment {journal.get('status')}")
    if before and not before.get("steady_state_met"):
        problems.append("the steady state did not hold before the faults: the method did not run")
    if journal.get("deviated"):
        problems.append("the steady state did not hold after the faults (deviated)")
    problems += [f"chaos action failed: {name}" for name in failed]
    problems += [f"chaos rollback failed: {name}" for name in rollbacks]
    return {
        "status": journal.get("status"),
        "deviated": bool(journal.get("deviated")),
        "steady_state_before": before.get("steady_state_met"),
        "steady_state_after": after.get("steady_state_met"),
        "failed_activities": failed,
        "failed_rollbacks": rollbacks,
        "problems": problems,
    }
