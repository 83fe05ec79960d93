"""The field types the scenario format shares: durations, quantities, names, timestamps, bounded numbers.

Every number a scenario gives is finite and within the range of the Kubernetes or Go type it stands for,
so that nothing a run adds up, schedules or writes as JSON can overflow or become NaN.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.pod_validation import check_labels
from simdeploy.k8s.quantity import parse_quantity
from simdeploy.k8s.shown import shown
from simdeploy.k8s.timeutil import parse_time

INT32_MAX = 2**31 - 1  # Kubernetes' int32 fields (replicas, ports, thresholds) stop here
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _duration(value: Any) -> float:
    # Go's time.ParseDuration range; NaN, infinities and non-ASCII digits are errors (k8s/duration.py).
    return parse_duration(value)


def _quantity(value: Any) -> str:
    if parse_quantity(value) < 0:
        raise ValueError(f"must not be negative, got {shown(value)}")
    return str(value)


def _node_name(value: Any) -> Any:
    if isinstance(value, str) and (len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value)):
        raise ValueError(
            f"{shown(value)} is not a valid node name: a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.'"
        )
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    problems = check_labels(value, "")
    if problems:
        raise ValueError(problems[0].message.removeprefix("Invalid value: "))
    return value


def _timestamp(value: Any) -> Any:
    try:
        moment = parse_time(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if isinstance(value, str) and (moment is None or moment.tzinfo is None):
        raise ValueError(f"expected an RFC 3339 time with its zone, like 2026-01-01T09:00:00Z, got {shown(value)}")
    return value


_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
Duration = Annotated[float, BeforeValidator(_duration)]
Quantity = Annotated[str, BeforeValidator(_quantity)]  # a resource quantity, not negative
NodeName = Annotated[str, BeforeValidator(_node_name)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]  # keys and values as Kubernetes labels
Timestamp = Annotated[str, BeforeValidator(_timestamp)]  # RFC 3339 with a zone, as metav1.Time
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
# Requests per second, weights and factors are finite and bounded, so that sums over a run stay finite too.
MAX_RATE = 1e9
Rate = Annotated[float, Field(ge=0, le=MAX_RATE)]
Weight = Annotated[float, Field(ge=0, le=MAX_RATE)]
Factor = Annotated[float, Field(gt=0, le=1e6)]


class Strict(BaseModel):
    """Unknown fields are errors: a typo must never be silently ignored; numbers are finite (no NaN, no inf)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)
