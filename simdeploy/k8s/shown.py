"""User-written values shown in error messages: a bounded repr, never the whole of a huge or deeply aliased value."""

from __future__ import annotations

import reprlib

LIMIT = 80  # characters of a value an error message shows
_BIG_INT_BITS = 256  # past this an integer is described, not printed (Python refuses str() past 4300 digits)


class _Brief(reprlib.Repr):
    """reprlib's bounded walk (a few items, a few levels), with integers of any size."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple, self.maxset = 3, 4, 6, 6, 6
        self.maxstring, self.maxother, self.maxlong = LIMIT, LIMIT, 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > _BIG_INT_BITS:
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_BRIEF = _Brief()


def shown(value: object) -> str:
    """repr(value) cut to about LIMIT characters; the work done is bounded whatever the value."""
    try:
        text = _BRIEF.repr(value)
    except Exception:  # a value whose repr fails must not turn an error message into a crash
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."
