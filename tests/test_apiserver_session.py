"""`simdeploy serve` on stop: the session's result document, with every request the clients made."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from serve_helpers import KUBECTL, SEED, needs_kubectl, request


def test_the_result_document_lists_each_request_with_its_answer(serving):
    with serving(until=150, speed=0) as server:
        assert request(server, "/apis/apps/v1/namespaces/production/deployments")[0] == 200
        assert request(server, "/api/v1/namespaces/production/pods/nope")[0] == 404
        assert request(server, "/api/v1/pods", token=False)[0] == 401
    document = server.result()

    session = document["session"]
    assert session["speed"] == 0
    assert session["simulated_s"] == 150
    requests = session["requests"]
    assert requests["total"] == 3
    assert requests["by_status"] == {"200": 1, "401": 1, "404": 1}
    assert [(r["method"], r["path"], r["code"]) for r in requests["log"]] == [
        ("GET", "/apis/apps/v1/namespaces/production/deployments", 200),
        ("GET", "/api/v1/namespaces/production/pods/nope", 404),
        ("GET", "/api/v1/pods", 401),
    ]
    assert all(r["at_s"] == 150 for r in requests["log"])
    # The rest is `simdeploy run --json`'s document for the time served: the rollout began at 2m.
    assert document["scenario"] == "payments-rolling-update"
    assert any(e["reason"] == "ScalingReplicaSet" for e in document["events"])


def test_the_request_log_keeps_the_newest_and_counts_the_rest():
    from simdeploy.apiserver.requests_log import RequestLog

    log = RequestLog(keep=2)
    for n in range(5):
        log.add(n, n, "GET", f"/api/v1/pods?limit={n}", 200 if n else 500, "kubectl")
    document = log.document()
    assert (document["total"], document["dropped"]) == (5, 3)
    assert document["by_status"] == {"200": 4, "500": 1}
    kept = [(r["path"], r["query"]) for r in document["log"]]
    assert kept == [("/api/v1/pods", "limit=3"), ("/api/v1/pods", "limit=4")]


@needs_kubectl
def test_sigterm_writes_the_session_document_with_kubectls_requests(tmp_path):
    out, config = tmp_path / "session.json", tmp_path / "kubeconfig"
    command = [sys.executable, "-m", "simdeploy", "serve", str(SEED), "--speed", "60"]
    serve = subprocess.Popen(
        [*command, "--json", str(out), "--kubeconfig", str(config)], stdout=subprocess.PIPE, text=True
    )
    try:
        for line in serve.stdout:
            if line.startswith("try: kubectl"):
                break
        got = subprocess.run(
            [KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "c"), "get", "deploy", "-A"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert "payments-api" in got.stdout, got.stderr
        assert not out.exists()  # written on stop, not before
        time.sleep(0.5)
        serve.send_signal(signal.SIGTERM)
        rest, _ = serve.communicate(timeout=20)
    finally:
        serve.kill()
    assert serve.returncode == 0
    assert f"result written to {out}" in rest
    session = json.loads(out.read_text())["session"]
    asked = [r for r in session["requests"]["log"] if r["user_agent"].startswith("kubectl")]
    assert ("GET", "/apis/apps/v1/deployments", 200) in [(r["method"], r["path"], r["code"]) for r in asked]
    assert session["simulated_s"] > 0


def test_serve_refuses_a_json_path_it_could_not_write_at_the_end(tmp_path):
    from typer.testing import CliRunner

    from simdeploy.cli import app

    result = CliRunner().invoke(app, ["serve", str(SEED), "--json", str(tmp_path / "no" / "such" / "out.json")])
    assert result.exit_code == 2
    assert "--json: no directory" in result.output
