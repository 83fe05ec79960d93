"""Version behaviour from its scenario form: distributions, latency, and the VersionBehaviour the kubelet runs."""

from __future__ import annotations

from simdeploy.scenario import schema
from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.distributions import Distribution, Empirical, Fixed, LogNormal, Normal, Uniform
from simdeploy.sim.latency import HistogramLatency, Latency, LogNormalLatency

_BEHAVIOUR_FIELDS = {
    "pull": "pull",
    "startup": "startup",
    "ready_after": "ready_after",
    "serves_after": "serves_after",
    "exit_after": "exit_after",
    "fail_liveness_after": "hang_after",
    "shutdown": "shutdown",
}


def distribution(spec: schema.DistributionSpec) -> Distribution:
    if spec.fixed is not None:
        return Fixed(spec.fixed)
    if spec.uniform is not None:
        return Uniform(spec.uniform.min, spec.uniform.max)
    if spec.normal is not None:
        return Normal(spec.normal.mean, spec.normal.stddev)
    if spec.lognormal is not None:
        return LogNormal(spec.lognormal.median, spec.lognormal.p95)
    return Empirical(tuple(spec.empirical))


def behaviour(image: str, spec: schema.VersionSpec, base: VersionBehaviour | None = None) -> VersionBehaviour:
    """A behaviour profile from its scenario form; fields left out keep `base` (or the defaults)."""
    changes: dict = {"image": image}
    if spec.version is not None:
        changes["version"] = spec.version
    for field, target in _BEHAVIOUR_FIELDS.items():
        value = getattr(spec, field)
        if value is not None:
            changes[target] = distribution(value)
    if "never_ready" in spec.model_fields_set or base is None:
        changes["never_ready"] = spec.never_ready
    if "exit_code" in spec.model_fields_set or base is None:
        changes["exit_code"] = spec.exit_code
    if spec.error_rate is not None:
        changes["error_rate"] = spec.error_rate
    if spec.latency is not None:
        changes["latency"] = latency(spec.latency)
    if spec.capacity is not None:
        changes["capacity"] = spec.capacity
    if spec.concurrency is not None:
        changes["concurrency"] = spec.concurrency
    return (base or VersionBehaviour(image)).with_changes(**changes)


def latency(spec: schema.LatencySpec) -> Latency:
    if spec.histogram is not None:
        return HistogramLatency(tuple(b.le for b in spec.histogram), tuple(b.fraction for b in spec.histogram))
    return LogNormalLatency(spec.p50, spec.p99)
