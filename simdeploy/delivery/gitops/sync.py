"""An Argo CD Application's sync: PreSync hooks run and are waited for, then the manifest set is applied.

Follows Argo CD's resource hooks (docs/user-guide/resource_hooks.md, gitops-engine pkg/sync): objects annotated
`argocd.argoproj.io/hook: PreSync` are created before anything of the sync phase, in the order phase -> wave
(`argocd.argoproj.io/sync-wave`) -> kind -> name, one wave after the other; the sync phase starts only once every
PreSync hook has succeeded (a Job Complete, a Pod Succeeded). A failed hook fails the sync operation and nothing
else is applied. `argocd.argoproj.io/hook-delete-policy` (default BeforeHookCreation) says when a hook object is
deleted: before a new one of the same name is created, once it succeeded, once it failed. One operation runs at
a time: a sync asked for while another runs waits for it (the latest request wins). Since each sync runs the
hooks again, a hook that fails, or runs for long, holds up every later deploy: the chapter's pitfall.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simdeploy.k8s.duration import format_duration
from simdeploy.k8s.job_util import COMPLETE, FAILED, condition
from simdeploy.sim.cluster.store import NotFound
from simdeploy.sim.result import optional_seconds, seconds

if TYPE_CHECKING:
    from simdeploy.sim.simulation import Simulation

HOOK = "argocd.argoproj.io/hook"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
WAVE = "argocd.argoproj.io/sync-wave"
POLL = 1.0  # how often the controller looks at running hooks (it reacts to watch events; a second is close)
# gitops-engine pkg/sync/sync_tasks.go kindOrder: namespaces and config before the workloads that use them.
KIND_ORDER = ("Namespace", "ServiceAccount", "Secret", "ConfigMap", "Service", "Pod", "ReplicaSet", "Deployment", "Job")


def apply_manifest_set(sim: Simulation, objects: list[dict]) -> str:
    """What a GitOps controller's sync does once its hooks are done: apply every object of the desired set."""
    return "\n".join(sim.kubectl.apply(obj) for obj in objects)


def hook_phase(obj: dict) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(HOOK)


def hook_order(obj: dict) -> tuple:
    """phase -> wave -> kind -> name, as Argo CD orders sync tasks."""
    annotations = obj["metadata"].get("annotations") or {}
    try:
        wave = int(annotations.get(WAVE, "0"))
    except ValueError:
        wave = 0
    kind = obj.get("kind", "")
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return wave, rank, kind, obj["metadata"].get("name", "")


@dataclass
class SyncOperation:
    """One sync: what was asked, when it ran, and how it ended."""

    objects: list[dict]
    timeout: float | None
    requested: float
    started: float | None = None
    finished: float | None = None
    phase: str = "Pending"  # Pending | Running | Succeeded | Failed
    message: str = ""
    hooks: list[dict] = field(default_factory=list)  # {kind, name, phase}


class Application:
    """An Argo CD Application on the simulated cluster, syncing the manifest sets it is given."""

    def __init__(self, sim: Simulation, name: str, namespace: str):
        self.sim = sim
        self.name = name
        self.namespace = namespace
        self.running: SyncOperation | None = None
        self.queued: SyncOperation | None = None
        self.operations: list[SyncOperation] = []

    def sync(self, objects: list[dict], timeout: float | None = None) -> str:
        operation = SyncOperation(copy.deepcopy(objects), timeout, self.sim.now)
        self.operations.append(operation)
        if self.running is not None:
            if self.queued is not None:
                self.queued.phase, self.queued.message = "Failed", "superseded by a newer sync before it started"
                self.queued.finished = self.sim.now
            self.queued = operation
            self._event("SyncQueued", "another operation is already in progress: this sync waits for it")
            return f"application/{self.name} sync queued behind the running operation"
        self._start(operation)
        return f"application/{self.name} sync started"

    # -- the operation ---------------------------------------------------------

    def _start(self, operation: SyncOperation) -> None:
        self.running = operation
        operation.started = self.sim.now
        operation.phase = "Running"
        hooks = sorted((o for o in operation.objects if hook_phase(o) == "PreSync"), key=hook_order)
        operation.hooks = [{"kind": o["kind"], "name": o["metadata"]["name"], "phase": "Pending"} for o in hooks]
        self._event("OperationStarted", f"sync started ({len(hooks)} PreSync hook(s))")
        self._wave(operation, hooks, 0)

    def _wave(self, operation: SyncOperation, hooks: list[dict], index: int) -> None:
        if operation.phase != "Running":
            return
        if index >= len(hooks):
            self._apply(operation)
            return
        wave = hook_order(hooks[index])[0]
        batch = [h for h in hooks[index:] if hook_order(h)[0] == wave]
        for hook in batch:
            self._create_hook(operation, hook)
        self._watch(operation, hooks, index, len(batch))

    def _create_hook(self, operation: SyncOperation, hook: dict) -> None:
        kind, name = hook["kind"], hook["metadata"]["name"]
        namespace = hook["metadata"].get("namespace", self.namespace)
        existing = self.sim.store.find(kind, namespace, name)
        if existing is not None and "BeforeHookCreation" in _policies(hook):
            self.sim.api.delete(kind, namespace, name)
        obj = copy.deepcopy(hook)
        obj["metadata"].setdefault("namespace", namespace)
        self.sim.api.create(obj)
        self._hook_row(operation, hook)["phase"] = "Running"
        self._event("HookCreated", f"PreSync hook {kind.lower()}/{name} created")

    def _watch(self, operation: SyncOperation, hooks: list[dict], index: int, count: int) -> None:
        if operation.phase != "Running":
            return
        batch = hooks[index : index + count]
        results = [self._hook_result(h) for h in batch]
        for hook, result in zip(batch, results, strict=True):
            row = self._hook_row(operation, hook)
            if result is not None and row["phase"] == "Running":
                row["phase"] = "Succeeded" if result else "Failed"
                self._delete_per_policy(hook, result)
        failed = [h for h, r in zip(batch, results, strict=True) if r is False]
        if failed:
            names = ", ".join(f"{h['kind'].lower()}/{h['metadata']['name']}" for h in failed)
            self._end(
                operation, "Failed", f"one or more synchronization tasks completed unsuccessfully: hook {names} failed"
            )
            return
        if all(r is True for r in results):
            self._wave(operation, hooks, index + count)
            return
        if operation.timeout is not None and self.sim.now - operation.started >= operation.timeout:
            took = format_duration(operation.timeout)
            self._end(
                operation, "Failed", f"operation terminated: the PreSync hooks ran longer than the {took} timeout"
            )
            return
        self.sim.clock.call_later(POLL, lambda: self._watch(operation, hooks, index, count))

    def _hook_result(self, hook: dict) -> bool | None:
        """True once the hook succeeded, False once it failed, None while it runs."""
        namespace = hook["metadata"].get("namespace", self.namespace)
        obj = self.sim.store.find(hook["kind"], namespace, hook["metadata"]["name"])
        if obj is None:
            return False
        if hook["kind"] == "Job":
            if condition(obj, COMPLETE):
                return True
            return False if condition(obj, FAILED) else None
        if hook["kind"] == "Pod":
            phase = (obj.get("status") or {}).get("phase")
            return True if phase == "Succeeded" else False if phase == "Failed" else None
        return True

    def _delete_per_policy(self, hook: dict, succeeded: bool) -> None:
        wanted = "HookSucceeded" if succeeded else "HookFailed"
        if wanted in _policies(hook):
            namespace = hook["metadata"].get("namespace", self.namespace)
            try:
                self.sim.api.delete(hook["kind"], namespace, hook["metadata"]["name"])
            except NotFound:
                pass

    def _apply(self, operation: SyncOperation) -> None:
        rest = [o for o in operation.objects if hook_phase(o) is None]
        output = apply_manifest_set(self.sim, rest)
        self._end(operation, "Succeeded", "; ".join(output.splitlines()) or "nothing to apply")

    def _end(self, operation: SyncOperation, phase: str, message: str) -> None:
        operation.phase, operation.message, operation.finished = phase, message, self.sim.now
        self._event(
            "OperationCompleted" if phase == "Succeeded" else "OperationFailed",
            f"sync {phase.lower()}: {message}",
            phase != "Succeeded",
        )
        self.running = None
        if self.queued is not None:
            queued, self.queued = self.queued, None
            self._start(queued)

    def _hook_row(self, operation: SyncOperation, hook: dict) -> dict:
        return next(r for r in operation.hooks if r["kind"] == hook["kind"] and r["name"] == hook["metadata"]["name"])

    def _event(self, reason: str, message: str, warning: bool = False) -> None:
        self.sim.recorder.event("Application", self.name, reason, message, warning)

    def summary(self) -> list[dict]:
        return [
            {
                "app": self.name,
                "requested_s": seconds(op.requested),
                "started_s": optional_seconds(op.started),
                "finished_s": optional_seconds(op.finished),
                "phase": op.phase,
                "message": op.message,
                "hooks": [dict(h) for h in op.hooks],
            }
            for op in self.operations
        ]


def _policies(hook: dict) -> list[str]:
    text = (hook["metadata"].get("annotations") or {}).get(DELETE_POLICY) or "BeforeHookCreation"
    return [p.strip() for p in text.split(",")]
