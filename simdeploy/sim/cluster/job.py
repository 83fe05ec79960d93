"""The Job controller: runs a batch/v1 Job's pods to completion, counting failures against backoffLimit.

Follows pkg/controller/job/job_controller.go (syncJob, manageJob) for NonIndexed Jobs: pods are created up to
min(parallelism, completions - succeeded), after a failure only once the pod-failure back-off has passed (10 s
doubling per failure in a row, capped at 10 min); `failed > backoffLimit` (or, with restartPolicy OnFailure,
container restarts reaching it) and `activeDeadlineSeconds` fail the Job, whose active pods are deleted. As
upstream does since JobPodReplacementPolicy went GA, the interim FailureTarget / SuccessCriteriaMet condition
comes first and the terminal Failed / Complete once no pod is left running or terminating. Pods the Job counted
stay counted after they are deleted (upstream tracks them with the batch.kubernetes.io/job-tracking finalizer).
`ttlSecondsAfterFinished` deletes a finished Job and its pods (the TTL-after-finished controller).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from simdeploy.k8s import job_util as ju
from simdeploy.k8s.service_account import volume_name, with_service_account
from simdeploy.k8s.timeutil import parse_time
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.api import Api
from simdeploy.sim.cluster.store import DELETED, NotFound, Store
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.workqueue import WorkQueue

MAX_POD_CREATE_DELETE_PER_SYNC = 500  # job_controller.go MaxPodCreateDeletePerSync
TERMINAL = ("Succeeded", "Failed")


@dataclass
class JobRecord:
    """What the controller keeps of one Job between syncs: counted pods and the failure back-off."""

    counted: dict[str, str] = field(default_factory=dict)  # pod uid -> "succeeded" | "failed"
    failures_in_a_row: int = 0
    last_failure: float = 0.0
    ttl_planned: bool = False


class JobController:
    """Reconciles every Job in the store."""

    def __init__(self, clock: Clock, store: Store, api: Api, recorder: Recorder, latency: float):
        self.clock = clock
        self.store = store
        self.api = api
        self.recorder = recorder
        self.queue = WorkQueue(clock, latency, self.sync)
        self.records: dict[str, JobRecord] = {}  # by Job uid
        self._epoch_ts = store.epoch.timestamp()
        store.watch("Job", self._on_job)
        store.watch("Pod", self._on_pod)

    # -- watches ---------------------------------------------------------------

    def _on_job(self, event_type: str, job: dict) -> None:
        meta = job["metadata"]
        if event_type == DELETED:
            self.records.pop(meta["uid"], None)
            return
        self.queue.add(f"{meta['namespace']}/{meta['name']}")

    def _on_pod(self, event_type: str, pod: dict) -> None:
        ref = next((r for r in pod["metadata"].get("ownerReferences") or () if r.get("controller")), None)
        if ref is None or ref.get("kind") != "Job":
            return
        record = self.records.get(ref["uid"])
        uid = pod["metadata"]["uid"]
        if event_type == DELETED and record is not None and uid not in record.counted:
            # A pod gone before it finished counts as failed (upstream's finalizer keeps it until counted).
            phase = pod.get("status", {}).get("phase")
            self._count(record, uid, "succeeded" if phase == "Succeeded" else "failed")
        self.queue.add(f"{pod['metadata']['namespace']}/{ref['name']}")

    def _count(self, record: JobRecord, uid: str, outcome: str) -> None:
        record.counted[uid] = outcome
        if outcome == "failed":
            record.failures_in_a_row += 1
            record.last_failure = self.clock.now
        else:
            record.failures_in_a_row = 0

    # -- sync ------------------------------------------------------------------

    def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        job = self.store.find("Job", namespace, name)
        if job is None or ju.is_finished(job):
            return
        spec, status = job["spec"], job.setdefault("status", {})
        before = copy.deepcopy(status)
        record = self.records.setdefault(job["metadata"]["uid"], JobRecord())
        pods = self.store.owned_by("Pod", job["metadata"]["uid"])
        for pod in pods:
            phase = pod.get("status", {}).get("phase")
            if phase in TERMINAL and pod["metadata"]["uid"] not in record.counted:
                self._count(record, pod["metadata"]["uid"], "succeeded" if phase == "Succeeded" else "failed")
        active = [p for p in pods if _active(p)]
        terminating = [p for p in pods if p["metadata"].get("deletionTimestamp") and not _terminal(p)]
        succeeded = sum(1 for outcome in record.counted.values() if outcome == "succeeded")
        failed = len(record.counted) - succeeded
        now = self.clock.now
        if status.get("startTime") is None and not spec.get("suspend"):
            status["startTime"] = self.store.timestamp()
        conditions = list(status.get("conditions") or [])
        finishing = _find(conditions, ju.FAILURE_TARGET) or _find(conditions, ju.SUCCESS_CRITERIA_MET)
        if finishing is None:
            reason = None
            if failed > spec["backoffLimit"] or _past_backoff_limit_on_failure(job, active):
                reason = ju.BACKOFF_LIMIT_EXCEEDED
            elif self._past_active_deadline(job):
                reason = ju.DEADLINE_EXCEEDED
            elif spec.get("activeDeadlineSeconds") is not None and not spec.get("suspend"):
                self.queue.add_after(key, self._started(job) + spec["activeDeadlineSeconds"] - now)
            if reason is not None:
                finishing = self._condition(ju.FAILURE_TARGET, *reason)
                conditions.append(finishing)
                self.recorder.object_event(job, reason[0], reason[1], warning=True)
        if finishing is not None and finishing["type"] == ju.FAILURE_TARGET:
            for pod in active:
                self.api.delete_pod(pod)
            terminating += active
            active = []
        elif finishing is None:
            active = self._manage(job, record, active, succeeded)
            completions = spec.get("completions")
            done = succeeded >= completions if completions is not None else succeeded > 0
            if done and not active:
                finishing = self._condition(ju.SUCCESS_CRITERIA_MET, *ju.COMPLETIONS_REACHED)
                conditions.append(finishing)
        if finishing is not None and not active and not terminating:
            final = ju.FAILED if finishing["type"] == ju.FAILURE_TARGET else ju.COMPLETE
            conditions.append(self._condition(final, finishing["reason"], finishing["message"]))
            if final == ju.COMPLETE:
                status["completionTime"] = self.store.timestamp()
                self.recorder.object_event(job, "Completed", "Job completed")
        status.update(
            active=len(active),
            ready=sum(1 for p in active if _ready(p)),
            terminating=len(terminating),
            succeeded=succeeded,
            failed=failed,
            uncountedTerminatedPods={},
            conditions=conditions,
        )
        for empty in ("succeeded", "failed", "active"):  # omitempty, as the API server serves them
            if not status[empty]:
                del status[empty]
        if not conditions:
            del status["conditions"]
        if status == before:
            return  # a write that changes nothing would only wake this controller again
        self.store.update(job)
        if ju.is_finished(job):
            self._plan_ttl(job, record)

    def _manage(self, job: dict, record: JobRecord, active: list[dict], succeeded: int) -> list[dict]:
        """manageJob for a NonIndexed Job: create or delete pods to run the wanted number; returns the active."""
        spec = job["spec"]
        name = job["metadata"]["name"]
        wanted = spec["parallelism"]
        if spec.get("completions") is not None:
            wanted = max(0, min(spec["completions"] - succeeded, wanted))
        elif succeeded > 0:
            wanted = 0  # a work-queue Job: once one pod succeeded, no new ones
        if spec.get("suspend"):
            wanted = 0
        diff = wanted - len(active)
        if diff < 0:
            for pod in active[: min(-diff, MAX_POD_CREATE_DELETE_PER_SYNC)]:
                self.api.delete_pod(pod)
                self.recorder.object_event(job, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            return active[-diff:]
        if diff > 0:
            wait = ju.remaining_backoff(record.failures_in_a_row, self.clock.now - record.last_failure)
            if wait > 1e-6:  # (float rounding of simulated time must not requeue at the same instant)
                self.queue.add_after(f"{job['metadata']['namespace']}/{name}", wait)
                return active
            for _ in range(min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)):
                pod = self.api.create(self._new_pod(job), trusted=True)
                self.recorder.object_event(job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
                active = [*active, pod]
        return active

    def _new_pod(self, job: dict) -> dict:
        template = job["spec"]["template"]
        meta = template.get("metadata") or {}
        name = job["metadata"]["name"]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": name + "-",
                "namespace": job["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": with_service_account(template["spec"], volume_name(name)),
            "status": {"phase": "Pending"},
        }

    # -- time ------------------------------------------------------------------

    def _started(self, job: dict) -> float:
        return parse_time(job["status"]["startTime"]).timestamp() - self._epoch_ts

    def _past_active_deadline(self, job: dict) -> bool:
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline is None or job["status"].get("startTime") is None or job["spec"].get("suspend"):
            return False
        return self.clock.now - self._started(job) >= deadline

    def _condition(self, kind: str, reason: str, message: str) -> dict:
        stamp = self.store.timestamp()
        return {
            "type": kind,
            "status": "True",
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }

    def _plan_ttl(self, job: dict, record: JobRecord) -> None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None or record.ttl_planned:
            return
        record.ttl_planned = True
        meta = job["metadata"]
        uid = meta["uid"]

        def expire() -> None:
            current = self.store.find("Job", meta["namespace"], meta["name"])
            if current is not None and current["metadata"]["uid"] == uid:
                try:
                    self.api.delete("Job", meta["namespace"], meta["name"])
                except NotFound:
                    pass

        self.clock.call_later(float(ttl), expire)


def _terminal(pod: dict) -> bool:
    return pod.get("status", {}).get("phase") in TERMINAL


def _active(pod: dict) -> bool:
    """controller.FilterActivePods: not finished and not being deleted."""
    return not _terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def _ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", ())
    )


def _find(conditions: list[dict], kind: str) -> dict | None:
    return next((c for c in conditions if c.get("type") == kind and c.get("status") == "True"), None)


def _past_backoff_limit_on_failure(job: dict, active: list[dict]) -> bool:
    """pastBackoffLimitOnFailure: with restartPolicy OnFailure, container restarts count against backoffLimit."""
    if job["spec"]["template"]["spec"].get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(
        status.get("restartCount", 0)
        for pod in active
        for key in ("initContainerStatuses", "containerStatuses")
        for status in pod.get("status", {}).get(key) or ()
    )
    limit = job["spec"]["backoffLimit"]
    return restarts > 0 if limit == 0 else restarts >= limit
