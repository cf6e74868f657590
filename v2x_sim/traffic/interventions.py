"""What the world does to the road while vehicles move: incidents, warnings, new routes.

The engine (`movement.LinkTraffic`) inherits this class; these calls come from outside
the link servers (an incident's window, a warned driver, route advice) and each wakes
the link it changes, so the servers' hot path never checks for them.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from v2x_sim.road.movements import TurnRules
from v2x_sim.road.network import Network
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.incidents import IncidentSpec, under_incidents
from v2x_sim.traffic.moving_on import MoveOn
from v2x_sim.traffic.storage import LinkStorage


class Interventions:
    """Incidents, warned drivers' slow-downs and reroutes (the engine sets the attributes)."""

    env: simpy.Environment
    network: Network
    fleet: VehicleTable
    diagram: str
    n_links: int
    _active: list[list[IncidentSpec]]
    _lanes: list[int]
    _cap: list[float]
    _vf: list[float]
    _kj: list[float]
    _w: list[float]
    _space: LinkStorage
    _move_on: MoveOn
    _turns: TurnRules
    _to_node: list[int]
    _slowed: dict[int, float]
    _in_held: list[tuple[int, int] | None]
    _head: list[int]
    _q_veh: list[list[int]]
    speed_cap_mps: list[float]
    speed_cap_zone_m: list[float]
    exit_rate_vps: list[float]
    _entry_rate: list[float]
    routes: list[list[int]]
    route_pos: list[int]
    stops: dict[int, dict[int, float]]

    _wake: Callable[[int, float], None]  # (server, at)
    current_or_origin_link: Callable[[int], int]  # (vehicle) -> link or -1

    def set_incident(self, link: int, incident_id: int, *, lanes_closed: int,
                     speed_cap_mps: float, capacity_factor: float, active: bool,
                     length_m: float = 0.0) -> None:
        """Start or end an incident on ``link`` and wake its exit with the new capacity.

        Its effect on lanes, rates and storage (work zones): `incidents.under_incidents`.
        """
        entries = self._active[link]
        entry = (lanes_closed, speed_cap_mps, capacity_factor, length_m)
        if active:
            entries.append(entry)
        else:
            entries.remove(entry)
        now = under_incidents(
            entries, diagram=self.diagram, lanes=self._lanes[link],
            capacity_vps_per_lane=self._cap[link], free_speed_mps=self._vf[link],
            jam_density_vpm_per_lane=self._kj[link], wave_speed_mps=self._w[link],
            storage_veh=self._space.base_veh[link])
        self.speed_cap_mps[link], self.speed_cap_zone_m[link] = now.speed_cap_mps, now.cap_zone_m
        self.exit_rate_vps[link] = now.exit_rate_vps
        self._entry_rate[link] = now.entry_rate_vps
        self._space.storage_veh[link] = now.storage_veh
        self._move_on.set_closed(link, now.lanes_open == 0)
        self._wake(link, self.env.now)

    def slow_on(self, vehicle: int, link: int, factor: float) -> None:
        """``vehicle`` drives ``link`` at ``factor`` x its speed at its next entry (a warning)."""
        self._slowed[vehicle * self.n_links + link] = factor

    def reroute(self, vehicle: int, new_tail: list[int]) -> bool:
        """Replace the links after the current one with ``new_tail`` (from its end node).

        Returns False, changing nothing, when the vehicle is not on a link, has arrived,
        has stops ahead (shuttles, deliveries keep their itinerary), or ``new_tail`` does
        not start where its link ends, starts with a forbidden U-turn or takes a movement
        the turn table does not list. A rerouted head vehicle wakes its link at once.
        """
        link = self.current_or_origin_link(vehicle)
        if link < 0 or vehicle in self.stops or not new_tail:
            return False
        if (self.network.from_node[new_tail[0]] != self._to_node[link]
                or not self._turns.route_allowed(link, new_tail)):
            return False
        pos = self.route_pos[vehicle]
        if self.routes[vehicle][pos + 1:] == new_tail:
            return False
        self.routes[vehicle] = self.routes[vehicle][: pos + 1] + list(new_tail)
        self.fleet.reroutes[vehicle] += 1
        self._in_held[link] = None  # its movement may have changed (`lane_groups`)
        # a head vehicle blocked by its old next link may go at once on the new one
        head, on_link = self._head[link], self._q_veh[link]
        if head < len(on_link) and on_link[head] == vehicle:
            self._wake(link, self.env.now)
        return True
