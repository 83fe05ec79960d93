"""Container image references as the runtime parses them: name, tag, digest (the distribution/reference grammar).

The API server does not parse `image` (pkg/apis/core/validation/validation.go only requires it non-blank, and a
pod's without surrounding whitespace); the kubelet does, before pulling, and a reference that does not parse
leaves the container waiting with InvalidImageName. The grammar is distribution/reference's regexp.go
(`ReferenceRegexp`); a digest is then checked by opencontainers/go-digest (`sha256` takes 64 lowercase hex digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALPHANUMERIC = r"[a-z0-9]+"
# The grammar's separator is `[._]|__|[-]*`; its empty case only splits a run of letters and digits, which
# matches the same names and, in a backtracking engine (Go's is not one), takes exponential time to fail.
_SEPARATOR = r"(?:[._]|__|-+)"
_NAME_COMPONENT = rf"(?>{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
NAME_TOTAL_LENGTH_MAX = 255
# go-digest's registered algorithms and the length of their hex encoding (twice the hash's size in bytes).
_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX = re.compile(r"[a-f0-9]+")


class ReferenceError(ValueError):
    """The reference does not parse; the message is distribution/reference's or go-digest's."""


@dataclass(frozen=True)
class Reference:
    name: str  # the repository, with its registry: registry.example.com/payments-api
    tag: str | None
    digest: str | None  # algorithm:encoded


def parse_reference(image: str) -> Reference:
    """Parse an image reference; raises ReferenceError with the words of the Go libraries."""
    match = _REFERENCE.fullmatch(image) if image else None
    if match is None:
        if image and _REFERENCE.fullmatch(image.lower()):
            raise ReferenceError("repository name must be lowercase")
        raise ReferenceError("invalid reference format")
    name, tag, digest = match.groups()
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ReferenceError(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest is not None:
        algorithm, encoded = digest.split(":", 1)
        # go-digest's Algorithm.Validate: the algorithm, then the length, then the characters.
        if algorithm not in _HEX_LENGTH:
            raise ReferenceError("unsupported digest algorithm")
        if len(encoded) != _HEX_LENGTH[algorithm]:
            raise ReferenceError("invalid checksum digest length")
        if not _LOWER_HEX.fullmatch(encoded):
            raise ReferenceError("invalid checksum digest format")
    return Reference(name, tag, digest)


def with_digest(image: str, digest: str) -> str:
    """The image pinned to `digest`, as kustomize's images transformer writes it (`name@digest`, the tag dropped)."""
    return f"{parse_reference(image).name}@{digest}"
