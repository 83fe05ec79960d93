"""Go-style durations ("90s", "5m", "1h30m", "250ms") as used by Kubernetes and Prometheus, and how times print."""

from __future__ import annotations

import math
import re

from simdeploy.k8s.shown import shown

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# ASCII digits only, as Go's time.ParseDuration reads them (\d would also take other scripts' digits).
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"
_PART = re.compile(rf"({_NUMBER})({_UNIT})")
_WHOLE = re.compile(rf"(?:{_NUMBER}{_UNIT})+")
# time.Duration is an int64 of nanoseconds: ParseDuration refuses anything longer (about 292 years).
MAX_SECONDS = (2**63 - 1) / 1e9
_EXPECTED = "expected a duration like 90s, 5m or 1h30m"


def parse_duration(value: str | int | float) -> float:
    """Seconds in a Go duration string; a bare number means seconds. ValueError when malformed.

    Like time.ParseDuration (go/src/time/format.go), the result must fit a time.Duration: NaN,
    infinities and anything past about 292 years are errors, never a number the simulation runs on.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{_EXPECTED}, got {shown(value)}")
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{_EXPECTED}, got NaN")
        if value < 0:
            raise ValueError(f"duration must not be negative, got {shown(value)}")
        seconds = float(value) if isinstance(value, float) or value <= MAX_SECONDS else math.inf
    else:
        text = value.strip()
        if text in ("0", "0s"):
            return 0.0
        if len(text) > 100 or not _WHOLE.fullmatch(text):
            raise ValueError(f"{_EXPECTED}, got {shown(value)}")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration out of range: {shown(value)} (at most 2562047h, Go's time.Duration)")
    return seconds


def format_duration(seconds: float) -> str:
    """A number of seconds as people read it, to the tenth: 45s, 46.5s, 2m05s, 2m05.5s, 1h02m; below 1 s, 250ms.

    Every time a report shows (durations here, moments with `format_clock`) is rounded this one way.
    """
    if not math.isfinite(seconds):
        return str(seconds)
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
