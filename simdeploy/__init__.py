"""simdeploy: replay Kubernetes rollouts and rollbacks in simulated time."""

from simdeploy.scenario.build import build, load
from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.loader import Scenario, load_scenario
from simdeploy.sim.behaviour import VersionBehaviour
from simdeploy.sim.simulation import Action, ClusterSettings, Simulation

__version__ = "0.1.0"
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
