"""A real DeploymentController, frozen in time, and the object builders of upstream's controller tests.

Upstream's tests (pkg/controller/deployment/*_test.go) run the controller against client-go's fake
clientset and read back the actions it recorded. Here the controller is the real one, on a real Store,
and the store's watch stream plays the part of the fake clientset's action log.

The builders mirror deployment_controller_test.go: newDeployment, rs, newRSWithStatus, newReplicaSet.
Note that upstream's newDeployment sets maxSurge and maxUnavailable to 0 when none are given (not 25%).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from datetime import datetime

from simdeploy.k8s import deployment_util as du
from simdeploy.k8s.timeutil import parse_time
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import Api
from simdeploy.sim.cluster.deployment.controller import DeploymentController
from simdeploy.sim.cluster.store import DELETED, MODIFIED, Store
from simdeploy.sim.recorder import Recorder

NOW = "2026-01-01T00:00:00Z"

_uids = itertools.count(1)


@dataclass(frozen=True)
class Write:
    """One write the controller sent to the API: verb ("update" or "delete"), kind, name, spec.replicas."""

    verb: str
    kind: str
    name: str
    replicas: int | None


class Harness:
    """A DeploymentController whose clock never moves (now() is fixed) and whose writes are recorded.

    Objects go in with add(), verbatim, as upstream's tests put them in an informer's indexer: no
    defaulting, no validation, and their uid, creationTimestamp and generation as given.
    """

    def __init__(self, now: str | datetime = NOW):
        epoch = parse_time(now) if isinstance(now, str) else now
        self.clock = Clock()
        self.store = Store(lambda: self.clock.now, epoch)
        self.recorder = Recorder(lambda: self.clock.now)
        self.dc = DeploymentController(self.clock, self.store, Api(self.clock, self.store), self.recorder, 0.0)
        self.writes: list[Write] = []
        self.enqueued: list[tuple[str, float | None]] = []  # (name, None for "now" or the delay in seconds)
        self.dc.enqueue = lambda d: self.enqueued.append((d["metadata"]["name"], None))
        self.dc.enqueue_after = lambda d, delay: self.enqueued.append((d["metadata"]["name"], delay))
        for kind in ("Deployment", "ReplicaSet"):
            self.store.watch(kind, self._record)

    def add(self, *objects: dict | None) -> None:
        for obj in objects:
            if obj is None:
                continue
            given = dict(obj["metadata"])
            self.store.create(obj)
            # create() stamps uid, creationTimestamp and generation as the API server would; undo that.
            for key in ("creationTimestamp", "generation"):
                if key in given:
                    obj["metadata"][key] = given[key]
                else:
                    obj["metadata"].pop(key, None)
            obj["metadata"]["uid"] = given.get("uid") or obj["metadata"]["uid"]

    def updates(self, kind: str = "ReplicaSet") -> list[Write]:
        return [w for w in self.writes if w.verb == "update" and w.kind == kind]

    def deleted(self) -> set[str]:
        return {w.name for w in self.writes if w.verb == "delete"}

    @property
    def events(self) -> list[dict]:
        return self.recorder.events

    def _record(self, event_type: str, obj: dict) -> None:
        verb = {MODIFIED: "update", DELETED: "delete"}.get(event_type)
        if verb is not None:
            replicas = obj.get("spec", {}).get("replicas")
            self.writes.append(Write(verb, obj["kind"], obj["metadata"]["name"], replicas))


# --- builders (deployment_controller_test.go) --------------------------------------------------


def new_deployment(
    name: str = "foo",
    replicas: int = 1,
    revision_history_limit: int | None = None,
    max_surge: int | str = 0,
    max_unavailable: int | str = 0,
    selector: dict | None = None,
) -> dict:
    labels = dict(selector or {})
    spec = {
        "replicas": replicas,
        "strategy": {
            "type": du.ROLLING_UPDATE_STRATEGY,
            "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
        },
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"image": "foo/bar"}]}},
    }
    if revision_history_limit is not None:
        spec["revisionHistoryLimit"] = revision_history_limit
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "uid": f"d-{next(_uids)}", "annotations": {}},
        "spec": spec,
    }


def rs(name: str, replicas: int, selector: dict | None = None, created: str | None = None) -> dict:
    metadata = {"name": name, "namespace": "default", "uid": f"rs-{next(_uids)}"}
    if created is not None:
        metadata["creationTimestamp"] = created
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata,
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(selector or {})}, "template": {}},
    }


def rs_with_status(name: str, spec_replicas: int, status_replicas: int, selector: dict | None = None) -> dict:
    """newRSWithStatus."""
    result = rs(name, spec_replicas, selector)
    result["status"] = {"replicas": status_replicas}
    return result


def rs_with_available(name: str, spec_replicas: int, status_replicas: int, available: int) -> dict:
    """newRSWithAvailable (progress_test.go)."""
    result = rs(name, spec_replicas)
    result["status"] = {"replicas": status_replicas, "availableReplicas": available}
    return result


def new_replica_set(d: dict, name: str, replicas: int) -> dict:
    """newReplicaSet: an RS owned by d, with d's selector and template."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"rs-{next(_uids)}",
            "labels": dict(d["spec"]["selector"]["matchLabels"]),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": d["metadata"]["name"],
                    "uid": d["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": replicas,
            "selector": copy.deepcopy(d["spec"]["selector"]),
            "template": copy.deepcopy(d["spec"]["template"]),
        },
    }
