"""The Job controller against upstream's rules (pkg/controller/job/job_controller.go and its tests)."""

from __future__ import annotations

import copy

import pytest

from simdeploy.k8s.admission import admit
from simdeploy.k8s.job_util import remaining_backoff
from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.cluster.api import Invalid
from simdeploy.sim.distributions import Fixed
from simdeploy.sim.simulation import Simulation

IMAGE = "migrate:1"


def job(**spec) -> dict:
    template = {
        "spec": {"restartPolicy": spec.pop("restartPolicy", "Never"), "containers": [{"name": "m", "image": IMAGE}]}
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default"},
        "spec": {"template": template, **spec},
    }


def run(manifest: dict, until: float, exit_after: float = 5.0, exit_code: int = 0) -> Simulation:
    behaviour = VersionBehaviour(IMAGE, pull=Fixed(0), exit_after=Fixed(exit_after), exit_code=exit_code)
    sim = Simulation("jobs", [manifest], {IMAGE: behaviour}, until)
    sim.run_until(until)
    return sim


def conditions(sim: Simulation) -> list[tuple[str, str]]:
    status = sim.store.get("Job", "default", "migrate")["status"]
    return [(c["type"], c["reason"]) for c in status.get("conditions", [])]


def job_events(sim: Simulation) -> list[tuple[float, str]]:
    return [(e["t"], e["reason"]) for e in sim.recorder.events if e["kind"] == "Job"]


def test_defaults_follow_set_defaults_job():
    obj = job()
    assert admit(obj) == []
    spec = obj["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["podReplacementPolicy"]) == (
        "NonIndexed",
        False,
        "TerminatingOrFailed",
    )
    only_parallelism = job(parallelism=3)
    admit(only_parallelism)
    assert only_parallelism["spec"]["parallelism"] == 3 and "completions" not in only_parallelism["spec"]


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"restartPolicy": "Always"}, "spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure"'),
        ({"backoffLimit": -1}, "spec.backoffLimit", "must be greater than or equal to 0"),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds", "must be greater than 0"),
        ({"completionMode": "Sometimes"}, "spec.completionMode", "Unsupported value"),
        ({"manualSelector": True}, "spec.selector", "Required value"),
    ],
)
def test_invalid_jobs_are_refused_naming_the_field(spec, path, message):
    errors = admit(job(**spec))
    assert any(e.path == path and message in e.message for e in errors), errors


def test_the_selector_is_generated_from_the_uid_with_job_name_labels():
    sim = run(job(), 1)
    stored = sim.store.get("Job", "default", "migrate")
    uid = stored["metadata"]["uid"]
    assert stored["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = stored["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == labels["job-name"] == "migrate"
    pod = sim.store.list("Pod")[0]
    assert pod["metadata"]["labels"]["controller-uid"] == uid
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"


def test_a_successful_pod_completes_the_job_with_the_interim_condition_first():
    sim = run(job(), 60)
    status = sim.store.get("Job", "default", "migrate")["status"]
    assert status["succeeded"] == 1 and "active" not in status and status["ready"] == 0
    assert conditions(sim) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert status["completionTime"] > status["startTime"]
    assert [p["status"]["phase"] for p in sim.store.list("Pod")] == ["Succeeded"]
    assert [reason for _, reason in job_events(sim)] == ["Apply", "SuccessfulCreate", "Completed"]


# backoffLimit counts failed pods; each replacement waits 10 s, doubling per failure in a row.
@pytest.mark.parametrize(("limit", "pods"), [(0, 1), (1, 2), (3, 4)])
def test_backoff_limit_counts_failed_pods(limit, pods):
    sim = run(job(backoffLimit=limit), 400, exit_code=1)
    status = sim.store.get("Job", "default", "migrate")["status"]
    assert status["failed"] == pods == len(sim.store.list("Pod"))
    assert conditions(sim) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    created = [t for t, reason in job_events(sim) if reason == "SuccessfulCreate"]
    gaps = [round(b - a, 1) for a, b in zip(created, created[1:], strict=False)]
    # scheduling 0.05 s, start 1 s, exit 5 s later, the controller 0.05 s later; then the back-off: 10, 20, 40 s
    assert gaps == [round(6.1 + 10 * 2**i, 1) for i in range(pods - 1)]


def test_remaining_backoff_doubles_and_caps_at_ten_minutes():
    assert remaining_backoff(0, 0) == 0
    assert remaining_backoff(1, 3) == 7
    assert remaining_backoff(3, 0) == 40
    assert remaining_backoff(20, 0) == 600
    assert remaining_backoff(2, 25) == 0


def test_on_failure_restarts_count_against_the_backoff_limit():
    sim = run(job(backoffLimit=2, restartPolicy="OnFailure"), 200, exit_code=1)
    assert conditions(sim)[-1] == ("Failed", "BackoffLimitExceeded")
    # one pod only: its container restarted in place until the restarts reached the limit
    created = [reason for _, reason in job_events(sim) if reason == "SuccessfulCreate"]
    assert len(created) == 1


def test_active_deadline_fails_the_job_and_deletes_its_pods():
    sim = run(job(activeDeadlineSeconds=20), 120, exit_after=3600)
    assert conditions(sim) == [("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")]
    assert sim.store.list("Pod") == []  # the running pod was deleted (30 s grace)
    failed_at = next(t for t, reason in job_events(sim) if reason == "DeadlineExceeded")
    assert 20 <= failed_at < 21
    status = sim.store.get("Job", "default", "migrate")["status"]
    assert status["failed"] == 1 and "completionTime" not in status


def test_parallel_completions_run_at_most_parallelism_pods():
    sim = run(job(completions=4, parallelism=2), 200)
    status = sim.store.get("Job", "default", "migrate")["status"]
    assert status["succeeded"] == 4
    created = [t for t, reason in job_events(sim) if reason == "SuccessfulCreate"]
    assert len(created) == 4 and created[0] == created[1] < created[2]


def test_ttl_after_finished_deletes_the_job_and_its_pods():
    sim = run(job(ttlSecondsAfterFinished=30), 100)
    assert sim.store.find("Job", "default", "migrate") is None
    assert sim.store.list("Pod") == []


def test_deleting_a_job_deletes_its_pods():
    sim = run(job(), 3, exit_after=3600)
    assert len(sim.store.list("Pod")) == 1
    sim.api.delete("Job", "default", "migrate")
    sim.run_until(60)
    assert sim.store.list("Pod") == []


def test_a_job_without_restart_policy_is_refused_by_the_api():
    obj = job()
    del obj["spec"]["template"]["spec"]["restartPolicy"]
    sim = Simulation("jobs", [], {}, 10)
    with pytest.raises(Invalid, match="restartPolicy: Required value"):
        sim.api.create(obj)


# -- what an update may not change (ValidateJobSpecUpdate) ---------------------------------------------------


def test_a_started_jobs_template_completions_and_selector_are_immutable():
    sim = run(job(), 3, exit_after=3600)
    stored = sim.store.get("Job", "default", "migrate")
    edited = copy.deepcopy(stored)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "migrate:2"
    edited["spec"]["completions"] = 2
    with pytest.raises(Invalid) as refused:
        sim.api.update(stored, edited)
    assert [e.path for e in refused.value.errors] == ["spec.completions", "spec.template"]
    assert all(e.message.endswith("field is immutable") for e in refused.value.errors)
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE  # nothing half-written
    mutable = copy.deepcopy(stored)
    mutable["spec"]["backoffLimit"], mutable["spec"]["activeDeadlineSeconds"] = 2, 600
    assert sim.api.update(stored, mutable)["spec"]["backoffLimit"] == 2


def test_a_suspended_job_that_never_started_may_change_its_scheduling_directives_only():
    sim = run(job(suspend=True), 3)
    stored = sim.store.get("Job", "default", "migrate")
    assert sim.store.list("Pod") == [] and "startTime" not in stored.get("status", {})
    scheduled = copy.deepcopy(stored)
    scheduled["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "batch"}
    scheduled["spec"]["template"]["metadata"]["annotations"] = {"queue": "migrations"}
    sim.api.update(stored, scheduled)
    assert stored["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "batch"}
    imaged = copy.deepcopy(stored)
    imaged["spec"]["template"]["spec"]["containers"][0]["image"] = "migrate:2"
    with pytest.raises(Invalid, match=r"spec\.template: Invalid value: .*field is immutable"):
        sim.api.update(stored, imaged)


def test_an_indexed_job_may_scale_completions_with_parallelism():
    sim = run(job(completionMode="Indexed", completions=2, parallelism=2), 1, exit_after=3600)
    stored = sim.store.get("Job", "default", "migrate")
    elastic = copy.deepcopy(stored)
    elastic["spec"]["completions"] = elastic["spec"]["parallelism"] = 3
    assert sim.api.update(stored, elastic)["spec"]["completions"] == 3
    alone = copy.deepcopy(stored)
    alone["spec"]["completions"] = 4
    with pytest.raises(Invalid, match=r"spec\.completions: Invalid value: 4: field is immutable"):
        sim.api.update(stored, alone)


def test_a_deployments_selector_is_immutable_in_apps_v1():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api", "tier": "web"}},
                "spec": {"containers": [{"name": "a", "image": IMAGE}]},
            },
        },
    }
    sim = Simulation("jobs", [deployment], {}, 1)
    stored = sim.store.get("Deployment", "default", "api")
    edited = copy.deepcopy(stored)
    edited["spec"]["selector"] = {"matchLabels": {"app": "api", "tier": "web"}}
    with pytest.raises(Invalid, match=r"spec\.selector: Invalid value: .*field is immutable"):
        sim.api.update(stored, edited)
