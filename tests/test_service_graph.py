"""The service graph: fan-out, retries and their budget, timeouts, failure modes, kill switch, metrics, checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.scenario.errors import ScenarioError
from simdeploy.sim.latency import LogNormalLatency

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
NS = "shop"


def deployment(name: str, replicas: int = 2) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"{name}:1"}]},
            },
        },
    }


def service(name: str, app_label: str | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"app": app_label or name}, "ports": [{"port": 80}]},
    }


def scenario(edges: list[dict], versions: dict | None = None, names=("api", "db"), **extra) -> dict:
    behaviours = {f"{n}:1": {"startup": "1s", "pull": "0s", "latency": {"p50": "10ms", "p99": "40ms"}} for n in names}
    behaviours.update(versions or {})
    document = {
        "metadata": {"name": "graph"},
        "duration": "2m",
        "manifests": [{"inline": m} for n in names for m in (deployment(n), service(n))],
        "versions": behaviours,
        "traffic": [{"service": names[0], "rate": 100, "start": "30s"}],
        "services": {"edges": edges},
    }
    document.update(extra)
    return document


def run(document: dict) -> dict:
    return simdeploy.load(document).run()


def edge(result: dict, caller: str = "api", callee: str = "db") -> dict:
    return next(e for e in result["summary"]["edges"] if (e["caller"], e["callee"]) == (caller, callee))


def codes(result: dict, service_name: str) -> dict[str, float]:
    sim_codes: dict[str, float] = {}
    for row in result["traffic"]:
        if row["service"] == service_name:
            sim_codes["requests"] = sim_codes.get("requests", 0) + row["requests"]
            sim_codes["errors"] = sim_codes.get("errors", 0) + row["errors"]
    return sim_codes


# -- fan-out, retries, budget ----------------------------------------------------------------------


@pytest.mark.parametrize("calls", [1, 2.5, 0.3])
def test_the_callee_is_sent_the_callers_requests_times_the_fan_out(calls):
    result = run(scenario([{"caller": "api", "callee": "db", "calls": calls}]))
    services = result["summary"]["services"]
    assert services["api"]["requests"] == result["summary"]["requests_total"] == 100 * 90
    assert services["db"]["requests"] == pytest.approx(calls * 100 * 90)
    assert services["db"]["user_requests"] == 0 and edge(result)["calls"] == pytest.approx(calls * 9000)


def test_three_retries_send_four_attempts_per_failed_call_from_the_tick_after_the_first_failure():
    never = {"db:1": {"startup": "1s", "pull": "0s", "errorRate": 1.0}}  # every request answered 500
    result = run(scenario([{"caller": "api", "callee": "db", "retries": {"count": 3}}], never))
    call = edge(result)
    # The first tick's attempts have no failure to follow yet: 100 calls, no retry. Then 4 attempts per call.
    assert call["calls"] == 9000 and call["attempts"] == 4 * 9000 - 3 * 100
    assert call["retries"] == call["attempts"] - call["calls"] and call["retries_denied"] == 0
    assert call["failed"] == 9000 and result["summary"]["services"]["db"]["requests"] == call["attempts"]
    assert result["summary"]["errors_total"] == 9000  # every payment failed: onFailure fail


def test_a_retry_budget_caps_retries_at_its_share_of_the_calls_plus_a_few_per_second():
    never = {"db:1": {"startup": "1s", "pull": "0s", "errorRate": 1.0}}
    retries = {"count": 3, "budget": "20%", "minPerSecond": 10}
    call = edge(run(scenario([{"caller": "api", "callee": "db", "retries": retries}], never)))
    ticks_retrying = 90 - 1
    assert call["retries"] == pytest.approx((0.2 * 100 + 10) * ticks_retrying)
    assert call["retries_denied"] == pytest.approx((3 * 100 - 30) * ticks_retrying)
    assert call["attempts"] == pytest.approx(9000 + 30 * ticks_retrying)


# -- timeouts and what a failed call does ------------------------------------------------------------

SLOW = {"db:1": {"startup": "1s", "pull": "0s", "latency": {"p50": "100ms", "p99": "400ms"}}}


@pytest.mark.parametrize("mode", ["fail", "degrade", "fallback"])
def test_a_timeout_turns_the_slow_share_of_the_callee_into_failed_calls(mode):
    result = run(scenario([{"caller": "api", "callee": "db", "timeout": "150ms", "onFailure": mode}], SLOW))
    late = 1 - LogNormalLatency(0.1, 0.4).cdf(0.15)
    call, services = edge(result), result["summary"]["services"]
    assert call["timeouts"] == pytest.approx(9000 * late, rel=1e-3) and call["failed"] == call["timeouts"]
    assert services["db"]["errors"] == 0  # the callee did the work: its own requests succeeded
    api = services["api"]
    expected = {"fail": ("errors", "degraded", "fallbacks"), "degrade": ("degraded", "errors", "fallbacks"),
                "fallback": ("fallbacks", "errors", "degraded")}[mode]  # fmt: skip
    assert api[expected[0]] == pytest.approx(call["failed"], rel=1e-6)
    assert api[expected[1]] == api[expected[2]] == 0
    assert result["summary"]["errors_total"] == api["errors"] == api["user_errors"]


def test_a_failed_dependency_is_a_502_from_the_caller():
    document = scenario([{"caller": "api", "callee": "db", "timeout": "150ms"}], SLOW)
    sim = simdeploy.load(document)
    sim.run()
    errors = simdeploy.query(sim, 'sum by (code) (http_requests_total{service="api"})')
    by_code = dict(zip(errors["code"], errors["value"], strict=True))
    assert set(by_code) == {"200", "502"} and by_code["502"] == pytest.approx(sim.result()["summary"]["errors_total"])


def test_a_timeout_bounds_what_a_slow_callee_adds_to_the_caller_latency():
    slow_callee = run(scenario([{"caller": "api", "callee": "db"}], SLOW))["summary"]["services"]["api"]
    bounded = run(scenario([{"caller": "api", "callee": "db", "timeout": "150ms", "onFailure": "fallback"}], SLOW))
    fast = run(scenario([{"caller": "api", "callee": "db"}]))["summary"]["services"]["api"]
    p99 = bounded["summary"]["services"]["api"]["p99_latency_max_s"]
    assert fast["p99_latency_max_s"] < p99 < slow_callee["p99_latency_max_s"]
    assert p99 <= 0.25  # own (p99 40 ms) and at most 150 ms, read from the 100-250 ms histogram bucket


def test_callees_answer_their_callers_in_the_same_tick_through_a_chain():
    versions = {"c:1": {"startup": "1s", "pull": "0s", "errorRate": 0.5}}
    edges = [{"caller": "a", "callee": "b"}, {"caller": "b", "callee": "c"}]
    result = run(scenario(edges, versions, names=("a", "b", "c")))
    services = result["summary"]["services"]
    assert services["c"]["errors"] == pytest.approx(0.5 * 9000)
    assert services["b"]["errors"] == services["a"]["errors"] == result["summary"]["errors_total"] == 4500


# -- kill switch ---------------------------------------------------------------------------------------


def test_a_kill_switch_cuts_the_call_as_the_sdks_poll_and_the_caller_falls_back():
    result = simdeploy.load(SCENARIOS / "payments-fraud-kill-switch.yaml").run()
    call, api = edge(result, "payments-api", "fraud-scoring"), result["summary"]["services"]["payments-api"]
    assert call["skipped"] == api["fallbacks"] > 0 and call["calls"] + call["skipped"] == api["requests"]
    fraud = {row["t"]: row["requests"] for row in result["traffic"] if row["service"] == "fraud-scoring"}
    assert fraud[330] == 9000 and 0 < fraud[345] < 9000 and 360 not in fraud  # off at 5:30, 15 s to propagate
    alert = next(a for a in result["summary"]["alerts"] if a["name"] == "PaymentsHighLatency")
    assert alert["resolved_s"] is not None


# -- the bundled scenarios: slow rollout, storm and budget -----------------------------------------------


def test_a_slow_callee_rollout_is_felt_by_its_caller_and_named_in_the_blast_radius():
    result = simdeploy.load(SCENARIOS / "payments-slow-fraud-scoring.yaml").run()
    (radius,) = result["summary"]["blast_radius"]
    assert (radius["service"], radius["started_s"]) == ("fraud-scoring", 180)
    felt = {f["service"]: f for f in radius["felt_by"]}
    assert set(felt) == {"fraud-scoring", "payments-api"}
    assert felt["payments-api"]["p99_s"] > 1.2 * felt["payments-api"]["p99_before_s"]
    timeout = simdeploy.load(SCENARIOS / "payments-slow-fraud-scoring-timeout.yaml").run()
    api = timeout["summary"]["services"]["payments-api"]
    assert api["p99_latency_max_s"] < 0.5 < result["summary"]["services"]["payments-api"]["p99_latency_max_s"]
    assert api["fallbacks"] == edge(timeout, "payments-api", "fraud-scoring")["timeouts"] > 0


def test_a_service_that_does_not_call_the_rolled_out_one_is_never_in_its_blast_radius():
    versions = {"db:2": {"startup": "1s", "pull": "0s", "latency": {"p50": "300ms", "p99": "1s"}}}
    slow_other = {"at": "60s", "action": "set-behaviour", "image": "other:1", "behaviour": {"errorRate": 0.5}}
    document = scenario(
        [{"caller": "api", "callee": "db"}, {"caller": "other", "callee": "db2"}],
        versions,
        names=("api", "db", "other", "db2"),
        timeline=[{"at": "60s", "action": "set-image", "deployment": "db", "image": "db:2"}, slow_other],
    )
    document["traffic"].append({"service": "other", "rate": 100, "start": "30s"})
    result = run(document)
    (radius,) = result["summary"]["blast_radius"]
    assert radius["service"] == "db" and {f["service"] for f in radius["felt_by"]} == {"db", "api"}
    assert result["summary"]["services"]["other"]["errors"] > 0  # it had its own trouble, at the same time


def test_three_retries_without_a_budget_sustain_a_storm_and_a_budget_ends_it():
    storm = simdeploy.load(SCENARIOS / "payments-ledger-retry-storm.yaml").run()
    budget = simdeploy.load(SCENARIOS / "payments-ledger-retry-budget.yaml").run()

    def ledger_per_call(result: dict, t: float) -> float:
        rows = {(r["service"], r["t"]): r["requests"] for r in result["traffic"]}
        return rows[("ledger", t)] / rows[("payments-api", t)]

    before = [ledger_per_call(storm, 150), ledger_per_call(budget, 150)]
    assert before == pytest.approx([1, 1], abs=0.001)  # before the slowdown: the odd timeout retried
    assert 3 < ledger_per_call(storm, 450) <= 4  # long after it: still retried, up to 4 attempts a call
    assert ledger_per_call(budget, 195) <= 1.2 + 10 / 1200 + 1e-9 and ledger_per_call(budget, 450) < 1.01
    assert edge(budget, "payments-api", "ledger")["retries_denied"] > 0
    fired = {a["name"] for a in storm["summary"]["alerts"] if a["first_firing_s"] is not None}
    assert "LedgerRetryStorm" in fired
    assert not any(a["first_firing_s"] for a in budget["summary"]["alerts"] if a["name"] == "LedgerRetryStorm")


def test_the_mesh_series_count_calls_at_the_source_and_attempts_at_the_destination():
    sim = simdeploy.load(SCENARIOS / "payments-ledger-retry-storm.yaml")
    sim.run_until(400)
    query = 'sum by (reporter) (rate(istio_requests_total{destination_service_name="ledger"}[1m]))'
    rates = dict(zip(*simdeploy.query(sim, query, at="400s")[["reporter", "value"]].T.values, strict=True))
    assert rates["source"] == pytest.approx(1200) and 3 < rates["destination"] / rates["source"] <= 4
    timed_out = simdeploy.query(sim, 'sum(istio_requests_total{reporter="source",response_flags="UT"})', at="400s")
    assert timed_out["value"][0] > 0
    labels = simdeploy.query(sim, "istio_requests_total", at="400s")
    assert set(labels["source_workload"]) == {"payments-api"} and set(labels["destination_workload"]) == {"ledger"}
    assert set(labels["destination_service"]) == {"ledger.production.svc.cluster.local"}
    buckets = simdeploy.query(sim, "istio_request_duration_milliseconds_bucket", at="400s")
    assert len(buckets) == 18 and (buckets["reporter"] == "source").all()


def test_the_same_seed_gives_the_same_document():
    path = SCENARIOS / "payments-ledger-retry-storm.yaml"
    assert json.dumps(simdeploy.load(path).run()) == json.dumps(simdeploy.load(path).run())


# -- checks when the scenario loads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "edges, path, message",
    [
        (
            [{"caller": "api", "callee": "db"}, {"caller": "db", "callee": "api"}],
            "services.edges[1]",
            "cycle api -> db -> api",
        ),
        ([{"caller": "api", "callee": "api"}], "services.edges[0]", "cycle api -> api"),
        (
            [{"caller": "api", "callee": "dbx"}],
            "services.edges[0].callee",
            "no Service 'dbx' in namespace 'shop' in the scenario's manifests",
        ),
        (
            [{"caller": "api", "callee": "db"}, {"caller": "api", "callee": "db", "calls": 2}],
            "services.edges[1]",
            "api -> db is already services.edges[0]",
        ),
        (
            [{"caller": "api", "callee": "orphan"}],
            "services.edges[0].callee",
            "Service 'orphan' selects the pods of no Deployment or Rollout",
        ),
        ([{"caller": "api", "callee": "db", "calls": 0}], "services.edges[0].calls", "greater than 0"),
        (
            [{"caller": "api", "callee": "db", "retries": {"count": 3, "budget": "lots"}}],
            "services.edges[0].retries.budget",
            "valid number",
        ),  # fmt: skip
    ],
)
def test_a_bad_graph_is_refused_naming_the_field(edges, path, message):
    document = scenario(edges)
    document["manifests"].append({"inline": service("orphan", "nothing")})
    with pytest.raises(ScenarioError) as raised:
        simdeploy.load(document)
    problems = [str(p) for p in raised.value.problems]
    assert any(p.startswith(f"{path}: ") and message in p for p in problems), problems


def test_a_longer_cycle_is_named_whole():
    edges = [{"caller": "a", "callee": "b"}, {"caller": "b", "callee": "c"}, {"caller": "c", "callee": "a"}]
    with pytest.raises(ScenarioError) as raised:
        simdeploy.load(scenario(edges, names=("a", "b", "c")))
    assert [str(p) for p in raised.value.problems] == ["services.edges[2]: cycle a -> b -> c -> a"]


def test_skip_calls_must_name_a_callee_and_not_a_version():
    path = SCENARIOS / "payments-fraud-kill-switch.yaml"
    document = yaml.safe_load(path.read_text())
    document["flags"]["effects"][0]["skipCalls"] = ["ledger"]
    document["flags"]["effects"].append(
        {"flag": "payments-fraud-call", "version": "2.8.1", "skipCalls": ["fraud-scoring"]}
    )
    with pytest.raises(ScenarioError) as raised:
        simdeploy.load(document, base_dir=SCENARIOS)
    assert [str(p) for p in raised.value.problems] == [
        "flags.effects[0].skipCalls[0]: no edge calls 'ledger' under services.edges",
        "flags.effects[1].version: skipCalls cuts a call for every version of the caller: leave version out, or "
        "give the call's cut its own effect",
    ]


def test_each_services_expectations_are_judged_on_its_own_figures():
    expect = {"services": {"api": {"p99Latency": "100ms"}, "db": {"availability": "99%", "errorsServed": 0}}}
    document = scenario([{"caller": "api", "callee": "db", "timeout": "150ms", "onFailure": "fallback"}], SLOW)
    document["expect"] = expect
    verdicts = {v["name"]: v for v in run(document)["summary"]["expectations"]}
    # The callee served everything (slowly); the caller's p99 holds its own time plus up to the 150 ms timeout.
    assert (
        verdicts["service db availability"]["verdict"] == "pass"
        and verdicts["service db availability"]["measured"] == 1
    )
    assert verdicts["service db errorsServed"]["verdict"] == "pass"
    api = verdicts["service api p99Latency"]
    assert api["verdict"] == "fail" and 0.1 < api["measured"] <= 0.25 and api["expected"] == "<= 100ms"


def test_an_expectation_about_a_service_or_alert_that_does_not_exist_is_refused():
    document = scenario([{"caller": "api", "callee": "db"}])
    document["expect"] = {"services": {"dbb": {"availability": 1}}, "alerts": {"Nope": {"neverFires": True}}}
    with pytest.raises(ScenarioError) as raised:
        simdeploy.load(document)
    assert [str(p) for p in raised.value.problems] == [
        "expect.alerts.Nope: no alerting rule named 'Nope' (rules: none: the scenario has no alerting rules)",
        "expect.services.dbb: no Service 'dbb' in services.edges (services: api, db)",
    ]
    del document["services"]
    document["expect"] = {"services": {"db": {"availability": 1}}}
    with pytest.raises(ScenarioError) as raised:
        simdeploy.load(document)
    assert [str(p) for p in raised.value.problems] == ["expect.services.db: the scenario has no services section"]


def test_validate_exits_2_naming_the_file_and_the_cycle(tmp_path):
    document = scenario([{"caller": "api", "callee": "db"}, {"caller": "db", "callee": "api"}])
    path = tmp_path / "cycle.yaml"
    path.write_text(yaml.safe_dump(document))
    outcome = CliRunner().invoke(app, ["validate", str(path)])
    assert outcome.exit_code == 2
    assert outcome.output == f"error: {path}: invalid scenario\n  services.edges[1]: cycle api -> db -> api\n"


# -- figures ---------------------------------------------------------------------------------------------


def test_the_report_draws_the_graph_with_failing_edges_and_the_timeline_a_panel_per_service(tmp_path):
    from simdeploy.report.graph_figure import graph_figure
    from simdeploy.report.plot import timeline_figure

    result = simdeploy.load(SCENARIOS / "payments-ledger-retry-storm.yaml").run()
    titles = [ax.get_title(loc="left") for ax in timeline_figure(result).axes]
    assert "Service payments-api  (users)" in titles and "Service ledger  (called by payments-api)" in titles
    red = [
        line
        for line in graph_figure(result).axes[0].patches
        if line.get_edgecolor()[:3] == (198 / 255, 40 / 255, 40 / 255)
    ]
    assert red  # the ledger call failed half the time: drawn as failing
    page = tmp_path / "report.html"
    outcome = CliRunner().invoke(app, ["report", str(SCENARIOS / "payments-ledger-retry-storm.yaml"), "-o", str(page)])
    assert outcome.exit_code == 0, outcome.output
    html = page.read_text()
    assert "<h2>Service graph</h2>" in html and "payments-api &#8594; ledger" in html and 'class="warning"' in html


def test_a_graph_makes_each_tick_count_more_against_the_work_limits():
    from simdeploy.scenario.limits import GRAPH_EDGE_COST, GRAPH_SERVICE_COST, TICK_COST, expected_work
    from simdeploy.scenario.loader import load_scenario

    plain = expected_work(load_scenario(SCENARIOS / "payments-rolling-update.yaml"))
    graph = expected_work(load_scenario(SCENARIOS / "payments-ledger-retry-storm.yaml"))
    assert plain.tick_cost == TICK_COST and graph.tick_cost == TICK_COST + 2 * GRAPH_SERVICE_COST + GRAPH_EDGE_COST
    document = scenario([{"caller": "api", "callee": "db"}], duration="1000h")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(document)
    assert "a traffic tick counting 10" in str(raised.value)  # 1 + 2 Services and an edge at 3 each
    del document["services"]
    assert load_scenario(document).warnings  # without the graph the same run is long, not refused
