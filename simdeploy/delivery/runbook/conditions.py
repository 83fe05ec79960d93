"""Runbook conditions on the running simulation: a Deployment's condition, a Rollout's phase, an alert's
state, a PromQL value against a number. Conditions are plain mappings, as the drill file writes them."""

from __future__ import annotations

from dataclasses import dataclass

from simdeploy.k8s import deployment_util as du
from simdeploy.sim.metrics.promql import PromQLError, instant_query
from simdeploy.sim.simulation import Simulation


@dataclass(frozen=True)
class Condition:
    """A condition of a drill file, with the namespace it defaults to."""

    spec: dict  # the drill file's mapping: deployment/condition/status, rollout/phase, alert/state, query/below/above
    namespace: str

    def holds(self, sim: Simulation) -> bool:
        spec = self.spec
        namespace = spec.get("namespace") or self.namespace
        if spec.get("deployment") is not None:
            deployment = sim.store.find("Deployment", namespace, spec["deployment"])
            found = deployment is not None and deployment_condition(deployment, spec.get("condition", "Available"))
            return found == spec.get("status", True)
        if spec.get("rollout") is not None:
            rollout = sim.store.find("Rollout", namespace, spec["rollout"])
            return rollout is not None and (rollout.get("status") or {}).get("phase") == spec["phase"]
        if spec.get("alert") is not None:
            return alert_state(sim, spec["alert"]) == spec.get("state", "firing")
        if spec.get("expectation") is not None:
            return expectation_failing(sim, spec["expectation"], spec["bound"])
        value = query_value(sim, spec["query"])
        if value is None:
            return False  # no samples (no traffic yet): neither below nor above anything
        return value < spec["below"] if spec.get("below") is not None else value > spec["above"]

    def describe(self) -> str:
        spec = self.spec
        if spec.get("deployment") is not None:
            negation = "" if spec.get("status", True) else "not "
            return f"deployment/{spec['deployment']} {negation}{spec.get('condition', 'Available')}"
        if spec.get("rollout") is not None:
            return f"rollout/{spec['rollout']} {spec['phase']}"
        if spec.get("alert") is not None:
            return f"alert {spec['alert']} {spec.get('state', 'firing')}"
        if spec.get("expectation") is not None:
            return f"the scenario's expectation {spec['expectation']} ({spec['shown']}) failing"
        bound = f"< {spec['below']:g}" if spec.get("below") is not None else f"> {spec['above']:g}"
        return f"{spec['query']} {bound}"


def deployment_condition(deployment: dict, condition: str) -> bool:
    """Available or Progressing as the status conditions say, or Complete as `kubectl rollout status` decides."""
    if condition == "Complete":
        return rolled_out(deployment)[0]
    found = du.get_deployment_condition(deployment.get("status") or {}, condition)
    return found is not None and found.get("status") == "True"


def rolled_out(deployment: dict) -> tuple[bool, str]:
    """(done, kubectl's message) as `kubectl rollout status` judges a Deployment
    (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer)."""
    name = deployment["metadata"]["name"]
    status = deployment.get("status") or {}
    if deployment["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return False, "Waiting for deployment spec update to be observed..."
    progressing = du.get_deployment_condition(status, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, f'deployment "{name}" exceeded its progress deadline'
    replicas = deployment["spec"].get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if updated < replicas:
        return False, (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas} new replicas '
            "have been updated..."
        )
    if status.get("replicas", 0) > updated:
        old = status.get("replicas", 0) - updated
        return (
            False,
            f'Waiting for deployment "{name}" rollout to finish: {old} old replicas are pending termination...',
        )
    available = status.get("availableReplicas", 0)
    if available < updated:
        return False, (
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
            "are available..."
        )
    return True, f'deployment "{name}" successfully rolled out'


def deadline_exceeded(deployment: dict) -> bool:
    progressing = du.get_deployment_condition(deployment.get("status") or {}, "Progressing")
    return progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded"


def alert_state(sim: Simulation, name: str) -> str:
    """firing, pending, resolved (fired before, not now) or inactive."""
    return sim.alerts.state(name) if sim.alerts is not None else "inactive"


def expectation_failing(sim: Simulation, name: str, bound: float) -> bool:
    """Whether one of the scenario's expectations fails now: ratios and p99 over the last scrape interval,
    errors served so far, and availability of the first Deployment as its status says it."""
    if name in ("availability", "errorRatio", "p99Latency"):
        rows = sim.scraper.rows
        last = [row for row in rows if row["t"] == rows[-1]["t"]] if rows else []
        requests = sum(row["requests"] for row in last)
        if not requests:
            return False
        ratio = sum(row["errors"] for row in last) / requests
        if name == "availability":
            return 1 - ratio < bound
        if name == "errorRatio":
            return ratio > bound
        return max((row["p99_s"] or 0.0) for row in last) > bound
    if name == "errorsServed":
        return sim.traffic.total.failed > bound
    deployment = _first_deployment(sim)
    if deployment is None:
        return False
    available = (deployment.get("status") or {}).get("availableReplicas", 0)
    if name == "minAvailable":
        return available < bound
    return deployment["spec"].get("replicas", 1) - available > bound  # maxUnavailable


def _first_deployment(sim: Simulation) -> dict | None:
    """The Deployment the summary's top-level figures describe: the first one the run measured."""
    name = next(iter(sim.measurements.deployments), None)
    found = [d for d in sim.store.list("Deployment") if d["metadata"]["name"] == name]
    return found[0] if found else None


def query_value(sim: Simulation, expression: str) -> float | None:
    """The PromQL value now: a scalar, or the sum of an instant vector's samples (None when it has none)."""
    if sim.metrics is None:
        return None
    try:
        result = instant_query(sim.metrics, expression, round(sim.now, 3))
    except (PromQLError, ValueError):
        return None
    if isinstance(result, float):
        return result
    return sum(sample.value for sample in result) if result else None
