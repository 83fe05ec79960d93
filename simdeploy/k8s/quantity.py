"""Kubernetes resource quantities ("500m", "2", "512Mi", "1G") as numbers."""

from __future__ import annotations

import math
import re

from simdeploy.k8s.shown import shown

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
# ASCII digits only, as resource.ParseQuantity reads them.
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)")


def parse_quantity(value: str | int | float) -> float:
    """The numeric value of a quantity: cores for CPU, bytes for memory. ValueError when malformed.

    NaN, infinities and numbers too large for a float are errors: no quantity the simulation adds up may be one.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a quantity like 500m, 2 or 512Mi, got {shown(value)}")
    if isinstance(value, int | float):
        number = _finite(value)
    else:
        match = _QUANTITY.fullmatch(value.strip()) if len(value) <= 100 else None
        if not match:
            raise ValueError(f"expected a quantity like 500m, 2 or 512Mi, got {shown(value)}")
        digits, suffix = match.groups()
        number = _finite(float(digits)) * _SUFFIXES[suffix]
    if not math.isfinite(number):
        raise ValueError(f"quantity out of range: {shown(value)}")
    return number


def _finite(value: int | float) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"quantity out of range: {shown(value)}")
    return number
