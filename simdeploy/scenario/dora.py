"""The `dora:` section: what `simdeploy dora` streams through the environments — the build, the failure profiles a
bad change draws from, the strategies that ship it to production and their runbooks, the SLO recovery is judged by."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, model_validator

from simdeploy.scenario.errors import Problem
from simdeploy.scenario.expect import Fraction
from simdeploy.scenario.fields import Duration, Factor, Strict
from simdeploy.scenario.schema import DistributionSpec

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
FAILURE_KINDS = ("crash", "errorRatio", "latency", "schemaBreak")


def _lognormal(median: str, p95: str) -> DistributionSpec:
    return DistributionSpec.model_validate({"lognormal": {"median": median, "p95": p95}})


class FailureSpec(Strict):
    """One way a change can be bad, and its weight among bad changes.

    crash: the new version's processes exit `exitAfter` after they start (CrashLoopBackOff follows);
    errorRatio: it fails `errorRate` of its requests; latency: its p50 and p99 are `factor` times the old one's;
    schemaBreak: it writes data the old version cannot read: `errorRate` of the old version's requests fail too
    from the moment the new one serves, so that rolling back does not help (a forward fix does).
    """

    name: str = Field(min_length=1, max_length=63)
    kind: Literal[FAILURE_KINDS]
    weight: float = Field(default=1.0, gt=0, le=1e6)
    error_rate: Fraction = Field(default=0.05, alias="errorRate")
    factor: Factor = 5.0
    exit_after: Duration = Field(default=30.0, gt=0, alias="exitAfter")
    environments: list[str] | None = None  # where the failure shows (default: every environment)


def _default_failures(production: str = "production") -> list[FailureSpec]:
    """A crash, an error ratio, a latency regression, and a schema break only production's data reveals."""
    return [
        FailureSpec(name="crash", kind="crash"),
        FailureSpec(name="error-ratio", kind="errorRatio", errorRate=0.05),
        FailureSpec(name="latency", kind="latency", factor=5.0),
        FailureSpec(name="schema-break", kind="schemaBreak", errorRate=0.2, environments=[production]),
    ]


class StrategySpec(Strict):
    """How production receives a release, and how the team recovers when it is bad.

    `overlay`: production as this strategy ships it (default: the last environment's overlay), e.g. a Rollout with
    canary steps and analysis; `flag`: the change ships dark behind this Unleash flag, enabled `releaseAfter` after
    the deploy, and a bad change's errors and latency show only to users the flag is on for; `runbook`: a runbook
    file (relative to the scenario) or one inline, as in a drill.
    """

    overlay: str | None = None
    runbook: str | dict[str, Any]
    flag: str | None = None
    release_after: Duration = Field(default=60.0, ge=0, alias="releaseAfter")


class DoraSloSpec(Strict):
    """What "recovered" means: error ratio and p99 latency back within these for `hold`."""

    availability: Fraction = 0.999
    p99_latency: Duration = Field(default=0.5, gt=0, alias="p99Latency")
    hold: Duration = Field(default=120.0, ge=0)


class DoraSpec(Strict):
    build: DistributionSpec = Field(default_factory=lambda: _lognormal("6m", "15m"))  # merge -> digest pushed
    release_at: Duration = Field(default=120.0, gt=0, alias="releaseAt")  # when each rehearsal ships the release
    window: Duration = Field(default=1200.0, gt=0)  # how long each rehearsal runs after the release
    slo: DoraSloSpec = Field(default_factory=DoraSloSpec)
    # A failure still there when its rehearsal ends is fixed forward: a new change through the pipeline, hours.
    forward_fix: DistributionSpec = Field(default_factory=lambda: _lognormal("4h", "24h"), alias="forwardFix")
    failures: list[FailureSpec] = Field(default_factory=_default_failures, min_length=1)
    strategies: dict[str, StrategySpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> DoraSpec:
        for name in [*self.strategies, *(f.name for f in self.failures)]:
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r}: strategy and failure names are lowercase letters, digits and '-'")
        names = [f.name for f in self.failures]
        if len(set(names)) != len(names):
            raise ValueError("failure names must be unique")
        return self


def read_dora(scenario: Scenario, problems: list[Problem]) -> DoraSpec | None:
    """Validate the `dora` section and what it names: environments, failure environments, flags, the timing."""
    from simdeploy.scenario.loader import _problems

    try:
        spec = DoraSpec.model_validate(scenario.spec.dora)
    except ValidationError as error:
        problems += _problems(error.errors(), ("dora",))
        return None
    if not scenario.environments:
        problems.append(Problem("dora", "needs an environments section: the pipeline the deploys go through"))
        return None
    names = [environment.name for environment in scenario.environments]
    if (
        "failures" not in scenario.spec.dora
    ):  # the default schema break shows in the last environment, whatever its name
        spec = spec.model_copy(update={"failures": _default_failures(names[-1])})
    for index, failure in enumerate(spec.failures):
        for env_index, name in enumerate(failure.environments or []):
            if name not in names:
                where = f"dora.failures[{index}].environments[{env_index}]"
                problems.append(Problem(where, f"no environment {name!r} (the environments are {', '.join(names)})"))
    features = {f.get("name") for f in (scenario.flag_state or {}).get("features", []) if isinstance(f, dict)}
    for name, strategy in spec.strategies.items():
        if strategy.flag is not None and strategy.flag not in features:
            where = f"dora.strategies.{name}.flag"
            problems.append(Problem(where, f"no feature {strategy.flag!r} in the scenario's flags section"))
    return spec
