"""Request bodies: how long they may be, reading them in bounded time, and decoding JSON or YAML safely."""

from __future__ import annotations

import json
import math
import time

import yaml

from simdeploy.apiserver.status import ApiError, bad_request

# The API server reads at most 3 MiB of a request body and answers 413 RequestEntityTooLarge past that
# (k8s.io/apiserver/pkg/server/config.go MaxRequestBodyBytes; endpoints/handlers/rest.go limitedReadBody).
MAX_BODY_BYTES = 3 * 1024 * 1024
# Go's JSON decoder refuses nesting past 10000 (encoding/json scanner.go maxNestingDepth, kept by the
# sigs.k8s.io/json fork the API server decodes with). Python's decoder and everything that walks a document
# afterwards (copy.deepcopy, merges, json.dumps) recurse, so the limit here is lower, and still far beyond
# any object Kubernetes serves.
MAX_DEPTH = 100
# A YAML body may repeat a node through aliases; expanded, it may not hold more nodes than a JSON body of
# the largest size could (each JSON node takes at least one byte), so an alias bomb is refused, not served.
MAX_NODES = MAX_BODY_BYTES
BODY_TIMEOUT = 60.0  # seconds a whole body may take to arrive (the API server's default --request-timeout)
_CHUNK = 64 * 1024


def too_large() -> ApiError:
    # apimachinery's NewRequestEntityTooLargeError, with the limit as rest.go words it.
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY_BYTES}")


def content_length(headers) -> int:
    """The declared body length: 0 without a body, 400 if unreadable, 413 past MAX_BODY_BYTES."""
    if headers.get("Transfer-Encoding", "identity").strip().lower() != "identity":
        raise bad_request("a request body must be sent with Content-Length (chunked bodies are not accepted)")
    values = {v.strip() for v in headers.get_all("Content-Length") or []}
    if not values:
        return 0
    text = values.pop()
    # Only digits: int() would also take "+5", " 5", "5_0" and "٥", and several different values mean that
    # two parsers could read two different requests out of one stream.
    if values or not text.isascii() or not text.isdigit():
        raise bad_request(f"invalid Content-Length {_shown(text)}")
    length = int(text) if len(text) <= 20 else MAX_BODY_BYTES + 1
    if length > MAX_BODY_BYTES:
        raise too_large()
    return length


def read_body(connection, rfile, length: int, timeout: float | None = None) -> bytes:
    """Read exactly `length` bytes within `timeout` (BODY_TIMEOUT) seconds in all, or 400: a client that
    stalls keeps no thread."""
    timeout = BODY_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    parts, missing = [], length
    previous = connection.gettimeout()
    try:
        while missing:
            left = deadline - time.monotonic()
            if left <= 0:
                raise bad_request(f"the request body did not arrive within {timeout:g}s")
            connection.settimeout(left)
            try:
                part = rfile.read1(min(missing, _CHUNK))
            except TimeoutError:
                raise bad_request(f"the request body did not arrive within {timeout:g}s") from None
            if not part:
                raise bad_request(f"the request body ended after {length - missing} of {length} bytes")
            parts.append(part)
            missing -= len(part)
    finally:
        connection.settimeout(previous)
    return b"".join(parts)


def decode_body(body: bytes) -> dict:
    """A request body that must be a JSON object (an empty body is `{}`); 400 otherwise."""
    document = _decode(body or b"{}", "body", as_yaml=False)
    if not isinstance(document, dict):
        raise bad_request("the body must be a JSON object")
    return document


def decode_patch(body: bytes, as_yaml: bool) -> object:
    """A PATCH body: YAML for server-side apply, JSON otherwise; any shape (the patch type checks it)."""
    return _decode(body or b"null", "patch", as_yaml)


def _decode(body: bytes, what: str, as_yaml: bool) -> object:
    try:
        if as_yaml:
            document = yaml.safe_load(body)
        else:
            document = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise bad_request(f"error decoding {what}: exceeded max depth of {MAX_DEPTH}") from None
    except (ValueError, yaml.YAMLError) as error:
        raise bad_request(f"error decoding {what}: {_shown(str(error), 200)}") from None
    _measure(document, 0, {}, what)
    return document


def _no_constant(name: str) -> None:
    raise ValueError(f"invalid JSON value {name} (JSON has no NaN or Infinity)")


def _measure(node: object, depth: int, seen: dict[int, tuple[int, int]], what: str) -> tuple[int, int]:
    """(nodes, height) of a decoded document, refusing depth past MAX_DEPTH, size past MAX_NODES, NaN and inf.

    `seen` counts a node shared through YAML aliases once per visit but walks it only once, so measuring an
    alias bomb costs its written size, not its expanded one; a node containing itself is too deep.
    """
    if isinstance(node, dict):
        children = node.values()
    elif isinstance(node, list):
        children = node
    elif isinstance(node, float) and not math.isfinite(node):
        raise bad_request(f"error decoding {what}: a number out of range ({node})")
    else:
        return 1, 0
    measured = seen.get(id(node))
    if measured is None:
        if depth >= MAX_DEPTH:
            raise bad_request(f"error decoding {what}: exceeded max depth of {MAX_DEPTH}")
        nodes, height = 1, 0
        for child in children:
            child_nodes, child_height = _measure(child, depth + 1, seen, what)
            nodes, height = nodes + child_nodes, max(height, child_height)
            if nodes > MAX_NODES:
                raise bad_request(f"error decoding {what}: more than {MAX_NODES} values once aliases are expanded")
        measured = seen[id(node)] = (nodes, height + 1)
    if depth + measured[1] > MAX_DEPTH:
        raise bad_request(f"error decoding {what}: exceeded max depth of {MAX_DEPTH}")
    return measured


def _shown(text: str, limit: int = 40) -> str:
    """`text` quoted, cut short: a message never carries an unbounded piece of the request."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
