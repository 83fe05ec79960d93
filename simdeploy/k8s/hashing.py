"""pod-template-hash: FNV-32a of the pod template, encoded with Kubernetes' safe alphabet."""

from __future__ import annotations

import json

# k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell words.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(data: bytes, value: int = _FNV_OFFSET) -> int:
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode_string(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(char) % len(_SAFE_ALPHABET)] for char in text)


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """Like controller.ComputeHash: hash the template, then the collision count if set.

    Upstream hashes a Go deep printout of the struct; we hash canonical JSON instead, so the
    values differ from a real cluster's but keep the same properties (stable, short, safe).
    """
    value = fnv32a(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        value = fnv32a(collision_count.to_bytes(4, "little"), value)
    return safe_encode_string(str(value))
