"""Time-dependent link travel times and the paths that are best under them.

A *link time profile* is a matrix (links x bins): the mean time to traverse a link for
vehicles entering it during each bin of ``bin_s`` seconds (the last bin extends to
infinity). A vehicle entering link ``l`` at ``t`` needs ``profile[l, t // bin_s]``.

Best paths from many (origin, departure time) pairs at once come from a vectorised
label-correcting search (Bellman-Ford over arrival times): every round relaxes every
link for every pair with numpy, until no arrival time improves. Path costs are walked
link by link for all paths at once. Both are pure functions of arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
NO_LINK = -1
_CELLS_PER_CHUNK = 2_000_000  # rows x nodes x in-degree per chunk: bounds memory (~16 MB)


def link_time_profile(link: IntArray, t_in_s: FloatArray, t_out_s: FloatArray, *,
                      free_flow_s: FloatArray, horizon_s: float, bin_s: float) -> FloatArray:
    """Mean traversal time per link and entry-time bin; free flow where nobody entered.

    Args:
        link: link of each traversal.
        t_in_s: when it entered.
        t_out_s: when it left (vehicles still on a link may be given with the horizon:
            their time so far).
        free_flow_s: free-flow time per link (for empty bins).
        horizon_s: end of the period profiled.
        bin_s: bin width.
    """
    n_links = free_flow_s.size
    n_bins = max(1, int(np.ceil(horizon_s / bin_s)))
    b = np.minimum((t_in_s // bin_s).astype(np.int64), n_bins - 1)
    key = link * n_bins + b
    total = np.bincount(key, weights=t_out_s - t_in_s, minlength=n_links * n_bins)
    count = np.bincount(key, minlength=n_links * n_bins)
    profile = np.repeat(free_flow_s[:, None], n_bins, axis=1).ravel()
    seen = count > 0
    profile[seen] = np.maximum(total[seen] / count[seen], 0.0)
    return profile.reshape(n_links, n_bins)


def link_cost(profile: FloatArray, bin_s: float, links: IntArray, t_s: FloatArray) -> FloatArray:
    """Time to traverse each of ``links`` entered at ``t_s``: ``profile[l, t // bin_s]``."""
    b = np.clip((t_s // bin_s).astype(np.int64), 0, profile.shape[1] - 1)
    return profile[links, b]


def relax_once(arr: FloatArray, pred: IntArray, t_from: FloatArray, valid: NDArray[np.bool_],
               profile: FloatArray, bin_s: float, *, cost_links: IntArray,
               choices: IntArray) -> bool:
    """One Bellman-Ford round of a time-dependent search, every row at once.

    ``t_from[r, j, s]`` is when row ``r`` can enter candidate ``s`` of item ``j`` (an
    in-link of a node, or a predecessor link of a link); entering it then costs
    ``link_cost`` of link ``cost_links[..]``. Items that arrive earlier through their
    best candidate are updated in place (``arr``) with the chosen ``choices[j, s]`` in
    ``pred``. Returns whether any item improved (no improvement: the search is done).
    """
    reach = valid[None, :, :] & np.isfinite(t_from)
    cost = link_cost(profile, bin_s, np.broadcast_to(cost_links, t_from.shape),
                     np.where(reach, t_from, 0.0))
    cand = np.where(reach, t_from + cost, np.inf)
    slot = cand.argmin(axis=2)
    best = np.take_along_axis(cand, slot[:, :, None], axis=2)[:, :, 0]
    better = best < arr - 1e-9
    if not better.any():
        return False
    arr[better] = best[better]
    pred[better] = choices[np.nonzero(better)[1], slot[better]]
    return True


def in_link_matrix(network: Network) -> IntArray:
    """Incoming links of every node, padded with `NO_LINK`: shape (nodes, max in-degree)."""
    degree = np.diff(network.in_offsets)
    width = max(1, int(degree.max()))
    matrix = np.full((network.n_nodes, width), NO_LINK, dtype=np.int64)
    for slot in range(width):
        has = degree > slot
        matrix[has, slot] = network.in_links[network.in_offsets[:-1][has] + slot]
    return matrix


def best_path_trees(network: Network, profile: FloatArray, bin_s: float,
                    origin: IntArray, depart_s: FloatArray) -> tuple[FloatArray, IntArray]:
    """Earliest arrival at every node, and the link used to reach it, per (origin, time).

    Args:
        network: the road network.
        profile: link time profile (links x bins).
        bin_s: its bin width.
        origin: origin node per row.
        depart_s: departure time per row.

    Returns:
        ``(arrival_s, last_link)``, both (rows, nodes); unreachable nodes have inf and
        `NO_LINK`, origins their departure time and `NO_LINK`.
    """
    rows = origin.size
    arrival = np.full((rows, network.n_nodes), np.inf)
    last = np.full((rows, network.n_nodes), NO_LINK, dtype=np.int64)
    in_links = in_link_matrix(network)
    valid = in_links >= 0
    safe = np.where(valid, in_links, 0)
    upstream = network.from_node[safe]
    chunk = max(1, _CELLS_PER_CHUNK // max(1, in_links.size))
    for lo in range(0, rows, chunk):
        hi = min(rows, lo + chunk)
        arr = arrival[lo:hi]
        arr[np.arange(hi - lo), origin[lo:hi]] = depart_s[lo:hi]
        pred = last[lo:hi]
        for _ in range(network.n_nodes):
            # (rows, nodes, slots): arrival at each in-link's start, cost on that link
            if not relax_once(arr, pred, arr[:, upstream], valid, profile, bin_s,
                              cost_links=safe, choices=safe):
                break
    return arrival, last


def trace_paths(network: Network, last_link: IntArray, row: IntArray, origin: IntArray,
                destination: IntArray) -> list[tuple[int, ...]]:
    """Link sequences from the trees of `best_path_trees` (empty where unreachable).

    Args:
        network: the road network.
        last_link: the trees' ``last_link`` (rows, nodes).
        row: per wanted path, its tree row.
        origin: per wanted path, its origin (the tree's root).
        destination: per wanted path, its destination.
    """
    n = row.size
    node = destination.copy()
    steps = []
    active = node != origin
    for _ in range(network.n_nodes):
        if not active.any():
            break
        link = np.where(active, last_link[row, node], NO_LINK)
        active &= link != NO_LINK
        steps.append(np.where(active, link, NO_LINK))
        node = np.where(active, network.from_node[np.maximum(link, 0)], node)
        active &= node != origin
    reached = node == origin
    if not steps:
        return [() for _ in range(n)]
    walk = np.stack(steps, axis=1)[:, ::-1]  # padding (NO_LINK) first, then the path
    start = (walk < 0).sum(axis=1).tolist()
    return [tuple(r[s:]) if ok else ()
            for r, s, ok in zip(walk.tolist(), start, reached.tolist(), strict=True)]


def path_costs(paths: list[tuple[int, ...]], depart_s: FloatArray, profile: FloatArray,
               bin_s: float) -> FloatArray:
    """Travel time of each path for its departure time, walking the time-dependent links."""
    if not paths:
        return np.zeros(0)
    width = max(len(p) for p in paths)
    matrix = np.full((len(paths), width), NO_LINK, dtype=np.int64)
    for i, p in enumerate(paths):
        matrix[i, : len(p)] = p
    t = np.asarray(depart_s, dtype=np.float64).copy()
    for step in range(width):
        links = matrix[:, step]
        on = links >= 0
        t[on] += link_cost(profile, bin_s, links[on], t[on])
    return t - depart_s
