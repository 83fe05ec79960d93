"""Shared fixtures: the seed scenario served on loopback by an in-process `simdeploy serve`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from drill_helpers import SPEED, drill_document
from serve_helpers import ROOT, SEED

import simdeploy
from simdeploy.apiserver import ApiServer
from simdeploy.scenario.build import build, cluster_only
from simdeploy.scenario.drill_loader import load_drill


@contextlib.contextmanager
def _serving(until: float, speed: float, pdb_min_available: int | None = None, **options):
    """The seed scenario (with a PodDisruptionBudget if asked) run to `until` simulated seconds, then served
    on loopback, advancing at `speed`; stopped when the block ends."""
    sim = simdeploy.load(SEED)
    if pdb_min_available is not None:
        sim.api.create(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "payments-api", "namespace": "production"},
                "spec": {"minAvailable": pdb_min_available, "selector": {"matchLabels": {"app": "payments-api"}}},
            }
        )
    sim.run_until(until)
    server = ApiServer(sim, "payments-rolling-update", speed=speed, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def serving():
    """`with serving(until=60, speed=1) as server:` — the seed scenario behind a started ApiServer."""
    return _serving


@pytest.fixture(scope="session")
def bundled_results() -> dict[str, dict]:
    """Every bundled scenario's result document, by scenario name; run once for the whole session."""
    scenarios = Path(__file__).resolve().parent.parent / "scenarios"
    return {path.stem: simdeploy.load(path).run() for path in sorted(scenarios.glob("*.yaml"))}


@pytest.fixture
def drill_cluster():
    """The drill's cluster served empty at SPEED, as `simdeploy serve --cluster-only` serves it."""
    drill = load_drill(drill_document(), base_dir=ROOT / "drills")
    server = ApiServer(build(cluster_only(drill.scenario)), "drain-and-bad-release", speed=SPEED)
    server.start()
    try:
        yield server, drill
    finally:
        server.stop()
