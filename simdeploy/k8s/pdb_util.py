"""PodDisruptionBudget arithmetic and the Eviction API decision, ported from upstream Kubernetes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.pod_util import is_pod_ready
from simdeploy.k8s.timeutil import parse_time

# pkg/controller/disruption/disruption.go: an evicted pod not deleted within this time counts again.
DELETION_TIMEOUT = timedelta(minutes=2)
# pkg/registry/core/pod/storage/eviction.go: above this many pending disruptions evictions get 403.
MAX_DISRUPTED_POD_SIZE = 2000

TOO_MANY_PDBS_MESSAGE = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)
BUDGET_VIOLATION_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."

_PERCENT_RE = re.compile(r"[+-]?[0-9]+%")


def _spec(pdb: dict) -> dict:
    return pdb.get("spec") or {}


def _status(pdb: dict) -> dict:
    return pdb.get("status") or {}


def _scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total rounded as asked."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _PERCENT_RE.fullmatch(value):
        scaled = int(value[:-1]) * total
        return -(-scaled // 100) if round_up else scaled // 100
    raise ValueError(f"invalid value for IntOrString {value!r}: must be an integer or 'N%'")


def uses_controller_scale(pdb: dict) -> bool:
    """Whether expectedPods is the sum of the owning controllers' scale (getExpectedPodCount).

    True for maxUnavailable (int or percent) and for a percentage minAvailable; an integer
    minAvailable counts the selected pods instead.
    """
    spec = _spec(pdb)
    return spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)


def expected_pod_count(pdb: dict, expected_count: int, selected_pod_count: int) -> int:
    """status.expectedPods: the controllers' scale sum, the selected pods, or 0 with no rule."""
    if uses_controller_scale(pdb):
        return expected_count
    return selected_pod_count if _spec(pdb).get("minAvailable") is not None else 0


def desired_healthy(pdb: dict, expected_count: int, selected_pod_count: int) -> int:
    """status.desiredHealthy, as getExpectedPodCount in disruption.go.

    expected_count is the sum of the owning controllers' scale (Deployment via its
    ReplicaSet: spec.replicas; unmanaged pods add nothing). selected_pod_count is only
    needed for expected_pod_count: an integer minAvailable is its own answer.
      maxUnavailable (int, or % of expected_count rounded up) -> max(0, expected - it)
      minAvailable int -> the value; minAvailable % -> ceil(% of expected_count)
    Raises ValueError for a string without "%".
    """
    spec = _spec(pdb)
    if spec.get("maxUnavailable") is not None:
        max_unavailable = _scaled_value(spec["maxUnavailable"], expected_count, round_up=True)
        return max(0, expected_count - max_unavailable)
    if spec.get("minAvailable") is not None:
        return _scaled_value(spec["minAvailable"], expected_count, round_up=True)
    return 0


def disruptions_allowed(current_healthy: int, desired_healthy: int, expected_count: int) -> int:
    """currentHealthy - desiredHealthy, floored at 0, and 0 while expectedPods <= 0."""
    if expected_count <= 0:
        return 0
    return max(0, current_healthy - desired_healthy)


def _as_time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else parse_time(value)


def count_healthy_pods(pods: list[dict], disrupted_pods: dict | None, now: datetime) -> int:
    """Ready pods that are not terminating and not awaiting an approved eviction.

    disrupted_pods is status.disruptedPods (pod name -> RFC 3339 time or datetime); an entry
    stops hiding its pod once DELETION_TIMEOUT has passed (disruption.go countHealthyPods).
    """
    healthy = 0
    for pod in pods:
        metadata = pod.get("metadata") or {}
        if metadata.get("deletionTimestamp"):
            continue
        evicted_at = (disrupted_pods or {}).get(metadata.get("name"))
        if evicted_at is not None and _as_time(evicted_at) + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


def prune_disrupted_pods(pdb: dict, pods: list[dict], now: datetime) -> dict:
    """The disruptedPods entries the controller keeps (disruption.go buildDisruptedPodMap).

    Kept: entries for selected pods that are not yet terminating and whose timeout has not
    passed. Values are copied as given.
    """
    recorded = _status(pdb).get("disruptedPods") or {}
    kept = {}
    for pod in pods:
        metadata = pod.get("metadata") or {}
        name = metadata.get("name")
        if metadata.get("deletionTimestamp") or name not in recorded:
            continue
        if not _as_time(recorded[name]) + DELETION_TIMEOUT < now:
            kept[name] = recorded[name]
    return kept


def compute_pdb_status(pdb: dict, selected_pods: list[dict], controller_scale: int, now: datetime) -> dict:
    """The status the disruption controller writes (trySync and updatePdbStatus).

    selected_pods are the pods in the PDB's namespace its selector matches; controller_scale
    is the sum of their controllers' scale. Conditions are left out.
    """
    expected = expected_pod_count(pdb, controller_scale, len(selected_pods))
    desired = desired_healthy(pdb, controller_scale, len(selected_pods))
    disrupted = prune_disrupted_pods(pdb, selected_pods, now)
    current = count_healthy_pods(selected_pods, disrupted, now)
    return {
        "disruptionsAllowed": disruptions_allowed(current, desired, expected),
        "currentHealthy": current,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "disruptedPods": disrupted,
        "observedGeneration": (pdb.get("metadata") or {}).get("generation", 0),
    }


def matching_pdbs(pod: dict, pdbs: list[dict]) -> list[dict]:
    """PDBs in the pod's namespace whose selector matches its labels; invalid ones never match."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    found = []
    for pdb in pdbs:
        if ((pdb.get("metadata") or {}).get("namespace") or "default") != namespace:
            continue
        try:
            if selector_matches(_spec(pdb).get("selector"), metadata.get("labels")):
                found.append(pdb)
        except ValueError:
            continue
    return found


def _bypasses_budget(pod: dict) -> bool:
    """eviction.go canIgnorePDB: terminal, Pending or already terminating pods."""
    phase = (pod.get("status") or {}).get("phase")
    terminating = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return phase in ("Succeeded", "Failed", "Pending") or terminating


def _unhealthy_pod_may_go(pdb: dict) -> bool:
    """An unready pod is evicted without using the budget under this PDB's policy."""
    if _spec(pdb).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    # IfHealthyBudget, the default: the guarded application is not disrupted at the moment.
    status = _status(pdb)
    desired = status.get("desiredHealthy", 0)
    return status.get("currentHealthy", 0) >= desired and desired > 0


def _check_budget(pdb: dict) -> tuple[int, str, dict | None]:
    """eviction.go checkAndDecrement, without the decrement."""
    status = _status(pdb)
    name = (pdb.get("metadata") or {}).get("name", "")
    allowed = status.get("disruptionsAllowed", 0)
    if status.get("observedGeneration", 0) < (pdb.get("metadata") or {}).get("generation", 0):
        return 429, BUDGET_VIOLATION_MESSAGE, None
    forbidden = f'poddisruptionbudget.policy "{name}" is forbidden: '
    if allowed < 0:
        return 403, forbidden + "pdb disruptions allowed is negative", None
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        reason = "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        return 403, forbidden + reason, None
    if allowed == 0:
        return 429, BUDGET_VIOLATION_MESSAGE, None
    return 200, f"Evicted; PodDisruptionBudget {name} allowed {allowed} disruption(s).", pdb


def _evaluate_eviction(pod: dict, pdbs: list[dict]) -> tuple[int, str, dict | None]:
    if _bypasses_budget(pod):
        return (
            200,
            "Evicted without a budget check: the pod is terminal, Pending or terminating.",
            None,
        )
    matched = matching_pdbs(pod, pdbs)
    if len(matched) > 1:
        return 500, TOO_MANY_PDBS_MESSAGE, None
    if not matched:
        return 200, "Evicted: no PodDisruptionBudget selects the pod.", None
    # eviction.go: an unready pod may skip the budget check (the pod is Running or Unknown here).
    if not is_pod_ready(pod) and _unhealthy_pod_may_go(matched[0]):
        return 200, "Evicted without using the budget: the pod is not Ready.", None
    return _check_budget(matched[0])


def eviction_decision(pod: dict, pdbs: list[dict], now: datetime) -> tuple[int, str]:
    """What POST pods/<name>/eviction answers: (HTTP status, message). Mutates nothing.

    200 evicted, 429 budget exhausted or PDB status stale, 403 budget negative or too many
    pending disruptions, 500 more than one matching PDB. On a 200 that consumed a budget the
    caller decrements status.disruptionsAllowed and records status.disruptedPods[pod] = now;
    eviction_charged_pdb says which PDB that is. `now` is accepted for symmetry: upstream's
    decision itself does not read the clock.
    """
    code, message, _ = _evaluate_eviction(pod, pdbs)
    return code, message


def eviction_charged_pdb(pod: dict, pdbs: list[dict], now: datetime) -> dict | None:
    """The PDB whose budget an allowed eviction consumes; None when none is consumed or refused."""
    return _evaluate_eviction(pod, pdbs)[2]
