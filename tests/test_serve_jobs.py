"""Jobs through `simdeploy serve` with the real kubectl: get jobs (kubectl 1.37's columns), describe job, delete."""

from __future__ import annotations

import json
import time

from serve_helpers import kubectl, needs_kubectl, ok, rows

from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.distributions import Fixed

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "flyway-migrate", "namespace": "production"},
    "spec": {
        "backoffLimit": 0,
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "flyway", "image": "flyway/flyway:10"}]}
        },
    },
}


@needs_kubectl
def test_kubectl_gets_describes_and_deletes_a_job(serving, tmp_path):
    with serving(until=0, speed=1) as server:
        server.sim.set_behaviour(VersionBehaviour("flyway/flyway:10", pull=Fixed(0), exit_after=Fixed(3), exit_code=0))
        manifest = tmp_path / "job.json"
        manifest.write_text(json.dumps(JOB))
        assert "job.batch/flyway-migrate created" in ok(kubectl(server, tmp_path, "apply", "-f", str(manifest)))
        running = rows(ok(kubectl(server, tmp_path, "get", "jobs", "-n", "production")))
        assert running[0][:3] == ["flyway-migrate", "Running", "0/1"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            table = ok(kubectl(server, tmp_path, "get", "jobs", "-n", "production", "-o", "wide"))
            if rows(table)[0][1] == "Complete":
                break
            time.sleep(0.5)
        header = table.splitlines()[0].split()
        assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
        row = rows(table)[0]
        assert row[:3] == ["flyway-migrate", "Complete", "1/1"] and row[5:7] == ["flyway", "flyway/flyway:10"]
        assert row[7].startswith("batch.kubernetes.io/controller-uid=")
        pods = rows(ok(kubectl(server, tmp_path, "get", "pods", "-n", "production", "-l", "job-name=flyway-migrate")))
        assert [p[2] for p in pods] == ["Completed"]
        described = ok(kubectl(server, tmp_path, "describe", "job", "flyway-migrate", "-n", "production"))
        assert "Backoff Limit:    0" in described
        assert "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed" in described
        assert "Completed At:" in described and "SuccessfulCreate" in described and "Job completed" in described
        ok(kubectl(server, tmp_path, "delete", "job", "flyway-migrate", "-n", "production"))
        left = kubectl(server, tmp_path, "get", "pods", "-n", "production", "-l", "job-name=flyway-migrate")
        assert "No resources found" in left.stderr + left.stdout


@needs_kubectl
def test_applying_an_edited_job_is_refused_as_immutable_until_it_is_replaced(serving, tmp_path):
    with serving(until=0, speed=1) as server:
        server.sim.set_behaviour(VersionBehaviour("flyway/flyway:10", pull=Fixed(0), exit_after=Fixed(600)))
        server.sim.set_behaviour(VersionBehaviour("flyway/flyway:11", pull=Fixed(0), exit_after=Fixed(600)))
        manifest = tmp_path / "job.json"
        manifest.write_text(json.dumps(JOB))
        ok(kubectl(server, tmp_path, "apply", "-f", str(manifest)))
        edited = json.loads(json.dumps(JOB))
        edited["spec"]["template"]["spec"]["containers"][0]["image"] = "flyway/flyway:11"
        manifest.write_text(json.dumps(edited))
        refused = kubectl(server, tmp_path, "apply", "-f", str(manifest))
        assert refused.returncode == 1
        assert 'The Job "flyway-migrate" is invalid: spec.template: Invalid value: ' in refused.stderr
        assert refused.stderr.rstrip().endswith("field is immutable")
        replaced = ok(kubectl(server, tmp_path, "replace", "--force", "-f", str(manifest)))
        assert 'job.batch "flyway-migrate" deleted' in replaced and "job.batch/flyway-migrate replaced" in replaced
        images = ok(kubectl(server, tmp_path, "get", "job", "flyway-migrate", "-n", "production", "-o",
                            "jsonpath={.spec.template.spec.containers[0].image}"))  # fmt: skip
        assert images == "flyway/flyway:11"
