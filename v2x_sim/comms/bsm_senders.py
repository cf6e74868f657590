"""A window's BSMs placed on the coverage table in one compiled pass.

Every window, each connected vehicle on the road sends its BSMs (`flows.send_times`) from
where it is at each send (`flows.offsets_on_link`), which falls in a cell of the coverage
table (25 m of a link) with its nearest RSU; at the window's start, each vehicle also
loads the channel of every RSU in range of its cell. With ~700 vehicles and ~7,000 BSMs
a window, those steps as numpy calls cost ~0.3 ms a window, mostly per-call overhead
(some twenty calls on small arrays); here they are one loop. `bsm_senders_reference`
is the numpy composition it replaces, and a test keeps the two equal bit for bit (the
same floating-point operations in the same order: the phase's fraction as
``x - floor(x)``, exact for x >= 0 and so equal to ``np.mod``, the ceilings and the truncations).

A vehicle's cell is found once for its window's first and last BSM: every step from a
send time to a cell (``phase + k P``, the share of the link's time, the offset, the
division by the cell length, the truncation, the clamps) is monotone in IEEE arithmetic,
so the cells of its sends never go back along the link, and when the first and the last
are the same cell every send in between is in it too. Most vehicles stay in one 25 m
cell for a whole window (10 sends at 10 Hz), so most BSMs skip the two divisions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.comms.flows import GOLDEN, offsets_on_link, send_times

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def bsm_senders(ids: IntArray, link: IntArray, entered_s: FloatArray, ready_s: FloatArray,
                window: tuple[float, float, float], length_m: FloatArray,
                cells: tuple[float, IntArray, IntArray, IntArray, FloatArray, IntArray],
                n_rsu: int) -> tuple[IntArray, int, IntArray, FloatArray, IntArray]:
    """Channel load and the covered BSMs of one window.

    Args:
        ids: trip id of each connected vehicle on a link (its phase comes from the id).
        link: the link it is on.
        entered_s: when it entered that link.
        ready_s: its earliest exit from it (it moves uniformly until then).
        window: (start_s, end_s, period_s) of the window and of the BSMs.
        length_m: length of every link.
        cells: the coverage table: (cell length in m, first cell of each link, cells per
            link, nearest RSU per cell (-1: none), its distance, RSUs in range per cell
            (rows padded with -1)).
        n_rsu: number of RSUs.

    Returns:
        (transmitters in range of each RSU at the window's start, BSMs sent in the
        window, and of those with a covering RSU, in the order of `send_times`: that
        RSU, the send time, the coverage cell it was sent from).
    """
    start_s, end_s, period_s = window
    cell_m, first_cell, n_cells, nearest, _, heard_by = cells
    return _bsm_senders(np.ascontiguousarray(ids, np.int64), np.ascontiguousarray(link, np.int64),
                        np.ascontiguousarray(entered_s, np.float64),
                        np.ascontiguousarray(ready_s, np.float64), float(start_s),
                        float(end_s), float(period_s), length_m, float(cell_m), first_cell,
                        n_cells, nearest, heard_by, int(n_rsu))


def bsm_senders_reference(ids: IntArray, link: IntArray, entered_s: FloatArray,
                          ready_s: FloatArray, window: tuple[float, float, float],
                          length_m: FloatArray,
                          cells: tuple[float, IntArray, IntArray, IntArray, FloatArray,
                                       IntArray],
                          n_rsu: int) -> tuple[IntArray, int, IntArray, FloatArray, IntArray]:
    """`bsm_senders` as numpy calls (the form it replaced): the oracle for its tests."""
    start_s, end_s, period_s = window
    cell_m, first_cell, n_cells, nearest, _, heard_by = cells

    def cell_of(lk: IntArray, offset: FloatArray) -> IntArray:
        within = np.minimum((offset / cell_m).astype(np.int64), n_cells[lk] - 1)
        return first_cell[lk] + np.maximum(within, 0)

    here = cell_of(link, offsets_on_link(np.full(ids.size, start_s), entered_s, ready_s,
                                         length_m[link]))
    heard = heard_by[here].ravel()
    transmitters = np.bincount(heard[heard >= 0], minlength=n_rsu)
    who, born = send_times(ids, period_s, start_s, end_s)
    lk = link[who]
    cell = cell_of(lk, offsets_on_link(born, entered_s[who], ready_s[who], length_m[lk]))
    rsu = nearest[cell]
    covered = rsu >= 0
    return transmitters, int(born.size), rsu[covered], born[covered], cell[covered]


@njit(cache=True)
def _cell(lk, at_s, entered_s, ready_s, length_m, cell_m, first_cell, n_cells):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`Coverage.cell_of` of one position (`flows.offsets_on_link` inlined)."""
    duration = ready_s - entered_s
    share = (at_s - entered_s) / duration if duration > 0 else 1.0
    share = 0.0 if share < 0.0 else (1.0 if share > 1.0 else share)
    within = int((share * length_m) / cell_m)
    last = n_cells[lk] - 1
    within = last if within > last else within
    return first_cell[lk] + (within if within > 0 else 0)


@njit(cache=True)
def _bsm_senders(ids, link, entered_s, ready_s, start_s, end_s, period_s, length_m, cell_m,  # type: ignore[no-untyped-def]  # pragma: no cover
                 first_cell, n_cells, nearest, heard_by, n_rsu):
    n = ids.shape[0]
    transmitters = np.zeros(n_rsu, np.int64)
    first = np.empty(n)
    count = np.empty(n, np.int64)
    phase = np.empty(n)
    total = 0
    for i in range(n):
        lk = link[i]
        here = _cell(lk, start_s, entered_s[i], ready_s[i], length_m[lk], cell_m,
                     first_cell, n_cells)
        for h in heard_by[here]:
            if h >= 0:
                transmitters[h] += 1
        x = ids[i] * GOLDEN
        p = (x - np.floor(x)) * period_s  # exact (Sterbenz): fmod(x, 1) = np.mod for x >= 0
        phase[i] = p
        k0 = np.ceil((start_s - p) / period_s - 1e-9)
        k1 = np.ceil((end_s - p) / period_s - 1e-9)
        first[i] = k0
        m = int(k1 - k0) if k1 - k0 > 0 else 0
        count[i] = m
        total += m
    rsu = np.empty(total, np.int64)
    born = np.empty(total)
    where = np.empty(total, np.int64)
    out = 0
    for i in range(n):
        m = count[i]
        if m == 0:
            continue
        lk = link[i]
        first_cell_i = _cell(lk, phase[i] + first[i] * period_s, entered_s[i], ready_s[i],
                             length_m[lk], cell_m, first_cell, n_cells)
        last_cell_i = _cell(lk, phase[i] + (first[i] + (m - 1)) * period_s, entered_s[i],
                            ready_s[i], length_m[lk], cell_m, first_cell, n_cells)
        if first_cell_i == last_cell_i:  # one cell all window (cells are monotone)
            r = nearest[first_cell_i]
            if r < 0:
                continue
            for step in range(m):
                rsu[out] = r
                born[out] = phase[i] + (first[i] + step) * period_s
                where[out] = first_cell_i
                out += 1
            continue
        for step in range(m):
            at = phase[i] + (first[i] + step) * period_s
            cell = _cell(lk, at, entered_s[i], ready_s[i], length_m[lk], cell_m,
                         first_cell, n_cells)
            r = nearest[cell]
            if r >= 0:
                rsu[out] = r
                born[out] = at
                where[out] = cell
                out += 1
    return transmitters, total, rsu[:out], born[:out], where[:out]
