"""Expectations: what a scenario promises (availability, errors, latency, rollout time, alerts), judged on a result.

Each expectation's direction is in its name: `availability` is a floor, everything else a ceiling.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from simdeploy.k8s.duration import format_clock, format_duration
from simdeploy.k8s.shown import shown
from simdeploy.scenario.errors import Problem
from simdeploy.scenario.fields import Duration, Strict
from simdeploy.sim.result import Alert, Expectation, Result, Summary, fraction, seconds

_PERCENT = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)%")  # ASCII digits


def _fraction(value: Any) -> float:
    """0.999, "99.9%" -> 0.999."""
    if isinstance(value, str) and _PERCENT.fullmatch(value.strip()):
        return float(value.strip()[:-1]) / 100
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a fraction like 0.999 or a percentage like 99.9%, got {shown(value)}")
    return float(value)


Fraction = Annotated[float, BeforeValidator(_fraction), Field(ge=0, le=1)]


class AlertExpectation(Strict):
    fires_within: Duration | None = Field(default=None, alias="firesWithin")  # after the first bad change
    never_fires: bool = Field(default=False, alias="neverFires")


class ServiceExpectation(Strict):
    """What one Service of the service graph promises, over every request it answered (its callers' included)."""

    availability: Fraction | None = None  # share of its requests that succeeded, at least
    errors_served: float | None = Field(default=None, ge=0, alias="errorsServed")  # failed requests, at most
    p99_latency: Duration | None = Field(default=None, alias="p99Latency")  # worst scrape interval, at most


class ExpectSpec(Strict):
    """The scenario's `expect` section."""

    availability: Fraction | None = None  # share of requests that succeeded, at least
    error_ratio: Fraction | None = Field(default=None, alias="errorRatio")  # failed / sent, at most
    errors_served: float | None = Field(default=None, ge=0, alias="errorsServed")  # failed requests, at most
    p99_latency: Duration | None = Field(default=None, alias="p99Latency")  # worst scrape interval, at most
    max_unavailable: int | None = Field(default=None, ge=0, alias="maxUnavailable")
    min_available: int | None = Field(default=None, ge=0, alias="minAvailable")
    peak_pods: int | None = Field(default=None, ge=0, alias="peakPods")
    rollout_completes_within: Duration | None = Field(default=None, alias="rolloutCompletesWithin")
    alerts: dict[str, AlertExpectation] = Field(default_factory=dict)
    services: dict[str, ServiceExpectation] = Field(default_factory=dict)  # per Service of the service graph


def judge(expect: ExpectSpec, result: Result, bad_change_s: float | None) -> list[Expectation]:
    """One verdict per expectation: {name, expected, measured, verdict} with verdict "pass" or "fail"."""
    summary = result["summary"]
    verdicts: list[Expectation] = []

    def add(name: str, expected: str, measured: Any, shown: str, ok: bool) -> None:
        verdicts.append(
            {"name": name, "expected": expected, "measured": measured, "shown": shown, "verdict": _word(ok)}
        )

    sent, failed = summary["requests_total"], summary["errors_total"]
    if expect.availability is not None:
        value = summary["availability"]
        add(
            "availability",
            f">= {_percent(expect.availability)}",
            value,
            _percent(value),
            value is not None and value >= expect.availability,
        )
    if expect.error_ratio is not None:
        value = fraction(failed / sent) if sent else None
        add(
            "errorRatio",
            f"<= {_percent(expect.error_ratio)}",
            value,
            _percent(value),
            value is not None and value <= expect.error_ratio,
        )
    if expect.errors_served is not None:
        add("errorsServed", f"<= {expect.errors_served:g}", failed, f"{failed:g}", failed <= expect.errors_served)
    if expect.p99_latency is not None:
        value = summary["p99_latency_max_s"]
        shown = "-" if value is None else f"{value * 1000:.0f}ms"
        add(
            "p99Latency",
            f"<= {expect.p99_latency * 1000:g}ms",
            value,
            shown,
            value is not None and value <= expect.p99_latency,
        )
    for name, key, ceiling in (
        ("maxUnavailable", "max_unavailable_observed", expect.max_unavailable),
        ("peakPods", "peak_pods", expect.peak_pods),
    ):
        if ceiling is not None:
            value = summary[key]
            add(name, f"<= {ceiling}", value, str(value), value is not None and value <= ceiling)
    if expect.min_available is not None:
        value = summary["min_available"]
        add(
            "minAvailable",
            f">= {expect.min_available}",
            value,
            str(value),
            value is not None and value >= expect.min_available,
        )
    if expect.rollout_completes_within is not None:
        verdicts.append(_rollouts(expect.rollout_completes_within, summary))
    alerts = {a["name"]: a for a in summary["alerts"]}
    for name, alert in expect.alerts.items():
        verdicts += _alert(name, alert, alerts.get(name), bad_change_s)
    services = summary.get("services") or {}
    for name, wanted in expect.services.items():
        verdicts += _service(name, wanted, services.get(name))
    return verdicts


def _service(name: str, wanted: ServiceExpectation, figures: dict | None) -> list[Expectation]:
    """The verdicts of one Service's expectations, from its figures in the summary's `services`."""
    figures = figures or {}
    checks = (  # (field, limit, floor or ceiling, measured, limit as written, how the measure is shown)
        ("availability", wanted.availability, ">=", figures.get("availability"), _percent, _percent),
        ("errorsServed", wanted.errors_served, "<=", figures.get("errors"), "{:g}".format, "{:g}".format),
        ("p99Latency", wanted.p99_latency, "<=", figures.get("p99_latency_max_s"), _ms("{:g}"), _ms("{:.0f}")),
    )
    verdicts: list[Expectation] = []
    for field, limit, direction, value, written, shown_as in checks:
        if limit is None:
            continue
        ok = value is not None and (value >= limit if direction == ">=" else value <= limit)
        verdicts.append(
            {
                "name": f"service {name} {field}",
                "expected": f"{direction} {written(limit)}",
                "measured": value,
                "shown": "-" if value is None else shown_as(value),
                "verdict": _word(ok),
            }
        )
    return verdicts


def _ms(pattern: str):
    """Seconds shown as milliseconds with the format `pattern`."""
    return lambda value: pattern.format(value * 1000) + "ms"


def check_expectations(expect: ExpectSpec, alert_names: set[str], graph_services: set[str] | None) -> list[Problem]:
    """Every alert and Service an expectation names exists: an expectation about nothing would pass unseen."""
    problems: list[Problem] = []
    for name in expect.alerts:
        if name not in alert_names:
            known = ", ".join(sorted(alert_names)) or "none: the scenario has no alerting rules"
            problems.append(Problem(f"expect.alerts.{name}", f"no alerting rule named {shown(name)} (rules: {known})"))
    for name in expect.services:
        if graph_services is None:
            problems.append(Problem(f"expect.services.{name}", "the scenario has no services section"))
        elif name not in graph_services:
            known = ", ".join(sorted(graph_services))
            problems.append(
                Problem(f"expect.services.{name}", f"no Service {shown(name)} in services.edges (services: {known})")
            )
    return problems


def _rollouts(limit: float, summary: Summary) -> Expectation:
    rollouts = [r for d in summary["deployments"].values() for r in d["rollouts"]]
    durations = [r["duration_s"] for r in rollouts]
    if not rollouts:
        measured, shown, ok = None, "no rollout", False
    elif None in durations:
        measured, shown, ok = None, "a rollout did not complete", False
    else:
        measured = max(durations)
        shown, ok = format_duration(measured), measured <= limit
    return {
        "name": "rolloutCompletesWithin",
        "expected": f"<= {format_duration(limit)}",
        "measured": measured,
        "shown": shown,
        "verdict": _word(ok),
    }


def _alert(name: str, expect: AlertExpectation, fired: Alert | None, bad_change_s: float | None) -> list[Expectation]:
    first_firing = fired["first_firing_s"] if fired else None
    verdicts: list[Expectation] = []
    if expect.never_fires:
        shown = "never fired" if first_firing is None else f"fired at {format_clock(first_firing)}"
        verdicts.append(
            {
                "name": f"alert {name}",
                "expected": "never fires",
                "measured": first_firing,
                "shown": shown,
                "verdict": _word(first_firing is None),
            }
        )
    if expect.fires_within is not None:
        delay = None if first_firing is None or bad_change_s is None else seconds(first_firing - bad_change_s)
        if first_firing is None:
            shown = "never fired"
        elif delay is None:
            shown = f"fired at {format_clock(first_firing)} (no bad change to measure from)"
        else:
            shown = f"fired {format_duration(delay)} after the change"
        ok = delay is not None and 0 <= delay <= expect.fires_within
        verdicts.append(
            {
                "name": f"alert {name}",
                "expected": f"fires within {format_duration(expect.fires_within)}",
                "measured": delay,
                "shown": shown,
                "verdict": _word(ok),
            }
        )
    return verdicts


def _word(ok: bool) -> str:
    return "pass" if ok else "fail"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.4g}%"
