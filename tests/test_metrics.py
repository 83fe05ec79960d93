"""The in-memory series store (simdeploy/sim/metrics.py): identity, appends, label matchers and exports.

A series is its metric name plus its label set, as in Prometheus; labels with an empty value do not count,
times have millisecond resolution, regex matchers are fully anchored, and the OpenMetrics export keeps
families, metrics and metric points contiguous.
"""

from __future__ import annotations

import io

import pytest

from simdeploy.sim.metrics.tsdb import SeriesStore, format_number


def small_store() -> SeriesStore:
    store = SeriesStore()
    store.add("http_requests_total", {"app": "web", "code": "200"}, 0, 0)
    store.add("http_requests_total", {"app": "web", "code": "500"}, 0, 0)
    store.add("http_requests_total", {"app": "api", "code": "200"}, 0, 0)
    store.add("kube_deployment_status_replicas_available", {"deployment": "web"}, 0, 3)
    return store


def names_and_labels(series_list):
    return [(s.name, s.labels) for s in series_list]


def test_a_series_is_its_name_plus_its_labels_whatever_their_order():
    store = SeriesStore()
    store.add("up", {"b": "2", "a": "1"}, 0, 1)
    store.add("up", {"a": "1", "b": "2"}, 15, 1)
    store.add("up", {"a": "1"}, 15, 0)
    store.add("down", {"a": "1", "b": "2"}, 15, 0)
    assert len(store) == 3
    (series,) = [s for s in store.series("up") if s.labels == {"a": "1", "b": "2"}]
    assert series.times == [0.0, 15.0]
    assert series.values == [1.0, 1.0]


def test_an_empty_label_value_is_no_label_at_all():
    store = SeriesStore()
    store.add("up", {"version": ""}, 0, 1)
    store.add("up", {}, 15, 0)
    (series,) = store.series()
    assert series.labels == {}
    assert series.times == [0.0, 15.0]


def test_label_values_are_strings():
    store = SeriesStore()
    store.add("kube_replicaset_owner", {"revision": 3}, 0, 1)
    assert store.series()[0].labels == {"revision": "3"}


def test_series_are_listed_sorted_by_name_then_labels_and_can_be_filtered_by_name():
    store = small_store()
    assert names_and_labels(store.series()) == [
        ("http_requests_total", {"app": "api", "code": "200"}),
        ("http_requests_total", {"app": "web", "code": "200"}),
        ("http_requests_total", {"app": "web", "code": "500"}),
        ("kube_deployment_status_replicas_available", {"deployment": "web"}),
    ]
    assert names_and_labels(store.series("kube_deployment_status_replicas_available")) == [
        ("kube_deployment_status_replicas_available", {"deployment": "web"})
    ]
    assert store.series("nothing") == []


def test_times_never_go_back_and_an_equal_time_replaces_the_last_value():
    store = SeriesStore()
    store.add("up", {}, 15, 1)
    store.add("up", {}, 15, 0)  # a second scrape at the same instant wins
    with pytest.raises(ValueError, match="out-of-order"):
        store.add("up", {}, 14.999, 1)
    (series,) = store.series()
    assert (series.times, series.values) == ([15.0], [0.0])


def test_times_have_millisecond_resolution():
    store = SeriesStore()
    store.add("up", {}, 0.1 * 3, 1)  # 0.30000000000000004 in binary floating point
    store.add("up", {}, 1.23456, 1)
    assert store.series()[0].times == [0.3, 1.235]


def test_the_metric_name_is_not_a_label():
    with pytest.raises(ValueError, match="__name__"):
        SeriesStore().add("up", {"__name__": "up"}, 0, 1)


def test_equality_matchers_and_the_metric_name_as___name__():
    store = small_store()
    assert names_and_labels(store.select([("__name__", "=", "http_requests_total"), ("code", "=", "500")])) == [
        ("http_requests_total", {"app": "web", "code": "500"})
    ]
    assert names_and_labels(store.select([("__name__", "=", "http_requests_total"), ("app", "!=", "web")])) == [
        ("http_requests_total", {"app": "api", "code": "200"})
    ]


def test_a_missing_label_matches_the_empty_string():
    store = small_store()
    # Only the kube series has no `code` label.
    assert [s.name for s in store.select([("code", "=", "")])] == ["kube_deployment_status_replicas_available"]
    assert len(store.select([("code", "!=", "")])) == 3


def test_regex_matchers_are_fully_anchored():
    store = small_store()
    assert [s.labels["code"] for s in store.select([("code", "=~", "5..")])] == ["500"]
    assert store.select([("code", "=~", "5")]) == []  # "5" does not match "500": ^(?:5)$
    assert store.select([("code", "=~", "50")]) == []
    # A negative matcher also selects series without the label: "" does not match 2..
    assert [s.label("code") for s in store.select([("code", "!~", "2..")])] == ["500", ""]
    assert [s.name for s in store.select([("__name__", "=~", "kube_.*")])] == [
        "kube_deployment_status_replicas_available"
    ]
    assert len(store.select([("code", "=~", "200|500")])) == 3


def test_an_unknown_operator_or_a_bad_regex_is_a_value_error():
    store = small_store()
    with pytest.raises(ValueError, match="operator"):
        store.select([("code", "==", "500")])
    with pytest.raises(ValueError, match="regular expression"):
        store.select([("code", "=~", "(")])


def test_numbers_are_written_in_their_shortest_exact_form():
    assert [format_number(x) for x in (15.0, 0.1, 1e-05, 2.5e20, float("inf"), float("-inf"), float("nan"))] == [
        "15.0",
        "0.1",
        "1e-05",
        "2.5e+20",
        "+Inf",
        "-Inf",
        "NaN",
    ]


def test_csv_export_has_one_row_per_sample_series_by_series():
    store = SeriesStore()
    store.add("up", {}, 15, 1)
    store.add("http_requests_total", {"code": "200", "app": "web"}, 0, 0)
    store.add("http_requests_total", {"code": "200", "app": "web"}, 15, 150)
    store.add("queue_depth", {"queue": "a,b"}, 15, 0.5)
    out = io.StringIO()
    store.to_csv(out)
    assert out.getvalue().splitlines() == [
        "timestamp_s,metric,labels,value",
        '0.0,http_requests_total,"app=web,code=200",0.0',
        '15.0,http_requests_total,"app=web,code=200",150.0',
        '15.0,queue_depth,"queue=a,b",0.5',
        "15.0,up,,1.0",
    ]


def test_csv_export_to_a_path(tmp_path):
    store = SeriesStore()
    store.add("up", {"job": "x"}, 15, 1)
    store.to_csv(tmp_path / "samples.csv")
    assert (tmp_path / "samples.csv").read_text().splitlines() == [
        "timestamp_s,metric,labels,value",
        "15.0,up,job=x,1.0",
    ]


def test_openmetrics_export_types_families_and_keeps_points_contiguous():
    store = SeriesStore()
    # A counter, added out of label order on purpose.
    store.add("http_requests_total", {"code": "500"}, 0, 0)
    store.add("http_requests_total", {"code": "200"}, 0, 0)
    store.add("http_requests_total", {"code": "200"}, 15, 150)
    # A histogram: buckets sort by number ("10" after "2.5"), then _count and _sum, point by point.
    for t, counts, total in ((0, (1, 2, 3), 4.5), (15, (2, 4, 6), 9.0)):
        for le, count in zip(("10", "2.5", "+Inf"), (counts[1], counts[0], counts[2]), strict=True):
            store.add("latency_seconds_bucket", {"app": "web", "le": le}, t, count)
        store.add("latency_seconds_count", {"app": "web"}, t, counts[2])
        store.add("latency_seconds_sum", {"app": "web"}, t, total)
    # A gauge whose label needs escaping, and a _count with no buckets, which is a gauge too.
    store.add("kube_deployment_status_replicas_available", {"deployment": 'we"b\\1\n'}, 15, 3)
    store.add("jobs_count", {}, 15, 7)
    out = io.StringIO()
    store.to_openmetrics(out)
    assert out.getvalue().splitlines() == [
        "# TYPE http_requests counter",
        'http_requests_total{code="200"} 0.0 0.0',
        'http_requests_total{code="200"} 150.0 15.0',
        'http_requests_total{code="500"} 0.0 0.0',
        "# TYPE jobs_count gauge",
        "jobs_count 7.0 15.0",
        "# TYPE kube_deployment_status_replicas_available gauge",
        'kube_deployment_status_replicas_available{deployment="we\\"b\\\\1\\n"} 3.0 15.0',
        "# TYPE latency_seconds histogram",
        'latency_seconds_bucket{app="web",le="2.5"} 1.0 0.0',
        'latency_seconds_bucket{app="web",le="10"} 2.0 0.0',
        'latency_seconds_bucket{app="web",le="+Inf"} 3.0 0.0',
        'latency_seconds_count{app="web"} 3.0 0.0',
        'latency_seconds_sum{app="web"} 4.5 0.0',
        'latency_seconds_bucket{app="web",le="2.5"} 2.0 15.0',
        'latency_seconds_bucket{app="web",le="10"} 4.0 15.0',
        'latency_seconds_bucket{app="web",le="+Inf"} 6.0 15.0',
        'latency_seconds_count{app="web"} 6.0 15.0',
        'latency_seconds_sum{app="web"} 9.0 15.0',
        "# EOF",
    ]
    assert out.getvalue().endswith("# EOF\n")


def test_openmetrics_export_of_an_empty_store_is_just_eof(tmp_path):
    SeriesStore().to_openmetrics(tmp_path / "metrics.txt")
    assert (tmp_path / "metrics.txt").read_text() == "# EOF\n"
