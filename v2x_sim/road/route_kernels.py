"""Compiled scans behind the next-hop tables: the cheapest member of each CSR group.

A next-hop table is derived from one destination's distances: per node the cheapest
leaving link (`network.cheapest_out_link`), per link the cheapest allowed next link
(`turn_routing.TurnGraph.next_links`). With rerouting every vehicle every minute that is
thousands of tables an hour (6,110 on the 10x10 grid with `dynamic_shortest`), and the
sort over every link or movement that picked the cheapest per group cost 31-77 us a
table there (3-4 us with these scans). The groups are already contiguous (the network's
and the turn graph's CSR arrays), so one pass over them picks the same member: the
least cost, ties to the member listed first (the lower link index, or the movement
listed first), which is what a stable sort by (group, cost) puts first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit


@njit(cache=True, nogil=True)
def cheapest_per_group(members: NDArray[np.int64], offsets: NDArray[np.int64],
                       via: NDArray[np.float64]) -> NDArray[np.int64]:  # pragma: no cover
    """Per group ``g``: the member ``m`` of ``members[offsets[g]:offsets[g+1]]``, least ``via[m]``.

    Every non-empty group gets one, even when all its costs are infinite (a node with
    no way to the destination still has a leaving link); NaN ranks after every number,
    as in a sort. Ties go to the member listed first. -1 for an empty group.
    """
    n_groups = len(offsets) - 1
    out = np.full(n_groups, -1, dtype=np.int64)
    for group in range(n_groups):
        start, stop = offsets[group], offsets[group + 1]
        if start == stop:
            continue
        best = members[start]
        best_via = via[best]
        for i in range(start + 1, stop):
            member = members[i]
            cost = via[member]
            if cost < best_via or (best_via != best_via and cost == cost):
                best, best_via = member, cost
        out[group] = best
    return out


@njit(cache=True, nogil=True)
def cheapest_finite_successor(succ: NDArray[np.int64], offsets: NDArray[np.int64],
                              cost_s: NDArray[np.float64], dist: NDArray[np.float64]
                              ) -> NDArray[np.int64]:  # pragma: no cover
    """Per link ``a``, the successor ``b`` with least finite ``cost_s[b] + dist[b]``.

    Successors of ``a`` are ``succ[offsets[a]:offsets[a+1]]``; ties go to the one listed
    first; -1 where no successor has a finite cost (none leads to the destination).
    """
    n = len(offsets) - 1
    out = np.full(n, -1, dtype=np.int64)
    for link in range(n):
        best = -1
        best_via = np.inf
        for i in range(offsets[link], offsets[link + 1]):
            nxt = succ[i]
            cost = cost_s[nxt] + dist[nxt]
            if cost < best_via:
                best, best_via = nxt, cost
        out[link] = best
    return out
