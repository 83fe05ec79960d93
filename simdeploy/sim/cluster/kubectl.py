"""What an operator does with kubectl, done on the simulated cluster with kubectl's client-side rules.

`rollout undo` follows kubectl's pkg/polymorphichelpers/rollback.go: the template of the chosen
revision's ReplicaSet is written back into the Deployment, which the controller then rolls out.
"""

from __future__ import annotations

import copy
import json
import random

from simdeploy.k8s import deployment_util as du
from simdeploy.k8s import patch as patches
from simdeploy.sim.cluster.api import Api
from simdeploy.sim.cluster.nodes import Nodes
from simdeploy.sim.cluster.store import NotFound, Store
from simdeploy.sim.recorder import Recorder

# kubectl's rollback keeps these annotations of the Deployment and takes the rest from the RS.
_ANNOTATIONS_TO_SKIP = {
    du.LAST_APPLIED_ANNOTATION,
    du.REVISION_ANNOTATION,
    du.REVISION_HISTORY_ANNOTATION,
    du.DESIRED_REPLICAS_ANNOTATION,
    du.MAX_REPLICAS_ANNOTATION,
    du.ROLLBACK_TO_ANNOTATION,
}


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class KubectlError(RuntimeError):
    """What kubectl would print after `error:`."""


class Kubectl:
    """Operator commands against the simulated cluster; each returns kubectl's output line."""

    def __init__(self, store: Store, api: Api, nodes: Nodes, recorder: Recorder, rng: random.Random):
        self.store = store
        self.api = api
        self.nodes = nodes
        self.recorder = recorder
        self.rng = rng

    def _deployment(self, namespace: str, name: str) -> dict:
        try:
            return self.store.get("Deployment", namespace, name)
        except NotFound:
            raise KubectlError(f'deployments.apps "{name}" not found') from None

    def _object(self, kind: str, namespace: str, name: str) -> dict:
        obj = self.store.find(kind, namespace, name)
        if obj is None:
            raise KubectlError(f'{kind.lower()}s "{name}" not found')
        return obj

    def _note(self, namespace: str | None, kind: str, name: str, reason: str, message: str) -> str:
        """Say what a kubectl command did, on the timeline, about the object it did it to."""
        self.recorder.event(kind, name, reason, message, namespace=namespace)
        return message

    def _write(self, stored: dict, changed: dict) -> bool:
        """One user write through the API rules; True when it changed the object."""
        version = stored["metadata"].get("resourceVersion")
        self.api.update(stored, changed)
        return stored["metadata"].get("resourceVersion") != version

    def set_image(self, namespace: str, name: str, container: str, image: str, kind: str = "Deployment") -> str:
        d = self._deployment(namespace, name) if kind == "Deployment" else self._object(kind, namespace, name)
        changed = copy.deepcopy(d)
        targets = [c for c in changed["spec"]["template"]["spec"]["containers"] if container in ("*", c["name"])]
        if not targets:
            raise KubectlError(f'unable to find container named "{container}"')
        for c in targets:
            c["image"] = image
        if not self._write(d, changed):
            return self._note(namespace, kind, name, "SetImage", f"{_resource(kind)}/{name} image unchanged")
        return self._note(namespace, kind, name, "SetImage", f"{_resource(kind)}/{name} image updated to {image}")

    def scale(self, namespace: str, name: str, replicas: int) -> str:
        d = self._deployment(namespace, name)
        changed = copy.deepcopy(d)
        changed["spec"]["replicas"] = replicas
        self._write(d, changed)
        return self._note(namespace, "Deployment", name, "Scale", f"deployment.apps/{name} scaled to {replicas}")

    def pause(self, namespace: str, name: str) -> str:
        return self._set_paused(namespace, name, True)

    def resume(self, namespace: str, name: str) -> str:
        return self._set_paused(namespace, name, False)

    def _set_paused(self, namespace: str, name: str, paused: bool) -> str:
        d = self._deployment(namespace, name)
        word = "paused" if paused else "resumed"
        if bool(d["spec"].get("paused")) == paused:
            raise KubectlError(
                f"deployments.apps/{name} is already {word}" if paused else f"deployments.apps/{name} is not paused"
            )
        changed = copy.deepcopy(d)
        changed["spec"]["paused"] = paused
        self._write(d, changed)
        return self._note(
            namespace, "Deployment", name, "Pause" if paused else "Resume", f"deployment.apps/{name} {word}"
        )

    def rollout_restart(self, namespace: str, name: str) -> str:
        """kubectl rollout restart: a new pod-template annotation, so the controller rolls every pod
        (kubectl/pkg/polymorphichelpers/objectrestarter.go)."""
        d = self._deployment(namespace, name)
        if d["spec"].get("paused"):
            raise KubectlError("can't restart paused deployment (run rollout resume first)")
        changed = copy.deepcopy(d)
        annotations = changed["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
        annotations[RESTARTED_AT] = self.store.timestamp()
        self._write(d, changed)
        return self._note(namespace, "Deployment", name, "RolloutRestart", f"deployment.apps/{name} restarted")

    def rollout_undo(self, namespace: str, name: str, to_revision: int = 0) -> str:
        d = self._deployment(namespace, name)
        rss = self.store.owned_by("ReplicaSet", d["metadata"]["uid"])
        history = {du.revision(rs): rs for rs in rss}
        if to_revision == 0:
            revisions = sorted(r for r in history if r > 0)
            if len(revisions) <= 1:
                raise KubectlError(f'no rollout history found for deployment "{name}"')
            to_revision = revisions[-2]
        target = history.get(to_revision) if to_revision > 0 else None
        if target is None:
            raise KubectlError(f"unable to find specified revision {to_revision} in history")
        if d["spec"].get("paused"):
            raise KubectlError(
                "you cannot rollback a paused deployment; resume it first with "
                f"'kubectl rollout resume deployment/{name}' and try again"
            )
        if du.equal_ignore_hash(target["spec"]["template"], d["spec"]["template"]):
            return self._note(
                namespace,
                "Deployment",
                name,
                "RolloutUndo",
                f"deployment.apps/{name} skipped rollback (current template already matches revision {to_revision})",
            )
        template = copy.deepcopy(target["spec"]["template"])
        template["metadata"].get("labels", {}).pop(du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, None)
        own = d["metadata"].get("annotations") or {}
        annotations = {k: v for k, v in own.items() if k in _ANNOTATIONS_TO_SKIP}
        annotations.update(
            {k: v for k, v in (target["metadata"].get("annotations") or {}).items() if k not in _ANNOTATIONS_TO_SKIP}
        )
        changed = copy.deepcopy(d)
        changed["spec"]["template"] = template
        changed["metadata"]["annotations"] = annotations
        self._write(d, changed)
        return self._note(
            namespace,
            "Deployment",
            name,
            "RolloutUndo",
            f"deployment.apps/{name} rolled back to revision {to_revision}",
        )

    def delete_pods(
        self,
        namespace: str,
        selector: dict,
        count: int | None = None,
        percent: float | None = None,
        grace_seconds: int | None = None,
    ) -> str:
        """Delete matching pods: all of them, or a random `count` or `percent` of them."""
        pods = [p for p in self.store.list("Pod", namespace, selector) if not p["metadata"].get("deletionTimestamp")]
        pods.sort(key=lambda p: p["metadata"]["name"])
        chosen = len(pods)
        if count is not None:
            chosen = min(count, len(pods))
        elif percent is not None:
            chosen = min(len(pods), int(round(len(pods) * percent / 100)))
        victims = self.rng.sample(pods, chosen)
        for pod in victims:
            self.api.delete_pod(pod, grace_seconds)
            self.recorder.object_event(
                pod,
                "Deleted",
                f'pod "{pod["metadata"]["name"]}" deleted',
            )
        return f"{len(victims)} pod(s) deleted"

    def apply(self, obj: dict) -> str:
        """kubectl apply (client-side): create the object, or update it from the manifest.

        As kubectl does, the manifest is kept in the last-applied-configuration annotation, and labels and
        annotations merge three ways: keys the manifest sets win, keys the previous manifest set and this one
        dropped go, keys others set stay (kubectl/pkg/cmd/apply, apply.go and patcher.go). The spec, data and
        stringData are replaced whole, an approximation of the three-way merge kubectl computes for them.
        """
        obj = copy.deepcopy(obj)
        kind, meta = obj.get("kind"), obj.get("metadata")
        existing = None
        if isinstance(kind, str) and isinstance(meta, dict):
            namespace = meta.get("namespace", "default") if kind not in ("Node", "Namespace") else ""
            existing = self.store.find(kind, namespace, str(meta.get("name", "")))
            annotations = meta.get("annotations")
            if annotations is None or isinstance(annotations, dict):
                meta["annotations"] = {**(annotations or {}), du.LAST_APPLIED_ANNOTATION: _last_applied(obj)}
        if existing is None:
            created = self.api.create(obj)  # admission refuses a malformed object, naming the field
            name = created["metadata"]["name"]
            where = created["metadata"].get("namespace")
            return self._note(where, created["kind"], name, "Apply", f"{created['kind'].lower()}/{name} created")
        name = existing["metadata"]["name"]
        label = f"{kind.lower()}/{name}"
        previous = _previous_manifest(existing)
        changed = copy.deepcopy(existing)
        for key in ("labels", "annotations"):
            merged = _three_way(existing["metadata"].get(key), meta.get(key), (previous.get("metadata") or {}).get(key))
            if merged or key in existing["metadata"]:
                changed["metadata"][key] = merged
        for key in ("spec", "data", "stringData"):
            if key in obj:
                changed[key] = obj[key]
        if not self._write(existing, changed):
            return self._note(existing["metadata"].get("namespace"), kind, name, "Apply", f"{label} unchanged")
        return self._note(existing["metadata"].get("namespace"), kind, name, "Apply", f"{label} configured")

    def patch(self, kind: str, namespace: str, name: str, merge_patch: dict) -> str:
        """kubectl patch --type merge (RFC 7386)."""
        try:
            self.api.patch(kind, namespace, name, patches.MERGE, merge_patch)
        except NotFound:
            raise KubectlError(f'{kind.lower()}s "{name}" not found') from None
        except patches.PatchError as error:
            raise KubectlError(str(error)) from None
        return self._note(namespace, kind, name, "Patch", f"{kind.lower()}/{name} patched")


def _last_applied(obj: dict) -> str:
    """The manifest as kubectl records it: compact JSON, keys sorted, without this annotation itself."""
    manifest = copy.deepcopy(obj)
    manifest.setdefault("metadata", {}).setdefault("annotations", {}).pop(du.LAST_APPLIED_ANNOTATION, None)
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n"


def _previous_manifest(obj: dict) -> dict:
    text = (obj["metadata"].get("annotations") or {}).get(du.LAST_APPLIED_ANNOTATION)
    try:
        previous = json.loads(text) if text else {}
    except ValueError:
        return {}
    return previous if isinstance(previous, dict) else {}


def _three_way(live: object, applied: object, previous: object) -> dict:
    """Labels or annotations after an apply: the manifest's win, the ones it stopped setting go, others stay."""
    live = live if isinstance(live, dict) else {}
    applied = applied if isinstance(applied, dict) else {}
    previous = previous if isinstance(previous, dict) else {}
    merged = {key: value for key, value in live.items() if key not in previous or key in applied}
    merged.update(applied)
    return merged


def _resource(kind: str) -> str:
    return {"Deployment": "deployment.apps", "Rollout": "rollout.argoproj.io"}.get(kind, kind.lower())
