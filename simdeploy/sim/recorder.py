"""The timeline: Kubernetes-style events and the per-ReplicaSet series that results are built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Recorder:
    """Collects what happened, in order: events like `kubectl get events`, and RS status rows."""

    now: Callable[[], float]
    events: list[dict] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)
    record_pod_events: bool = True
    _last_row: dict[str, tuple] = field(default_factory=dict)

    def event(self, kind: str, name: str, reason: str, message: str, warning: bool = False) -> None:
        if kind == "Pod" and not self.record_pod_events:
            return
        self.events.append(
            {
                "t": round(self.now(), 3),
                "kind": kind,
                "name": name,
                "reason": reason,
                "message": message,
                "type": "Warning" if warning else "Normal",
            }
        )

    def replica_set(self, rs: dict) -> None:
        """Add a series row when a ReplicaSet's spec, ready or available count changed."""
        status = rs.get("status", {})
        annotations = rs["metadata"].get("annotations", {})
        values = (
            int(annotations.get("deployment.kubernetes.io/revision", 0) or 0),
            rs["spec"].get("replicas", 1),
            status.get("readyReplicas", 0),
            status.get("availableReplicas", 0),
        )
        name = rs["metadata"]["name"]
        if self._last_row.get(name) == values:
            return
        self._last_row[name] = values
        revision, spec, ready, available = values
        self.series.append(
            {
                "t": round(self.now(), 3),
                "replicaset": name,
                "revision": revision,
                "spec": spec,
                "ready": ready,
                "available": available,
            }
        )
