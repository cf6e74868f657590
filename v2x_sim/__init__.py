"""v2x-sim: a discrete-event simulator of a connected-vehicle demonstration zone.

Public API::

    import v2x_sim
    scenario = v2x_sim.load_scenario("scenarios/quickstart.yaml")
    result = v2x_sim.run(scenario, seed=1)
    result.summary["travel_time_mean_s"]
"""

from v2x_sim._core.version import __version__
from v2x_sim.experiment.compare import compare, replicate
from v2x_sim.experiment.run import run, write_results
from v2x_sim.experiment.sweep import sweep
from v2x_sim.result import RunResult
from v2x_sim.scenario import Scenario, load_scenario
from v2x_sim.world import World, build_world

__all__ = [
    "RunResult",
    "Scenario",
    "World",
    "__version__",
    "build_world",
    "compare",
    "load_scenario",
    "replicate",
    "run",
    "sweep",
    "write_results",
]
