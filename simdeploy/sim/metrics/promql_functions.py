"""PromQL's functions, operators and aggregations over samples, after Prometheus's promql/ engine and functions."""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from simdeploy.sim.metrics.tsdb import METRIC_NAME, LabelKey, label_key

# --- Go float64 arithmetic -----------------------------------------------------------------------------------
# PromQL evaluates in Go, whose float operations never raise: x/0 is ±Inf (NaN for 0/0), math.Mod(x, 0) is
# NaN, math.Pow overflows to ±Inf. Python raises instead, so these helpers return what Go returns.


def go_div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def go_mod(a: float, b: float) -> float:
    """math.Mod: the sign of a; NaN for b == 0, infinite a or any NaN; a itself for infinite b."""
    if b == 0.0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def go_pow(a: float, b: float) -> float:
    """math.Pow: like C pow, returning ±Inf or NaN where Python's math.pow raises."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return -math.inf if a < 0 and _odd_integer(b) else math.inf
    except ValueError:
        pass
    if a == 0.0 and b < 0:  # Pow(±0, y<0): ±Inf for an odd integer y, else +Inf
        return math.copysign(math.inf, a) if _odd_integer(b) else math.inf
    return math.nan  # a finite negative base with a non-integer exponent


def go_max(a: float, b: float) -> float:
    """math.Max: NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a > b else b


def go_min(a: float, b: float) -> float:
    """math.Min: NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a < b else b


ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": go_div,
    "%": go_mod,
    "^": go_pow,
}
COMPARISON: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


# --- sums and means (util/kahansum, funcAvgOverTime) --------------------------------------------------------


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """One step of Kahan-Neumaier summation, as kahansum.Inc: the compensation resets once the sum is infinite."""
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def kahan_sum(values: Sequence[float]) -> float:
    total = c = 0.0
    for v in values:
        total, c = _kahan_inc(v, total, c)
    return total if math.isinf(total) else total + c


def mean(values: Sequence[float]) -> float:
    """The mean as avg_over_time and avg compute it: a Kahan sum over the count, or an incremental mean
    from the point where the sum would overflow."""
    total, count, c, running, incremental = values[0], 1.0, 0.0, 0.0, False
    for v in values[1:]:
        count += 1
        if not incremental:
            new_total, new_c = _kahan_inc(v, total, c)
            if not math.isinf(new_total):
                total, c = new_total, new_c
                continue
            incremental = True
            running, c = total / (count - 1), c / (count - 1)
        q = (count - 1) / count
        running, c = _kahan_inc(v / count, q * running, q * c)
    return running + c if incremental else total / count + c / count


# --- range-vector functions ------------------------------------------------------------------------------------
# Each takes one series' samples inside the range (range_start, range_end] and returns a value, or None
# to drop the series from the result.

RangeFunction = Callable[[Sequence[float], Sequence[float], float, float, float], "float | None"]


def extrapolated_rate(
    times: Sequence[float],
    values: Sequence[float],
    range_start: float,
    range_end: float,
    range_seconds: float,
    is_counter: bool,
    is_rate: bool,
) -> float | None:
    """rate, increase and delta (extrapolatedRate in promql/functions.go).

    The difference between the last and first sample (plus, for counters, every value before a decrease)
    is extrapolated towards the range boundaries: all the way to a boundary if the first/last sample is
    within 1.1 x the average sample interval of it, else by half an average interval. A counter is not
    extrapolated below zero: the start extension is capped at the time the counter would have been 0.
    """
    if len(times) < 2:
        return None
    result = values[-1] - values[0]
    if is_counter:
        for prev, cur in zip(values, values[1:], strict=False):
            if cur < prev:  # a counter reset: the counter restarted from 0 after `prev`
                result += prev
    duration_to_start = times[0] - range_start
    duration_to_end = range_end - times[-1]
    sampled_interval = times[-1] - times[0]
    average_interval = sampled_interval / (len(times) - 1)
    threshold = average_interval * 1.1
    if duration_to_start >= threshold:
        duration_to_start = average_interval / 2
    if is_counter and result > 0 and values[0] >= 0:
        duration_to_zero = sampled_interval * (values[0] / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero
    if duration_to_end >= threshold:
        duration_to_end = average_interval / 2
    factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval
    if is_rate:
        factor /= range_seconds
    return result * factor


def irate(times: Sequence[float], values: Sequence[float], *_: float) -> float | None:
    """The per-second rate between the last two samples; after a reset, the last value itself (instantValue)."""
    if len(times) < 2:
        return None
    interval = times[-1] - times[-2]
    if interval == 0:
        return None
    previous, last = values[-2], values[-1]
    increase = last if last < previous else last - previous
    return increase / interval


def _compare_over_time(replace: Callable[[float, float], bool]) -> RangeFunction:
    def aggregate(times: Sequence[float], values: Sequence[float], *_: float) -> float:
        best = values[0]
        for v in values:
            if replace(v, best) or math.isnan(best):
                best = v
        return best

    return aggregate


RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "rate": lambda t, v, start, end, rng: extrapolated_rate(t, v, start, end, rng, True, True),
    "increase": lambda t, v, start, end, rng: extrapolated_rate(t, v, start, end, rng, True, False),
    "delta": lambda t, v, start, end, rng: extrapolated_rate(t, v, start, end, rng, False, False),
    "irate": irate,
    "sum_over_time": lambda t, v, *_: kahan_sum(v),
    "avg_over_time": lambda t, v, *_: mean(v),
    "count_over_time": lambda t, v, *_: float(len(v)),
    "max_over_time": _compare_over_time(operator.gt),
    "min_over_time": _compare_over_time(operator.lt),
}


# --- histogram_quantile over classic buckets (promql/quantile.go) ---------------------------------------------

SMALL_DELTA_TOLERANCE = 1e-12
_MIN_NORMAL = sys.float_info.min  # 2.2250738585072014e-308, Go's minNormal


def almost_equal(a: float, b: float, epsilon: float) -> bool:
    """util/almost.Equal: a relative comparison, absolute near zero."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < epsilon


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The q-quantile of classic histogram buckets [(upper bound, cumulative count)] (BucketQuantile).

    Buckets are sorted by bound and equal bounds merged; the highest must be +Inf (else NaN). Counts are
    made monotonic (tiny relative differences ignored, decreases flattened). The rank q x count(+Inf) is
    located in the first bucket whose count reaches it and interpolated linearly inside it, the lowest
    bucket starting at 0 (unless its bound is <= 0, which is then returned). A rank in the +Inf bucket
    returns the second-highest bound. q < 0 gives -Inf, q > 1 gives +Inf, and no observations NaN.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan
    bounds: list[float] = []
    counts: list[float] = []
    for bound, count in ordered:  # coalesceBuckets
        if bounds and bounds[-1] == bound:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    previous = counts[0]  # ensureMonotonicAndIgnoreSmallDeltas
    for i in range(1, len(counts)):
        current = counts[i]
        if current == previous:
            continue
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) or current < previous:
            counts[i] = previous
            continue
        previous = current
    if len(bounds) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(counts) - 1) if counts[i] >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    bucket_start, bucket_end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        bucket_start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return bucket_start + (bucket_end - bucket_start) * (rank / count)


# --- samples, operators and aggregations (promql/engine.go) -------------------------------------------------


class PromQLError(ValueError):
    """A query that cannot be parsed, uses an unsupported construct, or fails to evaluate."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position  # 0-based offset into the query, for parse errors when it is known


class Sample(NamedTuple):
    """One element of an instant vector: its labels (with __name__ while the result keeps it) and value."""

    labels: dict[str, str]
    value: float


Vector = list[Sample]


def drop_name(labels: dict[str, str]) -> dict[str, str]:
    if METRIC_NAME not in labels:
        return labels
    return {k: v for k, v in labels.items() if k != METRIC_NAME}


def format_labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in label_key(labels)) + "}"


def unique(vector: Vector) -> Vector:
    """Two results with one label set (say, after a name was dropped) are an error, as in Prometheus."""
    seen: set[LabelKey] = set()
    for sample in vector:
        key = label_key(sample.labels)
        if key in seen:
            raise PromQLError(f"vector cannot contain metrics with the same labelset: {format_labels(sample.labels)}")
        seen.add(key)
    return vector


def max_of(values: list[float]) -> float:
    best = values[0]
    for v in values:
        if v > best or math.isnan(best):
            best = v
    return best


def min_of(values: list[float]) -> float:
    best = values[0]
    for v in values:
        if v < best or math.isnan(best):
            best = v
    return best


AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "sum": kahan_sum,
    "avg": mean,
    "min": min_of,
    "max": max_of,
    "count": lambda values: float(len(values)),
}


def histogram_quantile(q: float, vector: Vector) -> Vector:
    """Classic-histogram buckets grouped by their labels without `le` (funcHistogramQuantile); the result
    drops `le` and the metric name. A missing or unparsable `le` skips the sample."""
    groups: dict[LabelKey, tuple[dict[str, str], list[tuple[float, float]]]] = {}
    for sample in vector:
        le = sample.labels.get("le", "")
        try:
            if le != le.strip() or "_" in le:  # Go's strconv.ParseFloat is stricter than float()
                raise ValueError(le)
            bound = float(le)
        except ValueError:
            continue
        key = label_key({k: v for k, v in sample.labels.items() if k != "le"})
        if key not in groups:
            groups[key] = ({k: v for k, v in sample.labels.items() if k not in ("le", METRIC_NAME)}, [])
        groups[key][1].append((bound, sample.value))
    return [Sample(labels, bucket_quantile(q, buckets)) for labels, buckets in groups.values()]


def signature(on: bool, labels: tuple[str, ...]) -> Callable[[dict[str, str]], LabelKey]:
    """The matching key of a sample: the `on` labels, or all labels but __name__ and the `ignoring` ones."""
    if on:
        return lambda metric: tuple((name, metric.get(name, "")) for name in labels)
    excluded = {*labels, METRIC_NAME}
    return lambda metric: tuple(item for item in sorted(metric.items()) if item[0] not in excluded)


def set_operation(op: str, lhs: Vector, rhs: Vector, key_of: Callable[[dict[str, str]], LabelKey]) -> Vector:
    """and / or / unless (VectorAnd, VectorOr, VectorUnless): whole samples kept, names included."""
    if op == "or":
        if not lhs or not rhs:
            return lhs or rhs
        left = {key_of(s.labels) for s in lhs}
        return lhs + [s for s in rhs if key_of(s.labels) not in left]
    if not lhs or not rhs:
        return [] if op == "and" else lhs
    right = {key_of(s.labels) for s in rhs}
    if op == "and":
        return [s for s in lhs if key_of(s.labels) in right]
    return [s for s in lhs if key_of(s.labels) not in right]


def vector_scalar(op: str, vector: Vector, scalar: float, swap: bool, return_bool: bool) -> Vector:
    """VectorscalarBinop: a comparison keeps the vector's value (even with the scalar on the left) or filters;
    arithmetic and `bool` drop the metric name."""
    out = []
    for sample in vector:
        left, right = (scalar, sample.value) if swap else (sample.value, scalar)
        if op in ARITHMETIC:
            value, keep = ARITHMETIC[op](left, right), True
        else:
            value, keep = sample.value, COMPARISON[op](left, right)
        if return_bool:
            value, keep = (1.0 if keep else 0.0), True
        if keep:
            drop = op in ARITHMETIC or return_bool
            out.append(Sample(drop_name(sample.labels) if drop else sample.labels, value))
    return out


def vector_vector(op: str, lhs: Vector, rhs: Vector, on: bool, labels: tuple[str, ...], return_bool: bool) -> Vector:
    """VectorBinop with one-to-one matching: each left sample meets the right sample with the same signature."""
    if not lhs or not rhs:
        return []
    key_of = signature(on, labels)
    right: dict[LabelKey, Sample] = {}
    for sample in rhs:
        key = key_of(sample.labels)
        if key in right:
            raise PromQLError(
                f"found duplicate series for the match group {format_labels(dict(key))} on the right hand-side of"
                f" the operation: [{format_labels(sample.labels)}, {format_labels(right[key].labels)}];"
                "many-to-many matching not allowed: matching labels must be unique on one side"
            )
        right[key] = sample
    matched: set[LabelKey] = set()
    out = []
    for sample in lhs:
        key = key_of(sample.labels)
        other = right.get(key)
        if other is None:
            continue
        if op in ARITHMETIC:
            value, keep = ARITHMETIC[op](sample.value, other.value), True
        else:
            value, keep = sample.value, COMPARISON[op](sample.value, other.value)
        if return_bool:
            value = 1.0 if keep else 0.0
        elif not keep:
            continue
        if key in matched:
            raise PromQLError(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
            )
        matched.add(key)
        out.append(Sample(result_labels(sample.labels, op, on, labels, return_bool), value))
    return out


def result_labels(
    metric: dict[str, str], op: str, on: bool, labels: tuple[str, ...], return_bool: bool
) -> dict[str, str]:
    """resultMetric for one-to-one matching: the left side's labels, without the name for arithmetic and
    `bool`, reduced to the `on` labels or stripped of the `ignoring` ones."""
    if op in ARITHMETIC or return_bool:
        metric = drop_name(metric)
    if on:
        return {k: v for k, v in metric.items() if k in labels}
    if labels:
        return {k: v for k, v in metric.items() if k not in labels}
    return metric
