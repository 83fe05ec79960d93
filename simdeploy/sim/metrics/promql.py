"""PromQL instant and range queries over a SeriesStore, for a Prometheus-faithful subset parsed by promql-parser."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import promql_parser as pp

from simdeploy.sim.metrics import promql_functions as fn
from simdeploy.sim.metrics.promql_functions import PromQLError, Sample, Vector
from simdeploy.sim.metrics.tsdb import METRIC_NAME, LabelKey, Series, SeriesStore, label_key

__all__ = ["LOOKBACK_DELTA", "PromQLError", "RangeSeries", "Sample", "instant_query", "parse", "range_query"]

# Semantics follow Prometheus 3.x promql/engine.go (read at github.com/prometheus/prometheus):
# - An instant selector takes, per series, the latest sample in (t - offset - 5m, t - offset]
#   (vectorSelectorSingle drops a sample at exactly refTime - lookbackDelta).
# - A range selector x[d] takes the samples in (t - offset - d, t - offset]: left-open, as matrixIterSlice
#   keeps `t > mint` since Prometheus 3.0 (2.x kept `t >= mint`). We follow 3.x.
# - Names are dropped at once (no delayed name removal): by arithmetic, `bool` comparisons, unary minus,
#   every supported function, and aggregations unless `by (__name__)`.
# - Times have millisecond resolution, like Prometheus's int64 milliseconds. Staleness markers, native
#   histograms and the @ modifier are not modelled.
LOOKBACK_DELTA = 300.0

INSTANT_FUNCTIONS = ("abs", "clamp_min", "clamp_max", "scalar", "vector", "time", "histogram_quantile")
SET_OPERATORS = ("and", "or", "unless")


class RangeSeries(NamedTuple):
    labels: dict[str, str]
    points: list[tuple[float, float]]


Value = float | Vector


def instant_query(
    store: SeriesStore, expr: str, t: float, *, lookback_delta: float = LOOKBACK_DELTA
) -> list[Sample] | float:
    """Evaluate `expr` at time `t` (seconds): a float for a scalar result, else samples sorted by labels."""
    plan = _plan(store, expr)
    value = _Evaluator(lookback_delta).eval(plan, _ms(t))
    if isinstance(value, float):
        return value
    return [Sample(dict(s.labels), s.value) for s in _sorted(value)]


MAX_POINTS = 11000  # points per series a range query may ask for


def range_query(
    store: SeriesStore, expr: str, start: float, end: float, step: float, *, lookback_delta: float = LOOKBACK_DELTA
) -> list[RangeSeries]:
    """Evaluate `expr` at start, start + step, ... <= end; one (labels, [(t, value)]) per series, sorted by labels.

    A scalar expression gives a single series with no labels, as Prometheus's query_range does.
    """
    start_ms, end_ms, step_ms = round(start * 1000), round(end * 1000), round(step * 1000)
    if step_ms <= 0:
        raise PromQLError("zero or negative query resolution step widths are not accepted")
    if end_ms < start_ms:
        raise PromQLError("end timestamp must not be before start time")
    if (end_ms - start_ms) / step_ms > MAX_POINTS:  # Prometheus web/api/v1 queryRange refuses the same
        raise PromQLError(
            f"exceeded maximum resolution of {MAX_POINTS:,} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )
    plan = _plan(store, expr)
    evaluator = _Evaluator(lookback_delta)
    series: dict[LabelKey, RangeSeries] = {}
    for t_ms in range(start_ms, end_ms + 1, step_ms):
        t = t_ms / 1000
        value = evaluator.eval(plan, t)
        for sample in [Sample({}, value)] if isinstance(value, float) else value:
            key = label_key(sample.labels)
            if key not in series:
                series[key] = RangeSeries(dict(sample.labels), [])
            series[key].points.append((t, sample.value))
    return [series[key] for key in sorted(series)]


# --- parsing -----------------------------------------------------------------------------------------------


def parse(expr: str) -> pp.Expr:
    """Parse with promql-parser; a syntax error becomes a PromQLError with Prometheus's `line:col:` prefix.

    The parser's messages carry no position, so it is recovered from the message when it names the
    offending text (a quoted character, token or function) or the end of input; otherwise none is given.
    """
    try:
        return pp.parse(expr)
    except Exception as error:  # the bindings raise ValueError, but do not let anything else escape raw
        message = str(error)
        position = _error_position(expr, message)
        if position is None:
            raise PromQLError(f"parse error: {message} (the parser reports no position)") from None
        line = expr.count("\n", 0, position) + 1
        column = position - expr.rfind("\n", 0, position)
        raise PromQLError(f"{line}:{column}: parse error: {message}", position) from None


def _error_position(query: str, message: str) -> int | None:
    code = _outside_strings(query)
    if message.startswith("unterminated quoted string"):
        return code.unterminated
    if "end of input" in message or message.startswith("unclosed left"):
        return len(query.rstrip())
    if message.startswith("unexpected right parenthesis"):
        depth = 0
        for i in code.indices:
            depth += {"(": 1, ")": -1}.get(query[i], 0)
            if depth < 0:
                return i
        return None
    found = re.search(r"'([^']+)'", message) or re.search(r"syntax: (\S+)$", message)
    if found is None:
        return None
    text = found.group(1)
    return next((i for i in code.indices if query.startswith(text, i)), None)


@dataclass
class _Code:
    indices: list[int]  # offsets of characters outside string literals
    unterminated: int | None  # where an unterminated string literal starts


def _outside_strings(query: str) -> _Code:
    indices: list[int] = []
    quote, start, i = "", 0, 0
    while i < len(query):
        char = query[i]
        if quote:
            if char == "\\" and quote != "`":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote, start = char, i
        else:
            indices.append(i)
        i += 1
    return _Code(indices, start if quote else None)


# --- planning: the parsed AST checked and turned into plain nodes with their series resolved ---------------


@dataclass
class _Number:
    value: float


@dataclass
class _Selector:
    series: list[Series]
    offset: float
    one_name: bool  # every series has the same metric name


@dataclass
class _Matrix:
    selector: _Selector
    range: float
    text: str


@dataclass
class _Call:
    name: str
    args: list


@dataclass
class _Aggregate:
    op: str
    expr: object
    labels: tuple[str, ...]
    without: bool


@dataclass
class _Binary:
    op: str
    lhs: object
    rhs: object
    return_bool: bool
    on: bool
    labels: tuple[str, ...]


@dataclass
class _Negate:
    expr: object


def _plan(store: SeriesStore, expr: str) -> object:
    plan = _compile(parse(expr), store)
    if isinstance(plan, _Matrix):
        raise PromQLError(f"unsupported: a range vector result ({plan.text}); apply a function such as rate() to it")
    return plan


def _compile(node: pp.Expr, store: SeriesStore) -> object:
    if isinstance(node, pp.ParenExpr):
        return _compile(node.expr, store)
    if isinstance(node, pp.NumberLiteral):
        return _Number(float(node.val))
    if isinstance(node, pp.UnaryExpr):
        return _Negate(_compile(node.expr, store))
    if isinstance(node, pp.VectorSelector):
        return _selector(node, store)
    if isinstance(node, pp.MatrixSelector):
        return _Matrix(_selector(node.vector_selector, store), node.range.total_seconds(), str(node))
    if isinstance(node, pp.Call):
        name = node.func.name
        if name not in fn.RANGE_FUNCTIONS and name not in INSTANT_FUNCTIONS:
            raise PromQLError(f"unsupported function: {name}")
        return _Call(name, [_compile(arg, store) for arg in node.args])
    if isinstance(node, pp.AggregateExpr):
        op = str(node.op)
        if op not in fn.AGGREGATIONS:
            raise PromQLError(f"unsupported aggregation: {op}")
        modifier = node.modifier
        without = modifier is not None and modifier.type == pp.AggModifierType.Without
        labels = tuple(sorted(set(modifier.labels))) if modifier is not None else ()
        return _Aggregate(op, _compile(node.expr, store), labels, without)
    if isinstance(node, pp.BinaryExpr):
        return _binary(node, store)
    if isinstance(node, pp.SubqueryExpr):
        raise PromQLError("unsupported PromQL: subquery")
    if isinstance(node, pp.StringLiteral):
        raise PromQLError("unsupported PromQL: string literal")
    raise PromQLError(f"unsupported PromQL: {type(node).__name__}")


def _selector(node: pp.VectorSelector, store: SeriesStore) -> _Selector:
    if node.at is not None:
        raise PromQLError("unsupported PromQL: @ modifier")
    if node.matchers.or_matchers:
        raise PromQLError("unsupported PromQL: 'or' between label matchers")
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}  # unhashable enum
    matchers = [(m.name, ops[str(m.op)], m.value) for m in node.matchers.matchers]
    if node.name:
        matchers.insert(0, (METRIC_NAME, "=", node.name))
    try:
        series = store.select(matchers)
    except ValueError as error:  # a regex Python's re cannot compile
        raise PromQLError(str(error)) from None
    offset = node.offset.total_seconds() if node.offset is not None else 0.0
    return _Selector(series, offset, len({s.name for s in series}) <= 1)


def _binary(node: pp.BinaryExpr, store: SeriesStore) -> _Binary:
    op = str(node.op)
    if op not in fn.ARITHMETIC and op not in fn.COMPARISON and op not in SET_OPERATORS:
        raise PromQLError(f"unsupported operator: {op}")
    modifier = node.modifier
    on, labels, return_bool = False, (), False
    if modifier is not None:
        if modifier.card == pp.VectorMatchCardinality.ManyToOne:
            raise PromQLError("unsupported: group_left")
        if modifier.card == pp.VectorMatchCardinality.OneToMany:
            raise PromQLError("unsupported: group_right")
        fill = modifier.fill_values
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise PromQLError("unsupported: fill modifier")
        return_bool = bool(modifier.return_bool)
        if modifier.matching is not None:
            on = modifier.matching.type == pp.LabelModifierType.Include
            labels = tuple(sorted(set(modifier.matching.labels)))
    return _Binary(op, _compile(node.lhs, store), _compile(node.rhs, store), return_bool, on, labels)


# --- evaluation ----------------------------------------------------------------------------------------------


def _ms(t: float) -> float:
    return round(float(t), 3)


def _sorted(vector: Vector) -> Vector:
    return sorted(vector, key=lambda s: label_key(s.labels))


class _Evaluator:
    """Evaluates a plan at one time; samples share their label dicts, which are never mutated."""

    def __init__(self, lookback_delta: float):
        self.lookback_delta = lookback_delta

    def eval(self, node: object, t: float) -> Value:
        if isinstance(node, _Number):
            return node.value
        if isinstance(node, _Selector):
            return self._instant(node, t)
        if isinstance(node, _Call):
            return self._call(node, t)
        if isinstance(node, _Aggregate):
            return self._aggregate(node, t)
        if isinstance(node, _Binary):
            return self._binary(node, t)
        if isinstance(node, _Negate):
            value = self.eval(node.expr, t)
            if isinstance(value, float):
                return -value
            return fn.unique([Sample(fn.drop_name(s.labels), -s.value) for s in value])
        raise PromQLError(f"unsupported PromQL: {type(node).__name__} here")  # pragma: no cover

    def _instant(self, selector: _Selector, t: float) -> Vector:
        ref = _ms(t - selector.offset)
        floor = _ms(ref - self.lookback_delta)
        out = []
        for series in selector.series:
            i = bisect_right(series.times, ref) - 1
            if i >= 0 and series.times[i] > floor:
                out.append(Sample(series.metric, series.values[i]))
        return out

    def _call(self, call: _Call, t: float) -> Value:
        name = call.name
        if name in fn.RANGE_FUNCTIONS:
            function, matrix = fn.RANGE_FUNCTIONS[name], call.args[0]
            range_end = _ms(t - matrix.selector.offset)
            range_start = _ms(range_end - matrix.range)
            out = []
            for series in matrix.selector.series:
                lo, hi = bisect_right(series.times, range_start), bisect_right(series.times, range_end)
                if hi > lo:
                    value = function(series.times[lo:hi], series.values[lo:hi], range_start, range_end, matrix.range)
                    if value is not None:
                        out.append(Sample(series.labels, value))  # the series' labels: all but __name__
            # Series of one metric name stay distinct without it; only several names can collide.
            return out if matrix.selector.one_name else fn.unique(out)
        args = [self.eval(arg, t) for arg in call.args]
        if name == "time":
            return t
        if name == "vector":
            return [Sample({}, args[0])]
        if name == "scalar":
            return args[0][0].value if len(args[0]) == 1 else math.nan
        if name == "histogram_quantile":
            return fn.unique(fn.histogram_quantile(args[0], args[1]))
        functions: dict[str, Callable[[float], float]] = {
            "abs": abs,
            "clamp_min": lambda v: fn.go_max(args[1], v),
            "clamp_max": lambda v: fn.go_min(args[1], v),
        }
        return fn.unique([Sample(fn.drop_name(s.labels), functions[name](s.value)) for s in args[0]])

    def _aggregate(self, node: _Aggregate, t: float) -> Vector:
        # Aggregation operators (https://prometheus.io/docs/prometheus/latest/querying/operators/): `by` keeps
        # only the listed labels, `without` drops the listed ones and the metric name; no clause gives one group.
        groups: dict[LabelKey, tuple[dict[str, str], list[float]]] = {}
        excluded = {*node.labels, METRIC_NAME}
        for sample in self.eval(node.expr, t):
            if node.without:
                labels = {k: v for k, v in sample.labels.items() if k not in excluded}
            else:
                labels = {k: sample.labels[k] for k in node.labels if k in sample.labels}
            groups.setdefault(label_key(labels), (labels, []))[1].append(sample.value)
        return [Sample(labels, fn.AGGREGATIONS[node.op](values)) for labels, values in groups.values()]

    def _binary(self, node: _Binary, t: float) -> Value:
        lhs, rhs = self.eval(node.lhs, t), self.eval(node.rhs, t)
        op = node.op
        if op in SET_OPERATORS:
            return fn.set_operation(op, lhs, rhs, fn.signature(node.on, node.labels))
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in fn.ARITHMETIC:
                return fn.ARITHMETIC[op](lhs, rhs)
            return 1.0 if fn.COMPARISON[op](lhs, rhs) else 0.0  # the parser demands `bool` here
        if isinstance(rhs, float):
            return fn.unique(fn.vector_scalar(op, lhs, rhs, False, node.return_bool))
        if isinstance(lhs, float):
            return fn.unique(fn.vector_scalar(op, rhs, lhs, True, node.return_bool))
        return fn.unique(fn.vector_vector(op, lhs, rhs, node.on, node.labels, node.return_bool))
