"""v2x-sim: a discrete-event simulator of a connected-vehicle demonstration zone.

Public API::

    import v2x_sim
    scenario = v2x_sim.load_scenario("scenarios/quickstart.yaml")
    result = v2x_sim.run(scenario, seed=1)
    result.summary["travel_time_mean_s"]
"""

__version__ = "0.1.0"

from v2x_sim.experiment.run import run, write_results  # noqa: E402
from v2x_sim.result import RunResult  # noqa: E402
from v2x_sim.scenario import Scenario, load_scenario  # noqa: E402
from v2x_sim.world import World, build_world  # noqa: E402

__all__ = [
    "RunResult",
    "Scenario",
    "World",
    "__version__",
    "build_world",
    "load_scenario",
    "run",
    "write_results",
]
