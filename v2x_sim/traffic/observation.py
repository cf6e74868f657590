"""Ground-truth observations of the road, vectorised over all links at once.

What a perfect observer sees now: the travel time a vehicle entering each link would
need, and each link's density. The oracle policy and the sensors' aggregates read
these; the cloud's belief never does directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from v2x_sim.road.fundamental_diagram import MIN_SPEED_MPS

if TYPE_CHECKING:
    from v2x_sim.traffic.movement import LinkTraffic


def true_density_vpm(traffic: LinkTraffic) -> np.ndarray:
    """Vehicles on each link now per metre of link (all lanes)."""
    fleet = traffic.fleet
    n = len(fleet)
    link = fleet.link[:n]
    return np.bincount(link[link >= 0], minlength=traffic.n_links) / traffic.network.length_m


def speed_array(traffic: LinkTraffic, density: np.ndarray) -> np.ndarray:
    """The fundamental diagram over all links at once (the scalar formulas, vectorised)."""
    net = traffic.network
    vf, q, kj = net.free_speed_mps, net.capacity_vps_per_lane, net.jam_density_vpm_per_lane
    if traffic.diagram == "greenshields":
        return np.maximum(MIN_SPEED_MPS, vf * (1.0 - density / kj))
    with np.errstate(divide="ignore", invalid="ignore"):
        congested = np.asarray(traffic.wave_speed_mps) * (kj / density - 1.0)
    congested = np.minimum(vf, np.maximum(MIN_SPEED_MPS, congested))
    return np.where(density * vf <= q, vf, congested)


def true_travel_time_s(traffic: LinkTraffic) -> np.ndarray:
    """The time a vehicle entering each link now would need.

    Moving time L / v(k) at the current moving density (capped at critical, as for
    entering vehicles, and by any speed cap), plus the time the exit needs to discharge
    the vehicles standing in its queue; a closed link costs 1e6 s.
    """
    now = traffic.env.now
    fleet = traffic.fleet
    n = len(fleet)
    link = fleet.link[:n]
    on = link >= 0
    at_end = fleet.ready_s[:n][on] <= now
    standing = np.bincount(link[on][at_end], minlength=traffic.n_links)
    moving = np.bincount(link[on], minlength=traffic.n_links) - standing
    net = traffic.network
    density = np.minimum(moving / (net.length_m * net.lanes), traffic.critical_density)
    speed = np.minimum(speed_array(traffic, density), np.asarray(traffic.speed_cap_mps))
    rate = np.asarray(traffic.exit_rate_vps)
    with np.errstate(divide="ignore"):
        queue_s = np.where(rate > 0, standing / np.where(rate > 0, rate, 1.0), 1e6)
    return net.length_m / speed + queue_s
