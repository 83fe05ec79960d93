"""The pictures: the timeline figure (`run --plot`) and the self-contained HTML report (`report`)."""

from __future__ import annotations

import base64
import copy
import html
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
    assert labels[:2] == ["rev 1 (@abc123)", "rev 2 (2.9.0)"]  # the old image is pinned by digest
    named = timeline_figure(result, {"registry.example.com/payments-api@sha256:abc123...": "2.8.1"})
    assert [t.get_text() for t in named.axes[1].get_legend().get_texts()][:2] == ["rev 1 (2.8.1)", "rev 2 (2.9.0)"]


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
    close = [
        event(121.0 + i, "Deployment", "payments-api", "Scale", f"deployment.apps/x scaled to {i}") for i in range(4)
    ]
    figure = timeline_figure(with_events(result, *close))
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
