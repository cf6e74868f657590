"""The ``scale:`` knob: grow or shrink a scenario's vehicles, devices and zone together.

``scale: 2`` asks for the same scenario at twice the size: demand rates (random OD and
flows) times 2, roadside devices placed by count times 2 (at least one of a group that
had any), and for the zone generator (``road.generator: demo_zone``) a network of twice
the area, on which devices placed by spacing double by themselves. On any other network
the roads stay as they are, so devices placed by spacing stand ``scale`` times closer.

What is not scaled, on purpose: edge nodes and the cloud (how far today's platform
carries a growing zone is the question the bundled ``phase3_growth`` sweep asks; sweep
``edge.nodes`` beside ``scale`` to size them), explicit trips and trip files (one row is
one vehicle), shuttle lines (a timetable), and devices at listed positions.

The scaled scenario is what the world is built from and what a results folder's
``scenario.yaml`` holds: every value already scaled and ``scale: 1``, so re-running it
reproduces the run; the factor applied is kept for the file's header.
"""

from __future__ import annotations

from typing import Any

from v2x_sim.scenario.loader import scenario_from_dict
from v2x_sim.scenario.schema import SCALE_MAX, SCALE_MIN, Scenario

__all__ = ["SCALE_MAX", "SCALE_MIN", "applied_scale", "scale_notes", "scaled_scenario"]


def _scaled_placement(placement: dict[str, Any], factor: float, *,
                      network_scaled: bool) -> None:
    """Scale one device group's placement in place (count, or spacing on a fixed network)."""
    if placement["mode"] == "count":
        count = int(placement["count"])
        # halves round up (10 x 0.25 = 2.5 -> 3), and a group that had devices keeps one
        placement["count"] = max(1, int(count * factor + 0.5)) if count > 0 else 0
    elif placement["mode"] == "spacing" and not network_scaled:
        placement["spacing_m"] = float(placement["spacing_m"]) / factor


def scaled_scenario(scenario: Scenario) -> Scenario:
    """The scenario with its ``scale`` applied to the fields it scales, and ``scale: 1``.

    Applying it twice changes nothing more (the result's scale is 1), so every place
    that builds from a scenario may call it. A scenario at scale 1 comes back as is.
    """
    factor = scenario.scale
    if factor == 1.0:
        return scenario
    data = scenario.to_plain()
    data["scale"] = 1.0
    demand = data["demand"]
    if demand.get("random") is not None:
        demand["random"]["rate_vph"] = float(demand["random"]["rate_vph"]) * factor
    for flow in demand["flows"]:
        flow["rate_vph"] = float(flow["rate_vph"]) * factor
    network_scaled = data["road"]["generator"] == "demo_zone"
    if network_scaled:
        data["road"]["demo_zone"]["scale"] = float(data["road"]["demo_zone"]["scale"]) * factor
    roadside = data["roadside"]
    _scaled_placement(roadside["rsu"]["placement"], factor, network_scaled=network_scaled)
    for group in roadside["sensors"]:
        _scaled_placement(group["placement"], factor, network_scaled=network_scaled)
    scaled = scenario_from_dict(data, base_dir=scenario.base_dir)
    scaled._applied_scale = factor * scenario._applied_scale
    return scaled


def applied_scale(scenario: Scenario) -> float:
    """The factor `scaled_scenario` applied to produce ``scenario`` (1 if none)."""
    return scenario._applied_scale


def scale_notes(scenario: Scenario) -> list[str]:
    """What ``scale`` leaves alone in this scenario that a reader may expect it to scale.

    One line each, for a warning: explicit trips, a trip file, shuttle lines, devices at
    listed positions, and node or link ids that mean other places in a resized zone.
    """
    factor = scenario.scale
    if factor == 1.0:
        return []
    notes = []
    demand = scenario.demand
    if demand.trips or demand.trips_file:
        notes.append(f"scale {factor:g} multiplies demand rates only: the "
                     f"{'trip file' if demand.trips_file else 'listed trips'} keeps its trips")
    if scenario.vehicles.shuttle_lines:
        notes.append(f"scale {factor:g} leaves vehicles.shuttle_lines as they are")
    groups = [scenario.roadside.rsu.placement, *(s.placement for s in scenario.roadside.sensors)]
    if any(p.mode == "list" for p in groups):
        notes.append(f"scale {factor:g} leaves devices at listed positions as they are")
    refers = (bool(scenario.incidents) or bool(scenario.vehicles.shuttle_lines)
              or bool(demand.flows) or bool(demand.trips)
              or (demand.random is not None and (demand.random.origins is not None
                                                 or demand.random.destinations is not None)))
    if scenario.road.generator == "demo_zone" and refers:
        notes.append(f"scale {factor:g} resizes the demo zone: its node and link ids "
                     "name other places than at scale 1")
    return notes
