"""`simdeploy serve` under bad requests: each gets a 4xx Status, nothing is half-written, the server keeps answering."""

from __future__ import annotations

import socket

import pytest
from serve_helpers import deployment, send, trusting

D = "/apis/apps/v1/namespaces/production/deployments/payments-api"
DEPLOYMENTS = "/apis/apps/v1/namespaces/production/deployments"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# (method, path, body, content type, expected code)
BAD = [
    ("PATCH", D, b"{not json", MERGE, 400),
    ("PATCH", D, b"{not json", STRATEGIC, 400),
    ("PATCH", D, b"{not json", JSON_PATCH, 400),
    ("PATCH", D, b'{"op": "replace"}', JSON_PATCH, 400),
    ("PATCH", D, b'[{"op": "frobnicate", "path": "/spec"}]', JSON_PATCH, 422),
    ("PATCH", D, b'[{"op": "replace", "path": "/spec/nope/x", "value": 1}]', JSON_PATCH, 422),
    ("PATCH", D, b"[1, 2]", MERGE, 400),
    ("PATCH", D, b'"text"', STRATEGIC, 400),
    ("PATCH", D, b"{}", "text/plain", 415),
    ("PATCH", D, b'{"spec": {"replicas": "six"}}', MERGE, 422),
    ("PATCH", D, b'{"spec": {"replicas": -1}}', MERGE, 422),
    ("PATCH", D + "?fieldValidation=Strict", b'{"spec": {"bogus": 1}}', STRATEGIC, 422),
    ("PATCH", D, b'{"spec": "x"}', MERGE, 422),
    ("PATCH", D, b'{"metadata": {"labels": "x"}}', MERGE, 422),
    ("PATCH", D, b'{"metadata": {"labels": {"tier": 1}}}', MERGE, 422),
    ("PATCH", D, b'{"spec": {"template": {"spec": {"containers": "x"}}}}', STRATEGIC, 422),
    ("PATCH", D, b'{"spec": {"template": {"spec": {"containers": [1]}}}}', STRATEGIC, 422),
    ("PATCH", D, b'{"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}}', MERGE, 422),
    ("PATCH", D + "/scale", b'{"spec": {"replicas": "x"}}', MERGE, 422),
    ("PUT", D + "/scale", b'{"spec": {"replicas": -3}}', "application/json", 422),
    ("PUT", D + "/scale", b"garbage", "application/json", 400),
    ("POST", DEPLOYMENTS, b"[]", "application/json", 400),
    ("POST", DEPLOYMENTS, b'{"metadata": "x"}', "application/json", 422),
    ("POST", DEPLOYMENTS, b'{"metadata": {"name": "x"}, "spec": {"replicas": "a"}}', "application/json", 422),
    ("POST", "/api/v1/namespaces/production/services", b'{"metadata": {"name": "s"}, "spec": {"ports": "x"}}', "", 422),
    ("POST", "/api/v1/namespaces/production/configmaps", b'{"metadata": {"name": "Bad_Name"}}', "", 422),
    ("DELETE", D, b"{not json", "application/json", 400),
    ("DELETE", D, b'{"preconditions": "x"}', "application/json", 400),
    ("DELETE", D, b'{"preconditions": {"resourceVersion": "1"}}', "application/json", 409),
    ("GET", "/api/v1/namespaces/production/pods?labelSelector=a%20in%20(", None, "", 400),
    ("GET", "/api/v1/namespaces/production/pods?fieldSelector=spec.bogus%3D1", None, "", 400),
    ("GET", "/api/v1/namespaces/production/pods?watch=true&resourceVersion=abc", None, "", 400),
    ("GET", "/api/v1/namespaces/production/pods?watch=true&timeoutSeconds=x", None, "", 400),
    ("GET", D + "/bogus", None, "", 404),
    ("GET", "/apis/nope/v1/things", None, "", 404),
]


@pytest.fixture(scope="module")
def server(serving):
    with serving(until=150, speed=0) as server:
        yield server


@pytest.mark.parametrize(("method", "path", "body", "content_type", "code"), BAD)
def test_a_bad_request_gets_a_4xx_status_and_changes_nothing(server, method, path, body, content_type, code):
    before = deployment(server)
    answer = send(server, method, path, body, content_type)
    assert answer[0] == code, answer[1]
    assert (answer[1]["kind"], answer[1]["status"], answer[1]["code"]) == ("Status", "Failure", code)
    assert deployment(server) == before  # the clock is stopped: any change would be the request's


def test_garbage_on_the_socket_gets_a_400_and_the_server_keeps_answering(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with trusting(server).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"\x00\x01 NOT HTTP AT ALL\r\n\r\n")
            answer = b"".join(iter(lambda: tls.recv(4096), b""))  # until the server closes: not left hanging
            assert b"400" in answer
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")  # plain HTTP to the TLS port: refused, not hung
        raw.recv(64)
    code, document = send(server, "GET", D, None, "")
    assert (code, document["metadata"]["name"]) == (200, "payments-api")
    assert server.requests.document()["by_status"].get("500") is None
