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
