"""A short drill for the drill runner's tests, and the runner's options aimed at a served cluster."""

from __future__ import annotations

import sys
from pathlib import Path

from serve_helpers import ROOT

from simdeploy.apiserver import ApiServer
from simdeploy.drill.runner import Options

SPEED = 40.0
SCENARIOS = ROOT / "scenarios"


def drill_document(name: str = "drain-and-bad-release") -> dict:
    """A six-minute drill: a pod killed, a node drained and a bad image, then the runbook's undo and uncordon."""
    return {
        "kind": "Drill",
        "metadata": {"name": name},
        "scenario": {
            "metadata": {"name": "drain-and-bad-release"},
            "seed": 7,
            "duration": "6m",
            "manifests": [
                {"file": str(SCENARIOS / "manifests" / "payments-api.yaml")},
                {"file": str(SCENARIOS / "manifests" / "payments-api-service.yaml")},
            ],
            "traffic": [{"service": "payments-api", "rate": 900, "start": "20s"}],
            "alerts": [{"file": str(SCENARIOS / "rules" / "payments.yaml")}],
            "versions": {
                "registry.example.com/payments-api@sha256:abc123...": {
                    "version": "2.8.1",
                    "pull": "0s",
                    "startup": "5s",
                    "capacity": 250,
                },
                "registry.example.com/payments-api:2.9.0": {
                    "version": "2.9.0",
                    "pull": "1s",
                    "startup": "5s",
                    "capacity": 250,
                    "errorRate": 0.05,
                },
            },
            "timeline": [
                {"at": "30s", "action": "delete-pods", "selector": "app=payments-api", "count": 1},
                {"at": "45s", "action": "drain", "node": "node-3"},
                {
                    "at": "1m",
                    "action": "set-image",
                    "deployment": "payments-api",
                    "container": "api",
                    "image": "registry.example.com/payments-api:2.9.0",
                },
            ],
        },
        "runbook": {
            "name": "bad release after a drain",
            "trigger": {"alert": "PaymentsHighErrorRate"},
            "responders": {"acknowledge": "30s", "step": "10s"},
            "steps": [
                {"name": "roll back", "kubectl": "kubectl rollout undo deployment/payments-api -n production"},
                {"name": "give node-3 back", "kubectl": "kubectl uncordon node-3"},
                {
                    "name": "watch the rollback",
                    "kubectl": "kubectl rollout status deployment/payments-api -n production --timeout=3m",
                    "expect": {"alert": "PaymentsHighErrorRate", "state": "resolved", "within": "3m"},
                },
            ],
        },
        "fidelity": {"timeToDetect": "45s", "timeToMitigate": "90s", "timeToRecover": "90s", "errorRatio": 0.03},
    }


def options(server: ApiServer, tmp_path: Path, **changes) -> Options:
    kubectl = (
        str(Path(sys.executable).parent / "kubectl")
        if (Path(sys.executable).parent / "kubectl").exists()
        else "kubectl"
    )
    settings = {
        "context": "simdeploy-drain-and-bad-release",
        "kubeconfig": server.kubeconfig_path,
        "journal": tmp_path / "journal",
        "probe_rate": 2.0,
        "kubectl": kubectl,
        "say": lambda _text: None,
        **changes,
    }
    return Options(**settings)
