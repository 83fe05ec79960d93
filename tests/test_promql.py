"""PromQL over a SeriesStore (simdeploy/sim/promql.py), against values worked out by hand.

The rules are Prometheus 3.x's (promql/engine.go, promql/functions.go, promql/quantile.go): a range x[5m]
at t holds the samples in (t-5m, t]; an instant selector the latest sample in (t-5m, t]; rate/increase
extrapolate to the window edges when the first/last sample is within 1.1 average intervals of them (else by
half an interval) and never below a counter's zero; arithmetic and `bool` drop the metric name.
All series are scraped every 15 s from t=0 to t=600 unless said otherwise.
"""

from __future__ import annotations

import math

import pytest

from simdeploy.sim.metrics.promql import PromQLError, Sample, instant_query, range_query
from simdeploy.sim.metrics.tsdb import SeriesStore

SCRAPES = range(0, 601, 15)
NAME = "__name__"

# Per-second rates of four request counters (value = rate x t).
REQUEST_RATES = {
    ("web", "v1", "200"): 10.0,
    ("web", "v1", "500"): 1.0,
    ("web", "v2", "200"): 4.0,
    ("api", "v1", "200"): 2.0,
}
# Cumulative bucket counts per second for web's latency histogram.
BUCKET_RATES = {"0.1": 5.0, "0.25": 8.0, "0.5": 9.0, "1": 9.5, "+Inf": 10.0}


def build_store() -> SeriesStore:
    store = SeriesStore()
    for t in SCRAPES:
        for (app, version, code), rate in REQUEST_RATES.items():
            labels = {"namespace": "prod", "app": app, "version": version, "code": code}
            store.add("http_requests_total", labels, t, rate * t)
        for le, rate in BUCKET_RATES.items():
            store.add("http_request_duration_seconds_bucket", {"app": "web", "le": le}, t, rate * t)
        # 10/s until t=450, then the process restarts and the counter starts again from 0.
        store.add("restarts_total", {"app": "web"}, t, 10.0 * t if t <= 450 else 10.0 * (t - 450))
        store.add("queue_depth", {"queue": "jobs"}, t, 100 - t / 15)  # a gauge: 100, 99, ..., 60
        if t <= 480:  # a pod that went away at t=480
            store.add("stopped_total", {"pod": "web-1"}, t, 10.0 * t)
        if t >= 420:  # scraping found this old counter late (value 1000 at t=420, +10/s)
            store.add("late_total", {"pod": "web-2"}, t, 1000 + 10.0 * (t - 420))
            # a brand-new counter: 20 at its first scrape, +150 per scrape
            store.add("new_total", {"pod": "web-3"}, t, 20 + 10.0 * (t - 420))
        store.add("kube_deployment_spec_replicas", {"namespace": "prod", "deployment": "web"}, t, 3)
        store.add("kube_deployment_spec_replicas", {"namespace": "prod", "deployment": "api"}, t, 2)
        store.add("kube_deployment_status_replicas_available", {"namespace": "prod", "deployment": "web"}, t, 2)
        store.add("kube_deployment_status_replicas_available", {"namespace": "prod", "deployment": "api"}, t, 2)
    return store


STORE = build_store()


def query(expr: str, t: float = 600):
    return instant_query(STORE, expr, t)


def values(result) -> dict[tuple, float]:
    """{sorted label items (without __name__): value} of an instant vector."""
    return {tuple(sorted((k, v) for k, v in s.labels.items() if k != NAME)): s.value for s in result}


def one(expr: str, t: float = 600) -> float:
    (sample,) = query(expr, t)
    return sample.value


# --- selectors ------------------------------------------------------------------------------------------------


def test_an_instant_selector_returns_the_latest_sample_with_its_name():
    assert query('http_requests_total{app="api"}') == [
        Sample({NAME: "http_requests_total", "namespace": "prod", "app": "api", "version": "v1", "code": "200"}, 1200.0)
    ]
    # Between scrapes: the sample at 600 is the latest at or before 607 (2/s x 600).
    assert one('http_requests_total{app="api"}', 607) == 1200.0


def test_the_lookback_window_is_five_minutes_and_left_open():
    # stopped_total's last sample is at t=480 (4800). It is found while 480 > t - 300 ...
    assert one("stopped_total", 779.999) == 4800.0
    # ... and gone at t=780, where it sits exactly on the excluded edge t - 5m.
    assert query("stopped_total", 780) == []
    # The window can be set per query: 480 <= 600 - 60.
    assert instant_query(STORE, "stopped_total", 600, lookback_delta=60) == []


def test_offset_moves_the_evaluation_time_back():
    # 10/s counter, 5 minutes earlier: 10 x 300.
    assert one('http_requests_total{app="web",version="v1",code="200"} offset 5m') == 3000.0
    # A negative offset looks ahead: 10 x 360.
    assert one('http_requests_total{app="web",version="v1",code="200"} offset -1m', 300) == 3600.0
    # On a range: the window (0, 300] holds 150 ... 3000, a rise of 2850 over 285 s, extrapolated to 300 s.
    assert one('rate(http_requests_total{app="web",version="v1",code="200"}[5m] offset 5m)') == pytest.approx(10)


def test_regex_and_negative_matchers_are_fully_anchored():
    assert values(query('http_requests_total{code=~"5.."}')) == {
        (("app", "web"), ("code", "500"), ("namespace", "prod"), ("version", "v1")): 600.0
    }
    assert query('http_requests_total{code=~"5"}') == []  # ^(?:5)$ does not match "500"
    assert len(query('http_requests_total{code!~"5.."}')) == 3
    assert len(query('http_requests_total{version!="v2",app=~"web|api"}')) == 3
    assert {s.labels[NAME] for s in query('{__name__=~"kube_deployment_.*"}')} == {
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_available",
    }


def test_a_range_window_is_left_open():
    # (300, 600] holds the scrapes at 315, 330, ..., 600: 20 samples, not 21.
    assert one("count_over_time(queue_depth[5m])") == 20.0
    # At t=607.5 the window (307.5, 607.5] holds the same 20 samples.
    assert one("count_over_time(queue_depth[5m])", 607.5) == 20.0


# --- rate, increase, irate, delta ----------------------------------------------------------------------------


def test_rate_over_a_window_full_of_samples_is_exact():
    # Samples at 315..600: 3150 -> 6000, a rise of 2850 over 285 s. The first sample is 15 s after the window
    # start (< 1.1 x 15 s), the last is on its end, so extrapolate to the whole 300 s: 2850 x 300/285 = 3000.
    assert one('increase(http_requests_total{app="web",version="v1",code="200"}[5m])') == pytest.approx(3000)
    assert one('rate(http_requests_total{app="web",version="v1",code="200"}[5m])') == pytest.approx(10)


def test_rate_drops_the_metric_name_and_keeps_the_labels():
    (sample,) = query('rate(http_requests_total{app="api"}[5m])')
    assert sample.labels == {"namespace": "prod", "app": "api", "version": "v1", "code": "200"}
    assert sample.value == pytest.approx(2)


def test_a_gap_before_the_first_sample_extrapolates_by_half_an_interval():
    # late_total: samples at 420..600 (13), 1000 -> 2800: +1800 over 180 s, average interval 15 s.
    # The window starts at 300, 120 s before the first sample (>= 16.5 s): extend by 7.5 s only.
    # (The zero point is 180 x 1000/1800 = 100 s back, further than 7.5 s, so it does not matter.)
    # increase = 1800 x (180 + 7.5) / 180 = 1875; rate = 1875 / 300 = 6.25.
    assert one("increase(late_total[5m])") == pytest.approx(1875)
    assert one("rate(late_total[5m])") == pytest.approx(6.25)


def test_a_gap_after_the_last_sample_extrapolates_by_half_an_interval():
    # stopped_total at t=600: samples 315..480 (12), 3150 -> 4800: +1650 over 165 s. Start: 15 s, extend all
    # the way; end: 120 s after the last sample, extend 7.5 s. 1650 x (165 + 15 + 7.5) / 165 = 1875.
    assert one("increase(stopped_total[5m])") == pytest.approx(1875)


def test_a_counter_is_not_extrapolated_below_zero():
    # new_total: 20 at t=420, +150 per scrape, 1820 at t=600: +1800 over 180 s. Half an interval (7.5 s)
    # back would be below zero; the counter reached 0 at 180 x 20/1800 = 2 s before its first sample.
    # increase = 1800 x (180 + 2) / 180 = 1820, i.e. exactly the counter's value.
    assert one("increase(new_total[5m])") == pytest.approx(1820)


def test_increase_sees_through_a_counter_reset():
    # restarts_total in (300, 600]: 3150 ... 4500 (t=450), then 150 (t=465) ... 1500 (t=600).
    # Raw difference 1500 - 3150 = -1650, plus the 4500 lost at the reset = 2850; x 300/285 = 3000.
    assert one("increase(restarts_total[5m])") == pytest.approx(3000)
    assert one("rate(restarts_total[5m])") == pytest.approx(10)


def test_irate_uses_the_last_two_samples():
    # (6000 - 5850) / 15 s.
    assert one('irate(http_requests_total{app="web",version="v1",code="200"}[1m])') == pytest.approx(10)
    # Right after the reset (450: 4500, 465: 150) irate takes the new value as the increase: 150 / 15.
    assert one("irate(restarts_total[1m])", 465) == pytest.approx(10)


def test_rate_needs_two_samples_in_the_window():
    # (585, 600] holds only the sample at 600.
    assert query("rate(queue_depth[15s])") == []
    assert query("irate(queue_depth[15s])") == []


def test_delta_extrapolates_a_gauge_without_counter_rules():
    # queue_depth in (300, 600]: 79 -> 60, -19 over 285 s, extrapolated to 300 s: -19 x 300/285 = -20.
    assert one("delta(queue_depth[5m])") == pytest.approx(-20)


def test_over_time_aggregations():
    # queue_depth in (300, 600] is 79, 78, ..., 60 (20 samples).
    assert one("sum_over_time(queue_depth[5m])") == 1390.0  # (79 + 60) x 20 / 2
    assert one("avg_over_time(queue_depth[5m])") == 69.5
    assert one("max_over_time(queue_depth[5m])") == 79.0
    assert one("min_over_time(queue_depth[5m])") == 60.0
    assert one("count_over_time(queue_depth[5m])") == 20.0
    assert query("max_over_time(queue_depth[5m])")[0].labels == {"queue": "jobs"}


# --- aggregation ------------------------------------------------------------------------------------------------


def test_sum_by_keeps_only_the_listed_labels():
    # web: 10 + 1 + 4; api: 2.
    result = values(query("sum by (app) (rate(http_requests_total[5m]))"))
    assert result == pytest.approx({(("app", "api"),): 2, (("app", "web"),): 15})


def test_sum_without_drops_the_listed_labels_and_the_name():
    result = query("sum without (code) (http_requests_total)")
    # At t=600: web/v1 = 6000 + 600, web/v2 = 2400, api/v1 = 1200.
    assert values(result) == {
        (("app", "api"), ("namespace", "prod"), ("version", "v1")): 1200.0,
        (("app", "web"), ("namespace", "prod"), ("version", "v1")): 6600.0,
        (("app", "web"), ("namespace", "prod"), ("version", "v2")): 2400.0,
    }
    assert all(NAME not in s.labels for s in result)


def test_sum_without_a_clause_is_one_group_with_no_labels():
    assert query("sum(rate(http_requests_total[5m]))")[0].labels == {}
    assert one("sum(rate(http_requests_total[5m]))") == pytest.approx(17)  # 10 + 1 + 4 + 2


def test_avg_min_max_count():
    # web's rates are 10, 1 and 4; api's is 2.
    web = (("app", "web"),)
    assert values(query("avg by (app) (rate(http_requests_total[5m]))"))[web] == pytest.approx(5)
    assert values(query("min by (app) (rate(http_requests_total[5m]))"))[web] == pytest.approx(1)
    assert values(query("max by (app) (rate(http_requests_total[5m]))"))[web] == pytest.approx(10)
    assert values(query("count by (app) (http_requests_total)")) == {web: 3.0, (("app", "api"),): 1.0}
    assert values(query("count by (deployment) (kube_deployment_spec_replicas == 2)")) == {
        (("deployment", "api"),): 1.0
    }


# --- histogram_quantile --------------------------------------------------------------------------------------


def buckets_store(counts: dict[str, float]) -> SeriesStore:
    store = SeriesStore()
    for le, count in counts.items():
        store.add("latency_seconds_bucket", {"app": "web", "le": le}, 0, count)
    return store


LATENCY = {"0.1": 50, "0.25": 80, "0.5": 90, "1": 95, "+Inf": 100}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.3, 0.06),  # rank 30 in the first bucket, interpolated from 0: 0.1 x 30/50
        (0.5, 0.1),  # rank 50 = the first bucket's count: its upper bound
        (0.85, 0.375),  # rank 85 in (0.25, 0.5] holding 80..90: 0.25 + 0.25 x 5/10
        (0.9, 0.5),
        (0.95, 1.0),  # rank 95 in (0.5, 1]: 0.5 + 0.5 x 5/5
        (0.99, 1.0),  # rank 99 falls in +Inf: the highest finite bound
        (1.5, math.inf),
        (-0.5, -math.inf),
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket(q, expected):
    (sample,) = instant_query(buckets_store(LATENCY), f"histogram_quantile({q}, latency_seconds_bucket)", 0)
    assert sample.labels == {"app": "web"}  # no le, no name
    assert sample.value == pytest.approx(expected)


def test_histogram_quantile_needs_an_inf_bucket_and_observations():
    no_inf = buckets_store({"0.1": 5, "1": 10})
    assert math.isnan(instant_query(no_inf, "histogram_quantile(0.5, latency_seconds_bucket)", 0)[0].value)
    empty = buckets_store({"0.1": 0, "+Inf": 0})
    assert math.isnan(instant_query(empty, "histogram_quantile(0.5, latency_seconds_bucket)", 0)[0].value)


def test_histogram_quantile_forces_bucket_counts_to_be_monotonic():
    # The 0.25 bucket (40) is below the 0.1 bucket (50); it is raised to 50. Rank 60 then lies in (0.25, 0.5]
    # holding 50..90: 0.25 + 0.25 x 10/40 = 0.3125 (0.35 without the fix).
    store = buckets_store({"0.1": 50, "0.25": 40, "0.5": 90, "+Inf": 100})
    assert instant_query(store, "histogram_quantile(0.6, latency_seconds_bucket)", 0)[0].value == pytest.approx(0.3125)


def test_histogram_quantile_of_bucket_rates():
    # Bucket rates 5, 8, 9, 9.5, 10 per second: rank 0.9 x 10 = 9 is the 0.5 bucket's count, so 0.5.
    # Rank 0.5 x 10 = 5 is the first bucket's count: 0.1.
    expr = "histogram_quantile({}, sum by (app, le) (rate(http_request_duration_seconds_bucket[5m])))"
    assert query(expr.format(0.9)) == [Sample({"app": "web"}, pytest.approx(0.5))]
    assert one(expr.format(0.5)) == pytest.approx(0.1)


# --- binary operators ---------------------------------------------------------------------------------------


def test_scalar_arithmetic_follows_go_floats():
    assert query("1 + 2 * 3 ^ 2") == 19.0
    assert query("7 % 4") == 3.0
    assert query("-7 % 4") == -3.0  # the sign of the dividend, as Go's math.Mod
    assert query("1 / 0") == math.inf
    assert query("-1 / 0") == -math.inf
    assert math.isnan(query("0 / 0"))
    assert math.isnan(query("5 % 0"))
    assert math.isnan(query("(-8) ^ (1/3)"))  # NaN, not a complex number
    assert query("10 ^ 400") == math.inf  # overflow, not OverflowError
    assert query("0 ^ -1") == math.inf
    assert query("2 > bool 1") == 1.0


def test_vector_scalar_arithmetic_drops_the_name():
    result = query("kube_deployment_spec_replicas * 2")
    assert values(result) == {
        (("deployment", "api"), ("namespace", "prod")): 4.0,
        (("deployment", "web"), ("namespace", "prod")): 6.0,
    }
    assert all(NAME not in s.labels for s in result)
    assert values(query("10 - kube_deployment_spec_replicas")) == {
        (("deployment", "api"), ("namespace", "prod")): 8.0,
        (("deployment", "web"), ("namespace", "prod")): 7.0,
    }
    assert set(values(query("kube_deployment_spec_replicas / 0")).values()) == {math.inf}


def test_a_comparison_filters_and_keeps_the_name():
    assert query("kube_deployment_spec_replicas > 2") == [
        Sample({NAME: "kube_deployment_spec_replicas", "namespace": "prod", "deployment": "web"}, 3.0)
    ]
    # With the scalar on the left the vector's value is kept, not the scalar's.
    assert query("2 < kube_deployment_spec_replicas") == query("kube_deployment_spec_replicas > 2")


def test_a_bool_comparison_keeps_every_sample_as_0_or_1_without_the_name():
    assert query("kube_deployment_spec_replicas > bool 2") == [
        Sample({"namespace": "prod", "deployment": "api"}, 0.0),
        Sample({"namespace": "prod", "deployment": "web"}, 1.0),
    ]


def test_vector_arithmetic_matches_on_all_labels_but_the_name():
    # spec - available: web 3 - 2, api 2 - 2.
    assert query("kube_deployment_spec_replicas - kube_deployment_status_replicas_available") == [
        Sample({"namespace": "prod", "deployment": "api"}, 0.0),
        Sample({"namespace": "prod", "deployment": "web"}, 1.0),
    ]


def test_vector_comparison_filters_the_left_side():
    assert query("kube_deployment_status_replicas_available < kube_deployment_spec_replicas") == [
        Sample({NAME: "kube_deployment_status_replicas_available", "namespace": "prod", "deployment": "web"}, 2.0)
    ]
    assert values(query("kube_deployment_status_replicas_available < bool kube_deployment_spec_replicas")) == {
        (("deployment", "api"), ("namespace", "prod")): 0.0,
        (("deployment", "web"), ("namespace", "prod")): 1.0,
    }


def test_samples_without_a_match_are_dropped():
    # The error ratio per app: web has 1/s of 500s out of 15/s; api has no 5xx series, so no result.
    expr = 'sum by (app) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (app) (rate(http_requests_total[5m]))'
    assert query(expr) == [Sample({"app": "web"}, pytest.approx(1 / 15))]


def test_on_matches_on_the_listed_labels_and_keeps_only_them():
    assert query("kube_deployment_status_replicas_available / on(deployment) kube_deployment_spec_replicas") == [
        Sample({"deployment": "api"}, 1.0),
        Sample({"deployment": "web"}, pytest.approx(2 / 3)),
    ]


def test_ignoring_leaves_labels_out_of_the_match_and_the_result():
    # 500s over 200s for the same app and version: web/v1 only (1/s over 10/s).
    expr = 'rate(http_requests_total{code="500"}[5m]) / ignoring(code) rate(http_requests_total{code="200"}[5m])'
    assert query(expr) == [Sample({"namespace": "prod", "app": "web", "version": "v1"}, pytest.approx(0.1))]


def test_one_to_one_matching_refuses_ambiguous_matches():
    with pytest.raises(PromQLError, match="multiple matches for labels: many-to-one matching must be explicit"):
        query("rate(http_requests_total[5m]) / on(app) sum by (app) (rate(http_requests_total[5m]))")
    with pytest.raises(PromQLError, match="found duplicate series for the match group"):
        query("sum by (app) (rate(http_requests_total[5m])) / on(app) rate(http_requests_total[5m])")


def test_set_operators_keep_whole_samples():
    behind = "kube_deployment_status_replicas_available < kube_deployment_spec_replicas"
    assert query(f"kube_deployment_spec_replicas and ({behind})") == [
        Sample({NAME: "kube_deployment_spec_replicas", "namespace": "prod", "deployment": "web"}, 3.0)
    ]
    assert query(f"kube_deployment_spec_replicas unless ({behind})") == [
        Sample({NAME: "kube_deployment_spec_replicas", "namespace": "prod", "deployment": "api"}, 2.0)
    ]
    assert [(s.labels[NAME], s.value) for s in query(f"({behind}) or kube_deployment_spec_replicas")] == [
        ("kube_deployment_spec_replicas", 2.0),  # api, only on the right
        ("kube_deployment_status_replicas_available", 2.0),  # web, from the left
    ]


def test_unary_minus_negates_and_drops_the_name():
    assert query('-kube_deployment_spec_replicas{deployment="web"}') == [
        Sample({"namespace": "prod", "deployment": "web"}, -3.0)
    ]
    assert query("-(1 + 2)") == -3.0


def test_dropping_names_may_not_merge_two_series():
    with pytest.raises(PromQLError, match="vector cannot contain metrics with the same labelset"):
        query('rate({__name__=~"kube_deployment_.*"}[5m])')


# --- other functions --------------------------------------------------------------------------------------------


def test_abs_and_clamps():
    assert one("abs(delta(queue_depth[5m]))") == pytest.approx(20)
    assert sorted(s.value for s in query("clamp_min(kube_deployment_spec_replicas, 2.5)")) == [2.5, 3.0]
    assert sorted(s.value for s in query("clamp_max(kube_deployment_spec_replicas, 2.5)")) == [2.0, 2.5]
    assert all(NAME not in s.labels for s in query("abs(kube_deployment_spec_replicas)"))


def test_scalar_vector_and_time():
    assert query("time()", 123.5) == 123.5
    assert query("vector(2)") == [Sample({}, 2.0)]
    assert query('scalar(kube_deployment_spec_replicas{deployment="web"})') == 3.0
    assert math.isnan(query("scalar(kube_deployment_spec_replicas)"))  # two samples: NaN
    available_web = "scalar(kube_deployment_status_replicas_available{deployment='web'})"  # 2
    assert query(f"kube_deployment_spec_replicas > {available_web}") == [
        Sample({NAME: "kube_deployment_spec_replicas", "namespace": "prod", "deployment": "web"}, 3.0)
    ]


# --- range queries ------------------------------------------------------------------------------------------------


def test_a_range_query_evaluates_at_each_step():
    result = range_query(STORE, "sum(rate(http_requests_total[5m]))", 300, 360, 30)
    assert [labels for labels, _ in result] == [{}]
    assert [t for t, _ in result[0].points] == [300.0, 330.0, 360.0]
    assert [v for _, v in result[0].points] == pytest.approx([17, 17, 17])


def test_a_range_query_of_increase_across_a_counter_reset():
    # restarts_total, 1 minute windows: (360, 420] holds 3750 ... 4200: +450 over 45 s -> 450 x 60/45 = 600.
    # (420, 480] holds 4350, 4500, then 150, 300 after the reset: 300 - 4350 + 4500 = 450 -> 600 again.
    ((labels, points),) = range_query(STORE, "increase(restarts_total[1m])", 420, 480, 30)
    assert labels == {"app": "web"}
    assert [t for t, _ in points] == [420.0, 450.0, 480.0]
    assert [v for _, v in points] == pytest.approx([600, 600, 600])


def test_a_range_query_follows_series_that_come_and_go():
    # stopped_total's last sample (t=480, 4800) is seen at 600 and 750 but not at 900 (480 <= 900 - 300).
    assert range_query(STORE, "stopped_total", 600, 900, 150) == [
        ({NAME: "stopped_total", "pod": "web-1"}, [(600.0, 4800.0), (750.0, 4800.0)])
    ]
    # late_total only exists from t=420; at 440 its latest sample is the one at 435 (1000 + 10 x 15).
    assert range_query(STORE, "late_total", 400, 440, 20) == [
        ({NAME: "late_total", "pod": "web-2"}, [(420.0, 1000.0), (440.0, 1150.0)])
    ]


def test_a_scalar_range_query_is_one_series_without_labels():
    assert range_query(STORE, "time() * 2", 0, 30, 15) == [({}, [(0.0, 0.0), (15.0, 30.0), (30.0, 60.0)])]


def test_a_range_query_needs_a_positive_step():
    with pytest.raises(PromQLError, match="step"):
        range_query(STORE, "up", 0, 60, 0)


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message", "position"),
    [
        ("a | b", "1:3: parse error: unexpected character: '|'", 2),
        ("sum(rate(x[5m])", "1:16: parse error: unclosed left parenthesis", 15),
        ("rate(x[5x])", "1:8: parse error: bad number or duration syntax: 5x", 7),
        ('x{a="|"} ~ y', "1:10: parse error: unexpected character: '~'", 9),
        ("sum(x))", "1:7: parse error: unexpected right parenthesis ')'", 6),
        ("foo bar", "parse error: invalid promql query (the parser reports no position)", None),
    ],
)
def test_parse_errors_say_where_when_the_parser_lets_us_know(expr, message, position):
    with pytest.raises(PromQLError) as caught:
        query(expr)
    assert str(caught.value) == message
    assert caught.value.position == position


def test_the_parser_checks_types():
    with pytest.raises(PromQLError, match="expected type matrix in call to function 'rate', got vector"):
        query("rate(http_requests_total)")
    with pytest.raises(PromQLError, match="comparisons between scalars must use BOOL modifier"):
        query("1 > 2")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("rate(http_requests_total[5m:1m])", "unsupported PromQL: subquery"),
        ("predict_linear(queue_depth[5m], 60)", "unsupported function: predict_linear"),
        ("label_replace(up, 'a', 'b', 'c', 'd')", "unsupported function: label_replace"),
        ("up * on(app) group_left(version) up", "unsupported: group_left"),
        ("up * on(app) group_right up", "unsupported: group_right"),
        ("topk(3, up)", "unsupported aggregation: topk"),
        ("quantile(0.9, up)", "unsupported aggregation: quantile"),
        ("up @ 100", "unsupported PromQL: @ modifier"),
        ("up atan2 up", "unsupported operator: atan2"),
        ("http_requests_total[5m]", "unsupported: a range vector result"),
        ('"text"', "unsupported PromQL: string literal"),
    ],
)
def test_unsupported_constructs_are_named(expr, message):
    with pytest.raises(PromQLError, match=message.replace("(", r"\(")):
        query(expr)


def test_promql_errors_are_value_errors():
    assert issubclass(PromQLError, ValueError)


# --- scale ----------------------------------------------------------------------------------------------------------


def test_a_thousand_series_evaluate_quickly():
    import time

    store = SeriesStore()
    for t in range(0, 240 * 15, 15):
        for k in range(1000):
            labels = {"namespace": "prod", "service": f"s{k % 50}", "app": f"a{k % 10}", "code": str(200 + k % 7)}
            labels["version"] = f"v{k // 70}"
            store.add("http_requests_total", labels, t, 7 * t + k)
    started = time.perf_counter()
    result = instant_query(store, "sum by (app) (rate(http_requests_total[5m]))", 3585)
    assert time.perf_counter() - started < 0.5  # typically ~15 ms
    assert len(result) == 10
    assert result[0].value == pytest.approx(100 * 7)  # 100 series per app, each growing 7/s
