"""Prometheus rule files (groups of alerting rules, as model/rulefmt reads them), read and validated."""

from __future__ import annotations

import re
from pathlib import Path

from simdeploy.k8s.duration import MAX_SECONDS
from simdeploy.k8s.shown import shown
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.yamlfile import read_yaml
from simdeploy.sim.metrics.alert_templates import parse_template
from simdeploy.sim.metrics.alerts import AlertRule, RuleGroup
from simdeploy.sim.metrics.promql import PromQLError, instant_query, parse
from simdeploy.sim.metrics.tsdb import SeriesStore

# The format and its checks follow Prometheus model/rulefmt/rulefmt.go (RuleGroups.Validate, Rule.Validate):
# unknown fields are errors (Parse decodes with KnownFields), a group needs a name unique in its file, a rule is
# `alert` or `record` with an `expr` that parses, labels may not be named __name__, and label and annotation
# templates must parse. Durations are prometheus/common model.ParseDuration's. Beyond Prometheus, an expression
# that parses but that simdeploy's PromQL engine cannot evaluate is rejected here rather than at run time.
# Not modelled, so refused with a clear message: recording rules, keep_firing_for, query_offset and limit.

_TOP_FIELDS = ("groups",)
_GROUP_FIELDS = ("name", "interval", "rules", "labels", "query_offset", "limit")
_RULE_FIELDS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")
_UNSUPPORTED = {"query_offset", "limit", "keep_firing_for"}

# model.ParseDuration: integers with units from largest to smallest, each at most once; "0" alone is allowed.
_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_prometheus_duration(value: object) -> float:
    """Seconds in a Prometheus duration ("5m", "30s", "1h30m", "1d", "500ms", "0"); ValueError when malformed."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or text == "":
        raise ValueError(f"expected a duration like 30s, 5m or 1h30m, got {shown(value)}")
    if text == "0":
        return 0.0
    match = _DURATION.fullmatch(text) if len(text) <= 100 else None
    if match is None or not any(match.groups()):
        raise ValueError(f"not a valid duration string: {shown(text)} (expected a duration like 30s, 5m or 1h30m)")
    seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if n is not None)
    if seconds > MAX_SECONDS:  # model.ParseDuration refuses what overflows its int64 too
        raise ValueError(f"not a valid duration string: {shown(text)} (duration out of range)")
    return float(seconds)


def load_rule_file(path: str | Path) -> list[RuleGroup]:
    """Read a Prometheus rule file; raises ScenarioError(file, problems) naming each field that is wrong."""
    path = Path(path)
    data = read_yaml(path)
    groups, problems = parse_rule_groups(data)
    if problems:
        raise ScenarioError(str(path), problems)
    return groups


def parse_rule_groups(data: object, prefix: str = "") -> tuple[list[RuleGroup], list[Problem]]:
    """Rule groups from a rule file's data (or a scenario's inline `groups`); paths in problems start at `prefix`.

    An empty document holds no groups, as in Prometheus.
    """
    problems: list[Problem] = []
    if data is None:
        return [], problems
    if not isinstance(data, dict):
        return [], [Problem(prefix.rstrip("."), "expected a mapping with `groups:` (a Prometheus rule file)")]
    _unknown_fields(data, _TOP_FIELDS, prefix, "", problems)
    if "groups" not in data:
        problems.append(Problem(f"{prefix}groups", "required field is missing"))
        return [], problems
    if not isinstance(data["groups"], list):
        problems.append(Problem(f"{prefix}groups", "expected a list of rule groups"))
        return [], problems
    groups, names = [], set()
    for index, group in enumerate(data["groups"]):
        where = f"{prefix}groups[{index}]"
        if not isinstance(group, dict):
            problems.append(Problem(where, "expected a rule group: a mapping with name and rules"))
            continue
        _unknown_fields(group, _GROUP_FIELDS, f"{where}.", "", problems)
        name = group.get("name")
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{where}.name", "group name must be a non-empty string"))
            name = ""
        elif name in names:
            problems.append(Problem(f"{where}.name", f'groupname: "{name}" is repeated in the same file'))
        names.add(name)
        interval = None
        if group.get("interval") is not None:
            try:
                interval = parse_prometheus_duration(group["interval"]) or None  # 0: the global interval
            except ValueError as error:
                problems.append(Problem(f"{where}.interval", str(error)))
        group_labels = _string_map(group.get("labels"), f"{where}.labels", "", "label", problems)
        rules = group.get("rules")
        if rules is None:
            rules = []
        elif not isinstance(rules, list):
            problems.append(Problem(f"{where}.rules", "expected a list of rules"))
            rules = []
        parsed = [_rule(rule, name, f"{where}.rules[{i}]", group_labels, problems) for i, rule in enumerate(rules)]
        groups.append(RuleGroup(name, interval, [rule for rule in parsed if rule is not None]))
    return groups, problems


def _rule(data: object, group: str, where: str, group_labels: dict, problems: list[Problem]) -> AlertRule | None:
    if not isinstance(data, dict):
        problems.append(Problem(where, "expected a rule: a mapping with alert and expr"))
        return None
    name = data.get("alert") if data.get("alert") is not None else data.get("record")
    name = str(name) if isinstance(name, int | float) and not isinstance(name, bool) else name  # YAML 1 is "1"
    named = f" (alert {name})" if "alert" in data else f" (record {name})" if "record" in data else ""
    count = len(problems)
    _unknown_fields(data, _RULE_FIELDS, f"{where}.", named, problems)
    if "record" in data:
        problems.append(Problem(f"{where}.record", f"recording rules are not supported (rule {name})"))
        return None
    if not isinstance(name, str) or not name:
        problems.append(Problem(where, "one of 'record' or 'alert' must be set (an alerting rule needs its name)"))
        return None
    expr = data.get("expr")
    expr = str(expr) if isinstance(expr, int | float) and not isinstance(expr, bool) else expr
    if not isinstance(expr, str) or not expr.strip():
        problems.append(Problem(f"{where}.expr{named}", "field 'expr' must be set in rule"))
    else:
        try:
            parse(expr)
        except PromQLError as error:
            problems.append(Problem(f"{where}.expr{named}", f'could not parse expression in group "{group}": {error}'))
        else:
            try:  # compiles the query: unsupported functions, operators and modifiers show up now
                instant_query(SeriesStore(), expr, 0.0)
            except PromQLError as error:
                problems.append(Problem(f"{where}.expr{named}", f"simdeploy cannot evaluate this expression: {error}"))
    for_seconds = 0.0
    if data.get("for") is not None:
        try:
            for_seconds = parse_prometheus_duration(data["for"])
        except ValueError as error:
            problems.append(Problem(f"{where}.for{named}", str(error)))
    labels = _string_map(data.get("labels"), f"{where}.labels", named, "label", problems)
    annotations = _string_map(data.get("annotations"), f"{where}.annotations", named, "annotation", problems)
    if len(problems) > count:
        return None
    return AlertRule(group, name, expr, for_seconds, {**group_labels, **labels}, annotations)


def _unknown_fields(data: dict, known: tuple[str, ...], prefix: str, named: str, problems: list[Problem]) -> None:
    for key in data:
        if key not in known:
            problems.append(Problem(f"{prefix}{key}{named}", "unknown field"))
        elif key in _UNSUPPORTED and data[key] not in (None, 0, "0", "0s"):
            problems.append(Problem(f"{prefix}{key}{named}", f"{key} is not supported by simdeploy"))


def _string_map(data: object, where: str, named: str, kind: str, problems: list[Problem]) -> dict[str, str]:
    """Labels or annotations: names to strings (scalars are taken as text, as Prometheus's YAML decoding does)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(f"{where}{named}", f"expected a mapping of {kind} names to values"))
        return {}
    result = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key or (kind == "label" and key == "__name__"):
            problems.append(Problem(f"{where}{named}", f"invalid {kind} name: {key}"))
            continue
        if isinstance(value, dict | list) or value is None:
            problems.append(Problem(f"{where}.{key}{named}", f"invalid {kind} value: expected text"))
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            parse_template(text)
        except ValueError as error:
            problems.append(Problem(f"{where}.{key}{named}", f"{kind} {shown(key)}: template: {error}"))
            continue
        result[key] = text
    return result
