"""What a runbook step does to the simulated cluster: kubectl lines, flag changes, traffic shifts, GitOps syncs.

Each kubectl line (parsed by k8s/kubectl_cli.py) becomes the operation kubectl performs, through the same write
path `simdeploy serve` uses (sim/cluster/api.py); its outcome is what kubectl would print, and for the commands
that block (rollout status, wait, drain, argo rollouts status) what they wait for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import yaml

from simdeploy.delivery.gitops.sync import apply_manifest_set
from simdeploy.delivery.runbook.conditions import deadline_exceeded, deployment_condition, rolled_out
from simdeploy.k8s import patch as patches
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.image_policy import kubectl_says
from simdeploy.k8s.kubectl_cli import KubectlCommand
from simdeploy.k8s.labels import parse_selector
from simdeploy.sim.cluster.api import Denied, Invalid
from simdeploy.sim.cluster.kubectl import KubectlError
from simdeploy.sim.cluster.store import NotFound
from simdeploy.sim.simulation import Simulation
from simdeploy.sim.traffic.model import Route

# A blocking command's check: (done, failed, message) now.
Check = Callable[[Simulation], tuple[bool, bool, str]]
KUBECTL_WAIT_TIMEOUT = 30.0  # `kubectl wait` gives up after 30 s unless told otherwise (kubectl/pkg/cmd/wait)


@dataclass
class Outcome:
    """What a step's action printed; a blocking action also says what it waits for and for how long."""

    message: str
    failed: bool = False
    until: Check | None = None
    timeout: float | None = None  # None: as long as it takes (kubectl rollout status's default)


def run_kubectl(sim: Simulation, command: KubectlCommand, namespace: str, manifests: list[dict]) -> Outcome:
    """Perform one parsed kubectl line on the simulation; kubectl's errors are failed outcomes, not exceptions."""
    ns = command.namespace or namespace
    try:
        return _KUBECTL[command.command](sim, command, ns, manifests)
    except KubectlError as error:
        return Outcome(f"error: {error}", failed=True)
    except Denied as error:  # an admission gate's refusal, worded as kubectl prints its Status
        return Outcome(kubectl_says(error.denial), failed=True)
    except Invalid as error:
        return Outcome(f"The {error}", failed=True)
    except NotFound:
        resource = (command.kind or "object").lower()
        return Outcome(f'Error from server (NotFound): {resource}s "{command.name}" not found', failed=True)
    except patches.PatchError as error:
        return Outcome(f"error: {error}", failed=True)


def _read(sim, command, ns, manifests) -> Outcome:
    return Outcome(f"(read) {command.line}")


def _undo(sim, command, ns, manifests) -> Outcome:
    return Outcome(sim.kubectl.rollout_undo(ns, command.name, command.options.get("to-revision", 0)))


def _pause(sim, command, ns, manifests) -> Outcome:
    return Outcome(sim.kubectl.pause(ns, command.name))


def _resume(sim, command, ns, manifests) -> Outcome:
    return Outcome(sim.kubectl.resume(ns, command.name))


def _restart(sim, command, ns, manifests) -> Outcome:
    return Outcome(sim.kubectl.rollout_restart(ns, command.name))


def _set_image(sim, command, ns, manifests) -> Outcome:
    lines = [
        sim.kubectl.set_image(ns, command.name, container, image, command.kind)
        for container, image in command.options["images"].items()
    ]
    return Outcome("\n".join(lines))


def _scale(sim, command, ns, manifests) -> Outcome:
    replicas = command.options["replicas"]
    if command.kind == "Deployment":
        return Outcome("\n".join(sim.kubectl.scale(ns, name, replicas) for name in command.names))
    for name in command.names:
        sim.api.patch(command.kind, ns, name, patches.MERGE, {"spec": {"replicas": replicas}})
    return Outcome("\n".join(f"{command.kind.lower()}/{name} scaled" for name in command.names))


def _patch(sim, command, ns, manifests) -> Outcome:
    try:
        document = yaml.safe_load(command.options["patch"])  # kubectl reads -p as JSON or YAML
    except yaml.YAMLError as error:
        return Outcome(f"error: unable to parse the patch: {error}", failed=True)
    kind = command.kind
    sim.api.patch(kind, "" if kind == "Node" else ns, command.name, command.options.get("type", "strategic"), document)
    return Outcome(f"{kind.lower()}/{command.name} patched")


def _delete(sim, command, ns, manifests) -> Outcome:
    if command.options.get("selector"):
        pods = sim.store.list("Pod", ns, parse_selector(command.options["selector"]))
    else:
        pods = [sim.store.get("Pod", ns, name) for name in command.names]
    grace = command.options.get("grace-period")
    if command.options.get("now"):
        grace = 1
    deleted = []
    for pod in pods:
        sim.api.delete_pod(pod, grace if grace is None or grace >= 0 else None)
        deleted.append(f'pod "{pod["metadata"]["name"]}" deleted')
    if not deleted:
        return Outcome("No resources found")
    if not command.options.get("wait", True):
        return Outcome("\n".join(deleted))
    uids = {(p["metadata"]["name"], p["metadata"]["uid"]) for p in pods}

    def gone(sim: Simulation) -> tuple[bool, bool, str]:
        # kubectl delete waits for the pods to be gone (--wait defaults to true): their graceful termination.
        left = [
            name
            for name, uid in uids
            if ((sim.store.find("Pod", ns, name) or {}).get("metadata") or {}).get("uid") == uid
        ]
        return not left, False, "\n".join(deleted) if not left else f"{len(left)} pod(s) terminating"

    return Outcome("\n".join(deleted), until=gone)


def _cordon(sim, command, ns, manifests) -> Outcome:
    _node(sim, command.name)
    sim.nodes.cordon(command.name, unschedulable=command.command == "cordon")
    return Outcome(f"node/{command.name} {command.command}ed")


def _drain(sim, command, ns, manifests) -> Outcome:
    _node(sim, command.name)
    sim.nodes.drain(command.name)

    def drained(sim: Simulation) -> tuple[bool, bool, str]:
        left = [p for p in sim.store.list("Pod") if p["spec"].get("nodeName") == command.name]
        return not left, False, f"node/{command.name} drained" if not left else f"{len(left)} pod(s) left"

    return Outcome(f"node/{command.name} cordoned", until=drained, timeout=_timeout(command, None))


def _apply(sim, command, ns, manifests) -> Outcome:
    return Outcome("\n".join(sim.kubectl.apply(obj) for obj in manifests))


def _rollout_status(sim, command, ns, manifests) -> Outcome:
    name = command.name

    def done(sim: Simulation) -> tuple[bool, bool, str]:
        deployment = sim.store.find("Deployment", ns, name)
        if deployment is None:
            return True, True, f'Error from server (NotFound): deployments.apps "{name}" not found'
        finished, message = rolled_out(deployment)
        return finished or deadline_exceeded(deployment), not finished, message

    return Outcome(f"Waiting for deployment {name!r} rollout to finish", until=done, timeout=_timeout(command, None))


def _wait(sim, command, ns, manifests) -> Outcome:
    wanted = command.options["for"]
    kind = command.kind

    def check(sim: Simulation) -> tuple[bool, bool, str]:
        obj = sim.store.find(kind, ns, command.name)
        if wanted == "delete":
            return obj is None, False, f"{kind.lower()}/{command.name} condition met"
        if obj is None:
            return True, True, f'Error from server (NotFound): {kind.lower()}s "{command.name}" not found'
        condition, _, value = wanted.partition("=")[2].partition("=")
        expected = (value or "true").lower()
        met = _condition_status(obj, condition).lower() == expected
        return met, False, f"{kind.lower()}/{command.name} condition met" if met else ""

    return Outcome(f"waiting for {wanted}", until=check, timeout=_timeout(command, KUBECTL_WAIT_TIMEOUT))


def _condition_status(obj: dict, condition: str) -> str:
    if obj["kind"] == "Deployment" and condition in ("Available", "Progressing"):
        return "True" if deployment_condition(obj, condition) else "False"
    for entry in (obj.get("status") or {}).get("conditions") or ():
        if entry.get("type", "").lower() == condition.lower():
            return str(entry.get("status", ""))
    return ""


def _argo(sim, command, ns, manifests) -> Outcome:
    controller = sim.rollouts
    if controller is None:
        raise KubectlError(f'rollouts.argoproj.io "{command.name}" not found')
    verb = command.command.removeprefix("argo rollouts ")
    if verb == "abort":
        return Outcome(controller.abort_action(ns, command.name))
    if verb == "promote":
        return Outcome(controller.promote(ns, command.name, command.options.get("full", False)))
    if verb == "retry":
        return Outcome(controller.retry(ns, command.name))
    if verb == "undo":
        return Outcome(controller.undo(ns, command.name, command.options.get("to-revision", 0)))
    if verb in ("pause", "resume"):
        return Outcome(controller.pause(ns, command.name, verb == "pause"))
    if verb == "get":
        return Outcome(f"(read) {command.line}")

    def healthy(sim: Simulation) -> tuple[bool, bool, str]:
        rollout = sim.store.find("Rollout", ns, command.name)
        phase = ((rollout or {}).get("status") or {}).get("phase", "")
        return phase in ("Healthy", "Degraded"), phase != "Healthy", phase

    return Outcome(f"waiting for rollout {command.name}", until=healthy, timeout=_timeout(command, None))


def _node(sim: Simulation, name: str) -> None:
    if sim.store.find("Node", "", name) is None:
        raise KubectlError(f'nodes "{name}" not found')


def _timeout(command: KubectlCommand, default: float | None) -> float | None:
    text = command.options.get("timeout")
    seconds = parse_duration(text) if text else default
    return seconds if seconds else None  # kubectl's 0s means no timeout


_KUBECTL = {
    "rollout undo": _undo,
    "rollout status": _rollout_status,
    "rollout pause": _pause,
    "rollout resume": _resume,
    "rollout restart": _restart,
    "rollout history": _read,
    "set image": _set_image,
    "scale": _scale,
    "patch": _patch,
    "delete": _delete,
    "cordon": _cordon,
    "uncordon": _cordon,
    "drain": _drain,
    "apply": _apply,
    "wait": _wait,
    "get": _read,
    "describe": _read,
    **{f"argo rollouts {verb}": _argo for verb in ("abort", "promote", "undo", "retry", "pause", "resume")},
    "argo rollouts status": _argo,
    "argo rollouts get": _argo,
}


# -- who carries the steps out ------------------------------------------------------------------------------


class Operator(Protocol):
    """What a runbook step does, by its kind; the engine decides when, and judges the outcome."""

    def kubectl(self, command: KubectlCommand, manifests: list[dict]) -> Outcome: ...

    def flag(self, spec: dict) -> Outcome: ...

    def traffic_shift(self, spec: dict) -> Outcome: ...

    def sync(self, objects: list[dict]) -> str: ...

    def migrate(self, spec: dict) -> Outcome: ...


class SimulatedOperator:
    """The steps done on the simulated cluster, through the write path `simdeploy serve` uses."""

    def __init__(self, sim: Simulation, namespace: str):
        self.sim = sim
        self.namespace = namespace

    def kubectl(self, command: KubectlCommand, manifests: list[dict]) -> Outcome:
        return run_kubectl(self.sim, command, self.namespace, manifests)

    def flag(self, spec: dict) -> Outcome:
        return change_flag(self.sim, spec)

    def traffic_shift(self, spec: dict) -> Outcome:
        return shift_traffic(self.sim, spec, self.namespace)

    def sync(self, objects: list[dict]) -> str:
        return sync_manifests(self.sim, objects)

    def migrate(self, spec: dict) -> Outcome:
        return forward_fix(self.sim, spec)


# -- the other step actions ---------------------------------------------------------------------------------


def change_flag(sim: Simulation, spec: dict) -> Outcome:
    """disable / enable a flag, or set its rollout percentage, in the flag service (SDKs poll it)."""
    if sim.flags is None:
        return Outcome("error: the scenario has no feature flags", failed=True)
    name = spec.get("disable") or spec.get("enable") or spec.get("setRollout")
    try:
        if spec.get("disable"):
            return Outcome(sim.flags.disable(name))
        if spec.get("enable"):
            return Outcome(sim.flags.enable(name))
        return Outcome(sim.flags.set_rollout(name, spec["percent"]))
    except (KeyError, ValueError) as error:
        return Outcome(f"error: {error}", failed=True)


def shift_traffic(sim: Simulation, spec: dict, namespace: str) -> Outcome:
    """Send traffic to the stable side: a route's weights (a mesh) or a Service's selector (blue/green)."""
    ns = spec.get("namespace") or namespace
    if spec.get("route") is not None:
        sim.traffic.set_route(Route(ns, spec["route"], dict(spec["weights"])))
        weights = ", ".join(f"{name}={weight:g}" for name, weight in spec["weights"].items())
        sim.recorder.event("Route", spec["route"], "SetWeights", f"route {spec['route']} weights now {weights}")
        return Outcome(f"route/{spec['route']} weights set: {weights}")
    try:
        sim.api.patch("Service", ns, spec["service"], patches.MERGE, {"spec": {"selector": spec["selector"]}})
    except NotFound:
        return Outcome(f'Error from server (NotFound): services "{spec["service"]}" not found', failed=True)
    return Outcome(f"service/{spec['service']} patched: selector {json.dumps(spec['selector'], sort_keys=True)}")


def forward_fix(sim: Simulation, spec: dict) -> Outcome:
    """Run the pending migrations up to `to` by hand (Flyway migrate), waited for as the terminal waits for it."""
    runtime = sim.schema
    names = sorted(runtime.states) if runtime is not None else []
    database = spec.get("database") or (names[0] if len(names) == 1 else None)
    if database not in names:
        return Outcome(f"error: no database {database or '(name one)'} in the scenario", failed=True)
    state = {"done": False, "ok": False, "message": ""}

    def done(ok: bool, message: str) -> None:
        state.update(done=True, ok=ok, message=message)

    runtime.run(database, spec.get("to"), "runbook", done)

    def finished(sim: Simulation) -> tuple[bool, bool, str]:
        return state["done"], not state["ok"], state["message"]

    return Outcome(f"flyway migrate on {database}", until=finished)


def sync_manifests(sim: Simulation, objects: list[dict]) -> str:
    """What a GitOps controller's sync does: apply every object of the desired manifest set."""
    return apply_manifest_set(sim, objects)
