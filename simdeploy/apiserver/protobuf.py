"""Protobuf request bodies: kubectl's typed clients (`create namespace`, `auth can-i`, `auth whoami`) send them.

The body is the Kubernetes envelope, `k8s\\x00` then a runtime.Unknown naming the apiVersion and kind around the
object's own message (staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go). Those
commands do not fall back to JSON when refused, so the few kinds they write are read here, field by field, by
the numbers of their generated.proto files, into the same dict a JSON body gives. Other kinds get a 415.
"""

from __future__ import annotations

import json

from simdeploy.apiserver.status import ApiError, bad_request

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# A message is {field number: (name, type)}; a type is "string", "bool", "int", another message, ("map", type)
# or ("repeated", type). Numbers not listed (server-set times, managed fields) are skipped.
_TYPE_META = {1: ("apiVersion", "string"), 2: ("kind", "string")}
_UNKNOWN = {1: ("typeMeta", _TYPE_META), 2: ("raw", "bytes")}
_OBJECT_META = {  # k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto ObjectMeta
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    11: ("labels", ("map", "string")),
    12: ("annotations", ("map", "string")),
    14: ("finalizers", ("repeated", "string")),
}
_RESOURCE_ATTRIBUTES = {  # k8s.io/api/authorization/v1/generated.proto
    1: ("namespace", "string"),
    2: ("verb", "string"),
    3: ("group", "string"),
    4: ("version", "string"),
    5: ("resource", "string"),
    6: ("subresource", "string"),
    7: ("name", "string"),
}
_NON_RESOURCE_ATTRIBUTES = {1: ("path", "string"), 2: ("verb", "string")}
MESSAGES = {
    ("v1", "Namespace"): {
        1: ("metadata", _OBJECT_META),
        2: ("spec", {1: ("finalizers", ("repeated", "string"))}),
        3: ("status", {1: ("phase", "string")}),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", _OBJECT_META),
        2: ("data", ("map", "string")),
        4: ("immutable", "bool"),
    },
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", _OBJECT_META),
        2: (
            "spec",
            {1: ("resourceAttributes", _RESOURCE_ATTRIBUTES), 2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES)},
        ),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", _OBJECT_META),
        2: ("spec", {1: ("namespace", "string")}),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", _OBJECT_META)},
}


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == MEDIA_TYPE


def to_json(body: bytes) -> bytes:
    """The JSON of a protobuf body (what a JSON client would have sent); 415 for a kind not read here."""
    if not body.startswith(_MAGIC):
        raise bad_request("error decoding body: protobuf bodies begin with the k8s envelope")
    envelope = _decode(body[len(_MAGIC) :], _UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
    message = MESSAGES.get(key)
    if message is None:
        kinds = ", ".join(kind for _, kind in MESSAGES)
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"simdeploy serve reads protobuf bodies only for {kinds}, not {key[1] or 'this object'}: "
            "send it as JSON (kubectl create ... --dry-run=client -o yaml | kubectl create -f -)",
        )
    document = {"apiVersion": key[0], "kind": key[1], **_decode(envelope.get("raw", b""), message)}
    return json.dumps(document).encode()


def _decode(data: bytes, message: dict) -> dict:
    found: dict = {}
    for number, value in _fields(data):
        if number not in message:
            continue
        name, kind = message[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = _decode(_bytes(value), {1: ("key", "string"), 2: ("value", kind[1])})
            found.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
        elif isinstance(kind, tuple):
            found.setdefault(name, []).append(_scalar(value, kind[1]))
        else:
            found[name] = _scalar(value, kind)
    # Go writes every optional scalar, empty or not; JSON leaves the empty ones out (omitempty): so do we.
    return {k: v for k, v in found.items() if v not in ("", 0, False, {}, [])}


def _scalar(value: int | bytes, kind) -> object:
    if isinstance(kind, dict):
        return _decode(_bytes(value), kind)
    if kind == "string":
        try:
            return _bytes(value).decode()
        except UnicodeDecodeError:
            raise bad_request("error decoding body: a protobuf string is not UTF-8") from None
    if kind == "bytes":
        return _bytes(value)
    if not isinstance(value, int):
        raise bad_request("error decoding body: a protobuf number where bytes were expected")
    return bool(value) if kind == "bool" else value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise bad_request("error decoding body: a protobuf number where bytes were expected")
    return value


def _fields(data: bytes):
    """(field number, value) of each field: an int (varint) or bytes (length-delimited, fixed32, fixed64)."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, position = data[position : position + size], position + size
        else:
            raise bad_request(f"error decoding body: protobuf wire type {wire} is not supported")
        if position > len(data):
            raise bad_request("error decoding body: the protobuf message ends early")
        yield number, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise bad_request("error decoding body: a protobuf varint ends early")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
