"""Kubernetes resource quantities ("500m", "2", "512Mi", "1G") as numbers."""

from __future__ import annotations

import re

_SUFFIXES = {
    "": 1,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)")


def parse_quantity(value: str | int | float) -> float:
    """The numeric value of a quantity: cores for CPU, bytes for memory. ValueError when malformed."""
    if isinstance(value, bool):
        raise ValueError(f"expected a quantity like 500m, 2 or 512Mi, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"expected a quantity like 500m, 2 or 512Mi, got {value!r}")
    number, suffix = match.groups()
    return float(number) * _SUFFIXES[suffix]
