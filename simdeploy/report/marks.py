"""What the timeline figure marks: every operator action, alert firings, progress deadlines and Argo aborts."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from simdeploy.sim.result import Action, Event, Result

ACTION, FIRING, WARNING, FAILED = "#6b6b6b", "#d62728", "#e08a00", "#8c2d04"
KINDS = {ACTION: "operator action", FIRING: "alert firing", WARNING: "deadline or abort", FAILED: "action failed"}


@dataclass
class Marker:
    t: float
    label: str
    colour: str
    until: float | None = None  # a firing alert's span ends here (resolved, or the end of the run)


def image_tag(image: str) -> str:
    """The short name people use for an image: its tag, or the start of its digest."""
    if "@" in image:
        return "@" + image.split("@", 1)[1].split(":")[-1].rstrip(".")[:8]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def version_name(result: Result, image: str) -> str:
    """The version the scenario names an image with, else its tag."""
    return result["versions"].get(image) or image_tag(image)


def markers(result: Result) -> list[Marker]:
    """One marker per moment and colour: actions (grey; failed ones brown), alerts (red), deadlines and aborts."""
    workloads = {*result["summary"]["deployments"], *(result["summary"].get("argo_rollouts") or {})}
    several = len(workloads) > 1
    found = [_action_marker(action, result, several) for action in result["actions"]]
    found += _event_markers(result, several)
    found += _client_writes(result)
    merged: dict[tuple[float, str], list[Marker]] = defaultdict(list)
    for marker in found:
        merged[(marker.t, marker.colour)].append(marker)
    out = []
    for (t, colour), group in sorted(merged.items()):
        label = ", ".join(text if n == 1 else f"{text} ×{n}" for text, n in Counter(m.label for m in group).items())
        out.append(Marker(t, label, colour, max((m.until for m in group if m.until is not None), default=None)))
    return out


def _event_markers(result: Result, several: bool) -> list[Marker]:
    found: list[Marker] = []
    firing: dict[tuple[str, str], Marker] = {}
    for e in result["events"]:
        t, reason, name = e["t"], e["reason"], e["name"]
        alert = (name, e["message"].rsplit("; ", 1)[0])
        if reason == "AlertFiring":
            firing[alert] = Marker(t, f"{name} firing", FIRING, until=result["duration_s"])
            found.append(firing[alert])
        elif reason == "AlertResolved":
            key = alert if alert in firing else next((k for k in firing if k[0] == name), None)
            if key is not None:
                firing.pop(key).until = t
        elif reason == "ProgressDeadlineExceeded":
            found.append(Marker(t, "progress deadline" + (f" {name}" if several else ""), WARNING))
        elif reason == "RolloutAborted" and "by the operator" not in e["message"]:  # the operator's is an action
            found.append(Marker(t, "aborted" + (f" {name}" if several else "") + _why(e), WARNING))
    return found


# What a kubectl (or client) write does to an object, by HTTP method.
_VERBS = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
SAME_WRITE_WITHIN = 5.0  # seconds: a drain's evictions, a `kubectl apply` of several objects, read as one mark


def _client_writes(result: Result) -> list[Marker]:
    """Under `serve`, what the team's kubectl changed (the runbook as typed): a grey mark per write, repeats folded."""
    session = result.get("session")
    found: list[tuple[Marker, str, int]] = []  # marker, kind of write, how many
    for request in session["requests"]["log"] if session else []:
        verb, objects = _VERBS.get(request["method"]), _path_objects(request["path"])
        if verb is None or request["code"] >= 400 or not objects or objects[2:3] == ["proxy"]:
            continue  # reads, refusals, `simdeploy ctl` (its actions are in `actions`), probes through the proxy
        if objects[-1:] == ["eviction"]:
            verb, objects = "evict", objects[:-1]
        kind = f"kubectl {verb} {objects[0]}"
        if found and found[-1][1] == kind and request["at_s"] - found[-1][0].t <= SAME_WRITE_WITHIN:
            marker, _, count = found[-1]
            marker.label, found[-1] = f"{kind} ×{count + 1}", (marker, kind, count + 1)
            continue
        label = f"kubectl {verb} {'/'.join(objects[:2])}" + (f" ({objects[2]})" if len(objects) > 2 else "")
        found.append((Marker(request["at_s"], label, ACTION), kind, 1))
    return [marker for marker, _, _ in found]


def _path_objects(path: str) -> list[str]:
    """`[resource, name, subresource]` of a Kubernetes API path (as far as it goes); [] for any other path and
    for the access reviews, which ask and change nothing."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        rest = parts[2:]
    elif parts[0] == "apis" and len(parts) > 3 and parts[1] not in _REVIEW_GROUPS:
        rest = parts[3:]
    else:
        return []
    in_namespace = rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in ("status", "finalize")
    return rest[2:] if in_namespace else rest


_REVIEW_GROUPS = ("authorization.k8s.io", "authentication.k8s.io")


def _why(e: Event) -> str:
    metric = re.search(r'Metric "([^"]+)" assessed (\w+)', e["message"])
    return f": {metric.group(1)} {metric.group(2).lower()}" if metric else ""


def _action_marker(action: Action, result: Result, several: bool) -> Marker:
    name, target = action["action"], action["target"] or ""
    if action["failed"]:
        return Marker(action["t"], f"{name} failed", FAILED)
    who = f" {target}" if several and target else ""
    label = _LABELS.get(name, _plain)(action, result, who)
    return Marker(action["t"], label or f"{name}{who}", ACTION)


def _plain(action: Action, _result: Result, who: str) -> str:
    return f"{action['action']}{who}"


def _set_image(action: Action, result: Result, who: str) -> str:
    image = action["message"].rsplit(" image updated to ", 1)
    return f"set image{who} " + (version_name(result, image[1]) if len(image) == 2 else "(unchanged)")


def _undo(action: Action, _result: Result, who: str) -> str:
    revision = re.search(r"(?:rolled back to|undo to) revision (\d+)", action["message"])
    skipped = "skipped" in action["message"]
    return f"rollout undo{who}" + (" (skipped)" if skipped else f" → rev {revision.group(1)}" if revision else "")


def _scale(action: Action, _result: Result, who: str) -> str:
    return f"scale{who} → {action['message'].rsplit(' ', 1)[-1]}"


def _flag(action: Action, _result: Result, _who: str) -> str:
    verb = action["action"].removesuffix("-flag")
    return f"{verb} {action['target']}"


def _set_rollout(action: Action, _result: Result, _who: str) -> str:
    percent = re.search(r"rolled out to (\d+%)", action["message"])
    return f"{action['target']} → {percent.group(1) if percent else '?'}"


def _node(action: Action, _result: Result, _who: str) -> str:
    return f"{action['target']} fails" if action["action"] == "fail-node" else f"{action['action']} {action['target']}"


def _delete_pods(action: Action, _result: Result, _who: str) -> str:
    count = re.match(r"(\d+) pod", action["message"])
    return f"delete {count.group(1)} pod{'s' * (count.group(1) != '1')}" if count else "delete pods"


def _behaviour(action: Action, result: Result, _who: str) -> str:
    return f"behaviour {version_name(result, action['target'] or '')}"


def _objects(action: Action, _result: Result, _who: str) -> str:
    """`patch service/x`, `apply deployment/y`: the objects kubectl named (the message's first words)."""
    objects = [line.split(" ", 1)[0] for line in action["message"].splitlines() if line.strip()]
    return f"{action['action']} {', '.join(objects[:2])}" + (" …" if len(objects) > 2 else "")


def _weights(action: Action, result: Result, _who: str) -> str:
    said = next((e["message"] for e in result["events"] if e["t"] == action["t"] and e["reason"] == "SetWeights"), None)
    return "weights " + (said.split(" weights now ", 1)[-1] if said else "changed")


_LABELS: Mapping = {
    "set-image": _set_image,
    "rollout-undo": _undo,
    "scale": _scale,
    "enable-flag": _flag,
    "disable-flag": _flag,
    "set-rollout": _set_rollout,
    "cordon": _node,
    "uncordon": _node,
    "drain": _node,
    "fail-node": _node,
    "delete-pods": _delete_pods,
    "set-behaviour": _behaviour,
    "patch": _objects,
    "apply": _objects,
    "set-weights": _weights,
}
