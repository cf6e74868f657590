"""How well warnings reached the vehicles that drove into a hazard, and what reacting cost.

After a run, per hazard: the connected vehicles that **reached** it (entered its link
while it was active: from its start to its end, the run's end if it never ended) and how
many of them had been warned **before** they entered the link (in time to react). Over
all warned vehicles: how many reacted (detour or slowing) and the mean travel time of
the trips that reacted against those warned that did not (arrived trips only; the two
groups differ in where they were when warned, so this is a description, not a causal
estimate: compare runs with ``v2x.warning_reaction`` on and off for that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim.compute.warning_dissemination import HazardWarnings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def reaching(link: int, start_s: float, end_s: float, vehicle: IntArray, link_of: IntArray,
             t_in_s: FloatArray, connected: NDArray[np.bool_], warned_at: dict[int, float],
             departed_s: FloatArray | None = None) -> tuple[int, int, int]:
    """(reaching, warned before entering, from their origin) for a hazard on ``link``.

    Reaching: connected vehicles that entered ``link`` in [start, end).
    ``vehicle, link_of, t_in_s``: every link entry of the run (traversals, open ones
    included); a vehicle entering twice counts once, at its first entry in the window.
    ``departed_s``: per vehicle, its first link entry of the run; those whose entry here
    is their first started their trip on the hazard link (no warning can reach a vehicle
    before it is on the road: the third count).
    """
    end = end_s if math.isfinite(end_s) else math.inf
    on = (link_of == link) & (t_in_s >= start_s) & (t_in_s < end) & connected[vehicle]
    if not on.any():
        return 0, 0, 0
    veh, t_in = vehicle[on], t_in_s[on]
    order = np.lexsort((t_in, veh))
    first = np.ones(order.size, dtype=bool)
    first[1:] = veh[order[1:]] != veh[order[:-1]]
    veh, t_in = veh[order[first]], t_in[order[first]]
    warned = np.array([warned_at.get(v, math.inf) for v in veh.tolist()]) < t_in
    origin = 0 if departed_s is None else int((departed_s[veh] == t_in).sum())
    return int(veh.size), int(warned.sum()), origin


def warning_effects(records: Sequence[Any], warnings: dict[int, HazardWarnings], *,
                    vehicle: IntArray, link_of: IntArray, t_in_s: FloatArray,
                    connected: NDArray[np.bool_], travel_time_s: FloatArray,
                    by_hazard: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``hazards`` keys on reaching and reacting; adds per-hazard counts to ``by_hazard``.

    ``travel_time_s`` per trip (NaN: not arrived).
    """
    reached = warned_before = from_origin = 0
    departed = np.full(connected.size, math.inf)
    np.minimum.at(departed, vehicle, t_in_s)
    for record, entry in zip(records, by_hazard, strict=True):
        state = warnings.get(record.hazard)
        n, w, o = reaching(record.link, record.start_s, record.end_s, vehicle, link_of,
                           t_in_s, connected, state.warned_at if state else {}, departed)
        entry["cv_reaching"], entry["cv_reaching_warned"] = n, w
        entry["cv_reaching_from_origin"] = o
        reached += n
        warned_before += w
        from_origin += o
    reactions: dict[int, str] = {}
    for state in warnings.values():
        for v, what in state.reaction.items():  # reacting to any hazard counts
            if what != "none" or v not in reactions:
                reactions[v] = what
    warned = {v for state in warnings.values() for v in state.warned_at}
    acted = np.array(sorted(v for v, what in reactions.items() if what != "none"), np.int64)
    idle = np.array(sorted(warned - set(acted.tolist())), np.int64)

    def mean_time(ids: IntArray) -> float | None:
        times = travel_time_s[ids] if ids.size else np.zeros(0)
        times = times[np.isfinite(times)]
        return float(times.mean()) if times.size else None

    return {
        "warned_vehicles": len(warned),
        "cv_reaching": reached,
        "cv_reaching_warned": warned_before,
        "cv_reaching_warned_share": warned_before / reached if reached else None,
        "cv_reaching_from_origin": from_origin,
        "warned_reacted": int(acted.size),
        "warned_detoured": sum(r.detoured for r in records),
        "warned_slowed": sum(r.slowed for r in records),
        "travel_time_warned_reacted_mean_s": mean_time(acted),
        "travel_time_warned_not_reacted_mean_s": mean_time(idle),
    }
