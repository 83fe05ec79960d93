"""The scenario file format: metadata, cluster, manifests, version behaviours and a timeline of actions."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from simdeploy.k8s.duration import MAX_SECONDS
from simdeploy.scenario.fields import (
    INT32_MAX,
    INT64_MAX,
    INT64_MIN,
    MAX_RATE,
    Duration,
    Factor,
    Int32,
    Labels,
    NodeName,
    Quantity,
    Rate,
    Strict,
    Timestamp,
    Weight,
)
from simdeploy.scenario.schema_databases import (
    DatabaseSpec,
    LongTransactionAction,
    MigrateAction,
    MigrationSpec,
    SyncAction,
    VersionSchemaSpec,
)
from simdeploy.scenario.services import ServicesSpec

# -- distributions ---------------------------------------------------------------


class UniformSpec(Strict):
    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformSpec:
        if self.max < self.min:
            raise ValueError("max must not be less than min")
        return self


class NormalSpec(Strict):
    mean: Duration
    stddev: Duration


class LogNormalSpec(Strict):
    median: Duration = Field(gt=0)
    p95: Duration

    @model_validator(mode="after")
    def _ordered(self) -> LogNormalSpec:
        if self.p95 <= self.median:
            raise ValueError("p95 must be greater than median")
        return self


class DistributionSpec(Strict):
    """One of: fixed, uniform, normal, lognormal (by median and p95), empirical (observed values)."""

    fixed: Duration | None = None
    uniform: UniformSpec | None = None
    normal: NormalSpec | None = None
    lognormal: LogNormalSpec | None = None
    empirical: list[Duration] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _scalar_is_fixed(cls, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return {"fixed": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> DistributionSpec:
        given = [
            name for name in ("fixed", "uniform", "normal", "lognormal", "empirical") if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError("give a duration, or exactly one of fixed, uniform, normal, lognormal, empirical")
        return self


# -- versions ----------------------------------------------------------------------


class LatencyBucket(Strict):
    le: Duration = Field(gt=0)
    fraction: float = Field(gt=0, le=1)


class LatencySpec(Strict):
    """Latency when idle: p50 and p99 (a lognormal through them), or an observed cumulative histogram."""

    p50: Duration | None = Field(default=None, gt=0)
    p99: Duration | None = Field(default=None, gt=0)
    histogram: list[LatencyBucket] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> LatencySpec:
        if self.histogram is not None:
            if self.p50 is not None or self.p99 is not None:
                raise ValueError("give p50 and p99, or a histogram, not both")
            bounds = [b.le for b in self.histogram]
            fractions = [b.fraction for b in self.histogram]
            if bounds != sorted(set(bounds)) or fractions != sorted(fractions):
                raise ValueError("histogram buckets must increase in le and in fraction")
            if fractions[-1] != 1:
                raise ValueError("the last histogram bucket must hold fraction 1")
            return self
        if self.p50 is None or self.p99 is None:
            raise ValueError("give both p50 and p99 (or a histogram)")
        if self.p99 < self.p50:
            raise ValueError("p99 must not be less than p50")
        return self


class VersionSpec(Strict):
    """How one image behaves; times are from container start unless said otherwise."""

    version: str | None = None
    pull: DistributionSpec | None = None
    startup: DistributionSpec | None = None
    ready_after: DistributionSpec | None = Field(default=None, alias="readyAfter")
    serves_after: DistributionSpec | None = Field(default=None, alias="servesAfter")
    never_ready: bool = Field(default=False, alias="neverReady")
    exit_after: DistributionSpec | None = Field(default=None, alias="exitAfter")
    exit_code: Int32 = Field(default=1, alias="exitCode")
    fail_liveness_after: DistributionSpec | None = Field(default=None, alias="failLivenessAfter")
    shutdown: DistributionSpec | None = None
    error_rate: float | None = Field(default=None, ge=0, le=1, alias="errorRate")
    latency: LatencySpec | None = None
    capacity: float | None = Field(default=None, gt=0, le=MAX_RATE)  # requests per second one pod serves
    concurrency: int | None = Field(default=None, ge=1, le=10000)  # requests one pod works on at once
    schema_needs: VersionSchemaSpec | None = Field(default=None, alias="schema")  # see schema_databases.py


# -- cluster -------------------------------------------------------------------------


class NodeGroup(Strict):
    """Either one node (`name`) or `count` nodes named `<namePrefix>-1..N`."""

    name: NodeName | None = None
    name_prefix: NodeName = Field(default="node", alias="namePrefix")
    count: int = Field(default=1, ge=1, le=INT32_MAX)
    cpu: Quantity = "8"
    memory: Quantity = "32Gi"
    pods: int = Field(default=110, ge=1, le=INT32_MAX)
    labels: Labels = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> NodeGroup:
        if self.name is not None and {"count", "name_prefix"} & self.model_fields_set:
            raise ValueError("give name (one node), or namePrefix and count (nodes <namePrefix>-1..N), not both")
        return self

    def names(self) -> list[str]:
        """The names of the group's nodes."""
        return [self.name] if self.name else [f"{self.name_prefix}-{i}" for i in range(1, self.count + 1)]


class Cluster(Strict):
    nodes: list[NodeGroup] = Field(default_factory=lambda: [NodeGroup(count=3)], min_length=1)
    controller_latency: Duration = Field(default=0.05, alias="controllerLatency")
    scheduling_latency: Duration = Field(default=0.05, alias="schedulingLatency")
    container_start: Duration = Field(default=1.0, alias="containerStart")
    endpoint_propagation_delay: Duration = Field(default=1.0, alias="endpointPropagationDelay")
    node_monitor_grace_period: Duration = Field(default=50.0, alias="nodeMonitorGracePeriod")
    unreachable_toleration: Duration = Field(default=300.0, alias="unreachableTolerationSeconds")
    start_time: Timestamp | None = Field(default=None, alias="startTime")
    tick: Duration = Field(default=1.0, gt=0)
    scrape_interval: Duration = Field(default=15.0, gt=0, alias="scrapeInterval")
    evaluation_interval: Duration = Field(default=15.0, gt=0, alias="evaluationInterval")  # alerting rules
    overload: Literal["503", "504"] = "503"


# -- manifests -----------------------------------------------------------------------


class ManifestRef(Strict):
    """A manifest file (path relative to the scenario; may hold several documents) or an inline object."""

    file: str | None = None
    inline: dict[str, Any] | str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_object(cls, value: Any) -> Any:
        if isinstance(value, dict) and "apiVersion" in value and "kind" in value:
            return {"inline": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ManifestRef:
        if (self.file is None) == (self.inline is None):
            raise ValueError("give exactly one of file (a path) or inline (a Kubernetes object)")
        return self


# -- traffic ---------------------------------------------------------------------------


class StepSpec(Strict):
    at: Duration
    rps: Rate


class RampSpec(Strict):
    from_: Rate = Field(alias="from")
    to: Rate
    over: Duration = Field(gt=0)
    start: Duration = 0.0


class DiurnalSpec(Strict):
    mean: Rate
    amplitude: Rate
    period: Duration = Field(default=86400.0, gt=0)
    peak_at: Duration = Field(default=14 * 3600.0, alias="peakAt")


class SpikeSpec(Strict):
    base: Rate
    peak: Rate
    at: Duration
    duration: Duration = Field(gt=0)


class RateSpec(Strict):
    """Requests per second: a number, or one of steps, ramp, diurnal, spike, csv (a file of time,rps)."""

    constant: Rate | None = None
    steps: list[StepSpec] | None = Field(default=None, min_length=1)
    ramp: RampSpec | None = None
    diurnal: DiurnalSpec | None = None
    spike: SpikeSpec | None = None
    csv: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"constant": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> RateSpec:
        given = [n for n in ("constant", "steps", "ramp", "diurnal", "spike", "csv") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give a number of requests/s, or exactly one of steps, ramp, diurnal, spike, csv")
        return self


class TrafficSpec(Strict):
    """Requests sent to a Service (or through a route) at `rate`."""

    service: str | None = None
    route: str | None = None
    namespace: str | None = None
    rate: RateSpec
    start: Duration = 0.0  # no requests before this moment (e.g. while the first pods start)

    @model_validator(mode="after")
    def _one_target(self) -> TrafficSpec:
        if (self.service is None) == (self.route is None):
            raise ValueError("give exactly one of service or route")
        return self


class RouteSpec(Strict):
    """Istio VirtualService-style weighted routing: Service name -> weight."""

    name: str
    namespace: str | None = None
    weights: dict[str, Weight] = Field(min_length=1)


# -- timeline --------------------------------------------------------------------------


class ActionBase(Strict):
    at: Duration
    namespace: str | None = None


class ApplyAction(ActionBase):
    action: Literal["apply"]
    manifest: ManifestRef


class SetImageAction(ActionBase):
    """kubectl set image deployment/NAME, or kubectl argo rollouts set image NAME."""

    action: Literal["set-image"]
    deployment: str | None = None
    rollout: str | None = None
    container: str = "*"
    image: str

    @model_validator(mode="after")
    def _one_target(self) -> SetImageAction:
        if (self.deployment is None) == (self.rollout is None):
            raise ValueError("give exactly one of deployment or rollout")
        return self


class ScaleAction(ActionBase):
    action: Literal["scale"]
    deployment: str
    replicas: int = Field(ge=0, le=INT32_MAX)


class _DeploymentOrRollout(ActionBase):
    deployment: str | None = None
    rollout: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _DeploymentOrRollout:
        if (self.deployment is None) == (self.rollout is None):
            raise ValueError("give exactly one of deployment or rollout")
        return self


class PauseAction(_DeploymentOrRollout):
    """kubectl rollout pause deployment/NAME, or kubectl argo rollouts pause NAME."""

    action: Literal["pause"]


class ResumeAction(_DeploymentOrRollout):
    """kubectl rollout resume, or for a Rollout the same as `promote` of a user pause."""

    action: Literal["resume"]


class RolloutUndoAction(ActionBase):
    """kubectl rollout undo deployment/NAME, or kubectl argo rollouts undo NAME."""

    action: Literal["rollout-undo"]
    deployment: str | None = None
    rollout: str | None = None
    to_revision: int = Field(default=0, ge=0, le=INT64_MAX, alias="toRevision")

    @model_validator(mode="after")
    def _one_target(self) -> RolloutUndoAction:
        if (self.deployment is None) == (self.rollout is None):
            raise ValueError("give exactly one of deployment or rollout")
        return self


class DeletePodsAction(ActionBase):
    action: Literal["delete-pods"]
    selector: str | dict[str, Any]
    count: int | None = Field(default=None, ge=0, le=INT32_MAX)
    percent: float | None = Field(default=None, ge=0, le=100)
    grace_period: int | None = Field(default=None, ge=0, le=int(MAX_SECONDS), alias="gracePeriod")

    @model_validator(mode="after")
    def _one_amount(self) -> DeletePodsAction:
        if self.count is not None and self.percent is not None:
            raise ValueError("give count or percent, not both")
        return self


class NodeAction(ActionBase):
    action: Literal["cordon", "uncordon", "drain", "fail-node"]
    node: NodeName


class SetBehaviourAction(ActionBase):
    action: Literal["set-behaviour"]
    image: str
    behaviour: VersionSpec


class RolloutAction(ActionBase):
    """kubectl argo rollouts promote [--full] / abort / retry."""

    action: Literal["promote", "abort", "retry"]
    rollout: str
    full: bool = False


class SetWeightsAction(ActionBase):
    action: Literal["set-weights"]
    route: str
    weights: dict[str, Weight] = Field(min_length=1)


class PatchAction(ActionBase):
    action: Literal["patch"]
    target: str = Field(pattern=r"^[a-zA-Z]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    patch: dict[str, Any]


class FlagAction(ActionBase):
    """Turn a feature flag on or off in Unleash; SDKs see it within `flags.propagation`."""

    action: Literal["enable-flag", "disable-flag"]
    flag: str


class SetRolloutAction(ActionBase):
    """Set the percentage of a flag's flexibleRollout and gradualRollout strategies."""

    action: Literal["set-rollout"]
    flag: str
    percent: int = Field(ge=0, le=100)


Action = Annotated[
    ApplyAction
    | SetImageAction
    | ScaleAction
    | PauseAction
    | ResumeAction
    | RolloutUndoAction
    | DeletePodsAction
    | NodeAction
    | SetBehaviourAction
    | SetWeightsAction
    | RolloutAction
    | PatchAction
    | FlagAction
    | SetRolloutAction
    | SyncAction
    | MigrateAction
    | LongTransactionAction,
    Field(discriminator="action"),
]
# Every action name, read off the union above so that the list cannot fall behind it.
ACTION_NAMES = [
    name for model in get_args(get_args(Action)[0]) for name in get_args(model.model_fields["action"].annotation)
]


# -- feature flags ---------------------------------------------------------------------


class FlagEffectSpec(Strict):
    """How serving changes for users in one cohort of a flag: `enabled`, `disabled` or a variant's name."""

    flag: str
    when: str = "enabled"
    version: str | None = None  # an image or a version name; every version if left out
    error_rate: float = Field(default=0.0, ge=0, le=1, alias="errorRate")
    latency_factor: Factor = Field(default=1.0, alias="latencyFactor")
    capacity_factor: Factor = Field(default=1.0, alias="capacityFactor")
    skip_calls: list[str] = Field(default_factory=list, alias="skipCalls")  # callees these users' requests skip


class FlagsSpec(Strict):
    """Unleash feature flags: the client API state (inline or a file), the users evaluating them, their effects."""

    state: dict[str, Any] | None = None  # {version, features, segments}, checked by delivery/flags.py
    file: str | None = None  # that document as JSON/YAML, or a ConfigMap with one feature per data key
    users: int = Field(default=10000, ge=1, le=1_000_000)  # user-1 .. user-N
    context: dict[str, str] = Field(default_factory=dict)  # added to each user's context (environment, appName...)
    propagation: Duration = Field(default=15.0, ge=0)  # the SDKs' polling interval
    effects: list[FlagEffectSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _exactly_one(self) -> FlagsSpec:
        if (self.state is None) == (self.file is None):
            raise ValueError("give exactly one of state (the Unleash client API state) or file")
        return self


# -- alerts ----------------------------------------------------------------------------


class AlertsRef(Strict):
    """Prometheus alerting rules: a rule file (path relative to the scenario) or inline `groups` in its format."""

    file: str | None = None
    groups: list[Any] | None = None  # checked by simdeploy.scenario.rules, like a file's

    @model_validator(mode="after")
    def _exactly_one(self) -> AlertsRef:
        if (self.file is None) == (self.groups is None):
            raise ValueError("give exactly one of file (a Prometheus rule file) or groups (its rule groups inline)")
        return self


# -- the scenario ----------------------------------------------------------------------


class Metadata(Strict):
    name: str = Field(min_length=1)
    description: str = ""


class ScenarioSpec(Strict):
    """A scenario file, as written."""

    api_version: Literal["simdeploy/v1alpha1"] = Field(default="simdeploy/v1alpha1", alias="apiVersion")
    kind: Literal["Scenario"] = "Scenario"
    metadata: Metadata
    seed: int = Field(default=1, ge=INT64_MIN, le=INT64_MAX)
    duration: Duration = 600.0
    cluster: Cluster = Field(default_factory=Cluster)
    manifests: list[ManifestRef] = Field(default_factory=list)  # at least one, unless environments bring them
    versions: dict[str, VersionSpec] = Field(default_factory=dict)
    traffic: list[TrafficSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)
    timeline: list[Action] = Field(default_factory=list)
    alerts: list[AlertsRef] = Field(default_factory=list)
    flags: FlagsSpec | None = None
    services: ServicesSpec | None = None  # the service dependency graph (scenario/services.py)
    expect: dict[str, Any] = Field(default_factory=dict)  # checked by scenario/expect.py
    databases: list[DatabaseSpec] = Field(default_factory=list)  # see schema_databases.py
    migrations: list[MigrationSpec] = Field(default_factory=list)
    environments: list[dict[str, Any]] = Field(default_factory=list)  # checked by scenario/environments.py
    dora: dict[str, Any] | None = None  # checked by scenario/dora.py

    @model_validator(mode="after")
    def _something_to_run(self) -> ScenarioSpec:
        if not self.manifests and not self.environments:
            raise ValueError("manifests: give at least one, or environments whose overlays render them")
        return self
