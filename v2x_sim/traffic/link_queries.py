"""What the link engine can tell about the road now, without moving anything.

Read-only queries over `movement.LinkTraffic`'s state (a base class, so the engine
module keeps to moving vehicles): counts per link, ground truth
(`observation`), the traversals still open.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque

import numpy as np
import simpy

from v2x_sim.road.network import Network
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.observation import true_density_vpm, true_travel_time_s


class LinkQueries:
    """Queries of the engine's live state (the engine sets these attributes)."""

    env: simpy.Environment
    network: Network
    fleet: VehicleTable
    n_links: int
    _q_veh: list[list[int]]
    _q_ready: list[list[float]]
    _head: list[int]
    _origin_q: list[deque[int]]
    _entered: list[float]
    routes: list[list[int]]
    route_pos: list[int]

    def remaining_route(self, vehicle: int) -> list[int]:
        """Links still ahead of ``vehicle`` after the one it is on."""
        return self.routes[vehicle][self.route_pos[vehicle] + 1:]

    def current_or_origin_link(self, vehicle: int) -> int:
        """The link ``vehicle`` is on, or the first link it waits at its origin to enter.

        -1 once it has arrived (or before it departed).
        """
        if vehicle >= len(self.fleet) or not np.isnan(self.fleet.arrive_s[vehicle]):
            return -1
        link = int(self.fleet.link[vehicle])
        if link < 0 and np.isnan(self.fleet.first_entry_s[vehicle]) and self.routes[vehicle]:
            return int(self.routes[vehicle][0])  # still queued at its origin for space
        return link

    def travel_time_s(self) -> np.ndarray:
        """Ground truth travel time per link now (`observation.true_travel_time_s`)."""
        return true_travel_time_s(self)  # type: ignore[arg-type]  # self is a LinkTraffic

    def density_vpm(self) -> np.ndarray:
        """Ground truth vehicles per metre per link now (all lanes)."""
        return true_density_vpm(self)  # type: ignore[arg-type]  # self is a LinkTraffic

    def vehicles_on(self, link: int) -> int:
        """Vehicles on a link now (moving and queued)."""
        return len(self._q_veh[link]) - self._head[link]

    def queued_on(self, link: int) -> int:
        """Vehicles standing in the exit queue of a link now."""
        h, ready = self._head[link], self._q_ready[link]
        return bisect_right(ready, self.env.now, h) - h

    def queue_offsets_m(self, vehicles: np.ndarray) -> np.ndarray:
        """Distance from its link's start of each given vehicle standing in an exit queue.

        What the vehicle's own position says: the queue ahead of it (itself included,
        in PCE) packed at jam density over the link's lanes, ``L - pce / (lanes k_j)``.
        A vehicle not standing in a queue is at its link's end.
        """
        net, now = self.network, self.env.now
        out = np.empty(len(vehicles))
        for i, vehicle in enumerate(np.asarray(vehicles).tolist()):
            link = int(self.fleet.link[vehicle])
            on, ready, head = self._q_veh[link], self._q_ready[link], self._head[link]
            ahead, found = 0.0, False
            for k in range(head, bisect_right(ready, now, head)):
                ahead += float(self.fleet.pce[on[k]])
                if on[k] == vehicle:
                    found = True
                    break
            if not found:
                ahead = 0.0
            per_m = float(net.lanes[link] * net.jam_density_vpm_per_lane[link])
            out[i] = float(net.length_m[link]) - ahead / per_m
        return out

    def waiting_at_origin(self, link: int) -> int:
        """Vehicles waiting to enter ``link`` from its origin queue."""
        return len(self._origin_q[link])

    def open_traversals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(vehicle, link, t_in) of every vehicle still on a link now."""
        veh: list[int] = []
        links: list[int] = []
        t_in: list[float] = []
        for link in range(self.n_links):
            on = self._q_veh[link][self._head[link]:]
            veh.extend(on)
            links.extend([link] * len(on))
            t_in.extend(self._entered[v] for v in on)
        return (np.asarray(veh, dtype=np.int64), np.asarray(links, dtype=np.int64),
                np.asarray(t_in, dtype=np.float64))
