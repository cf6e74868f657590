"""The compiled passes behind `sensors.read_zones`: every vehicle against the zones it is in.

One loop over the vehicles on links (each checked only against the zones overlapping its
`ZONE_CELL_M` cell) accumulates what each zone sees. It replaces a dozen numpy passes
over (vehicle, zone) pairs, which cost ~2-4 ms a reading at full scale (a reading every
aggregate period, 5 s, for ~8,500 zones). The noise is drawn beforehand with numpy's
generator, one uniform and one normal number per candidate pair (a vehicle and a zone
overlapping its cell), so the draws stay vectorised and a run a function of its seed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@njit(cache=True)
def read_kernel(noisy: bool, min_speed_mps: float, cell: IntArray, cell_ptr: IntArray,
                cell_zone: IntArray, lo_m: FloatArray, hi_m: FloatArray, miss: FloatArray,
                sigma: FloatArray, offset_m: FloatArray, speed_mps: FloatArray,
                uniform: FloatArray, normal: FloatArray,
                ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Count, moving, speed sum, stopped, farthest-upstream stopped position (NaN: none).

    ``cell`` is each vehicle's cell; candidate pair ``k`` (in the order vehicles, then
    the zones of its cell) uses ``uniform[k]`` (missed when below the zone's miss
    probability) and ``normal[k]`` (the speed error in units of σ). ``noisy=False``
    gives expected values: misses as fractions, no speed error (the draws are unused).
    """
    n = lo_m.size
    count, moving, speed_sum, stopped = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    tail = np.full(n, np.inf)
    k = 0
    for v in range(cell.size):
        pos, speed = offset_m[v], speed_mps[v]
        for j in range(cell_ptr[cell[v]], cell_ptr[cell[v] + 1]):
            z = cell_zone[j]
            draw = k
            k += 1
            if pos < lo_m[z] or pos > hi_m[z]:
                continue
            seen = (1.0 if uniform[draw] >= miss[z] else 0.0) if noisy else 1.0 - miss[z]
            count[z] += seen
            if speed <= 0.0:
                stopped[z] += seen
                if seen > 0.0 and pos < tail[z]:
                    tail[z] = pos
            else:
                measured = speed + sigma[z] * normal[draw] if noisy else speed
                moving[z] += seen
                speed_sum[z] += seen * max(measured, min_speed_mps)
    for z in range(n):
        if np.isinf(tail[z]):
            tail[z] = np.nan
    return count, moving, speed_sum, stopped, tail


@njit(cache=True)
def extras_kernel(count: FloatArray, moving: FloatArray, speed_sum: FloatArray,
                  ghost_cum: FloatArray, ghost_u: FloatArray, ghost_normal: FloatArray,
                  free_speed_mps: FloatArray, sigma: FloatArray, exit_zone: IntArray,
                  exit_seen: FloatArray, vehicle_length_m: FloatArray,
                  lane_length_m: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Add the ghosts in place; (occupancy, exits) per zone, in one pass each.

    Ghost ``i`` lands in the first zone whose running rate sum exceeds ``ghost_u[i]``
    (already scaled by the total: numpy's ``searchsorted(side="right")``), clipped to the
    last zone, and moves at its zone's free speed plus ``sigma * ghost_normal[i]``. The
    ghosts' counts and speed sums are summed apart and then added to the detections',
    as numpy's ``bincount`` and ``+=`` do (same roundings). ``exit_seen[j]`` vehicles
    were seen leaving through zone ``exit_zone[j]``.
    """
    n = count.size
    ghosts = np.zeros(n)
    ghost_speed = np.zeros(n)
    for i in range(ghost_u.size):
        z = np.searchsorted(ghost_cum, ghost_u[i], side="right")
        if z > n - 1:
            z = n - 1
        ghosts[z] += 1.0
        ghost_speed[z] += free_speed_mps[z] + sigma[z] * ghost_normal[i]
    exits = np.zeros(n)
    for j in range(exit_zone.size):
        exits[exit_zone[j]] = exit_seen[j]
    occupancy = np.empty(n)
    for z in range(n):
        count[z] += ghosts[z]
        moving[z] += ghosts[z]
        speed_sum[z] += ghost_speed[z]
        occupancy[z] = count[z] * vehicle_length_m[z] / lane_length_m[z]
    return occupancy, exits
