"""Argo Rollouts AnalysisRun semantics (simdeploy/delivery/analysis.py), as argo-rollouts' code has them.

Sources: analysis/analysis.go (timing, counters, limits, run phase), utils/evaluate/evaluate.go and
evaluate_test.go (conditions), metricproviders/prometheus/prometheus.go and prometheus_test.go (results),
utils/analysis/helpers.go and utils/template/template.go (args). The docs disagree with the code in places
(no conditions -> Successful; failureLimit: 3 fails on the 4th failure); these tests follow the code.
"""

from __future__ import annotations

import math

import pytest

from simdeploy.delivery.argo.analysis import (
    AnalysisError,
    AnalysisRun,
    evaluate_condition,
    evaluate_result,
    parse_duration_argo,
    prometheus,
    render,
    render_metrics,
    resolve_args,
    validate_template,
)
from simdeploy.sim.clock import Clock
from simdeploy.sim.metrics.promql import PromQLError, Sample
from simdeploy.sim.metrics.tsdb import SeriesStore


def metric(name: str = "success-rate", query: str = "rate_ok", **fields) -> dict:
    return {"name": name, **fields, "provider": {"prometheus": {"query": query}}}


class FakePrometheus:
    """Answers from a script of results (a number, a list of sample values or an exception; the last one repeats)
    or with a fixed result per query; records when it was asked."""

    def __init__(self, *script, by_query: dict | None = None):
        self.script, self.by_query, self.calls = list(script), by_query or {}, []

    def __call__(self, query: str, t: float):
        self.calls.append((query, t))
        if query in self.by_query:
            answer = self.by_query[query]
        else:
            answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return [Sample({"pod": f"p{k}"}, v) for k, v in enumerate(answer)] if isinstance(answer, list) else answer

    def times(self, query: str | None = None) -> list[float]:
        return [t for q, t in self.calls if query in (None, q)]


def run_analysis(metrics: list[dict], fake: FakePrometheus, until: float = 3600.0, **kwargs) -> AnalysisRun:
    clock, finished = Clock(), []
    run = AnalysisRun("demo-6f8c9-2", metrics, clock, fake, finished.append, **kwargs)
    run.start()
    clock.run_until(until)
    run.finished = finished
    run.clock = clock
    return run


# --- conditions: evaluate_test.go and prometheus_test.go vectors ------------------------------------------------


@pytest.mark.parametrize(
    ("result", "condition", "expected"),
    [
        (True, "result == true", True),  # TestEvaluateConditionWithSuccess
        (True, "result == false", False),  # TestEvaluateConditionWithFailure
        ([2.0, 2.0], "2 in result", True),  # TestEvaluateInOperator
        (5.0, "result > 1", True),  # TestEvaluateFloat64
        ("1", "asInt(result) == 1", True),  # TestEvaluateAsInt
        (1, "asInt(result) == 1", True),
        (1.123, "asInt(result) == 1", True),  # floats truncate
        ("1.1", "asFloat(result) == 1.1", True),  # TestEvaluateAsFloat
        ("1.1", "asFloat(result) >= 1.1", True),
        ("1.1", "asFloat(result) <= 1.1", True),
        (1.1, "asFloat(result) == 1.1", True),
        (1, "asFloat(result) >= 1", True),
        (math.nan, "result >= 0.9 || isNaN(result)", True),  # TestProcessNaNResponse
        (math.inf, "isInf(result)", True),  # TestProcessInfResponse
        ([10.0, 11.0], "10 in result", True),  # TestProcessVectorResponse
        ([10.0, 11.0], "len(result) != 2", False),
        ([0.97], "result[0] >= 0.95", True),
        ([], "len(result) == 0 || result[0] >= 0.95", True),  # the documented guard for an empty vector
        ([0.5], "len(result) > 0 && result[0] < 1", True),
        ([0.5], "!isNaN(result[0]) && result[0] < 1", True),
        ([0.5], "not (result[0] > 1) and result[0] != 0", True),
        ([], "len(result) > 0 ? result[0] < 1 : true", True),  # expr's ternary
        ([3.0], "len(result) > 0 ? result[0] < 1 : true", False),
        (None, "default(result, 0) < 0.05", True),  # default() reads result, not its first argument
        (0.01, "default(result, 0) < 0.05", True),
        ([1.0, 2.0], "result[-1] == 2", True),
        (2.0, "result ^ 2 == 4", True),  # ^ is power in expr
        (7.0, "result > 1 == true", True),  # comparisons are left-associative, not chained
        (0.5, "result not in [1, 2]", True),
        (-7.0, "asInt(result) % 4 == -3", True),  # Go's % keeps the dividend's sign
        (0.0, "1 / result > 1e308", True),  # float division by zero is +Inf, as in Go
    ],
)
def test_condition_evaluates_like_expr_lang(result, condition, expected):
    assert evaluate_condition(condition, result) is expected


@pytest.mark.parametrize(
    ("result", "condition", "message"),
    [
        (True, "1", "expected bool, but got int"),  # TestErrorWithNonBoolReturn
        (True, "invalidVariable", "unknown name invalidVariable"),  # TestErrorWithInvalidReference
        (True, "result.Name() == 'hi'", "result.Name"),  # TestEvaluateInvalidStruct
        ("1.1", "asInt(result) == 1.1", 'strconv.ParseInt: parsing "1.1": invalid syntax'),  # TestEvaluateAsIntPanic
        ("NotANum", "asFloat(result) == 1.1", 'strconv.ParseFloat: parsing "NotANum": invalid syntax'),
        ("1.1", 'asFloat(result) == "1.1"', "invalid operation: == (mismatched types float64 and string)"),
        ([], "result[0] <= 10", "index out of range: 0 (array length is 0)"),
        ([0.5], "result < 0.5", "invalid operation: < (mismatched types []float64 and float64)"),
        ([], "default(result, 0) < 0.05", "mismatched types []float64"),  # an empty vector is not nil
        (0.5, "len(result) > 0", "invalid argument for len (type float64)"),
        (0.5, "!result", "invalid operation: ! (mismatched type float64)"),
        (0.5, "result && true", "invalid operation: &&"),
        (0.5, "1 < result < 3", "invalid operation: < (mismatched types bool and int)"),
        ([0.5], "isNaN(result)", "cannot use []float64 as argument (type float64) to call isNaN"),
    ],
)
def test_condition_errors_are_analysis_errors(result, condition, message):
    with pytest.raises(AnalysisError) as raised:
        evaluate_condition(condition, result)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("condition", "position", "reason"),
    [
        ("result[0] >= ", 12, "unexpected end of expression"),
        ("result[0] >= 0.9 &&", 19, "unexpected end of expression"),
        ("(result[0] > 1", 14, "expected )"),
        ("result[0] >= 0.9)", 16, "unexpected token ')'"),
        ('result == "abc', 10, "literal not terminated"),
        ("1 +* 2", 3, "syntax error"),
        ("result ?? 0", 7, "'??' is not supported"),
        ("True", 0, "unknown name True"),
    ],
)
def test_malformed_condition_names_the_expression_and_the_position(condition, position, reason):
    with pytest.raises(AnalysisError) as raised:
        evaluate_condition(condition, [1.0])
    assert raised.value.position == position
    assert f'malformed condition "{condition}"' in str(raised.value)
    assert reason in str(raised.value)
    assert f"(column {position + 1})" in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "result", "phase"),
    [
        ({"successCondition": "true", "failureCondition": "false"}, True, "Successful"),  # evaluate_test.go
        ({"successCondition": "true", "failureCondition": "true"}, True, "Failed"),  # failure wins
        ({"successCondition": "false", "failureCondition": "false"}, True, "Inconclusive"),
        ({"failureCondition": "false"}, True, "Successful"),
        ({"successCondition": "false"}, True, "Failed"),
        ({}, True, "Successful"),  # no conditions: Successful (the docs say Inconclusive; the code does not)
        ({}, [], "Successful"),  # even on an empty vector
        ({"successCondition": "a == true", "failureCondition": "true"}, True, "Error"),
        ({"successCondition": "true", "failureCondition": "a == true"}, True, "Error"),
        ({"successCondition": "result >= 0.9", "failureCondition": "result < 0.9"}, math.nan, "Inconclusive"),
        ({"successCondition": "result >= 0.9"}, math.nan, "Failed"),
        ({"successCondition": "result >= 0.9"}, math.inf, "Successful"),
    ],
)
def test_measurement_phase_from_conditions(fields, result, phase):
    assert evaluate_result(fields, result)[0] == phase


def test_an_empty_vector_under_an_indexing_condition_errs_with_argos_message():
    phase, message = evaluate_result({"successCondition": "result[0] <= 10"}, [])
    assert phase == "Error"
    assert message == (
        'could not evaluate successCondition "result[0] <= 10": '
        "metric result is nil or empty: no data returned from the metric provider"
    )


# --- measurement limits -------------------------------------------------------------------------------------------


def test_failure_limit_0_fails_the_run_on_the_first_failed_measurement():
    fake = FakePrometheus([0.5])
    run = run_analysis([metric(interval="1m", count=5, successCondition="result[0] >= 0.95")], fake)
    assert run.phase == "Failed"
    assert run.message == 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'
    assert fake.times() == [0.0]
    assert run.finished == [run]


def test_failure_limit_3_fails_on_the_fourth_failure_not_the_third_as_the_docs_say():
    fake = FakePrometheus([0.5])
    run = run_analysis([metric(interval="1m", count=10, failureLimit=3, successCondition="result[0] >= 0.95")], fake)
    assert run.phase == "Failed"
    assert fake.times() == [0.0, 60.0, 120.0, 180.0]
    assert run.message.endswith("failed (4) > failureLimit (3)")


def test_failures_within_the_limit_still_end_successful_when_count_is_reached():
    fake = FakePrometheus([0.5], [0.99], [0.99])
    run = run_analysis([metric(interval="30s", count=3, failureLimit=1, successCondition="result[0] >= 0.95")], fake)
    assert run.phase == "Successful"
    result = run.as_object()["status"]["metricResults"][0]
    assert (result["count"], result["successful"], result["failed"]) == (3, 2, 1)


def test_consecutive_error_limit_4_errs_on_the_fifth_consecutive_error_retried_every_10s():
    fake = FakePrometheus(PromQLError("connection refused"))
    run = run_analysis([metric(interval="5m", successCondition="result[0] >= 0.95")], fake)
    assert run.phase == "Error"
    assert fake.times() == [0.0, 10.0, 20.0, 30.0, 40.0]  # DefaultErrorRetryInterval, not the 5m interval
    assert run.message == (
        'Metric "success-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        '"Error Message: connection refused"'
    )


def test_a_successful_measurement_resets_the_consecutive_errors():
    error = PromQLError("timeout")
    fake = FakePrometheus(error, error, error, error, [0.99], error, error, error, error, [0.99])
    run = run_analysis([metric(interval="1m", count=2, successCondition="result[0] >= 0.95")], fake)
    assert run.phase == "Successful"
    result = run.as_object()["status"]["metricResults"][0]
    assert (result["error"], result["consecutiveError"], result["count"]) == (8, 0, 2)
    assert fake.times() == [0.0, 10.0, 20.0, 30.0, 40.0, 100.0, 110.0, 120.0, 130.0, 140.0]


def test_an_empty_query_result_is_an_error_measurement_that_counts_towards_consecutive_errors():
    fake = FakePrometheus([])
    run = run_analysis([metric(interval="1m", count=3, successCondition="result[0] >= 0.95")], fake)
    assert run.phase == "Error"
    result = run.as_object()["status"]["metricResults"][0]
    assert (result["failed"], result["error"]) == (0, 5)
    assert result["measurements"][0]["value"] == ""
    assert "metric result is nil or empty: no data returned from the metric provider" in run.message


def test_a_metric_without_conditions_is_successful_whatever_the_query_returns():
    fake = FakePrometheus([])
    run = run_analysis([metric()], fake)
    assert run.phase == "Successful"
    assert fake.times() == [0.0]  # no count and no interval: exactly one measurement


def test_neither_condition_holding_is_inconclusive_and_ends_the_run_inconclusive():
    fake = FakePrometheus(by_query={"ratio": [math.nan], "latency": [0.1]})
    metrics = [
        metric(
            "ratio",
            "ratio",
            interval="1m",
            count=5,
            successCondition="result[0] >= 0.9",
            failureCondition="result[0] < 0.9",
        ),
        metric("latency", "latency", interval="1m", successCondition="result[0] < 0.5"),  # runs until terminated
    ]
    run = run_analysis(metrics, fake)
    assert run.phase == "Inconclusive"
    assert run.message == 'Metric "ratio" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)'
    phases = {r["name"]: r["phase"] for r in run.as_object()["status"]["metricResults"]}
    assert phases == {"ratio": "Inconclusive", "latency": "Successful"}  # the other metric is terminated
    assert fake.times("latency") == [0.0]
    assert run.as_object()["status"]["metricResults"][0]["measurements"][0]["value"] == "[NaN]"


def test_the_worst_phase_wins_across_metrics():
    fake = FakePrometheus(by_query={"a": [0.5], "b": [0.5]})
    metrics = [
        metric("a", "a", successCondition="result[0] > 1", failureCondition="result[0] < 0"),  # Inconclusive
        metric("b", "b", successCondition="result[0] > 1"),  # Failed, which is worse
    ]
    run = run_analysis(metrics, fake)
    assert run.phase == "Failed"
    assert run.message.startswith('Metric "b" assessed Failed')


# --- timing ---------------------------------------------------------------------------------------------------


def test_initial_delay_then_every_interval_for_count_measurements():
    fake = FakePrometheus([0.99])
    run = run_analysis([metric(initialDelay="30s", interval="1m", count=3, successCondition="result[0] > 0.95")], fake)
    assert fake.times() == [30.0, 90.0, 150.0]
    assert run.phase == "Successful"
    assert run.finished == [run]
    measurements = run.as_object()["status"]["metricResults"][0]["measurements"]
    assert [m["startedAt"] for m in measurements] == [
        "2026-01-01T00:00:30Z",
        "2026-01-01T00:01:30Z",
        "2026-01-01T00:02:30Z",
    ]


def test_the_run_is_running_until_its_last_measurement():
    fake = FakePrometheus([0.99])
    clock, finished = Clock(), []
    run = AnalysisRun(
        "r", [metric(interval="1m", count=2, successCondition="result[0] > 0.95")], clock, fake, finished.append
    )
    assert run.phase == "Pending"
    run.start()
    clock.run_until(59)
    assert (run.phase, fake.times(), finished) == ("Running", [0.0], [])
    clock.run_until(60)
    assert (run.phase, fake.times(), finished) == ("Successful", [0.0, 60.0], [run])


def test_an_interval_without_count_measures_until_terminated():
    fake = FakePrometheus([0.99])
    run = run_analysis([metric(interval="30s", successCondition="result[0] > 0.95")], fake, until=100)
    assert run.phase == "Running"
    assert fake.times() == [0.0, 30.0, 60.0, 90.0]
    run.terminate()
    assert (run.phase, run.message) == ("Successful", "Run Terminated")
    assert run.finished == [run]
    run.clock.run_until(1000)
    assert fake.times() == [0.0, 30.0, 60.0, 90.0]


def test_terminate_keeps_failures_below_the_limit_successful_and_leaves_a_finished_run_alone():
    fake = FakePrometheus([0.5], [0.99])
    run = run_analysis([metric(interval="1m", failureLimit=2, successCondition="result[0] > 0.95")], fake, until=70)
    run.terminate()
    assert run.phase == "Successful"
    failed = run_analysis([metric(successCondition="result[0] > 0.95")], FakePrometheus([0.5]))
    failed.terminate()
    assert (failed.phase, failed.finished) == ("Failed", [failed])


def test_terminate_before_any_measurement_is_successful():
    fake = FakePrometheus([0.99])
    run = run_analysis([metric(initialDelay="5m", successCondition="result[0] > 0.95")], fake, until=60)
    run.terminate()
    assert (run.phase, fake.times(), run.as_object()["status"]["metricResults"]) == ("Successful", [], [])


# --- dry run ------------------------------------------------------------------------------------------------------


def test_dry_run_metrics_are_recorded_but_never_decide_the_phase():
    fake = FakePrometheus(by_query={"errors": [0.5], "ok": [0.99]})
    metrics = [
        metric("errors", "errors", successCondition="result[0] < 0.1"),
        metric("ok", "ok", successCondition="true"),
    ]
    run = run_analysis(metrics, fake, dry_run_metrics={"errors"})
    assert run.phase == "Successful"
    status = run.as_object()["status"]
    errors = status["metricResults"][0]
    assert (errors["phase"], errors["dryRun"]) == ("Failed", True)
    assert errors["message"] == "Metric assessed Failed due to failed (1) > failureLimit (0)"
    assert status["runSummary"] == {"count": 1, "successful": 1, "failed": 0, "inconclusive": 0, "error": 0}
    assert status["dryRunSummary"] == {"count": 1, "successful": 0, "failed": 1, "inconclusive": 0, "error": 0}
    assert run.as_object()["spec"]["dryRun"] == [{"metricName": "errors"}]


def test_a_failing_dry_run_metric_does_not_terminate_the_others():
    fake = FakePrometheus(by_query={"errors": [0.5], "ok": [0.99]})
    metrics = [
        metric("errors", "errors", successCondition="result[0] < 0.1"),
        metric("ok", "ok", interval="1m", count=3, successCondition="result[0] > 0.95"),
    ]
    run = run_analysis(metrics, fake, dry_run_metrics={"errors"})
    assert (run.phase, fake.times("ok")) == ("Successful", [0.0, 60.0, 120.0])


# --- object shape, values, prometheus -----------------------------------------------------------------------------


def test_as_object_is_an_analysis_run_in_kubernetes_json_shape():
    fake = FakePrometheus(0.5, [10.0, 11.0])
    run = run_analysis([metric(interval="10s", count=2, successCondition="true")], fake)
    obj = run.as_object()
    assert (obj["apiVersion"], obj["kind"], obj["metadata"]) == (
        "argoproj.io/v1alpha1",
        "AnalysisRun",
        {"name": "demo-6f8c9-2"},
    )
    assert obj["spec"]["metrics"][0]["provider"]["prometheus"]["query"] == "rate_ok"
    assert obj["status"]["phase"] == "Successful"
    result = obj["status"]["metricResults"][0]
    assert [m["value"] for m in result["measurements"]] == ["0.5", "[10,11]"]  # Go's FormatFloat(f, 'f', -1)
    assert result["metadata"] == {"ResolvedPrometheusQuery": "rate_ok"}
    assert [row["startedAt"] for row in run.measurements()] == [0.0, 10.0]


def test_the_status_keeps_the_last_ten_measurements_a_metric():
    run = run_analysis([metric(interval="1s", count=12, successCondition="true")], FakePrometheus([1.0]))
    assert len(run.as_object()["status"]["metricResults"][0]["measurements"]) == 10
    assert len(run.measurements()) == 12


def test_measures_the_simulators_metrics_through_promql():
    store = SeriesStore()
    for t in range(0, 601, 15):
        store.add("http_requests_total", {"code": "200"}, t, 9.0 * t)
        store.add("http_requests_total", {"code": "500"}, t, 1.0 * t)
    query = 'sum(rate(http_requests_total{code!~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
    fields = {"interval": "1m", "count": 3, "initialDelay": "1m", "successCondition": "result[0] >= 0.95"}
    run = run_analysis([metric(query=query, **fields)], prometheus(store))
    assert run.phase == "Failed"  # a 90% success rate
    assert run.measurements()[0]["value"] == "[0.9]"
    missing = run_analysis(
        [metric(query="sum(absent_metric)", successCondition="result[0] >= 0.95")], prometheus(store)
    )
    assert missing.measurements()[0]["phase"] == "Error"


# --- args, templating, durations, validation ---------------------------------------------------------------------


def test_run_args_override_template_defaults_and_undeclared_ones_are_dropped():
    template_args = [{"name": "service"}, {"name": "threshold", "value": "0.95"}]
    run_args = [{"name": "service", "value": "checkout"}, {"name": "extra", "value": "x"}]
    assert resolve_args(template_args, run_args) == {"service": "checkout", "threshold": "0.95"}


def test_a_missing_required_arg_is_an_error_naming_it():
    with pytest.raises(AnalysisError, match=r"args\.service was not resolved"):
        resolve_args([{"name": "service"}], [])


def test_value_from_needs_a_resolver():
    args = [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]
    assert resolve_args(args, [], value_from=lambda source: "6f8c9") == {"hash": "6f8c9"}
    with pytest.raises(AnalysisError, match="args.hash"):
        resolve_args(args, [])


def test_render_substitutes_args_with_or_without_spaces_and_rejects_unknown_tags():
    args = {"service": "checkout"}
    assert render('up{svc="{{args.service}}",x="{{ args.service }}"}', args) == 'up{svc="checkout",x="checkout"}'
    with pytest.raises(AnalysisError, match=r"failed to resolve \{\{args.other\}\}"):
        render("{{args.other}}", args)
    with pytest.raises(AnalysisError, match="Cannot find end tag"):
        render("test-{{args.service", args)


def test_from_template_resolves_args_renders_metrics_and_takes_dry_run_rules():
    template = {
        "spec": {
            "args": [{"name": "service"}, {"name": "count", "value": "2"}],
            "dryRun": [{"metricName": "lat"}],
            "metrics": [
                metric(
                    "rate",
                    'rate{svc="{{args.service}}"}',
                    interval="1m",
                    count="{{args.count}}",
                    successCondition="true",
                ),
                metric("latency", "lat", successCondition="result[0] < 1"),
            ],
        }
    }
    clock, fake = Clock(), FakePrometheus(by_query={'rate{svc="checkout"}': [1.0], "lat": [5.0]})
    run = AnalysisRun.from_template(
        "r", template, [{"name": "service", "value": "checkout"}], clock, fake, lambda r: None
    )
    run.start()
    clock.run_until(600)
    assert (run.phase, fake.times('rate{svc="checkout"}')) == ("Successful", [0.0, 60.0])
    assert render_metrics([{"q": ["{{args.a}}"]}], {"a": "1"}) == [{"q": ["1"]}]


def test_several_templates_are_flattened_into_one_run():
    first = {"spec": {"args": [{"name": "service"}], "metrics": [metric("a", 'a{svc="{{args.service}}"}')]}}
    second = {"spec": {"args": [{"name": "service", "value": "web"}], "metrics": [metric("b", "b")]}}
    clock, fake = Clock(), FakePrometheus(1.0)
    run = AnalysisRun.from_template("r", [first, second], [], clock, fake, lambda r: None)
    run.start()
    clock.run_until(0)
    assert (run.phase, [q for q, _ in fake.calls]) == ("Successful", ['a{svc="web"}', "b"])
    clash = {"spec": {"args": [{"name": "service", "value": "api"}], "metrics": [metric("c", "c")]}}
    with pytest.raises(AnalysisError, match="Argument `service` specified multiple times with different values"):
        AnalysisRun.from_template("r", [second, clash], [], clock, fake, lambda r: None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("1m", 60.0), ("1h30m", 5400.0), ("1.5s", 1.5), ("250ms", 0.25), ("0", 0.0), ("-2m", -120.0)],
)
def test_durations_are_go_durations(text, seconds):
    assert parse_duration_argo(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("30", 'time: missing unit in duration "30"'),  # a bare number is not a duration in Go
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("", 'time: invalid duration ""'),
        ("1m ", "time: unknown unit"),
        (30, "expected a duration string"),  # interval: 30 in YAML is an int, which the CRD rejects
    ],
)
def test_malformed_durations(value, message):
    with pytest.raises(AnalysisError, match=message.replace("(", r"\(")):
        parse_duration_argo(value)


def test_a_valid_template_has_no_problems():
    template = {
        "spec": {
            "args": [{"name": "service"}, {"name": "threshold", "value": "0.95"}],
            "metrics": [
                metric(
                    "success-rate",
                    'sum(rate(req{svc="{{args.service}}",code!~"5.."}[1m]))'
                    ' / sum(rate(req{svc="{{ args.service }}"}[1m]))',
                    interval="1m",
                    count=5,
                    failureLimit=3,
                    successCondition="len(result) == 0 || result[0] >= {{ args.threshold }}",
                )
            ],
        }
    }
    assert validate_template(template) == []


def test_template_problems_name_the_field_path():
    template = {
        "spec": {
            "args": [{"name": "service"}],
            "metrics": [
                {"name": "a", "provider": {"prometheus": {}}, "interval": "30", "successCondition": "result[0] >="},
                metric("b", "up{svc='{{args.other}}'}", count=3, failureLimit=-1),
                metric("b", "up", consecutiveErrorLimit="x"),
            ],
            "dryRun": [{"metricName": "^zzz$"}],
        }
    }
    problems = dict(validate_template(template))
    assert problems["spec.metrics[0].provider.prometheus.query"] == "Required value"
    assert problems["spec.metrics[0].interval"] == 'time: missing unit in duration "30"'
    assert problems["spec.metrics[0].successCondition"].startswith('malformed condition "result[0] >="')
    assert problems["spec.metrics[1].provider.prometheus.query"] == "failed to resolve {{args.other}}"
    assert problems["spec.metrics[1].failureLimit"] == "must be a non-negative integer"
    assert problems["spec.metrics[1].interval"] == "interval must be specified when count > 1"
    assert problems["spec.metrics[2].name"] == "duplicate name 'b'"
    assert problems["spec.metrics[2].consecutiveErrorLimit"] == "must be a non-negative integer"
    assert problems["spec.dryRun[0].metricName"] == "Rule didn't match any metric name(s)"
    assert validate_template({"spec": {"metrics": []}}) == [("spec.metrics", "Required value: no metrics specified")]


def test_a_run_refuses_malformed_metrics():
    with pytest.raises(AnalysisError, match=r"spec\.metrics\[0\]\.successCondition: malformed condition"):
        AnalysisRun("r", [metric(successCondition="result[0] >=")], Clock(), FakePrometheus(1.0), lambda r: None)
    with pytest.raises(AnalysisError, match=r"failed to resolve \{\{args.x\}\}"):
        AnalysisRun("r", [metric(query="up{a='{{args.x}}'}")], Clock(), FakePrometheus(1.0), lambda r: None)
