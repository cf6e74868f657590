"""v2x-sim: a discrete-event simulator of a connected-vehicle demonstration zone.

Public API::

    import v2x_sim
    scenario = v2x_sim.load_scenario("scenarios/quickstart.yaml")
    result = v2x_sim.run(scenario, seed=1)
    result.summary["travel_time_mean_s"]

The names below are imported on first use (PEP 562), so ``import v2x_sim`` and the
``v2x-sim`` command start without loading numpy, scipy, pydantic, numba and
matplotlib; the first attribute access pays for what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from v2x_sim._core.version import __version__

if TYPE_CHECKING:  # what the names are, for type checkers and documentation tools
    from v2x_sim.experiment.compare import compare, replicate
    from v2x_sim.experiment.files import load_results
    from v2x_sim.experiment.run import run, write_results
    from v2x_sim.experiment.scenarios import compare_scenarios
    from v2x_sim.experiment.sweep import sweep
    from v2x_sim.result import RunResult
    from v2x_sim.scenario import Scenario, load_scenario
    from v2x_sim.world import World, build_world

_LAZY = {
    "RunResult": "v2x_sim.result",
    "Scenario": "v2x_sim.scenario",
    "World": "v2x_sim.world",
    "build_world": "v2x_sim.world",
    "compare": "v2x_sim.experiment.compare",
    "compare_scenarios": "v2x_sim.experiment.scenarios",
    "load_results": "v2x_sim.experiment.files",
    "load_scenario": "v2x_sim.scenario",
    "replicate": "v2x_sim.experiment.compare",
    "run": "v2x_sim.experiment.run",
    "sweep": "v2x_sim.experiment.sweep",
    "write_results": "v2x_sim.experiment.run",
}

__all__ = [
    "RunResult",
    "Scenario",
    "World",
    "__version__",
    "build_world",
    "compare",
    "compare_scenarios",
    "load_results",
    "load_scenario",
    "replicate",
    "run",
    "sweep",
    "write_results",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'v2x_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
