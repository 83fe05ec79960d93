"""simdeploy: replay Kubernetes rollouts and rollbacks in simulated time."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The public names and the modules that hold them, imported on first use so that `simdeploy --help`
# and `simdeploy validate` do not pay for the whole simulator (nor pandas and matplotlib).
_PUBLIC = {
    "Action": "simdeploy.sim.simulation",
    "ClusterSettings": "simdeploy.sim.simulation",
    "Drill": "simdeploy.scenario.drill_loader",
    "PromQLError": "simdeploy.sim.metrics.promql",
    "Scenario": "simdeploy.scenario.loader",
    "ScenarioError": "simdeploy.scenario.errors",
    "Simulation": "simdeploy.sim.simulation",
    "VersionBehaviour": "simdeploy.sim.behaviour",
    "build": "simdeploy.scenario.build",
    "build_drill": "simdeploy.scenario.drill_build",
    "dora_figure": "simdeploy.sweep.dora_plot",
    "latency_under_load": "simdeploy.sim.latency",
    "load": "simdeploy.scenario.build",
    "load_drill": "simdeploy.scenario.drill_loader",
    "load_scenario": "simdeploy.scenario.loader",
    "parse_duration": "simdeploy.k8s.duration",
    "query": "simdeploy.sim.query",
    "query_range": "simdeploy.sim.query",
    "sweep_figure": "simdeploy.sweep.plot",
}
# Public subpackages, reachable as attributes after a plain `import simdeploy`: simdeploy.sweep.sweep(...).
_MODULES = ("sweep",)
__all__ = [
    "Action",
    "ClusterSettings",
    "Drill",
    "PromQLError",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "VersionBehaviour",
    "build",
    "build_drill",
    "dora_figure",
    "latency_under_load",
    "load",
    "load_drill",
    "load_scenario",
    "parse_duration",
    "query",
    "query_range",
    "sweep",
    "sweep_figure",
]

if TYPE_CHECKING:
    from simdeploy import sweep
    from simdeploy.k8s.duration import parse_duration
    from simdeploy.scenario.build import build, load
    from simdeploy.scenario.drill_build import build_drill
    from simdeploy.scenario.drill_loader import Drill, load_drill
    from simdeploy.scenario.errors import ScenarioError
    from simdeploy.scenario.loader import Scenario, load_scenario
    from simdeploy.sim.behaviour import VersionBehaviour
    from simdeploy.sim.latency import latency_under_load
    from simdeploy.sim.metrics.promql import PromQLError
    from simdeploy.sim.query import query, query_range
    from simdeploy.sim.simulation import Action, ClusterSettings, Simulation
    from simdeploy.sweep.dora_plot import dora_figure
    from simdeploy.sweep.plot import sweep_figure


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it here too
    if name not in _PUBLIC:
        raise AttributeError(f"module 'simdeploy' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC, *_MODULES})
