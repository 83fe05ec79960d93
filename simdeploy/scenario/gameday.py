"""The game-day file format: a world (scenario), the facilitator's hidden faults, the people, the runbook expected."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from simdeploy.scenario.drill import SloSpec
from simdeploy.scenario.fields import INT64_MAX, INT64_MIN, Duration, Strict
from simdeploy.scenario.schema import Metadata

# A person's name becomes a kubeconfig user and a file name (DIR/<name>.kubeconfig), as `serve --player` takes it.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
FACILITATOR = "admin"  # the identity every served session has: the facilitator's
MAX_SPEED = 1_000_000.0  # as `simdeploy serve --speed` allows
_FAULT_FIELDS = ("name", "at", "window")


def _person(name: str) -> str:
    if not _NAME.fullmatch(name) or len(name) > 63:
        raise ValueError(
            f"{name!r}: a name is lower case letters, digits and '-', starting and ending with a letter or digit "
            "(at most 63 characters)"
        )
    if name == FACILITATOR:
        raise ValueError(f"{FACILITATOR!r} is the facilitator's identity")
    return name


PersonName = Annotated[str, AfterValidator(_person)]


class WindowSpec(Strict):
    """The fault comes at a moment drawn uniformly from `from` to `to` (simulated time), fixed by the seed."""

    from_: Duration = Field(alias="from")
    to: Duration

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if self.to <= self.from_:
            raise ValueError("`to` must come after `from`")
        return self


class FaultSpec(Strict):
    """One fault of the facilitator's plan: timeline actions (without `at`) run together at one hidden moment.

    `actions: [...]` lists them; a fault with a single action may give it inline (`action: fail-node, node: ...`).
    """

    name: str | None = Field(default=None, min_length=1)
    at: Duration | None = None
    window: WindowSpec | None = None
    actions: list[dict[str, Any]] = Field(min_length=1)  # checked as timeline actions against the world by the loader

    @model_validator(mode="before")
    @classmethod
    def _one_action_inline(cls, value: Any) -> Any:
        if isinstance(value, dict) and "action" in value:
            if "actions" in value:
                raise ValueError("give `action` (one action inline) or `actions` (a list), not both")
            inline = {k: v for k, v in value.items() if k not in _FAULT_FIELDS}
            return {**{k: v for k, v in value.items() if k in _FAULT_FIELDS}, "actions": [inline]}
        return value

    @model_validator(mode="after")
    def _one_moment(self) -> FaultSpec:
        if (self.at is None) == (self.window is None):
            raise ValueError("give exactly one of at (a fixed moment) or window (a moment drawn with the seed)")
        return self


class PredictSpec(Strict):
    """How the runbook's predicted figures are made: the drill in the simulation over this many seeds (p50)."""

    seeds: int = Field(default=20, ge=1, le=1000)


class GameDaySpec(Strict):
    """A game-day file, as written."""

    api_version: Literal["simdeploy/v1alpha1"] = Field(default="simdeploy/v1alpha1", alias="apiVersion")
    kind: Literal["GameDay"] = "GameDay"
    metadata: Metadata
    scenario: str | dict[str, Any] | None = None  # the world: a scenario file (relative to this file) or inline
    drill: str | None = None  # a drill file: its runbook and SLO (and its scenario, unless `scenario` is given)
    runbook: str | dict[str, Any] | None = None  # or the runbook alone: a runbook file or inline
    slo: SloSpec | None = None  # default: the drill's, else 99.9% over 30 days
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)  # the windows' draws; default the scenario's
    speed: float = Field(default=10.0, gt=0, le=MAX_SPEED)  # simulated seconds per wall second
    duration: Duration | None = None  # default: the scenario's
    players: list[PersonName] = Field(min_length=1)
    observers: list[PersonName] = Field(default_factory=list)
    faults: list[FaultSpec] = Field(min_length=1)
    # The scenario's own timeline is usually its scripted incident; in a game day the faults take its place.
    scenario_timeline: Literal["drop", "keep"] = Field(default="drop", alias="scenarioTimeline")
    predict: PredictSpec = Field(default_factory=PredictSpec)

    @model_validator(mode="after")
    def _sources(self) -> GameDaySpec:
        if self.scenario is None and self.drill is None:
            raise ValueError("give a scenario (the world), or a drill whose scenario is the world")
        if self.drill is not None and self.runbook is not None:
            raise ValueError("give a drill (its runbook) or a runbook, not both")
        return self

    @model_validator(mode="after")
    def _people_once(self) -> GameDaySpec:
        seen: set[str] = set()
        for name in [*self.players, *self.observers]:
            if name in seen:
                raise ValueError(f"{name!r} is named twice among the players and observers")
            seen.add(name)
        return self
