"""Wires the fast loop's reaction: warned connected vehicles and the traffic model.

Composition only: the hazard loop (compute side) reaches the vehicles through
`VehicleHooks` built here from the movement engine and the trip table, and decides
detours on the edge's own estimates (`EdgeSensing.latest`). Nothing here computes.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.compute.warning_reaction import VehicleHooks, WarningReaction
from v2x_sim.road.movements import TurnRules
from v2x_sim.road.network import Network
from v2x_sim.scenario.schema import Scenario
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.movement import LinkTraffic
from v2x_sim.v2x_model import V2XModel


def wire_warnings(scenario: Scenario, network: Network, v2x: V2XModel, traffic: LinkTraffic,
                  fleet: VehicleTable) -> None:
    """Give the hazard loop the vehicles' routes and, if asked, their reactions."""
    hooks = VehicleHooks(
        locate=traffic.current_or_origin_link, ahead=traffic.remaining_route,
        compliant=lambda vehicle: bool(fleet.compliant[vehicle]), reroute=traffic.reroute,
        slow=traffic.slow_on, queue_offsets=traffic.queue_offsets_m)
    hazards = v2x.hazards
    hazards.vehicles = hooks
    if not scenario.v2x.warning_reaction:
        return
    sensing = v2x.flows.feeds.sensing

    def estimate(edge: int) -> tuple[object, np.ndarray] | None:
        return sensing.latest(edge) if sensing is not None else None

    turns = TurnRules(network, u_turns_anywhere=scenario.road.u_turns == "anywhere")
    hazards.reaction = WarningReaction(network, hooks, estimate, turns,
                                       scenario.v2x.warning_speed_factor)
