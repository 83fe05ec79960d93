"""Go-style durations ("90s", "5m", "1h30m", "250ms") as used by Kubernetes and Prometheus, and how times print."""

from __future__ import annotations

import math
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
    """A number of seconds as people read it, to the tenth: 45s, 46.5s, 2m05s, 2m05.5s, 1h02m; below 1 s, 250ms.

    Every time a report shows (durations here, moments with `format_clock`) is rounded this one way.
    """
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        milliseconds = _half_up(seconds * 1000)
        return "1s" if milliseconds >= 1000 else f"{milliseconds}ms"
    whole, tenth = divmod(_half_up(seconds * 10), 10)
    fraction = f".{tenth}" if tenth else ""
    if whole < 60:
        return f"{whole}{fraction}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}{fraction}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" + (f"{secs:02d}{fraction}s" if secs or tenth else "")


def format_clock(seconds: float) -> str:
    """A simulated moment as m:ss.s (or h:mm:ss.s), the way a game-day log reads; rounded like format_duration."""
    whole, tenth = divmod(_half_up(seconds * 10), 10)
    minutes, secs = divmod(whole, 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}.{tenth}"
    return f"{minutes}:{secs:02d}.{tenth}"


def _half_up(value: float) -> int:
    """Round half up; the nudge keeps a time like 20.25 s (stored as 20.2499...) from reading 20.2 here, 20.3 there."""
    return math.floor(value + 0.5 + 1e-9)
