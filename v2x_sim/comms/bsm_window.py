"""A flow window's BSMs, from the senders to the edge nodes' sorted batches, in two calls.

`compute.bsm_flow`'s step path takes a window's BSMs through four compiled steps with
numpy and Python between them: placement on the coverage table (`bsm_senders`), the
channel load, the PC5 fates (`pc5_fates`), the edge's service times, the grouping by
edge node (`bsm_batches`) and the air delays' histogram (`metrics.bin_counts` plus a sum
and a maximum): some ten passes over a window's ~7,500 BSMs in the zone, and as many
arrays allocated and copied between them. Here the placement (`bsm_senders`, one
compiled call) is followed by the PC5 draws (two numpy calls) and one compiled call
that does the rest in two passes and the sort, returning only what the edge queues and
the latency book take.

Bit for bit the same as the step path (a test runs both on every window of a run):

- the same functions for placement and sorting (`bsm_senders`,
  `bsm_batches._bucket_argsort`, `flows._radix_argsort`), and for the rest the same
  floating-point operations in the same order;
- the same draws from the caller's generator in the same order (every uniform, then
  every standard exponential, as `pc5_fates.Pc5Cells.draw` takes them). They stay in
  numpy: numba's own `Generator` methods give the same numbers, but a kernel cached on
  disk that used them crashed here;
- the air delays' sum as numpy's pairwise summation (`_pairwise_sum`: blocks of at most
  128 values with eight partial sums, halves added pairwise above that), so the latency
  book's totals do not move in the last bit.

Used when the window has no fault, the run is not in deterministic mode and the BSM
service time is a constant (the defaults); otherwise the step path runs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.comms.bsm_batches import _bucket_argsort
from v2x_sim.comms.bsm_senders import bsm_senders
from v2x_sim.comms.channels import Pc5Channel
from v2x_sim.comms.flows import _RADIX_BITS, _radix_argsort
from v2x_sim.metrics.bin_counts import _CELL_SHIFT, _FIRST_KEY, _TABLE
from v2x_sim.metrics.histogram import _UPPER

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class Placement(NamedTuple):
    """Where a window's BSMs can come from and how they are heard (fixed for a run).

    Attributes:
        length_m: every link's length.
        cells: the coverage table, as `bsm_senders.bsm_senders` takes it.
        n_rsu: number of RSUs.
        cell_ratio: each cell's idle-channel delivery ratio (`pc5_fates.Pc5Cells.ratio`).
        pc5: the sidelink model.
        fibre_s: each RSU's backhaul delay to its edge node.
        fibre_bin: the histogram bin of each RSU's backhaul delay.
        edge_of: each device's edge node (RSUs first).
        n_edges: number of edge nodes.
    """

    length_m: FloatArray
    cells: tuple[float, IntArray, IntArray, IntArray, FloatArray, IntArray]
    n_rsu: int
    cell_ratio: FloatArray
    pc5: Pc5Channel
    fibre_s: FloatArray
    fibre_bin: IntArray
    edge_of: IntArray
    n_edges: int


class WindowBsms(NamedTuple):
    """What one window's BSMs leave behind (`bsm_window`).

    Attributes:
        cbr: each RSU's channel busy ratio at the window's start.
        sent: BSMs sent in the window.
        covered: of those, sent from a cell some RSU covers.
        heard: of those, delivered over PC5.
        arrival_s, service_s, born_s: the heard ones sorted by (edge node, arrival to
            the nanosecond), input order kept for ties.
        bounds: each edge node's [start, end) in them.
        kind: the message kind of each (all BSM).
        air_counts, air_total_s, air_max_s: the heard ones' PC5 delays, binned as
            `metrics.histogram.bin_index` bins them, their sum and maximum.
        per_rsu: BSMs each RSU heard.
        fibre_counts, fibre_max_s: their backhaul delays binned, and the largest.
    """

    cbr: FloatArray
    sent: int
    covered: int
    heard: int
    arrival_s: FloatArray
    service_s: FloatArray
    born_s: FloatArray
    bounds: IntArray
    kind: IntArray
    air_counts: IntArray
    air_total_s: float
    air_max_s: float
    per_rsu: IntArray
    fibre_counts: IntArray
    fibre_max_s: float


def bsm_window(senders: tuple[IntArray, IntArray, FloatArray, FloatArray],
               window: tuple[float, float, float], place: Placement, rate_hz: float,
               service_s: float, kind: int, rng: np.random.Generator,
               totals: tuple[FloatArray, FloatArray, IntArray]) -> WindowBsms:
    """One window's BSMs: placed, loaded, fated, binned and grouped by edge node.

    Args:
        senders: the connected vehicles on links at the window's start: (trip ids,
            link, entered_s, ready_s).
        window: (start_s, end_s, period_s) of the window and of the BSMs.
        place: the fixed tables (`Placement`).
        rate_hz: the BSM rate (the channel load of each transmitter).
        service_s: the edge's (constant) service time of a BSM.
        kind: the BSM's message kind (the queue kernel's histogram row).
        rng: the PC5 generator: covered uniforms, then as many standard exponentials.
        totals: (cbr sum, cbr max, BSMs received) per RSU: added to in place.
    """
    start_s = window[0]
    transmitters, sent, rsu, born, cell = bsm_senders(*senders, window, place.length_m,
                                                      place.cells, place.n_rsu)
    # numpy's draws, in `Pc5Cells.draw`'s order (numba's own Generator support is not
    # safe with the on-disk cache: a cached kernel crashed on its ziggurat tables)
    uniform = rng.random(rsu.shape)
    exponential = rng.standard_exponential(rsu.shape)
    pc5 = place.pc5
    cbr_sum, cbr_max, received = totals
    out = _window(transmitters, rsu, born, cell, uniform, exponential, float(start_s),
                  float(rate_hz), float(pc5.airtime_s), float(pc5.max_cbr),
                  float(pc5.collision_loss_at_full_load), float(pc5.access_delay_s),
                  place.cell_ratio, place.fibre_s, place.fibre_bin, place.edge_of,
                  int(place.n_edges), float(service_s), int(kind), _TABLE, _FIRST_KEY, _UPPER,
                  cbr_sum, cbr_max, received)
    return WindowBsms(out[0], sent, *out[1:])


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The sum of at most 128 float64 values as numpy adds them (eight partial sums)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def _pairwise_sum(a, lo, n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``a[lo:lo + n].sum()`` as numpy sums float64, pairwise.

    Blocks of at most 128 values (`_block_sum`); above that the two halves (cut at a
    multiple of 8) are summed apart and added. numpy recurses; here an explicit stack
    does (a cached recursive kernel is not safe in numba). A frame's stage: 0 its left
    half is due, 1 its right half (the left's sum kept), 2 waiting for the right half's
    sum.
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    los = np.empty(64, np.int64)
    sizes = np.empty(64, np.int64)
    stage = np.zeros(64, np.int64)
    left = np.empty(64)
    top = 0
    los[0] = lo
    sizes[0] = n
    while True:
        half = sizes[top] // 2
        half -= half % 8
        if stage[top] == 0:
            stage[top] = 1
            child_lo, child_n = los[top], half
        else:
            stage[top] = 2
            child_lo, child_n = los[top] + half, sizes[top] - half
        if child_n > 128:
            top += 1
            los[top] = child_lo
            sizes[top] = child_n
            stage[top] = 0
            continue
        value = _block_sum(a, child_lo, child_n)
        while stage[top] == 2:  # a right half: add to its left half, up the stack
            value = left[top] + value
            top -= 1
            if top < 0:
                return value
        left[top] = value


def pairwise_sum(values: FloatArray) -> float:
    """``float(values.sum())`` for a 1-d float64 array, compiled (the tests' handle)."""
    return float(_pairwise_sum(np.ascontiguousarray(values, np.float64), 0, values.shape[0]))


@njit(cache=True, nogil=True)
def _window(transmitters, rsu, born_all, cell, uniform, exponential, start_s, rate_hz,  # type: ignore[no-untyped-def]  # pragma: no cover
            airtime_s, max_cbr, collision, access_delay_s, cell_ratio, fibre_s, fibre_bin,
            edge_of, n_edges, service_s, kind, table, first_key, upper, cbr_sum, cbr_max,
            received):
    n_rsu = transmitters.shape[0]
    # the channel load at the window's start (`Pc5Channel.channel_busy_ratio`) and the
    # per-RSU terms of the fates (`Pc5Cells.draw`)
    cbr = np.empty(n_rsu)
    keep = np.empty(n_rsu)
    access = np.empty(n_rsu)
    for r in range(n_rsu):
        c = min(max_cbr, float(transmitters[r]) * rate_hz * airtime_s)
        cbr[r] = c
        cbr_sum[r] += c
        cbr_max[r] = max(cbr_max[r], c)
        keep[r] = 1.0 - collision * c
        access[r] = access_delay_s / (1.0 - c)
    n = rsu.shape[0]
    # fates; the heard ones over their backhaul, with their sort keys and air bins
    air = np.empty(n)
    born = np.empty(n)
    arrival = np.empty(n)
    key = np.empty(n, np.int64)
    tick = np.empty(n, np.int64)
    per_rsu = np.zeros(n_rsu, np.int64)
    bounds = np.zeros(n_edges + 1, np.int64)
    air_counts = np.zeros(upper.shape[0], np.int64)
    last_bin = upper.shape[0] - 1
    n_table = table.shape[0]
    air_max = -np.inf
    low = np.iinfo(np.int64).max
    high = np.iinfo(np.int64).min
    top = n_edges
    k = 0
    for i in range(n):
        r = rsu[i]
        delay = airtime_s + access[r] * exponential[i]
        if not uniform[i] < cell_ratio[cell[i]] * keep[r]:
            continue
        air[k] = delay
        born[k] = born_all[i]
        at = born_all[i] + delay + fibre_s[r]
        arrival[k] = at
        per_rsu[r] += 1
        e = edge_of[r]
        key[k] = e
        bounds[e + 1] += 1
        top = max(top, e + 1)
        t = np.int64(np.rint((at - start_s) * 1e9))
        tick[k] = t
        low = min(low, t)
        high = max(high, t)
        k += 1
    heard = k
    service = np.full(heard, service_s)
    kinds = np.full(heard, kind, np.int64)
    fibre_counts = np.zeros(upper.shape[0], np.int64)
    fibre_max = -np.inf
    for r in range(n_rsu):
        if per_rsu[r] > 0:
            received[r] += per_rsu[r]
            fibre_counts[fibre_bin[r]] += per_rsu[r]
            fibre_max = max(fibre_max, fibre_s[r])
    if heard == 0:
        return (cbr, n, 0, arrival[:0], service, born[:0], bounds, kinds, air_counts,
                0.0, air_max, per_rsu, fibre_counts, fibre_max)
    # the heard ones' air delays binned as `bin_counts._count_bins` bins them
    air = air[:heard]
    bits = air.view(np.int64)
    for j in range(heard):
        cell_key = (bits[j] >> _CELL_SHIFT) - first_key
        if cell_key < 0:
            b = 0
        elif cell_key >= n_table:
            b = last_bin
        else:
            b = table[cell_key]
            if air[j] >= upper[b]:
                b += 1
        air_counts[b] += 1
        air_max = max(air_max, air[j])
    air_total = _pairwise_sum(air, 0, heard)
    # sorted by (edge node, nanosecond of arrival), stable: `bsm_batches._to_edges`
    key = key[:heard]
    tick = tick[:heard]
    span = high - low + 1
    if low < 0 or high >= (1 << 40) or span >= (1 << 62) // top:
        # group_by's wide key (never for windows shorter than ~18 minutes)
        wide = np.empty(heard, np.int64)
        for j in range(heard):
            wide[j] = key[j] * (1 << 40) + tick[j]
        order = np.argsort(wide, kind="mergesort")
    else:
        kmin = np.iinfo(np.int64).max
        kmax = np.iinfo(np.int64).min
        for j in range(heard):
            packed = key[j] * span + (tick[j] - low)
            key[j] = packed
            kmin = min(kmin, packed)
            kmax = max(kmax, packed)
        order, done = _bucket_argsort(key, kmin, kmax)
        if not done:
            wide_span = kmax - kmin
            nbits = 0
            while wide_span > 0:
                nbits += 1
                wide_span >>= 1
            order = _radix_argsort((key - kmin).astype(np.uint64),
                                   max(1, -(-nbits // _RADIX_BITS)))
    for e in range(n_edges):
        bounds[e + 1] += bounds[e]
    return (cbr, n, heard, arrival[:heard][order], service, born[:heard][order], bounds,
            kinds, air_counts, air_total, air_max, per_rsu, fibre_counts, fibre_max)

