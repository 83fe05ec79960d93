"""IntOrString arithmetic: turn an int or an "N%" string into a replica count, as upstream."""

from __future__ import annotations

import math
import re

# Go's strconv.Atoi: optional sign, ASCII digits only (no spaces, no underscores).
_GO_INT = re.compile(r"[+-]?[0-9]+")


def get_scaled_value_from_int_or_percent(value: int | str | None, total: int, round_up: bool) -> int:
    """An int is returned as is; "N%" is N percent of total, rounded up or down.

    Mirrors GetScaledValueFromIntOrPercent in
    staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go: a string without a trailing
    "%" is an error, and the percentage is computed in float64 before ceil/floor.
    """
    if value is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"invalid value for IntOrString {value!r}: neither int nor percentage")
    if isinstance(value, int):
        return value
    percent = _parse_percent(value)
    scaled = float(percent) * float(total) / 100
    return int(math.ceil(scaled) if round_up else math.floor(scaled))


def _parse_percent(text: str) -> int:
    if not text.endswith("%"):
        raise ValueError(f"invalid value for IntOrString {text!r}: string is not a percentage")
    digits = text[:-1]
    if not _GO_INT.fullmatch(digits):
        raise ValueError(f"invalid value for IntOrString {text!r}: {digits!r} is not an integer")
    return int(digits)
