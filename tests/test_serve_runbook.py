"""End to end: `simdeploy serve` in its own process, a runbook typed with the real kubectl, then SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import yaml
from serve_helpers import KUBECTL, NEW_IMAGE, OLD_IMAGE, ROOT, SEED, needs_kubectl


@needs_kubectl
def test_a_bad_release_runbook_rehearsed_with_kubectl(tmp_path):
    config, result = tmp_path / "kubeconfig", tmp_path / "session.json"
    command = [sys.executable, "-m", "simdeploy", "serve", str(SEED), "--speed", "40"]
    serve = subprocess.Popen(
        [*command, "--kubeconfig", str(config), "--json", str(result)], stdout=subprocess.PIPE, text=True
    )

    def kubectl(*args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "c"), "-n", "production", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def image() -> str:
        return kubectl("get", "deploy", "payments-api", "-o", "jsonpath={.spec.template.spec.containers[0].image}")

    try:
        for line in serve.stdout:
            if line.startswith("try: kubectl"):
                break
        # The scenario's own timeline still plays: its rollout to 2.9.0 starts at 2m (3 s of wall time).
        assert kubectl("wait", "--for=condition=available", "deploy/payments-api", "--timeout=60s") == (
            "deployment.apps/payments-api condition met"
        )
        header, *deployments = kubectl("get", "deployments").splitlines()
        assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        assert [row.split()[0] for row in deployments] == ["payments-api"]
        assert len(kubectl("get", "pods", "-l", "app=payments-api", "-o", "name").splitlines()) >= 6
        for _ in range(300):  # the scenario's own set-image at 2m
            if image() == NEW_IMAGE:
                break
            time.sleep(0.1)
        assert "successfully rolled out" in kubectl("rollout", "status", "deploy/payments-api", "--timeout=50s")

        # Runbook: the release is bad, roll it back, check the history, then roll forward again.
        revisions = [line.split()[0] for line in kubectl("rollout", "history", "deploy/payments-api").splitlines()[2:]]
        assert revisions == ["1", "2"]
        assert kubectl("rollout", "undo", "deploy/payments-api") == "deployment.apps/payments-api rolled back"
        assert image() == OLD_IMAGE
        assert "successfully rolled out" in kubectl("rollout", "status", "deploy/payments-api", "--timeout=50s")
        assert kubectl("rollout", "undo", "deploy/payments-api", "--to-revision=2") == (
            "deployment.apps/payments-api rolled back"
        )
        assert image() == NEW_IMAGE
        assert "successfully rolled out" in kubectl("rollout", "status", "deploy/payments-api", "--timeout=50s")
        assert kubectl("set", "image", "deploy/payments-api", f"api={OLD_IMAGE}") == (
            "deployment.apps/payments-api image updated"
        )
        assert "successfully rolled out" in kubectl("rollout", "status", "deploy/payments-api", "--timeout=50s")

        # Capacity, traffic and a stuck pod.
        assert kubectl("scale", "deploy/payments-api", "--replicas=8") == "deployment.apps/payments-api scaled"
        assert kubectl("get", "deploy", "payments-api", "-o", "jsonpath={.spec.replicas}") == "8"
        patch = '{"spec":{"selector":{"app":"payments-api","track":"stable"}}}'
        assert kubectl("patch", "service", "payments-api", "-p", patch) == "service/payments-api patched"
        victim = kubectl("get", "pods", "-l", "app=payments-api", "-o", "jsonpath={.items[0].metadata.name}")
        assert kubectl("delete", "pod", victim, "--wait=false") == f'pod "{victim}" deleted from production namespace'
        kubectl("wait", "--for=condition=available", "deploy/payments-api", "--timeout=60s")

        # Declarative: the seed manifest applied back over all of it.
        manifest = yaml.safe_load((ROOT / "scenarios" / "manifests" / "payments-api.yaml").read_text())
        path = tmp_path / "payments-api.yaml"
        path.write_text(yaml.safe_dump(manifest))
        assert kubectl("apply", "-f", str(path)) == "deployment.apps/payments-api configured"
        assert kubectl("get", "deploy", "payments-api", "-o", "jsonpath={.spec.replicas}") == "6"

        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=30)
    finally:
        serve.kill()
    assert serve.returncode == 0
    session = json.loads(result.read_text())["session"]
    typed = [r for r in session["requests"]["log"] if r["method"] != "GET"]
    assert {"PATCH", "DELETE"} <= {r["method"] for r in typed}
    assert any(r["path"].endswith("/deployments/payments-api/scale") for r in typed)
    assert "500" not in session["requests"]["by_status"]
