"""Errors in user files: each problem names the field path and says what was expected."""

from __future__ import annotations

import re
from dataclasses import dataclass

from simdeploy.k8s.shown import shown

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,79}")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(ValueError):
    """A scenario (or a file it references) is invalid; the CLI prints it and exits 2."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {problem}" for problem in problems]
        super().__init__("\n".join(lines))


def key_step(key: object) -> str:
    """The step of a field path that enters a mapping by `key`: `.name`, `["a.b/c"]`, or a bounded repr."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f".{key}"
    if isinstance(key, str) and len(key) <= 80 and '"' not in key:
        return f'["{key}"]'
    return f"[{shown(key)}]"
