"""The `simdeploy` command line: run and validate scenarios."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import typer
import yaml
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table

from simdeploy.k8s.duration import format_duration, parse_duration
from simdeploy.report.html import render_report
from simdeploy.report.plot import timeline_figure
from simdeploy.report.timeline import failed_expectations, print_query_answer, print_run
from simdeploy.scenario.build import build, distribution
from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.loader import Scenario, load_scenario
from simdeploy.sim.promql import PromQLError, instant_query, parse, range_query
from simdeploy.sweep import SweepError, parse_set, sweep
from simdeploy.sweep.plot import sweep_figure
from simdeploy.sweep.tables import print_sweep

app = typer.Typer(
    help="Replay Kubernetes rollouts and rollbacks in simulated time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
if not console.is_terminal:
    console.width = 140  # piped or captured: keep tables on one line each rather than 80 columns
errors = Console(stderr=True)

EXIT_EXPECTATIONS_FAILED = 1  # like a failing test
EXIT_BAD_INPUT = 2


def _load(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as error:
        errors.print(f"[red]error:[/red] {path}: invalid scenario", highlight=False, soft_wrap=True)
        for problem in error.problems:
            errors.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the result document here."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary."),
    metrics_path: Path | None = typer.Option(
        None, "--metrics", help="Export the scraped metrics: .csv, else OpenMetrics text."
    ),
    plot_path: Path | None = typer.Option(None, "--plot", help="Write the timeline figure here (PNG)."),
) -> None:
    """Run a scenario to its end: print the timeline and a summary."""
    loaded = _load(scenario)
    simulation = build(loaded, seed)
    result = simulation.run()
    if json_path is not None:
        write_json_atomically(json_path, result)
    if metrics_path is not None:
        export = simulation.metrics.to_csv if metrics_path.suffix == ".csv" else simulation.metrics.to_openmetrics
        write_atomically(metrics_path, export)
    if plot_path is not None:
        _save_figure(timeline_figure(result, _versions(simulation)), plot_path)
    print_run(result, console, quiet)
    if failed_expectations(result):
        raise typer.Exit(EXIT_EXPECTATIONS_FAILED)


@app.command()
def report(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    output: Path = typer.Option(..., "--output", "-o", help="Write the HTML report here."),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
) -> None:
    """Run a scenario and write a self-contained HTML report: verdicts, summary, timeline figure, events."""
    simulation = build(_load(scenario), seed)
    page = render_report(simulation.run(), _versions(simulation))
    write_atomically(output, lambda stream: stream.write(page))
    console.print(f"report written to {output}", highlight=False, soft_wrap=True)


def _versions(simulation) -> dict[str, str]:
    """Image -> version, so that figures name ReplicaSets the way the traffic metrics do."""
    return {b.image: b.version for b in simulation.behaviours.values() if b.version}


@app.command()
def validate(scenario: Path = typer.Argument(..., help="Scenario file (YAML).")) -> None:
    """Check a scenario and list what it holds: objects, versions and actions."""
    loaded = _load(scenario)
    spec = loaded.spec
    console.print(
        f"[green]valid[/green] {scenario}: {spec.metadata.name} (seed {spec.seed}, {format_duration(spec.duration)})"
    )
    objects = Table("KIND", "NAMESPACE", "NAME", title="objects", title_justify="left", box=None)
    for obj in loaded.manifests:
        meta = obj.get("metadata", {})
        objects.add_row(obj["kind"], meta.get("namespace", "default"), meta.get("name", ""))
    console.print(objects)
    versions = Table("IMAGE", "VERSION", "STARTUP", title="versions", title_justify="left", box=None)
    for image, version in spec.versions.items():
        startup = version.startup
        versions.add_row(image, version.version or "-", _describe(startup))
    console.print(versions)
    actions = Table("AT", "ACTION", "DETAILS", title="timeline", title_justify="left", box=None)
    for action in spec.timeline:
        details = action.model_dump(exclude={"at", "action"}, exclude_none=True, by_alias=True)
        actions.add_row(format_duration(action.at), action.action, json.dumps(details))
    console.print(actions)
    for warning in loaded.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _describe(spec) -> str:
    if spec is None:
        return "default (5s)"
    return distribution(spec).describe()


def write_json_atomically(path: Path, document: dict) -> None:
    """Write JSON next to its destination, then rename: a failed run leaves nothing half-written."""

    def write(stream) -> None:
        json.dump(document, stream, indent=2)
        stream.write("\n")

    write_atomically(path, write)


def write_atomically(path: Path, write: Callable[[TextIO], None], binary: bool = False) -> None:
    """Call write(stream) on a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if binary else "w") as stream:
            write(stream)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; give it the usual permissions
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@app.command()
def query(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    expression: str = typer.Argument(..., help="PromQL, e.g. 'sum(rate(http_requests_total[1m]))'."),
    at: str | None = typer.Option(None, help="Evaluate at this simulated time (default: the end), e.g. 5m."),
    range_: bool = typer.Option(False, "--range", help="Evaluate over the whole run instead, every --step."),
    step: str = typer.Option("15s", help="Resolution of a --range query."),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
) -> None:
    """Run a scenario, then evaluate a PromQL query on its metrics (test an alert or analysis query)."""
    try:
        parse(expression)
        moment = None if at is None else parse_duration(at)
        resolution = parse_duration(step)
    except (PromQLError, ValueError) as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    loaded = _load(scenario)
    simulation = build(loaded, seed)
    simulation.run()
    end = loaded.spec.duration if moment is None else moment
    try:
        if range_:
            answer = range_query(simulation.metrics, expression, 0.0, loaded.spec.duration, resolution)
        else:
            answer = instant_query(simulation.metrics, expression, end)
    except PromQLError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    print_query_answer(answer, console, at=None if range_ else end)


def main() -> None:
    app()


@app.command("sweep")
def sweep_command(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    sets: list[str] = typer.Option(..., "--set", help="PATH=V1,V2,... (repeat for a grid)."),
    seeds: int = typer.Option(1, help="Runs per setting, each with its own seed."),
    sample: int | None = typer.Option(None, help="Draw this many random points instead of the whole grid."),
    out: Path | None = typer.Option(None, help="Rows, one per run: .csv or .parquet."),
    plot: Path | None = typer.Option(None, help="Heatmap (2 parameters) or Pareto scatter (PNG)."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: all cores)."),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address, e.g. tcp://host:8786."),
    resume: bool = typer.Option(False, help="Keep the rows already in --out and run only what is missing."),
    sweep_seed: int = typer.Option(0, help="Seed from which every run's seed derives."),
) -> None:
    """Run a scenario over a grid of settings and seeds; print the settings that meet every expectation."""
    _load(scenario)
    if out is not None and out.suffix not in (".csv", ".parquet"):
        errors.print(f"[red]error:[/red] --out {out}: use a .csv or .parquet file", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        parameters = [parse_set(text) for text in sets]
        with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=errors, transient=True) as bar:
            task = bar.add_task("simulating", total=None)
            result = sweep(
                scenario,
                parameters,
                seeds=seeds,
                sample=sample,
                out=out,
                workers=workers,
                scheduler=scheduler,
                resume=resume,
                sweep_seed=sweep_seed,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (SweepError, ScenarioError) as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    print_sweep(result, console)
    if out is not None:
        console.print(f"rows written to {out}", highlight=False)
    if plot is not None:
        figure = sweep_figure(result.table, result.settings)
        _save_figure(figure, plot)
        console.print(f"plot written to {plot}", highlight=False)


@app.command()
def serve(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    speed: float = typer.Option(1.0, help="Simulated seconds per wall-clock second (0 pauses the clock)."),
    port: int = typer.Option(0, help="TCP port (default: any free port)."),
    address: str = typer.Option("127.0.0.1", help="Address to bind; loopback only unless you say otherwise."),
    kubeconfig: Path | None = typer.Option(None, help="Write the kubeconfig here (default: a temporary file)."),
    duration_limit: bool = typer.Option(False, "--duration-limit", help="Stop the clock at the scenario's end."),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
    json_path: Path | None = typer.Option(
        None, "--json", help="On stop (Ctrl-C, SIGTERM), write the session's result document here."
    ),
) -> None:
    """Serve the running simulation over the Kubernetes API for kubectl and clients, until stopped."""
    import signal
    import threading

    from simdeploy.apiserver import ApiServer
    from simdeploy.scenario.loader import default_namespace

    loaded = _load(scenario)
    if speed < 0:
        errors.print("[red]error:[/red] --speed must be >= 0", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if json_path is not None and not json_path.parent.is_dir():
        # Found out now, not after the game day, when the document could no longer be written.
        errors.print(f"[red]error:[/red] --json: no directory {json_path.parent}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    simulation = build(loaded, seed)
    server = ApiServer(
        simulation,
        loaded.spec.metadata.name,
        speed,
        address,
        port,
        kubeconfig,
        duration_limit,
        namespace=default_namespace(loaded),
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    try:
        console.print(f"serving {loaded.spec.metadata.name} at {server.url} ({speed:g}x)", highlight=False)
        console.print(f"kubeconfig: {server.kubeconfig_path}", highlight=False, soft_wrap=True)
        console.print(
            f"try: kubectl --kubeconfig {server.kubeconfig_path} get pods -n {default_namespace(loaded)}",
            highlight=False,
            soft_wrap=True,
        )
        console.file.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    document = server.result()
    session = document["session"]
    console.print(
        f"stopped at {format_duration(session['simulated_s'])} simulated after {session['requests']['total']} requests",
        highlight=False,
    )
    if json_path is not None:
        write_json_atomically(json_path, document)
        console.print(f"result written to {json_path}", highlight=False, soft_wrap=True)


ctl = typer.Typer(
    help="Facilitate a game day on a running `simdeploy serve`: the clock, faults injected now, the timeline.",
    no_args_is_help=True,
)
app.add_typer(ctl, name="ctl")
KUBECONFIG_OPTION = typer.Option(None, "--kubeconfig", help="The kubeconfig serve wrote (default: $KUBECONFIG).")


def _control(kubeconfig: Path | None, call):
    from simdeploy.apiserver.control_client import ControlClient, ControlError

    try:
        return call(ControlClient(kubeconfig))
    except ControlError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _print_clock(clock: dict) -> None:
    state = "paused" if clock["paused"] else f"{clock['speed']:g}x"
    console.print(f"simulated time {clock['now']} ({clock['now_s']:g}s), {state}", highlight=False)


@ctl.command("status")
def ctl_status(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Show the simulated time and the speed."""
    _print_clock(_control(kubeconfig, lambda c: c.clock()))


@ctl.command("pause")
def ctl_pause(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Stop simulated time (requests are still answered, the cluster holds still)."""
    _print_clock(_control(kubeconfig, lambda c: c.set_clock(paused=True)))


@ctl.command("resume")
def ctl_resume(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Let simulated time run again at the speed it had."""
    _print_clock(_control(kubeconfig, lambda c: c.set_clock(paused=False)))


@ctl.command("speed")
def ctl_speed(
    speed: float = typer.Argument(..., help="Simulated seconds per wall-clock second."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Change how fast simulated time runs."""
    _print_clock(_control(kubeconfig, lambda c: c.set_clock(speed=speed)))


@ctl.command("do")
def ctl_do(
    action: str = typer.Argument(
        ..., help='A timeline action without `at`, in YAML: "{action: delete-pods, selector: app=api, count: 2}".'
    ),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Run one timeline action now: kill pods, make a version fail, drain or fail a node, set weights, ..."""
    try:
        document = yaml.safe_load(action)
    except yaml.YAMLError as error:
        errors.print(f"[red]error:[/red] action: {error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not isinstance(document, dict):
        errors.print("[red]error:[/red] action: expected a mapping such as {action: drain, node: node-1}")
        raise typer.Exit(EXIT_BAD_INPUT)
    done = _control(kubeconfig, lambda c: c.run_action(document))
    console.print(f"{format_duration(done['at_s'])}  {done['action']}: {done['message']}", highlight=False)
    for event in done["events"]:
        console.print(f"  {event['kind']}/{event['name']}  {event['reason']}  {event['message']}", highlight=False)


@ctl.command("timeline")
def ctl_timeline(
    since: str = typer.Option("0s", help="Only events from this simulated time on (e.g. 2m)."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Print the events so far, as `simdeploy run` prints them."""
    try:
        start = parse_duration(since)
    except ValueError as error:
        errors.print(f"[red]error:[/red] --since: {error}", highlight=False, markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    timeline = _control(kubeconfig, lambda c: c.timeline())
    table = Table("T", "KIND", "NAME", "REASON", "MESSAGE", box=None, title_justify="left")
    for event in timeline["events"]:
        if event["t"] >= start:
            table.add_row(format_duration(event["t"]), event["kind"], event["name"], event["reason"], event["message"])
    console.print(table)
    console.print(f"now {format_duration(timeline['now_s'])}", highlight=False)


def _save_figure(figure, path: Path) -> None:
    write_atomically(path, lambda stream: figure.savefig(stream, format="png"), binary=True)
