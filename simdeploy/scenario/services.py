"""The scenario's `services` section: which Service calls which, how often, with what timeout, retries and fallback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from simdeploy.k8s.shown import shown
from simdeploy.scenario.fields import MAX_RATE, Duration, Strict


def _share(value: Any) -> Any:
    """0.2 or "20%" -> 0.2."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"expected a share like 0.2 or 20%, got {shown(value)}") from None
    return value


Share = Annotated[float, BeforeValidator(_share), Field(ge=0, le=100)]


class RetrySpec(Strict):
    """Retries of a failed attempt (an error, a refusal or a timeout), as a mesh's retry policy makes them."""

    count: int = Field(ge=0, le=10)  # retries after the first attempt: 3 retries, up to 4 attempts
    backoff: Duration = Field(default=0.025, ge=0)  # base interval of the jittered exponential backoff
    max_backoff: Duration | None = Field(default=None, ge=0, alias="maxBackoff")  # default 10 x backoff
    budget: Share | None = None  # retries at most this share of the calls (Envoy's budget_percent: 20%)
    min_per_second: float = Field(default=10.0, ge=0, le=MAX_RATE, alias="minPerSecond")  # with a budget


class EdgeSpec(Strict):
    """`caller` calls `callee` `calls` times per request it works on."""

    caller: str = Field(min_length=1)
    callee: str = Field(min_length=1)
    calls: float = Field(default=1.0, gt=0, le=1000)  # fan-out: calls per request; 0.3: 30% of requests call once
    timeout: Duration | None = Field(default=None, gt=0)  # per attempt (Istio's retries.perTryTimeout)
    retries: RetrySpec | None = None
    on_failure: Literal["fail", "degrade", "fallback"] = Field(default="fail", alias="onFailure")


class ServicesSpec(Strict):
    """The service dependency graph: Services of `namespace` calling each other (no cycles)."""

    namespace: str | None = None  # default: the manifests' namespace
    edges: list[EdgeSpec] = Field(min_length=1)
