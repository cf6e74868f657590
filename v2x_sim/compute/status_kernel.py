"""A window's status reports as queue rows, in two compiled calls around the Uu draws.

Every connected vehicle sends a status report each period (1 Hz by default), so every
flow window builds a few thousand reports: who sends when (`comms.flows.send_times`),
which ones the radio delivers, what each carries (its link, the link it completed since
its previous report) and their order of arrival at the cloud. Done with numpy that is
some twenty calls a window, ~0.2 ms of call overhead whatever the number of reports
(most of the status path's cost with `v2x.background: off`). Here `periodic_sends` gives
the send instants and `status_rows` everything after the channel's draws (two compiled
passes around numpy's stable sort), with the same arithmetic in the same order, so the
rows are bit for bit those of the numpy steps (a test compares them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.comms.flows import GOLDEN

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@njit(cache=True, nogil=True)
def _sends(sender_ids, period_s, start_s, end_s, golden):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`comms.flows.send_times` in one loop (same formulas, same order of operations)."""
    n = sender_ids.size
    phase = np.empty(n)
    first = np.empty(n)
    count = np.empty(n, np.int64)
    total = 0
    for i in range(n):
        x = sender_ids[i] * golden
        # np.mod(x, 1.0) for x >= 0 is fmod(x, 1.0), exact (ids are non-negative)
        p = np.fmod(x, 1.0) * period_s
        f = np.ceil((start_s - p) / period_s - 1e-9)
        c = np.ceil((end_s - p) / period_s - 1e-9) - f
        phase[i] = p
        first[i] = f
        count[i] = np.int64(c) if c > 0 else 0
        total += count[i]
    who = np.empty(total, np.int64)
    born = np.empty(total)
    k = 0
    for i in range(n):
        for step in range(count[i]):
            who[k] = i
            born[k] = phase[i] + (first[i] + step) * period_s
            k += 1
    return who, born


def periodic_sends(sender_ids: IntArray, period_s: float, start_s: float,
                   end_s: float) -> tuple[IntArray, FloatArray]:
    """Every send in [start, end): (index into ``sender_ids``, send instant).

    Equal to ``send_times(sender_ids, period_s, start_s, end_s)`` for ids >= 0 (status
    reports of vehicles, aggregates of edge nodes): sender by sender, each one's sends
    in time order.
    """
    if sender_ids.size == 0 or end_s <= start_s:
        return np.zeros(0, np.int64), np.zeros(0)
    ids = np.ascontiguousarray(sender_ids, np.int64)
    return _sends(ids, float(period_s), float(start_s), float(end_s), GOLDEN)  # type: ignore[no-any-return]


@njit(cache=True, nogil=True)
def _delivered(born, ok, up, wan_s):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(index, arrival at the cloud, air delay) of each delivered report, in send order."""
    n_kept = 0
    for i in range(ok.size):
        if ok[i]:
            n_kept += 1
    kept = np.empty(n_kept, np.int64)
    arrival = np.empty(n_kept)
    up_kept = np.empty(n_kept)
    j = 0
    for i in range(ok.size):
        if ok[i]:
            kept[j] = i
            arrival[j] = born[i] + up[i] + wan_s
            up_kept[j] = up[i]
            j += 1
    return kept, arrival, up_kept


@njit(cache=True, nogil=True)
def _rows(order, kept, arrival, who, born, ids, link, last_link, last_travel, last_exit,  # type: ignore[no-untyped-def]  # pragma: no cover
          has_probe, period_s):
    """The delivered reports' columns in ``order`` (see `status_rows`)."""
    n = order.size
    arrival_sorted = np.empty(n)
    born_sorted = np.empty(n)
    vehicle = np.empty(n, np.int64)
    on_link = np.empty(n, np.int64)
    done_link = np.empty(n, np.int64)
    travel = np.empty(n)
    exited = np.empty(n)
    for r in range(n):
        i = kept[order[r]]
        s = who[i]
        b = born[i]
        arrival_sorted[r] = arrival[order[r]]
        born_sorted[r] = b
        vehicle[r] = ids[s]
        on_link[r] = link[s]
        if has_probe:
            d, t, e = last_link[s], last_travel[s], last_exit[s]
            new = d >= 0 and e > b - period_s and e <= b
            done_link[r] = d if new else -1
            travel[r] = t
            exited[r] = e
        else:
            done_link[r] = -1
            travel[r] = 0.0
            exited[r] = b
    return arrival_sorted, born_sorted, vehicle, on_link, done_link, travel, exited


def status_rows(who: IntArray, born: FloatArray, ok: BoolArray, up: FloatArray, wan_s: float,
                senders: tuple[IntArray, IntArray],
                probe: tuple[IntArray, FloatArray, FloatArray] | None, period_s: float,
                ) -> tuple[FloatArray, dict[str, NDArray[Any]], FloatArray]:
    """The delivered reports in order of arrival at the cloud queue, with their content.

    Args:
        who: each report's sender (an index into ``senders``; `periodic_sends`).
        born: each report's send instant.
        ok: whether Uu delivered it.
        up: its air delay.
        wan_s: the WAN's one-way delay (a constant).
        senders: (vehicle id, link now) of each sender ``who`` indexes.
        probe: each sender's (last completed link, its traversal time, exit time), or
            None: no completed link is reported (link -1, time 0, exit = sent).
        period_s: the report period; a completed link is reported by the first report
            after its exit (exit in (sent - period, sent]), else link -1.

    Returns:
        (arrival at the cloud, content columns vehicle / link / born_s / done_link /
        travel_s / exited_s, air delay of the delivered ones in send order). Arrival
        is ``born + up + wan`` and the order stable (ties keep send order), as
        ``np.argsort(kind="stable")`` gives.
    """
    ids, link = senders
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
    last_link, last_travel, last_exit = ((np.ascontiguousarray(probe[0], np.int64),
                                          np.ascontiguousarray(probe[1], np.float64),
                                          np.ascontiguousarray(probe[2], np.float64))
                                         if probe is not None else (empty_i, empty_f, empty_f))
    born = np.ascontiguousarray(born, np.float64)
    kept, arrival, up_kept = _delivered(born, np.ascontiguousarray(ok, np.bool_),
                                        np.ascontiguousarray(up, np.float64), float(wan_s))
    # numpy's stable sort (a compiled merge sort took three times as long)
    order = np.argsort(arrival, kind="stable")
    arrival, born_s, vehicle, on_link, done_link, travel, exited = _rows(
        order, kept, arrival, np.ascontiguousarray(who, np.int64), born,
        np.ascontiguousarray(ids, np.int64), np.ascontiguousarray(link, np.int64),
        last_link, last_travel, last_exit, probe is not None, float(period_s))
    content = {"vehicle": vehicle, "link": on_link, "born_s": born_s, "done_link": done_link,
               "travel_s": travel, "exited_s": exited}
    return arrival, content, up_kept
