"""Go-style durations ("90s", "5m", "1h30m", "250ms") as used by Kubernetes and Prometheus."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_WHOLE = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+")


def parse_duration(value: str | int | float) -> float:
    """Seconds in a Go duration string; a bare number means seconds. ValueError when malformed."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 90s, 5m or 1h30m, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        return float(value)
    text = str(value).strip()
    if text in ("0", "0s"):
        return 0.0
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"expected a duration like 90s, 5m or 1h30m, got {value!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Short human form of a number of seconds: 45s, 2m05s, 1h02m, 1.5s."""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 and seconds != int(seconds) else f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
