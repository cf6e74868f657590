"""Time-dependent best paths that respect turn restrictions: the search on the links.

With a turn table (`turn_table`) the way on from a node depends on the link a vehicle
arrived by, so the label-correcting search of `td_paths` runs on the line graph: a
label is the earliest instant a vehicle reaches the *end of a link* (per origin and
departure row), and a link ``b`` is relaxed from every link ``a`` with an allowed
movement ``a -> b``: ``t_end[b] = t_end[a] + profile[b, t_end[a] // bin_s]``. The links
leaving the origin start at the departure time. A destination is reached by the best of
the links ending at it. U-turns away from dead ends are left out (as `turn_routing`
does). Like `td_paths.best_path_trees`, every round relaxes every movement for every row
with numpy, until no label improves.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network
from v2x_sim.road.td_paths import NO_LINK, in_link_matrix, link_cost, relax_once
from v2x_sim.road.turn_routing import TurnGraph

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_CELLS_PER_CHUNK = 2_000_000  # rows x links x predecessors per chunk: bounds memory


def _predecessors(graph: TurnGraph) -> IntArray:
    """Links with an allowed movement into each link, padded with `NO_LINK`: (links, k)."""
    n = graph.n_links
    order = np.argsort(graph.to_link, kind="stable")
    to = graph.to_link[order]
    counts = np.bincount(to, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    matrix = np.full((n, max(1, int(counts.max(initial=0)))), NO_LINK, dtype=np.int64)
    matrix[to, np.arange(to.size) - starts[to]] = graph.from_link[order]
    return matrix


def best_link_trees(graph: TurnGraph, profile: FloatArray, bin_s: float, origin: IntArray,
                    depart_s: FloatArray) -> tuple[FloatArray, IntArray]:
    """Earliest instant at each link's end, and the link before it, per (origin, time).

    Args:
        graph: the network's allowed movements (`turn_routing.TurnGraph`).
        profile: link time profile (links x bins).
        bin_s: its bin width.
        origin: origin node per row.
        depart_s: departure time per row.

    Returns:
        ``(arrival_s, previous_link)``, both (rows, links); inf and `NO_LINK` where a
        link cannot be reached, `NO_LINK` before a link leaving the origin.
    """
    network = graph.network
    n = network.n_links
    rows = origin.size
    arrival = np.full((rows, n), np.inf)
    previous = np.full((rows, n), NO_LINK, dtype=np.int64)
    preds = _predecessors(graph)
    valid = preds >= 0
    safe = np.where(valid, preds, 0)
    target = np.broadcast_to(np.arange(n)[:, None], preds.shape)
    chunk = max(1, _CELLS_PER_CHUNK // max(1, preds.size))
    for lo in range(0, rows, chunk):
        hi = min(rows, lo + chunk)
        arr, prev = arrival[lo:hi], previous[lo:hi]
        first = network.from_node[None, :] == origin[lo:hi, None]
        start = depart_s[lo:hi, None] + link_cost(
            profile, bin_s, np.broadcast_to(np.arange(n), first.shape),
            np.broadcast_to(depart_s[lo:hi, None], first.shape))
        arr[first] = start[first]
        for _ in range(n):
            # (rows, links, predecessors): arrival at each predecessor's end
            if not relax_once(arr, prev, arr[:, safe], valid, profile, bin_s,
                              cost_links=target, choices=safe):
                break
    return arrival, previous


def trace_link_paths(network: Network, arrival_s: FloatArray, previous: IntArray,
                     row: IntArray, origin: IntArray, destination: IntArray,
                     ) -> list[tuple[int, ...]]:
    """Link sequences from `best_link_trees` (empty where unreachable or origin == end).

    Args:
        network: the road network.
        arrival_s: the trees' arrival instants (rows, links).
        previous: the trees' previous links (rows, links).
        row: per wanted path, its tree row.
        origin: per wanted path, its origin.
        destination: per wanted path, its destination.
    """
    into = in_link_matrix(network)[destination]  # (paths, in-degree), NO_LINK padded
    t_end = np.where(into >= 0, arrival_s[row[:, None], np.maximum(into, 0)], np.inf)
    pick = t_end.argmin(axis=1)
    link = into[np.arange(row.size), pick]
    active = np.isfinite(t_end[np.arange(row.size), pick]) & (origin != destination)
    found = active.copy()
    steps = []
    for _ in range(network.n_links):
        if not active.any():
            break
        steps.append(np.where(active, link, NO_LINK))
        link = np.where(active, previous[row, np.maximum(link, 0)], NO_LINK)
        active &= link != NO_LINK
    if not steps:
        return [() for _ in range(row.size)]
    walk = np.stack(steps, axis=1)[:, ::-1]  # padding (NO_LINK) first, then the path
    start = (walk < 0).sum(axis=1).tolist()
    return [tuple(r[s:]) if ok else ()
            for r, s, ok in zip(walk.tolist(), start, found.tolist(), strict=True)]
