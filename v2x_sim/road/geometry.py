"""Where links run and what is near what: points along links, nearest links and points.

Every query here costs O((n + m) log m) through `scipy.spatial.cKDTree`, never an
n x m distance matrix, so building a world stays linear in the size of the network
(a 3,000 km network has ~240,000 coverage cells; a matrix against 10,000 RSUs would
hold 2.4 billion distances). Results equal the brute-force answer exactly: distances
are recomputed with the same formula a brute force uses, and ties go to the lower
index (rows whose candidate list ends in a tie ask the tree for more).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from v2x_sim.road.network import Network

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_CHUNK = 16_384
"""Queries answered per round (memory ~ chunk x (k + 1) per array, whatever the total)."""
_TIE_RTOL = 1e-9
"""Candidates this close to the cut are treated as tied (tree and brute force may round
differently in the last bits)."""


def undirected_roads(network: Network) -> IntArray:
    """One link per two-way road (the one with from < to, or the only direction)."""
    n = network.n_nodes
    forward = network.from_node * n + network.to_node
    backward = network.to_node * n + network.from_node
    has_reverse = np.isin(forward, backward)
    return np.flatnonzero(~has_reverse | (network.from_node < network.to_node))


def point_on_link(network: Network, link: IntArray, offset_m: FloatArray) -> tuple[
        FloatArray, FloatArray]:
    """Coordinates of points ``offset_m`` along links.

    Along the link's shape when it has one (the offset scaled from ``length_m`` to the
    polyline's own length), else straight between its end nodes.
    """
    link = np.asarray(link, np.int64)
    offset_m = np.asarray(offset_m, np.float64)
    share = offset_m / network.length_m[link]
    x0, y0 = network.x_m[network.from_node[link]], network.y_m[network.from_node[link]]
    x1, y1 = network.x_m[network.to_node[link]], network.y_m[network.to_node[link]]
    x, y = x0 + share * (x1 - x0), y0 + share * (y1 - y0)
    shapes = network.shapes
    if shapes is None or link.size == 0:
        return x, y
    shaped = shapes.offsets[link + 1] > shapes.offsets[link]
    if shaped.any():
        x, y = x.copy(), y.copy()
        sx, sy = _along_shapes(network, link[shaped], share[shaped])
        x[shaped], y[shaped] = sx, sy
    return x, y


def _along_shapes(network: Network, link: IntArray, share: FloatArray) -> tuple[
        FloatArray, FloatArray]:
    """Points at ``share`` (0..1) of the way along the shapes of ``link`` (all shaped)."""
    shapes = network.shapes
    assert shapes is not None
    px, py = shapes.x_m, shapes.y_m
    seg_len = np.hypot(np.diff(px), np.diff(py))
    # cumulative length at every point; segments that cross from one link to the next
    # are never selected because the search below is bounded to each link's own points
    cum = np.concatenate(([0.0], np.cumsum(seg_len)))
    first, last = shapes.offsets[link], shapes.offsets[link + 1] - 1
    target = cum[first] + np.clip(share, 0.0, 1.0) * (cum[last] - cum[first])
    seg = np.searchsorted(cum, target, side="right") - 1
    seg = np.clip(seg, first, np.maximum(last - 1, first))
    span = cum[seg + 1] - cum[seg]
    t = np.where(span > 0, (target - cum[seg]) / np.where(span > 0, span, 1.0), 0.0)
    return px[seg] + t * (px[seg + 1] - px[seg]), py[seg] + t * (py[seg + 1] - py[seg])


def k_nearest(query_x: FloatArray, query_y: FloatArray, x: FloatArray, y: FloatArray, k: int,
              reach_m: FloatArray | None = None) -> tuple[IntArray, FloatArray]:
    """The ``k`` nearest of the points (x, y) to each query point, nearest first.

    Args:
        query_x: query points, x.
        query_y: query points, y.
        x: the points searched, x.
        y: the points searched, y.
        k: how many neighbours per query.
        reach_m: per searched point, the largest distance at which it counts (an RSU's
            radio range); None for no limit.

    Returns:
        ``(index, distance)``, each ``(n_queries, k)``; -1 and inf where fewer than
        ``k`` points are within reach. Distances are ``np.hypot(query - point)``; equal
        distances are ordered by index, exactly as a stable brute-force sort would.
    """
    query_x, query_y = np.asarray(query_x, np.float64), np.asarray(query_y, np.float64)
    n = len(query_x)
    index = np.full((n, k), -1, np.int64)
    distance = np.full((n, k), np.inf)
    if n == 0 or len(x) == 0 or k == 0:
        return index, distance
    reach = None if reach_m is None else np.asarray(reach_m, np.float64)
    groups = [np.arange(len(x))] if reach is None else [
        np.flatnonzero(reach == r) for r in np.unique(reach)]
    trees = [(members, cKDTree(np.column_stack((x[members], y[members]))),
              np.inf if reach is None else float(reach[members[0]])) for members in groups]
    for start in range(0, n, _CHUNK):  # bounded memory whatever the number of queries
        rows = slice(start, min(n, start + _CHUNK))
        parts = [_group_candidates(query_x[rows], query_y[rows], x, y, members, tree, k, limit)
                 for members, tree, limit in trees]
        all_i = np.concatenate([p[0] for p in parts], axis=1)
        all_d = np.concatenate([p[1] for p in parts], axis=1)
        best_i, best_d = _first_k(all_i, all_d, k)
        index[rows, :best_i.shape[1]] = best_i
        distance[rows, :best_d.shape[1]] = best_d
    return index, distance


def _first_k(index: IntArray, distance: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
    """Per row, the ``k`` candidates with the smallest (distance, index)."""
    key = np.where(index >= 0, index, np.iinfo(np.int64).max)
    order = np.lexsort((key, distance), axis=1)[:, :k]
    return np.take_along_axis(index, order, axis=1), np.take_along_axis(distance, order, axis=1)


def _group_candidates(query_x: FloatArray, query_y: FloatArray, x: FloatArray, y: FloatArray,
                      members: IntArray, tree: cKDTree, k: int, limit: float
                      ) -> tuple[IntArray, FloatArray]:
    """The ``k`` nearest ``members`` (within ``limit``) of each query, by a tree over them.

    The tree is asked for ``k + 1``; a row whose last candidate ties its k-th (within
    rounding) may hide further equals, so it is asked again for twice as many, until the
    list ends past the tie or holds every member.
    """
    n, size = len(query_x), len(members)
    bound = limit * (1 + 1e-12) + 1e-9 if np.isfinite(limit) else np.inf
    out_i = np.full((n, k), -1, np.int64)
    out_d = np.full((n, k), np.inf)
    rows = np.arange(n)
    want = min(k + 1, size)
    while rows.size:
        _, found = tree.query(np.column_stack((query_x[rows], query_y[rows])), k=want,
                              distance_upper_bound=bound)
        found = np.asarray(found, np.int64).reshape(rows.size, want)
        valid = found < size
        idx = np.where(valid, members[np.minimum(found, size - 1)], -1)
        safe = np.maximum(idx, 0)
        d = np.where(valid, np.hypot(query_x[rows, None] - x[safe],
                                     query_y[rows, None] - y[safe]), np.inf)
        d = np.where(d <= limit, d, np.inf)
        idx = np.where(np.isfinite(d), idx, -1)
        best_i, best_d = _first_k(idx, d, k)
        if want < size and want > k:  # the last candidate ties the k-th: equals may follow
            last = d.max(axis=1, where=np.isfinite(d), initial=-np.inf)
            tied = np.isfinite(d).all(axis=1) & (
                last <= best_d[:, k - 1] * (1 + _TIE_RTOL) + 1e-12)
        else:
            tied = np.zeros(rows.size, bool)
        done = ~tied
        out_i[rows[done], :best_i.shape[1]] = best_i[done]
        out_d[rows[done], :best_d.shape[1]] = best_d[done]
        rows = rows[tied]
        want = min(2 * want, size)
    return out_i, out_d


def nearest_on_segments(query_x: FloatArray, query_y: FloatArray, ax: FloatArray,
                        ay: FloatArray, bx: FloatArray, by: FloatArray,
                        sample_m: float = 50.0) -> tuple[IntArray, FloatArray, FloatArray]:
    """For each query point, the nearest segment (lowest index on ties) and where on it.

    The segments are sampled every ``sample_m`` (ends included) into a k-d tree. The
    nearest sample's segment bounds the answer by its exact distance D; every point of
    a segment lies within ``sample_m / 2`` of one of its samples, so only segments with
    a sample within ``D + sample_m / 2`` can be closer, and those are checked exactly
    (orthogonal projection clamped to the segment, as a brute force would).

    Returns:
        ``(segment, t, distance)``: segment index, position on it as a share 0..1 from
        ``a`` to ``b``, and the distance.
    """
    n_seg = len(ax)
    dx, dy = bx - ax, by - ay
    norm = np.maximum(dx * dx + dy * dy, 1e-12)
    pieces = np.maximum(1, np.ceil(np.hypot(dx, dy) / sample_m).astype(np.int64))
    owner = np.repeat(np.arange(n_seg), pieces + 1)
    starts = np.concatenate(([0], np.cumsum(pieces + 1)[:-1]))
    share = (np.arange(len(owner)) - starts[owner]) / pieces[owner]
    tree = cKDTree(np.column_stack((ax[owner] + share * dx[owner],
                                    ay[owner] + share * dy[owner])))

    def exact(q: int, seg: IntArray) -> tuple[FloatArray, FloatArray]:
        qx, qy = query_x[q], query_y[q]
        t = np.clip(((qx - ax[seg]) * dx[seg] + (qy - ay[seg]) * dy[seg]) / norm[seg], 0.0, 1.0)
        return t, np.hypot(ax[seg] + t * dx[seg] - qx, ay[seg] + t * dy[seg] - qy)

    n = len(query_x)
    seg_out, t_out, d_out = np.zeros(n, np.int64), np.zeros(n), np.zeros(n)
    if n == 0:
        return seg_out, t_out, d_out
    _, first = tree.query(np.column_stack((query_x, query_y)))
    for q in range(n):
        _, bound = exact(q, owner[first[q]:first[q] + 1])
        near = tree.query_ball_point((query_x[q], query_y[q]),
                                     float(bound[0]) + sample_m / 2 + 1e-6)
        seg = np.unique(owner[np.asarray(near, np.int64)])
        t, d = exact(q, seg)
        best = int(np.argmin(d))  # seg is sorted: argmin takes the lowest index on ties
        seg_out[q], t_out[q], d_out[q] = seg[best], t[best], d[best]
    return seg_out, t_out, d_out


def link_segments(network: Network, links: IntArray) -> tuple[
        IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The straight pieces of ``links``: one per link, or one per piece of its shape.

    Returns:
        ``(owner, ax, ay, bx, by, start_m, scale)``: the position in ``links`` each
        segment belongs to, its end points, where it starts along the link (metres of
        ``length_m``) and the factor from its own metres to the link's ``length_m``.
    """
    links = np.asarray(links, np.int64)
    length = network.length_m[links]
    ax, ay = network.x_m[network.from_node[links]], network.y_m[network.from_node[links]]
    bx, by = network.x_m[network.to_node[links]], network.y_m[network.to_node[links]]
    shapes = network.shapes
    if shapes is None:
        owner = np.arange(len(links))
        return owner, ax, ay, bx, by, np.zeros(len(links)), length / np.maximum(
            np.hypot(bx - ax, by - ay), 1e-12)
    points = shapes.offsets[links + 1] - shapes.offsets[links]
    pieces = np.where(points >= 2, points - 1, 1)
    owner = np.repeat(np.arange(len(links)), pieces)
    first_piece = np.concatenate(([0], np.cumsum(pieces)[:-1]))
    k = np.arange(len(owner)) - first_piece[owner]
    shaped = points[owner] >= 2
    last = len(shapes.x_m) - 1  # a shapes table holds at least one polyline
    p = np.minimum(shapes.offsets[links][owner] + k, last)
    p1 = np.minimum(p + 1, last)
    sax = np.where(shaped, shapes.x_m[p], ax[owner])
    say = np.where(shaped, shapes.y_m[p], ay[owner])
    sbx = np.where(shaped, shapes.x_m[p1], bx[owner])
    sby = np.where(shaped, shapes.y_m[p1], by[owner])
    seg_len = np.hypot(sbx - sax, sby - say)
    cum = np.cumsum(seg_len)
    before = cum - seg_len
    start_of_link = before[first_piece]
    shape_len = np.bincount(owner, weights=seg_len, minlength=len(links))
    scale = length / np.maximum(shape_len, 1e-12)
    return (owner, sax, say, sbx, sby, (before - start_of_link[owner]) * scale[owner],
            scale[owner])
