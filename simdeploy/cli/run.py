"""`simdeploy run`, `report`, `validate` and `query`: one scenario, simulated to its end."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from simdeploy.cli.app import EXIT_EXPECTATIONS_FAILED, app, console, errors, fail
from simdeploy.cli.files import (
    STDOUT,
    check_figure,
    check_output,
    file_kind,
    load,
    save_figure,
    write_atomically,
    write_json_atomically,
)

# The seeds a scenario may give (int64, as its `seed` field).
SEED_OPTION = typer.Option(None, min=-(2**63), max=2**63 - 1, help="Override the scenario's seed.")


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    seed: int | None = SEED_OPTION,
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the result document here (- for standard output; the timeline goes to stderr)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary."),
    metrics_path: Path | None = typer.Option(
        None, "--metrics", help="Export the scraped metrics: .csv, else OpenMetrics text."
    ),
    plot_path: Path | None = typer.Option(
        None, "--plot", help="Write the timeline figure here: .png, .svg, .pdf (the suffix picks the format)."
    ),
    since: str | None = typer.Option(None, help="Print the timeline from this simulated time on, e.g. 2m."),
    until: str | None = typer.Option(None, help="Print the timeline up to this simulated time, e.g. 5m."),
    reasons: list[str] | None = typer.Option(
        None, "--reason", help="Print only events with these reasons (repeat, or a comma list: Killing,Unhealthy)."
    ),
) -> None:
    """Run a scenario to its end: print the timeline and a summary."""
    from simdeploy.cli.progress import EXIT_INTERRUPTED, RunProgress, print_interrupted, stopping_on_ctrl_c
    from simdeploy.report.timeline import failed_expectations, print_run, select_events
    from simdeploy.scenario.build import build

    start, end = _moment("--since", since), _moment("--until", until)
    if start is not None and end is not None and start > end:
        raise fail(f"--since {since} is after --until {until}")
    wanted = [reason.strip() for option in reasons or [] for reason in option.split(",") if reason.strip()]
    check_output(json_path, "--json", stdout=True)
    check_output(metrics_path, "--metrics")
    check_figure(plot_path, "--plot")
    loaded = load(scenario)
    _print_warnings(loaded.warnings)
    simulation = build(loaded, seed)
    progress = RunProgress(errors, simulation.duration)
    try:
        with stopping_on_ctrl_c(progress):
            result = simulation.run(progress)
    except KeyboardInterrupt:
        progress.close()
        unwritten = [path for path in (json_path, metrics_path, plot_path) if path is not None]
        print_interrupted(simulation, console, errors, quiet, unwritten)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        progress.close()
    if json_path is not None:
        write_json_atomically(json_path, result)
    if metrics_path is not None:
        export = simulation.metrics.to_csv if metrics_path.suffix == ".csv" else simulation.metrics.to_openmetrics
        write_atomically(metrics_path, export)
    if plot_path is not None:
        from simdeploy.report.plot import timeline_figure

        save_figure(timeline_figure(result), plot_path)
    shown = select_events(result["events"], start, end, wanted)
    print_run(result, errors if json_path == STDOUT else console, quiet, shown)  # stdout holds the JSON alone
    if failed_expectations(result):
        raise typer.Exit(EXIT_EXPECTATIONS_FAILED)


def _moment(option: str, value: str | None) -> float | None:
    from simdeploy.k8s.duration import parse_duration

    try:
        return None if value is None else parse_duration(value)
    except ValueError as error:
        raise fail(f"{option}: {error}") from None


@app.command()
def report(
    scenario: Path | None = typer.Argument(None, help="Scenario file (YAML) to run; or leave out and give --from."),
    output: Path = typer.Option(..., "--output", "-o", help="Write the HTML report here."),
    seed: int | None = SEED_OPTION,
    from_path: Path | None = typer.Option(
        None,
        "--from",
        help="Render this result document (`run --json`, `serve --json`; `gameday --json`: its after-action report)"
        " instead of running.",
    ),
) -> None:
    """Write a self-contained HTML report (verdicts, summary, figure, events); exit 1 if an expectation failed."""
    from simdeploy.report.html import render_report
    from simdeploy.report.timeline import failed_expectations

    if (scenario is None) == (from_path is None):
        raise fail("give a scenario file or --from RESULT.json (one of them)")
    if from_path is not None and seed is not None:
        raise fail("--seed: a result document has its seed; run the scenario to choose another")
    check_output(output, "--output")
    if from_path is not None:
        result = _load_result(from_path)
    else:
        from simdeploy.scenario.build import build

        result = build(load(scenario), seed).run()
    if "gameday" in result:  # a game day's document (`gameday --json`): its after-action report again
        from simdeploy.report.gameday import render_gameday_report

        page = render_gameday_report(result)
    else:
        page = render_report(result)
    write_atomically(output, lambda stream: stream.write(page))
    kind = "after-action report" if "gameday" in result else "report"
    console.print(f"{kind} written to {output}", highlight=False, markup=False, soft_wrap=True)
    if failed_expectations(result):
        raise typer.Exit(EXIT_EXPECTATIONS_FAILED)


def _load_result(path: Path):
    """A result document read back from JSON; a missing, garbled or foreign file exits 2 naming it."""
    from simdeploy.sim.result import problems

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"{path}: cannot read it: {error}") from None
    except json.JSONDecodeError as error:
        raise fail(f"{path}: not JSON: {error}") from None
    found = problems(document)
    if found:
        shown = "\n  ".join(found[:10]) + (f"\n  ... and {len(found) - 10} more" if len(found) > 10 else "")
        raise fail(f"{path}: not a simdeploy result document\n  {shown}")
    return document


@app.command()
def validate(scenario: Path = typer.Argument(..., help="Scenario, drill or game-day file (YAML).")) -> None:
    """Check a scenario (a drill, a game day) and list what it holds: objects, versions and actions (steps, faults)."""
    from rich.markup import escape

    from simdeploy.cli.drill import validate_drill
    from simdeploy.cli.gameday import validate_gameday
    from simdeploy.k8s.duration import format_duration

    kind = file_kind(scenario)
    if kind == "Drill":
        validate_drill(scenario)
        return
    if kind == "GameDay":
        validate_gameday(scenario)
        return
    loaded = load(scenario)
    spec = loaded.spec
    console.print(
        f"[green]valid[/green] {escape(str(scenario))}: {escape(spec.metadata.name)} "
        f"(seed {spec.seed}, {format_duration(spec.duration)})"
    )
    objects = Table("KIND", "NAMESPACE", "NAME", title="objects", title_justify="left", box=None)
    for obj in loaded.manifests:
        meta = obj.get("metadata", {})
        objects.add_row(
            *(escape(str(v)) for v in (obj["kind"], meta.get("namespace", "default"), meta.get("name", "")))
        )
    console.print(objects)
    versions = Table("IMAGE", "VERSION", "STARTUP", title="versions", title_justify="left", box=None)
    for image, version in spec.versions.items():
        versions.add_row(escape(image), escape(version.version or "-"), _describe(version.startup))
    console.print(versions)
    actions = Table("AT", "ACTION", "DETAILS", title="timeline", title_justify="left", box=None)
    for action in spec.timeline:
        details = action.model_dump(exclude={"at", "action"}, exclude_none=True, by_alias=True)
        actions.add_row(format_duration(action.at), action.action, escape(json.dumps(details)))
    console.print(actions)
    for warning in loaded.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _print_warnings(warnings: list[str]) -> None:
    """A scenario's warnings, on stderr: stdout holds the timeline and the summary."""
    from rich.markup import escape

    for warning in warnings:
        errors.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)


def _describe(spec) -> str:
    from simdeploy.scenario.behaviour import distribution

    if spec is None:
        return "default (5s)"
    return distribution(spec).describe()


@app.command()
def query(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    expression: str = typer.Argument(..., help="PromQL, e.g. 'sum(rate(http_requests_total[1m]))'."),
    at: str | None = typer.Option(None, help="Evaluate at this simulated time (default: the end), e.g. 5m."),
    range_: bool = typer.Option(False, "--range", help="Evaluate over the whole run instead, every --step."),
    step: str = typer.Option("15s", help="Resolution of a --range query."),
    seed: int | None = SEED_OPTION,
) -> None:
    """Run a scenario, then evaluate a PromQL query on its metrics (test an alert or analysis query)."""
    from simdeploy.k8s.duration import parse_duration
    from simdeploy.report.timeline import print_query_answer
    from simdeploy.scenario.build import build
    from simdeploy.sim.metrics.promql import PromQLError, instant_query, parse, range_query

    try:
        parse(expression)
        moment = None if at is None else parse_duration(at)
        resolution = parse_duration(step)
    except (PromQLError, ValueError) as error:
        raise fail(str(error)) from None
    loaded = load(scenario)
    simulation = build(loaded, seed)
    simulation.run()
    end = loaded.spec.duration if moment is None else moment
    try:
        if range_:
            answer = range_query(simulation.metrics, expression, 0.0, loaded.spec.duration, resolution)
        else:
            answer = instant_query(simulation.metrics, expression, end)
    except PromQLError as error:
        raise fail(str(error)) from None
    print_query_answer(answer, console, at=None if range_ else end)


__all__ = ["query", "report", "run", "validate"]
