"""Delay at signalised approaches, and what transit priority costs the cross approaches.

A vehicle's delay on an approach is its time on the link less the link's free-flow
time, ``(t_out - t_in) - L / v_f``: the wait for green and in the queue, plus any time
spent below free speed (congestion, incidents, a slow vehicle ahead). ``approaches.csv``
has one row per signalised approach: ``node, link, vehicles`` (that left it after the
warm-up) and ``mean_delay_s``.

Transit priority takes green from the approaches of the other phase (``lost``: the
forced-red windows `transit_priority.SignalOverrides` records). A cycle of such an
approach is *with a grant* when a lost window starts in it, or in the cycle before (the
queue the lost green left behind clears in the next one); cycles are counted from the
approach's effective green start, ``k = floor((t - green_start) / cycle)``, and a
vehicle belongs to the cycle it leaves in. Over the approaches that lost green at
least once, the mean delay of vehicles leaving in cycles with a grant against those
leaving in the other cycles, and ``cross_extra_delay_veh_h`` = (with - without) x
vehicles with / 3600: the delay the grants cost cross traffic, as far as cycles of the
same approaches compare (other cycles differ in demand too; the difference is noisy
where there are few grants).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

APPROACH_COLUMNS = ("node", "link", "vehicles", "mean_delay_s")

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def approach_table(link: IntArray, t_in_s: FloatArray, t_out_s: FloatArray, *,
                   free_flow_s: FloatArray, signalised: IntArray, to_node: IntArray,
                   node_ids: NDArray[Any], link_ids: NDArray[Any], warmup_s: float,
                   ) -> dict[str, NDArray[Any]]:
    """``approaches.csv``: vehicles and mean delay per signalised approach (module doc).

    Args:
        link: the link of each completed traversal.
        t_in_s: when it entered the link.
        t_out_s: when it left.
        free_flow_s: free-flow time per link.
        signalised: the approach links (links ending at a signal).
        to_node: end node per link.
        node_ids: external node ids.
        link_ids: external link ids.
        warmup_s: traversals leaving before this are left out.
    """
    late = t_out_s >= warmup_s
    n_links = free_flow_s.size
    delay = (t_out_s - t_in_s) - free_flow_s[link]
    count = np.bincount(link[late], minlength=n_links)
    total = np.bincount(link[late], weights=delay[late], minlength=n_links)
    rows = np.asarray(signalised, dtype=np.int64)
    mean = np.full(rows.size, np.nan)
    has = count[rows] > 0
    mean[has] = total[rows][has] / count[rows][has]
    return {"node": np.asarray(node_ids, dtype=object)[to_node[rows]],
            "link": np.asarray(link_ids, dtype=object)[rows],
            "vehicles": count[rows].astype(np.int64), "mean_delay_s": mean}


def cross_priority_delay(link: IntArray, t_in_s: FloatArray, t_out_s: FloatArray, *,
                         free_flow_s: FloatArray, lost: list[tuple[int, float, float]],
                         cycle_s: FloatArray, green_start_s: FloatArray, warmup_s: float,
                         ) -> dict[str, Any]:
    """Delay on the approaches that lost green, in cycles with a grant and without.

    Args:
        link: the link of each completed traversal.
        t_in_s: when it entered the link.
        t_out_s: when it left.
        free_flow_s: free-flow time per link.
        lost: forced-red windows (approach link, start, end) of the grants.
        cycle_s: the plan's cycle per link.
        green_start_s: the plan's effective green start per link.
        warmup_s: traversals leaving before this are left out.

    Returns:
        ``cross_vehicles_with_grant``, ``cross_vehicles_without_grant``,
        ``cross_delay_with_grant_s``, ``cross_delay_without_grant_s`` (None without
        vehicles) and ``cross_extra_delay_veh_h`` (None unless both have vehicles).
    """
    affected: dict[int, set[int]] = {}
    for a, t0, _ in lost:
        k = math.floor((t0 - green_start_s[a]) / cycle_s[a])
        affected.setdefault(a, set()).update((k, k + 1))
    with_grant: list[float] = []
    without: list[float] = []
    if affected:
        on = np.isin(link, list(affected)) & (t_out_s >= warmup_s)
        for k, t0, t1 in zip(link[on].tolist(), t_in_s[on].tolist(), t_out_s[on].tolist(),
                             strict=True):
            cycle = math.floor((t1 - green_start_s[k]) / cycle_s[k])
            delay = (t1 - t0) - float(free_flow_s[k])
            (with_grant if cycle in affected[k] else without).append(delay)
    mean_with = float(np.mean(with_grant)) if with_grant else None
    mean_without = float(np.mean(without)) if without else None
    extra = (None if mean_with is None or mean_without is None
             else (mean_with - mean_without) * len(with_grant) / 3600.0)
    return {"cross_vehicles_with_grant": len(with_grant),
            "cross_vehicles_without_grant": len(without),
            "cross_delay_with_grant_s": mean_with,
            "cross_delay_without_grant_s": mean_without,
            "cross_extra_delay_veh_h": extra}
