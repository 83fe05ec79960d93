"""`simdeploy query` and `--metrics`: PromQL against a simulated run, and the scraped series exported."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from simdeploy.cli import app

SEED = Path(__file__).resolve().parent.parent / "scenarios" / "payments-rolling-update.yaml"
runner = CliRunner()


def test_query_the_request_rate_at_a_moment():
    result = runner.invoke(app, ["query", str(SEED), "sum(rate(http_requests_total[1m]))", "--at", "5m"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "{}  900"


def test_query_by_label_and_a_histogram_quantile():
    by_code = runner.invoke(app, ["query", str(SEED), "sum by (code) (increase(http_requests_total[5m]))"])
    assert by_code.output.strip().startswith('{code="200"}')
    p99 = runner.invoke(
        app,
        ["query", str(SEED), "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"],
    )
    assert 0.1 < float(p99.output.split()[-1]) < 0.25


def test_range_query_lists_points_every_step():
    result = runner.invoke(
        app, ["query", str(SEED), "kube_deployment_status_replicas_available", "--range", "--step", "1m"]
    )
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("kube_deployment_status_replicas_available{")
    assert len(lines) == 1 + 7  # 0:00 to 6:00
    assert lines[-1].split() == ["6:00.0", "6"]


def test_malformed_or_unsupported_promql_exits_2_before_running():
    result = runner.invoke(app, ["query", str(SEED), "sum(rate(x[1m]) by ("])
    assert result.exit_code == 2
    assert "parse error" in result.output
    unsupported = runner.invoke(app, ["query", str(SEED), "predict_linear(x[5m], 60)"])
    assert unsupported.exit_code == 2 and "predict_linear" in unsupported.output


def test_metrics_export_as_csv_and_openmetrics(tmp_path):
    csv_path, om_path = tmp_path / "m.csv", tmp_path / "m.txt"
    assert runner.invoke(app, ["run", "-q", "--metrics", str(csv_path), str(SEED)]).exit_code == 0
    assert runner.invoke(app, ["run", "-q", "--metrics", str(om_path), str(SEED)]).exit_code == 0
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "timestamp_s,metric,labels,value"
    assert any(row.split(",")[1] == "http_requests_total" for row in rows[1:])
    text = om_path.read_text()
    assert "# TYPE http_requests counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert "# TYPE kube_deployment_status_replicas_available gauge" in text
    assert text.endswith("# EOF\n")
