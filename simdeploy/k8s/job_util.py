"""batch/v1 Job arithmetic: API defaults, the generated selector, conditions, and the pod-failure back-off.

Defaults follow pkg/apis/batch/v1/defaults.go (SetDefaults_Job); the selector and labels the registry
adds follow pkg/registry/batch/job/strategy.go (generateSelector); conditions and the back-off follow
pkg/controller/job/job_controller.go and backoff_utils.go (getRemainingTimeForFailuresCount).
"""

from __future__ import annotations

INT32_MAX = 2**31 - 1
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")  # the new label and the legacy one
CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
CONTROLLER_UID = CONTROLLER_UID_LABELS[0]
# job_controller.go: DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff.
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0
# Condition types and reasons (staging/src/k8s.io/api/batch/v1/types.go).
COMPLETE, FAILED, FAILURE_TARGET, SUCCESS_CRITERIA_MET, SUSPENDED = (
    "Complete",
    "Failed",
    "FailureTarget",
    "SuccessCriteriaMet",
    "Suspended",
)
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")


def default_job(job: dict) -> None:
    """SetDefaults_Job (the pod template's own defaults are k8s/defaults.py's)."""
    spec = job.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = INT32_MAX if spec.get("backoffLimitPerIndex") is not None else 6
    template = spec.setdefault("template", {})
    labels = (template.get("metadata") or {}).get("labels")
    meta = job.setdefault("metadata", {})
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"


def generate_selector(job: dict) -> None:
    """The registry's generateSelector, once the Job has its uid: unless spec.manualSelector is true, the pod
    template gets the job-name and controller-uid labels (where not set) and the selector the controller-uid."""
    spec = job["spec"]
    if spec.get("manualSelector"):
        return
    meta = job["metadata"]
    template_meta = spec["template"].setdefault("metadata", {})
    labels = template_meta.get("labels") or {}
    for label in JOB_NAME_LABELS:
        labels.setdefault(label, meta["name"])
    for label in CONTROLLER_UID_LABELS:
        labels.setdefault(label, meta["uid"])
    template_meta["labels"] = labels
    selector = spec.get("selector") or {}
    match = dict(selector.get("matchLabels") or {})
    match.setdefault(CONTROLLER_UID, meta["uid"])
    spec["selector"] = {**selector, "matchLabels": match}


def condition(job: dict, kind: str) -> dict | None:
    """The Job's condition of that type with status True, if any."""
    for entry in (job.get("status") or {}).get("conditions") or ():
        if entry.get("type") == kind and entry.get("status") == "True":
            return entry
    return None


def is_finished(job: dict) -> bool:
    """util.IsJobFinished: a Complete or Failed condition is True."""
    return condition(job, COMPLETE) is not None or condition(job, FAILED) is not None


def remaining_backoff(failures: int, since_last_failure: float) -> float:
    """getRemainingTimeForFailuresCount: seconds before the next pod may be created after `failures` failures in
    a row, the last `since_last_failure` seconds ago: 10 s, doubling per failure, capped at 10 min."""
    if failures <= 0:
        return 0.0
    backoff = POD_FAILURE_BACKOFF
    for _ in range(1, failures):
        backoff *= 2
        if backoff >= MAX_POD_FAILURE_BACKOFF:
            backoff = MAX_POD_FAILURE_BACKOFF
            break
    return 0.0 if backoff < since_last_failure else backoff - since_last_failure


def job_status_text(job: dict) -> str:
    """The STATUS column of `kubectl get jobs` (pkg/printers/internalversion/printers.go printJob)."""
    if condition(job, COMPLETE):
        return "Complete"
    if condition(job, FAILED):
        return "Failed"
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if condition(job, SUSPENDED):
        return "Suspended"
    if condition(job, FAILURE_TARGET):
        return "FailureTarget"
    if condition(job, SUCCESS_CRITERIA_MET):
        return "SuccessCriteriaMet"
    return "Running"


def completions_text(job: dict) -> str:
    """The COMPLETIONS column: succeeded/completions, or `succeeded/1 of parallelism` for a work queue."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism", 0)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
