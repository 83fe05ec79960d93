"""A runbook's steps carried out on a real cluster: each kubectl line run by the real kubectl against the drill's
context and namespace, flag and traffic steps through `simdeploy serve`'s own controls where the cluster is one,
GitOps syncs as `kubectl apply`. With `--manual` nothing is run: a person types the commands, the runner watches.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import yaml

from simdeploy.delivery.runbook.actions import Outcome
from simdeploy.drill.kube import KubeClient, KubeError
from simdeploy.k8s.kubectl_cli import KubectlCommand

NODE_COMMANDS = ("cordon", "uncordon", "drain")


class ClusterOperator:
    """The steps of a runbook, done on the drill's cluster."""

    def __init__(
        self,
        kubectl: str,
        client: KubeClient,
        namespace: str,
        served: bool,
        nodes: dict[str, str],
        manifests: Callable[[list[dict]], list[dict]],
        workdir: Path,
        say: Callable[[str], None] = lambda _text: None,
    ):
        self.kubectl_path = kubectl
        self.client = client
        self.namespace = namespace
        self.served = served
        self.nodes = nodes
        self.manifests = manifests
        self.workdir = workdir
        self.say = say
        self.commands: list[dict] = []  # every command line run, with its exit status: the drill's audit trail

    # -- kubectl ----------------------------------------------------------------------------------------------

    def kubectl(self, command: KubectlCommand, manifests: list[dict]) -> Outcome:
        args = self.arguments(command, manifests)
        return self._run(args)

    def arguments(self, command: KubectlCommand, manifests: list[dict]) -> list[str]:
        """The line as written, aimed at the drill: its namespace, the cluster's node names, mapped manifests."""
        manifest = str(self._manifest_file(self.manifests(manifests))) if command.command == "apply" else None
        return aimed(command, self.namespace, self.nodes, manifest)

    def _run(self, args: list[str]) -> Outcome:
        context = self.client.context
        line = ["kubectl", "--kubeconfig", str(context.kubeconfig), "--context", context.name, *args]
        self.say("$ " + shlex.join(["kubectl", *args]))
        record = {"command": shlex.join(["kubectl", *args]), "exit": None, "output": ""}
        self.commands.append(record)
        process = subprocess.Popen(
            [self.kubectl_path, *line[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

        def wait() -> None:
            out, err = process.communicate()
            record["output"] = (out + err).strip()
            record["exit"] = process.returncode

        threading.Thread(target=wait, name="simdeploy-drill kubectl", daemon=True).start()

        def finished(_world) -> tuple[bool, bool, str]:
            if record["exit"] is None:
                return False, False, ""
            return True, record["exit"] != 0, record["output"] or f"(exit {record['exit']})"

        return Outcome("", until=finished)

    def _manifest_file(self, objects: list[dict]) -> Path:
        handle = tempfile.NamedTemporaryFile(
            "w", dir=self.workdir, prefix="apply-", suffix=".yaml", delete=False, encoding="utf-8"
        )
        with handle:
            yaml.safe_dump_all(objects, handle, sort_keys=False)
        return Path(handle.name)

    # -- the rest ---------------------------------------------------------------------------------------------

    def flag(self, spec: dict) -> Outcome:
        if not self.served:
            return Outcome("error: this cluster has no flag service the drill can reach", failed=True)
        if spec.get("disable"):
            action = {"action": "disable-flag", "flag": spec["disable"]}
        elif spec.get("enable"):
            action = {"action": "enable-flag", "flag": spec["enable"]}
        else:
            action = {"action": "set-rollout", "flag": spec["setRollout"], "percent": spec["percent"]}
        return self._served(action)

    def traffic_shift(self, spec: dict) -> Outcome:
        if spec.get("route") is not None:
            if not self.served:
                return Outcome("error: routes need a mesh; this cluster's drill cannot set weights", failed=True)
            return self._served({"action": "set-weights", "route": spec["route"], "weights": spec["weights"]})
        patch = json.dumps({"spec": {"selector": spec["selector"]}}, sort_keys=True)
        return self._run(["patch", "service", spec["service"], "-p", patch])

    def sync(self, objects: list[dict]) -> str:
        """A GitOps controller's sync: `kubectl apply` of the desired manifest set, waited for."""
        path = self._manifest_file(self.manifests(objects))
        context = self.client.context
        done = subprocess.run(
            [self.kubectl_path, "--kubeconfig", str(context.kubeconfig), "--context", context.name]
            + ["apply", "-f", str(path), "-n", self.namespace],
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.commands.append({"command": f"kubectl apply -f {path.name}", "exit": done.returncode, "output": ""})
        return (done.stdout + done.stderr).strip()

    def migrate(self, spec: dict) -> Outcome:
        """A forward fix: only a served cluster has the scenario's databases (its control endpoint runs it)."""
        if not self.served:
            return Outcome("error: this cluster's databases are not the drill's to migrate", failed=True)
        return self._served({"action": "migrate", **spec})

    def _served(self, action: dict) -> Outcome:
        try:
            answer = self.client.request("POST", "/simdeploy/v1/actions", body=action)
        except KubeError as error:
            return Outcome(f"error: {error}", failed=True)
        return Outcome(answer.get("message") or answer.get("action", ""))


class ManualOperator(ClusterOperator):
    """`--manual`: a person does the steps; the runner says what the runbook asks and watches what happens."""

    def _run(self, args: list[str]) -> Outcome:
        self.say("now, by hand: " + shlex.join(["kubectl", *args]))
        return Outcome("(by hand)")

    def _served(self, action: dict) -> Outcome:
        self.say(f"now, by hand: {json.dumps(action)}")
        return Outcome("(by hand)")

    def sync(self, objects: list[dict]) -> str:
        self.say("now, by hand: revert the release in git and let the GitOps controller sync")
        return "(by hand)"


def aimed(command: KubectlCommand, namespace: str, nodes: dict[str, str], manifest: str | None = None) -> list[str]:
    """A runbook's kubectl line as the drill runs it: in the drill's namespace, on the cluster's node names, and
    for `apply -f`, on the drill's own copy of the manifests (`manifest`)."""
    words = shlex.split(command.line)
    if words[:1] == ["kubectl"]:
        words = words[1:]
    words = _without_namespace(words)
    if command.command in NODE_COMMANDS:
        words = [nodes.get(word, word) for word in words]
    if command.command == "apply" and manifest is not None:
        words = _with_file(words, manifest)
    return [*words, "-n", namespace]


def _without_namespace(words: list[str]) -> list[str]:
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("-n", "--namespace"):
            skip = True
        elif word.startswith("--namespace=") or (word.startswith("-n") and len(word) > 2 and not word.startswith("--")):
            continue
        else:
            kept.append(word)
    return kept


def _with_file(words: list[str], path: str) -> list[str]:
    """`apply -f FILE ...` with the files replaced by one: the drill's mapped manifests."""
    kept, skip, placed = [], False, False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("-f", "--filename"):
            skip = True
            if not placed:
                kept += ["-f", path]
                placed = True
        elif word.startswith(("--filename=", "-f=")) or (word.startswith("-f") and len(word) > 2):
            if not placed:
                kept += ["-f", path]
                placed = True
        else:
            kept.append(word)
    return kept
