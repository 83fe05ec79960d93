"""An in-memory Prometheus-like time-series store: append-only samples, label matchers, CSV/OpenMetrics export."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from os import PathLike
from typing import IO

METRIC_NAME = "__name__"

LabelKey = tuple[tuple[str, str], ...]
Matcher = tuple[str, str, str]  # (label name, op in '=', '!=', '=~', '!~', value)

MATCH_OPS = ("=", "!=", "=~", "!~")


def label_key(labels: dict[str, str]) -> LabelKey:
    """The canonical, hashable form of a label set: its items sorted by name."""
    return tuple(sorted(labels.items()))


class Series:
    """One time series: a metric name, its labels (without __name__) and its samples in time order.

    `times` (seconds, millisecond resolution like Prometheus) and `values` are parallel lists that
    only grow; treat them and `labels` as read-only.
    """

    __slots__ = ("name", "labels", "times", "values", "metric")

    def __init__(self, name: str, labels: dict[str, str]):
        self.name = name
        self.labels = labels
        self.times: list[float] = []
        self.values: list[float] = []
        # The full label set as PromQL sees it, built once; never mutate it.
        self.metric: dict[str, str] = {METRIC_NAME: name, **labels}

    def label(self, name: str) -> str:
        """A label's value; a missing label reads as "" (Prometheus treats both the same)."""
        return self.metric.get(name, "")

    def __repr__(self) -> str:
        return f"Series({self.name!r}, {self.labels!r}, {len(self.times)} samples)"


def compile_matchers(matchers: Iterable[Matcher]) -> list[tuple[str, str, str, re.Pattern | None]]:
    """Check label matchers and compile their regexes, fully anchored as in Prometheus (`^(?s:re)$`)."""
    compiled = []
    for name, op, value in matchers:
        if op not in MATCH_OPS:
            raise ValueError(f"unknown label matcher operator {op!r} (expected one of {', '.join(MATCH_OPS)})")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(f"(?s:{value})")
            except re.error as error:
                raise ValueError(f"invalid regular expression {value!r} for label {name!r}: {error}") from None
        compiled.append((name, op, value, pattern))
    return compiled


def _matches(series: Series, compiled: list[tuple[str, str, str, re.Pattern | None]]) -> bool:
    for name, op, value, pattern in compiled:
        actual = series.metric.get(name, "")
        if op == "=":
            ok = actual == value
        elif op == "!=":
            ok = actual != value
        elif op == "=~":
            ok = pattern.fullmatch(actual) is not None
        else:
            ok = pattern.fullmatch(actual) is None
        if not ok:
            return False
    return True


class SeriesStore:
    """Append-only samples keyed by (metric name, label set); what a Prometheus TSDB holds, in memory."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, LabelKey], Series] = {}
        self._by_name: dict[str, list[Series]] = {}
        self._lookup: dict[tuple, Series] = {}  # labels as callers passed them -> series

    def add(self, name: str, labels: dict[str, str], t: float, value: float) -> None:
        """Append one sample. Times must not decrease within a series; an equal time replaces the last value.

        Labels with an empty value are dropped, as Prometheus does at ingestion ({a=""} is the same series as {}).
        """
        raw_key = (name, tuple(sorted(labels.items())))
        series = self._lookup.get(raw_key)  # fast path: these exact labels were seen before
        if series is None:
            if METRIC_NAME in labels:
                raise ValueError("pass the metric name as `name`, not as a __name__ label")
            key = (name, tuple(sorted((k, str(v)) for k, v in labels.items() if v != "")))
            series = self._series.get(key)
            if series is None:
                series = Series(name, dict(key[1]))
                self._series[key] = series
                self._by_name.setdefault(name, []).append(series)
            self._lookup[raw_key] = series
        t = round(float(t), 3)
        times = series.times
        if times and t <= times[-1]:
            if t < times[-1]:
                raise ValueError(f"out-of-order sample for {name}{series.labels}: t={t} after t={times[-1]}")
            series.values[-1] = float(value)
            return
        times.append(t)
        series.values.append(float(value))

    def series(self, name: str | None = None) -> list[Series]:
        """Every series (or those of one metric name), sorted by name then labels."""
        chosen = self._by_name.get(name, []) if name is not None else self._series.values()
        return sorted(chosen, key=lambda s: (s.name, label_key(s.labels)))

    def select(self, matchers: Iterable[Matcher]) -> list[Series]:
        """The series matching every label matcher; the metric name is matched as `__name__`."""
        compiled = compile_matchers(matchers)
        candidates: Iterable[Series] = self._series.values()
        for name, op, value, _ in compiled:
            if name == METRIC_NAME and op == "=":
                candidates = self._by_name.get(value, [])
                break
        return sorted((s for s in candidates if _matches(s, compiled)), key=lambda s: (s.name, label_key(s.labels)))

    def __len__(self) -> int:
        return len(self._series)

    # --- export ---------------------------------------------------------------------------------------------

    def to_csv(self, path_or_stream: str | PathLike | IO[str]) -> None:
        """One row per sample: timestamp_s, metric, labels (`k=v,...` sorted), value; series by series, in time order.

        Series come sorted by name then labels; numbers are written as in OpenMetrics (`+Inf`, `NaN`).
        """
        with _open_for_writing(path_or_stream) as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["timestamp_s", "metric", "labels", "value"])
            for series in self.series():
                labels = ",".join(f"{k}={v}" for k, v in label_key(series.labels))
                for t, v in zip(series.times, series.values, strict=True):
                    writer.writerow([format_number(t), series.name, labels, format_number(v)])

    def to_openmetrics(self, path_or_stream: str | PathLike | IO[str]) -> None:
        """OpenMetrics text exposition of every sample, with timestamps in seconds, ending in `# EOF`.

        Names ending in `_total` form a counter family (named without `_total`); `<base>_bucket` with its
        `<base>_sum`/`<base>_count` form a histogram family `<base>`; everything else is a gauge. Families,
        Metrics and MetricPoints are not interleaved: each Metric's points are written in time order, a
        histogram point as its buckets in increasing `le`, then `_count`, then `_sum`.
        """
        with _open_for_writing(path_or_stream) as stream:
            for family, kind, members in self._families():
                stream.write(f"# TYPE {family} {kind}\n")
                if kind == "histogram":
                    _write_histogram(stream, family, members)
                else:
                    for series in sorted(members, key=lambda s: label_key(s.labels)):
                        labels = _render_labels(label_key(series.labels))
                        for t, v in zip(series.times, series.values, strict=True):
                            stream.write(f"{series.name}{labels} {format_number(v)} {format_number(t)}\n")
            stream.write("# EOF\n")

    def _families(self) -> list[tuple[str, str, list[Series]]]:
        names = set(self._by_name)
        histogram_bases = {name[: -len("_bucket")] for name in names if name.endswith("_bucket")}
        families: dict[tuple[str, str], list[Series]] = {}
        for name in names:
            base = name.rsplit("_", 1)[0]
            if name.endswith(("_bucket", "_sum", "_count")) and base in histogram_bases:
                family = (base, "histogram")
            elif name.endswith("_total"):
                family = (name[: -len("_total")], "counter")
            else:
                family = (name, "gauge")
            families.setdefault(family, []).extend(self._by_name[name])
        return [(family, kind, members) for (family, kind), members in sorted(families.items())]


def _write_histogram(stream: IO[str], family: str, members: list[Series]) -> None:
    # Group the family's series into Metrics (label sets without `le`).
    metrics: dict[LabelKey, dict] = {}
    for series in members:
        if series.name == f"{family}_bucket":
            key = label_key({k: v for k, v in series.labels.items() if k != "le"})
            metrics.setdefault(key, {"buckets": []})["buckets"].append(series)
        else:
            suffix = series.name[len(family) + 1 :]
            metrics.setdefault(label_key(series.labels), {"buckets": []})[suffix] = series
    for key, parts in sorted(metrics.items()):
        components = sorted(parts["buckets"], key=lambda s: _bucket_bound(s.labels.get("le", "")))
        components += [parts[suffix] for suffix in ("count", "sum") if suffix in parts]
        by_time = [dict(zip(s.times, s.values, strict=True)) for s in components]
        for t in sorted({t for s in components for t in s.times}):
            for series, values in zip(components, by_time, strict=True):
                if t in values:
                    labels = key + ((("le", series.labels["le"]),) if "le" in series.labels else ())
                    stream.write(
                        f"{series.name}{_render_labels(labels)} {format_number(values[t])} {format_number(t)}\n"
                    )


def _bucket_bound(le: str) -> float:
    try:
        return float(le)
    except ValueError:
        return math.inf


def _render_labels(items: LabelKey) -> str:
    if not items:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in items)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(items, escaped, strict=True)) + "}"


def format_number(x: float) -> str:
    """A float as OpenMetrics writes it: shortest round-trip form, `+Inf`, `-Inf`, `NaN`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x))


@contextmanager
def _open_for_writing(path_or_stream: str | PathLike | IO[str]) -> Iterator[IO[str]]:
    if isinstance(path_or_stream, str | PathLike):
        with open(path_or_stream, "w", encoding="utf-8", newline="") as stream:
            yield stream
    else:
        yield path_or_stream
