"""Alerting rules (simdeploy/sim/alerts.py, simdeploy/scenario/rules.py) against Prometheus's rules/alerting.go.

An alert is pending from the first evaluation that returns its label set and fires at the first evaluation
with t - activeAt >= for; it ends when the expression no longer returns it. Rule files are checked as
model/rulefmt does. Unit tests feed a SeriesStore by hand: `flag > 0` is true at t when the latest `flag`
sample at or before t is positive.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import simdeploy
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.loader import load_scenario
from simdeploy.scenario.rules import load_rule_file, parse_prometheus_duration
from simdeploy.sim.clock import LATE, Clock
from simdeploy.sim.metrics.alert_templates import expand_template, go_value
from simdeploy.sim.metrics.alerts import AlertEvaluator, AlertRule, RuleGroup, time_to_detect
from simdeploy.sim.metrics.tsdb import SeriesStore
from simdeploy.sim.recorder import Recorder

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
OLD_IMAGE = "registry.example.com/payments-api@sha256:abc123..."
NEW_IMAGE = "registry.example.com/payments-api:2.9.0"
ERROR_RATIO = 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) > 0.01'


def flags(store: SeriesStore, true_at, labels: dict | None = None, until: float = 600, step: float = 15) -> None:
    """A `flag` series sampled every `step` seconds: 1 where true_at(t), else 0."""
    t = 0.0
    while t <= until:
        store.add("flag", labels or {"service": "a"}, t, 1.0 if true_at(t) else 0.0)
        t += step


def evaluate(store: SeriesStore, groups: list[RuleGroup], until: float = 600, default_interval: float = 15.0):
    clock = Clock()
    recorder = Recorder(lambda: clock.now)
    evaluator = AlertEvaluator(clock, store, recorder, groups, default_interval)
    clock.run_until(until)
    return evaluator, [(e["t"], e["reason"], e["message"]) for e in recorder.events if e["kind"] == "Alert"]


def one_rule(expr: str = "flag > 0", for_seconds: float = 60.0, interval: float | None = None, **fields):
    return [RuleGroup("g", interval, [AlertRule("g", "FlagUp", expr, for_seconds, **fields)])]


def transitions(events) -> list[tuple[float, str]]:
    return [(t, reason) for t, reason, _ in events]


# -- `for` semantics ------------------------------------------------------------------------------------------


def test_pending_at_60_fires_at_120_not_105():
    store = SeriesStore()
    flags(store, lambda t: t >= 60)
    evaluator, events = evaluate(store, one_rule())
    assert transitions(events) == [(60.0, "AlertPending"), (120.0, "AlertFiring")]
    assert evaluator.first_firing("FlagUp") == 120.0
    assert evaluator.first_firing("NoSuchAlert") is None
    assert evaluator.history() == [
        {
            "name": "FlagUp",
            "first_pending_s": 60.0,
            "first_firing_s": 120.0,
            "resolved_s": None,
            "labels": {"service": "a"},
        }
    ]


def test_resolved_at_the_first_evaluation_that_no_longer_returns_the_series():
    store = SeriesStore()
    flags(store, lambda t: 60 <= t < 200)
    evaluator, events = evaluate(store, one_rule())
    assert transitions(events) == [(60.0, "AlertPending"), (120.0, "AlertFiring"), (210.0, "AlertResolved")]
    assert "resolved after firing for 1m30s" in events[-1][2]
    assert evaluator.history()[0]["resolved_s"] == 210.0


def test_a_flicker_before_for_elapses_goes_inactive_and_starts_over():
    store = SeriesStore()
    flags(store, lambda t: 60 <= t < 105 or t >= 120)
    evaluator, events = evaluate(store, one_rule())
    assert transitions(events) == [
        (60.0, "AlertPending"),
        (105.0, "AlertResolved"),  # a pending alert just goes inactive (alerting.go sets ResolvedAt and drops it)
        (120.0, "AlertPending"),
        (180.0, "AlertFiring"),  # 60 s after the new activeAt, not after the first one
    ]
    assert "before `for` elapsed" in events[1][2]
    history = evaluator.history()[0]
    assert (history["first_pending_s"], history["first_firing_s"], history["resolved_s"]) == (60.0, 180.0, None)


def test_for_zero_fires_at_once_without_a_pending_step():
    store = SeriesStore()
    flags(store, lambda t: 60 <= t < 90)
    evaluator, events = evaluate(store, one_rule(for_seconds=0))
    assert transitions(events) == [(60.0, "AlertFiring"), (90.0, "AlertResolved")]
    assert evaluator.history()[0] | {"labels": None} == {
        "name": "FlagUp",
        "first_pending_s": 60.0,
        "first_firing_s": 60.0,
        "resolved_s": 90.0,
        "labels": None,
    }


def test_a_scalar_result_is_one_alert_without_labels():
    _, events = evaluate(SeriesStore(), one_rule("2 * 3", for_seconds=0), until=30)
    assert events == [(0.0, "AlertFiring", "2 * 3 returned 6; active since 0s")]


# -- labels, annotations and several label sets ---------------------------------------------------------------


def test_labels_and_annotations_are_templated_per_series():
    store = SeriesStore()
    for t in range(0, 601, 15):
        store.add("ratio", {"service": "payments-api"}, t, 0.052 if t >= 60 else 0.0)
    rule = one_rule(
        "ratio > 0.01",
        labels={"severity": "page", "team": "{{ $labels.service }}-team"},
        annotations={"summary": '{{ $labels.service }} error ratio {{ printf "%.3f" $value }} > 0.01'},
    )
    evaluator, events = evaluate(store, rule)
    assert events[1] == (
        120.0,
        "AlertFiring",
        "payments-api error ratio 0.052 > 0.01 (service=payments-api, severity=page, team=payments-api-team); "
        "active since 60s",
    )
    assert evaluator.history()[0]["labels"] == {
        "service": "payments-api",
        "severity": "page",
        "team": "payments-api-team",
    }


def test_without_a_summary_the_description_or_else_the_expression_and_value_describe_the_alert():
    store = SeriesStore()
    flags(store, lambda t: True)
    _, described = evaluate(store, one_rule(for_seconds=0, annotations={"description": "{{ $value }} up"}), until=0)
    _, bare = evaluate(store, one_rule(for_seconds=0), until=0)
    assert described[0][2].startswith("1 up (service=a)")
    assert bare[0][2].startswith("flag > 0 returned 1 (service=a)")


def test_one_rule_keeps_an_alert_per_label_set():
    store = SeriesStore()
    flags(store, lambda t: t >= 30, {"service": "a"})
    flags(store, lambda t: 90 <= t < 180, {"service": "b"})
    evaluator, events = evaluate(store, one_rule(), until=300)
    assert [(t, reason, message.split("; ")[0]) for t, reason, message in events] == [
        (30.0, "AlertPending", "flag > 0 returned 1 (service=a)"),
        (90.0, "AlertPending", "flag > 0 returned 1 (service=b)"),
        (90.0, "AlertFiring", "flag > 0 returned 1 (service=a)"),
        (150.0, "AlertFiring", "flag > 0 returned 1 (service=b)"),
        (180.0, "AlertResolved", "flag > 0 returned 1 (service=b)"),
    ]
    # The summary keeps the first occurrence of the alert name: the label set that fired first, still firing.
    assert evaluator.history() == [
        {
            "name": "FlagUp",
            "first_pending_s": 30.0,
            "first_firing_s": 90.0,
            "resolved_s": None,
            "labels": {"service": "a"},
        }
    ]


def test_two_series_with_the_same_alert_labels_fail_the_evaluation_and_change_nothing():
    store = SeriesStore()
    flags(store, lambda t: True, {"service": "a"})
    flags(store, lambda t: True, {"service": "b"})
    evaluator, events = evaluate(store, one_rule(labels={"service": "x"}), until=60)
    assert len(events) == 1  # recorded once, not at every evaluation
    assert events[0][1] == "RuleEvaluationFailed"
    assert "same labelset after applying alert labels" in events[0][2]
    assert evaluator.history() == []


# -- evaluation times -------------------------------------------------------------------------------------------


def test_a_group_interval_overrides_the_default():
    store = SeriesStore()
    flags(store, lambda t: t >= 75)
    _, events = evaluate(store, one_rule(interval=60.0))
    assert transitions(events) == [(120.0, "AlertPending"), (180.0, "AlertFiring")]
    _, events = evaluate(store, one_rule(), default_interval=30.0)
    assert transitions(events) == [(90.0, "AlertPending"), (150.0, "AlertFiring")]


def test_an_evaluation_sees_the_scrape_of_the_same_moment_whatever_the_intervals():
    clock, store = Clock(), SeriesStore()

    def scrape() -> None:  # like sim/scrape.py: LATE, setting the next scrape one interval ahead
        store.add("flag", {"service": "a"}, clock.now, 1.0 if clock.now >= 60 else 0.0)
        clock.call_later(15.0, scrape, LATE)

    clock.call_at(0.0, scrape, LATE)  # the Scraper is built first, as in a Simulation
    recorder = Recorder(lambda: clock.now)
    AlertEvaluator(clock, store, recorder, one_rule(interval=30.0))
    clock.run_until(200)
    assert [(e["t"], e["reason"]) for e in recorder.events] == [(60.0, "AlertPending"), (120.0, "AlertFiring")]


# -- templates ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("{{ $value }}", 0.052133, "0.052133"),
        ("{{ .Value }}", 1234567.0, "1.234567e+06"),  # Go's %v of a float64
        ("{{ $value | humanize }}", 0.052133, "52.13m"),
        ("{{ humanize $value }}", 1234567.0, "1.235M"),
        ("{{ $value | humanize1024 }}", 2048.0, "2ki"),
        ("{{ $value | humanizePercentage }}", 0.052133, "5.213%"),
        ("{{ $value | humanizeDuration }}", 3725.0, "1h 2m 5s"),
        ("{{ $value | humanizeDuration }}", 0.25, "250ms"),
        ('{{ printf "%.2f" $value }}', 0.052133, "0.05"),
        ('{{ index $labels "service" | toUpper }}', 0, "PAYMENTS-API"),
        ("{{ .Labels.service | title }}", 0, "Payments-Api"),
        ('{{ reReplaceAll ":.*" "" $labels.instance }}', 0, "10.0.0.1"),
        ("[{{ $labels.missing }}]", 0, "[]"),  # missingkey=zero
        ('a {{- " b " -}} c', 0, "a b c"),
        ("{{/* a comment */}}x", 0, "x"),
        ("{{ $labels.service | humanize }}", 0, "<error expanding template: could not convert string to float: "),
    ],
)
def test_templates_expand_like_prometheus(template, value, expected):
    labels = {"__name__": "x", "service": "payments-api", "instance": "10.0.0.1:8080"}
    assert expand_template(template, labels, float(value)).startswith(expected)


def test_go_value_prints_floats_like_go():
    assert [go_value(v) for v in (3.0, 100000.0, 1e6, 1e-5, 0.0001, -2.5, float("nan"), float("inf"))] == [
        "3",
        "100000",
        "1e+06",
        "1e-05",
        "0.0001",
        "-2.5",
        "NaN",
        "+Inf",
    ]


# -- time to detect ------------------------------------------------------------------------------------------------


def event(t: float, kind: str, reason: str, message: str = "") -> dict:
    return {"t": t, "kind": kind, "name": "x", "reason": reason, "message": message, "type": "Normal"}


def test_time_to_detect_runs_from_the_first_change_after_the_start_to_the_next_firing():
    events = [
        event(0.0, "Deployment", "Apply", "deployment/x created"),  # the initial manifests
        event(30.0, "Alert", "AlertFiring"),  # before any change: not a detection
        event(60.0, "Deployment", "SetImage", "deployment.apps/x image unchanged"),
        event(70.0, "ConfigMap", "Apply", "configmap/x configured"),
        event(80.0, "Deployment", "RolloutUndo", "deployment.apps/x skipped rollback (current template ...)"),
        event(90.0, "Deployment", "Patch", "deployment/x patched"),
        event(120.0, "Deployment", "SetImage", "deployment.apps/x image updated to y"),
        event(180.5, "Alert", "AlertFiring"),
    ]
    assert time_to_detect(events) == 90.5
    assert time_to_detect([event(60.0, "Version", "BehaviourChanged"), event(150.0, "Alert", "AlertFiring")]) == 90
    assert time_to_detect(events[:2]) is None  # no change
    assert time_to_detect(events[2:7]) is None  # no firing


# -- rule files --------------------------------------------------------------------------------------------------

GOOD_RULES = """\
groups:
  - name: payments
    interval: 30s
    labels: {team: payments}
    rules:
      - alert: PaymentsErrorRate
        expr: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) > 0.01
        for: 1m
        labels: {severity: page}
        annotations:
          summary: "payments-api error ratio {{ $value | humanizePercentage }}"
      - alert: PaymentsDown
        expr: sum(kube_deployment_status_replicas_available) == 0
  - name: latency
    rules:
      - alert: SlowPayments
        expr: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
        for: 1h30m
        keep_firing_for: 0s
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_a_rule_file_gives_groups_of_alerting_rules(tmp_path):
    payments, latency = load_rule_file(write(tmp_path, GOOD_RULES))
    assert (payments.name, payments.interval, latency.name, latency.interval) == ("payments", 30.0, "latency", None)
    error_rate, down = payments.rules
    assert error_rate == AlertRule(
        "payments",
        "PaymentsErrorRate",
        ERROR_RATIO,
        60.0,
        {"team": "payments", "severity": "page"},
        {"summary": "payments-api error ratio {{ $value | humanizePercentage }}"},
    )
    assert (down.for_seconds, down.labels, down.annotations) == (0.0, {"team": "payments"}, {})
    assert latency.rules[0].for_seconds == 5400.0


def test_an_empty_rule_file_has_no_groups(tmp_path):
    assert load_rule_file(write(tmp_path, "")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", 300.0),
        ("30s", 30.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1y", 31536000.0),
        ("500ms", 0.5),
        ("1m30s500ms", 90.5),
        ("0", 0.0),
        (0, 0.0),
    ],
)
def test_prometheus_durations(text, expected):
    assert parse_prometheus_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", 60, "1.5m", "30s5m", "5 m", "5M", "-5m", True, None])
def test_malformed_prometheus_durations(text):
    with pytest.raises(ValueError):
        parse_prometheus_duration(text)


def rule_file(rule: str, group: str = "name: payments") -> str:
    return f"groups:\n  - {group}\n    rules:\n      - {rule}\n"


A = "alert: A\n        expr: up > 0\n        "
R0 = "groups[0].rules[0]"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("groups:\n  - name: [x\n", "", "invalid YAML at line 3, column 1: did not find expected ',' or ']'"),
        ("- name: x\n", "", "expected a mapping with `groups:`"),
        ("groups: []\nextra: 1\n", "extra", "unknown field"),
        ("{}\n", "groups", "required field is missing"),
        ("groups: {name: x}\n", "groups", "expected a list of rule groups"),
        ("groups: [x]\n", "groups[0]", "expected a rule group"),
        ("groups: [{rules: []}]\n", "groups[0].name", "group name must be a non-empty string"),
        ("groups: [{name: a}, {name: a}]\n", "groups[1].name", 'groupname: "a" is repeated in the same file'),
        ("groups: [{name: a, evaluation_interval: 1m}]\n", "groups[0].evaluation_interval", "unknown field"),
        ("groups: [{name: a, interval: 1 minute}]\n", "groups[0].interval", "not a valid duration string"),
        ("groups: [{name: a, query_offset: 1m}]\n", "groups[0].query_offset", "query_offset is not supported"),
        ("groups: [{name: a, limit: 10}]\n", "groups[0].limit", "limit is not supported"),
        ("groups: [{name: a, rules: {alert: A}}]\n", "groups[0].rules", "expected a list of rules"),
        ("groups: [{name: a, labels: {__name__: x}}]\n", "groups[0].labels", "invalid label name: __name__"),
        (rule_file("just text"), R0, "expected a rule: a mapping with alert and expr"),
        (rule_file(A + "severity: page"), f"{R0}.severity (alert A)", "unknown field"),
        (rule_file("expr: up > 0"), R0, "one of 'record' or 'alert' must be set"),
        (rule_file("record: job:up:sum\n        expr: sum(up)"), f"{R0}.record", "recording rules are not supported"),
        (rule_file("alert: A"), f"{R0}.expr (alert A)", "field 'expr' must be set in rule"),
        (
            rule_file("alert: A\n        expr: up[5m]"),
            f"{R0}.expr (alert A)",
            "simdeploy cannot evaluate this expression: unsupported: a range",
        ),
        (
            rule_file('alert: A\n        expr: label_replace(up, "a", "$1", "b", "(.*)")'),
            f"{R0}.expr (alert A)",
            "simdeploy cannot evaluate this expression: unsupported function: label_replace",
        ),
        (rule_file(A + "for: 5x"), f"{R0}.for (alert A)", "not a valid duration string: '5x'"),
        (rule_file(A + "for: 60"), f"{R0}.for (alert A)", "not a valid duration string: '60'"),
        (rule_file(A + "keep_firing_for: 5m"), f"{R0}.keep_firing_for (alert A)", "keep_firing_for is not supported"),
        (rule_file(A + "labels: [a]"), f"{R0}.labels (alert A)", "expected a mapping of label names"),
        (rule_file(A + "labels: {__name__: x}"), f"{R0}.labels (alert A)", "invalid label name: __name__"),
        (rule_file(A + "labels: {team: [a]}"), f"{R0}.labels.team (alert A)", "invalid label value"),
        (
            rule_file(A + 'annotations: {summary: "{{ if $value }}hot{{ end }}"}'),
            f"{R0}.annotations.summary (alert A)",
            "annotation 'summary': template: unsupported template action {{ if $value }}",
        ),
        (
            rule_file(A + 'labels: {team: "{{ $labels.team "}'),
            f"{R0}.labels.team (alert A)",
            "label 'team': template: unclosed action",
        ),
    ],
)
def test_every_rule_file_problem_names_the_field(tmp_path, text, path, message):
    file = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_rule_file(file)
    assert caught.value.source == str(file)
    assert [p.path for p in caught.value.problems] == [path]
    assert caught.value.problems[0].message.startswith(message), caught.value.problems[0].message


MALFORMED = """\
groups:
  - name: payments
    rules:
      - alert: PaymentsDown
        expr: sum(up) == 0
      - alert: PaymentsSlow
        expr: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
      - alert: PaymentsErrorRate
        expr: sum(rate(http_requests_total{code=~"5.."}[1m]) / sum(rate(http_requests_total[1m])) > 0.01
"""


def test_a_malformed_expression_names_file_group_rule_and_position(tmp_path):
    file = write(tmp_path, MALFORMED)
    with pytest.raises(ScenarioError) as caught:
        load_rule_file(file)
    assert caught.value.problems == [
        Problem(
            "groups[0].rules[2].expr (alert PaymentsErrorRate)",
            'could not parse expression in group "payments": 1:91: parse error: unclosed left parenthesis',
        )
    ]
    assert str(caught.value).startswith(f"{file}: groups[0].rules[2].expr (alert PaymentsErrorRate): could not")


def test_a_missing_rule_file(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_rule_file(tmp_path / "nope.yaml")
    assert caught.value.problems == [Problem("", "file not found")]


# -- scenarios ---------------------------------------------------------------------------------------------------


def payments_scenario(**changes) -> dict:
    """scenarios/payments-rolling-update.yaml as a dict: six payments-api pods, 900 rps from 1m."""
    scenario = {
        "apiVersion": "simdeploy/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "payments-alerts"},
        "seed": 42,
        "duration": "6m",
        "cluster": {"nodes": [{"count": 3, "cpu": "8", "memory": "32Gi"}]},
        "manifests": [{"file": "manifests/payments-api.yaml"}, {"file": "manifests/payments-api-service.yaml"}],
        "traffic": [{"service": "payments-api", "rate": 900, "start": "1m"}],
        "versions": {
            OLD_IMAGE: {
                "version": "2.8.1",
                "pull": "0s",
                "startup": {"lognormal": {"median": "8s", "p95": "15s"}},
                "latency": {"p50": "20ms", "p99": "120ms"},
                "capacity": 250,
            },
            NEW_IMAGE: {
                "version": "2.9.0",
                "pull": "4s",
                "startup": {"lognormal": {"median": "8s", "p95": "15s"}},
                "latency": {"p50": "18ms", "p99": "110ms"},
                "capacity": 250,
                "errorRate": 0.05,
            },
        },
        "timeline": [],
    }
    scenario.update(copy.deepcopy(changes))
    return scenario


ERROR_RULE = {
    "alert": "PaymentsErrorRate",
    "expr": ERROR_RATIO,
    "for": "1m",
    "labels": {"severity": "page"},
    "annotations": {"summary": 'payments-api error ratio {{ printf "%.3f" $value }} > 0.01'},
}
BAD_BEHAVIOUR = {"at": "2m", "action": "set-behaviour", "image": OLD_IMAGE, "behaviour": {"errorRate": 0.05}}


def test_an_error_ratio_alert_detects_a_bad_behaviour_change():
    scenario = payments_scenario(
        timeline=[BAD_BEHAVIOUR], alerts=[{"groups": [{"name": "payments", "rules": [ERROR_RULE]}]}]
    )
    result = simdeploy.load(scenario, base_dir=SCENARIOS).run()
    alerts = [e for e in result["events"] if e["kind"] == "Alert"]
    assert [e["reason"] for e in alerts] == ["AlertPending", "AlertFiring"]
    pending, firing = alerts[0]["t"], alerts[1]["t"]
    # Errors start at 2:00; the 5xx series first shows at the 2:15 scrape and rate() needs two samples.
    assert 135 <= pending <= 165
    assert firing == pending + 60
    assert alerts[1]["type"] == "Warning"
    assert alerts[1]["message"].startswith("payments-api error ratio 0.0")
    assert alerts[1]["message"].endswith(f"> 0.01 (severity=page); active since {pending:g}s")
    summary = result["summary"]
    assert summary["alerts"] == [
        {
            "name": "PaymentsErrorRate",
            "first_pending_s": pending,
            "first_firing_s": firing,
            "resolved_s": None,
            "labels": {"severity": "page"},
        }
    ]
    assert summary["time_to_detect_s"] == firing - 120


def test_a_rule_file_and_evaluation_interval_detect_a_bad_image(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"groups:\n  - name: payments\n    rules:\n      - alert: PaymentsErrorRate\n        expr: '{ERROR_RATIO}'\n"
    )
    set_image = {
        "at": "2m",
        "action": "set-image",
        "deployment": "payments-api",
        "container": "api",
        "image": NEW_IMAGE,
    }
    scenario = payments_scenario(
        cluster={"evaluationInterval": "30s"}, timeline=[set_image], alerts=[{"file": str(rules)}]
    )
    simulation = simdeploy.load(scenario, base_dir=SCENARIOS)
    summary = simulation.run()["summary"]
    firing = simulation.alerts.first_firing("PaymentsErrorRate")
    assert firing is not None and firing % 30 == 0 and 120 < firing <= 240  # as the new pods take traffic
    assert summary["alerts"][0]["first_firing_s"] == firing  # for: 0, so pending and firing at once
    assert summary["time_to_detect_s"] == firing - 120


def test_without_rules_the_summary_has_no_alerts_and_no_time_to_detect():
    scenario = payments_scenario(timeline=[BAD_BEHAVIOUR])
    simulation = simdeploy.load(scenario, base_dir=SCENARIOS)
    summary = simulation.run()["summary"]
    assert simulation.alerts is None
    assert (summary["alerts"], summary["time_to_detect_s"]) == ([], None)


def test_the_scenario_reads_rules_inline_and_from_files(tmp_path):
    write(tmp_path, GOOD_RULES)
    scenario = payments_scenario(
        cluster={"evaluationInterval": "1m"},
        alerts=[{"file": "rules.yaml"}, {"groups": [{"name": "inline", "interval": "5s", "rules": [ERROR_RULE]}]}],
        manifests=[{"file": str(SCENARIOS / "manifests/payments-api.yaml")}],
        traffic=[],
    )
    loaded = load_scenario(scenario, base_dir=tmp_path)
    assert [(g.name, g.interval) for g in loaded.rule_groups] == [
        ("payments", 30.0),
        ("latency", None),
        ("inline", 5.0),
    ]
    assert loaded.spec.cluster.evaluation_interval == 60.0


@pytest.mark.parametrize(
    ("alerts", "path", "message"),
    [
        (
            [{"groups": [{"name": "inline", "rules": [{"alert": "X", "expr": "up >"}]}]}],
            "alerts[0].groups[0].rules[0].expr (alert X)",
            'could not parse expression in group "inline": ',
        ),
        ([{"file": "rules.yaml"}], "alerts[0].file", "rules.yaml: file not found"),
        (
            [{"groups": []}, {"file": "bad.yaml"}],
            "alerts[1].file",
            "bad.yaml: groups[0].rules[0].for (alert A): not a valid duration string",
        ),
        ([{"file": "rules.yaml", "groups": []}], "alerts[0]", "give exactly one of file"),
        ([{"rules": []}], "alerts[0].rules", "unknown field"),
    ],
)
def test_rule_problems_in_a_scenario_name_the_alerts_entry(tmp_path, alerts, path, message):
    (tmp_path / "bad.yaml").write_text(rule_file(A + "for: soon"))
    scenario = payments_scenario(alerts=alerts, manifests=[{"file": str(SCENARIOS / "manifests/payments-api.yaml")}])
    scenario["traffic"] = []
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario, base_dir=tmp_path)
    matching = [p for p in caught.value.problems if p.path == path]
    assert matching and matching[0].message.startswith(message), caught.value.problems
