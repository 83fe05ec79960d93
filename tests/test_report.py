"""The pictures: the timeline figure (`run --plot`) and the self-contained HTML report (`report`)."""

from __future__ import annotations

import base64
import copy
import html
import math
import re
import shutil
import struct
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.report.html import render_report
from simdeploy.report.plot import markers, save_timeline, slo_limits, timeline_figure

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "payments-rolling-update.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


@pytest.fixture(scope="module")
def result() -> dict:
    """The seed scenario's result: traffic, a `set image` at 2:00, expectations that all pass."""
    return simdeploy.load(SEED).run()


@pytest.fixture
def quiet_result(result) -> dict:
    """The same run as if no request had been sent."""
    return {**copy.deepcopy(result), "traffic": []}


def with_events(result: dict, *events: dict) -> dict:
    changed = copy.deepcopy(result)
    changed["events"] = sorted([*changed["events"], *events], key=lambda e: e["t"])
    return changed


def event(t: float, kind: str, name: str, reason: str, message: str, warning: bool = False) -> dict:
    return {
        "t": t,
        "kind": kind,
        "name": name,
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
    }


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


def titles(figure) -> list[str]:
    return [ax.get_title(loc="left") for ax in figure.axes if ax.get_title(loc="left")]


def vertical_lines_at(ax, t: float, colour: str | None = None) -> list:
    return [
        line
        for line in ax.get_lines()
        if list(line.get_xdata()) == [t, t] and (colour is None or line.get_color() == colour)
    ]


# -- the figure -------------------------------------------------------------------------------


def test_a_run_with_traffic_has_the_four_panels_in_order(result):
    figure = timeline_figure(result)
    assert titles(figure) == ["Pods per ReplicaSet", "Traffic share by version", "Error ratio", "p99 latency"]
    assert len(figure.axes) == 5  # the four panels under a row of action labels
    ylabels = [ax.get_ylabel() for ax in figure.axes[1:]]
    assert ylabels == ["pods", "requests", "errors / requests", "ms"]


def test_a_run_without_traffic_leaves_the_traffic_panels_out(quiet_result):
    figure = timeline_figure(quiet_result)
    assert titles(figure) == ["Pods per ReplicaSet"]
    assert len(figure.axes) == 2


def test_replica_sets_are_labelled_by_revision_and_version(result):
    pods = timeline_figure(result).axes[1]
    labels = [text.get_text() for text in pods.get_legend().get_texts()]
    assert labels[:2] == ["rev 1 (2.8.1)", "rev 2 (2.9.0)"]  # the document names the versions
    unnamed = {**copy.deepcopy(result), "versions": {}}
    labels = [t.get_text() for t in timeline_figure(unnamed).axes[1].get_legend().get_texts()]
    assert labels[:2] == ["rev 1 (@abc123)", "rev 2 (2.9.0)"]  # else the tag, or the digest's start


def test_the_time_axis_reads_minutes_and_seconds(result):
    bottom = timeline_figure(result).axes[-1]
    formatter = bottom.xaxis.get_major_formatter()
    assert [formatter(t, 0) for t in (0, 90, 120, 360)] == ["0:00", "1:30", "2:00", "6:00"]
    assert bottom.get_xlim() == (0, 360)


def test_operator_actions_are_grey_lines_across_every_panel_with_a_label(result):
    figure = timeline_figure(result)
    labels_row, *panels = figure.axes
    for ax in panels:
        assert vertical_lines_at(ax, 120.0, "#6b6b6b"), ax.get_title(loc="left")
    assert "set image 2.9.0" in [text.get_text().strip() for text in labels_row.texts]


def test_alert_firings_are_red_lines_and_the_slo_is_drawn(result):
    firing = event(150.0, "Alert", "HighErrorRate", "AlertFiring", "error ratio above 1%; active since 135s", True)
    resolved = event(210.0, "Alert", "HighErrorRate", "AlertResolved", "error ratio above 1%; resolved", False)
    changed = with_events(result, firing, resolved)
    changed["summary"]["expectations"].append({"name": "errorRatio", "expected": "<= 1%", "verdict": "pass"})
    figure = timeline_figure(changed)
    labels_row, pods, _, errors, latency = figure.axes
    assert vertical_lines_at(pods, 150.0, "#d62728") and vertical_lines_at(latency, 150.0, "#d62728")
    assert "HighErrorRate firing" in [text.get_text().strip() for text in labels_row.texts]
    assert [m.until for m in markers(changed) if m.label == "HighErrorRate firing"] == [210.0]
    assert slo_limits(changed) == {"error_ratio": 0.01, "p99_s": 0.25}
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in errors.get_lines())  # the 1% line


def test_labels_of_close_actions_do_not_overlap(result):
    close = copy.deepcopy(result)
    close["actions"] += [
        {
            "t": 121.0 + i,
            "action": "scale",
            "target": "x",
            "message": f"deployment.apps/x scaled to {i}",
            "failed": False,
        }
        for i in range(4)
    ]
    figure = timeline_figure(close)
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in figure.axes[0].texts]
    assert len(boxes) == 5
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_the_png_is_written_at_a_readable_size(result, tmp_path):
    path = tmp_path / "timeline.png"
    save_timeline(result, path)
    width, height = png_size(path.read_bytes())
    assert width == 1320  # 12 in at 110 dpi
    assert 700 < height < 2000
    assert 30_000 < path.stat().st_size < 1_000_000


# -- the HTML report --------------------------------------------------------------------------


def test_the_report_holds_the_summary_expectations_and_rollouts(result):
    page = render_report(result)
    assert "<title>payments-rolling-update" in page
    assert "seed 42" in page
    assert "PASS" in page and "all 6 expectations met" in page
    for fragment in ("2:46.5", "270,000", "100%", "197 ms", "rolloutCompletesWithin", "deployment/payments-api"):
        assert fragment in page
    assert page.count('class="badge pass"') == 6


def test_a_failed_expectation_turns_the_banner_red(result):
    failing = copy.deepcopy(result)
    failing["summary"]["expectations"][0]["verdict"] = "fail"
    page = render_report(failing)
    assert 'class="banner fail"' in page and "1 of 6 expectations failed" in page
    assert 'class="badge fail"' in page


def test_without_expectations_there_is_no_verdict(quiet_result):
    del quiet_result["summary"]["expectations"]
    page = render_report(quiet_result)
    assert "banner" not in page.split("<body>")[1]
    assert "Expectations" not in page


def test_events_are_rows_with_warnings_marked_and_repeats_folded(result):
    repeats = [
        event(200.0 + i, "Pod", "p-1", "BackOff", "Back-off restarting failed container", True) for i in range(12)
    ]
    page = render_report(with_events(result, *repeats))
    assert re.search(r"<td class=\"reason\">ScalingReplicaSet</td>", page)
    assert "Scaled up replica set payments-api-" in page
    assert page.count(">BackOff<") == 1
    assert "×12, last 3:31.0" in html.unescape(page)
    assert '<tr class="warning"><td class="time">3:20.0</td>' in page
    assert '<tr class="action"><td class="time">2:00.0</td>' in page  # set image


def test_every_string_is_escaped(result):
    hostile = event(130.0, "Pod", "x<img src=y>", "Unhealthy", "<script>alert('owned')</script> & more", True)
    page = render_report(with_events(result, hostile))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt; &amp; more" in page
    assert "pod/x&lt;img src=y&gt;" in page


def test_the_page_is_self_contained(result):
    page = render_report(result)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "url(" not in page and "@import" not in page and "<script" not in page
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 1
    assert png_size(base64.b64decode(images[0]))[0] == 1320
    assert page.isascii()  # any encoding that saves it reads the same


# -- the command line -------------------------------------------------------------------------


def test_run_plot_writes_a_png(tmp_path):
    out = tmp_path / "figures" / "timeline.png"
    outcome = runner.invoke(app, ["run", "-q", "--plot", str(out), str(SEED)])
    assert outcome.exit_code == 0, outcome.output
    assert png_size(out.read_bytes())[0] == 1320
    assert [p.name for p in out.parent.iterdir()] == ["timeline.png"]  # no temporary file left behind


def test_report_writes_the_html_and_says_where(tmp_path):
    out = tmp_path / "report.html"
    outcome = runner.invoke(app, ["report", str(SEED), "-o", str(out), "--seed", "7"])
    assert outcome.exit_code == 0, outcome.output
    assert str(out) in outcome.output.replace("\n", "")
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "seed 7" in page and "data:image/png;base64," in page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def broken_scenario(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    scenario = yaml.safe_load(SEED.read_text())
    scenario["timeline"][0]["imagee"] = "x"
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.mark.parametrize("command", [["run", "--plot"], ["report", "-o"]])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, command):
    out = tmp_path / "out" / "picture"
    for scenario in (tmp_path / "absent.yaml", broken_scenario(tmp_path)):
        verb, option = command
        outcome = runner.invoke(app, [verb, str(scenario), option, str(out)])
        assert outcome.exit_code == 2, outcome.output
        assert "Traceback" not in outcome.output
        assert not out.parent.exists()


# -- the whole story: Argo Rollouts, flags, every action, the serving line, fast failures --------------------


SCENARIOS = ROOT / "scenarios"


def legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def action(t: float, name: str, target: str | None, message: str, failed: bool = False) -> dict:
    return {"t": t, "action": name, "target": target, "message": message, "failed": failed}


def has_data(artist) -> bool:
    if hasattr(artist, "get_xydata"):
        return any(not any(map(math.isnan, point)) for point in artist.get_xydata())
    if hasattr(artist, "get_paths"):  # fill_between
        return any(len(path.vertices) for path in artist.get_paths())
    if hasattr(artist, "get_width"):  # axvspan
        return artist.get_width() > 0
    return False


def test_every_legend_entry_stands_for_something_drawn(bundled_results):
    for name, result in bundled_results.items():
        for ax in timeline_figure(result).axes[1:]:
            drawn = [a for a in ax.get_children() if has_data(a)]
            labels, keys = {a.get_label() for a in drawn}, {a.get_gid() for a in drawn}
            for label in legend_labels(ax):  # a line's own label, or a key to a style of line that is drawn
                key = {"really serving": "serving"}.get(label, label)
                assert label in labels or key in keys, (name, ax.get_title(loc="left"), label)


def test_argo_replica_sets_are_named_by_revision_and_version(bundled_results):
    pods = timeline_figure(bundled_results["canary-bad-version-aborted"]).axes[1]
    assert legend_labels(pods)[:2] == ["rev 1 (2.9.0)", "rev 2 (2.9.1)"]


def test_flag_actions_and_an_analysis_abort_are_marked(bundled_results):
    flags = [m.label for m in markers(bundled_results["flag-ramp-25-percent"])]
    assert flags == ["set image 2.9.0", "enable new-checkout-flow", "new-checkout-flow → 50%"]
    aborted = markers(bundled_results["canary-bad-version-aborted"])
    assert [(m.t, m.label, m.colour) for m in aborted] == [
        (180, "set image 2.9.1", "#6b6b6b"),
        (260.25, "aborted: canary-error-rate failed", "#e08a00"),
    ]
    drained = [m.label for m in markers(bundled_results["two-replicas-max-unavailable-50"])]
    assert drained == ["set image 1.5.0", "drain node-2", "rollout undo → rev 1"]


def test_every_kind_of_operator_action_gets_a_labelled_marker(result):
    changed = copy.deepcopy(result)
    changed["actions"] = [
        action(10, "promote", "payments-api", "rollout 'payments-api' promoted"),
        action(20, "abort", "payments-api", "rollout 'payments-api' aborted"),
        action(30, "retry", "payments-api", "rollout 'payments-api' retried"),
        action(40, "rollout-undo", "payments-api", "rollout 'payments-api' undo to revision 1"),
        action(50, "delete-pods", None, "2 pod(s) deleted"),
        action(60, "fail-node", "node-3", "node/node-3 fail-node"),
        action(70, "disable-flag", "kill", "flag/kill disabled"),
        action(80, "scale", "payments-api", "deployment.apps/payments-api scaled to 9"),
        action(90, "set-behaviour", "registry.example.com/payments-api:2.9.0", "version changed"),
        action(100, "patch", "service/payments-api", "service/payments-api patched"),
        action(110, "pause", "payments-api", "error: deployments.apps/payments-api is already paused", failed=True),
    ]
    labels = [(m.label, m.colour) for m in markers(changed)]
    grey = "#6b6b6b"
    assert labels[:-1] == [
        ("promote", grey),
        ("abort", grey),
        ("retry", grey),
        ("rollout undo → rev 1", grey),
        ("delete 2 pods", grey),
        ("node-3 fails", grey),
        ("disable kill", grey),
        ("scale → 9", grey),
        ("behaviour 2.9.0", grey),
        ("patch service/payments-api", grey),
    ]
    assert labels[-1] == ("pause failed", "#8c2d04")
    figure = timeline_figure(changed)
    texts = [text.get_text().strip() for text in figure.axes[0].texts]
    assert len(texts) == 11 and "promote" in texts
    assert vertical_lines_at(figure.axes[1], 110.0, "#8c2d04")


def test_a_served_sessions_kubectl_writes_are_marked_and_reads_are_not(result):
    def request(at: float, method: str, path: str, code: int = 200) -> dict:
        return {"at_s": at, "wall_s": at / 10, "method": method, "path": path, "query": "", "code": code,
                "user_agent": "kubectl/v1.31.0"}  # fmt: skip

    deployment = "/apis/apps/v1/namespaces/production/deployments/payments-api"
    log = [
        request(125, "GET", deployment),
        request(130, "PATCH", deployment),
        *[request(140 + i, "POST", f"/api/v1/namespaces/production/pods/p-{i}/eviction") for i in range(3)],
        request(150, "PATCH", "/apis/apps/v1/namespaces/production/deployments/nope", 404),
        request(160, "POST", "/simdeploy/v1/actions", 201),
        request(170, "PATCH", deployment + "/scale"),
        request(180, "POST", "/api/v1/namespaces", 201),
        request(185, "POST", "/api/v1/namespaces/production/services/payments-api/proxy/orders"),  # a probe
        request(190, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", 201),  # a question
        request(200, "DELETE", "/api/v1/namespaces/drill-1"),
    ]
    served = {**copy.deepcopy(result), "session": {"requests": {"log": log}}}
    labels = [(m.t, m.label) for m in markers(served) if m.label.startswith("kubectl")]
    assert labels == [
        (130, "kubectl patch deployments/payments-api"),
        (140, "kubectl evict pods ×3"),
        (170, "kubectl patch deployments/payments-api (scale)"),
        (180, "kubectl create namespaces"),
        (200, "kubectl delete namespaces/drill-1"),
    ]


def test_lying_readiness_draws_the_really_serving_line(bundled_results, result):
    pods = timeline_figure(bundled_results["lying-readiness"]).axes[1]
    assert "really serving" in legend_labels(pods)
    assert [a for a in pods.get_lines() if a.get_gid() == "serving" and has_data(a)]
    honest = timeline_figure(result).axes[1]
    assert "really serving" not in legend_labels(honest)
    assert not [a for a in honest.get_children() if a.get_gid() == "serving"]


def test_fast_failures_are_shaded_on_the_latency_panel(bundled_results, result):
    latency = timeline_figure(bundled_results["lying-readiness"]).axes[-1]
    (label,) = [text for text in legend_labels(latency) if "failed" in text]
    spans = [p for p in latency.patches if p.get_label() == label]
    (begin, end) = (spans[0].get_x(), spans[0].get_x() + spans[0].get_width())
    assert 120 < begin < 150 and 180 < end < 240  # 2.9.0's pods cannot serve yet: most of its requests fail
    assert not [t for t in legend_labels(timeline_figure(result).axes[-1]) if "failed" in t]


def test_the_report_tells_what_argo_rollouts_did(bundled_results):
    page = html.unescape(render_report(bundled_results["canary-bad-version-aborted"]))
    assert "Argo Rollout payments-api" in page
    assert "setWeight: 10" in page and "pause: 1m" in page
    assert "AnalysisRun payments-api-" in page and "[0.05]" in page and "canary-error-rate" in page
    assert "aborted after" in page and "1m20.2s" in page  # 3:00.05 to 4:20.25
    assert "deployment/" not in page and "rollout complete at" not in page  # a Rollout-only scenario
    assert "min available during rollouts" not in page


def test_the_report_tells_what_each_flag_cohort_saw(bundled_results):
    page = html.unescape(render_report(bundled_results["flag-ramp-25-percent"]))
    assert "Feature flags" in page
    assert re.search(r"<td>new-checkout-flow</td><td>elements-v2-3ds</td><td[^>]*>[\d,]+ / [\d,]+ \(2\.00%\)", page)
    assert "Operator actions" in page and "flag/new-checkout-flow rolled out to 50%" in page


def test_a_rollout_only_run_prints_no_empty_deployment_rows():
    outcome = runner.invoke(app, ["run", "-q", str(SCENARIOS / "canary-bad-version-aborted.yaml")])
    assert outcome.exit_code == 0, outcome.output
    assert "deployment/" not in outcome.output and "final revision" not in outcome.output
    for fragment in ("rollout/payments-api", "phase Degraded", "step 1/6", "setWeight: 10", "pause: 1m"):
        assert fragment in outcome.output
    assert "aborted at 4:20.3, 1m20.2s after the update" in outcome.output
    assert (
        "analysis payments-api-" in outcome.output
        and "Failed, 1 measurement: [0.05] at 4:20.3 failed" in outcome.output
    )
    assert "failed requests during the update" in outcome.output


# -- report --from ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["payments-rolling-update", "canary-bad-version-aborted", "flag-ramp-25-percent"])
def test_a_report_from_the_json_alone_is_the_same_page(tmp_path, name):
    scenario = SCENARIOS / f"{name}.yaml"
    document, direct, again = tmp_path / "result.json", tmp_path / "direct.html", tmp_path / "again.html"
    assert runner.invoke(app, ["run", "-q", "--json", str(document), str(scenario)]).exit_code == 0
    assert runner.invoke(app, ["report", str(scenario), "-o", str(direct)]).exit_code == 0
    outcome = runner.invoke(app, ["report", "--from", str(document), "-o", str(again)])
    assert outcome.exit_code == 0, outcome.output
    assert again.read_bytes() == direct.read_bytes()


def failing_scenario(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "scenarios" / "manifests", tmp_path / "manifests")
    scenario = yaml.safe_load(SEED.read_text())
    scenario["expect"]["peakPods"] = 6  # the rollout surges to 8
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def test_report_exits_1_after_writing_when_an_expectation_failed(tmp_path):
    out, document = tmp_path / "report.html", tmp_path / "result.json"
    scenario = failing_scenario(tmp_path)
    assert runner.invoke(app, ["run", "-q", "--json", str(document), str(scenario)]).exit_code == 1
    outcome = runner.invoke(app, ["report", str(scenario), "-o", str(out)])
    assert outcome.exit_code == 1 and "1 of 6 expectations failed" in out.read_text()
    out.unlink()
    outcome = runner.invoke(app, ["report", "--from", str(document), "-o", str(out)])
    assert outcome.exit_code == 1 and 'class="banner fail"' in out.read_text()


@pytest.mark.parametrize(
    "content, said",
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"scenario": "x"}', "summary: missing"),
        ("[1, 2]", "document: expected an object"),
    ],
)
def test_report_from_a_bad_file_exits_2_naming_it_and_writes_nothing(tmp_path, content, said):
    source, out = tmp_path / "result.json", tmp_path / "out" / "report.html"
    if content is not None:
        source.write_text(content)
    outcome = runner.invoke(app, ["report", "--from", str(source), "-o", str(out)])
    assert outcome.exit_code == 2, outcome.output
    assert str(source) in outcome.output.replace("\n", "") and said in outcome.output
    assert "Traceback" not in outcome.output and not out.parent.exists()


def test_report_wants_a_scenario_or_a_document_not_both(tmp_path):
    out = tmp_path / "report.html"
    assert runner.invoke(app, ["report", "-o", str(out)]).exit_code == 2
    assert runner.invoke(app, ["report", str(SEED), "--from", str(SEED), "-o", str(out)]).exit_code == 2
    assert not out.exists()
