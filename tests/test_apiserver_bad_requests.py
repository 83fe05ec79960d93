"""`simdeploy serve` under bad requests: each gets a 4xx Status, nothing is half-written, the server keeps answering."""

from __future__ import annotations

import http.client
import json
import socket

import pytest
from serve_helpers import deployment, raw, send, trusting

from simdeploy.apiserver import bodies
from simdeploy.apiserver.status import ApiError

D = "/apis/apps/v1/namespaces/production/deployments/payments-api"
DEPLOYMENTS = "/apis/apps/v1/namespaces/production/deployments"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def nested(depth: int) -> bytes:
    """A JSON object `depth` objects deep: {"a": {"a": ... {}}}."""
    return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


# Nine anchors, each nine times the one before: 9^9 values once expanded, from a few hundred bytes of YAML.
ALIAS_BOMB = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [
        f"{name}: &{name} [{','.join(['*' + previous] * 9)}]"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
).encode()

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
    # Nesting, sizes and numbers JSON has no room for: a 400 from the decoder, never a 500 from what follows it.
    ("PATCH", D, nested(bodies.MAX_DEPTH + 1), MERGE, 400),
    ("PATCH", D, nested(100_000), STRATEGIC, 400),  # past Python's recursion limit too
    ("PATCH", D, b'[{"op": "add", "path": "/metadata/labels", "value": ' + nested(500) + b"}]", JSON_PATCH, 400),
    ("PATCH", D, b"metadata: " + b"[" * 5000 + b"]" * 5000, APPLY, 400),
    ("PATCH", D, ALIAS_BOMB, APPLY, 400),
    ("PATCH", D, b"&loop [*loop]", APPLY, 400),
    ("PATCH", D, b'{"spec": {"replicas": NaN}}', MERGE, 400),
    ("PATCH", D, b'{"spec": {"replicas": 1e999}}', MERGE, 400),
    ("PATCH", D, b"spec: {replicas: .inf}", APPLY, 400),
    ("PUT", D, nested(5000), "application/json", 400),
    ("POST", DEPLOYMENTS, nested(5000), "application/json", 400),
    ("PATCH", "/simdeploy/v1/clock", nested(5000), "application/json", 400),
    ("POST", "/simdeploy/v1/actions", nested(5000), "application/json", 400),
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

    assert server.requests.document()["by_status"].get("500") is None


def test_decoding_stops_at_the_depth_limit_and_not_before():
    assert bodies.decode_body(nested(bodies.MAX_DEPTH))["a"]  # as deep as allowed
    with pytest.raises(ApiError) as refused:
        bodies.decode_body(nested(bodies.MAX_DEPTH + 1))
    assert (refused.value.code, refused.value.message) == (400, "error decoding body: exceeded max depth of 100")
    shared = b"base: &b {x: 1}\n" + b"".join(b"k%d: *b\n" % n for n in range(1000))  # aliases, not a bomb
    assert len(bodies.decode_patch(shared, as_yaml=True)) == 1001


def request_head(server, method: str = "PATCH", token: str | None = None, *headers: str) -> bytes:
    lines = [f"{method} {D} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token or server.token}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode("latin-1")  # as HTTP/1.1 headers are read


def test_the_token_is_checked_before_any_of_the_body_is_read(server):
    # The body never comes: answered at once all the same, and the connection is closed (the unread body
    # must not be taken for the next request).
    head = request_head(server, "PATCH", "wrong-token", "Content-Length: 1000", f"Content-Type: {MERGE}")
    code, _, body, closed = raw(server, head)
    assert (code, json.loads(body)["reason"], closed) == (401, "Unauthorized", True)


def test_a_body_past_3_mib_gets_413_before_it_is_read(server):
    before = deployment(server)
    length = 4 * 1024 * 1024
    head = request_head(server, "PATCH", None, f"Content-Length: {length}", f"Content-Type: {MERGE}")
    code, _, body, closed = raw(server, head + b'{"metadata": {"labels": {"x": "' + b"y" * 65536)
    status = json.loads(body)
    assert (code, status["reason"], closed) == (413, "RequestEntityTooLarge", True)
    assert status["message"] == "Request entity too large: limit is 3145728"
    # A client that sends all of its 4 MiB before it reads gets the answer too: the server drains as it closes.
    code, status = send(server, "PATCH", D, b'{"metadata": {"labels": {"x": "' + b"y" * length + b'"}}}', MERGE)
    assert (code, status["reason"]) == (413, "RequestEntityTooLarge")
    assert deployment(server) == before


@pytest.mark.parametrize(
    "lengths",
    [["abc"], ["-1"], ["+5"], ["1e3"], ["0x10"], ["\u00b2"], ["5, 5"], ["5", "6"]],
    ids=["letters", "negative", "plus", "exponent", "hex", "superscript-two", "list", "two-values"],
)
def test_a_content_length_that_is_not_a_plain_number_is_a_400_and_closes_the_connection(server, lengths):
    head = request_head(server, "PATCH", None, *(f"Content-Length: {n}" for n in lengths))
    code, _, body, closed = raw(server, head)
    assert (code, json.loads(body)["reason"], closed) == (400, "BadRequest", True)


def test_a_chunked_body_is_refused_rather_than_misread(server):
    head = request_head(server, "PATCH", None, "Transfer-Encoding: chunked", f"Content-Type: {MERGE}")
    code, _, body, closed = raw(server, head + b"2\r\n{}\r\n0\r\n\r\n")
    assert (code, closed) == (400, True)
    assert "Content-Length" in json.loads(body)["message"]


def test_a_body_that_stalls_gets_a_400_and_gives_its_thread_back(server, monkeypatch):
    monkeypatch.setattr(bodies, "BODY_TIMEOUT", 0.5)
    head = request_head(server, "PATCH", None, "Content-Length: 100", f"Content-Type: {MERGE}")
    code, _, body, closed = raw(server, head + b'{"spec":')  # and then nothing
    assert (code, closed) == (400, True)
    assert json.loads(body)["message"] == "the request body did not arrive within 0.5s"


def test_head_and_options_are_answered_as_the_api_server_answers_them(server):
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=trusting(server), timeout=10)
    token = {"Authorization": f"Bearer {server.token}"}

    def ask(method: str, path: str, headers: dict = token) -> tuple[int, bytes]:
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()

    # One keep-alive connection throughout: a HEAD answer that carried a body would garble the next answer.
    assert ask("HEAD", D) == (405, b"")
    code, body = ask("OPTIONS", D)
    assert (code, json.loads(body)["reason"]) == (405, "MethodNotAllowed")
    assert ask("OPTIONS", "/version")[0] == 405
    assert ask("HEAD", "/apis/apps/v1")[0] == 405
    assert ask("OPTIONS", "/simdeploy/v1/clock")[0] == 405
    assert ask("HEAD", "/healthz") == (200, b"")  # a plain handler on the real server, whatever the method
    assert ask("HEAD", "/apis/nope/v1/things")[0] == 404
    assert ask("OPTIONS", D, {})[0] == 401  # authentication comes first
    code, body = ask("GET", D)
    assert (code, json.loads(body)["metadata"]["name"]) == (200, "payments-api")
    connection.close()


def test_expect_100_continue_is_answered_only_after_the_token_and_the_length(server):
    def first_line(head: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain:
            with trusting(server).wrap_socket(plain, server_hostname="127.0.0.1") as tls:
                tls.sendall(head)
                return tls.makefile("rb").readline()

    expect = ("Expect: 100-continue", f"Content-Type: {MERGE}")
    assert first_line(request_head(server, "PATCH", "wrong-token", "Content-Length: 10", *expect)).startswith(
        b"HTTP/1.1 401"
    )
    too_long = f"Content-Length: {4 * 1024 * 1024}"
    assert first_line(request_head(server, "PATCH", None, too_long, *expect)).startswith(b"HTTP/1.1 413")
    assert first_line(request_head(server, "PATCH", None, "Content-Length: 2", *expect)).startswith(
        b"HTTP/1.1 100 Continue"
    )
