"""A window's delivered BSMs grouped into one arrival-sorted batch per edge node, compiled.

After the PC5 draws, the BSMs an RSU heard travel its fibre backhaul to its edge node:
keep the delivered ones, add the backhaul, count them per RSU, and order them by (edge
node, arrival) for the edge queues (`flows.group_by`: a stable sort of the arrival
rounded to the nanosecond). As numpy calls that was some twenty passes over a window's
~7,000 BSMs (~0.4 ms a window, mostly per-call overhead); here it is one compiled call.
`to_edges_reference` is the numpy composition it replaces, and a test keeps the two
equal bit for bit: the same floating-point operations in the same order, and the same
stable order (the permutation of a stable sort by (edge node, nanosecond) is unique, so
any stable sort by those keys gives numpy's: here a bucket pass and an insertion sort,
`_bucket_argsort`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.comms.flows import _RADIX_BITS, _radix_argsort, group_by

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

Batches = tuple[FloatArray, FloatArray, FloatArray, IntArray, FloatArray, IntArray]
"""(arrival, service, generation time) sorted by (edge node, arrival); each edge node's
[start, end) bounds in them; the delivered BSMs' air delays (in input order); BSMs
heard per RSU."""


def to_edges(ok: BoolArray, rsu: IntArray, born_s: FloatArray, air_s: FloatArray,
             service_s: FloatArray, fibre_s: FloatArray, edge_of: IntArray, n_edges: int,
             start_s: float) -> Batches:
    """The delivered BSMs of a window, per edge node, sorted by arrival.

    Args:
        ok: per BSM, whether the RSU heard it.
        rsu: the RSU it was sent to.
        born_s: when it was sent.
        air_s: its PC5 delay.
        service_s: the edge's service time of each delivered BSM, in input order (drawn
            by the caller: ``ok.sum()`` values).
        fibre_s: each RSU's backhaul delay to its edge node.
        edge_of: each device's edge node (RSUs first).
        n_edges: number of edge nodes.
        start_s: the window's start (the origin of the nanosecond keys).

    Returns:
        `Batches`.
    """
    out = _to_edges(ok, rsu, born_s, air_s, service_s, fibre_s, edge_of, n_edges,
                    float(start_s))
    if out is None:  # keys too wide for the packed form: numpy's path
        return to_edges_reference(ok, rsu, born_s, air_s, service_s, fibre_s, edge_of,
                                  n_edges, start_s)
    return out


def to_edges_reference(ok: BoolArray, rsu: IntArray, born_s: FloatArray, air_s: FloatArray,
                       service_s: FloatArray, fibre_s: FloatArray, edge_of: IntArray,
                       n_edges: int, start_s: float) -> Batches:
    """`to_edges` as numpy steps (the form it replaced; the test's oracle)."""
    rsu, born, air = rsu[ok], born_s[ok], air_s[ok]
    per_rsu = np.bincount(rsu, minlength=fibre_s.size)
    arrival = born + air + fibre_s[rsu]
    order, bounds = group_by(edge_of[rsu], arrival, n_edges, start_s)
    return arrival[order], service_s[order], born[order], bounds, air, per_rsu


@njit(cache=True, nogil=True)
def _to_edges(ok, rsu, born_s, air_s, service_s, fibre_s, edge_of, n_edges, start_s):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`to_edges` in one compiled call; None where `group_by` would take its wide keys."""
    n = 0
    for i in range(ok.shape[0]):
        n += ok[i]
    air = np.empty(n)
    born = np.empty(n)
    arrival = np.empty(n)
    key = np.empty(n, np.int64)
    tick = np.empty(n, np.int64)
    per_rsu = np.zeros(fibre_s.shape[0], np.int64)
    counts = np.zeros(n_edges + 1, np.int64)
    k = 0
    low = np.iinfo(np.int64).max
    high = np.iinfo(np.int64).min
    top = n_edges
    for i in range(ok.shape[0]):
        if not ok[i]:
            continue
        r = rsu[i]
        air[k] = air_s[i]
        born[k] = born_s[i]
        arrival[k] = born_s[i] + air_s[i] + fibre_s[r]
        per_rsu[r] += 1
        e = edge_of[r]
        key[k] = e
        counts[e + 1] += 1
        top = max(top, e + 1)
        t = np.int64(np.rint((arrival[k] - start_s) * 1e9))
        tick[k] = t
        low = min(low, t)
        high = max(high, t)
        k += 1
    if n == 0:
        return (arrival, service_s[:0].copy(), born, np.zeros(n_edges + 1, np.int64), air,
                per_rsu)
    span = high - low + 1
    # group_by's packed key, under its own condition (else its wide key: numpy's path)
    if low < 0 or high >= (1 << 40) or span >= (1 << 62) // top:
        return None
    kmin = np.iinfo(np.int64).max
    kmax = np.iinfo(np.int64).min
    for j in range(n):
        k = key[j] * span + (tick[j] - low)
        key[j] = k
        kmin = min(kmin, k)
        kmax = max(kmax, k)
    order, done = _bucket_argsort(key, kmin, kmax)
    if not done:  # keys bunched against the spread: the radix sort's passes
        wide = kmax - kmin
        bits = 0
        while wide > 0:
            bits += 1
            wide >>= 1
        order = _radix_argsort((key - kmin).astype(np.uint64), max(1, -(-bits // _RADIX_BITS)))
    for e in range(n_edges):
        counts[e + 1] += counts[e]
    return arrival[order], service_s[order], born[order], counts, air, per_rsu


@njit(cache=True, nogil=True)
def _bucket_argsort(key, low, high):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``np.argsort(key, kind="stable")`` for keys in [low, high] spread over that range.

    A window's keys (edge node, then arrival to the nanosecond) are spread about evenly
    over each edge node's span, so one counting pass on the top bits of ``key - low``
    (about one bucket per key) leaves a few keys per bucket, and an insertion sort
    finishes them in well under one move per key: two passes where the radix sort takes
    three of two loops each (about half the time on the zone's and the grid's windows).
    The counting pass keeps input order within a bucket and the insertion sort moves a
    key only past strictly greater ones, so the order is the (unique) stable one.

    Returns:
        (the order, True); (a partial order, False) when the keys bunch so that the
        insertion sort would take more than 16 moves per key (the caller sorts them
        another way).
    """
    n = key.shape[0]
    buckets = 2
    while buckets < n:
        buckets <<= 1
    shift = 0
    while ((high - low) >> shift) >= buckets:
        shift += 1
    count = np.zeros(buckets + 1, np.int64)
    for i in range(n):
        count[((key[i] - low) >> shift) + 1] += 1
    for b in range(buckets):
        count[b + 1] += count[b]
    order = np.empty(n, np.int64)
    for i in range(n):
        b = (key[i] - low) >> shift
        order[count[b]] = i
        count[b] += 1
    budget = 16 * n
    for i in range(1, n):
        j = order[i]
        k = key[j]
        at = i
        while at > 0 and key[order[at - 1]] > k:
            order[at] = order[at - 1]
            at -= 1
        budget -= i - at
        order[at] = j
        if budget < 0:
            return order, False
    return order, True
