"""The compiled pass behind `estimator.estimate_grouped`: every edge node's estimates at once.

One loop over the zones sums what each (subset, link) cell needs (watched length,
corrected counts, moving vehicles, spot speeds, the farthest-upstream standing vehicle,
the fastest measured drain), and one loop over the cells turns the sums into density and
travel time. It replaces some forty numpy passes over zones and cells (~0.4 ms a reading
round at full scale, a round every aggregate period); the arithmetic is the same
operation by operation, in the same order as those passes (``np.bincount`` adds its
weights in input order), so the estimates are identical to the last bit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@njit(cache=True, error_model="numpy")
def estimate_kernel(group: IntArray, n_groups: int, zone_link: IntArray, length_m: FloatArray,
                    corrected: FloatArray, moving: FloatArray, speed_sum_mps: FloatArray,
                    tail_m: FloatArray, drain_vps: FloatArray, use_drain: bool,
                    road: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray,
                                FloatArray, FloatArray, FloatArray],
                    ) -> tuple[FloatArray, FloatArray, BoolArray]:  # pragma: no cover
    """(travel time, density, measured), each (n_groups, n_links), as `estimator` defines.

    Args:
        group: subset of each zone (-1: in none).
        n_groups: number of subsets.
        zone_link: each zone's link.
        length_m: each zone's watched length.
        corrected: each zone's count with expected ghosts taken out and misses divided out.
        moving: moving vehicles the zone saw.
        speed_sum_mps: the sum of their spot speeds.
        tail_m: the farthest-upstream standing vehicle's position (NaN: none).
        drain_vps: measured discharge per zone (NaN: unknown).
        use_drain: whether ``drain_vps`` is given (else the nominal drain everywhere).
        road: `RoadFacts` columns (length, lanes, free speed, saturation flow, jam
            density, cycle, green, onward capacity), per link.
    """
    length, lanes, free_speed, saturation, jam, cycle, green, onward = road
    n = length.size
    watched = np.zeros((n_groups, n))
    count = np.zeros((n_groups, n))
    moved = np.zeros((n_groups, n))
    speed_sum = np.zeros((n_groups, n))
    tail = np.full((n_groups, n), np.inf)
    seen = np.full((n_groups, n), np.inf)
    for z in range(group.size):
        g = group[z]
        if g < 0:
            continue
        lk = zone_link[z]
        watched[g, lk] += length_m[z]
        count[g, lk] += corrected[z]
        moved[g, lk] += moving[z]
        speed_sum[g, lk] += speed_sum_mps[z]
        t = tail_m[z]
        if not np.isnan(t) and t < tail[g, lk]:
            tail[g, lk] = t
        if use_drain:
            d = drain_vps[z]
            if not np.isnan(d) and d < seen[g, lk]:
                seen[g, lk] = d
    travel = np.full((n_groups, n), np.nan)
    density = np.full((n_groups, n), np.nan)
    measured = watched > 0
    for lk in range(n):
        signalised = cycle[lk] > 0
        share = green[lk] / cycle[lk] if signalised else 1.0
        nominal = min(saturation[lk] * share, onward[lk])
        red = cycle[lk] - green[lk] if signalised else 0.0
        red_wait = red * red / (2.0 * cycle[lk]) if signalised else 0.0
        for g in range(n_groups):
            if not measured[g, lk]:
                continue
            total = count[g, lk]
            # np.maximum(total, 0.0): NaN and -0.0 pass through unchanged
            density[g, lk] = (total if total >= 0.0 or np.isnan(total) else 0.0) / watched[g, lk]
            m = moved[g, lk]
            speed = speed_sum[g, lk] / m if m > 0 else free_speed[lk]
            drain = nominal
            if np.isfinite(seen[g, lk]):
                drain = min(seen[g, lk], saturation[lk])
            queue = 0.0
            if np.isfinite(tail[g, lk]):
                queue = (length[lk] - tail[g, lk]) * lanes[lk] * jam[lk]
            wait = queue / drain if queue > 0 else red_wait
            travel[g, lk] = length[lk] / speed + wait
    return travel, density, measured
