"""The runbook against what the team did: each step matched to the first command (or facilitator action) after the
fault with the same verb and target, and the steps the runbook expected that nobody did."""

from __future__ import annotations

from simdeploy.k8s.kubectl_cli import READ_ONLY, KubectlCommand
from simdeploy.scenario.drill_build import describe_step
from simdeploy.scenario.drill_loader import Drill

# The API's resource names for the kinds a runbook's kubectl lines act on.
RESOURCES = {
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "Pod": "pods",
    "Service": "services",
    "Node": "nodes",
    "ConfigMap": "configmaps",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "Rollout": "rollouts",
}
_READS = ("get", "list", "watch")
# Commands that only wait and watch: done when the same kubectl command looked at the object, whatever the verb.
_WATCHING = {"rollout status", "wait", "argo rollouts status"}


def expected_steps(drill: Drill) -> list[dict]:
    """The runbook's steps as what a person would be seen doing: a kubectl command on objects, a flag or route
    change in the facilitator's console, a write to a Service, an apply; waits are no action."""
    steps = []
    namespace = drill.namespace
    for index, spec in enumerate(drill.runbook.steps):
        step = {
            "name": spec.name,
            "action": spec.action,
            "text": describe_step(spec),
            "when": None,
            "look_for": None,
        }
        if spec.when is not None:
            condition = spec.when.model_dump(exclude_none=True)
            step["when"] = ", ".join(f"{k}={v}" for k, v in condition.items() if k != "namespace")
        if spec.kubectl is not None:
            step["look_for"] = _kubectl(drill.commands[index], namespace, drill.apply_manifests.get(index, []))
        elif spec.flag is not None:
            flag = spec.flag
            change = "disable-flag" if flag.disable else "enable-flag" if flag.enable else "set-rollout"
            step["look_for"] = {"action": change, "target": flag.disable or flag.enable or flag.set_rollout}
        elif spec.traffic_shift is not None:
            shift = spec.traffic_shift
            if shift.route is not None:
                step["look_for"] = {"action": "set-weights", "target": shift.route}
            else:
                target = ("services", shift.service, shift.namespace or namespace)
                step["look_for"] = {"command": None, "objects": [target], "write": True}
        elif spec.gitops_revert is not None:
            # a revert of the last manifest change, by hand: `kubectl apply` of the previous manifests
            step["look_for"] = {"command": "kubectl apply", "objects": [], "write": True}
        steps.append(step)
    return steps


def _kubectl(command: KubectlCommand, namespace: str, manifests: list[dict]) -> dict:
    if command.command == "apply":
        objects = [
            (RESOURCES.get(o["kind"], o["kind"].lower() + "s"), o["metadata"]["name"], _namespace(o, namespace))
            for o in manifests
        ]
    else:
        resource = RESOURCES[command.kind]
        where = "" if command.kind == "Node" else command.namespace or namespace
        objects = [(resource, name, where) for name in command.names] or [(resource, None, where)]
    write = command.command not in READ_ONLY and command.command not in _WATCHING
    return {"command": f"kubectl {command.command}", "objects": objects, "write": write}


def _namespace(obj: dict, default: str) -> str:
    return "" if obj["kind"] in ("Node", "Namespace") else obj["metadata"].get("namespace") or default


def match_steps(steps: list[dict], commands: list[dict], actions: list[dict], since: float | None) -> list[dict]:
    """Each step with who did it first after `since` (the fault): `done_by` {user, command, at_s}, or None.

    A kubectl step is done by the same kubectl command on one of its objects (the `Kubectl-Command` header), or,
    from a client that names no command, by the same kind of request on it: a write for a step that changes
    something, a read for one that looks. A flag or route step is done by the action on it: a player's through the
    flag console, or the facilitator's `ctl do` when the team asks. Waits are not actions: `status` "no action".
    """
    rows = []
    for step in steps:
        look_for = step["look_for"]
        found = None
        if look_for is not None and since is not None:
            if "action" in look_for:
                found = next((_by_action(a) for a in actions if _action_matches(a, look_for, since)), None)
            else:
                found = next((_by_command(c) for c in commands if _command_matches(c, look_for, since)), None)
        status = "no action" if look_for is None else "done" if found else "not done"
        rows.append({k: v for k, v in step.items() if k != "look_for"} | {"status": status, "done_by": found})
    return rows


def missed(rows: list[dict]) -> list[str]:
    """The steps the runbook expected and nobody did (conditional ones are listed apart by the report)."""
    return [row["name"] for row in rows if row["status"] == "not done" and row["when"] is None]


def _command_matches(command: dict, look_for: dict, since: float) -> bool:
    if command["at_s"] < since or command["role"] != "player":
        return False
    if look_for["write"] and not command["wrote"]:
        return False  # a step that changes something is done by a write the server accepted
    if look_for["command"] is not None and command["session"] is not None:
        if command["command"] != look_for["command"]:
            return False
        return not look_for["objects"] or _touches(command, look_for["objects"])
    if not look_for["write"] and not set(command["verbs"]) & set(_READS):
        return False  # a client that names no command: a read for a step that looks
    return bool(look_for["objects"]) and _touches(command, look_for["objects"])


def _touches(command: dict, objects: list[tuple[str, str | None, str]]) -> bool:
    targets = {tuple(t.split("/")[:2]) for t in command["targets"]}
    namespaces = set(command["namespaces"])
    for resource, name, namespace in objects:
        in_namespace = not namespace or not namespaces or namespace in namespaces
        if in_namespace and ((resource, name) in targets if name else any(t[0] == resource for t in targets)):
            return True
    return False


def _action_matches(action: dict, look_for: dict, since: float) -> bool:
    return (
        action["t"] >= since
        and not action["failed"]
        and action["action"] == look_for["action"]
        and action["target"] == look_for["target"]
    )


def _by_command(command: dict) -> dict:
    return {"user": command["user"], "command": command["command"], "at_s": command["at_s"]}


def _by_action(action: dict) -> dict:
    return {"user": action.get("by", "admin"), "command": f"{action['action']} {action['target']}", "at_s": action["t"]}
