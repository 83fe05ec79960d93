"""simdeploy: replay Kubernetes rollouts and rollbacks in simulated time."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The public names and the modules that hold them, imported on first use so that `simdeploy --help`
# and `simdeploy validate` do not pay for the whole simulator.
_PUBLIC = {
    "Action": "simdeploy.sim.simulation",
    "ClusterSettings": "simdeploy.sim.simulation",
    "Scenario": "simdeploy.scenario.loader",
    "ScenarioError": "simdeploy.scenario.errors",
    "Simulation": "simdeploy.sim.simulation",
    "VersionBehaviour": "simdeploy.sim.behaviour",
    "build": "simdeploy.scenario.build",
    "load": "simdeploy.scenario.build",
    "load_scenario": "simdeploy.scenario.loader",
}
__all__ = [
    "Action",
    "ClusterSettings",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "VersionBehaviour",
    "build",
    "load",
    "load_scenario",
]

if TYPE_CHECKING:
    from simdeploy.scenario.build import build, load
    from simdeploy.scenario.errors import ScenarioError
    from simdeploy.scenario.loader import Scenario, load_scenario
    from simdeploy.sim.behaviour import VersionBehaviour
    from simdeploy.sim.simulation import Action, ClusterSettings, Simulation


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'simdeploy' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
