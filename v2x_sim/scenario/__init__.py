"""Scenario schema, YAML loading with overrides, and bundled presets."""

from v2x_sim.scenario.loader import (
    apply_overrides,
    apply_settings,
    load_scenario,
    override_scenario,
    scenario_from_dict,
)
from v2x_sim.scenario.presets import Preset, list_presets
from v2x_sim.scenario.schema import Scenario
from v2x_sim.scenario.sections import VehicleKind

__all__ = [
    "Preset",
    "Scenario",
    "VehicleKind",
    "apply_overrides",
    "apply_settings",
    "list_presets",
    "load_scenario",
    "override_scenario",
    "scenario_from_dict",
]
