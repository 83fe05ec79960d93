"""Node objects: a Ready Node with the resources a scenario gives it."""

from __future__ import annotations


def node_object(name: str, cpu: str | float, memory: str | float, pods: int, labels: dict | None = None) -> dict:
    """A Ready Node with the given allocatable resources."""
    capacity = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
        },
    }
