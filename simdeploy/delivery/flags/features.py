"""What an Unleash feature definition says of itself: its cohorts, its variants, its rollout percentage."""

from __future__ import annotations

ENABLED, DISABLED = "enabled", "disabled"
# The strategies whose percentage `set-rollout` changes, and the parameter each keeps it in.
ROLLOUT_PARAMETERS = {
    "flexibleRollout": "rollout",
    "gradualRolloutUserId": "percentage",
    "gradualRolloutSessionId": "percentage",
    "gradualRolloutRandom": "percentage",
}


def variant_names(feature: dict) -> list[str]:
    """Every variant a feature can hand out: its own and its strategies'."""
    variants = list(feature.get("variants") or [])
    for strategy in feature.get("strategies") or []:
        variants += strategy.get("variants") or []
    return list(dict.fromkeys(variant["name"] for variant in variants))


def rollout_percent(feature: dict) -> int | None:
    """The percentage of the feature's first rollout strategy, if it has one."""
    for strategy in feature.get("strategies") or []:
        parameter = ROLLOUT_PARAMETERS.get(strategy.get("name"))
        value = (strategy.get("parameters") or {}).get(parameter) if parameter else None
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None
