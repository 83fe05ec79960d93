"""Kubernetes timestamps: RFC 3339 at whole seconds, as the API server stores metav1.Time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

# Simulated time 0 is this instant unless a scenario says otherwise; fixed so output is reproducible.
DEFAULT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """Serialise like metav1.Time: UTC, truncated to the second, with a trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=8192)
def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (fractional seconds allowed) into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sim_to_datetime(epoch: datetime, seconds: float) -> datetime:
    """The wall-clock instant of simulated time `seconds`."""
    return epoch + timedelta(seconds=seconds)
