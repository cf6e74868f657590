"""What the incidents active on a link do to it: lanes, speed cap, rates, storage.

A pure function of the link's active incidents, called when one starts or ends.

Work zones: an incident with ``length_m`` > 0 closes its lanes over that length
(from ``position_m``). The closed lanes hold nothing there, so the link's storage
shrinks by ``k_jam * lanes_closed * length_m``; vehicles queue upstream of the zone in
what is left. The capacity drop is served by the link's exit server, which stands for
the zone: with FIFO and the stretch after the zone uncongested, a queue served at the
zone followed by free running to the link's end gives every vehicle the same exit
instant as the same queue served at the end (the running time is the same, only its
order differs), so the zone's position changes where the queue stands (its storage),
not when vehicles leave. A speed cap slows vehicles over the zone's length (along the
whole link for a point incident); its flow cap, ``capped_capacity``, acts at the exit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from v2x_sim.road.fundamental_diagram import capped_capacity

IncidentSpec = tuple[int, float, float, float]
"""(lanes_closed, speed_cap_mps, capacity_factor, length_m) of one active incident."""


class LinkUnderIncidents(NamedTuple):
    """A link's parameters while its incidents last."""

    lanes_open: int
    speed_cap_mps: float
    cap_zone_m: float
    exit_rate_vps: float
    entry_rate_vps: float
    storage_veh: float


def under_incidents(active: list[IncidentSpec], *, diagram: str, lanes: int,
                    capacity_vps_per_lane: float, free_speed_mps: float,
                    jam_density_vpm_per_lane: float, wave_speed_mps: float,
                    storage_veh: float) -> LinkUnderIncidents:
    """The link's parameters with ``active`` incidents (none: its own).

    Lanes open = lanes - sum of lanes closed (at least 0); speed cap = the lowest;
    exit rate = per-lane capacity (capped under a speed cap) x lanes open x the product
    of capacity factors; entry rate = per-lane capacity x all lanes (closures act at a
    point, a speed cap along the link); capped length = the longest capped zone, 0 (the
    whole link) if a capped incident has no length; storage = ``storage_veh`` - k_jam x sum of
    lanes closed x zone length (at least 0).
    """
    lanes_open = max(0, lanes - sum(e[0] for e in active))
    cap = min([math.inf] + [e[1] for e in active])
    factor = math.prod(e[2] for e in active)
    per_lane = capacity_vps_per_lane
    if cap < math.inf:
        per_lane = capped_capacity(diagram, cap, free_speed_mps, per_lane,
                                   jam_density_vpm_per_lane, wave_speed_mps)
    capped = [e[3] for e in active if e[1] < math.inf]
    cap_zone_m = 0.0 if not capped or min(capped) <= 0.0 else max(capped)
    lost = jam_density_vpm_per_lane * sum(min(e[0], lanes) * e[3] for e in active)
    return LinkUnderIncidents(lanes_open=lanes_open, speed_cap_mps=cap, cap_zone_m=cap_zone_m,
                              exit_rate_vps=per_lane * lanes_open * factor,
                              entry_rate_vps=per_lane * lanes,
                              storage_veh=max(0.0, storage_veh - lost))
