"""Feature flags in the traffic model: the users' cohorts under each flag state, revealed as the SDKs poll."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from simdeploy.delivery.flags.features import DISABLED, ENABLED, ROLLOUT_PARAMETERS, rollout_percent, variant_names
from simdeploy.delivery.flags.unleash import FlagSet
from simdeploy.k8s.timeutil import format_time, sim_to_datetime
from simdeploy.sim.clock import Clock
from simdeploy.sim.recorder import Recorder
from simdeploy.sim.result import FlagRow, FlagState, fraction, requests
from simdeploy.sim.traffic.model import Cohort, Effect

Mix = tuple[tuple[float, Cohort], ...]


@dataclass(frozen=True)
class FlagEffect:
    """An effect on the users of one cohort of a flag: `enabled`, `disabled` or a variant's name."""

    flag: str
    when: str
    effect: Effect

    def applies(self, cohort: str) -> bool:
        if self.when == ENABLED:
            return cohort != DISABLED  # whatever the variant
        return cohort == self.when


def population(users: int, context: dict[str, str]) -> list[dict]:
    """The Unleash context of each user: user-1 .. user-N, with the scenario's fields."""
    return [{**context, "userId": f"user-{number}"} for number in range(1, users + 1)]


def cohort_of(flags: FlagSet, name: str, context: dict, has_variants: bool) -> str:
    """The cohort a user is in: a variant's name, else enabled or disabled."""
    if not has_variants:
        return ENABLED if flags.is_enabled(name, context) else DISABLED
    variant = flags.get_variant(name, context)
    if variant["enabled"]:
        return variant["name"]
    return ENABLED if variant["feature_enabled"] else DISABLED


class FlagRuntime:
    """The flag state as Unleash holds it, and the cohorts that the SDKs in the pods see at each moment.

    Each flag change evaluates the tracked flags once over the whole population and keeps the share
    of users in each combination of cohorts (cached by state, so turning a flag back costs nothing).
    Pods poll every `propagation` seconds, each at its own phase, so at time t a pod runs the state as
    it was at a moment drawn uniformly from (t - propagation, t]: traffic moves to a new state
    linearly over one polling interval.
    """

    def __init__(
        self,
        state: dict,
        tracked: list[str],
        effects: list[FlagEffect],
        contexts: list[dict],
        propagation: float,
        clock: Clock,
        recorder: Recorder,
        epoch: datetime,
        rng: random.Random,
    ):
        self.state = copy.deepcopy(state)
        self.tracked = tracked
        self.effects = effects
        self.contexts = contexts
        self.propagation = propagation
        self.clock = clock
        self.recorder = recorder
        self.epoch = epoch
        self.rng = rng
        self.flags = FlagSet.from_unleash(self.state, rng)
        self._cache: dict[str, Mix] = {}
        self._last_change: dict[str, float] = {}  # flag -> when it last changed, for its propagation's event
        self.history: list[tuple[float, Mix]] = [(float("-inf"), self._evaluate())]  # (moment, mix), oldest first

    # -- what the traffic model asks -------------------------------------------------

    def at(self, moment: float) -> Mix:
        """The cohorts requests come from at `moment`: a blend of the states the pods last polled."""
        last_change, mix = self.history[-1]
        if self.propagation <= 0 or last_change <= moment - self.propagation:
            return mix if last_change <= moment else self._state_at(moment)
        window_start, blend = moment - self.propagation, Counter()
        for index, (start, states_mix) in enumerate(self.history):
            end = self.history[index + 1][0] if index + 1 < len(self.history) else moment
            overlap = min(end, moment) - max(start, window_start)
            if overlap > 0:
                for share, cohort in states_mix:
                    blend[cohort] += share * overlap / self.propagation
        return tuple((share, cohort) for cohort, share in blend.items())

    def _state_at(self, moment: float) -> Mix:
        return next(mix for start, mix in reversed(self.history) if start <= moment)

    def shares(self, mix: Mix | None = None) -> dict[tuple[str, str], float]:
        """The share of users in each (flag, cohort): of the current state, or of a given mix."""
        totals: Counter = Counter()
        for share, cohort in self.history[-1][1] if mix is None else mix:
            for label in cohort.labels:
                totals[label] += share
        return dict(totals)

    # -- changes (timeline actions) ---------------------------------------------------

    def enable(self, name: str) -> str:
        return self._change(name, "FlagEnabled", lambda feature: feature.update(enabled=True), "enabled")

    def disable(self, name: str) -> str:
        return self._change(name, "FlagDisabled", lambda feature: feature.update(enabled=False), "disabled")

    def set_rollout(self, name: str, percent: int) -> str:
        def update(feature: dict) -> None:
            for strategy in feature.get("strategies") or []:
                parameter = ROLLOUT_PARAMETERS.get(strategy.get("name"))
                if parameter:
                    strategy.setdefault("parameters", {})[parameter] = str(percent)  # strings, as Unleash sends

        return self._change(name, "FlagRolloutSet", update, f"rolled out to {percent}%")

    def _change(self, name: str, reason: str, update: Callable[[dict], None], what: str) -> str:
        feature = next(f for f in self.state["features"] if f["name"] == name)
        update(feature)
        self.flags = FlagSet.from_unleash(self.state, self.rng)
        mix = self._evaluate()
        self.history.append((self.clock.now, mix))
        off = self.shares(mix).get((name, DISABLED), 0.0)
        message = f"feature {name} {what} in Unleash ({1 - off:.1%} of users); the pods' SDKs see it as they poll"
        self.recorder.event("Flag", name, reason, message)
        if self.propagation > 0:
            changed = self._last_change[name] = self.clock.now
            self.clock.call_later(self.propagation, lambda: self._propagated(name, what, changed))
        return f"flag/{name} {what}"

    def _propagated(self, name: str, what: str, changed: float) -> None:
        if self._last_change.get(name) != changed:
            return  # changed again since: some pods already run the newer state, whose own propagation is told
        message = f"every pod has polled feature {name} {what} ({self.propagation:g}s polling interval)"
        self.recorder.event("Flag", name, "FlagPropagated", message)

    # -- evaluation over the population --------------------------------------------

    def _evaluate(self) -> Mix:
        now = format_time(sim_to_datetime(self.epoch, self.clock.now))
        key = json.dumps(self.state, sort_keys=True)
        if '"currentTime"' in key:  # only then does the evaluation moment matter
            key += now
        mix = self._cache.get(key)
        if mix is None:
            mix = self._cache[key] = self._population_mix(now)
        return mix

    def _population_mix(self, now: str) -> Mix:
        features = {feature["name"]: feature for feature in self.state["features"]}
        variants = {name: bool(variant_names(features.get(name, {}))) for name in self.tracked}
        counts: Counter = Counter()
        for context in self.contexts:
            context = {**context, "currentTime": now}
            counts[tuple(cohort_of(self.flags, name, context, variants[name]) for name in self.tracked)] += 1
        users = len(self.contexts)
        return tuple((count / users, self._cohort(labels)) for labels, count in sorted(counts.items()))

    def _cohort(self, cohorts: tuple[str, ...]) -> Cohort:
        by_flag = dict(zip(self.tracked, cohorts, strict=True))
        effects = tuple(e.effect for e in self.effects if e.flag in by_flag and e.applies(by_flag[e.flag]))
        return Cohort(tuple(by_flag.items()), effects)

    # -- result ------------------------------------------------------------------------

    def summary(self, totals: dict[tuple[str, str], list[float]]) -> dict[str, list]:
        """`flags`: requests and failures per (flag, cohort); `flag_states`: each flag as the run left it."""
        order = {name: index for index, name in enumerate(self.tracked)}
        rows: list[FlagRow] = [
            {"flag": flag, "cohort": cohort, "requests": requests(sent), "errors": requests(failed)}
            for (flag, cohort), (sent, failed) in sorted(totals.items(), key=lambda i: (order[i[0][0]], i[0][1]))
        ]
        shares = self.shares()
        states: list[FlagState] = []
        for feature in self.state["features"]:
            meta = self.flags.meta(feature["name"])
            tracked = feature["name"] in order
            states.append(
                {
                    "flag": meta.name,
                    "type": meta.type,
                    "owner": meta.owner,
                    "expires": format_time(meta.expires) if meta.expires else None,
                    "stale": meta.stale,
                    "enabled": meta.enabled,
                    "rollout": rollout_percent(feature),
                    "users_enabled": fraction(1 - shares.get((meta.name, DISABLED), 0.0)) if tracked else None,
                }
            )
        return {"flags": rows, "flag_states": states}  # merged into the summary
