"""The timeline: events, operator actions, and the per-ReplicaSet series that results are built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simdeploy.sim.result import Action, Event, ReplicaSet, SeriesRow, seconds

# The revision a ReplicaSet carries: the Deployment controller's annotation, or Argo Rollouts' own
# (kubernetes/kubernetes pkg/controller/deployment/util/deployment_util.go RevisionAnnotation;
# argoproj/argo-rollouts utils/annotations/annotations.go RevisionAnnotation).
REVISION_ANNOTATIONS = ("deployment.kubernetes.io/revision", "rollout.argoproj.io/revision")


@dataclass
class Recorder:
    """Collects what happened, in order: events like `kubectl get events`, actions, and ReplicaSet rows."""

    now: Callable[[], float]
    events: list[Event] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    replica_sets: list[ReplicaSet] = field(default_factory=list)
    series: list[SeriesRow] = field(default_factory=list)
    record_pod_events: bool = True
    _last_row: dict[str, tuple[int, int, int, int, int]] = field(default_factory=dict)
    _serving: dict[str, int] = field(default_factory=dict)  # RS name -> pods Ready and really serving
    home_namespace: str | None = None  # the first workload's: its objects keep their bare names in the results

    def name_of(self, meta: dict, name: str | None = None) -> str:
        """How results name a workload object: bare in the first namespace a workload was seen in, `namespace/name`
        in any other (environments put same-named objects in several namespaces of one cluster)."""
        namespace = meta.get("namespace", "")
        if self.home_namespace is None:
            self.home_namespace = namespace
        name = meta["name"] if name is None else name
        return name if namespace == self.home_namespace else f"{namespace}/{name}"

    def event(
        self, kind: str, name: str, reason: str, message: str, warning: bool = False, namespace: str | None = None
    ) -> None:
        """One line of the timeline, about the object `kind` `name` (in `namespace`, for a namespaced object)."""
        if kind == "Pod" and not self.record_pod_events:
            return
        t, level = seconds(self.now()), "Warning" if warning else "Normal"
        if namespace:
            event = {"t": t, "kind": kind, "name": name, "namespace": namespace, "reason": reason, "message": message}
        else:
            event = {"t": t, "kind": kind, "name": name, "reason": reason, "message": message}
        event["type"] = level
        self.events.append(event)

    def object_event(self, obj: dict, reason: str, message: str, warning: bool = False) -> None:
        """An event about a Kubernetes object (its kind, name and namespace), as its controller or kubelet says it."""
        meta = obj["metadata"]
        self.event(obj["kind"], meta["name"], reason, message, warning, meta.get("namespace"))

    def action(self, description: str, message: str, failed: bool = False, by: str | None = None) -> None:
        """An operator action ran: `description` is the action's name and what it names (`set-image web`); `by`
        who ran it by hand on a served world."""
        action, _, target = description.partition(" ")
        record = {"t": seconds(self.now()), "action": action, "target": target or None, "message": message}
        self.actions.append({**record, "failed": failed, **({"by": by} if by is not None else {})})

    def replica_set(self, rs: dict) -> None:
        """Add a series row when a ReplicaSet's spec, ready or available count changed."""
        status = rs.get("status", {})
        name = self.name_of(rs["metadata"])
        if name not in self._last_row:
            self._first_seen(rs, name)
        values = (
            _revision(rs),
            rs["spec"].get("replicas", 1),
            status.get("readyReplicas", 0),
            status.get("availableReplicas", 0),
            self._serving.get(name, 0),
        )
        self._row(name, values)

    def serving(self, replica_set: str, count: int) -> None:
        """The number of the ReplicaSet's pods that are Ready and whose app really serves changed."""
        self._serving[replica_set] = count
        last = self._last_row.get(replica_set)
        if last is not None:
            self._row(replica_set, (*last[:4], count))

    def _row(self, name: str, values: tuple[int, int, int, int, int]) -> None:
        if self._last_row.get(name) == values:
            return
        self._last_row[name] = values
        revision, spec, ready, available, serving = values
        self.series.append(
            {
                "t": seconds(self.now()),
                "replicaset": name,
                "revision": revision,
                "spec": spec,
                "ready": ready,
                "available": available,
                "serving": serving,
            }
        )

    def _first_seen(self, rs: dict, name: str) -> None:
        owner = next((ref for ref in rs["metadata"].get("ownerReferences") or () if ref.get("controller")), None)
        containers = rs["spec"]["template"]["spec"].get("containers") or [{}]
        self.replica_sets.append(
            {
                "name": name,
                "owner_kind": owner["kind"] if owner else None,
                "owner": self.name_of(rs["metadata"], owner["name"]) if owner else None,
                "image": containers[0].get("image", ""),
                "created_s": seconds(self.now()),
            }
        )


def _revision(rs: dict) -> int:
    annotations = rs["metadata"].get("annotations") or {}
    return next((int(annotations[key] or 0) for key in REVISION_ANNOTATIONS if key in annotations), 0)
