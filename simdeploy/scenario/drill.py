"""The drill file format: a scenario (the world and its fault), a runbook (the team's response), what must hold."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from simdeploy.scenario.expect import Fraction
from simdeploy.scenario.schema import DistributionSpec, Duration, Metadata, Strict

# -- conditions ------------------------------------------------------------------------------------------


class ConditionSpec(Strict):
    """One of: a Deployment's condition, a Rollout's phase, an alert's state, a PromQL value against a number."""

    namespace: str | None = None
    deployment: str | None = None
    condition: Literal["Available", "Progressing", "Complete"] = "Available"  # Complete: `rollout status` done
    status: bool = True  # the condition is True (or, with false, not)
    rollout: str | None = None
    phase: Literal["Healthy", "Progressing", "Paused", "Degraded"] | None = None
    alert: str | None = None
    state: Literal["firing", "pending", "resolved", "inactive"] = "firing"
    query: str | None = None  # PromQL; its value (the sum of the result's samples) compared with below/above
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> ConditionSpec:
        subjects = [n for n in ("deployment", "rollout", "alert", "query") if getattr(self, n) is not None]
        if len(subjects) != 1:
            raise ValueError("give exactly one of deployment, rollout, alert or query")
        if self.rollout is not None and self.phase is None:
            raise ValueError("a rollout condition needs `phase` (Healthy, Progressing, Paused or Degraded)")
        if self.query is not None and (self.below is None) == (self.above is None):
            raise ValueError("a query condition needs exactly one of below or above (a number)")
        return self


class ExpectStep(ConditionSpec):
    """A condition the step promises, and how long after the step's action it may take to hold."""

    within: Duration = 300.0


# -- steps -----------------------------------------------------------------------------------------------


class FlagStepSpec(Strict):
    """A flag change in the flag console: `disable`, `enable` or set the rollout percentage of a flag."""

    disable: str | None = None
    enable: str | None = None
    set_rollout: str | None = Field(default=None, alias="setRollout")
    percent: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_change(self) -> FlagStepSpec:
        given = [n for n in ("disable", "enable", "set_rollout") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of disable, enable or setRollout (with percent)")
        if (self.set_rollout is None) != (self.percent is None):
            raise ValueError("setRollout and percent go together")
        return self


class GitOpsRevertSpec(Strict):
    """`git revert` of the last manifest change, then the GitOps controller syncs the previous manifest set."""

    sync_delay: DistributionSpec | None = Field(default=None, alias="syncDelay")  # default: Argo CD's 3m polling


class TrafficShiftSpec(Strict):
    """Send traffic back to the stable side: a route's weights, or a Service's selector (blue/green)."""

    namespace: str | None = None
    route: str | None = None
    weights: dict[str, float] | None = None
    service: str | None = None
    selector: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TrafficShiftSpec:
        if (self.route is None) == (self.service is None):
            raise ValueError("give exactly one of route (with weights) or service (with selector)")
        if self.route is not None and not self.weights:
            raise ValueError("a route shift needs weights")
        if self.service is not None and not self.selector:
            raise ValueError("a service shift needs selector")
        return self


class MigrateStepSpec(Strict):
    """A forward fix: run the pending migrations of a database up to a version (Flyway migrate, by hand)."""

    database: str | None = None  # default: the scenario's only database
    to: str | None = Field(default=None, pattern=r"^\d+(\.\d+)*$")


STEP_ACTIONS = ("kubectl", "flag", "gitops_revert", "traffic_shift", "migrate", "wait")


class StepSpec(Strict):
    """One runbook step: a name, exactly one action, and optionally when to do it, what it promises, a deadline."""

    name: str = Field(min_length=1)
    kubectl: str | None = None  # a kubectl command line of the supported subset (k8s/kubectl_cli.py)
    flag: FlagStepSpec | None = None
    gitops_revert: GitOpsRevertSpec | None = Field(default=None, alias="gitopsRevert")
    traffic_shift: TrafficShiftSpec | None = Field(default=None, alias="trafficShift")
    migrate: MigrateStepSpec | None = None
    wait: Duration | None = None
    when: ConditionSpec | None = None  # skip the step unless this holds when the responder reaches it
    expect: ExpectStep | None = None
    deadline: Duration | None = None  # from the trigger: the step must be finished by then
    manual: DistributionSpec | None = None  # this step's own human time, instead of responders.step

    @model_validator(mode="before")
    @classmethod
    def _gitops_revert_flag(cls, value: Any) -> Any:
        # `gitopsRevert: {}` and a bare `gitopsRevert:` (null) both mean "revert with the default delay"
        if isinstance(value, dict) and "gitopsRevert" in value and value["gitopsRevert"] is None:
            return {**value, "gitopsRevert": {}}
        return value

    @model_validator(mode="after")
    def _one_action(self) -> StepSpec:
        given = [n for n in STEP_ACTIONS if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one action: kubectl, flag, gitopsRevert, trafficShift, migrate or wait")
        return self

    @property
    def action(self) -> str:
        return next(n for n in STEP_ACTIONS if getattr(self, n) is not None)


# -- the runbook -----------------------------------------------------------------------------------------


# The scenario expectations that can be watched while the run goes on (a trigger), and what is watched.
WATCHABLE_EXPECTATIONS = ("availability", "errorRatio", "errorsServed", "p99Latency", "minAvailable", "maxUnavailable")


class TriggerSpec(Strict):
    """What pages the team: an alert firing, one of the scenario's expectations failing, a condition, a moment."""

    alert: str | None = None
    expectation: Literal[WATCHABLE_EXPECTATIONS] | None = None
    condition: ConditionSpec | None = None
    at: Duration | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> TriggerSpec:
        if sum(getattr(self, n) is not None for n in ("alert", "expectation", "condition", "at")) != 1:
            raise ValueError("give exactly one of alert, expectation, condition or at")
        return self


def _lognormal(median: str, p95: str) -> DistributionSpec:
    return DistributionSpec.model_validate({"lognormal": {"median": median, "p95": p95}})


class RespondersSpec(Strict):
    """The human side: how long until someone acknowledges the page, and how long each manual step takes."""

    acknowledge: DistributionSpec = Field(default_factory=lambda: _lognormal("2m", "8m"))
    step: DistributionSpec = Field(default_factory=lambda: _lognormal("20s", "1m"))


class RunbookSpec(Strict):
    """The team's response to a page, in order."""

    name: str | None = None
    trigger: TriggerSpec
    responders: RespondersSpec = Field(default_factory=RespondersSpec)
    steps: list[StepSpec] = Field(min_length=1)


# -- the drill -------------------------------------------------------------------------------------------


class SloSpec(Strict):
    """The service level the incident is measured against."""

    availability: Fraction = 0.999
    window: Duration = 30 * 86400.0  # the error budget's window (30 days)
    mitigation_hold: Duration = Field(default=120.0, alias="mitigationHold")  # error ratio under the SLO this long


class DrillExpectSpec(Strict):
    """What must hold for the drill to pass, beyond every step meeting its deadline."""

    time_to_detect: Duration | None = Field(default=None, alias="timeToDetect")
    time_to_acknowledge: Duration | None = Field(default=None, alias="timeToAcknowledge")
    time_to_mitigate: Duration | None = Field(default=None, alias="timeToMitigate")
    time_to_recover: Duration | None = Field(default=None, alias="timeToRecover")
    errors: float | None = Field(default=None, ge=0)
    error_budget_burned: Fraction | None = Field(default=None, alias="errorBudgetBurned")
    recovers: bool = True  # the steady state returns before the scenario ends


class FidelitySpec(Strict):
    """How close a drill on a real cluster must come to its prediction: the largest difference allowed per figure."""

    rollout_time: Duration = Field(default=30.0, alias="rolloutTime")  # each rollout's duration
    min_available: int = Field(default=1, ge=0, alias="minAvailable")
    peak_pods: int = Field(default=2, ge=0, alias="peakPods")
    error_ratio: Fraction = Field(default=0.02, alias="errorRatio")  # share of requests that failed
    time_to_detect: Duration = Field(default=60.0, alias="timeToDetect")
    time_to_mitigate: Duration = Field(default=120.0, alias="timeToMitigate")
    time_to_recover: Duration = Field(default=120.0, alias="timeToRecover")


class DrillSpec(Strict):
    """A drill file, as written."""

    api_version: Literal["simdeploy/v1alpha1"] = Field(default="simdeploy/v1alpha1", alias="apiVersion")
    kind: Literal["Drill"] = "Drill"
    metadata: Metadata
    scenario: str | dict[str, Any]  # a scenario file (relative to the drill) or a scenario inline
    runbook: str | dict[str, Any]  # a runbook file (relative to the drill) or the runbook inline (RunbookSpec)
    slo: SloSpec = Field(default_factory=SloSpec)
    expect: DrillExpectSpec = Field(default_factory=DrillExpectSpec)
    fidelity: FidelitySpec = Field(default_factory=FidelitySpec)  # on a real cluster: observed vs predicted
