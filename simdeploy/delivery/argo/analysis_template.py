"""Argo AnalysisTemplates: durations, arguments and {{args.x}} rendering, and validation of metrics."""

# utils/analysis/helpers.go (MergeArgs, GetDryRunMetrics), utils/analysis/analysis.go (ValidateMetric),
# utils/template/template.go; metricproviders/prometheus/prometheus.go for the query function.

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from simdeploy.delivery.argo.analysis_expr import AnalysisError, compile_condition
from simdeploy.k8s.duration import MAX_SECONDS
from simdeploy.k8s.shown import shown
from simdeploy.sim.metrics.promql import instant_query

# --- durations and arguments ---------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)([^0-9.]*)")  # ASCII digits, as Go reads them


def parse_duration_argo(value: object) -> float:
    """Seconds in an Argo DurationString, which is Go's time.ParseDuration: a unit is required ("30" fails)."""
    if not isinstance(value, str):  # a JSON string field: `interval: 30` is rejected by the CRD schema
        raise AnalysisError(f"expected a duration string like 30s or 5m, got {shown(value)}")
    if len(value) > 100:
        raise AnalysisError(f"time: invalid duration {shown(value)}")
    text, sign = value, 1.0
    if text and text[0] in "+-":
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    if text == "0":
        return 0.0
    total, rest = 0.0, text
    while rest:
        number, unit = _DURATION_PART.match(rest).groups()
        if number in ("", "."):
            raise AnalysisError(f'time: invalid duration "{value}"')
        if not unit:
            raise AnalysisError(f'time: missing unit in duration "{value}"')
        if unit not in _DURATION_UNITS:
            raise AnalysisError(f'time: unknown unit "{unit}" in duration "{value}"')
        total, rest = total + float(number) * _DURATION_UNITS[unit], rest[len(number) + len(unit) :]
    if not text or total > MAX_SECONDS:  # Go: past an int64 of nanoseconds is an invalid duration too
        raise AnalysisError(f'time: invalid duration "{value}"')
    return sign * total


def resolve_args(
    template_args: list[dict], run_args: list[dict], *, value_from: Callable[[dict], str] | None = None
) -> dict[str, str]:
    """helpers.go MergeArgs: the template declares the args (a value is a default), the run overrides by name."""
    merged = [dict(arg) for arg in template_args or []]
    for arg in run_args or []:  # args the template does not declare are dropped, as MergeArgs does
        for target in merged:
            if target.get("name") == arg.get("name"):
                if arg.get("value") is not None:
                    target["value"] = arg["value"]
                elif arg.get("valueFrom") is not None:
                    target["valueFrom"] = arg["valueFrom"]
    values: dict[str, str] = {}
    for arg in merged:
        name, value, source = arg.get("name"), arg.get("value"), arg.get("valueFrom")
        if value is None and source is None:
            raise AnalysisError(f"args.{name} was not resolved: the template gives no value and the run supplies none")
        if source is not None and (value is None or "secretKeyRef" in source):  # analysis.go resolveArgs
            if value_from is None:
                raise AnalysisError(f"args.{name} has valueFrom {shown(source)} but no resolver was given")
            value = value_from(source)
        if not isinstance(value, str):
            raise AnalysisError(f"args.{name} value must be a string (quote it in YAML), got {shown(value)}")
        values[name] = value
    return values


def render(text: str, args: dict[str, str]) -> str:
    """utils/template resolve: replace each {{args.name}} (spaces allowed inside); any other tag is an error."""
    out, start = [], 0
    while (opening := text.find("{{", start)) >= 0:
        closing = text.find("}}", opening + 2)
        if closing < 0:
            raise AnalysisError(
                f'Cannot find end tag="}}}}" in the template="{text}" starting from "{text[opening + 2 :]}"'
            )
        tag = text[opening + 2 : closing]
        key = tag.strip()
        if not key.startswith("args.") or key[5:] not in args:
            raise AnalysisError(f"failed to resolve {{{{{tag}}}}}")
        out += [text[start:opening], args[key[5:]]]
        start = closing + 2
    return "".join(out) + text[start:]


def render_metrics(metrics: list[dict], args: dict[str, str]) -> list[dict]:
    """ResolveMetricArgs: substitute the args in every string of the metrics (count: "{{args.n}}" stays a string)."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return render(node, args)
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return [walk(item) for item in node] if isinstance(node, list) else node

    return walk(copy.deepcopy(metrics))


def prometheus(store: Any) -> Callable[[str, float], object]:
    """The query function for a run: an instant query on the simulator's SeriesStore."""
    return lambda expr, t: instant_query(store, expr, t)


# --- validation ----------------------------------------------------------------------------------------------

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_LIMITS = ("count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit")


def int_or_string(value: object) -> int | None:
    """An IntOrString field as a non-negative-checked int, or None when it is neither an int nor a decimal string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) else None


def _templated(metric: dict, field: str) -> bool:
    return isinstance(metric.get(field), str) and "{{" in metric[field]


def _tags(node: Any, path: str, declared: set[str] | None) -> list[tuple[str, str]]:
    """Every {{tag}} must be a declared args.name (or, after rendering, none may be left)."""
    if isinstance(node, dict):
        return [problem for key, value in node.items() for problem in _tags(value, f"{path}.{key}", declared)]
    if isinstance(node, list):
        return [problem for k, value in enumerate(node) for problem in _tags(value, f"{path}[{k}]", declared)]
    if not isinstance(node, str):
        return []
    problems = [
        (path, f"failed to resolve {{{{{tag}}}}}")
        for tag in _TAG.findall(node)
        if declared is None or not (tag.strip().startswith("args.") and tag.strip()[5:] in declared)
    ]
    if "{{" in _TAG.sub("", node):
        problems.append((path, 'Cannot find end tag="}}"'))
    return problems


def validate_metrics(metrics: object, path: str, declared: set[str] | None) -> list[tuple[str, str]]:
    """utils/analysis ValidateMetrics, plus what the simulator needs: a prometheus query and parseable conditions."""
    if not isinstance(metrics, list) or not metrics:
        return [(path, "Required value: no metrics specified")]
    problems: list[tuple[str, str]] = []
    names: set[str] = set()
    for i, metric in enumerate(metrics):
        at = f"{path}[{i}]"
        if not isinstance(metric, dict):
            problems.append((at, "must be an object"))
            continue
        problems += _tags(metric, at, declared)
        name = metric.get("name")
        if not isinstance(name, str) or not name:
            problems.append((f"{at}.name", "Required value"))
        elif name in names:
            problems.append((f"{at}.name", f"duplicate name {shown(name)}"))
        else:
            names.add(name)
        provider = metric.get("provider")
        if not isinstance(provider, dict) or not provider:
            problems.append((f"{at}.provider", "no provider specified"))
        elif len(provider) > 1:
            problems.append((f"{at}.provider", "multiple providers specified"))
        elif "prometheus" not in provider:
            problems.append((f"{at}.provider.{next(iter(provider))}", "only the prometheus provider is simulated"))
        elif not isinstance(provider["prometheus"], dict) or not str(provider["prometheus"].get("query") or "").strip():
            problems.append((f"{at}.provider.prometheus.query", "Required value"))
        for field in ("interval", "initialDelay"):
            if metric.get(field) in (None, "") or _templated(metric, field):
                continue
            try:
                seconds = parse_duration_argo(metric[field])
            except AnalysisError as error:
                problems.append((f"{at}.{field}", str(error)))
                continue
            if seconds < 0 or (field == "interval" and seconds == 0):  # Go accepts them; they would spin the run
                problems.append((f"{at}.{field}", "must be a positive duration"))
        limits = {}
        for field in _LIMITS:
            if metric.get(field) is None or _templated(metric, field):
                continue
            limits[field] = int_or_string(metric[field])
            if limits[field] is None or limits[field] < 0:
                problems.append((f"{at}.{field}", "must be a non-negative integer"))
        count = limits.get("count") or 0
        for field in ("failureLimit", "inconclusiveLimit"):
            if count > 0 and count < (limits.get(field) or 0):
                problems.append((f"{at}.count", f"count must be >= {field}"))
        if count > 1 and not metric.get("interval"):
            problems.append((f"{at}.interval", "interval must be specified when count > 1"))
        if metric.get("consecutiveSuccessLimit") not in (None, 0):
            problems.append((f"{at}.consecutiveSuccessLimit", "not modelled by the simulator"))
        for field in ("successCondition", "failureCondition"):
            condition = metric.get(field)
            if condition in (None, ""):
                continue
            if not isinstance(condition, str):
                problems.append((f"{at}.{field}", "must be a string"))
                continue
            try:
                compile_condition(_TAG.sub("0", condition))  # an {{args.x}} placeholder stands for a literal
            except AnalysisError as error:
                problems.append((f"{at}.{field}", str(error)))
    return problems


def dry_run_names(rules: object, metrics: list[dict], path: str) -> tuple[set[str], list[tuple[str, str]]]:
    """helpers.go GetDryRunMetrics: each rule is a Go regexp matched anywhere in the names (unanchored)."""
    names, problems = set(), []
    for k, rule in enumerate(rules or []):
        pattern = rule.get("metricName", "") if isinstance(rule, dict) else ""
        try:
            matched = {m.get("name") for m in metrics if isinstance(m, dict) and re.search(pattern, str(m.get("name")))}
        except re.error as error:
            problems.append((f"{path}[{k}].metricName", f"invalid regexp: {error}"))
            continue
        if not matched:
            problems.append((f"{path}[{k}].metricName", "Rule didn't match any metric name(s)"))
        names |= matched
    return names, problems


def validate_template(template: dict) -> list[tuple[str, str]]:
    """Problems with an AnalysisTemplate dict as (field path, message); empty when the simulator can run it."""
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    problems: list[tuple[str, str]] = []
    declared: set[str] = set()
    for field in ("args", "dryRun"):
        if spec.get(field) is not None and not isinstance(spec[field], list):
            problems.append((f"spec.{field}", "must be a list"))
    if problems:
        return problems
    for k, arg in enumerate(spec.get("args") or []):
        if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or not arg["name"]:
            problems.append((f"spec.args[{k}].name", "Required value"))
            continue
        if arg["name"] in declared:
            problems.append((f"spec.args[{k}].name", f"Duplicate value: {shown(arg['name'])}"))
        if arg.get("value") is not None and not isinstance(arg["value"], str):
            problems.append((f"spec.args[{k}].value", "must be a string"))
        declared.add(arg["name"])
    problems += validate_metrics(spec.get("metrics"), "spec.metrics", declared)
    if isinstance(spec.get("metrics"), list):
        problems += dry_run_names(spec.get("dryRun"), spec["metrics"], "spec.dryRun")[1]
    return problems


def flatten_templates(templates: list[dict]) -> dict:
    """helpers.go FlattenTemplates: metrics and dryRun rules concatenated; args merged by name (flattenArgs)."""
    metrics: list[dict] = []
    dry_run: list[dict] = []
    args: list[dict] = []
    for template in templates:
        spec = template.get("spec") or {} if isinstance(template, dict) else {}
        metrics += spec.get("metrics") or []
        dry_run += spec.get("dryRun") or []
        for arg in spec.get("args") or []:
            earlier = next((a for a in args if a.get("name") == arg.get("name")), None)
            if earlier is None:
                args.append(dict(arg))
            elif None not in (earlier.get("value"), arg.get("value")) and earlier["value"] != arg["value"]:
                raise AnalysisError(
                    f"Argument `{arg['name']}` specified multiple times with different values: "
                    f"'{earlier['value']}', '{arg['value']}'"
                )
            elif earlier.get("value") is None:  # a value already set is not replaced by an arg without one
                earlier.clear()
                earlier.update(arg)
    return {"spec": {"args": args, "metrics": metrics, "dryRun": dry_run}}


def raise_problems(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise AnalysisError("; ".join(f"{path}: {message}" for path, message in problems))
