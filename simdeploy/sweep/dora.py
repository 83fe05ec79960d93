"""`simdeploy dora`: a Monte Carlo stream of deploys through the environments, each bad with a given probability,
read per strategy as DORA's four keys (deployment frequency, lead time, change failure rate, recovery time).

Two stages. First the rehearsals: every (environment, failure profile) before production and every (strategy,
failure profile) in production is simulated for `samples` seeds on the sweep executors (local processes or a
Dask cluster); each run's seed derives from the stream's seed and the cell. Then the stream: changes go through
the promotion pipeline (delivery/promotion.py), and in each environment a change draws one of its cell's
rehearsals. Simulating every visit instead would cost about 0.17 s each (22 simulated minutes of a dozen pods
at 900 requests/s; bench/bench_dora.py): 10,000 changes through dev and staging, and production once per
strategy, is some 70 minutes on two cores, the bundled scenario's 570 rehearsals under two. The same seed gives
the same figures on any executor.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simdeploy.delivery.promotion import Hop, Pipeline, Release, Visit
from simdeploy.scenario.behaviour import distribution
from simdeploy.scenario.dora import DoraSpec, FailureSpec
from simdeploy.scenario.environments import DEFAULT_APPROVAL, PromotionSpec
from simdeploy.scenario.errors import Problem, ScenarioError
from simdeploy.scenario.loader import Scenario, load_scenario
from simdeploy.scenario.yamlfile import read_yaml
from simdeploy.sweep.dora_cells import (
    GOOD,
    Cell,
    Task,
    cell_document,
    cell_key,
    drill_document,
    load_cell,
    make_task,
    run_cell,
    shows_in,
)
from simdeploy.sweep.dora_figures import Failure, figures
from simdeploy.sweep.executors import default_workers, run_dask, run_local

MAX_DEPLOYS = 1_000_000
MAX_SAMPLES = 1_000


class DoraError(ValueError):
    """A bad option (the message names it); the CLI exits 2."""


@dataclass
class DoraPlan:
    scenario: Scenario
    spec: DoraSpec
    strategies: list[str]
    cells: dict[str, Cell]
    deploys: int
    bad_rate: float
    seed: int
    samples: int

    @property
    def tasks(self) -> list[Task]:
        return [
            make_task(cell, self.scenario.base_dir, self.seed, sample, self.spec)
            for cell in self.cells.values()
            for sample in range(self.samples)
        ]


@dataclass
class DoraResult:
    """The figures per strategy (as `figures` gives them), each failed deployment's recovery time, the releases."""

    plan: DoraPlan
    figures: dict[str, dict]
    recovery_times: dict[str, list[float]]
    releases: dict[str, list[Release]] = field(repr=False)

    def document(self) -> dict:
        """The JSON result (`simdeploy dora --json`)."""
        plan = self.plan
        return {
            "scenario": plan.scenario.name,
            "seed": plan.seed,
            "deploys": plan.deploys,
            "bad_rate": plan.bad_rate,
            "samples": plan.samples,
            "environments": [environment.name for environment in plan.scenario.environments],
            "failures": [{"name": f.name, "kind": f.kind, "weight": f.weight} for f in plan.spec.failures],
            "strategies": {
                name: {**self.figures[name], "recovery_times_s": [round(t, 3) for t in self.recovery_times[name]]}
                for name in plan.strategies
            },
        }


def default_samples(deploys: int) -> int:
    """Rehearsals per cell: enough to sample from, without costing more than the stream needs."""
    return max(3, min(30, deploys // 20))


def make_plan(
    source: str | Path | Scenario,
    deploys: int,
    bad_rate: float,
    strategies: list[str] | None = None,
    seed: int | None = None,
    samples: int | None = None,
) -> DoraPlan:
    """Check the options and the scenario's `dora` section and build every cell; DoraError or ScenarioError.
    The scenario is a file, or one loaded from a file (its cells are built from the file's text)."""
    if not 1 <= deploys <= MAX_DEPLOYS:
        raise DoraError(f"--deploys {deploys}: give a number from 1 to {MAX_DEPLOYS:,}")
    if not 0 <= bad_rate <= 1:  # NaN fails this too
        raise DoraError(f"--bad-rate {bad_rate}: a probability, from 0 to 1")
    if samples is not None and not 1 <= samples <= MAX_SAMPLES:
        raise DoraError(f"--samples {samples}: give a number from 1 to {MAX_SAMPLES:,}")
    scenario = source if isinstance(source, Scenario) else load_scenario(source)
    if scenario.dora is None:
        raise ScenarioError(scenario.source, [Problem("dora", "no dora section: give the strategies to compare")])
    spec = scenario.dora
    chosen = list(dict.fromkeys(strategies)) if strategies else list(spec.strategies)
    unknown = [name for name in chosen if name not in spec.strategies]
    if unknown:
        known = ", ".join(spec.strategies)
        raise DoraError(f"--strategy {unknown[0]}: the scenario's dora section has no such strategy (it has {known})")
    plan = DoraPlan(
        scenario,
        spec,
        chosen,
        {},
        deploys,
        bad_rate,
        scenario.spec.seed if seed is None else seed,
        samples or default_samples(deploys),
    )
    plan.cells = _cells(plan, read_yaml(Path(scenario.source)))
    return plan


def _profiles(plan: DoraPlan, environment: str) -> list[FailureSpec | None]:
    """The profiles the stream can draw in an environment (None: a good change, or a failure that does not show)."""
    showing = [f for f in plan.spec.failures if shows_in(f, environment)] if plan.bad_rate > 0 else []
    good = plan.bad_rate < 1 or len(showing) < len(plan.spec.failures)
    return ([None] if good else []) + showing


def _cells(plan: DoraPlan, raw: dict) -> dict[str, Cell]:
    """Every rehearsal the stream can draw, each loaded once here so that a mistake is reported before any run."""
    scenario = plan.scenario
    *before, production = scenario.environments
    cells: dict[str, Cell] = {}
    for index, environment in enumerate(before):
        for failure in _profiles(plan, environment.name):
            key = cell_key(environment.name, failure.name if failure else GOOD)
            document = _document(
                raw, scenario, environment, environment.objects, failure, None, f"environments[{index}]"
            )
            cells[key] = Cell(key, "scenario", document, failure is not None)
    for name in plan.strategies:
        strategy = plan.spec.strategies[name]
        where = f"dora.strategies.{name}"
        objects = _strategy_objects(scenario, strategy.overlay, production.namespace, where)
        for failure in _profiles(plan, production.name):
            key = cell_key(production.name, failure.name if failure else GOOD, name)
            document = _document(raw, scenario, production, objects, failure, strategy, where)
            drill = drill_document(document, strategy, plan.spec.slo, f"dora-{name}")
            cells[key] = Cell(key, "drill", drill, failure is not None)
    for cell in cells.values():
        task = make_task(cell, scenario.base_dir, plan.seed, 0, plan.spec)
        try:
            load_cell(cell.kind, task[2], task[3])
        except ScenarioError as error:
            where = f"dora.strategies.{cell.key.split('/')[1]}" if cell.kind == "drill" else "environments"
            raise ScenarioError(
                scenario.source, [Problem(f"{where} ({cell.key})", str(p)) for p in error.problems]
            ) from None
    return cells


def _document(raw, scenario, environment, objects, failure, strategy, where: str) -> dict:
    try:
        return cell_document(raw, scenario, environment, objects, failure, strategy)
    except ValueError as error:
        raise ScenarioError(scenario.source, [Problem(where, str(error))]) from None


def _strategy_objects(scenario: Scenario, overlay: str | None, namespace: str, where: str) -> list[dict]:
    """Production's objects as the strategy ships them: its own overlay, rendered, or the environment's."""
    from simdeploy.scenario.kustomize import KustomizeError, render
    from simdeploy.scenario.loader import admitted

    if overlay is None:
        return scenario.environments[-1].objects
    problems: list[Problem] = []
    try:
        objects = admitted(render(scenario.base_dir / overlay), f"{where}.overlay ({overlay})", problems)
    except KustomizeError as error:
        problems.append(Problem(f"{where}.overlay", f"{overlay}: {error}"))
        objects = []
    outside = {o["metadata"].get("namespace", "default") for o in objects} - {namespace}
    if outside and not problems:
        problems.append(Problem(f"{where}.overlay", f"{overlay}: renders into {', '.join(sorted(outside))}, not "
                                f"{namespace} (production's namespace)"))  # fmt: skip
    if problems:
        raise ScenarioError(scenario.source, problems)
    return objects


# -- running -----------------------------------------------------------------------------------------------------


def rehearse(
    plan: DoraPlan,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[dict]]:
    """Run every cell's samples on the executors; each cell's outcomes in sample order (whatever order they ran in)."""
    tasks = plan.tasks  # cell by cell, each cell's samples in order
    seeds = {(task[0], task[4]): number % plan.samples for number, task in enumerate(tasks)}
    outcomes: dict[str, list] = {key: [None] * plan.samples for key in plan.cells}
    done = 0

    def on_row(row: dict) -> None:
        nonlocal done
        outcomes[row["cell"]][seeds[(row["cell"], row["seed"])]] = row
        done += 1
        if progress is not None:
            progress(done, len(tasks))

    if scheduler:
        run_dask(tasks, scheduler, on_row, function=run_cell)
    else:
        run_local(tasks, workers or default_workers(), on_row, function=run_cell)
    return outcomes


def dora(
    path: str | Path,
    deploys: int = 1000,
    bad_rate: float = 0.15,
    strategies: list[str] | None = None,
    seed: int | None = None,
    samples: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DoraResult:
    """Rehearse, then stream `deploys` changes through the environments for each strategy; the DORA figures."""
    plan = make_plan(path, deploys, bad_rate, strategies, seed, samples)
    return stream(plan, rehearse(plan, workers, scheduler, progress))


def stream(plan: DoraPlan, library: dict[str, list[dict]]) -> DoraResult:
    """The changes through the pipeline for each strategy, drawing each environment visit from `library`."""
    spec = plan.spec
    changes = _changes(plan)
    environments = plan.scenario.environments
    hops = [
        Hop(
            e.name,
            e.spec.promotion.trigger,
            distribution(e.spec.promotion.sync),
            e.spec.promotion.every,
            e.spec.promotion.soak,
            _approval(e.spec.promotion),
        )
        for e in environments
    ]
    pipeline = Pipeline(hops, distribution(spec.build))
    forward_fix = distribution(spec.forward_fix)
    results, times, runs = {}, {}, {}
    for name in plan.strategies:
        # The same changes, builds, syncs, approvals and pre-production draws for every strategy: only production
        # differs, so that strategies are compared on the same stream.
        before_rng = random.Random(f"dora-environments:{plan.seed}")
        production_rng = random.Random(f"dora-production:{plan.seed}:{name}")
        failures: dict[int, Failure] = {}

        def visit(index: int, hop: int, _rng: random.Random, name=name, before_rng=before_rng,
                  production_rng=production_rng, failures=failures) -> Visit:  # fmt: skip
            bad, failure = changes[index]
            environment = environments[hop]
            last = hop == len(environments) - 1
            profile = failure.name if bad and shows_in(failure, environment.name) else GOOD
            samples = library[cell_key(environment.name, profile, name if last else None)]
            drawn = samples[(production_rng if last else before_rng).randrange(len(samples))]
            live = drawn["live_s"] if drawn["live_s"] is not None else drawn["window_s"]
            if not last:
                if drawn["failed"] and drawn["detected_s"] is not None:
                    return Visit(min(live, drawn["detected_s"]), stopped=True, busy_for=drawn["detected_s"])
                return Visit(live)
            if not drawn["failed"]:
                return Visit(live)
            recovered, errors = drawn["recovered_s"], drawn["errors"]
            if recovered is None:  # still failing when the rehearsal ended: fixed forward, as long for any strategy
                fix = forward_fix.sample(random.Random(f"dora-fix:{plan.seed}:{index}"))
                recovered = drawn["window_s"] + fix
                errors += drawn["errors_per_s_at_end"] * fix
            failures[index] = Failure(profile, recovered, errors, drawn["detected_s"], drawn["paged"])
            return Visit(live, stopped=True, busy_for=max(live, recovered))

        releases = pipeline.run(plan.deploys, visit, random.Random(f"dora-pipeline:{plan.seed}"), plan.seed)
        results[name] = figures(releases, failures, [e.name for e in environments], changes)
        times[name] = sorted(f.recovery_s for f in failures.values())
        runs[name] = releases
    return DoraResult(plan, results, times, runs)


def _approval(promotion: PromotionSpec):
    if promotion.trigger != "approval":
        return None
    return distribution(promotion.approval or DEFAULT_APPROVAL)


def _changes(plan: DoraPlan) -> list[tuple[bool, FailureSpec | None]]:
    """Each change: bad or not, and a bad one's failure profile drawn by weight."""
    rng = random.Random(f"dora-changes:{plan.seed}")
    failures = plan.spec.failures
    weights = [f.weight for f in failures]
    changes = []
    for _ in range(plan.deploys):
        bad = rng.random() < plan.bad_rate
        failure = rng.choices(failures, weights)[0]  # drawn for every change: the stream is the same at every rate
        changes.append((bad, failure if bad else None))
    return changes
