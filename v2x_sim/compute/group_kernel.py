"""One window of every edge node's queue in one compiled call (serial or across cores).

The edge nodes are independent queues, so a window of all of them is, node by node:
merge the node's carry with its new messages (`_merge_node`), serve them beside its
fixed stream (the sensor frames) through the Kiefer-Wolfowitz kernel
(`queueing.serve_streams`), then keep what arrived after the window as the next carry
and hand over the content-carrying departures (`_tail_node`). Each step writes only
its node's slice of flat output arrays whose bounds are worked out first, so the nodes
can run in any order or at once: `serve_group` runs them one after another,
`serve_group_parallel` spreads them over numba's threads (``prange``) with the same
arithmetic per node, hence bit-identical results. One call per window replaces a call,
its argument tuple and its Python before and after for each of the edge nodes.

A node's streams (the layout of `streams.StreamSet`) are positions
``bounds[e]:bounds[e + 1]`` of flat arrays; payloads are -1 where a message carries
none. The merges are stable (a tie goes to the carry, then the new messages, then the
extra ones), which is what merging the carry with (new merged with extra) gives.
"""

from __future__ import annotations

import numba
import numpy as np

from v2x_sim._core.jit import njit
from v2x_sim.compute.queueing import serve_streams


@njit(cache=True, nogil=True)
def _sorted(a, lo, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Whether ``a[lo:hi]`` never decreases."""
    for i in range(lo + 1, hi):  # noqa: SIM110 - compiled: numba has no all(generator)
        if a[i] < a[i - 1]:
            return False
    return True


@njit(cache=True, nogil=True)
def _merge_node(e, parts, o_off, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Node ``e``'s carry, new and extra messages, merged into ``out`` at ``o_off[e]``.

    ``parts`` = three (arrival, service, kind, born, payload, bounds) sources in tie
    order. Returns False (nothing written) if a source's slice is not sorted.
    """
    (ca, cs, ck, cb, cp, c_off), (ba, bs, bk, bb, bp, b_off), (xa, xs, xk, xb, xp, x_off) = parts
    oa, os_, ok, ob, op = out
    c, c_end = c_off[e], c_off[e + 1]
    b, b_end = b_off[e], b_off[e + 1]
    x, x_end = x_off[e], x_off[e + 1]
    if not (_sorted(ca, c, c_end) and _sorted(ba, b, b_end) and _sorted(xa, x, x_end)):
        return False
    b_has = bp.shape[0] > 0
    x_has = xp.shape[0] > 0
    at = o_off[e]
    inf = np.inf
    while c < c_end or b < b_end or x < x_end:
        t_c = ca[c] if c < c_end else inf
        t_b = ba[b] if b < b_end else inf
        t_x = xa[x] if x < x_end else inf
        if c < c_end and t_c <= t_b and t_c <= t_x:
            oa[at], os_[at], ok[at], ob[at], op[at] = ca[c], cs[c], ck[c], cb[c], cp[c]
            c += 1
        elif b < b_end and (x >= x_end or t_b <= t_x):
            oa[at], os_[at], ok[at], ob[at] = ba[b], bs[b], bk[b], bb[b]
            op[at] = bp[b] if b_has else -1
            b += 1
        else:
            oa[at], os_[at], ok[at], ob[at] = xa[x], xs[x], xk[x], xb[x]
            op[at] = xp[x] if x_has else -1
            x += 1
        at += 1
    return True


@njit(cache=True, nogil=True)
def _serve_node(e, fixed, other, o_has, state, limits, done, used):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Node ``e``'s window through `serve_streams`; messages consumed into ``used[e]``.

    Departures are written (into ``done``'s slices) only where the node's window
    carries content, as the one-pool call does.
    """
    fa, fs, fk, fb, _, f_off, f_has, shift = fixed
    oa, os_, ok, ob, _, o_off = other
    free, free_off, counts, stats, hist, busy, wait = state
    window_end_s, horizon_s, deadline_s, slot_s = limits
    done_f, done_o = done
    f0, f1 = f_off[e], f_off[e + 1]
    o0, o1 = o_off[e], o_off[e + 1]
    node_free = free[free_off[e]:free_off[e + 1]]
    if f_has or o_has[e]:
        a, b, _, _ = serve_streams(
            fa[f0:f1], fs[f0:f1], fk[f0:f1], fb[f0:f1], oa[o0:o1], os_[o0:o1], ok[o0:o1],
            ob[o0:o1], node_free, window_end_s, horizon_s, deadline_s, counts[e], stats[e],
            hist[e], slot_s, busy[e], wait[e], done_f[f0:f1] if f_has else done_f[0:0],
            done_o[o0:o1] if o_has[e] else done_o[0:0], shift)
    else:
        a, b, _, _ = serve_streams(
            fa[f0:f1], fs[f0:f1], fk[f0:f1], fb[f0:f1], oa[o0:o1], os_[o0:o1], ok[o0:o1],
            ob[o0:o1], node_free, window_end_s, horizon_s, deadline_s, counts[e], stats[e],
            hist[e], slot_s, busy[e], wait[e], None, None, shift)
    used[e, 0] = a
    used[e, 1] = b


@njit(cache=True, nogil=True)
def _tail_node(e, fixed, other, o_has, used, done, carry, handed):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Node ``e``'s new carry (what arrived after the window) and content handed over.

    The carry interleaves the fixed stream's rest (shifted into absolute times) with
    the other's rest, ties to the fixed one; the hand-over lists the fixed stream's
    served content then the other's, each in stream order.
    """
    fa, fs, fk, fb, fp, f_off, f_has, shift = fixed
    oa, os_, ok, ob, op, o_off = other
    done_f, done_o = done
    ca, cs, ck, cb, cp, c_off, c_has = carry
    h_done, h_payload, h_kind, h_off = handed
    f = f_off[e] + used[e, 0]
    f_end = f_off[e + 1]
    o = o_off[e] + used[e, 1]
    o_end = o_off[e + 1]
    at = c_off[e]
    has = False
    t_f = 0.0
    while f < f_end or o < o_end:
        if f < f_end:
            t_f = fa[f] + shift if shift != 0.0 else fa[f]
        if f < f_end and not (o < o_end and oa[o] < t_f):
            ca[at], cs[at], ck[at] = t_f, fs[f], fk[f]
            cb[at] = fb[f] + shift if shift != 0.0 else fb[f]
            cp[at] = fp[f] if f_has else -1
            f += 1
        else:
            ca[at], cs[at], ck[at], cb[at], cp[at] = oa[o], os_[o], ok[o], ob[o], op[o]
            o += 1
        if cp[at] >= 0:
            has = True
        at += 1
    c_has[e] = has
    at = h_off[e]
    if f_has:
        for i in range(f_off[e], f_off[e] + used[e, 0]):
            if fp[i] >= 0:
                h_done[at], h_payload[at], h_kind[at] = done_f[i], fp[i], fk[i]
                at += 1
    if o_has[e]:
        for i in range(o_off[e], o_off[e] + used[e, 1]):
            if op[i] >= 0:
                h_done[at], h_payload[at], h_kind[at] = done_o[i], op[i], ok[i]
                at += 1


@njit(cache=True, nogil=True)
def _other_bounds(parts, c_has, nodes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Bounds of the merged streams, and whether each node's carries content ids."""
    (_, _, _, _, _, c_off), (_, _, _, _, bp, b_off), (_, _, _, _, xp, x_off) = parts
    o_off = np.zeros(nodes + 1, np.int64)
    o_has = np.zeros(nodes, np.bool_)
    for e in range(nodes):
        n_c = c_off[e + 1] - c_off[e]
        n_b = b_off[e + 1] - b_off[e]
        n_x = x_off[e + 1] - x_off[e]
        o_off[e + 1] = o_off[e] + n_c + n_b + n_x
        o_has[e] = ((n_c > 0 and c_has[e]) or (n_b > 0 and bp.shape[0] > 0)
                    or (n_x > 0 and xp.shape[0] > 0))
    return o_off, o_has


@njit(cache=True, nogil=True)
def _tail_bounds(f_off, o_off, used, fp, f_has, op, o_has, nodes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Bounds of the new carries and of the content handed over, node by node."""
    c_off = np.zeros(nodes + 1, np.int64)
    h_off = np.zeros(nodes + 1, np.int64)
    for e in range(nodes):
        c_off[e + 1] = (c_off[e] + f_off[e + 1] - f_off[e] - used[e, 0]
                        + o_off[e + 1] - o_off[e] - used[e, 1])
        n = 0
        if f_has:
            for i in range(f_off[e], f_off[e] + used[e, 0]):
                n += fp[i] >= 0
        if o_has[e]:
            for i in range(o_off[e], o_off[e] + used[e, 1]):
                n += op[i] >= 0
        h_off[e + 1] = h_off[e] + n
    return c_off, h_off


@njit(cache=True, nogil=True)
def _merged_space(parts, c_has, nodes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The merged streams' bounds and content flags, arrays to merge into, a flag each."""
    o_off, o_has = _other_bounds(parts, c_has, nodes)
    n_other = o_off[nodes]
    out = (np.empty(n_other), np.empty(n_other), np.empty(n_other, np.int64),
           np.empty(n_other), np.empty(n_other, np.int64))
    return o_off, o_has, out, np.zeros(nodes, np.bool_)


@njit(cache=True, nogil=True)
def _finish_group(fixed, other, o_has, used, done, nodes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Allocate the carries and hand-over of a served window (their bounds first)."""
    c_off, h_off = _tail_bounds(fixed[5], other[5], used, fixed[4], fixed[6], other[4],
                                o_has, nodes)
    n_c, n_h = c_off[nodes], h_off[nodes]
    carry = (np.empty(n_c), np.empty(n_c), np.empty(n_c, np.int64), np.empty(n_c),
             np.empty(n_c, np.int64), c_off, np.zeros(nodes, np.bool_))
    handed = (np.empty(n_h), np.empty(n_h, np.int64), np.empty(n_h, np.int64), h_off)
    return carry, handed


@njit(cache=True, nogil=True)
def serve_group(fixed, parts, c_has, state, limits):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Serve one window of every node, one node after another.

    Args:
        fixed: (arrival, service, kind, born, payload, bounds, has payload, shift): the
            fixed streams (sensor frames; ``shift`` added to their times as read).
        parts: the carry, the window's new messages and extra messages, each
            (arrival, service, kind, born, payload, bounds); an empty payload: none.
        c_has: per node, whether its carry holds content ids.
        state: (free times, their bounds, counts, stats, hist, busy slots, wait slots),
            updated in place (a node's rows are its `ServerPool`'s arrays).
        limits: (window end, horizon, deadline per kind, slot length).

    Returns:
        (served, merged others with their bounds, new carries with bounds and content
        flags, content handed over with bounds); ``served`` False, before any state
        changed, if some node's stream was not sorted (the caller serves pool by pool).
    """
    nodes = fixed[5].shape[0] - 1
    o_off, o_has, out, fine = _merged_space(parts, c_has, nodes)
    for e in range(nodes):  # sorted (the merge declines otherwise), then merged
        fine[e] = (_sorted(fixed[0], fixed[5][e], fixed[5][e + 1])
                   and _merge_node(e, parts, o_off, out))
    other = (out[0], out[1], out[2], out[3], out[4], o_off)
    if not fine.all():
        return False, other, o_has, None, None
    done = (np.full(fixed[0].shape[0] if fixed[6] else 0, np.nan),
            np.full(other[0].shape[0] if o_has.any() else 0, np.nan))
    used = np.zeros((nodes, 2), np.int64)
    for e in range(nodes):
        _serve_node(e, fixed, other, o_has, state, limits, done, used)
    carry, handed = _finish_group(fixed, other, o_has, used, done, nodes)
    for e in range(nodes):
        _tail_node(e, fixed, other, o_has, used, done, carry, handed)
    return True, other, o_has, carry, handed


@njit(cache=True, nogil=True, parallel=True)
def serve_group_parallel(fixed, parts, c_has, state, limits):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`serve_group` with the nodes spread over numba's threads (same results).

    numba's parallel loops take arrays and scalars, not tuples: the tuples are taken
    apart here and put together again inside each loop body.
    """
    nodes = fixed[5].shape[0] - 1
    fa, fs, fk, fb, fp, f_off, f_has, shift = fixed
    (ca, cs, ck, cb, cp, c_off), (ba, bs, bk, bb, bp, b_off), (xa, xs, xk, xb, xp, x_off) = parts
    free, free_off, counts, stats, hist, busy, wait = state
    window_end_s, horizon_s, deadline_s, slot_s = limits
    o_off, o_has, out, fine = _merged_space(parts, c_has, nodes)
    oa, os_, ok, ob, op = out
    for e in numba.prange(nodes):
        fine[e] = (_sorted(fa, f_off[e], f_off[e + 1])
                   and _merge_node(e, ((ca, cs, ck, cb, cp, c_off), (ba, bs, bk, bb, bp, b_off),
                                       (xa, xs, xk, xb, xp, x_off)),
                                   o_off, (oa, os_, ok, ob, op)))
    other = (oa, os_, ok, ob, op, o_off)
    if not fine.all():
        return False, other, o_has, None, None
    done_f = np.full(fa.shape[0] if f_has else 0, np.nan)
    done_o = np.full(oa.shape[0] if o_has.any() else 0, np.nan)  # (where content is)
    used = np.zeros((nodes, 2), np.int64)
    for e in numba.prange(nodes):
        _serve_node(e, (fa, fs, fk, fb, fp, f_off, f_has, shift),
                    (oa, os_, ok, ob, op, o_off), o_has,
                    (free, free_off, counts, stats, hist, busy, wait),
                    (window_end_s, horizon_s, deadline_s, slot_s), (done_f, done_o), used)
    carry, handed = _finish_group(fixed, other, o_has, used, (done_f, done_o), nodes)
    na, ns, nk, nb, np_, n_off, n_has = carry
    h_done, h_payload, h_kind, h_off = handed
    for e in numba.prange(nodes):
        _tail_node(e, (fa, fs, fk, fb, fp, f_off, f_has, shift),
                   (oa, os_, ok, ob, op, o_off), o_has, used, (done_f, done_o),
                   (na, ns, nk, nb, np_, n_off, n_has), (h_done, h_payload, h_kind, h_off))
    return True, other, o_has, carry, handed
