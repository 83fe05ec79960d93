"""Chaos Toolkit actions (python provider) for what chaostoolkit-kubernetes does not do: wait for a moment of the
drill, set an image, roll back, apply, patch, and `simdeploy serve`'s own faults.

Each function takes chaoslib's `configuration` and `secrets`: the drill runner's generated experiment carries the
kubeconfig and context in `secrets.k8s` (as chaosk8s reads them) and the drill's time zero in `configuration`.
"""

from __future__ import annotations

import time
from pathlib import Path

from chaoslib.exceptions import ActivityFailed

from simdeploy.drill.kube import KubeClient, KubeError, contexts
from simdeploy.drill.timebase import ServedTime, TimeBase, WallTime, sleep_until
from simdeploy.k8s import deployment_util as du

__all__ = ["apply_manifests", "patch_object", "rollout_undo", "served_action", "set_image", "wait_until"]


def _client(secrets: dict | None) -> KubeClient:
    # chaoslib hands an activity the scopes it names, merged: {"KUBECONFIG": ..., "KUBERNETES_CONTEXT": ...}.
    k8s = (secrets or {}).get("k8s") or secrets or {}
    path = Path(k8s.get("KUBECONFIG", ""))
    found = contexts(path)
    name = k8s.get("KUBERNETES_CONTEXT") or next(iter(found), "")
    if name not in found:
        raise ActivityFailed(f"no context {name!r} in {path}")
    return KubeClient(found[name])


def timebase_from(configuration: dict | None, client: KubeClient | None) -> TimeBase:
    """The drill's clock as the generated experiment describes it (see chaos.py)."""
    configuration = configuration or {}
    zero = float(configuration.get("simdeploy_zero", time.time()))
    if configuration.get("simdeploy_clock") == "served" and client is not None:
        return ServedTime(client, client.request("GET", "/simdeploy/v1/clock"), zero)
    return WallTime(zero)


def wait_until(seconds: float, configuration: dict | None = None, secrets: dict | None = None) -> float:
    """Wait until the drill's time reaches `seconds` (a scenario timeline moment); returns the time reached."""
    client = _client(secrets) if (configuration or {}).get("simdeploy_clock") == "served" else None
    timebase = timebase_from(configuration, client)
    sleep_until(timebase, float(seconds))
    return round(timebase.now(), 3)


def set_image(
    deployment: str,
    containers: list[dict],
    ns: str = "default",
    kind: str = "Deployment",
    configuration: dict | None = None,
    secrets: dict | None = None,
) -> str:
    """`kubectl set image`: a strategic merge of the containers' image (and the demo app's behaviour env)."""
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    try:
        _client(secrets).patch(kind, ns, deployment, patch, "merge" if kind == "Rollout" else "strategic")
    except KubeError as error:
        raise ActivityFailed(str(error)) from None
    return f"{kind.lower()}/{deployment} image updated"


def rollout_undo(
    deployment: str,
    to_revision: int = 0,
    ns: str = "default",
    configuration: dict | None = None,
    secrets: dict | None = None,
) -> str:
    """`kubectl rollout undo`: the chosen revision's pod template back in the Deployment, as kubectl writes it
    (a JSON patch replacing spec.template and the annotations: kubectl/pkg/polymorphichelpers/rollback.go)."""
    client = _client(secrets)
    try:
        current = client.get("Deployment", ns, deployment)
        if current is None:
            raise ActivityFailed(f'deployments.apps "{deployment}" not found')
        uid = current["metadata"]["uid"]
        owned = [
            rs
            for rs in client.list("ReplicaSet", ns).get("items", [])
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
        ]
        history = {du.revision(rs): rs for rs in owned}
        if to_revision == 0:
            revisions = sorted(r for r in history if r > 0)
            if len(revisions) < 2:
                raise ActivityFailed(f'no rollout history found for deployment "{deployment}"')
            to_revision = revisions[-2]
        target = history.get(to_revision)
        if target is None:
            raise ActivityFailed(f"unable to find specified revision {to_revision} in history")
        template = dict(target["spec"]["template"])
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.pop(du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, None)
        template["metadata"] = {**(template.get("metadata") or {}), "labels": labels}
        keep = {du.LAST_APPLIED_ANNOTATION, du.REVISION_ANNOTATION, du.REVISION_HISTORY_ANNOTATION}
        keep |= {du.DESIRED_REPLICAS_ANNOTATION, du.MAX_REPLICAS_ANNOTATION, du.ROLLBACK_TO_ANNOTATION}
        annotations = {k: v for k, v in (current["metadata"].get("annotations") or {}).items() if k in keep}
        annotations.update({k: v for k, v in (target["metadata"].get("annotations") or {}).items() if k not in keep})
        patch = [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]
        client.patch("Deployment", ns, deployment, patch, "json")
    except KubeError as error:
        raise ActivityFailed(str(error)) from None
    return f"deployment.apps/{deployment} rolled back to revision {to_revision}"


def apply_manifests(manifests: list[dict], configuration: dict | None = None, secrets: dict | None = None) -> str:
    """Create each object, or replace its spec/data/labels/annotations (a GitOps sync of these manifests)."""
    client = _client(secrets)
    lines = []
    for obj in manifests:
        meta = obj["metadata"]
        try:
            current = client.get(obj["kind"], meta.get("namespace"), meta["name"])
            if current is None:
                client.create(obj)
                lines.append(f"{obj['kind'].lower()}/{meta['name']} created")
                continue
            patch = {key: obj[key] for key in ("spec", "data", "stringData") if key in obj}
            patch["metadata"] = {k: meta[k] for k in ("labels", "annotations") if k in meta}
            client.patch(obj["kind"], meta.get("namespace"), meta["name"], patch, "merge")
            lines.append(f"{obj['kind'].lower()}/{meta['name']} configured")
        except KubeError as error:
            raise ActivityFailed(f"{obj['kind']}/{meta['name']}: {error}") from None
    return "\n".join(lines)


def patch_object(
    kind: str,
    name: str,
    patch: dict,
    ns: str = "default",
    configuration: dict | None = None,
    secrets: dict | None = None,
) -> str:
    """`kubectl patch --type merge`."""
    try:
        _client(secrets).patch(kind, "" if kind == "Node" else ns, name, patch, "merge")
    except KubeError as error:
        raise ActivityFailed(str(error)) from None
    return f"{kind.lower()}/{name} patched"


def served_action(action: dict, configuration: dict | None = None, secrets: dict | None = None) -> dict:
    """A fault only `simdeploy serve` can inject (a version's behaviour, a flag, a route, a node failure):
    `simdeploy ctl do`, through /simdeploy/v1/actions."""
    try:
        return _client(secrets).request("POST", "/simdeploy/v1/actions", body=action)
    except KubeError as error:
        raise ActivityFailed(str(error)) from None
