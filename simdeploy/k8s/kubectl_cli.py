"""The kubectl command lines a runbook may hold: parsed into one `KubectlCommand`, or refused with the reason.

The subset is what incident runbooks type (rollout undo/status/pause/resume/restart/history, set image, scale,
patch, delete pod, cordon/uncordon/drain, apply -f, wait --for, get/describe, and the Argo Rollouts plugin's
abort/promote/undo/retry/pause/resume/status). Flags follow kubectl's (pflag) syntax: `--flag=value`,
`--flag value`, `-n value`, `-nvalue`, booleans as `--force` or `--force=false`. Anything else is an error
that says what is supported, so a runbook cannot silently do nothing.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from simdeploy.k8s.duration import parse_duration

# kubectl's resource names and short names for the kinds a runbook acts on (kubectl api-resources).
KINDS = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "replicaset": "ReplicaSet",
    "replicasets": "ReplicaSet",
    "rs": "ReplicaSet",
    "pod": "Pod",
    "pods": "Pod",
    "po": "Pod",
    "service": "Service",
    "services": "Service",
    "svc": "Service",
    "node": "Node",
    "nodes": "Node",
    "no": "Node",
    "configmap": "ConfigMap",
    "configmaps": "ConfigMap",
    "cm": "ConfigMap",
    "poddisruptionbudget": "PodDisruptionBudget",
    "poddisruptionbudgets": "PodDisruptionBudget",
    "pdb": "PodDisruptionBudget",
    "rollout": "Rollout",
    "rollouts": "Rollout",
    "ro": "Rollout",
}
# Qualified names (`deployments.apps/x`, `rollouts.argoproj.io/x`) resolve to the same kinds.
for _name, _kind in list(KINDS.items()):
    for _group in ("apps", "argoproj.io", "policy"):
        KINDS[f"{_name}.{_group}"] = _kind

_GLOBAL = {"namespace": str, "context": str, "kubeconfig": str, "request-timeout": str, "v": str}
_SHORT = {
    "n": "namespace",
    "f": "filename",
    "l": "selector",
    "o": "output",
    "p": "patch",
    "A": "all-namespaces",
    "w": "watch",
}
_OUTPUT = {"output": str}
# command -> (flags it takes and their types, kinds it acts on)
_COMMANDS: dict[str, tuple[dict[str, type], tuple[str, ...]]] = {
    "rollout undo": ({"to-revision": int}, ("Deployment",)),
    "rollout status": ({"timeout": str, "watch": bool, "revision": int}, ("Deployment",)),
    "rollout pause": ({}, ("Deployment",)),
    "rollout resume": ({}, ("Deployment",)),
    "rollout restart": ({}, ("Deployment",)),
    "rollout history": ({"revision": int, **_OUTPUT}, ("Deployment",)),
    "set image": ({}, ("Deployment", "Rollout")),
    "scale": ({"replicas": int, "current-replicas": int, "timeout": str}, ("Deployment", "ReplicaSet", "Rollout")),
    "patch": ({"patch": str, "type": str, **_OUTPUT}, ("Deployment", "Service", "ConfigMap", "Node", "Rollout")),
    "delete": ({"grace-period": int, "now": bool, "force": bool, "selector": str, "wait": bool}, ("Pod",)),
    "cordon": ({}, ("Node",)),
    "uncordon": ({}, ("Node",)),
    "drain": (
        {
            "ignore-daemonsets": bool,
            "delete-emptydir-data": bool,
            "force": bool,
            "grace-period": int,
            "timeout": str,
            "disable-eviction": bool,
            "pod-selector": str,
        },
        ("Node",),
    ),
    "apply": ({"filename": list, "server-side": bool, "force-conflicts": bool, **_OUTPUT}, ()),
    "wait": ({"for": str, "timeout": str, "selector": str}, ("Deployment", "Pod", "Rollout")),
    "get": ({"selector": str, "watch": bool, "all-namespaces": bool, **_OUTPUT}, tuple(set(KINDS.values()))),
    "describe": ({"selector": str}, tuple(set(KINDS.values()))),
    "argo rollouts abort": ({}, ("Rollout",)),
    "argo rollouts promote": ({"full": bool}, ("Rollout",)),
    "argo rollouts undo": ({"to-revision": int}, ("Rollout",)),
    "argo rollouts retry": ({}, ("Rollout",)),
    "argo rollouts pause": ({}, ("Rollout",)),
    "argo rollouts resume": ({}, ("Rollout",)),
    "argo rollouts status": ({"timeout": str, "watch": bool}, ("Rollout",)),
    "argo rollouts get": ({"watch": bool}, ("Rollout",)),
}
# Commands that only read: the responder looks, the cluster does not change.
READ_ONLY = {"rollout history", "get", "describe", "argo rollouts get"}
# Commands that block until a condition holds or their timeout passes.
BLOCKING = {"rollout status", "wait", "argo rollouts status", "drain", "delete"}
SUPPORTED = ", ".join(sorted(_COMMANDS))


class KubectlLineError(ValueError):
    """The line is not a kubectl command of the supported subset; the message says why."""


@dataclass(frozen=True)
class KubectlCommand:
    """One parsed kubectl line: what it does (`command`), to what, with which options."""

    command: str  # a key of _COMMANDS, e.g. "rollout undo", "argo rollouts promote"
    kind: str | None  # the Kubernetes kind it acts on (None for apply -f)
    names: tuple[str, ...]  # object names (empty with a selector or for apply)
    namespace: str | None  # -n / --namespace, None when not given
    options: dict = field(default_factory=dict)  # the command's flags, typed, plus parsed arguments
    line: str = ""

    @property
    def name(self) -> str:
        return self.names[0] if self.names else ""

    @property
    def reads_only(self) -> bool:
        return self.command in READ_ONLY

    @property
    def blocks(self) -> bool:
        return self.command in BLOCKING


def parse_kubectl(line: str) -> KubectlCommand:
    """Parse a kubectl command line ("kubectl" in front is optional); KubectlLineError when it cannot be run."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise KubectlLineError(f"cannot split the line: {error}") from None
    if words[:1] == ["kubectl"]:
        words = words[1:]
    if not words:
        raise KubectlLineError("empty command")
    leading = []  # global flags may come before the command: `kubectl -n prod rollout status ...`
    while words and words[0].startswith("-"):
        takes_value = "=" not in words[0] and not (words[0].startswith("-n") and len(words[0]) > 2)
        count = 2 if takes_value else 1
        leading, words = leading + words[:count], words[count:]
    if not words:
        raise KubectlLineError("no command after the flags")
    command, rest = _command(words)
    flags, positionals = _flags(command, leading + rest)
    options = {k: v for k, v in flags.items() if k not in _GLOBAL}
    namespace = flags.get("namespace")
    kind, names, options = _arguments(command, positionals, options)
    return KubectlCommand(command, kind, tuple(names), namespace, options, line.strip())


def _command(words: list[str]) -> tuple[str, list[str]]:
    for length in (3, 2, 1):
        candidate = " ".join(words[:length])
        if candidate in _COMMANDS:
            return candidate, words[length:]
    shown = " ".join(words[:3])
    raise KubectlLineError(f"unsupported command {shown!r}; a runbook's kubectl lines may use: {SUPPORTED}")


def _flags(command: str, words: list[str]) -> tuple[dict, list[str]]:
    """pflag parsing: long and short flags, `=` or the next word as the value; the rest are positionals."""
    known = {**_COMMANDS[command][0], **_GLOBAL}
    flags: dict = {}
    positionals: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            positionals += words[index:]
            break
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            continue
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
        else:
            short, value = word[1:2], word[2:]
            has_value = bool(value)
            value = value.removeprefix("=")
            name = _SHORT.get(short, short)
        kind = known.get(name)
        if kind is None:
            raise KubectlLineError(f"unknown flag {word.split('=')[0]!r} for `kubectl {command}`")
        if kind is bool:
            flags[name] = _boolean(name, value) if has_value else True
            continue
        if not has_value:
            if index >= len(words):
                raise KubectlLineError(f"flag needs an argument: --{name}")
            value = words[index]
            index += 1
        if kind is list:
            flags.setdefault(name, []).append(value)
        elif kind is int:
            flags[name] = _integer(name, value)
        else:
            flags[name] = value
    return flags, positionals


def _boolean(name: str, value: str) -> bool:
    if value.lower() in ("true", "1", "t"):
        return True
    if value.lower() in ("false", "0", "f"):
        return False
    raise KubectlLineError(f"invalid argument {value!r} for --{name}: expected true or false")


def _integer(name: str, value: str) -> int:
    if not value.lstrip("-").isascii() or not value.lstrip("-").isdigit():
        raise KubectlLineError(f"invalid argument {value!r} for --{name}: expected an integer")
    return int(value)


def _arguments(command: str, positionals: list[str], options: dict) -> tuple[str | None, list[str], dict]:
    kinds = _COMMANDS[command][1]
    if command == "apply":
        if positionals:
            raise KubectlLineError(f"unexpected arguments {' '.join(positionals)!r}; use `kubectl apply -f FILE`")
        if not options.get("filename"):
            raise KubectlLineError("`kubectl apply` needs -f FILE (a manifest file, relative to the drill)")
        return None, [], options
    if command.startswith("argo rollouts "):
        if len(positionals) != 1:
            raise KubectlLineError(f"`kubectl {command}` takes one rollout name")
        return "Rollout", positionals, options
    if command in ("cordon", "uncordon", "drain"):
        if len(positionals) != 1:
            raise KubectlLineError(f"`kubectl {command}` takes one node name")
        return "Node", positionals, options
    if command == "set image":
        pairs = [p for p in positionals if "=" in p]
        targets = [p for p in positionals if "=" not in p]
        if not pairs:
            raise KubectlLineError("`kubectl set image` needs CONTAINER=IMAGE")
        images = {}
        for pair in pairs:
            container, _, image = pair.partition("=")
            if not container or not image:
                raise KubectlLineError(f"invalid CONTAINER=IMAGE {pair!r}")
            images[container] = image
        options = {**options, "images": images}
        positionals = targets
    kind, names = _resource(command, positionals, kinds, options)
    _check(command, kind, names, options)
    return kind, names, options


def _resource(command: str, positionals: list[str], kinds: tuple[str, ...], options: dict) -> tuple[str, list[str]]:
    """TYPE/NAME [TYPE/NAME...] or TYPE NAME [NAME...] (or TYPE with -l)."""
    if not positionals:
        raise KubectlLineError(f"`kubectl {command}` needs a resource, e.g. deployment/NAME")
    if "/" in positionals[0]:
        pairs = [p.partition("/") for p in positionals]
        found = {_kind(kind, command, kinds) for kind, _, _ in pairs}
        if len(found) != 1 or any(not name for _, _, name in pairs):
            raise KubectlLineError(f"give TYPE/NAME of one kind, got {' '.join(positionals)!r}")
        return found.pop(), [name for _, _, name in pairs]
    kind = _kind(positionals[0], command, kinds)
    names = positionals[1:]
    if not names and not options.get("selector") and command not in ("get", "describe"):
        raise KubectlLineError(f"`kubectl {command} {positionals[0]}` needs a NAME (or -l SELECTOR)")
    return kind, names


def _kind(word: str, command: str, kinds: tuple[str, ...]) -> str:
    kind = KINDS.get(word.lower())
    if kind is None or kind not in kinds:
        allowed = ", ".join(sorted({k.lower() for k in kinds}))
        raise KubectlLineError(f"`kubectl {command}` does not act on {word!r} in a runbook; it acts on: {allowed}")
    return kind


def _check(command: str, kind: str, names: list[str], options: dict) -> None:
    if command == "scale" and "replicas" not in options:
        raise KubectlLineError("`kubectl scale` needs --replicas=N")
    if command == "scale" and options["replicas"] < 0:
        raise KubectlLineError("--replicas must not be negative")
    if command == "patch":
        if "patch" not in options:
            raise KubectlLineError("`kubectl patch` needs -p PATCH")
        if options.get("type", "strategic") not in ("strategic", "merge", "json"):
            raise KubectlLineError(f"--type must be strategic, merge or json, got {options['type']!r}")
    if command == "wait":
        condition = options.get("for", "")
        if not (condition.lower().startswith("condition=") or condition == "delete"):
            raise KubectlLineError("`kubectl wait` needs --for=condition=NAME[=VALUE] or --for=delete")
    for flag in ("timeout",):
        if flag in options:
            try:
                parse_duration(options[flag])
            except ValueError:
                raise KubectlLineError(f"invalid --{flag} {options[flag]!r}: expected a duration like 5m") from None
    if command in ("set image", "patch", "rollout undo", "rollout status", "rollout restart") and len(names) != 1:
        raise KubectlLineError(f"`kubectl {command}` takes one {kind.lower()} name")
