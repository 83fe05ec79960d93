"""The result document of a run (`simdeploy run --json`): its declared fields, how its numbers are rounded, a check.

Producers (the Simulation, the Argo Rollouts and flag hooks, expectations, `simdeploy serve`) build these
shapes; readers (reports, sweeps, expectations) read only the fields declared here. The README's "Result
document" section documents every field. Moments and durations are simulated seconds rounded to the
millisecond by `seconds()`; no producer writes a time any other way.
"""

# No `from __future__ import annotations`: TypedDict must see NotRequired[...] itself (Python 3.11).
import types
import typing
from typing import Any, Literal, NotRequired, TypedDict, Union

# -- rounding: one rule per kind of number -----------------------------------------------------------------


def seconds(value: float) -> float:
    """A moment or a duration of the run, to the millisecond (the timeline's resolution)."""
    return round(value + 0.0, 3)


def optional_seconds(value: float | None) -> float | None:
    return None if value is None else seconds(value)


def requests(value: float) -> float:
    """A number of requests: the fluid model counts fractions, kept to a thousandth."""
    return round(value + 0.0, 3)


def fraction(value: float) -> float:
    """A share (availability, an error ratio, users enabled) or a latency in seconds: six decimals."""
    return round(value + 0.0, 6)


# -- the timeline --------------------------------------------------------------------------------------------


class Event(TypedDict):
    """One line of the timeline, like `kubectl get events`; operator actions and alerts too."""

    t: float
    kind: str
    name: str
    namespace: NotRequired[str]  # a namespaced object's (involvedObject.namespace); none for nodes, alerts, flags
    reason: str
    message: str
    type: Literal["Normal", "Warning"]


class Action(TypedDict):
    """An operator action that ran: from the scenario's timeline, or `simdeploy ctl do` during `serve`."""

    t: float
    action: str  # the scenario's action name: set-image, enable-flag, promote, drain, ...
    target: str | None  # the Deployment, Rollout, node, image or flag it names
    message: str  # what it answered (kubectl's line), or the error
    failed: bool
    by: NotRequired[str]  # on a served world: the user who ran it (`simdeploy ctl do`, the Unleash flag console)


class ReplicaSet(TypedDict):
    """A ReplicaSet that existed during the run, in order of creation."""

    name: str
    owner_kind: str | None  # Deployment or Rollout
    owner: str | None
    image: str  # of its pod template's first container
    created_s: float


class SeriesRow(TypedDict):
    """A ReplicaSet's counts whenever one of them changed."""

    t: float
    replicaset: str
    revision: int  # deployment.kubernetes.io/revision, or rollout.argoproj.io/revision
    spec: int
    ready: int  # status.readyReplicas
    available: int  # status.availableReplicas
    serving: int  # pods Ready whose app can really serve (lower than ready with a lying readiness probe)


class TrafficRow(TypedDict):
    """Requests to one Service's pods of one version over the scrape interval ending at `t`."""

    t: float
    service: str
    version: str  # `none`: requests that found no endpoint
    requests: float
    errors: float
    p99_s: float | None


# -- the summary -------------------------------------------------------------------------------------------


class Rollout(TypedDict):
    revision: int
    started_s: float
    completed_s: float | None
    duration_s: float | None


class DeploymentSummary(TypedDict):
    rollout_complete_s: float | None
    peak_pods: int
    peak_pods_including_terminating: int
    min_available: int | None
    min_serving: int | None
    max_surge_observed: int
    max_unavailable_observed: int
    progress_deadline_exceeded: bool
    final_revision: int | None
    final_image: str | None
    rollouts: list[Rollout]


class Alert(TypedDict):
    name: str
    first_pending_s: float
    first_firing_s: float | None
    resolved_s: float | None
    labels: dict[str, str]


class Expectation(TypedDict):
    name: str
    expected: str
    measured: float | None
    shown: str  # the measured value as people read it
    verdict: Literal["pass", "fail"]


class PhaseChange(TypedDict):
    t: float
    phase: str


class StepCompleted(TypedDict):
    t: float
    step: int  # 1-based, as `kubectl argo rollouts get` counts
    of: int
    description: str  # `setWeight: 10`, `pause: 1m`, `analysis: success-rate`


class Measurement(TypedDict):
    metric: str
    dry_run: bool
    phase: str
    started_s: float
    finished_s: float
    value: str  # as Argo stores it (the query's result, formatted like Go), float noise rounded to six decimals
    message: str


class AnalysisRun(TypedDict):
    name: str
    phase: str
    message: str
    measurements: list[Measurement]


class ArgoRollout(TypedDict):
    phase: str | None
    phases: list[PhaseChange]
    steps_completed: list[StepCompleted]
    current_step_index: int | None
    updated_s: float | None
    completed_s: float | None
    aborted_s: float | None
    time_to_abort_s: float | None  # from the update
    analysis_runs: list[AnalysisRun]
    requests_failed_during_update: float | None


class FlagRow(TypedDict):
    flag: str
    cohort: str  # enabled, disabled or a variant's name
    requests: float
    errors: float


class FlagState(TypedDict):
    flag: str
    type: str
    owner: str | None
    expires: str | None
    stale: bool
    enabled: bool
    rollout: int | None
    users_enabled: float | None


class MigrationRow(TypedDict):
    """One attempt at a migration (flyway_schema_history's successful rows, and the failed attempts)."""

    version: str
    description: str
    kind: Literal["expand", "backfill", "contract"]
    runner: str  # `pod/<name>` (with ` (<init container>)`), or `dba` for the `migrate` action
    started_s: float
    finished_s: float | None
    success: bool
    message: str


class BlockedSpan(TypedDict):
    """A stretch during which a table's lock queue blocked one kind of query."""

    table: str
    queries: Literal["read", "write"]
    from_s: float
    to_s: float | None  # null: still blocked at the end
    cause: str


class Incompatibility(TypedDict):
    """An app version that cannot work against the schema as it stands, from the moment its requests met it."""

    image: str
    version: str
    reason: str
    from_s: float
    to_s: float | None


class DatabaseSummary(TypedDict):
    version: str  # the schema version applied at the end
    tables: dict[str, list[str]]  # table -> its columns at the end
    history: list[MigrationRow]
    blocked: list[BlockedSpan]
    incompatible: list[Incompatibility]


class SyncHook(TypedDict):
    kind: str
    name: str
    phase: Literal["Pending", "Running", "Succeeded", "Failed"]


class SyncRow(TypedDict):
    """One Argo CD sync operation of a `sync` action."""

    app: str
    requested_s: float
    started_s: float | None  # later than requested_s when it waited for another operation
    finished_s: float | None
    phase: Literal["Pending", "Running", "Succeeded", "Failed"]
    message: str
    hooks: list[SyncHook]


class ServiceFigures(TypedDict):
    """A Service of the service graph over the run: its users' requests and its callers' calls alike."""

    workload: str  # the Deployment or Rollout behind it
    requests: float
    errors: float
    availability: float | None
    user_requests: float  # sent by traffic sources
    user_errors: float
    degraded: float  # served without a failed callee's part (onFailure: degrade)
    fallbacks: float  # served by the fallback: a failed call (onFailure: fallback) or one a kill switch cut
    p99_latency_max_s: float | None  # worst scrape interval, its calls' time included


class EdgeFigures(TypedDict):
    """An edge of the service graph over the run."""

    caller: str
    callee: str
    calls: float  # made: first attempts
    skipped: float  # cut by a kill switch
    failed: float  # after retries
    attempts: float  # calls and retries, as the callee counted them
    retries: float
    retries_denied: float  # over the retry budget
    timeouts: float  # attempts past the timeout
    mean_latency_s: float | None  # of a call, retries and backoff included


class Felt(TypedDict):
    """A Service whose requests got worse while a rollout ran (error ratio, worst p99), against before it."""

    service: str
    error_ratio: float
    error_ratio_before: float
    p99_s: float | None
    p99_before_s: float | None


class BlastRadius(TypedDict):
    """A rollout of a Service's workload, and the Services (it and its callers, transitively) that felt it."""

    service: str
    workload: str
    started_s: float
    ended_s: float
    felt_by: list[Felt]


class Summary(DeploymentSummary):
    """The first Deployment's figures at the top level (cluster-wide for `peak_pods*`), then the rest."""

    requests_total: float
    errors_total: float
    availability: float | None
    p99_latency_max_s: float | None
    deployments: dict[str, DeploymentSummary]
    alerts: list[Alert]
    time_to_detect_s: float | None
    expectations: NotRequired[list[Expectation]]  # with an `expect` section
    argo_rollouts: NotRequired[dict[str, ArgoRollout]]  # with Argo Rollouts
    flags: NotRequired[list[FlagRow]]  # with feature flags
    flag_states: NotRequired[list[FlagState]]
    databases: NotRequired[dict[str, DatabaseSummary]]  # with `databases`
    syncs: NotRequired[list[SyncRow]]  # once a `sync` action ran
    services: NotRequired[dict[str, ServiceFigures]]  # with a service graph
    edges: NotRequired[list[EdgeFigures]]
    blast_radius: NotRequired[list[BlastRadius]]


# -- serve ------------------------------------------------------------------------------------------------


class Request(TypedDict):
    at_s: float
    wall_s: float
    method: str
    path: str
    query: str
    code: int
    user_agent: str
    user: str | None  # who sent it; null when no token was accepted
    command: str | None  # kubectl's Kubectl-Command header (`kubectl rollout undo`); null from other clients
    session: str | None  # kubectl's Kubectl-Session header: one id per kubectl invocation


class Requests(TypedDict):
    total: int
    by_status: dict[str, int]
    by_user: dict[str, int]
    dropped: int
    log: list[Request]


class SessionUser(TypedDict):
    name: str
    role: Literal["admin", "player", "observer"]


class Session(TypedDict):
    url: str
    speed: float
    simulated_s: float
    wall_s: float
    clock_error: str | None
    users: list[SessionUser]
    requests: Requests


# -- a drill (`simdeploy drill`) -----------------------------------------------------------------------------


class StepExpectation(TypedDict):
    condition: str  # as the drill file states it, in words
    within_s: float
    met_s: float | None
    verdict: Literal["pass", "fail"] | None  # None: the step's action never ended


class DrillStep(TypedDict):
    name: str
    action: Literal["kubectl", "flag", "gitopsRevert", "trafficShift", "migrate", "wait"]
    text: str  # the action in one line (the kubectl line as written)
    started_s: float | None  # the responder reached it
    ran_s: float | None  # its action ran, after the responder's manual time
    finished_s: float | None  # the action and its expectation are over
    outcome: Literal["done", "failed", "timed out", "skipped", "not reached"]
    output: str | None  # what kubectl (or the console) printed
    expect: StepExpectation | None
    deadline_s: float | None  # from the page
    deadline_verdict: Literal["pass", "fail"] | None
    verdict: Literal["pass", "fail"]
    reasons: list[str]


class Incident(TypedDict):
    fault_s: float | None  # the scenario's first timeline action
    trigger_s: float | None  # the page
    acknowledged_s: float | None
    mitigated_s: float | None
    recovered_s: float | None
    time_to_detect_s: float | None
    time_to_acknowledge_s: float | None  # from the page
    time_to_mitigate_s: float | None
    time_to_recover_s: float | None
    time_from_acknowledge_to_mitigate_s: float | None
    errors: float  # failed requests from the fault to recovery (or the end)
    error_budget_burned: float | None  # share of the SLO window's budget


class DrillSlo(TypedDict):
    availability: float
    window_s: float
    mitigation_hold_s: float


class Drill(TypedDict):
    name: str
    runbook: str
    slo: DrillSlo
    trigger_s: float | None
    acknowledged_s: float | None
    finished_s: float | None
    steps: list[DrillStep]
    incident: Incident
    expectations: list[Expectation]
    verdict: Literal["pass", "fail"]
    reasons: list[str]


# -- a game day (`simdeploy gameday`) ---------------------------------------------------------------------------


class FaultWindow(TypedDict):
    from_s: float
    to_s: float


class GameDayFault(TypedDict):
    name: str
    actions: list[str]  # each action's name and what it names (`set-image payments-api`)
    at_s: float  # its moment: fixed, or drawn within `window`
    window: FaultWindow | None
    fired_s: float | None  # null when the game day ended before it
    failed: bool  # an action of it failed (its error is in `messages`)
    messages: list[str]  # what each action answered


class Command(TypedDict):
    user: str
    role: Literal["player", "observer"]
    command: str  # `kubectl rollout undo` (Kubectl-Command), or the client, verb and resource of other clients
    session: str | None  # kubectl's Kubectl-Session: one invocation
    at_s: float  # its first request
    until_s: float  # its last request
    wall_s: float
    requests: int
    verbs: list[str]  # get, list, watch, create, update, patch, delete, evict
    targets: list[str]  # `deployments/payments-api`, `pods` (a list), `deployments/payments-api/scale`
    namespaces: list[str]
    wrote: bool  # a write was answered below 400
    refused: bool  # a request was refused with 403
    codes: dict[str, int]  # answers by status code


class DoneBy(TypedDict):
    user: str
    command: str
    at_s: float


class StepMatch(TypedDict):
    name: str
    action: Literal["kubectl", "flag", "gitopsRevert", "trafficShift", "wait"]
    text: str
    when: str | None  # the step's condition, for a conditional step
    status: Literal["done", "not done", "no action"]
    done_by: DoneBy | None


class FigureSpread(TypedDict):
    p50: float | None
    p90: float | None
    never: int  # runs in which it never happened


class Prediction(TypedDict):
    seeds: int
    first_seed: int
    runs: int
    passed: int  # runs whose drill verdict was pass
    figures: dict[str, FigureSpread]  # the incident figures' names


class GameDay(TypedDict):
    name: str
    status: Literal["completed", "interrupted"]
    seed: int
    players: list[str]
    observers: list[str]
    faults: list[GameDayFault]
    slo: DrillSlo
    runbook: str | None
    paged_by: str | None
    acknowledged_by: DoneBy | None
    acknowledged_how: Literal["explicit", "first command"] | None  # `simdeploy ctl ack`, or inferred
    incident: Incident
    predicted: Prediction | None
    commands: list[Command]
    steps: list[StepMatch]
    missed: list[str]  # names of the steps nobody did


# -- the document -------------------------------------------------------------------------------------------


class Result(TypedDict):
    scenario: str
    seed: int
    duration_s: float
    versions: dict[str, str]  # image -> the version name the scenario gives it
    summary: Summary
    actions: list[Action]
    events: list[Event]
    replicasets: list[ReplicaSet]
    series: list[SeriesRow]
    traffic: list[TrafficRow]
    session: NotRequired[Session]  # `simdeploy serve --json`
    drill: NotRequired[Drill]  # `simdeploy drill --json`
    gameday: NotRequired[GameDay]  # `simdeploy gameday --json`


# -- checking a document read back ------------------------------------------------------------------------------


def problems(document: Any, shape: Any = Result, path: str = "") -> list[str]:
    """What keeps `document` from being a result document: `field.path: what is wrong`, at most one per field.

    Every declared field must be there (NotRequired ones may be left out), with a value of its declared type,
    and no field may be there that is not declared.
    """
    where = path or "document"
    if _is_typeddict(shape):
        if not isinstance(document, dict):
            return [f"{where}: expected an object, got {_json_type(document)}"]
        hints = typing.get_type_hints(shape)
        found = []
        for name in hints:
            if name not in document:
                if name in shape.__required_keys__:
                    found.append(f"{_join(path, name)}: missing")
                continue
            found += problems(document[name], hints[name], _join(path, name))
        found += [f"{_join(path, name)}: not a field of the result document" for name in document if name not in hints]
        return found
    origin, arguments = typing.get_origin(shape), typing.get_args(shape)
    if origin in (Union, types.UnionType):
        if document is None and type(None) in arguments:
            return []
        options = [a for a in arguments if a is not type(None)]
        return problems(document, options[0], path) if len(options) == 1 else _scalar(document, options, where)
    if origin is list:
        if not isinstance(document, list):
            return [f"{where}: expected a list, got {_json_type(document)}"]
        return [p for i, item in enumerate(document) for p in problems(item, arguments[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(document, dict):
            return [f"{where}: expected an object, got {_json_type(document)}"]
        return [p for key, item in document.items() for p in problems(item, arguments[1], _join(path, key))]
    if origin is Literal:
        return [] if document in arguments else [f"{where}: expected one of {', '.join(arguments)}, got {document!r}"]
    return _scalar(document, [shape], where)


def _scalar(value: Any, types_: list, where: str) -> list[str]:
    for expected in types_:
        if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
            return []
        if expected is int and isinstance(value, int) and not isinstance(value, bool):
            return []
        if expected in (str, bool) and isinstance(value, expected):
            return []
        if expected is Any:
            return []
    wanted = " or ".join(_NAMES.get(t, str(t)) for t in types_)
    return [f"{where}: expected {wanted}, got {_json_type(value)}"]


_NAMES = {float: "a number", int: "an integer", str: "a string", bool: "true or false"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _is_typeddict(shape: Any) -> bool:
    return isinstance(shape, type) and issubclass(shape, dict) and hasattr(shape, "__required_keys__")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
