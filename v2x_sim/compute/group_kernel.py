"""One window of every edge node's queue in one compiled call (serial or across cores).

The edge nodes are independent queues, so a window of all of them is, node by node:
merge the node's carry with its new messages (`_merge_node`), serve them beside its
fixed stream (the sensor frames) through the Kiefer-Wolfowitz kernel
(`queueing.serve_streams`), then keep what arrived after the window as the next carry
and hand over the content-carrying departures (`_tail_node`), all in `_node_window`.
A node writes only its own slices: of the merged streams (their bounds are known
beforehand) and of buffers with room for all its messages, from which its carry and
hand-over are packed afterwards (`_packed`). `serve_group` runs them one after another;
a part of the nodes is served by calling it on that part's streams (`pool_split`: parts
on two threads at once), with the same arithmetic per node, hence bit-identical
results. One call per window replaces a call, its argument tuple and its Python before
and after for each of the edge nodes.

A node's streams (the layout of `streams.StreamSet`) are positions
``bounds[e]:bounds[e + 1]`` of flat arrays; payloads are -1 where a message carries
none. The merges are stable (a tie goes to the carry, then the new messages, then the
extra ones), which is what merging the carry with (new merged with extra) gives.
"""

from __future__ import annotations

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
def _serve_node(e, fixed, other, o_has, state, limits, done):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Node ``e``'s window through `serve_streams`: (fixed, other) messages consumed.

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
    return a, b


@njit(cache=True, nogil=True)
def _tail_node(e, fixed, other, o_has, used_a, used_b, done, buffers, start):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Node ``e``'s new carry (what arrived after the window) and content handed over.

    Both are written from position ``start`` of their buffers (room for all the node's
    messages). The carry interleaves the fixed stream's rest (shifted into absolute
    times) with the other's rest, ties to the fixed one; the hand-over lists the fixed
    stream's served content then the other's, each in stream order. Returns (messages
    carried, whether some carries content, messages handed over).
    """
    fa, fs, fk, fb, fp, f_off, f_has, shift = fixed
    oa, os_, ok, ob, op, o_off = other
    done_f, done_o = done
    ca, cs, ck, cb, cp, h_done, h_payload, h_kind = buffers
    f = f_off[e] + used_a
    f_end = f_off[e + 1]
    o = o_off[e] + used_b
    o_end = o_off[e + 1]
    at = start
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
    carried = at - start
    at = start
    if f_has:
        for i in range(f_off[e], f_off[e] + used_a):
            if fp[i] >= 0:
                h_done[at], h_payload[at], h_kind[at] = done_f[i], fp[i], fk[i]
                at += 1
    if o_has[e]:
        for i in range(o_off[e], o_off[e] + used_b):
            if op[i] >= 0:
                h_done[at], h_payload[at], h_kind[at] = done_o[i], op[i], ok[i]
                at += 1
    return carried, has, at - start


@njit(cache=True, nogil=True)
def _node_window(e, fixed, parts, other, o_has, state, limits, done, buffers, sizes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Node ``e``'s whole window: merge, serve, new carry and hand-over.

    Writes ``sizes[e]`` = (1 served, or 0 when one of its streams is not sorted and
    nothing of the node changed; messages carried; 1 if some carries content; messages
    handed over). Touches only node ``e``'s slices, so nodes may run at once.
    """
    if not (_sorted(fixed[0], fixed[5][e], fixed[5][e + 1]) and _merge_node(
            e, parts, other[5], (other[0], other[1], other[2], other[3], other[4]))):
        return
    used_a, used_b = _serve_node(e, fixed, other, o_has, state, limits, done)
    carried, has, handed = _tail_node(e, fixed, other, o_has, used_a, used_b, done, buffers,
                                      fixed[5][e] + other[5][e])
    sizes[e, 0] = 1
    sizes[e, 1] = carried
    sizes[e, 2] = has
    sizes[e, 3] = handed


@njit(cache=True, nogil=True)
def _window_space(fixed, parts, c_has, nodes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """What a window writes into: merged streams, departures, carry and hand-over room.

    Node ``e``'s carry and hand-over go from position ``f_off[e] + o_off[e]`` (room for
    every message of the node), and are packed together afterwards (`_packed`).
    """
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
    n_o = o_off[nodes]
    other = (np.empty(n_o), np.empty(n_o), np.empty(n_o, np.int64), np.empty(n_o),
             np.empty(n_o, np.int64), o_off)
    n_f = fixed[0].shape[0]
    content = fixed[6] or o_has.any()
    done = (np.full(n_f if fixed[6] else 0, np.nan),
            np.full(n_o if o_has.any() else 0, np.nan))  # (only where content is)
    room = n_f + n_o
    n_h = room if content else 0
    buffers = (np.empty(room), np.empty(room), np.empty(room, np.int64), np.empty(room),
               np.empty(room, np.int64), np.empty(n_h), np.empty(n_h, np.int64),
               np.empty(n_h, np.int64))
    return other, o_has, done, buffers, np.zeros((nodes, 4), np.int64)


@njit(cache=True, nogil=True)
def _packed(fixed, other, buffers, sizes):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The nodes' carries and hand-overs, packed one after another, with their bounds."""
    nodes = sizes.shape[0]
    ca, cs, ck, cb, cp, h_done, h_payload, h_kind = buffers
    c_off = np.zeros(nodes + 1, np.int64)
    h_off = np.zeros(nodes + 1, np.int64)
    for e in range(nodes):
        c_off[e + 1] = c_off[e] + sizes[e, 1]
        h_off[e + 1] = h_off[e] + sizes[e, 3]
    n_c, n_h = c_off[nodes], h_off[nodes]
    carry = (np.empty(n_c), np.empty(n_c), np.empty(n_c, np.int64), np.empty(n_c),
             np.empty(n_c, np.int64), c_off, sizes[:, 2] > 0)
    handed = (np.empty(n_h), np.empty(n_h, np.int64), np.empty(n_h, np.int64), h_off)
    for e in range(nodes):
        start = fixed[5][e] + other[5][e]
        for k in range(sizes[e, 1]):
            carry[0][c_off[e] + k] = ca[start + k]
            carry[1][c_off[e] + k] = cs[start + k]
            carry[2][c_off[e] + k] = ck[start + k]
            carry[3][c_off[e] + k] = cb[start + k]
            carry[4][c_off[e] + k] = cp[start + k]
        for k in range(sizes[e, 3]):
            handed[0][h_off[e] + k] = h_done[start + k]
            handed[1][h_off[e] + k] = h_payload[start + k]
            handed[2][h_off[e] + k] = h_kind[start + k]
    return sizes[:, 0] > 0, carry, handed


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
        (served per node, merged others with their bounds, content flags per node, new
        carries with bounds and content flags, content handed over with bounds). A node
        not served (one of its streams not sorted) changed nothing and has no carry or
        hand-over here: the caller serves it on its own.
    """
    nodes = fixed[5].shape[0] - 1
    other, o_has, done, buffers, sizes = _window_space(fixed, parts, c_has, nodes)
    for e in range(nodes):
        _node_window(e, fixed, parts, other, o_has, state, limits, done, buffers, sizes)
    served, carry, handed = _packed(fixed, other, buffers, sizes)
    return served, other, o_has, carry, handed
